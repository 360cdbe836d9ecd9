//! Database locations as Django projects write them, parsed into a form that can be shown
//! without ever revealing the password.

use std::path::{Path, PathBuf};

use percent_encoding::percent_decode_str;

#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(PgTarget),
}

#[derive(Clone, PartialEq, Eq)]
pub struct PgTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub dbname: String,
    pub sslmode: SslMode,
    /// The CA certificates (PEM) that verify-ca and verify-full trust (`sslrootcert=`).
    pub sslrootcert: Option<PathBuf>,
    /// The password file (`passfile=`) consulted when the URL has no password.
    pub passfile: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    /// TLS, and the server's certificate chains to a CA of `sslrootcert`.
    VerifyCa,
    /// As verify-ca, and the certificate names the host connected to.
    VerifyFull,
}

impl SslMode {
    pub fn parse(value: &str) -> Result<SslMode, String> {
        match value {
            "disable" => Ok(SslMode::Disable),
            "prefer" | "allow" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(format!(
                "unknown sslmode '{other}' (use disable, prefer, require, verify-ca or verify-full)"
            )),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether the server's certificate is checked (and so the password only goes to it).
    pub fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

impl DatabaseUrl {
    /// Parses `sqlite:///relative.db`, `sqlite:////absolute.db`, a bare path to an existing SQLite
    /// file, and `postgres://` / `postgresql://` URLs with an optional `?sslmode=`.
    pub fn parse(input: &str) -> Result<DatabaseUrl, String> {
        let input = input.trim();
        if input.is_empty() {
            return Err("the database URL is empty".to_string());
        }
        if let Some(rest) = input.strip_prefix("sqlite://") {
            // Django style: three slashes then a relative path, four for an absolute one.
            let path = rest.strip_prefix('/').ok_or_else(|| {
                "malformed SQLite URL: write sqlite:///relative/path.db or sqlite:////absolute/path.db"
                    .to_string()
            })?;
            if path.is_empty() || path == "/" {
                return Err("malformed SQLite URL: no file path after sqlite:///".to_string());
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if let Some(rest) = input
            .strip_prefix("postgres://")
            .or_else(|| input.strip_prefix("postgresql://"))
        {
            return parse_postgres(rest).map(DatabaseUrl::Postgres);
        }
        if input.contains("://") {
            let scheme = input.split("://").next().unwrap_or_default();
            return Err(format!(
                "unsupported database URL scheme '{scheme}' (use sqlite:/// or postgres://)"
            ));
        }
        // A bare path: only accepted for a file that exists, so a typo is not taken for a new DB.
        let path = Path::new(input);
        if path.is_file() {
            Ok(DatabaseUrl::Sqlite(path.to_path_buf()))
        } else {
            Err(format!(
                "no such database file: {input} (or give a sqlite:/// or postgres:// URL)"
            ))
        }
    }

    /// The URL with any password replaced, safe for logs, headers and errors.
    pub fn redacted(&self) -> String {
        match self {
            // An absolute path gives the four-slash form by itself.
            DatabaseUrl::Sqlite(path) => format!("sqlite:///{}", path.display()),
            DatabaseUrl::Postgres(pg) => {
                let auth = match &pg.password {
                    Some(_) => format!("{}:***@", pg.user),
                    None if pg.user.is_empty() => String::new(),
                    None => format!("{}@", pg.user),
                };
                let mut shown = format!(
                    "postgres://{auth}{}:{}/{}?sslmode={}",
                    host_for_url(&pg.host),
                    pg.port,
                    pg.dbname,
                    pg.sslmode.as_str()
                );
                // Paths, not secrets: shown so an operator sees which files are used.
                for (key, path) in [("sslrootcert", &pg.sslrootcert), ("passfile", &pg.passfile)] {
                    if let Some(path) = path {
                        shown.push_str(&format!("&{key}={}", path.display()));
                    }
                }
                shown
            }
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "SQLite",
            DatabaseUrl::Postgres(_) => "PostgreSQL",
        }
    }
}

// Debug must not leak the password either (it ends up in panics and logs).
impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&DatabaseUrl::Postgres(self.clone()).redacted())
    }
}

fn host_for_url(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn decode(part: &str, what: &str) -> Result<String, String> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("malformed PostgreSQL URL: the {what} is not valid UTF-8"))
}

fn parse_postgres(rest: &str) -> Result<PgTarget, String> {
    const SHAPE: &str = "expected postgres://user:password@host:port/database";
    let (location, query) = match rest.split_once('?') {
        Some((l, q)) => (l, Some(q)),
        None => (rest, None),
    };
    // The password may contain '@' when not percent-encoded: the last '@' ends the credentials.
    let (credentials, host_part) = match location.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, location),
    };
    let (host_port, dbname) = host_part
        .split_once('/')
        .ok_or_else(|| format!("malformed PostgreSQL URL: no database name ({SHAPE})"))?;
    let dbname = decode(dbname, "database name")?;
    if dbname.is_empty() || dbname.contains('/') {
        return Err(format!(
            "malformed PostgreSQL URL: bad database name ({SHAPE})"
        ));
    }
    let (host, port) = split_host_port(host_port)?;
    let (user, password) = match credentials {
        None => (String::new(), None),
        Some(c) => match c.split_once(':') {
            Some((u, p)) => (decode(u, "user name")?, Some(decode(p, "password")?)),
            None => (decode(c, "user name")?, None),
        },
    };
    let mut sslmode = SslMode::Prefer;
    let mut sslrootcert = None;
    let mut passfile = None;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => sslmode = SslMode::parse(value)?,
            "sslrootcert" => sslrootcert = Some(PathBuf::from(decode(value, "sslrootcert")?)),
            "passfile" => passfile = Some(PathBuf::from(decode(value, "passfile")?)),
            // Harmless libpq options Django URLs carry; calsync sets its own timeouts.
            "connect_timeout" | "application_name" | "options" | "target_session_attrs" => {}
            other => {
                return Err(format!(
                    "malformed PostgreSQL URL: unknown parameter '{other}' \
                     (known: sslmode, sslrootcert, passfile)"
                ));
            }
        }
    }
    Ok(PgTarget {
        host,
        port,
        user,
        password,
        dbname,
        sslmode,
        sslrootcert,
        passfile,
    })
}

fn split_host_port(host_port: &str) -> Result<(String, u16), String> {
    let bad_port = |p: &str| format!("malformed PostgreSQL URL: bad port '{p}'");
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "malformed PostgreSQL URL: unclosed '[' in host".to_string())?;
        let port = after.strip_prefix(':');
        (host.to_string(), port)
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (host_port.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err("malformed PostgreSQL URL: no host".to_string());
    }
    let port = match port {
        None | Some("") => 5432,
        Some(p) => p.parse::<u16>().map_err(|_| bad_port(p))?,
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_follow_djangos_slash_convention() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///data/lms.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("data/lms.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:////var/lib/lms.db").unwrap(),
            DatabaseUrl::Sqlite(PathBuf::from("/var/lib/lms.db"))
        );
        assert!(DatabaseUrl::parse("sqlite://lms.db").is_err());
    }

    #[test]
    fn postgres_urls_decode_credentials_and_sslmode() {
        let url = DatabaseUrl::parse(
            "postgresql://lms%40x:p%40ss@db.example.org:6543/lms?sslmode=require",
        )
        .unwrap();
        let DatabaseUrl::Postgres(pg) = url.clone() else {
            panic!("not postgres")
        };
        assert_eq!(pg.user, "lms@x");
        assert_eq!(pg.password.as_deref(), Some("p@ss"));
        assert_eq!(pg.host, "db.example.org");
        assert_eq!(pg.port, 6543);
        assert_eq!(pg.dbname, "lms");
        assert_eq!(pg.sslmode, SslMode::Require);
        assert!(!url.redacted().contains("p@ss"));
        assert!(!format!("{url:?}").contains("p@ss"));
    }

    #[test]
    fn postgres_defaults_to_port_5432_and_sslmode_prefer() {
        let DatabaseUrl::Postgres(pg) = DatabaseUrl::parse("postgres://u@h/db").unwrap() else {
            panic!("not postgres")
        };
        assert_eq!((pg.port, pg.sslmode), (5432, SslMode::Prefer));
    }

    #[test]
    fn malformed_urls_are_explained() {
        for (input, expect) in [
            ("postgres://u:p@h:99999/db", "bad port"),
            ("postgres://u:p@h", "no database name"),
            ("mysql://u@h/db", "unsupported database URL scheme"),
            ("postgres://h/db?sslmode=sometimes", "unknown sslmode"),
            ("/no/such/file.db", "no such database file"),
        ] {
            let err = DatabaseUrl::parse(input).unwrap_err();
            assert!(err.contains(expect), "{input}: {err}");
        }
    }
}
