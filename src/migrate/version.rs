//! The time axis migrations are ordered on: a `.py` stamp is seconds (its first 10 digits)
//! plus a fraction (the rest); a 14-digit `.sql` stamp is a UTC date-time.

use std::cmp::Ordering;
use std::fmt;

use chrono::NaiveDateTime;

/// The two kinds of migration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// dbmate's `.sql` with `-- migrate:up` / `-- migrate:down` sections.
    Sql,
    /// The bootcamp's `.py` with `migrate_sql()` / `rollback_sql()`.
    Py,
}

impl Format {
    /// The format a file name's extension says, if any.
    pub fn of(file_name: &str) -> Option<Format> {
        if file_name.ends_with(".sql") {
            Some(Format::Sql)
        } else if file_name.ends_with(".py") {
            Some(Format::Py)
        } else {
            None
        }
    }
}

/// A migration's stamp and the time it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The digits as written in the file name; the key in the tracking table.
    pub stamp: String,
    /// Whole seconds since the Unix epoch.
    pub secs: i64,
    /// The fraction of a second as decimal digits, trailing zeros removed ("5" is 0.5 s).
    pub frac: String,
}

impl Version {
    /// Reads a stamp of `format`. `.py` stamps are `str(time.time())` without the dot: the
    /// first 10 digits are seconds, the rest a fraction, so their length varies. A `.sql`
    /// stamp of 14 digits that is a valid date-time is one (UTC, `YYYYMMDDHHMMSS`); any other
    /// `.sql` stamp is read like a `.py` one. Fewer than 10 digits are whole seconds.
    pub fn parse(stamp: &str, format: Format) -> Option<Version> {
        if stamp.is_empty() || !stamp.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if format == Format::Sql && stamp.len() == 14 {
            if let Ok(t) = NaiveDateTime::parse_from_str(stamp, "%Y%m%d%H%M%S") {
                return Some(Version {
                    stamp: stamp.to_string(),
                    secs: t.and_utc().timestamp(),
                    frac: String::new(),
                });
            }
        }
        let split = stamp.len().min(10);
        let secs = stamp[..split].parse::<i64>().ok()?;
        Some(Version {
            stamp: stamp.to_string(),
            secs,
            frac: stamp[split..].trim_end_matches('0').to_string(),
        })
    }

    /// The time as `YYYY-MM-DD HH:MM:SS[.fff] UTC`, for messages.
    pub fn time(&self) -> String {
        let base = chrono::DateTime::from_timestamp(self.secs, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| format!("{} s", self.secs));
        if self.frac.is_empty() {
            format!("{base} UTC")
        } else {
            format!("{base}.{} UTC", self.frac)
        }
    }

    /// Compares the times only (equal times with different stamps compare equal).
    pub fn cmp_time(&self, other: &Version) -> Ordering {
        // NOTE: fractions without trailing zeros compare as digit strings exactly as the
        // numbers they stand for (0.5 > 0.49, 0.5 == 0.50).
        self.secs
            .cmp(&other.secs)
            .then_with(|| self.frac.cmp(&other.frac))
    }
}

impl Ord for Version {
    /// By time, then by the stamp as written so that the order is total.
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_time(other)
            .then_with(|| self.stamp.cmp(&other.stamp))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.stamp)
    }
}

/// Splits a migration file name into its stamp, name and format:
/// `16812294605993273_add_bio.py` is `("16812294605993273", "add_bio", Py)`.
pub fn split_file_name(file_name: &str) -> Option<(&str, &str, Format)> {
    let format = Format::of(file_name)?;
    let stem = &file_name[..file_name.len() - if format == Format::Py { 3 } else { 4 }];
    let (stamp, name) = stem.split_once('_')?;
    if stamp.is_empty() || !stamp.bytes().all(|b| b.is_ascii_digit()) || name.is_empty() {
        return None;
    }
    Some((stamp, name, format))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn py(s: &str) -> Version {
        Version::parse(s, Format::Py).unwrap()
    }

    #[test]
    fn py_stamps_of_different_lengths_sort_by_time_not_as_integers() {
        // 1681229460.5993273 s (April 2023) and 1700000000.5 s (November 2023): as integers
        // the longer, older stamp sorts last.
        let older = py("16812294605993273");
        let newer = py("17000000005");
        assert!("16812294605993273".parse::<u64>().unwrap() > "17000000005".parse().unwrap());
        assert!(older < newer);
        assert_eq!(newer.frac, "5");
        assert_eq!(
            py("17000000005").cmp_time(&py("170000000050")),
            Ordering::Equal
        );
        assert!(py("17000000005") > py("170000000049"));
    }

    #[test]
    fn sql_date_stamps_share_the_axis_with_py_stamps() {
        // 2023-11-14 22:13:20 UTC is 1700000000 s.
        let sql = Version::parse("20231114221320", Format::Sql).unwrap();
        assert_eq!(sql.secs, 1_700_000_000);
        assert!(py("16999999999") < sql);
        assert!(sql < py("17000000001"));
        assert_eq!(sql.time(), "2023-11-14 22:13:20 UTC");
        assert_eq!(py("17000000005").time(), "2023-11-14 22:13:20.5 UTC");
    }

    #[test]
    fn odd_sql_stamps_are_read_as_seconds() {
        // 14 digits that are no date (month 99): seconds and a fraction, as .py stamps.
        let v = Version::parse("16812294609999", Format::Sql).unwrap();
        assert_eq!((v.secs, v.frac.as_str()), (1_681_229_460, "9999"));
        assert_eq!(Version::parse("001", Format::Sql).unwrap().secs, 1);
        assert!(Version::parse("12a", Format::Sql).is_none());
        assert!(Version::parse("", Format::Py).is_none());
    }

    #[test]
    fn file_names_split() {
        assert_eq!(
            split_file_name("16812294605993273_add_bio_column.py"),
            Some(("16812294605993273", "add_bio_column", Format::Py))
        );
        assert_eq!(
            split_file_name("20240101120000_create_likes.sql"),
            Some(("20240101120000", "create_likes", Format::Sql))
        );
        for bad in [
            "__init__.py",
            "readme.sql",
            "12_.sql",
            "_x.sql",
            "12_x.txt",
            "1a_x.py",
        ] {
            assert_eq!(split_file_name(bad), None, "{bad}");
        }
    }
}
