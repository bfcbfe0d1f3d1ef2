//! A parsed PostgreSQL URL whose `Display` and `Debug` mask the password: the only way a URL
//! is ever shown. The URL is parsed, never edited as a string.

use std::fmt;

use url::Url;

use crate::error::usage;
use crate::mask::mask_secrets;

/// A parsed PostgreSQL URL. `Display` and `Debug` mask the password: this is the only way a
/// URL is ever shown.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl(Url);

impl DbUrl {
    /// Parses `postgres://` or `postgresql://` URLs. The error shows the masked input.
    pub fn parse(s: &str) -> anyhow::Result<DbUrl> {
        let url = Url::parse(s).map_err(|e| {
            usage(format!(
                "malformed database URL {}: {e}; expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
                mask_secrets(s)
            ))
        })?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            // NOTE: not shown through DbUrl: `u:secret@host/db` parses with the scheme `u`
            // and the secret in its path.
            return Err(usage(format!(
                "malformed database URL {}: the scheme is {:?}, expected postgresql://",
                mask_secrets(s),
                url.scheme()
            )));
        }
        let db = DbUrl(url);
        if db.host().is_empty() {
            // NOTE: the input, masked, not the parsed URL: `postgres:u:secret@h/db` parses
            // with no host and the secret in its path.
            return Err(usage(format!(
                "malformed database URL {}: it names no host; expected \
                 postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
                mask_secrets(s)
            )));
        }
        Ok(db)
    }

    /// The URL with its real password, for handing to a driver. Never print it.
    pub fn expose(&self) -> &Url {
        &self.0
    }

    /// The host: the URL's host, or a `host=` query parameter (a Unix socket directory).
    pub fn host(&self) -> String {
        if let Some(h) = self.query_param("host") {
            return h;
        }
        match self.0.host() {
            Some(url::Host::Ipv6(a)) => a.to_string(),
            Some(h) => percent_decode(&h.to_string()),
            None => String::new(),
        }
    }

    pub fn port(&self) -> u16 {
        self.query_param("port")
            .and_then(|p| p.parse().ok())
            .or(self.0.port())
            .unwrap_or(5432)
    }

    /// The user name, percent-decoded; libpq defaults it to the login user.
    pub fn user(&self) -> String {
        match self.query_param("user") {
            Some(u) => u,
            None if !self.0.username().is_empty() => percent_decode(self.0.username()),
            None => crate::env::var("PGUSER")
                .or_else(|| crate::env::var("USER"))
                .unwrap_or_else(|| "postgres".into()),
        }
    }

    /// Whether the URL names a user (else libpq's default, PGUSER or the login user, applies).
    pub fn has_user(&self) -> bool {
        self.query_param("user").is_some() || !self.0.username().is_empty()
    }

    /// The same URL as `user`, for a URL that names no user (a `user=` parameter would win).
    pub fn with_user(&self, user: &str) -> DbUrl {
        let mut url = self.0.clone();
        // NOTE: only fails for URLs without a host, which `parse` rejects.
        let _ = url.set_username(user);
        DbUrl(url)
    }

    pub fn password(&self) -> Option<String> {
        self.query_param("password")
            .or_else(|| self.0.password().map(percent_decode))
    }

    /// The database name, percent-decoded; libpq defaults it to the user name.
    pub fn database(&self) -> String {
        if let Some(d) = self.query_param("dbname") {
            return d;
        }
        let path = self.0.path().trim_start_matches('/');
        if path.is_empty() {
            self.user()
        } else {
            percent_decode(path)
        }
    }

    /// A query parameter such as `sslmode`, decoded.
    pub fn query_param(&self, key: &str) -> Option<String> {
        self.0
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }

    /// The same server, user, password and query with another database. The path is
    /// replaced as a whole (never edited as a string), so `cruddurroot` stays `cruddurroot`.
    pub fn with_database(&self, database: &str) -> DbUrl {
        let mut url = self.0.clone();
        url.path_segments_mut()
            .expect("BUG: postgres URLs always have a path")
            .clear()
            .push(database);
        if self.query_param("dbname").is_some() {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k == "dbname" {
                        database.to_string()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        DbUrl(url)
    }

    /// The maintenance database of the same server: `postgres`, or `template1` when the target
    /// itself is `postgres` (so it can be dropped or created).
    pub fn maintenance(&self) -> DbUrl {
        let db = if self.database() == "postgres" {
            "template1"
        } else {
            "postgres"
        };
        self.with_database(db)
    }

    /// Whether the host is an Amazon RDS endpoint.
    pub fn is_rds(&self) -> bool {
        let host = self.host().to_ascii_lowercase();
        host.trim_end_matches('.').ends_with(".rds.amazonaws.com")
            || host
                .trim_end_matches('.')
                .ends_with(".rds.amazonaws.com.cn")
    }

    /// `host:port/database as user`, for confirmations and status lines.
    pub fn short(&self) -> String {
        format!(
            "{}:{}/{} as {}",
            self.host(),
            self.port(),
            self.database(),
            self.user()
        )
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut url = self.0.clone();
        if url.password().is_some() {
            let _ = url.set_password(Some("****"));
        }
        let secret = |k: &str| k == "password" || k == "sslpassword";
        if url.query_pairs().any(|(k, _)| secret(&k)) {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let v = if secret(&k) {
                        "****".to_string()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        f.write_str(url.as_str())
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({self})")
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cruddurroot_and_cruddur_round_trip() {
        // Regression: the old script's sed removed every "/cruddur", breaking this user.
        let u = DbUrl::parse(
            "postgresql://cruddurroot:s3cr%40t@host.example:5433/cruddur?sslmode=require",
        )
        .unwrap();
        assert_eq!(u.user(), "cruddurroot");
        assert_eq!(u.password().as_deref(), Some("s3cr@t"));
        assert_eq!(u.database(), "cruddur");
        let m = u.maintenance();
        assert_eq!(
            m.expose().as_str(),
            "postgresql://cruddurroot:s3cr%40t@host.example:5433/postgres?sslmode=require"
        );
        assert_eq!(m.user(), "cruddurroot");
        let back = m.with_database("cruddur");
        assert_eq!(back, u);
        let p = DbUrl::parse("postgresql://postgres@h/postgres").unwrap();
        assert_eq!(p.maintenance().database(), "template1");
    }

    #[test]
    fn encoded_database_names_survive() {
        let u = DbUrl::parse("postgresql://u@h/my%20db").unwrap();
        assert_eq!(u.database(), "my db");
        assert_eq!(u.maintenance().with_database("my db"), u);
    }

    #[test]
    fn display_masks_passwords() {
        let u = DbUrl::parse("postgresql://root:hunter2@h:5432/cruddur?password=hunter3").unwrap();
        let shown = format!("{u} {u:?}");
        assert!(!shown.contains("hunter"), "{shown}");
        assert!(
            shown.contains("postgresql://root:****@h:5432/cruddur"),
            "{shown}"
        );
    }

    #[test]
    fn malformed_url_error_is_masked() {
        let err = DbUrl::parse("postgresql://root:hunter2@host:notaport/db").unwrap_err();
        let msg = format!("{err:#}");
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(msg.contains("root:****@host"), "{msg}");
        let err = DbUrl::parse("mysql://root:hunter2@host/db").unwrap_err();
        assert!(!format!("{err:#}").contains("hunter2"));
        assert_eq!(
            mask_secrets("postgresql://a:b:c@d@e/f"),
            "postgresql://a:****@e/f"
        );
    }

    /// Regression: URLs without `//` were echoed whole, password included.
    #[test]
    fn urls_without_slashes_are_masked_too() {
        for bad in [
            "u:hunter2@localhost/db",
            "postgres:/u:hunter2@h/db",
            "postgres:u:hunter2@h/db",
            "postgresql://u:hunter2@h:port/db",
        ] {
            let msg = format!("{:#}", DbUrl::parse(bad).unwrap_err());
            assert!(msg.contains(":****@"), "{bad}: {msg}");
            assert!(!msg.contains("hunter2"), "{bad}: {msg}");
        }
    }
}
