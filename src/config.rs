//! Where calsync's settings come from: flags, then the environment (including the LMS's own
//! `AWS_DB_*` variables and its `.env` file), then the config file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::store::{DatabaseUrl, PgTarget, SslMode};

/// The config file (TOML). Every key is optional; an unknown key is refused, so a misspelt or
/// misplaced one (a top-level key written after a `[table]` header) is never silently lost.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    /// The profile used when `--profile` is not given.
    pub default_profile: Option<String>,
    pub profiles: HashMap<String, Profile>,
    /// Seconds between the console's re-reads of the visible rows and counts.
    pub refresh_secs: Option<u64>,
    /// The LMS's address (`https://lms.example.org`): `w` opens a selection's admin page there.
    pub lms_url: Option<String>,
    /// Action name → key (`retry = "ctrl-r"`).
    pub keymap: HashMap<String, String>,
    pub theme: ThemeConfig,
    pub console: ConsoleConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// The columns lists of selections show, by name (`["id", "email", "state", "error"]`);
    /// the console's column chooser (`C`) writes it.
    pub columns: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThemeConfig {
    /// `auto` (follow NO_COLOR), `always` or `never`.
    pub color: Option<String>,
    /// The terminal's background: `auto` (read `COLORFGBG`, else dark), `dark` or `light`.
    pub background: Option<String>,
}

/// The commented default config file (`calsync config --print-default`).
pub const DEFAULT_CONFIG: &str = include_str!("../assets/config.default.toml");

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    pub database_url: Option<String>,
}

/// The standard location: `$XDG_CONFIG_HOME/calsync/config.toml` on Linux and its equivalents.
pub fn default_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "calsync").map(|d| d.config_dir().join("config.toml"))
}

/// The directory for calsync's own data (the demo database).
pub fn data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "calsync").map(|d| d.data_dir().to_path_buf())
}

impl ConfigFile {
    /// Reads the file at `path`; a missing file at the default location is an empty config, a
    /// missing file that was asked for by name is an error.
    pub fn load(path: Option<&Path>) -> Result<(ConfigFile, Option<PathBuf>), String> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => match default_config_path() {
                Some(p) => (p, false),
                None => return Ok((ConfigFile::default(), None)),
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok((ConfigFile::default(), None));
            }
            Err(e) => return Err(format!("cannot read config file {}: {e}", path.display())),
        };
        let config: ConfigFile = toml::from_str(&text)
            .map_err(|e| format!("config file {}{}", path.display(), invalid_toml(&text, &e)))?;
        Ok((config, Some(path)))
    }
}

/// Where in the file a parse error is and what it says, on one line: `, line 9 in
/// [profiles.demo]: unknown field `refresh_secs`, expected `database_url``.
fn invalid_toml(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().lines().next().unwrap_or("not valid TOML");
    let Some(span) = error.span() else {
        return format!(" is not valid: {message}");
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    // The table a key belongs to is the last `[header]` above it.
    let table = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|header| {
            let header = header.split('#').next().unwrap_or(header).trim();
            format!(" in {header}")
        })
        .unwrap_or_else(|| " at the top level".to_string());
    format!(", line {line}{table}: {message}")
}

/// Variables from the process environment, overlaid by an LMS `.env` file when one is given
/// (the LMS's own loader lets the file win, and so does calsync).
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: HashMap<String, String>,
}

impl Environment {
    pub fn from_process(env_file: Option<&Path>) -> Result<Environment, String> {
        let mut vars: HashMap<String, String> = std::env::vars().collect();
        if let Some(path) = env_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read env file {}: {e}", path.display()))?;
            vars.extend(parse_env_file(&text));
        }
        Ok(Environment { vars })
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Environment {
        Environment {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }
}

/// `KEY=VALUE` lines as python-dotenv reads them: comments, blank lines, `export ` prefixes and
/// single or double quotes.
pub fn parse_env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line.split_once('=')?;
            let value = value.trim();
            let value = if let Some(inner) = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            {
                inner.to_string()
            } else {
                // An unquoted value ends at an inline comment.
                value
                    .split(" #")
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            };
            Some((key.trim().to_string(), value))
        })
        .collect()
}

/// The database to open and where that choice came from (shown by `doctor`).
#[derive(Debug, Clone)]
pub struct DatabaseChoice {
    pub url: DatabaseUrl,
    pub origin: String,
}

/// Picks the database: `--database-url`, `DATABASE_URL`, the LMS's `AWS_DB_*` variables, then the
/// config file's profile.
pub fn choose_database(
    flag: Option<&str>,
    env: &Environment,
    config: &ConfigFile,
    config_path: Option<&Path>,
    profile: Option<&str>,
) -> Result<DatabaseChoice, String> {
    let parse = |url: &str, origin: &str| {
        DatabaseUrl::parse(url)
            .map(|url| DatabaseChoice {
                url,
                origin: origin.to_string(),
            })
            .map_err(|e| format!("{e} (from {origin})"))
    };
    if let Some(url) = flag {
        return parse(url, "--database-url");
    }
    if profile.is_none() {
        if let Some(url) = env.get("DATABASE_URL") {
            return parse(url, "DATABASE_URL");
        }
        if let Some(target) = aws_db_target(env)? {
            return Ok(DatabaseChoice {
                url: DatabaseUrl::Postgres(target),
                origin: "AWS_DB_* variables".to_string(),
            });
        }
    }
    let shown_path = config_path
        .map(|p| p.display().to_string())
        .or_else(|| default_config_path().map(|p| p.display().to_string()))
        .unwrap_or_else(|| "the config file".to_string());
    match chosen_profile(config, profile).map(|(name, _)| name) {
        Some(name) => {
            let chosen = config
                .profiles
                .get(&name)
                .ok_or_else(|| format!("no profile '{name}' in {shown_path}"))?;
            let url = chosen
                .database_url
                .as_deref()
                .ok_or_else(|| format!("profile '{name}' in {shown_path} has no database_url"))?;
            parse(url, &format!("profile '{name}' in {shown_path}"))
        }
        None => Err(format!(
            "no database given: use --database-url, DATABASE_URL, the LMS's AWS_DB_* variables \
             (or --env-file PATH to the LMS's .env) or a profile in {shown_path}; \
             `calsync demo` runs on a demo database"
        )),
    }
}

/// The profile a database would come from and why: `--profile`, else `default_profile`, else the
/// only profile there is.
pub fn chosen_profile(config: &ConfigFile, flag: Option<&str>) -> Option<(String, &'static str)> {
    if let Some(name) = flag {
        return Some((name.to_string(), "--profile"));
    }
    if let Some(name) = &config.default_profile {
        return Some((name.clone(), "default_profile"));
    }
    match config.profiles.keys().collect::<Vec<_>>().as_slice() {
        [only] => Some(((*only).clone(), "the only profile")),
        _ => None,
    }
}

/// The LMS's production settings: `AWS_DB_HOST`, `AWS_DB_NAME`, `AWS_DB_USER`, the password from
/// `AWS_DB_PASSWORD` (or `DATABASE_PASSWORD`, `DB_PASSWORD`), `AWS_DB_PORT` (default 5432), with
/// `sslmode=prefer` like the LMS unless `PGSSLMODE` (and `PGSSLROOTCERT`) say otherwise.
fn aws_db_target(env: &Environment) -> Result<Option<PgTarget>, String> {
    let host = env.get("AWS_DB_HOST");
    let name = env.get("AWS_DB_NAME");
    let user = env.get("AWS_DB_USER");
    if host.is_none() && name.is_none() && user.is_none() {
        return Ok(None);
    }
    let missing: Vec<&str> = [
        ("AWS_DB_HOST", host),
        ("AWS_DB_NAME", name),
        ("AWS_DB_USER", user),
    ]
    .iter()
    .filter(|(_, v)| v.is_none())
    .map(|(k, _)| *k)
    .collect();
    if !missing.is_empty() {
        return Err(format!(
            "incomplete LMS database settings: {} not set",
            missing.join(", ")
        ));
    }
    let port = match env.get("AWS_DB_PORT") {
        None => 5432,
        Some(p) => p
            .trim()
            .parse::<u16>()
            .map_err(|_| format!("AWS_DB_PORT is not a port number: '{p}'"))?,
    };
    // libpq's own variables choose TLS here (a URL says it in `?sslmode=`), so production can
    // insist on verify-full without changing the LMS's settings.
    let sslmode = match env.get("PGSSLMODE") {
        None => SslMode::Prefer,
        Some(mode) => SslMode::parse(mode.trim()).map_err(|e| format!("PGSSLMODE: {e}"))?,
    };
    let password = env
        .get("AWS_DB_PASSWORD")
        .or_else(|| env.get("DATABASE_PASSWORD"))
        .or_else(|| env.get("DB_PASSWORD"))
        .map(str::to_string);
    Ok(Some(PgTarget {
        host: host.unwrap_or_default().to_string(),
        port,
        user: user.unwrap_or_default().to_string(),
        password,
        dbname: name.unwrap_or_default().to_string(),
        sslmode,
        sslrootcert: env.get("PGSSLROOTCERT").map(std::path::PathBuf::from),
        passfile: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(
        flag: Option<&str>,
        env: &[(&str, &str)],
        toml: &str,
    ) -> Result<DatabaseChoice, String> {
        let config: ConfigFile = toml::from_str(toml).unwrap();
        choose_database(
            flag,
            &Environment::from_pairs(env.iter().copied()),
            &config,
            None,
            None,
        )
    }

    const AWS: [(&str, &str); 4] = [
        ("AWS_DB_HOST", "lms.abc.eu-west-2.rds.amazonaws.com"),
        ("AWS_DB_NAME", "postgres"),
        ("AWS_DB_USER", "lms_admin"),
        ("AWS_DB_PASSWORD", "s3cret"),
    ];

    #[test]
    fn the_flag_wins_over_everything() {
        let mut env = AWS.to_vec();
        env.push(("DATABASE_URL", "postgres://a@b/c"));
        let choice = choose(Some("sqlite:///x.db"), &env, "").unwrap();
        assert_eq!(choice.origin, "--database-url");
    }

    #[test]
    fn database_url_wins_over_the_lms_variables() {
        let mut env = AWS.to_vec();
        env.push(("DATABASE_URL", "postgres://a@b/c"));
        assert_eq!(choose(None, &env, "").unwrap().origin, "DATABASE_URL");
    }

    #[test]
    fn the_lms_variables_make_a_prefer_ssl_target() {
        let choice = choose(None, &AWS, "").unwrap();
        let DatabaseUrl::Postgres(pg) = choice.url else {
            panic!("expected postgres")
        };
        assert_eq!(pg.port, 5432);
        assert_eq!(pg.sslmode, SslMode::Prefer);
        assert_eq!(pg.password.as_deref(), Some("s3cret"));
    }

    #[test]
    fn libpq_variables_choose_tls_for_the_lms_variables() {
        let mut env = AWS.to_vec();
        env.extend([
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", "/etc/ssl/rds/global-bundle.pem"),
        ]);
        let DatabaseUrl::Postgres(pg) = choose(None, &env, "").unwrap().url else {
            panic!("expected postgres")
        };
        assert_eq!(pg.sslmode, SslMode::VerifyFull);
        assert_eq!(
            pg.sslrootcert.as_deref(),
            Some(std::path::Path::new("/etc/ssl/rds/global-bundle.pem"))
        );
        let mut bad = AWS.to_vec();
        bad.push(("PGSSLMODE", "sometimes"));
        let err = choose(None, &bad, "").unwrap_err();
        assert!(
            err.starts_with("PGSSLMODE: unknown sslmode 'sometimes'"),
            "{err}"
        );
    }

    #[test]
    fn incomplete_lms_variables_are_named() {
        let err = choose(None, &AWS[..1], "").unwrap_err();
        assert!(err.contains("AWS_DB_NAME, AWS_DB_USER"), "{err}");
    }

    #[test]
    fn the_config_profile_is_the_last_resort() {
        let toml =
            "default_profile = \"lms\"\n[profiles.lms]\ndatabase_url = \"postgres://u@h/db\"\n";
        assert!(
            choose(None, &[], toml)
                .unwrap()
                .origin
                .starts_with("profile 'lms'")
        );
        assert!(
            choose(None, &[], "")
                .unwrap_err()
                .starts_with("no database given")
        );
    }

    #[test]
    fn env_files_are_read_like_python_dotenv() {
        let pairs = parse_env_file(
            "# LMS\nexport AWS_DB_HOST=db.example.org\nAWS_DB_PASSWORD='p#ss word'\nAWS_DB_PORT=5433 # comment\n\n",
        );
        assert_eq!(
            pairs,
            vec![
                ("AWS_DB_HOST".to_string(), "db.example.org".to_string()),
                ("AWS_DB_PASSWORD".to_string(), "p#ss word".to_string()),
                ("AWS_DB_PORT".to_string(), "5433".to_string()),
            ]
        );
    }
}
