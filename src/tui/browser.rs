//! Opening a page (a selection's page in the LMS admin, a meeting link) in the operator's browser
//! (issue 13, item 11). No shell is involved: the opener (`xdg-open`, `open` on macOS) gets the
//! URL as its only argument, with no terminal attached, and only `https://` and `http://` URLs
//! without spaces or control characters are passed. Where no browser can be shown (CI, or no
//! `DISPLAY`/`WAYLAND_DISPLAY` on Linux, which an SSH session usually lacks) it refuses with a
//! message, and the operator can copy the URL instead.

use std::process::{Command, Stdio};

/// Where the browser would be asked to open `url`, as the environment reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opener {
    Program(String),
    Refused(String),
}

/// The opener for this environment (`get` reads a variable).
pub fn opener(get: impl Fn(&str) -> Option<String>) -> Opener {
    let set = |name: &str| get(name).is_some_and(|v| !v.is_empty());
    if set("CI") {
        return Opener::Refused("no browser is opened in CI (CI is set)".to_string());
    }
    if cfg!(target_os = "macos") {
        return Opener::Program("open".to_string());
    }
    if !set("DISPLAY") && !set("WAYLAND_DISPLAY") {
        return Opener::Refused(
            "no graphical display here (no DISPLAY or WAYLAND_DISPLAY): copy the link with y"
                .to_string(),
        );
    }
    Opener::Program("xdg-open".to_string())
}

/// Accepts only a web address that a browser opens as one: http(s), no spaces, no controls.
pub fn checked_url(url: &str) -> Result<&str, String> {
    let web = url.starts_with("https://") || url.starts_with("http://");
    if !web {
        return Err("only http:// and https:// links are opened".to_string());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the link has spaces or control characters; not opened".to_string());
    }
    Ok(url)
}

/// Starts the opener on `url` without waiting for it; the message says what happened.
pub fn open(url: &str, opener: &Opener) -> Result<String, String> {
    let url = checked_url(url)?;
    let program = match opener {
        Opener::Program(program) => program,
        Opener::Refused(why) => return Err(why.clone()),
    };
    let mut child = Command::new(program)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    // Reaped off the UI: the opener returns at once, or lingers while the browser starts.
    std::thread::spawn(move || child.wait());
    Ok(format!("opened in the browser: {url}"))
}

/// The LMS admin page of one selection (Django's admin URL scheme), under the LMS's address.
pub fn admin_page(lms_url: &str, selection_id: i64) -> String {
    format!(
        "{}/admin/conferences/conferencetimeslotselection/{selection_id}/change/",
        lms_url.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn ci_and_a_missing_display_refuse_with_the_reason() {
        let Opener::Refused(why) = opener(env(&[("CI", "true"), ("DISPLAY", ":0")])) else {
            panic!("CI must refuse");
        };
        assert!(why.contains("CI"), "{why}");
        if !cfg!(target_os = "macos") {
            let Opener::Refused(why) = opener(env(&[])) else {
                panic!("no display must refuse");
            };
            assert!(why.contains("DISPLAY"), "{why}");
            assert_eq!(
                opener(env(&[("WAYLAND_DISPLAY", "wayland-0")])),
                Opener::Program("xdg-open".to_string())
            );
        }
    }

    #[test]
    fn only_plain_web_links_are_passed_on() {
        assert!(checked_url("https://lms.example.org/admin/").is_ok());
        assert!(checked_url("javascript:alert(1)").is_err());
        assert!(checked_url("file:///etc/passwd").is_err());
        assert!(checked_url("https://x.org/a b").is_err());
        assert!(checked_url("https://x.org/\u{1b}]52").is_err());
        let refused = open(
            "--help",
            &Opener::Program("definitely-not-a-program-calsync".to_string()),
        );
        assert!(refused.unwrap_err().contains("http"));
    }

    #[test]
    fn the_opener_gets_the_url_as_its_only_argument_without_a_shell() {
        let dir = tempfile::tempdir().unwrap();
        let seen = dir.path().join("argv");
        let script = dir.path().join("opener.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$#\" \"$1\" > {}\n",
                seen.display()
            ),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let url = "https://lms.example.org/x?a=1&b=$(touch%20pwned);";
        let message = open(url, &Opener::Program(script.display().to_string())).unwrap();
        assert!(message.contains(url));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !seen.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(
            std::fs::read_to_string(&seen).unwrap(),
            format!("1\n{url}\n")
        );
        assert!(!dir.path().join("pwned").exists());
    }

    #[test]
    fn the_admin_page_follows_djangos_admin_urls() {
        assert_eq!(
            admin_page("https://lms.example.org/", 42),
            "https://lms.example.org/admin/conferences/conferencetimeslotselection/42/change/"
        );
    }
}
