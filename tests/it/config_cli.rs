//! The config file as `calsync config` and every other command read it: `--config` and
//! `CALSYNC_CONFIG` are honoured, the chosen profile and database are shown (password hidden),
//! and a key calsync does not know is refused with its line and table instead of being lost.

use crate::cli::{assert_one_line_error, calsync};
use crate::support::{Backend, TestDb};

const PROFILES: &str = r#"
default_profile = "production"
refresh_secs = 5

[profiles.production]
database_url = "postgres://support:hunter2@lms-db.example.org:5432/postgres?sslmode=require"

[profiles.demo]
database_url = "sqlite:////home/me/.local/share/calsync/demo.db"

[keymap]
retry = "ctrl-r"
"#;

fn write_config(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn config_shows_the_file_the_profile_and_the_database_it_chooses() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, PROFILES);

    for run in [
        calsync(&["--config", &path, "config"], &[]),
        calsync(&["config"], &[("CALSYNC_CONFIG", path.as_str())]),
    ] {
        assert_eq!(run.code, 0, "{}", run.stderr);
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert_eq!(
            lines[0],
            format!("config file  {path} (from --config or CALSYNC_CONFIG)")
        );
        assert_eq!(lines[1], "profile      production (default_profile)");
        assert_eq!(
            lines[2],
            format!(
                "database     postgres://support:***@lms-db.example.org:5432/postgres?sslmode=require \
                 (from profile 'production' in {path})"
            )
        );
        assert_eq!(
            lines[3],
            "console      re-reads every 5 s; 1 key override; colour auto"
        );
        assert!(!run.stdout.contains("hunter2"));
    }

    let demo = calsync(&["--config", &path, "--profile", "demo", "config"], &[]);
    assert!(
        demo.stdout.contains("profile      demo (--profile)"),
        "{}",
        demo.stdout
    );
    assert!(
        demo.stdout
            .contains("database     sqlite:////home/me/.local/share/calsync/demo.db")
    );

    // A database named elsewhere wins; the profile is shown as not used.
    let flag = calsync(
        &[
            "--config",
            &path,
            "--database-url",
            "sqlite:///x.db",
            "config",
        ],
        &[],
    );
    assert!(
        flag.stdout
            .contains("production (default_profile; not used: the database is given elsewhere)")
    );
    assert!(
        flag.stdout
            .contains("database     sqlite:///x.db (from --database-url)"),
        "{}",
        flag.stdout
    );

    let missing_profile = calsync(&["--config", &path, "--profile", "staging", "config"], &[]);
    assert_eq!(missing_profile.code, 0, "{}", missing_profile.stderr);
    assert!(
        missing_profile
            .stdout
            .contains("database     none: no profile 'staging' in")
    );
}

#[test]
fn config_without_a_file_says_so_and_a_named_missing_file_is_an_error() {
    let run = calsync(&["config"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("calsync/config.toml (not there: every setting is at its default)")
    );
    assert!(run.stdout.contains("profile      none"));
    assert!(run.stdout.contains("database     none: no database given"));

    let run = calsync(&["--config", "/nonexistent/calsync.toml", "config"], &[]);
    assert_one_line_error(&run, "cannot read config file /nonexistent/calsync.toml");
}

#[tokio::test]
async fn a_key_after_a_table_header_is_refused_with_its_line_and_table() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    // The mistake README's example once made: refresh_secs written below [profiles.demo]
    // belongs to that profile, where the console never looked for it.
    let path = write_config(
        &dir,
        "[profiles.demo]\ndatabase_url = \"sqlite:///demo.db\"\n\nrefresh_secs = 3\n",
    );
    for command in [&["config"][..], &["status"][..], &["doctor"][..]] {
        let mut args = vec![
            "--config",
            path.as_str(),
            "--database-url",
            "sqlite:///x.db",
        ];
        args.extend_from_slice(command);
        let run = calsync(&args, &[]);
        assert_one_line_error(
            &run,
            &format!(
                "config file {path}, line 4 in [profiles.demo]: unknown field `refresh_secs`, \
                 expected `database_url`"
            ),
        );
        assert!(run.stdout.is_empty(), "{command:?}: {}", run.stdout);
    }

    let typo = write_config(&dir, "[theme]\ncolour = \"never\"\n");
    let run = calsync(
        &[
            "--config",
            &typo,
            "--database-url",
            &db.url_string(),
            "status",
        ],
        &[],
    );
    assert_one_line_error(
        &run,
        "line 2 in [theme]: unknown field `colour`, expected `color`",
    );

    let top = write_config(&dir, "refresh_sec = 3\n");
    let run = calsync(&["--config", &top, "config"], &[]);
    assert_one_line_error(&run, "line 1 at the top level: unknown field `refresh_sec`");

    let action = write_config(&dir, "[keymap]\nretyr = \"ctrl-r\"\n");
    let run = calsync(&["--config", &action, "config"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("retyr"), "{}", run.stderr);
}

#[test]
fn every_config_calsync_documents_is_still_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let default = calsync(&["config", "--print-default"], &[]);
    assert_eq!(default.code, 0);
    let readme = include_str!("../../README.md");
    let example = readme
        .split_once("### Config file")
        .and_then(|(_, rest)| rest.split_once("```toml\n"))
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block)
        .expect("README's config example");
    for text in [default.stdout.as_str(), example, PROFILES] {
        let path = write_config(&dir, text);
        let run = calsync(&["--config", &path, "config"], &[]);
        assert_eq!(run.code, 0, "{text}\n{}", run.stderr);
    }
    // README's example sets the console's refresh at the top level, where it takes effect.
    let path = write_config(&dir, example);
    let run = calsync(&["--config", &path, "config"], &[]);
    assert!(run.stdout.contains("re-reads every 2 s"), "{}", run.stdout);
}
