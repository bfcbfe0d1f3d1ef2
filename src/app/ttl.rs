//! How long a crud lives: the app's seven ttl choices, their spellings and durations.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::rules::{Rule, Violation};

/// The longest message the app accepts, in characters (Unicode scalar values, not bytes).
pub const MESSAGE_MAX_CHARS: usize = 280;

/// How long a crud lives: the app's seven choices. The default is seven days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Ttl {
    #[serde(rename = "30-days")]
    Days30,
    #[default]
    #[serde(rename = "7-days")]
    Days7,
    #[serde(rename = "3-days")]
    Days3,
    #[serde(rename = "1-day")]
    Day1,
    #[serde(rename = "12-hours")]
    Hours12,
    #[serde(rename = "3-hours")]
    Hours3,
    #[serde(rename = "1-hour")]
    Hour1,
}

impl Ttl {
    /// Every value, longest first, as the app's form lists them.
    pub const ALL: [Ttl; 7] = [
        Ttl::Days30,
        Ttl::Days7,
        Ttl::Days3,
        Ttl::Day1,
        Ttl::Hours12,
        Ttl::Hours3,
        Ttl::Hour1,
    ];

    /// The app's spelling: `7-days`, `1-hour`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Ttl::Days30 => "30-days",
            Ttl::Days7 => "7-days",
            Ttl::Days3 => "3-days",
            Ttl::Day1 => "1-day",
            Ttl::Hours12 => "12-hours",
            Ttl::Hours3 => "3-hours",
            Ttl::Hour1 => "1-hour",
        }
    }

    /// The PostgreSQL interval that is added to the database's clock.
    pub fn interval(self) -> &'static str {
        match self {
            Ttl::Days30 => "30 days",
            Ttl::Days7 => "7 days",
            Ttl::Days3 => "3 days",
            Ttl::Day1 => "1 day",
            Ttl::Hours12 => "12 hours",
            Ttl::Hours3 => "3 hours",
            Ttl::Hour1 => "1 hour",
        }
    }

    /// The same length as a duration.
    pub fn duration(self) -> chrono::TimeDelta {
        match self {
            Ttl::Days30 => chrono::TimeDelta::days(30),
            Ttl::Days7 => chrono::TimeDelta::days(7),
            Ttl::Days3 => chrono::TimeDelta::days(3),
            Ttl::Day1 => chrono::TimeDelta::days(1),
            Ttl::Hours12 => chrono::TimeDelta::hours(12),
            Ttl::Hours3 => chrono::TimeDelta::hours(3),
            Ttl::Hour1 => chrono::TimeDelta::hours(1),
        }
    }

    fn choices() -> String {
        Ttl::ALL.map(Ttl::as_str).join(", ")
    }
}

impl fmt::Display for Ttl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for Ttl {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl FromStr for Ttl {
    type Err = Violation;

    /// Exactly the app's spellings. Blank is `ttl_blank`; anything else is `ttl_invalid`.
    fn from_str(s: &str) -> Result<Ttl, Violation> {
        if s.trim().is_empty() {
            return Err(Violation::new(
                Rule::TtlBlank,
                format!("ttl is blank; choose one of {}", Ttl::choices()),
            ));
        }
        Ttl::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                Violation::new(
                    Rule::TtlInvalid,
                    format!("ttl {s:?} is not one of {}", Ttl::choices()),
                )
            })
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_spellings_round_trip() {
        for t in Ttl::ALL {
            assert_eq!(t.as_str().parse::<Ttl>().unwrap(), t);
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{t}\""));
        }
        assert_eq!(Ttl::default(), Ttl::Days7);
        // README: the seven choices, each its own length of time.
        let hour = chrono::TimeDelta::seconds(3600);
        let durations = [
            ("30-days", hour * 720),
            ("7-days", hour * 168),
            ("3-days", hour * 72),
            ("1-day", hour * 24),
            ("12-hours", hour * 12),
            ("3-hours", hour * 3),
            ("1-hour", hour),
        ];
        for (spelling, length) in durations {
            assert_eq!(
                spelling.parse::<Ttl>().unwrap().duration(),
                length,
                "{spelling}"
            );
        }
        assert_eq!("".parse::<Ttl>().unwrap_err().rule, Rule::TtlBlank);
        assert_eq!("  ".parse::<Ttl>().unwrap_err().rule, Rule::TtlBlank);
        let v = "2-days".parse::<Ttl>().unwrap_err();
        assert_eq!(v.rule, Rule::TtlInvalid);
        assert!(v
            .message
            .contains("30-days, 7-days, 3-days, 1-day, 12-hours, 3-hours, 1-hour"));
        assert_eq!("7-Days".parse::<Ttl>().unwrap_err().rule, Rule::TtlInvalid);
    }
}
