//! The real binary in a real terminal (tmux): open the demo, find a failed selection, read its
//! error, retry it, watch the badge change, filter, mark all matching, run a bulk retry, cancel
//! it, quit, and check the terminal was restored; a run that skips rows lists them with their
//! reasons.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
    dir: tempfile::TempDir,
}

impl Tmux {
    fn start(command: &str, width: u16, height: u16) -> Tmux {
        let dir = tempfile::tempdir().unwrap();
        let socket = format!("calsync-e2e-{}", std::process::id());
        let tmux = Tmux { socket, dir };
        let status = tmux
            .command()
            .args([
                "new-session",
                "-d",
                "-s",
                "e2e",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                command,
            ])
            .status()
            .expect("tmux is installed (.ci/run installs it)");
        assert!(status.success());
        tmux
    }

    /// A private server (-L) under a private TMUX_TMPDIR: never touches anyone's tmux.
    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command
            .env("TMUX_TMPDIR", self.dir.path())
            .env_remove("TMUX")
            .args(["-L", &self.socket]);
        command
    }

    fn screen(&self) -> String {
        let output = self
            .command()
            .args(["capture-pane", "-p", "-t", "e2e"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let status = self
            .command()
            .args(["send-keys", "-t", "e2e"])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn text(&self, text: &str) {
        let status = self
            .command()
            .args(["send-keys", "-t", "e2e", "-l", text])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Marks every row of the list, opens the bulk sheet with `R` and types the count it asks
    /// for (large runs are confirmed by their size); returns that count.
    fn sheet_for_all_marked(&self) -> String {
        self.keys(&["A"]);
        self.wait_for("matching marked");
        self.keys(&["R"]);
        let screen = self.wait_for("selections will be synced");
        // The popup's own segment of the line (the table shows through on either side).
        let count: String = screen
            .lines()
            .flat_map(|l| l.split('│'))
            .find_map(|segment| {
                segment
                    .split(" selections will be synced")
                    .next()
                    .filter(|_| segment.contains("will be synced"))
            })
            .map(|s| s.chars().filter(char::is_ascii_digit).collect())
            .unwrap();
        if screen.contains("Type ") {
            self.text(&count);
        }
        count
    }

    /// Waits until `done` holds for the screen, or fails naming `what` and showing the screen.
    /// Generous because it bounds a wait, not a speed: on a loaded 2-core machine the demo's
    /// verify alone took 25 s.
    fn wait_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {what}; the screen was:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the screen shows `wanted`, or fails showing the screen.
    fn wait_for(&self, wanted: &str) -> String {
        self.wait_until(&format!("{wanted:?}"), |screen| screen.contains(wanted))
    }

    fn display(&self, format: &str) -> String {
        let output = self
            .command()
            .args(["display-message", "-p", "-t", "e2e", format])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}

/// A demo database of `selections` rows in `dir`.
fn demo_db_of(dir: &Path, selections: u32) -> String {
    let path = dir.join("demo.db");
    let output = Command::new(env!("CARGO_BIN_EXE_calsync"))
        .args([
            "demo",
            "--db",
            path.to_str().unwrap(),
            "--selections",
            &selections.to_string(),
            "--summary",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    path.to_str().unwrap().to_string()
}

/// The demo console in a 160×45 tmux window; the directory holds its database.
fn demo_console() -> (tempfile::TempDir, Tmux) {
    demo_console_of(3000)
}

/// The demo console on a database of `selections` rows.
fn demo_console_of(selections: u32) -> (tempfile::TempDir, Tmux) {
    let data = tempfile::tempdir().unwrap();
    let db = demo_db_of(data.path(), selections);
    let command = format!(
        "cd {} && {} demo --db {db}; echo CALSYNC-EXIT=$?; sleep 30",
        data.path().display(),
        env!("CARGO_BIN_EXE_calsync")
    );
    (data, Tmux::start(&command, 160, 45))
}

#[test]
fn an_operator_session_from_open_to_quit() {
    let (_data, tmux) = demo_console();
    let screen = tmux.wait_for("Failures per day");
    assert!(
        screen.contains("SIMULATED GRAPH"),
        "the demo says its Graph is simulated:\n{screen}"
    );
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "1",
        "the console uses the alternate screen"
    );

    // A failed selection that a retry can fix: Graph throttled it last time.
    tmux.keys(&["/"]);
    tmux.text("state:failed error:429");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("row 1 of");
    assert!(screen.contains("✗ failed"), "{screen}");

    // Its full error and what to do about it.
    tmux.keys(&["e"]);
    let screen = tmux.wait_for("calendar_error:");
    assert!(
        screen.contains("429 Client Error: Too Many Requests"),
        "{screen}"
    );
    assert!(screen.contains("Worth retrying: yes"), "{screen}");

    // Retry it from the detail; the list then shows its new badge.
    tmux.keys(&["r"]);
    tmux.wait_for("added to Outlook");
    tmux.keys(&["Escape"]);
    tmux.wait_for("✓ added ");

    // Filter all failures, mark everything matching, and start a bulk retry.
    tmux.keys(&["/", "C-u"]);
    tmux.text("state:failed");
    tmux.keys(&["Enter"]);
    tmux.wait_for("filter: state:failed ");
    let count = tmux.sheet_for_all_marked();
    // Start and cancel at once: in-flight selections finish, the rest are not started.
    tmux.keys(&["Enter", "x"]);
    let screen = tmux.wait_for("not started (cancelled)");
    // How it ended comes first in the panel's title, so "(cancelled)" is never cut off.
    assert!(
        screen.contains(" done: ")
            && screen.contains(&format!("— Sync of {count} selections (failed)")),
        "count {count}: {screen}"
    );

    tmux.keys(&["q"]);
    tmux.wait_for("CALSYNC-EXIT=0");
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "0",
        "the terminal is back on its normal screen"
    );
    assert_eq!(
        tmux.display("#{cursor_flag}"),
        "1",
        "the cursor is visible again"
    );
}

/// The emails of the list's rows on `screen`, top to bottom: each row's first word with an `@`
/// (PERSON comes before EMAIL and holds none).
fn listed_emails(screen: &str, header: &str) -> Vec<String> {
    screen
        .lines()
        .skip_while(|l| !l.contains(header))
        .skip(1)
        .filter_map(|l| l.split_whitespace().find(|w| w.contains('@')))
        .map(str::to_string)
        .collect()
}

/// Sort by a column in the real terminal: `o` walks the columns (ID, PERSON, EMAIL), the header
/// carries the arrow, the rows come back from the database in that order, `O` reverses them.
#[test]
fn a_sort_by_email_shows_its_arrow_and_orders_the_rows() {
    let (_data, tmux) = demo_console();
    tmux.wait_for("Failures per day");
    tmux.keys(&["/"]);
    tmux.text("state:failed");
    tmux.keys(&["Enter"]);
    tmux.wait_for("row 1 of");
    tmux.keys(&["o", "o", "o"]);
    // The sorted page drawn whole: a capture can land mid-frame on a loaded machine.
    let screen = tmux.wait_until("the page sorted by email", |screen| {
        screen.contains("sort: email ▲")
            && screen.contains("row 1 of")
            && listed_emails(screen, "EMAIL ▲").len() >= 20
    });
    assert!(screen.contains("EMAIL ▲"), "{screen}");
    let emails = listed_emails(&screen, "EMAIL ▲");
    assert!(emails.len() >= 20, "{screen}");
    let mut sorted = emails.clone();
    sorted.sort();
    assert_eq!(emails, sorted, "{screen}");

    tmux.keys(&["O"]);
    let screen = tmux.wait_until("the page sorted the other way", |screen| {
        screen.contains("row 1 of") && listed_emails(screen, "EMAIL ▼").len() >= 20
    });
    let reversed = listed_emails(&screen, "EMAIL ▼");
    let mut descending = reversed.clone();
    descending.sort_by(|a, b| b.cmp(a));
    assert_eq!(reversed, descending, "{screen}");
    assert!(
        reversed[0] > emails[0],
        "the other end of the list first: {screen}"
    );
    tmux.keys(&["q"]);
    tmux.wait_for("CALSYNC-EXIT=0");
}

/// The column chooser in the real terminal: `C`, space on PERSON, Enter; the column is gone and
/// the choice is in the config file, the operator's other lines and comments kept.
#[test]
fn the_column_chooser_saves_its_choice_in_the_config_file() {
    let data = tempfile::tempdir().unwrap();
    let db = demo_db_of(data.path(), 500);
    let config = data.path().join("config.toml");
    std::fs::write(&config, "# my settings\nrefresh_secs = 5\n").unwrap();
    let command = format!(
        "cd {} && CALSYNC_CONFIG={} {} demo --db {db}; echo CALSYNC-EXIT=$?; sleep 30",
        data.path().display(),
        config.display(),
        env!("CARGO_BIN_EXE_calsync")
    );
    let tmux = Tmux::start(&command, 160, 45);
    tmux.wait_for("Failures per day");
    tmux.keys(&["/"]);
    tmux.text("state:failed");
    tmux.keys(&["Enter"]);
    tmux.wait_for("row 1 of");
    tmux.keys(&["C"]);
    tmux.wait_for("[x] PERSON");
    tmux.keys(&["j", "Space", "Enter"]);
    let screen = tmux.wait_for("saved in the config file");
    assert!(!screen.contains("PERSON"), "{screen}");
    tmux.keys(&["q"]);
    tmux.wait_for("CALSYNC-EXIT=0");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.starts_with("# my settings\nrefresh_secs = 5\n"),
        "{text}"
    );
    assert!(
        text.contains("[console]\ncolumns = [\"id\", \"email\", \"conference\", \"slot\", \"state\", \"attempted\", \"cause\", \"error\"]"),
        "{text}"
    );
}

/// The event lifecycle in the real terminal: the demo's mailboxes hold what the LMS left, so a
/// reconcile scan finds its duplicates, and a verify of a conference's added rows finds the
/// events their owners deleted and marks them for `r`.
#[test]
fn reconcile_and_verify_in_the_demo() {
    let (_data, tmux) = demo_console();
    tmux.wait_for("Failures per day");

    tmux.keys(&[":"]);
    tmux.text("reconcile conf 1");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("findings in");
    assert!(screen.contains("Reconcile (--conference-id 1)"), "{screen}");
    assert!(screen.contains("probable duplicate"), "{screen}");
    assert!(screen.contains("Evidence:"), "{screen}");
    // Esc on its own: an Esc followed at once by a key reads as Alt+key.
    tmux.keys(&["Escape"]);
    tmux.wait_for("┌ Overview ─");

    // Every added row the demo holds: the ones deleted in Outlook come back missing and marked.
    tmux.keys(&["/", "C-u"]);
    tmux.text("state:added");
    tmux.keys(&["Enter"]);
    tmux.wait_for("filter: state:added ");
    tmux.keys(&["V"]);
    let screen = tmux.wait_for("events missing from Outlook, now marked");
    assert!(screen.contains("present,"), "{screen}");
    tmux.keys(&["r"]);
    tmux.wait_for("selections will be synced");
    // Esc on its own: an Esc followed at once by a key reads as Alt+key.
    tmux.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(300));
    tmux.keys(&[":"]);
    tmux.text("audit");
    tmux.keys(&["Enter"]);
    tmux.wait_for("console verify");

    tmux.keys(&["q"]);
    tmux.wait_for("CALSYNC-EXIT=0");
}

/// A run over a conference that no longer uses time slots (the demo's conference 13): the sheet
/// counts its rows apart as skipped, the run skips them, and `L` lists each with its reason.
#[test]
fn a_run_that_skips_rows_lists_them_with_their_reasons() {
    let (_data, tmux) = demo_console();
    tmux.wait_for("Failures per day");
    tmux.keys(&["/"]);
    tmux.text("conf:13 state:failed");
    tmux.keys(&["Enter"]);
    tmux.wait_for("filter: conf:13 state:failed ");
    tmux.sheet_for_all_marked();
    let sheet = tmux.wait_for("more will be skipped");
    assert!(
        sheet.contains(" 0 selections will be synced"),
        "every row of the conference is skipped:\n{sheet}"
    );
    tmux.keys(&["Enter"]);
    let ended = tmux.wait_for("L lists the rows that did not sync");
    assert!(
        ended.contains("to skip"),
        "the panel counts them apart:\n{ended}"
    );

    tmux.keys(&["L"]);
    // A capture can land while a frame is half written: wait for every row the title counts.
    let listed = tmux.wait_until("every row the popup's title counts", |screen| {
        run_rows_counted(screen).is_some_and(|count| count > 0 && run_rows(screen).len() == count)
    });
    let skipped: Vec<&str> = run_rows(&listed)
        .into_iter()
        .filter(|l| l.contains(" skipped "))
        .collect();
    assert!(!skipped.is_empty(), "{listed}");
    assert!(
        skipped
            .iter()
            .all(|l| l.contains("the conference does not use time slots")),
        "each skipped row says why:\n{listed}"
    );
    tmux.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(300));
    tmux.keys(&["q"]);
    tmux.wait_for("CALSYNC-EXIT=0");
}

/// SIGTERM (systemd, Kubernetes) to the console during a bulk sync drains it like `x`: the
/// selections in flight finish, the audit row is closed, and the terminal is restored.
#[test]
fn sigterm_drains_the_consoles_job_and_closes_its_audit_row() {
    let (data, tmux) = demo_console();
    tmux.wait_for("Failures per day");
    tmux.keys(&["/"]);
    tmux.text("state:failed");
    tmux.keys(&["Enter"]);
    tmux.wait_for("filter: state:failed ");
    tmux.sheet_for_all_marked();
    tmux.keys(&["Enter"]);
    tmux.wait_for("Sync of");
    let shell = tmux.display("#{pane_pid}");
    let children = Command::new("ps")
        .args(["-o", "pid=", "--ppid", &shell])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&children.stdout).trim().to_string();
    assert!(!pid.is_empty(), "calsync runs under the pane's shell");
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );

    tmux.wait_for("CALSYNC-EXIT=0");
    assert_eq!(
        tmux.display("#{alternate_on}"),
        "0",
        "the terminal is restored"
    );
    let conn = rusqlite::Connection::open(data.path().join("demo.db")).unwrap();
    let (outcome, finished): (String, Option<String>) = conn
        .query_row(
            "SELECT outcome, finished_at FROM calsync_audit_log \
             WHERE action = 'console sync' ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(finished.is_some(), "the audit row is closed");
    assert_ne!(outcome, "running");
}

impl Tmux {
    /// Sends raw bytes to the console, as a terminal would (mouse reports).
    fn bytes(&self, bytes: &[u8]) {
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let status = self
            .command()
            .args(["send-keys", "-t", "e2e", "-H"])
            .args(&hex)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// A left click at a 0-based cell, as an SGR mouse report (press, then release).
    fn click(&self, column: u16, row: u16) {
        let (x, y) = (column + 1, row + 1);
        self.bytes(format!("\u{1b}[<0;{x};{y}M\u{1b}[<0;{x};{y}m").as_bytes());
    }
}

#[test]
fn a_click_a_copy_and_a_quit_during_a_run_leave_the_audit_row_interrupted() {
    // Large enough that its retry of every failure runs for seconds (about 12 s here), so the
    // quit lands while it runs; on 3,000 rows it could end between the question and the answer.
    let (data, tmux) = demo_console_of(30_000);
    // tmux keeps what an application copies with OSC 52 as a paste buffer.
    assert!(
        tmux.command()
            .args(["set", "-g", "set-clipboard", "on"])
            .status()
            .unwrap()
            .success()
    );
    tmux.wait_for("Failures per day");
    tmux.keys(&["/"]);
    tmux.text("state:failed");
    tmux.keys(&["Enter"]);
    // The rows are drawn (a click before they are lands on nothing).
    tmux.wait_for("row 1 of");

    // Header (row 0), border, status line, table header: the third row is on row 6.
    tmux.click(30, 6);
    tmux.wait_for("row 3 of");

    tmux.keys(&["y"]);
    let screen = tmux.wait_for("copied: ");
    let copied = screen
        .lines()
        .find_map(|l| l.trim().strip_prefix("copied: "))
        .unwrap()
        .trim()
        .to_string();
    assert!(copied.contains('@'), "an email: {copied}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let buffer = tmux.command().args(["show-buffer"]).output().unwrap();
        if String::from_utf8_lossy(&buffer.stdout) == copied {
            break;
        }
        assert!(Instant::now() < deadline, "tmux never received the copy");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A bulk run, then q while it runs: asked first, then the audit row says interrupted.
    tmux.sheet_for_all_marked();
    tmux.keys(&["Enter"]);
    tmux.wait_for("Sync of");
    tmux.keys(&["q"]);
    tmux.wait_for("Quit while a job runs?");
    tmux.keys(&["y"]);
    tmux.wait_for("CALSYNC-EXIT=0");
    let conn = rusqlite::Connection::open(data.path().join("demo.db")).unwrap();
    let outcome: String = conn
        .query_row(
            "SELECT outcome FROM calsync_audit_log WHERE action = 'console sync' \
             ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(outcome, "interrupted");
}

/// The rows the run-rows popup draws: `id  kind  who — reason`.
fn run_rows(screen: &str) -> Vec<&str> {
    screen.lines().filter(|l| l.contains(" — ")).collect()
}

/// How many rows the run-rows popup's title says the run left unsynced.
fn run_rows_counted(screen: &str) -> Option<usize> {
    let before = screen.split(" rows of the run did not sync").next()?;
    if before.len() == screen.len() {
        return None;
    }
    let digits: String = before
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.chars().rev().collect::<String>().parse().ok()
}
