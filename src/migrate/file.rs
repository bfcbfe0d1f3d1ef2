//! Migration files: discovery in a directory, dbmate's `.sql` sections, the bootcamp's `.py`
//! files (read, never run), and the map from a section's text back to the file as written.

use std::path::{Path, PathBuf};

use super::py;
use super::version::{split_file_name, Format, Version};
use crate::error::usage;

/// One migration file.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: Version,
    pub name: String,
    pub file_name: String,
    pub path: PathBuf,
    pub format: Format,
    /// SHA-256 of the file's bytes, in hex.
    pub checksum: String,
    pub up: Section,
    /// `None` when the file has no down section, or an empty one.
    pub down: Option<Section>,
}

/// One direction of a migration: its SQL and where each part of it is in the file.
#[derive(Debug, Clone)]
pub struct Section {
    pub sql: String,
    /// False for `-- migrate:up transaction:false`.
    pub transaction: bool,
    map: SourceMap,
}

#[derive(Debug, Clone)]
enum SourceMap {
    /// Line 1 of the section is line `n + 1` of the file; columns are the same.
    LineOffset(usize),
    /// The file position (line, column) of each character of the section.
    Chars(Vec<(usize, usize)>),
}

impl Section {
    /// The file line the section's first line is, when the section is the file's text as
    /// written (a `.sql` file); `None` when positions need [`Section::file_pos`] (`.py`).
    pub fn first_line(&self) -> Option<usize> {
        match &self.map {
            SourceMap::LineOffset(n) => Some(n + 1),
            SourceMap::Chars(_) => None,
        }
    }

    /// The file position of a 1-based line and column of the section's text.
    pub fn file_pos(&self, line: usize, column: usize) -> (usize, usize) {
        match &self.map {
            SourceMap::LineOffset(n) => (line + n, column),
            SourceMap::Chars(pos) => {
                let mut idx = 0usize;
                let mut l = 1usize;
                let mut chars = self.sql.chars();
                while l < line {
                    match chars.next() {
                        Some('\n') => {
                            l += 1;
                            idx += 1;
                        }
                        Some(_) => idx += 1,
                        None => break,
                    }
                }
                idx += column.saturating_sub(1);
                pos.get(idx)
                    .or_else(|| pos.last())
                    .copied()
                    .unwrap_or((1, 1))
            }
        }
    }

    /// Whether the section holds nothing but whitespace and comments.
    pub fn is_empty(&self) -> bool {
        let b = self.sql.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_whitespace() {
                i += 1;
            } else if b[i..].starts_with(b"--") {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            } else if b[i..].starts_with(b"/*") {
                match self.sql[i + 2..].find("*/") {
                    Some(end) => i += end + 4,
                    None => return false,
                }
            } else {
                return false;
            }
        }
        true
    }
}

/// The SHA-256 of some bytes, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Every migration in `dir`, in time order. Files that are not `<digits>_<name>.sql|.py` are
/// left alone. A file that cannot be read, or two files with one stamp, is a usage error
/// (exit 2) naming the file; nothing has run then.
pub fn discover(dir: &Path) -> anyhow::Result<Vec<Migration>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            usage(format!(
                "the migrations directory {} does not exist; pass --dir DIR or set \
                 CRUDDUR_MIGRATIONS_DIR (`cruddur-db migrate new NAME` creates it)",
                dir.display()
            ))
        } else {
            usage(format!(
                "cannot read the migrations directory {}: {e}",
                dir.display()
            ))
        }
    })?;
    let mut out: Vec<Migration> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            usage(format!(
                "cannot read the migrations directory {}: {e}",
                dir.display()
            ))
        })?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if split_file_name(&file_name).is_none() || !entry.path().is_file() {
            continue;
        }
        out.push(read(&entry.path())?);
    }
    out.sort_by(|a, b| a.version.cmp(&b.version));
    for pair in out.windows(2) {
        if pair[0].version.stamp == pair[1].version.stamp {
            return Err(usage(format!(
                "two migrations have the version {}: {} and {}; rename one (nothing was run)",
                pair[0].version,
                pair[0].path.display(),
                pair[1].path.display()
            )));
        }
    }
    Ok(out)
}

/// Reads one migration file.
pub fn read(path: &Path) -> anyhow::Result<Migration> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !path.is_file() {
        return Err(usage(format!(
            "no such migration file: {}{}",
            path.display(),
            if path.exists() {
                " (it is not a file)"
            } else {
                ""
            }
        )));
    }
    let Some((stamp, name, format)) = split_file_name(&file_name) else {
        return Err(usage(format!(
            "{} is not named <stamp>_<name>.sql or <stamp>_<name>.py",
            path.display()
        )));
    };
    let version = Version::parse(stamp, format).ok_or_else(|| {
        usage(format!(
            "{}: the stamp {stamp} is not a time",
            path.display()
        ))
    })?;
    let bytes = std::fs::read(path)
        .map_err(|e| usage(format!("cannot read migration {}: {e}", path.display())))?;
    let checksum = sha256_hex(&bytes);
    let text = String::from_utf8(bytes)
        .map_err(|_| usage(format!("migration {} is not UTF-8 text", path.display())))?;
    let located = |line: usize, msg: String| {
        usage(format!("{}:{line}: {msg}; nothing was run", path.display()))
    };
    let (up, down) = match format {
        Format::Sql => sql_sections(&text).map_err(|(l, m)| located(l, m))?,
        Format::Py => {
            let read = |func: &str| -> Result<Option<Section>, py::PyError> {
                let Some(x) = py::extract(&text, func)? else {
                    return Ok(None);
                };
                let x = py::unescape_percent(&py::dedent(&x))?;
                Ok(Some(Section {
                    sql: x.text,
                    transaction: true,
                    map: SourceMap::Chars(x.pos),
                }))
            };
            let up = read("migrate_sql")
                .map_err(|e| located(e.line, e.message))?
                .ok_or_else(|| {
                    usage(format!(
                        "{}: no migrate_sql() found; a bootcamp migration defines \
                         `def migrate_sql():` returning its SQL in a string (nothing was run)",
                        path.display()
                    ))
                })?;
            let down = read("rollback_sql").map_err(|e| located(e.line, e.message))?;
            (up, down)
        }
    };
    Ok(Migration {
        version,
        name: name.to_string(),
        file_name: file_name.clone(),
        path: path.to_path_buf(),
        format,
        checksum,
        up,
        down: down.filter(|d| !d.is_empty()),
    })
}

/// A `-- migrate:up` or `-- migrate:down` line: the direction and its options.
fn marker(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("--")?.trim_start();
    let rest = rest.strip_prefix("migrate:")?;
    for dir in ["up", "down"] {
        if let Some(opts) = rest.strip_prefix(dir) {
            if opts.is_empty() || opts.starts_with(char::is_whitespace) {
                return Some((dir, opts.trim()));
            }
        }
    }
    None
}

/// dbmate's sections: `-- migrate:up [transaction:false]` and `-- migrate:down [...]`.
fn sql_sections(text: &str) -> Result<(Section, Option<Section>), (usize, String)> {
    // (direction, transaction, marker line, byte range of the section)
    let mut found: Vec<(&str, bool, usize, std::ops::Range<usize>)> = Vec::new();
    let mut offset = 0;
    for (n, raw) in text.split_inclusive('\n').enumerate() {
        let line_no = n + 1;
        let line = raw.trim_end();
        if let Some((dir, opts)) = marker(line) {
            let mut transaction = true;
            for opt in opts.split_whitespace() {
                match opt {
                    "transaction:false" => transaction = false,
                    "transaction:true" => transaction = true,
                    other => {
                        return Err((
                            line_no,
                            format!("unknown option {other:?} (dbmate knows transaction:false)"),
                        ))
                    }
                }
            }
            if found.iter().any(|f| f.0 == dir) {
                return Err((line_no, format!("a second -- migrate:{dir} section")));
            }
            if let Some(last) = found.last_mut() {
                last.3.end = offset;
            }
            found.push((dir, transaction, line_no, offset + raw.len()..text.len()));
        } else if found.is_empty() && !line.trim().is_empty() && !line.trim().starts_with("--") {
            return Err((
                line_no,
                "SQL before the `-- migrate:up` line (dbmate's format puts everything in a \
                 -- migrate:up or -- migrate:down section)"
                    .to_string(),
            ));
        }
        offset += raw.len();
    }
    let section = |dir: &str| {
        found.iter().find(|f| f.0 == dir).map(|f| Section {
            sql: text[f.3.clone()].to_string(),
            transaction: f.1,
            map: SourceMap::LineOffset(f.2),
        })
    };
    let up = section("up").ok_or((
        1,
        "no `-- migrate:up` line (dbmate's format: `-- migrate:up`, its SQL, then \
         `-- migrate:down` and the SQL that undoes it)"
            .to_string(),
    ))?;
    Ok((up, section("down")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_sections_and_their_lines() {
        let text = "-- a comment\n-- migrate:up\nCREATE TABLE a (id int);\n\n-- migrate:down transaction:false\nDROP TABLE a;\n";
        let (up, down) = sql_sections(text).unwrap();
        assert_eq!(up.sql, "CREATE TABLE a (id int);\n\n");
        assert!(up.transaction);
        assert_eq!(up.file_pos(1, 8), (3, 8));
        let down = down.unwrap();
        assert_eq!(down.sql, "DROP TABLE a;\n");
        assert!(!down.transaction);
        assert_eq!(down.file_pos(1, 1), (6, 1));
    }

    #[test]
    fn bad_sql_files_are_refused_with_the_line() {
        let cases = [
            ("CREATE TABLE a (id int);\n-- migrate:up\n", 1),
            ("-- migrate:down\nDROP TABLE a;\n", 1),
            ("-- migrate:up\n-- migrate:up\n", 2),
            ("-- migrate:up transaction:maybe\n", 1),
        ];
        for (text, line) in cases {
            let (l, msg) = sql_sections(text).unwrap_err();
            assert_eq!(l, line, "{text}: {msg}");
        }
        assert_eq!(marker("-- migrate:upgrade"), None);
        assert_eq!(marker("--migrate:up"), Some(("up", "")));
    }

    #[test]
    fn empty_sections_are_empty() {
        let (up, down) =
            sql_sections("-- migrate:up\n\n-- migrate:down\n-- nothing\n/* x */\n").unwrap();
        assert!(up.is_empty() && down.unwrap().is_empty());
        let (up, _) = sql_sections("-- migrate:up\n(SELECT 1);\n").unwrap();
        assert!(!up.is_empty());
    }

    #[test]
    fn discover_orders_by_time_skips_other_files_and_refuses_duplicate_versions() {
        let t = tempfile::tempdir().unwrap();
        let w = |name: &str, text: &str| std::fs::write(t.path().join(name), text).unwrap();
        w(
            "17000000005_b.py",
            "def migrate_sql():\n    return 'SELECT 2;'\n",
        );
        w(
            "16812294605993273_a.py",
            "def migrate_sql():\n    return 'SELECT 1;'\n",
        );
        w("20231114221321_c.sql", "-- migrate:up\nSELECT 3;\n");
        w("__init__.py", "");
        w("notes.txt", "");
        std::fs::create_dir(t.path().join("20990101000000_dir.sql")).unwrap();
        let names: Vec<String> = discover(t.path())
            .unwrap()
            .into_iter()
            .map(|m| m.file_name)
            .collect();
        assert_eq!(
            names,
            [
                "16812294605993273_a.py",
                "17000000005_b.py",
                "20231114221321_c.sql"
            ]
        );
        w("17000000005_b_again.sql", "-- migrate:up\nSELECT 4;\n");
        let e = discover(t.path()).unwrap_err();
        assert_eq!(crate::error::exit_code(&e), 2);
        assert!(format!("{e:#}").contains("two migrations have the version 17000000005"));
        let e = discover(&t.path().join("nope")).unwrap_err();
        assert!(format!("{e:#}").contains("CRUDDUR_MIGRATIONS_DIR"), "{e:#}");
    }

    #[test]
    fn checksum_is_sha256() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
