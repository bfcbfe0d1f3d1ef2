//! Credentials without a stored password: `--password-secret` against moto's Secrets Manager
//! and the production-like server (scram-sha-256, so a wrong password fails), `--iam` tokens
//! compared with the AWS CLI's, TLS refusal, and psql's environment through a fake psql.

mod aws_support;
mod common;
mod prod;

use std::path::Path;
use std::process::{Command as StdCommand, Stdio};

use aws_support::{aws_cmd, moto_config, moto_url, unique, venv_bin, Recorder};
use prod::{prod_ca, prod_password, prod_url, verify_full, ProdDb};

/// A secret made in moto's Secrets Manager; returns its name.
fn put_secret(value: &str) -> String {
    let name = unique("cdb-secret");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = moto_config(&moto_url()).await;
        aws_sdk_secretsmanager::Client::new(&config)
            .create_secret()
            .name(&name)
            .secret_string(value)
            .send()
            .await
            .expect("moto creates a secret");
    });
    name
}

/// The production-like server's URL for `db`, verified against its CA, with `user` (or none)
/// and no password.
fn url_without_password(db: &str, user: Option<&str>) -> String {
    let mut u = url::Url::parse(&prod::with(
        &prod_url(),
        None,
        Some(db),
        Some(&verify_full(&prod_ca())),
    ))
    .unwrap();
    u.set_password(None).unwrap();
    u.set_username(user.unwrap_or("")).unwrap();
    u.to_string()
}

fn rds_json(user: &str, password: &str) -> String {
    serde_json::json!({
        "username": user,
        "password": password,
        "engine": "postgres",
        "host": "cruddur-db-instance.c8abcdefgh.us-east-1.rds.amazonaws.com",
        "port": 5432
    })
    .to_string()
}

fn output_of(assert: &assert_cmd::assert::Assert) -> String {
    let out = assert.get_output();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_json_secret_logs_in_every_pool_and_is_read_once() {
    let db = ProdDb::unmade("secretjson");
    let password = prod_password();
    let secret = put_secret(&rds_json(prod_url().username(), &password));
    let recorder = Recorder::new();
    // setup opens two pools (the maintenance database, then the new one): one secret read.
    let run = aws_cmd(db.home.path(), &recorder.url)
        .env("CONNECTION_URL", url_without_password(&db.name, None))
        .args(["--password-secret", &secret, "setup"])
        .assert()
        .success();
    assert!(db.exists(), "setup made no database: {}", output_of(&run));
    assert_eq!(db.scalar("SELECT count(*) > 0 FROM public.users"), "t");
    assert_eq!(recorder.actions(), ["GetSecretValue"]);
    assert!(!output_of(&run).contains(&password));
}

#[test]
fn a_plain_string_secret_is_the_password() {
    let db = ProdDb::new("secretplain");
    let secret = put_secret(&prod_password());
    aws_cmd(db.home.path(), &moto_url())
        .env(
            "CONNECTION_URL",
            url_without_password(&db.name, Some(prod_url().username())),
        )
        .env("CRUDDUR_PASSWORD_SECRET", &secret)
        .arg("create")
        .assert()
        .success()
        .stderr(predicates::str::contains("exists"));
}

#[test]
fn a_wrong_password_in_the_secret_is_explained_and_never_shown() {
    let db = ProdDb::new("secretwrong");
    let secret = put_secret(&rds_json(prod_url().username(), "not-the-Password-42"));
    let run = aws_cmd(db.home.path(), &moto_url())
        .env("CONNECTION_URL", url_without_password(&db.name, None))
        .args(["--password-secret", &secret, "users"])
        .assert()
        .code(1);
    let text = output_of(&run);
    assert!(text.contains("authentication failed"), "{text}");
    assert!(
        text.contains(&format!("check the password in secret {secret}")),
        "{text}"
    );
    assert!(!text.contains("not-the-Password-42"), "{text}");
}

#[test]
fn a_missing_secret_is_exit_5_with_the_aws_code_and_the_fix() {
    let home = tempfile::tempdir().unwrap();
    let missing = unique("cdb-no-such-secret");
    let run = aws_cmd(home.path(), &moto_url())
        .env("CONNECTION_URL", url_without_password("cruddur", None))
        .args(["users", "--password-secret", &missing])
        .assert()
        .code(5);
    let text = output_of(&run);
    assert!(text.contains("ResourceNotFoundException"), "{text}");
    assert!(
        text.contains("--password-secret/CRUDDUR_PASSWORD_SECRET"),
        "{text}"
    );
    assert!(text.contains(&missing), "{text}");
}

#[test]
fn psql_gets_the_secrets_user_and_password_in_its_environment() {
    let db = ProdDb::new("secretpsql");
    let home = db.home.path();
    let password = prod_password();
    let secret = put_secret(&rds_json(prod_url().username(), &password));
    aws_cmd(home, &moto_url())
        .env("PATH", common::fake_psql(home))
        .env("CONNECTION_URL", url_without_password(&db.name, None))
        .args([
            "connect",
            "--password-secret",
            &secret,
            "--",
            "-c",
            "select 1",
        ])
        .assert()
        .success();
    let common::Seen { args, env, .. } = common::psql_seen(home);
    assert_eq!(args, ["-c", "select 1"]);
    assert_eq!(env["PGUSER"], prod_url().username());
    assert_eq!(env["PGPASSWORD"], password);
    assert_eq!(env["PGDATABASE"], db.name);
    assert!(!args.iter().any(|a| a.contains(&password)), "{args:?}");
}

#[test]
fn connect_iam_hands_psql_a_token_through_pgpassword() {
    // The local server speaks TLS and trusts local users: the connection check passes
    // whatever the password, so what psql receives can be looked at.
    let db = common::TestDb::new("iampsql");
    let home = db.home.path();
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_query(Some("sslmode=require"));
    aws_cmd(home, &moto_url())
        .env("PATH", common::fake_psql(home))
        .env("CONNECTION_URL", url.as_str())
        .args(["--iam", "connect"])
        .assert()
        .success();
    let common::Seen { args, env, .. } = common::psql_seen(home);
    assert!(args.is_empty(), "{args:?}");
    let token = &env["PGPASSWORD"];
    let host = url.host_str().unwrap();
    let port = url.port().unwrap_or(5432);
    assert!(
        token.starts_with(&format!(
            "{host}:{port}/?Action=connect&DBUser={}&X-Amz-Algorithm=AWS4-HMAC-SHA256",
            url.username()
        )),
        "{token}"
    );
    assert!(token.contains("X-Amz-Signature="), "{token}");
    assert_eq!(env["PGSSLMODE"], "require");
}

#[test]
fn iam_refuses_sslmodes_that_may_not_encrypt() {
    let home = tempfile::tempdir().unwrap();
    for (url, mode) in [
        ("postgresql://u@localhost:5432/cruddur", "prefer"),
        (
            "postgresql://u@db.example:5432/cruddur?sslmode=disable",
            "disable",
        ),
        (
            "postgresql://u@db.example:5432/cruddur?sslmode=allow",
            "allow",
        ),
    ] {
        let run = common::bin(home.path())
            .env("CONNECTION_URL", url)
            .env("CRUDDUR_IAM", "1")
            .arg("users")
            .assert()
            .code(2);
        let text = output_of(&run);
        assert!(text.contains("--iam needs TLS"), "{text}");
        assert!(text.contains(&format!("sslmode is {mode}")), "{text}");
    }
    // CRUDDUR_IAM=0 is off: the same URL is not refused for TLS (it fails later, elsewhere).
    let run = common::bin(home.path())
        .env("CONNECTION_URL", "postgresql://u@localhost:1/cruddur")
        .env("CRUDDUR_IAM", "0")
        .arg("users")
        .assert()
        .failure();
    assert!(!output_of(&run).contains("--iam needs TLS"));
}

#[test]
fn doctor_iam_says_which_step_uses_iam_and_what_the_user_needs() {
    let db = ProdDb::new("iamdoctor");
    // The URL keeps a password: --iam replaces it, and it must not show either.
    let mut url = url::Url::parse(&db.verified_url()).unwrap();
    url.set_password(Some("url-Password-7")).unwrap();
    let run = aws_cmd(db.home.path(), &moto_url())
        .env("CONNECTION_URL", url.as_str())
        .args(["doctor", "--iam"])
        .assert()
        .code(1);
    let text = output_of(&run);
    assert!(text.contains(":****@"), "{text}");
    assert!(!text.contains("url-Password-7"), "{text}");
    assert!(
        !text.contains("X-Amz-Signature"),
        "a token was shown: {text}"
    );
    assert!(
        text.contains("an RDS IAM token (--iam), used by the authentication check"),
        "{text}"
    );
    let auth = text
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("authentication"))
        .unwrap_or_else(|| panic!("no authentication line: {text}"));
    assert!(auth.starts_with("fail"), "{auth}");
    assert!(auth.contains("GRANT rds_iam TO"), "{auth}");
    assert!(auth.contains("rds-db:connect"), "{auth}");
}

#[test]
fn dry_runs_mask_the_url_and_name_where_the_password_comes_from() {
    let home = tempfile::tempdir().unwrap();
    // No AWS settings at all: a dry run asks AWS nothing.
    let run = common::bin(home.path())
        .env(
            "CONNECTION_URL",
            "postgresql://app:url-Password-7@db.example:5432/cruddur",
        )
        .args(["connect", "--dry-run", "--password-secret", "cruddur/prod"])
        .assert()
        .success();
    let text = output_of(&run);
    assert!(text.contains("app:****@db.example"), "{text}");
    assert!(
        text.contains("PGPASSWORD=**** (from secret cruddur/prod)"),
        "{text}"
    );
    assert!(!text.contains("url-Password-7"), "{text}");
}

fn amz_date(token: &str) -> &str {
    token
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("X-Amz-Date="))
        .unwrap_or_else(|| panic!("no X-Amz-Date in {token}"))
}

fn with_aws_credentials(c: &mut StdCommand, home: &Path, session: Option<&str>) {
    c.env("HOME", home)
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        )
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .stdin(Stdio::null());
    if let Some(s) = session {
        c.env("AWS_SESSION_TOKEN", s);
    }
}

#[test]
fn iam_token_equals_the_aws_clis_for_the_same_second() {
    let home = tempfile::tempdir().unwrap();
    let host = "cruddur-db-instance.c8abcdefgh.ca-central-1.rds.amazonaws.com";
    for session in [None, Some("IQoJb3JpZ2luX2VjEXAMPLE/session+token==")] {
        let mut same_second = None;
        // The CLI signs at some moment of its (slow) run; ours signs within milliseconds, so
        // ours runs over and over meanwhile and the token signed in the CLI's second is
        // compared. A run that straddles badly is tried again.
        for _attempt in 0..5 {
            let mut cli = StdCommand::new(venv_bin("aws"));
            cli.env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .args([
                    "rds",
                    "generate-db-auth-token",
                    "--hostname",
                    host,
                    "--port",
                    "6543",
                    "--username",
                    "cruddurroot",
                    "--region",
                    "ca-central-1",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            with_aws_credentials(&mut cli, home.path(), session);
            let mut cli = cli.spawn().expect("the AWS CLI starts");
            let mut ours = Vec::new();
            let cli = loop {
                let mut c = common::std_bin(home.path());
                // The region comes from the host name: no --region, no AWS_REGION.
                c.args([
                    "iam-token",
                    "--url",
                    &format!("postgresql://cruddurroot@{host}:6543/cruddur"),
                ]);
                with_aws_credentials(&mut c, home.path(), session);
                let out = c.output().unwrap();
                assert!(
                    out.status.success(),
                    "iam-token failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                ours.push(String::from_utf8(out.stdout).unwrap().trim().to_string());
                if let Some(status) = cli.try_wait().unwrap() {
                    let out = cli.wait_with_output().unwrap();
                    assert!(
                        status.success(),
                        "the AWS CLI failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    break String::from_utf8(out.stdout).unwrap().trim().to_string();
                }
                assert!(ours.len() < 5000, "the AWS CLI does not finish");
            };
            if let Some(t) = ours.iter().find(|t| amz_date(t) == amz_date(&cli)) {
                same_second = Some((t.clone(), cli));
                break;
            }
        }
        let (ours, cli) = same_second.expect("no token of ours was signed in the CLI's second");
        assert_eq!(ours, cli, "session token: {session:?}");
        assert_eq!(
            ours.contains("X-Amz-Security-Token="),
            session.is_some(),
            "{ours}"
        );
    }
}
