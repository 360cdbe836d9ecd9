//! Database locations as Django projects write them, parsed into a form that can be shown
//! without ever revealing the password.

use std::path::{Path, PathBuf};
use std::str::FromStr;

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
    /// file, `postgres://` / `postgresql://` URLs with an optional `?sslmode=`, and libpq
    /// keyword/value strings (`host=… dbname=… user=…`).
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
        if input.starts_with("postgres://") || input.starts_with("postgresql://") {
            return parse_postgres(input).map(DatabaseUrl::Postgres);
        }
        if input.contains("://") {
            let scheme = input.split("://").next().unwrap_or_default();
            return Err(format!(
                "unsupported database URL scheme '{scheme}' (use sqlite:/// or postgres://)"
            ));
        }
        if is_conninfo(input) {
            return parse_conninfo(input).map(DatabaseUrl::Postgres);
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

const SHAPE: &str = "expected postgres://user:password@host:port/database";

/// What calsync reads itself, because the driver does not know it: libpq's verify modes, the CA
/// file they trust and the password file.
#[derive(Default)]
struct CalsyncParams {
    sslmode: Option<SslMode>,
    sslrootcert: Option<PathBuf>,
    passfile: Option<PathBuf>,
}

impl CalsyncParams {
    /// Takes `key` if it is calsync's (or a libpq option calsync sets itself); false for the
    /// driver's other keys.
    fn take(&mut self, key: &str, value: &str) -> Result<bool, String> {
        match key {
            "sslmode" => self.sslmode = Some(SslMode::parse(value)?),
            "sslrootcert" => self.sslrootcert = Some(PathBuf::from(value)),
            "passfile" => self.passfile = Some(PathBuf::from(value)),
            // Harmless libpq options Django URLs carry; calsync sets its own timeouts and name.
            "connect_timeout" | "application_name" | "options" | "target_session_attrs" => {}
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// A `postgres://` or `postgresql://` URL (the whole input). The driver's
/// [`tokio_postgres::Config`] reads it; calsync first takes out the query parameters it handles
/// and, as Django (Python's `urlsplit`) does, lets a password hold a raw `@`: the last `@` ends
/// the credentials.
fn parse_postgres(input: &str) -> Result<PgTarget, String> {
    let (location, query) = match input.split_once('?') {
        Some((l, q)) => (l, q),
        None => (input, ""),
    };
    let mut ours = CalsyncParams::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !ours.take(key, &decode(value, key)?)? {
            return Err(format!(
                "malformed PostgreSQL URL: unknown parameter '{key}' \
                 (known: sslmode, sslrootcert, passfile)"
            ));
        }
    }
    let (scheme, rest) = location.split_once("://").unwrap_or(("postgres", location));
    let (credentials, host_part) = match rest.rsplit_once('@') {
        Some((c, h)) => (Some(c.replace('@', "%40")), h),
        None => (None, rest),
    };
    let (host_port, dbname) = host_part
        .split_once('/')
        .ok_or_else(|| format!("malformed PostgreSQL URL: no database name ({SHAPE})"))?;
    if dbname.is_empty() || decode(dbname, "database name")?.contains('/') {
        return Err(format!(
            "malformed PostgreSQL URL: bad database name ({SHAPE})"
        ));
    }
    if host_port.is_empty() {
        return Err("malformed PostgreSQL URL: no host".to_string());
    }
    // `host:/db`: an empty port means the default one, as in libpq.
    let host_part = match host_port.strip_suffix(':') {
        Some(host) => format!("{host}/{dbname}"),
        None => host_part.to_string(),
    };
    let url = match credentials {
        Some(credentials) => format!("{scheme}://{credentials}@{host_part}"),
        None => format!("{scheme}://{host_part}"),
    };
    let config =
        tokio_postgres::Config::from_str(&url).map_err(|e| explain_driver_error(&e, host_port))?;
    target_of(&config, ours, "malformed PostgreSQL URL")
}

/// A libpq keyword/value connection string (`host=db.example.org dbname=lms user=lms`), read by
/// the driver once calsync has taken out the keys it handles itself.
fn parse_conninfo(input: &str) -> Result<PgTarget, String> {
    const WHAT: &str = "malformed PostgreSQL connection string";
    let mut ours = CalsyncParams::default();
    let mut rest = Vec::new();
    for (key, value) in conninfo_pairs(input).map_err(|e| format!("{WHAT}: {e}"))? {
        if !ours.take(&key, &value)? {
            rest.push(format!(
                "{key}='{}'",
                value.replace('\\', "\\\\").replace('\'', "\\'")
            ));
        }
    }
    let config = tokio_postgres::Config::from_str(&rest.join(" ")).map_err(|e| {
        // The driver's message names the option, never its value (which may be a password).
        format!("{WHAT}: {}", driver_cause(&e))
    })?;
    target_of(&config, ours, WHAT)
}

/// Splits a keyword/value string into its pairs: `key = value` separated by spaces, a value
/// single-quoted when it holds spaces, with `\'` and `\\` inside quotes (libpq's syntax).
fn conninfo_pairs(input: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = input.trim().chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_string();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("expected key=value, found '{key}'"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("unterminated quoted value of '{key}'")),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                value.push(c);
            }
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// The driver's reason, without its generic "invalid connection string" prefix.
fn driver_cause(e: &tokio_postgres::Error) -> String {
    std::error::Error::source(e).map_or_else(|| e.to_string(), ToString::to_string)
}

/// calsync's wording for what the driver refused in a URL.
fn explain_driver_error(e: &tokio_postgres::Error, host_port: &str) -> String {
    let cause = driver_cause(e);
    if cause.contains("`port`") {
        let port = host_port.rsplit_once(':').map_or("", |(_, p)| p);
        return format!("malformed PostgreSQL URL: bad port '{port}'");
    }
    if cause.contains("`host`") {
        return "malformed PostgreSQL URL: unclosed '[' in host".to_string();
    }
    format!("malformed PostgreSQL URL: {cause}")
}

/// The one server `config` names, with calsync's own parameters.
fn target_of(
    config: &tokio_postgres::Config,
    ours: CalsyncParams,
    what: &str,
) -> Result<PgTarget, String> {
    let host = match config.get_hosts() {
        [] => return Err(format!("{what}: no host")),
        [tokio_postgres::config::Host::Tcp(host)] => host.clone(),
        #[cfg(unix)]
        [tokio_postgres::config::Host::Unix(path)] => path.display().to_string(),
        _ => return Err(format!("{what}: several hosts (calsync connects to one)")),
    };
    if host.is_empty() {
        return Err(format!("{what}: no host"));
    }
    let dbname = config
        .get_dbname()
        .filter(|d| !d.is_empty())
        .ok_or_else(|| format!("{what}: no database name"))?
        .to_string();
    let password = match config.get_password() {
        None => None,
        Some(bytes) => Some(
            String::from_utf8(bytes.to_vec())
                .map_err(|_| format!("{what}: the password is not valid UTF-8"))?,
        ),
    };
    Ok(PgTarget {
        host,
        port: config.get_ports().first().copied().unwrap_or(5432),
        user: config.get_user().unwrap_or_default().to_string(),
        password,
        dbname,
        sslmode: ours.sslmode.unwrap_or(SslMode::Prefer),
        sslrootcert: ours.sslrootcert,
        passfile: ours.passfile,
    })
}

/// Whether `input` is a keyword/value connection string rather than a path.
fn is_conninfo(input: &str) -> bool {
    let keyword =
        |key: &str| !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    let mut words = input.split_whitespace();
    match (words.next(), words.next()) {
        (Some(first), _) if first.split_once('=').is_some_and(|(key, _)| keyword(key)) => true,
        (Some(first), Some(second)) => keyword(first) && second.starts_with('='),
        _ => false,
    }
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

    #[test]
    fn a_django_password_may_hold_a_raw_at_sign() {
        let DatabaseUrl::Postgres(pg) =
            DatabaseUrl::parse("postgres://lms:p@ss:w@rd@db.example.org/lms").unwrap()
        else {
            panic!("not postgres")
        };
        assert_eq!(
            (pg.user.as_str(), pg.password.as_deref()),
            ("lms", Some("p@ss:w@rd"))
        );
        assert_eq!(pg.host, "db.example.org");
    }

    #[test]
    fn ipv6_hosts_and_socket_directories_are_read_by_the_driver() {
        let url = DatabaseUrl::parse("postgres://u@[::1]:5433/db").unwrap();
        let DatabaseUrl::Postgres(pg) = &url else {
            panic!("not postgres")
        };
        assert_eq!((pg.host.as_str(), pg.port), ("::1", 5433));
        assert!(
            url.redacted().starts_with("postgres://u@[::1]:5433/db"),
            "{}",
            url.redacted()
        );
        let DatabaseUrl::Postgres(pg) =
            DatabaseUrl::parse("postgres://u@%2Fvar%2Frun%2Fpostgresql/db").unwrap()
        else {
            panic!("not postgres")
        };
        assert_eq!(pg.host, "/var/run/postgresql");
    }

    #[test]
    fn calsyncs_own_url_parameters_are_read_and_libpqs_harmless_ones_ignored() {
        let DatabaseUrl::Postgres(pg) = DatabaseUrl::parse(
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&passfile=/home/u/.pgpass&connect_timeout=5&application_name=lms",
        )
        .unwrap() else {
            panic!("not postgres")
        };
        assert_eq!(pg.sslmode, SslMode::VerifyFull);
        assert_eq!(pg.sslrootcert, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(pg.passfile, Some(PathBuf::from("/home/u/.pgpass")));
        let err = DatabaseUrl::parse("postgres://u@h/db?sslcompression=1").unwrap_err();
        assert!(err.contains("unknown parameter 'sslcompression'"), "{err}");
    }

    #[test]
    fn keyword_value_strings_are_read_with_libpq_quoting() {
        let url = DatabaseUrl::parse(
            "host=db.example.org port = 6543 dbname=lms user=lms password='s3cret w\\'x' sslmode=verify-ca sslrootcert='/etc/my ca.pem'",
        );
        // libpq quoting: `\'` is a quote inside a quoted value.
        let DatabaseUrl::Postgres(pg) = url.unwrap() else {
            panic!("not postgres")
        };
        assert_eq!(
            (pg.host.as_str(), pg.port, pg.dbname.as_str()),
            ("db.example.org", 6543, "lms")
        );
        assert_eq!(pg.user, "lms");
        assert_eq!(pg.password.as_deref(), Some("s3cret w'x"));
        assert_eq!(pg.sslmode, SslMode::VerifyCa);
        assert_eq!(pg.sslrootcert, Some(PathBuf::from("/etc/my ca.pem")));
        let shown = DatabaseUrl::Postgres(pg.clone()).redacted();
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn keyword_value_mistakes_are_explained_without_values() {
        for (input, expect) in [
            ("host=h dbname=d bogus=1", "unknown option `bogus`"),
            (
                "host=h dbname=d port=notaport",
                "invalid value for option `port`",
            ),
            (
                "host=h password='unterminated",
                "unterminated quoted value of 'password'",
            ),
            ("host=h user=u", "no database name"),
            ("dbname=d", "no host"),
        ] {
            let err = DatabaseUrl::parse(input).unwrap_err();
            assert!(
                err.starts_with("malformed PostgreSQL connection string: "),
                "{input}: {err}"
            );
            assert!(err.contains(expect), "{input}: {err}");
        }
    }

    #[test]
    fn a_bare_path_with_an_equals_sign_is_still_a_path() {
        let err = DatabaseUrl::parse("/tmp/a=b.db").unwrap_err();
        assert!(err.contains("no such database file"), "{err}");
    }
}
