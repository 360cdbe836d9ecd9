//! Where a PostgreSQL password comes from when the URL has none, by libpq's rules, so that it
//! need not sit in argv: `PGPASSWORD`, else the password file (`passfile=` in the URL, else
//! `PGPASSFILE`, else `~/.pgpass`). The file's lines are
//! `hostname:port:database:username:password`; each of the first four may be `*`; `\` escapes
//! `:` and `\`; `#` starts a comment; the first matching line wins. A file that group or others
//! can read is refused (libpq ignores it with a warning; calsync says so and stops).

use std::path::{Path, PathBuf};

/// What identifies the connection in a password file line.
pub struct PassKey<'a> {
    pub host: &'a str,
    pub port: u16,
    pub dbname: &'a str,
    pub user: &'a str,
}

/// The password for `key`, if any source has one. `env` reads the environment (a parameter so
/// tests need not change the process's own).
pub fn password(
    key: &PassKey<'_>,
    passfile: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    if let Some(password) = env("PGPASSWORD").filter(|p| !p.is_empty()) {
        return Ok(Some(password));
    }
    let named = passfile.map(Path::to_path_buf).or_else(|| {
        env("PGPASSFILE")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    });
    let path = match named {
        Some(path) => path,
        None => match env("HOME") {
            Some(home) => {
                let default = PathBuf::from(home).join(".pgpass");
                // Only the default file may be absent without a word.
                if !default.exists() {
                    return Ok(None);
                }
                default
            }
            None => return Ok(None),
        },
    };
    read_password_file(&path, key)
}

fn read_password_file(path: &Path, key: &PassKey<'_>) -> Result<Option<String>, String> {
    let shown = path.display();
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read password file {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("password file {shown} is not a plain file"));
    }
    check_private(&meta, &shown.to_string())?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read password file {shown}: {e}"))?;
    Ok(find_password(&text, key))
}

#[cfg(unix)]
fn check_private(meta: &std::fs::Metadata, shown: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "password file {shown} can be read by group or others (mode {mode:04o}); \
             make it private: chmod 600 {shown}"
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_meta: &std::fs::Metadata, _shown: &str) -> Result<(), String> {
    Ok(())
}

/// The password of the first line matching `key`.
pub fn find_password(text: &str, key: &PassKey<'_>) -> Option<String> {
    let port = key.port.to_string();
    // libpq: a connection without a host name (a local socket) matches `localhost`.
    let host = if key.host.is_empty() || key.host.starts_with('/') {
        "localhost"
    } else {
        key.host
    };
    text.lines()
        .map(|line| line.trim_end_matches('\r'))
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .find_map(|line| {
            let fields = split_fields(line);
            let [h, p, d, u, password] = fields.as_slice() else {
                return None;
            };
            let matches = |field: &str, value: &str| field == "*" || field == value;
            (matches(h, host)
                && matches(p, &port)
                && matches(d, key.dbname)
                && matches(u, key.user))
            .then(|| password.clone())
        })
}

/// Splits on unescaped `:` into five fields, undoing `\` escapes; like libpq, an unescaped `:`
/// after the password ends it.
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(ch) = chars.next() {
        let ch = match ch {
            '\\' => match chars.next() {
                Some(next) => next,
                None => break,
            },
            ':' if fields.len() < 5 => {
                fields.push(String::new());
                continue;
            }
            ':' => break,
            other => other,
        };
        if let Some(field) = fields.last_mut() {
            field.push(ch);
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: PassKey<'static> = PassKey {
        host: "db.example.org",
        port: 5432,
        dbname: "lms",
        user: "support",
    };

    #[test]
    fn the_first_matching_line_wins_and_stars_match_anything() {
        let text = "# comment\n\
                    other.host:5432:lms:support:not-this\n\
                    db.example.org:5432:lms:support:first\n\
                    *:*:*:*:second\n";
        assert_eq!(find_password(text, &KEY).as_deref(), Some("first"));
        assert_eq!(
            find_password("*:5432:*:support:any-db\n", &KEY).as_deref(),
            Some("any-db")
        );
        assert_eq!(
            find_password("db.example.org:6543:lms:support:x\n", &KEY),
            None
        );
    }

    #[test]
    fn backslashes_escape_colons_and_themselves() {
        let text = r"db.example.org:5432:lms:support:pa\:ss\\word";
        assert_eq!(find_password(text, &KEY).as_deref(), Some(r"pa:ss\word"));
        let user = PassKey {
            user: "odd:user",
            ..KEY
        };
        assert_eq!(
            find_password(r"*:*:*:odd\:user:secret", &user).as_deref(),
            Some("secret")
        );
    }

    #[test]
    fn pgpassword_comes_before_any_file() {
        let env = |name: &str| (name == "PGPASSWORD").then(|| "from-env".to_string());
        assert_eq!(
            password(&KEY, Some(Path::new("/no/such/file")), env)
                .unwrap()
                .as_deref(),
            Some("from-env")
        );
    }
}
