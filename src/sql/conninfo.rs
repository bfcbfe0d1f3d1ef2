//! What a `\c` asks for, read as psql's `do_connect` reads it (positional arguments, a
//! `key=value` connection string or a `postgresql://` URI, `-reuse-previous`), and the one
//! thing cruddur-db can honour: another database of the same server as the same user.

/// The server, user and database a file runs on, to check `\c` against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub database: String,
}

/// `\c`'s arguments as psql's `read_connect_arg` returns them: `None` for a missing one and
/// for an unquoted `-` or empty one ("keep").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectArgs {
    /// `-reuse-previous=on|off`, when given.
    pub reuse_previous: Option<bool>,
    pub dbname: Option<String>,
    pub user: Option<String>,
    pub host: Option<String>,
    pub port: Option<String>,
}

impl ConnectArgs {
    /// The arguments as written for messages, with any password masked (`user:****@` in a
    /// URI, everything from `password` on in a connection string).
    pub fn shown(&self) -> String {
        let mut words: Vec<String> = Vec::new();
        if let Some(r) = self.reuse_previous {
            words.push(format!("-reuse-previous={}", if r { "on" } else { "off" }));
        }
        for a in [&self.dbname, &self.user, &self.host, &self.port] {
            let a = a.as_deref().unwrap_or("-");
            let masked = crate::mask::mask_secrets(a);
            words.push(match masked.find("password") {
                Some(at) if !a.contains("://") => format!("{}password=****", &masked[..at]),
                _ => masked,
            });
        }
        while words.len() > 1 && words.last().is_some_and(|w| w == "-") {
            words.pop();
        }
        words.join(" ")
    }
}

/// psql's `ParseVariableBool`.
pub fn parse_bool(value: &str) -> Option<bool> {
    let v = value.to_ascii_lowercase();
    let prefix = |word: &str, min: usize| v.len() >= min && word.starts_with(v.as_str());
    if prefix("true", 1) || prefix("yes", 1) || v == "1" || (v.len() >= 2 && prefix("on", 2)) {
        Some(true)
    } else if prefix("false", 1)
        || prefix("no", 1)
        || v == "0"
        || (v.len() >= 2 && prefix("off", 2))
    {
        Some(false)
    } else {
        None
    }
}

/// Whether psql reads a `\c` argument as a connection string (`recognized_connection_string`).
fn is_connection_string(s: &str) -> bool {
    s.starts_with("postgresql://") || s.starts_with("postgres://") || s.contains('=')
}

/// The parameters a connection string or URI sets.
#[derive(Debug, Default)]
struct Params {
    dbname: Option<String>,
    user: Option<String>,
    host: Option<String>,
    port: Option<String>,
}

impl Params {
    fn set(&mut self, key: &str, value: String) -> Result<(), String> {
        let slot = match key {
            "dbname" => &mut self.dbname,
            "user" => &mut self.user,
            "host" => &mut self.host,
            "port" => &mut self.port,
            // NOTE: the value is never shown: it may be a password.
            other => {
                return Err(format!(
                    "the connection parameter {other:?} is not supported (only dbname, user, host \
                     and port, on the same server)"
                ))
            }
        };
        *slot = Some(value);
        Ok(())
    }
}

/// libpq's `key=value ...` connection string.
fn parse_keywords(s: &str) -> Result<Params, String> {
    let mut p = Params::default();
    let mut it = s.chars().peekable();
    loop {
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
        if it.peek().is_none() {
            return Ok(p);
        }
        let mut key = String::new();
        while let Some(&c) = it.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            it.next();
        }
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
        if it.next() != Some('=') {
            return Err(format!("connection string: missing \"=\" after {key:?}"));
        }
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
        let mut value = String::new();
        if it.peek() == Some(&'\'') {
            it.next();
            loop {
                match it.next() {
                    None => return Err("connection string: a quote is never closed".into()),
                    Some('\\') => value.extend(it.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = it.peek() {
                if c.is_whitespace() {
                    break;
                }
                it.next();
                if c == '\\' {
                    value.extend(it.next());
                } else {
                    value.push(c);
                }
            }
        }
        p.set(&key, value)?;
    }
}

/// A `postgresql://` URI.
fn parse_uri(s: &str) -> Result<Params, String> {
    let url = url::Url::parse(s)
        .map_err(|e| format!("cannot read the URI {}: {e}", crate::mask::mask_secrets(s)))?;
    let decode = |v: &str| {
        url::form_urlencoded::parse(format!("x={}", v.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let mut p = Params::default();
    if !url.username().is_empty() {
        p.user = Some(decode(url.username()));
    }
    if let Some(h) = url.host_str().filter(|h| !h.is_empty()) {
        if h.contains(',') {
            return Err("several hosts in one URI are not supported".into());
        }
        p.host = Some(decode(h.trim_start_matches('[').trim_end_matches(']')));
    }
    if let Some(port) = url.port() {
        p.port = Some(port.to_string());
    }
    let path = url.path().trim_start_matches('/');
    if !path.is_empty() {
        p.dbname = Some(decode(path));
    }
    for (k, v) in url.query_pairs() {
        p.set(&k, v.into_owned())?;
    }
    Ok(p)
}

/// The database a `\c` moves to, when it stays on `server` as its user; else why not.
/// `current` is the database the file is on now. `server` is `None` when the runner does not
/// say where it is: then only a database name (or none) is accepted.
pub fn resolve(
    args: &ConnectArgs,
    server: Option<&Server>,
    current: &str,
) -> Result<String, String> {
    let conn_string = args.dbname.as_deref().filter(|d| is_connection_string(d));
    let (params, reuse) = match conn_string {
        Some(s) => {
            if args.user.is_some() || args.host.is_some() || args.port.is_some() {
                return Err(
                    "a connection string and a separate user, host or port (psql refuses it)"
                        .into(),
                );
            }
            let p = if s.starts_with("postgres") && s.contains("://") {
                parse_uri(s)?
            } else {
                parse_keywords(s)?
            };
            (p, args.reuse_previous.unwrap_or(false))
        }
        None => (
            Params {
                dbname: args.dbname.clone(),
                user: args.user.clone(),
                host: args.host.clone(),
                port: args.port.clone(),
            },
            args.reuse_previous.unwrap_or(true),
        ),
    };
    let database = params.dbname.clone();
    let Some(server) = server else {
        if params.user.is_some() || params.host.is_some() || params.port.is_some() || !reuse {
            return Err(
                "another user, host or port cannot be checked here; only a database \
                        name is supported"
                    .into(),
            );
        }
        return database
            .or_else(|| (!current.is_empty()).then(|| current.to_string()))
            .ok_or_else(|| "reconnecting (no database name) cannot be checked here".to_string());
    };
    // NOTE: without reuse, psql leaves what is not given to libpq's defaults (PGHOST or the
    // local socket, PGUSER or the login name), which cruddur-db does not follow.
    let not_given = |what: &str| {
        format!(
            "without -reuse-previous=on, a \\c that names no {what} connects with libpq's default \
             {what}, not the target's; name it (the target's) or add -reuse-previous=on"
        )
    };
    match params.host.as_deref() {
        Some(h) if h != server.host => {
            return Err(format!(
                "another host ({h}) is not supported, only the target's server ({})",
                server.host
            ))
        }
        None if !reuse => return Err(not_given("host")),
        _ => {}
    }
    let port = match params.port.as_deref() {
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| format!("invalid port {p:?}"))?,
        ),
        None if !reuse => Some(
            crate::env::var("PGPORT")
                .and_then(|p| p.parse().ok())
                .unwrap_or(5432),
        ),
        None => None,
    };
    if let Some(p) = port.filter(|p| *p != server.port) {
        return Err(format!(
            "another port ({p}) is not supported, only the target's ({})",
            server.port
        ));
    }
    match params.user.as_deref() {
        Some(u) if u != server.user => {
            return Err(format!(
                "another user ({u}) is not supported: cruddur-db connects only as the target's \
                 user ({}), with its password and TLS settings, and will not offer them for \
                 another user; run that part of the file separately with a target URL naming \
                 {u}",
                server.user
            ))
        }
        None if !reuse => return Err(not_given("user")),
        _ => {}
    }
    Ok(match database {
        Some(d) => d,
        // libpq's default database is the user name; with reuse, the current one.
        None if !reuse => server.user.clone(),
        None => current.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> Server {
        Server {
            host: "127.0.0.1".into(),
            port: 5432,
            user: "postgres".into(),
            database: "first".into(),
        }
    }

    fn args(dbname: Option<&str>, rest: [Option<&str>; 3], reuse: Option<bool>) -> ConnectArgs {
        let s = |o: Option<&str>| o.map(str::to_string);
        ConnectArgs {
            reuse_previous: reuse,
            dbname: s(dbname),
            user: s(rest[0]),
            host: s(rest[1]),
            port: s(rest[2]),
        }
    }

    #[test]
    fn the_forms_psql_accepts_on_the_same_server() {
        let s = server();
        let ok = |a: ConnectArgs| resolve(&a, Some(&s), "cur").unwrap();
        assert_eq!(ok(args(Some("db"), [None; 3], None)), "db");
        assert_eq!(ok(args(None, [None; 3], None)), "cur");
        assert_eq!(ok(args(None, [Some("postgres"), None, None], None)), "cur");
        assert_eq!(
            ok(args(
                Some("db"),
                [Some("postgres"), Some("127.0.0.1"), Some("5432")],
                None
            )),
            "db"
        );
        assert_eq!(
            ok(args(
                Some("dbname=x host=127.0.0.1 user=postgres port=5432"),
                [None; 3],
                None
            )),
            "x"
        );
        assert_eq!(ok(args(Some("dbname='a b'"), [None; 3], Some(true))), "a b");
        assert_eq!(
            ok(args(
                Some("postgresql://postgres:pw@127.0.0.1:5432/x%20y"),
                [None; 3],
                None
            )),
            "x y"
        );
        assert_eq!(
            ok(args(
                Some("postgresql://127.0.0.1/x?user=postgres"),
                [None; 3],
                None
            )),
            "x"
        );
    }

    #[test]
    fn what_is_refused_and_why() {
        let s = server();
        let why = |a: ConnectArgs| resolve(&a, Some(&s), "cur").unwrap_err();
        assert!(
            why(args(Some("db"), [Some("bob"), None, None], None)).contains("another user (bob)")
        );
        assert!(
            why(args(Some("db"), [None, Some("otherhost"), None], None)).contains("another host")
        );
        assert!(why(args(Some("db"), [None, None, Some("5433")], None)).contains("another port"));
        assert!(why(args(Some("dbname=x"), [None; 3], None)).contains("default host"));
        assert!(why(args(Some("db"), [None; 3], Some(false))).contains("default host"));
        assert!(why(args(
            Some("dbname=x sslmode=disable"),
            [None; 3],
            Some(true)
        ))
        .contains("sslmode"));
        let uri = why(args(
            Some("postgresql://bob:s3cret@127.0.0.1/x"),
            [None; 3],
            None,
        ));
        assert!(
            uri.contains("another user (bob)") && !uri.contains("s3cret"),
            "{uri}"
        );
        assert!(why(args(Some("dbname=x"), [Some("u"), None, None], None))
            .contains("connection string"));
    }

    #[test]
    fn passwords_are_masked_when_shown() {
        let uri = args(Some("postgresql://bob:s3cret@h/x"), [None; 3], None).shown();
        assert!(
            uri.contains("bob:****@") && !uri.contains("s3cret"),
            "{uri}"
        );
        let kw = args(Some("dbname=x password='s3 cret' user=u"), [None; 3], None).shown();
        assert_eq!(kw, "dbname=x password=****");
        assert_eq!(
            args(Some("db"), [None, Some("h"), None], None).shown(),
            "db - h"
        );
    }

    #[test]
    fn booleans_as_psql_reads_them() {
        for (v, want) in [
            ("on", Some(true)),
            ("of", Some(false)),
            ("o", None),
            ("t", Some(true)),
            ("FALSE", Some(false)),
            ("1", Some(true)),
            ("0", Some(false)),
            ("y", Some(true)),
            ("n", Some(false)),
            ("", None),
            ("2", None),
        ] {
            assert_eq!(parse_bool(v), want, "{v}");
        }
    }
}
