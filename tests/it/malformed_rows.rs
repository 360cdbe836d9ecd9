//! One malformed row in a SQLite LMS is an error of that row only: `status` lists every row (the
//! malformed ones with their columns as stored and a `malformed` key saying why), and `sync` fails
//! just those selections, before any Graph call, while the rest go on.
//!
//! SQLite only: PostgreSQL's `date`, `time` and `timestamptz` columns (all NOT NULL in the LMS
//! schema) cannot hold a date `2026-13-45`, a NULL start time or an unparsable `selected_at`.

use std::collections::BTreeSet;

use calsync::domain::{PageRequest, Sort, SortKey};
use calsync::sim::SimServer;

use crate::cli::calsync;
use crate::support::{Backend, TestDb};
use crate::sync::sim_config;

/// The fixture with four malformed selections and one whose sync columns cannot be read:
///
/// | selection | what is wrong                                                  |
/// |-----------|----------------------------------------------------------------|
/// | 4, 9      | slot 3's date is `2026-13-45`                                  |
/// | 5         | the same slot date, and its `selected_at` is `last Tuesday`    |
/// | 10        | moved to slot 6, whose start time is NULL                      |
/// | 7         | its `calendar_add_attempted_at` is `soon` (its slot's zone is also unknown) |
///
/// A NULL start time needs a slot table without Django's NOT NULL (a hand-restored copy), so
/// the table is rebuilt without constraints first.
async fn malformed_fixture() -> TestDb {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    db.exec(
        "PRAGMA foreign_keys = OFF;
         CREATE TABLE slot_copy AS SELECT * FROM conferences_conferencetimeslot;
         DROP TABLE conferences_conferencetimeslot;
         ALTER TABLE slot_copy RENAME TO conferences_conferencetimeslot;
         INSERT INTO conferences_conferencetimeslot (id, date, start_time, end_time, timezone,
           max_participants, current_participants, meeting_link, meeting_id, meeting_password,
           is_available, created_at, updated_at, conference_id, online_meeting_id)
         VALUES (6, '2025-12-20', NULL, '11:00:00', 'Europe/London', 0, 1, '', '', '', 1,
           '2025-11-20 14:35:00', '2025-11-20 14:35:00', 1, NULL);
         UPDATE conferences_conferencetimeslot SET date = '2026-13-45' WHERE id = 3;
         UPDATE conferences_conferencetimeslotselection SET time_slot_id = 6 WHERE id = 10;
         UPDATE conferences_conferencetimeslotselection SET selected_at = 'last Tuesday' WHERE id = 5;
         UPDATE conferences_conferencetimeslotselection SET calendar_add_attempted_at = 'soon' WHERE id = 7;",
    )
    .await;
    db
}

fn status_lines(db: &TestDb, extra: &[&str]) -> Vec<serde_json::Value> {
    let url = db.url_string();
    let mut args = vec!["--database-url", url.as_str(), "status", "--json"];
    args.extend_from_slice(extra);
    let run = calsync(&args, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

fn by_id(lines: &[serde_json::Value], id: i64) -> &serde_json::Value {
    lines
        .iter()
        .find(|line| line["id"] == id)
        .unwrap_or_else(|| panic!("selection {id} is listed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_json_lists_every_row_and_flags_the_malformed_ones() {
    let db = malformed_fixture().await;
    for sort in ["selected", "id", "attempted"] {
        let lines = status_lines(&db, &["--sort", sort]);
        let ids: Vec<i64> = lines.iter().map(|l| l["id"].as_i64().unwrap()).collect();
        let unique: BTreeSet<i64> = ids.iter().copied().collect();
        assert_eq!(unique, (1..=10).collect(), "sorted by {sort}: {ids:?}");
        assert_eq!(ids.len(), 10, "each row once, sorted by {sort}");
    }
    let lines = status_lines(&db, &[]);
    for id in [1, 2, 3, 6, 8] {
        assert!(
            by_id(&lines, id).get("malformed").is_none(),
            "{id} is readable"
        );
    }
    // The same keys as every other row, and one more.
    let keys = |line: &serde_json::Value| -> BTreeSet<String> {
        line.as_object().unwrap().keys().cloned().collect()
    };
    let mut expected = keys(by_id(&lines, 1));
    expected.insert("malformed".to_string());
    for id in [4, 5, 7, 9, 10] {
        assert_eq!(keys(by_id(&lines, id)), expected, "selection {id}");
    }
    let four = by_id(&lines, 4);
    assert_eq!(four["slot_date"], "2026-13-45", "shown as stored");
    assert_eq!(four["slot_start"], "01:30:00");
    assert_eq!(
        four["state"], "interrupted",
        "its sync columns are readable"
    );
    assert_eq!(
        four["malformed"],
        serde_json::json!(["slot date '2026-13-45' is not a valid date"])
    );
    let five = by_id(&lines, 5);
    assert_eq!(
        five["malformed"],
        serde_json::json!([
            "slot date '2026-13-45' is not a valid date",
            "selected_at 'last Tuesday' is not a valid datetime"
        ])
    );
    let ten = by_id(&lines, 10);
    assert_eq!(ten["slot_start"], serde_json::Value::Null);
    assert_eq!(
        ten["malformed"],
        serde_json::json!(["slot start time is NULL"])
    );
    let seven = by_id(&lines, 7);
    assert_eq!(seven["attempted_at"], "soon");
    assert_eq!(
        seven["state"],
        serde_json::Value::Null,
        "unreadable sync columns: no state"
    );
    assert_eq!(
        seven["malformed"],
        serde_json::json!(["calendar_add_attempted_at 'soon' is not a valid datetime"])
    );

    let table = calsync(&["--database-url", &db.url_string(), "status"], &[]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    let malformed: Vec<&str> = table
        .stdout
        .lines()
        .filter(|l| l.contains("⚠ Malformed row"))
        .collect();
    assert_eq!(malformed.len(), 5, "{}", table.stdout);
    assert!(
        table.stdout.contains("2026-13-45 01:30:00–02:30:00"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains("malformed: slot start time is NULL"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_pages_past_malformed_rows_in_every_order() {
    let db = malformed_fixture().await;
    let store = db.store().await;
    for key in [SortKey::SelectedAt, SortKey::AttemptedAt, SortKey::Id] {
        for descending in [true, false] {
            let mut request = PageRequest {
                filter: Default::default(),
                sort: Sort {
                    key,
                    descending,
                    nulls_first: !descending,
                },
                after: None,
                limit: 2,
            };
            let mut seen = Vec::new();
            loop {
                let page = store
                    .page(&request)
                    .await
                    .expect("a page despite malformed rows");
                seen.extend(page.rows.iter().map(|r| r.id));
                seen.extend(page.malformed.iter().map(|r| r.id));
                match page.next {
                    Some(next) => request.after = Some(next),
                    None => break,
                }
            }
            seen.sort();
            assert_eq!(
                seen,
                (1..=10).collect::<Vec<_>>(),
                "{key:?} descending={descending}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_fails_only_the_malformed_selections_and_says_why() {
    let db = malformed_fixture().await;
    let sim = SimServer::start(sim_config()).await.unwrap();
    let run = calsync(
        &["--database-url", &db.url_string(), "sync", "--json"],
        &[
            ("CALSYNC_GRAPH_URL", sim.graph_url().as_str()),
            ("CALSYNC_LOGIN_URL", sim.login_url().as_str()),
        ],
    );
    assert_eq!(
        run.code, 1,
        "some selections failed: {}{}",
        run.stdout, run.stderr
    );
    let summary: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(
        summary["total"], 7,
        "every unsynced selection was in the run"
    );
    let failures = summary["failures"].as_array().unwrap();
    let error_of = |id: i64| {
        failures
            .iter()
            .find(|f| f["selection_id"] == id)
            .and_then(|f| f["error"].as_str())
            .unwrap_or_else(|| panic!("selection {id} failed: {failures:?}"))
            .to_string()
    };
    let slot_three = "Slot 3: slot date '2026-13-45' is not a valid date — fix the slot in the LMS";
    assert_eq!(error_of(4), slot_three);
    assert_eq!(error_of(9), slot_three);
    assert_eq!(
        error_of(5),
        "Selection 5 cannot be read: slot date '2026-13-45' is not a valid date; selected_at \
         'last Tuesday' is not a valid datetime — fix the row in the LMS"
    );
    assert_eq!(
        error_of(10),
        "Slot 6: slot start time is NULL — fix the slot in the LMS"
    );
    assert!(
        error_of(7).ends_with("(not written: its sync columns cannot be read either)"),
        "{}",
        error_of(7)
    );

    // The rest went on: selection 2 was added to Outlook.
    let added = db
        .scalar_text("SELECT CAST(calendar_added AS TEXT) FROM conferences_conferencetimeslotselection WHERE id = 2")
        .await;
    assert_eq!(added.as_deref(), Some("1"));
    // The reasons are in calendar_error, where the LMS and the console show them, except where
    // no guarded write was possible.
    let error = |id: i64| {
        let db = &db;
        async move {
            db.scalar_text(&format!(
                "SELECT calendar_error FROM conferences_conferencetimeslotselection WHERE id = {id}"
            ))
            .await
        }
    };
    assert_eq!(error(4).await.as_deref(), Some(slot_three));
    assert_eq!(
        error(10).await.as_deref(),
        Some("Slot 6: slot start time is NULL — fix the slot in the LMS")
    );
    assert!(
        error(7)
            .await
            .unwrap_or_default()
            .starts_with("Échec: ErrorInvalidUser"),
        "untouched"
    );
    let attempted_7 = db
        .scalar_text("SELECT calendar_add_attempted_at FROM conferences_conferencetimeslotselection WHERE id = 7")
        .await;
    assert_eq!(
        attempted_7.as_deref(),
        Some("soon"),
        "never written without a guard"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_lists_every_other_row_and_names_the_malformed_ones() {
    use calsync::tui::{App, Effect, Report};
    use crossterm::event::KeyCode;

    use crate::console::{code, key, now, session, type_text};

    let db = malformed_fixture().await;
    let store = db.store().await;
    let (mut app, _) = App::new(session(false), now());
    app.height = 40;
    app.key(key('/'));
    type_text(&mut app, "state:interrupted");
    let effects = app.key(code(KeyCode::Enter));
    let (generation, request) = effects
        .iter()
        .find_map(|e| match e {
            Effect::Page(generation, request) => Some((*generation, request.clone())),
            _ => None,
        })
        .expect("a page request");
    // The page as the console's runtime reads it from the real database.
    let page = store
        .page(&request)
        .await
        .expect("a page despite malformed rows");
    let malformed: Vec<i64> = page.malformed.iter().map(|m| m.id).collect();
    assert_eq!(
        malformed,
        [4],
        "interrupted rows: 4 (malformed); 7's state cannot be read"
    );
    app.report(Report::Page(generation, Ok(page)));
    assert_eq!(
        app.message.as_deref(),
        Some(
            "1 malformed row not listed (#4): slot date '2026-13-45' is not a valid date — \
             `calsync status --json` shows them as stored"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_the_malformed_slots_and_slot_lists_go_on() {
    let db = malformed_fixture().await;
    let run = calsync(&["--database-url", &db.url_string(), "doctor"], &[]);
    assert_eq!(run.code, 1, "problems found: {}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("    slot 3: date '2026-13-45' is not a valid date\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("    slot 6: start time is NULL\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("slot 5: crosses midnight"),
        "the other slots are still checked"
    );

    let store = db.store().await;
    let slots: Vec<i64> = store.slots(2).await.unwrap().iter().map(|s| s.id).collect();
    assert_eq!(
        slots,
        [4],
        "conference 2's readable slot; slot 3 is named by doctor"
    );
    let conferences = store.conferences().await.unwrap();
    assert_eq!(conferences.len(), 3);
}

/// Why the tests above are SQLite's alone: PostgreSQL refuses every one of those values.
#[tokio::test]
async fn postgresql_cannot_store_such_rows() {
    let db = TestDb::with_fixture(Backend::Postgres).await;
    let client = crate::support::pg_connect(&db.url_string()).await;
    for statement in [
        "UPDATE conferences_conferencetimeslot SET date = '2026-13-45' WHERE id = 3",
        "UPDATE conferences_conferencetimeslot SET start_time = NULL WHERE id = 3",
        "UPDATE conferences_conferencetimeslotselection SET selected_at = 'last Tuesday' WHERE id = 5",
        "UPDATE conferences_conferencetimeslotselection SET calendar_add_attempted_at = 'soon' WHERE id = 7",
    ] {
        assert!(
            client.batch_execute(statement).await.is_err(),
            "{statement}"
        );
    }
}
