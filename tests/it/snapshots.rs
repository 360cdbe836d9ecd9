//! What each view and popup looks like, at 80×24, 160×48 and 220×60, with long, unicode and hostile
//! text in the data. Snapshots live in tests/it/snapshots; CI fails on any difference.

use calsync::domain::Cause;
use calsync::domain::{
    ConferenceSummary, CredentialSource, Page, Person, Scope, Selection, SlotSummary, StateCounts,
};
use calsync::sync::{ItemResult, Outcome, SyncEvent};
use calsync::tui::app::RunScope;
use calsync::tui::data::{BulkPlan, OverviewPart, PersonData, RecentFailure};
use calsync::tui::{App, Effect, Report, Theme, render};
use chrono::{NaiveDate, NaiveTime};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::console::{app_with_failed_rows, code, key, now, selection, session, type_text};

const SIZES: [(u16, u16); 3] = [(80, 24), (160, 48), (220, 60)];

fn snapshot(name: &str, build: impl Fn(u16) -> App) {
    for (width, height) in SIZES {
        let app = build(height);
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal
            .draw(|frame| render(frame, &app, Theme::MONOCHROME))
            .unwrap();
        insta::assert_snapshot!(format!("{name}_{width}x{height}"), terminal.backend());
    }
}

/// Text nobody should trust: escapes, bidi overrides, wide characters, very long words.
fn hostile(mut s: Selection) -> Selection {
    s.conference_title =
        "会議 Quarterly\u{1b}[2J\u{1b}[31m <script>x()</script> \u{202e}review".into();
    s.first_name = "Siobhán".into();
    s.last_name = "Ó Briain-Ünal with a surname far longer than any column".into();
    s.sync.error = Some(format!(
        "Graph 404 ErrorInvalidUser: The requested user 'user{}@north.example' is invalid.\u{7} {} (request-id 6f1c2d3e-aaaa-bbbb-cccc-123456789abc)",
        s.id,
        "x".repeat(300)
    ));
    s
}

fn list_app(height: u16) -> App {
    let mut app = app_with_failed_rows(0, false);
    app.height = height;
    // Reload the list with hostile rows.
    let effects = app.key(KeyEvent::new(KeyCode::Char('l'), KeyModifiers::CONTROL));
    let (mut page, mut count) = (0, 0);
    for effect in effects {
        match effect {
            Effect::Page(g, _) => page = g,
            Effect::Counts(g, _) => count = g,
            _ => {}
        }
    }
    let mut rows: Vec<Selection> = (1..=60)
        .map(|i| {
            if i % 3 == 0 {
                selection(i, false)
            } else {
                hostile(selection(i, true))
            }
        })
        .collect();
    rows[1].sync.error = Some("No mailbox for user2@north.example (MailboxNotEnabledForRESTAPI) — the user needs an Exchange Online licence".into());
    app.report(Report::Page(
        page,
        Ok(Page {
            rows,
            malformed: Vec::new(),
            next: None,
        }),
    ));
    app.report(Report::Counts(
        count,
        Ok((
            1_000_000,
            StateCounts {
                added: 700_000,
                added_stale_error: 10_000,
                failed: 250_000,
                interrupted: 15_000,
                not_synced: 25_000,
            },
        )),
    ));
    app
}

/// The newest failures as the overview reads them: 40, newest first, a minute apart, with
/// hostile names and titles among them and one without a cause (no error text).
fn newest_failures() -> Vec<RecentFailure> {
    (0..40)
        .map(|i| RecentFailure {
            id: 999_960 + 40 - i,
            selected_at: now() - chrono::Duration::minutes(i * 7 + 1),
            person: if i % 4 == 1 {
                "Siobhán Ó Briain-Ünal with a surname far longer than any column".into()
            } else {
                format!("Learner {i}")
            },
            conference: if i % 3 == 0 {
                "会議 Quarterly\u{1b}[2J <script>x()</script> \u{202e}review".into()
            } else {
                "Careers Guidance Session".into()
            },
            cause: [
                Some(Cause::UnknownUser),
                Some(Cause::Credentials),
                Some(Cause::Throttled),
                None,
            ][(i % 4) as usize],
        })
        .collect()
}

/// The overview with every part, causes of every label length, three conferences and the
/// newest failures.
fn overview_app(height: u16) -> App {
    let (mut app, effects) = App::new(session(false), now());
    app.height = height;
    let Effect::Overview(generation) = effects[0] else {
        panic!()
    };
    let parts = [
        OverviewPart::NewestFailures(newest_failures()),
        OverviewPart::Counts(StateCounts {
            added: 1361,
            added_stale_error: 46,
            failed: 393,
            interrupted: 36,
            not_synced: 164,
        }),
        OverviewPart::Trend(
            (10..=24)
                .map(|d| (format!("2026-11-{d:02}"), (d * 7 % 40) as u64))
                .collect(),
        ),
        OverviewPart::WorstConferences(vec![
            (10, "Careers Guidance Session".into(), 21, 64),
            (
                22,
                "Quarterly Review <script>alert('x')</script>\u{1b}[2J".into(),
                17,
                53,
            ),
            (26, "会議: Japanese Partners Briefing".into(), 9, 40),
        ]),
        OverviewPart::Causes(vec![
            (Cause::UnknownUser, 180),
            (Cause::Credentials, 120),
            (Cause::Throttled, 50),
            (Cause::NoMailbox, 30),
            (Cause::TimeZone, 13),
        ]),
    ];
    for part in parts {
        app.report(Report::Overview(generation, Ok(part)));
    }
    app
}

#[test]
fn overview() {
    snapshot("overview", overview_app);
}

/// Tab gives the conferences panel the cursor (its header says so); Enter opens its failures.
#[test]
fn overview_with_the_conferences_panel_focused() {
    snapshot("overview_conferences_focused", |height| {
        let mut app = overview_app(height);
        app.key(code(KeyCode::Tab));
        app.key(code(KeyCode::Down));
        app
    });
}

/// Tab twice gives the newest failures the cursor (its header says so); Enter opens the list.
#[test]
fn overview_with_the_newest_failures_focused() {
    snapshot("overview_failures_focused", |height| {
        let mut app = overview_app(height);
        app.key(code(KeyCode::Tab));
        app.key(code(KeyCode::Tab));
        app.key(code(KeyCode::Down));
        app.key(code(KeyCode::Down));
        app
    });
}

/// A first start on a million rows: the newest failures (one page through an index) are drawn
/// while every count is still being counted.
#[test]
fn overview_with_only_the_newest_failures_read() {
    snapshot("overview_failures_first", |height| {
        let (mut app, effects) = App::new(session(false), now());
        app.height = height;
        let Effect::Overview(generation) = effects[0] else {
            panic!()
        };
        app.report(Report::Overview(
            generation,
            Ok(OverviewPart::NewestFailures(newest_failures())),
        ));
        app
    });
}

#[test]
fn overview_while_its_heavier_parts_are_still_counting() {
    snapshot("overview_partial", |height| {
        let mut session = session(false);
        session.missing_tables = Some(
            "`calsync migrate` has not run here: no event ledger (reconcile, verify, exact stale \
             badges) or audit log (the audit view, `calsync audit`)."
                .into(),
        );
        let (mut app, effects) = App::new(session, now());
        app.height = height;
        let Effect::Overview(generation) = effects[0] else {
            panic!()
        };
        app.report(Report::Overview(
            generation,
            Ok(OverviewPart::Counts(StateCounts {
                added: 700_000,
                failed: 300_000,
                ..StateCounts::default()
            })),
        ));
        app
    });
}

#[test]
fn conferences_and_slots() {
    let conferences = |height: u16| {
        let (mut app, _) = App::new(session(false), now());
        app.height = height;
        let effects = app.key(code(KeyCode::Enter));
        let Effect::Conferences(generation) = effects[0] else {
            panic!()
        };
        let rows: Vec<ConferenceSummary> = (1..=30)
            .map(|id| ConferenceSummary {
                id,
                title: if id == 2 { "Very long title for a conference that somebody typed without thought for narrow columns".into() } else { format!("Conference {id} — Café numérique") },
                platform: ["teams", "zoom", "google_meet", "webex", "other"][(id % 5) as usize].into(),
                date: NaiveDate::from_ymd_opt(2026, 12, 1 + (id % 28) as u32).unwrap(),
                use_time_slots: id != 3,
                status: "published".into(),
                slot_count: (id % 5 + 2) as u64,
                counts: StateCounts { added: (id * 11) as u64, added_stale_error: 1, failed: (id % 7) as u64, interrupted: 0, not_synced: 2 },
            })
            .collect();
        app.report(Report::Conferences(generation, Ok(rows)));
        app
    };
    snapshot("conferences", conferences);
    snapshot("slots", |height| {
        let mut app = conferences(height);
        app.key(key('j'));
        let effects = app.key(code(KeyCode::Enter));
        let Effect::Slots(generation, conference) = effects[0] else {
            panic!()
        };
        let slot = |id: i64, h: u32, zone: &str, link: Option<&str>| SlotSummary {
            id,
            conference_id: conference,
            date: NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(),
            start_time: NaiveTime::from_hms_opt(h, 30, 0).unwrap(),
            end_time: NaiveTime::from_hms_opt((h + 1) % 24, 30, 0).unwrap(),
            timezone: zone.into(),
            meeting_link: link.map(str::to_string),
            max_participants: if id % 2 == 0 { 20 } else { 0 },
            current_participants: 7,
            is_available: id != 4,
            counts: StateCounts {
                added: 5,
                failed: 2,
                ..StateCounts::default()
            },
        };
        app.report(Report::Slots(
            generation,
            Ok(vec![
                slot(1, 1, "Europe/London", Some("")),
                slot(
                    2,
                    9,
                    "America/New_York",
                    Some("https://zoom.us/j/123?pwd=secret-looking-but-public"),
                ),
                slot(3, 23, "Asia/Tokyo", None),
                slot(4, 10, "Foo/Bar", Some("javascript:alert(1)")),
            ]),
        ));
        app
    });
}

#[test]
fn selections_with_hostile_text_and_marks() {
    snapshot("selections", |height| {
        let mut app = list_app(height);
        app.key(key(' '));
        app.key(key('j'));
        app.key(key('j'));
        app
    });
}

#[test]
fn error_detail() {
    snapshot("error_detail", |height| {
        let mut app = list_app(height);
        let effects = app.key(key('e'));
        let Effect::Selection(generation, id) = effects[0] else {
            panic!("{effects:?}")
        };
        app.report(Report::Selection(
            generation,
            Ok(Some(Box::new(hostile(selection(id, true))))),
        ));
        app
    });
}

#[test]
fn detail_of_an_added_teams_selection_shows_its_join_url() {
    snapshot("detail_teams_meeting", |height| {
        let mut app = list_app(height);
        let effects = app.key(key('e'));
        let Effect::Selection(generation, id) = effects[0] else {
            panic!("{effects:?}")
        };
        let mut added = selection(id, false);
        added.recorded.teams_join_url = Some(
            "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NzIy%40thread.v2/0?context=%7b%22Tid%22%3a%2272f9%22%7d\u{1b}[2J"
                .into(),
        );
        added.recorded.web_link = Some(
            "https://outlook.office365.com/owa/?itemid=AAMkAG3%3D&exvsurl=1&path=/calendar/item"
                .into(),
        );
        app.report(Report::Selection(generation, Ok(Some(Box::new(added)))));
        app
    });
}

#[test]
fn person() {
    snapshot("person", |height| {
        let mut app = list_app(height);
        let effects = app.key(key('p'));
        let generation = effects
            .iter()
            .find_map(|e| match e {
                Effect::Person(g, _) => Some(*g),
                _ => None,
            })
            .unwrap();
        app.report(Report::Person(
            generation,
            Ok(Some(PersonData {
                person: Person {
                    id: 101,
                    username: "user1".into(),
                    first_name: "Zoë".into(),
                    last_name: "Ünal".into(),
                    email: "user1@north.example".into(),
                    role: "learner".into(),
                    branch_id: Some(1),
                    branch_name: Some("North Campus".into()),
                    is_active: true,
                    branch_teams_enabled: Some(false),
                },
                integration: Some((
                    "North Campus Teams".into(),
                    "north.example".into(),
                    "00000000-0000-4000-8000-000000001001".into(),
                    CredentialSource::OwnerInUsersBranch,
                )),
                no_integration_reason: None,
            })),
        ));
        app
    });
}

#[test]
fn help_popup_in_read_only_mode() {
    snapshot("help_read_only", |height| {
        let mut app = app_with_failed_rows(3, true);
        app.height = height;
        app.key(key('?'));
        app
    });
}

#[test]
fn filter_input_with_an_error() {
    snapshot("filter_input", |height| {
        let mut app = list_app(height);
        app.key(key('/'));
        type_text(&mut app, " colour:blue");
        app.key(code(KeyCode::Enter));
        app
    });
}

#[test]
fn bulk_sheet_with_typed_confirmation_and_a_running_job() {
    snapshot("bulk_sheet", |height| {
        let mut app = list_app(height);
        let effects = app.key(KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT));
        let Effect::BulkPlan(generation, target, _) = effects[0].clone() else {
            panic!()
        };
        app.report(Report::BulkPlan(
            generation,
            Ok(BulkPlan {
                run: RunScope::of(Scope::Failed),
                permanent_left_out: 0,
                target,
                count: 250_000,
                counts: StateCounts {
                    failed: 240_000,
                    interrupted: 10_000,
                    ..StateCounts::default()
                },
                causes: vec![(Cause::UnknownUser, 200_000), (Cause::Throttled, 40_000)],
                skipped: 0,
            }),
        ));
        type_text(&mut app, "2500");
        app
    });
    snapshot("jobs_panel", |height| {
        let mut app = list_app(height);
        app.key(key('r'));
        app.report(Report::Sync(SyncEvent::Started { total: 1 }));
        app.report(Report::Sync(SyncEvent::Item(ItemResult {
            selection_id: 1,
            label: None,
            outcome: Outcome::Failed {
                error: "Throttled by Graph for user1@north.example".into(),
                cause: calsync::domain::Cause::Throttled,
            },
        })));
        app
    });
}

#[test]
fn audit_log() {
    snapshot("audit_log", |height| {
        let (mut app, _) = App::new(session(false), now());
        app.height = height;
        app.key(key(':'));
        type_text(&mut app, "audit");
        let effects = app.key(code(KeyCode::Enter));
        let Effect::Audit(generation) = effects[0] else {
            panic!("{effects:?}")
        };
        let record = |id: i64, action: &str, outcome, scope: &str, detail: &str| {
            calsync::domain::audit::AuditRecord {
                id,
                started_at: now() - chrono::Duration::minutes(id * 7),
                finished_at: Some(now()),
                os_user: "siobhan".into(),
                host: "support-desk-03".into(),
                action: action.into(),
                scope: scope.into(),
                filter: if id == 3 {
                    "state:failed cause:throttled".into()
                } else {
                    String::new()
                },
                rows: (id * 40) as u64,
                outcome,
                detail: detail.into(),
            }
        };
        use calsync::domain::audit::AuditOutcome as O;
        app.report(Report::Audit(
            generation,
            Ok(vec![
                record(4, "console sync", O::Running, "selection 17 (all)", ""),
                record(
                    3,
                    "console sync",
                    O::Partial,
                    "all matching the filter (failed)",
                    "118 synced (118 created, 0 updated, 0 adopted), 2 failed",
                ),
                record(
                    2,
                    "sync",
                    O::Cancelled,
                    "--retry-failed \u{1b}[31m",
                    "40 synced, 40 not started",
                ),
                record(
                    1,
                    "migrate",
                    O::Ok,
                    "calsync tables version 0 → 2",
                    "1 event ledger, 2 audit log",
                ),
            ]),
        ));
        app
    });
}

#[test]
fn reconcile_findings_with_evidence() {
    snapshot("reconcile", |height| {
        let (mut app, _) = crate::console::reconcile_app(false);
        app.height = height;
        app.key(key('j'));
        app.key(key(' '));
        app
    });
}

#[test]
fn reconcile_delete_confirmation() {
    snapshot("reconcile_delete", |height| {
        let (mut app, _) = crate::console::reconcile_app(false);
        app.height = height;
        app.key(key('j'));
        app.key(key(' '));
        app.key(key('d'));
        type_text(&mut app, "1");
        app
    });
}

/// Opens a worker screen by its `:` command and fills it with `data`.
fn worker_screen_app(
    height: u16,
    command: &str,
    data: calsync::tui::worker_views::WorkerData,
) -> App {
    let (mut app, _) = App::new(session(false), now());
    app.height = height;
    app.key(key(':'));
    type_text(&mut app, command);
    let effects = app.key(code(KeyCode::Enter));
    let [Effect::WorkerData(generation, _)] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    app.report(Report::WorkerData(*generation, Ok(data)));
    app
}

fn listing(id: i64, cause: Cause, parked: bool) -> calsync::domain::worker::RetryListing {
    use calsync::domain::worker::{RetryEntry, RetryListing};
    RetryListing {
        entry: RetryEntry {
            selection_id: id,
            cause,
            attempts: (id % 7) as u32,
            next_attempt_at: (!parked).then(|| now() + chrono::Duration::seconds(id * 97)),
            parked_at: parked.then(now),
            last_error: format!(
                "Graph 503 Service Unavailable\u{1b}[31m for user{id}@north.example {}",
                "x".repeat(200)
            ),
            depends_on: None,
            updated_at: now(),
        },
        user_id: (id != 3).then_some(100 + id),
        person: format!("Siobhán Ó Briain-Ünal {id}"),
        email: format!("user{id}@north.example"),
        conference: "会議 Quarterly\u{202e}review with a very long title".into(),
    }
}

#[test]
fn workers_screen() {
    use calsync::domain::worker::{WorkerCounts, WorkerEntry};
    use calsync::worker::views::WorkerView;
    snapshot("workers", |height| {
        let worker = |id: i64, host: &str, alive: bool| WorkerView {
            entry: WorkerEntry {
                id,
                host: host.into(),
                pid: 4000 + id,
                version: "0.9.0".into(),
                started_at: now() - chrono::Duration::hours(3),
                heartbeat_at: now() - chrono::Duration::seconds(if alive { 4 } else { 600 }),
                last_pass_at: (id != 3).then(|| now() - chrono::Duration::seconds(7 * id)),
                counts: WorkerCounts {
                    passes: 1200 * id as u64,
                    synced: 5000,
                    failed: 12,
                    retries_scheduled: 30,
                    parked: 2,
                },
            },
            alive,
        };
        worker_screen_app(
            height,
            "workers",
            calsync::tui::worker_views::WorkerData::Workers(vec![
                worker(1, "lms-app-1", true),
                worker(2, "lms-app-2.\u{1b}[2Jinternal.example.org", true),
                worker(3, "old-host", false),
            ]),
        )
    });
}

#[test]
fn retries_screen() {
    snapshot("retries", |height| {
        worker_screen_app(
            height,
            "retries",
            calsync::tui::worker_views::WorkerData::Retries(
                (1..=40)
                    .map(|id| {
                        let cause = if id % 2 == 0 {
                            Cause::Throttled
                        } else {
                            Cause::Network
                        };
                        listing(id, cause, false)
                    })
                    .collect(),
            ),
        )
    });
}

#[test]
fn parked_screen() {
    use calsync::worker::views::ParkedGroup;
    snapshot("parked", |height| {
        let group = |cause: Cause, count: u64, fix: &str, ids: std::ops::Range<i64>| ParkedGroup {
            cause,
            label: cause.label().to_string(),
            count,
            fix: fix.into(),
            selections: ids.map(|id| listing(id, cause, true)).collect(),
        };
        worker_screen_app(
            height,
            "parked",
            calsync::tui::worker_views::WorkerData::Parked(vec![
                group(
                    Cause::NoMailbox,
                    120,
                    "Give the user an Exchange Online licence (or a mailbox) in Microsoft 365",
                    1..6,
                ),
                group(
                    Cause::TimeZone,
                    3,
                    "Set a valid IANA time zone on the slot",
                    10..13,
                ),
            ]),
        )
    });
}

#[test]
fn worker_screen_without_the_worker_tables() {
    snapshot("workers_no_tables", |height| {
        worker_screen_app(
            height,
            "retries",
            calsync::tui::worker_views::WorkerData::NoTables,
        )
    });
}

#[test]
fn a_read_only_demo_keeps_its_flags_and_help_in_the_header_and_bar_at_every_width() {
    snapshot("read_only_demo_list", |height| {
        let mut app = app_with_failed_rows(12, true);
        app.height = height;
        app
    });
}

#[test]
fn quit_asked_while_a_run_goes_on() {
    snapshot("quit_confirmation", |height| {
        let mut app = app_with_failed_rows(3, false);
        app.height = height;
        app.key(key('r'));
        app.report(Report::Sync(SyncEvent::Started { total: 3 }));
        app.key(key('q'));
        app
    });
}

#[test]
fn a_runs_rows_that_did_not_sync_with_their_reasons() {
    snapshot("run_rows", |height| {
        let mut app = app_with_failed_rows(3, false);
        app.height = height;
        app.key(key('r'));
        app.report(Report::Sync(SyncEvent::Started { total: 3 }));
        for (id, outcome) in [
            (
                1,
                Outcome::Skipped {
                    reason: "the conference does not use time slots".into(),
                },
            ),
            (
                2,
                Outcome::Failed {
                    error: "API request failed: 404 Client Error: Not Found".into(),
                    cause: calsync::domain::Cause::Other,
                },
            ),
        ] {
            app.report(Report::Sync(SyncEvent::Item(ItemResult {
                selection_id: id,
                label: None,
                outcome,
            })));
        }
        app.key(KeyEvent::new(KeyCode::Char('L'), KeyModifiers::SHIFT));
        app
    });
}

/// Presses `key` on the list and answers its page with `rows` (and the counts as before).
fn answer_with(app: &mut App, pressed: KeyEvent, rows: &[Selection]) {
    for effect in app.key(pressed) {
        match effect {
            Effect::Page(g, _) => drop(app.report(Report::Page(
                g,
                Ok(Page {
                    rows: rows.to_vec(),
                    malformed: Vec::new(),
                    next: None,
                }),
            ))),
            Effect::Counts(g, _) => drop(app.report(Report::Counts(
                g,
                Ok((
                    60,
                    StateCounts {
                        failed: 40,
                        added: 20,
                        ..StateCounts::default()
                    },
                )),
            ))),
            _ => {}
        }
    }
}

/// Rows whose addresses are as long as real faculty ones, in email order.
fn rows_with_long_emails() -> Vec<Selection> {
    let mut rows: Vec<Selection> = (1..=60)
        .map(|i| {
            let mut s = selection(i, i % 3 != 0);
            s.email = format!("siobhan.obriain-unal.{i:02}@continuing-education.north.example");
            s
        })
        .collect();
    rows.sort_by(|a, b| a.email.cmp(&b.email));
    rows
}

#[test]
fn selections_sorted_by_email_show_the_arrow_and_whole_addresses() {
    snapshot("selections_sorted_by_email", |height| {
        let mut app = list_app(height);
        let rows = rows_with_long_emails();
        // o: id, then person, then email.
        for _ in 0..3 {
            answer_with(&mut app, key('o'), &rows);
        }
        answer_with(&mut app, key('O'), &rows);
        app
    });
}

#[test]
fn selections_scrolled_sideways_on_a_narrow_terminal() {
    let mut app = list_app(24);
    answer_with(
        &mut app,
        KeyEvent::new(KeyCode::Char('l'), KeyModifiers::CONTROL),
        &rows_with_long_emails(),
    );
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let mut draw = |app: &App| {
        terminal
            .draw(|frame| render(frame, app, Theme::MONOCHROME))
            .unwrap();
        terminal.backend().clone()
    };
    insta::assert_snapshot!("selections_sideways_start_80x24", draw(&app));
    app.key(key('>'));
    app.key(key('>'));
    insta::assert_snapshot!("selections_sideways_right_80x24", draw(&app));
}

#[test]
fn column_chooser_popup() {
    snapshot("column_chooser", |height| {
        let mut app = list_app(height);
        app.key(key('C'));
        app.key(key('j'));
        app.key(key(' '));
        app
    });
}
