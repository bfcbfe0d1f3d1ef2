//! scripts/get, the install script for machines without pip, against a local HTTP server that
//! serves a release's archives as `scripts/dist` names them: it picks this platform's archive,
//! refuses a corrupted one, and replaces an existing install in one rename.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

const BIN: &str = env!("CARGO_BIN_EXE_cruddur-db");

/// A file server on 127.0.0.1 serving one directory; it records the paths asked for.
struct Server {
    url: String,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn serve(root: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let (root, log) = (root.to_path_buf(), asked.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                // The headers, up to the blank line.
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                log.lock().unwrap().push(path.clone());
                let file = root.join(path.trim_start_matches('/'));
                let response = match std::fs::read(&file) {
                    Ok(body) => {
                        let mut r = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        r.extend(body);
                        r
                    }
                    Err(_) => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = stream.write_all(&response);
            }
        });
        Server { url, asked }
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

/// The version and target triple the test binary reports (`cruddur-db 0.1.0 (commit ..., T)`).
fn version_and_target() -> (String, String) {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    let version = line.split_whitespace().nth(1).unwrap().to_string();
    let target = line
        .trim()
        .trim_end_matches(')')
        .rsplit(", ")
        .next()
        .unwrap()
        .to_string();
    (version, target)
}

/// A release directory: `cruddur-db-VERSION-TARGET.tar.gz` holding `binary` as
/// `cruddur-db-VERSION-TARGET/cruddur-db`, and its `.sha256`.
fn release(dir: &Path, version: &str, target: &str, binary: &[u8]) -> PathBuf {
    let name = format!("cruddur-db-{version}-{target}");
    let stage = tempfile::tempdir().unwrap();
    std::fs::create_dir(stage.path().join(&name)).unwrap();
    let exe = stage.path().join(&name).join("cruddur-db");
    std::fs::write(&exe, binary).unwrap();
    let archive = dir.join(format!("{name}.tar.gz"));
    let st = Command::new("tar")
        .arg("-C")
        .arg(stage.path())
        .arg("-czf")
        .arg(&archive)
        .arg(&name)
        .status()
        .unwrap();
    assert!(st.success());
    let sum = Command::new("sha256sum").arg(&archive).output().unwrap();
    let hash = String::from_utf8(sum.stdout).unwrap();
    let hash = hash.split_whitespace().next().unwrap();
    std::fs::write(
        dir.join(format!("{name}.tar.gz.sha256")),
        format!("{hash}  {name}.tar.gz\n"),
    )
    .unwrap();
    archive
}

/// Runs scripts/get with `sh` and a cleared environment.
fn get(server: &Server, version: &str, install: &Path) -> Output {
    Command::new("sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/get"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", install.parent().unwrap())
        .env("CRUDDUR_DB_VERSION", version)
        .env("CRUDDUR_DB_DOWNLOAD_URL", &server.url)
        .env("CRUDDUR_DB_INSTALL_DIR", install)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_install_script_picks_this_platforms_archive_and_installs_a_working_binary() {
    let (version, target) = version_and_target();
    let files = tempfile::tempdir().unwrap();
    release(
        files.path(),
        &version,
        &target,
        &std::fs::read(BIN).unwrap(),
    );
    // A decoy for another platform: picking it would install a script that says so.
    let other = if target.contains("linux") {
        "aarch64-apple-darwin"
    } else {
        "x86_64-unknown-linux-gnu"
    };
    release(
        files.path(),
        &version,
        other,
        b"#!/bin/sh\necho wrong platform\n",
    );
    let server = Server::serve(files.path());
    let home = tempfile::tempdir().unwrap();
    let install = home.path().join("bin");

    let out = get(&server, &version, &install);
    assert!(out.status.success(), "{}", stderr(&out));
    let installed = Command::new(install.join("cruddur-db"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(installed.stdout).unwrap(),
        String::from_utf8(Command::new(BIN).arg("--version").output().unwrap().stdout).unwrap()
    );
    let asked = server.asked();
    assert!(
        asked.contains(&format!("/cruddur-db-{version}-{target}.tar.gz")),
        "{asked:?}"
    );
    assert!(!asked.iter().any(|p| p.contains(other)), "{asked:?}");
    assert!(stderr(&out).contains("is not on PATH"), "{}", stderr(&out));
}

/// A download that does not match its .sha256 is never run or installed, and an existing
/// install stays as it was.
#[test]
fn the_install_script_refuses_a_corrupted_archive_and_keeps_the_old_binary() {
    let (version, target) = version_and_target();
    let files = tempfile::tempdir().unwrap();
    let archive = release(
        files.path(),
        &version,
        &target,
        &std::fs::read(BIN).unwrap(),
    );
    let mut bytes = std::fs::read(&archive).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
    let server = Server::serve(files.path());
    let home = tempfile::tempdir().unwrap();
    let install = home.path().join("bin");
    std::fs::create_dir(&install).unwrap();
    std::fs::write(install.join("cruddur-db"), "the old binary").unwrap();

    let out = get(&server, &version, &install);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("does not match its checksum"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("nothing was installed"));
    assert_eq!(
        std::fs::read_to_string(install.join("cruddur-db")).unwrap(),
        "the old binary"
    );
    let left: Vec<_> = std::fs::read_dir(&install).unwrap().collect();
    assert_eq!(
        left.len(),
        1,
        "only the old binary is in the install directory"
    );
}

/// Without a checksum file there is nothing to check against: refused.
#[test]
fn the_install_script_refuses_an_archive_without_a_checksum() {
    let (version, target) = version_and_target();
    let files = tempfile::tempdir().unwrap();
    let archive = release(
        files.path(),
        &version,
        &target,
        &std::fs::read(BIN).unwrap(),
    );
    std::fs::remove_file(archive.with_extension("gz.sha256")).unwrap();
    let server = Server::serve(files.path());
    let home = tempfile::tempdir().unwrap();
    let install = home.path().join("bin");

    let out = get(&server, &version, &install);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("could not download the checksum"));
    assert!(!install.join("cruddur-db").exists());
}

/// The new binary is renamed over the old one (a new inode, no temporary file left), so a
/// process that runs cruddur-db during the install gets the old or the new one, whole.
#[test]
fn the_install_script_replaces_an_existing_install_in_one_rename() {
    let (version, target) = version_and_target();
    let files = tempfile::tempdir().unwrap();
    release(
        files.path(),
        &version,
        &target,
        &std::fs::read(BIN).unwrap(),
    );
    let server = Server::serve(files.path());
    let home = tempfile::tempdir().unwrap();
    let install = home.path().join("bin");
    std::fs::create_dir(&install).unwrap();
    std::fs::write(install.join("cruddur-db"), "the old binary").unwrap();
    let old_inode = std::fs::metadata(install.join("cruddur-db")).unwrap().ino();

    let out = get(&server, &version, &install);
    assert!(out.status.success(), "{}", stderr(&out));
    let new = std::fs::metadata(install.join("cruddur-db")).unwrap();
    assert_ne!(
        new.ino(),
        old_inode,
        "replaced by a rename, not written over"
    );
    assert_eq!(new.len(), std::fs::metadata(BIN).unwrap().len());
    let names: Vec<String> = std::fs::read_dir(&install)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["cruddur-db"]);
}

/// `--version` names the version, the commit it was built from and the target triple.
#[test]
fn version_names_the_version_the_commit_and_the_target() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    let (version, target) = version_and_target();
    assert_eq!(version, env!("CARGO_PKG_VERSION"), "{line}");
    assert!(target.split('-').count() >= 3, "a target triple: {line}");
    let commit = line
        .split("(commit ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or_default()
        .to_string();
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    if head.status.success() {
        assert_eq!(
            commit,
            String::from_utf8(head.stdout).unwrap().trim(),
            "{line}"
        );
    } else {
        assert_eq!(commit, "unknown", "{line}");
    }
}

/// The version lives in Cargo.toml; the Gitpod task and the CI example pin that same release,
/// so that a version bump cannot leave them installing an older one.
#[test]
fn gitpod_and_the_ci_example_pin_cargo_tomls_version() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let version = env!("CARGO_PKG_VERSION");
    let gitpod = std::fs::read_to_string(root.join(".gitpod.yml")).unwrap();
    assert!(
        gitpod.contains(&format!(
            "pip install \"cruddur-db=={version}\" || cargo install"
        )),
        "{gitpod}"
    );
    let ci = std::fs::read_to_string(root.join("examples/ci/github-actions.yml")).unwrap();
    assert!(
        ci.contains(&format!("CRUDDUR_DB_VERSION: \"{version}\"")),
        "{ci}"
    );
    assert!(
        ci.contains("pip install \"cruddur-db==$CRUDDUR_DB_VERSION\""),
        "{ci}"
    );
    assert!(ci.contains("|| cargo install --locked"), "{ci}");
}
