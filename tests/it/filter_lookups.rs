//! A person or free-text filter is looked up once (the users, conferences and error texts it
//! matches, as id lists the page and its counts bind) and, with too many matches to bind,
//! matched by each statement as before. Either way the answers are the ones reading every row
//! and deciding in Rust gives, on both backends. `status --json` and the exports stream the
//! rows (on PostgreSQL one statement, on SQLite keyset pages) exactly as pages list them.

use calsync::demo::lms_rows::{SelectionRow, literal_insert};
use calsync::domain::{Filter, Listed, PageRequest, Selection, Sort, SortKey};
use calsync::store::Store;

use crate::cli::calsync;
use crate::on_both_backends;
use crate::support::{TestDb, is_person, is_text, learner_row};

async fn every_row(store: &Store) -> Vec<Selection> {
    let request = PageRequest {
        filter: Filter::default(),
        sort: Sort::by(SortKey::Id, false),
        after: None,
        limit: 10_000,
    };
    store.page(&request).await.expect("page").rows
}

/// The ids a filter must give, newest selection first, decided in Rust.
fn expected(all: &[Selection], matches: impl Fn(&Selection) -> bool) -> Vec<i64> {
    let mut rows: Vec<&Selection> = all.iter().filter(|s| matches(s)).collect();
    rows.sort_by_key(|s| std::cmp::Reverse((s.selected_at, s.id)));
    rows.iter().map(|s| s.id).collect()
}

/// Page, count, state counts and a run's frozen ids all give `want`.
async fn assert_answers(store: &Store, filter: &Filter, want: &[i64]) {
    let page = store
        .page(&PageRequest {
            filter: filter.clone(),
            sort: Sort::default(),
            after: None,
            limit: 50,
        })
        .await
        .unwrap();
    let ids: Vec<i64> = page.rows.iter().map(|s| s.id).collect();
    assert_eq!(ids, want, "page of {filter:?}");
    assert_eq!(
        store.count(filter).await.unwrap(),
        want.len() as u64,
        "{filter:?}"
    );
    assert_eq!(
        store.summary(filter).await.unwrap().total(),
        want.len() as u64,
        "{filter:?}"
    );
    assert_eq!(
        store.selection_ids(filter).await.unwrap(),
        want,
        "{filter:?}"
    );
}

fn text(t: &str) -> Filter {
    Filter {
        text: Some(t.to_string()),
        ..Filter::default()
    }
}

fn person(p: &str) -> Filter {
    Filter {
        person: Some(p.to_string()),
        ..Filter::default()
    }
}

on_both_backends! {
    async fn text_and_person_filters_match_what_rust_decides_from_every_row(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        // "Lea" is now a user (Lea Learner), a conference title and an error text (sel. 2).
        db.exec("UPDATE conferences_conference SET title = 'Lea''s Zoom Clinic' WHERE id = 2").await;
        let store = db.store().await;
        let all = every_row(&store).await;
        let cases: Vec<(Filter, Vec<i64>)> = vec![
            (text("lea"), expected(&all, |s| is_text(s, "lea"))),
            (text("LEA'S"), expected(&all, |s| is_text(s, "lea's"))),
            // Only in an error text (selection 3's 429), in another case.
            (text("too MANY requests"), expected(&all, |s| is_text(s, "too many requests"))),
            // Unicode case: an error text, a conference title, a person.
            (text("ÉCHEC"), expected(&all, |s| is_text(s, "échec"))),
            (text("CAFÉ NUMÉRIQUE"), expected(&all, |s| is_text(s, "café numérique"))),
            (text("ZOË"), expected(&all, |s| is_text(s, "zoë"))),
            (person("ZOË ÜNAL"), expected(&all, |s| is_person(s, "zoë ünal"))),
            (person("lea"), expected(&all, |s| is_person(s, "lea"))),
            // Nothing anywhere; wildcards are literal.
            (text("nobody-at-all"), Vec::new()),
            (text("%"), Vec::new()),
            (person("_"), Vec::new()),
        ];
        assert!(cases[0].1.len() > cases[7].1.len(), "lea matches more as text than as a person");
        assert_eq!(cases[2].1, vec![3]);
        for (filter, want) in &cases {
            assert_answers(&store, filter, want).await;
            // With other conditions beside it.
            let failed = Filter { scope: Some(calsync::domain::Scope::Failed), ..filter.clone() };
            let want_failed: Vec<i64> = want
                .iter()
                .copied()
                .filter(|id| all.iter().any(|s| s.id == *id && !s.sync.calendar_added && s.sync.attempted_at.is_some()))
                .collect();
            assert_answers(&store, &failed, &want_failed).await;
        }
    }
}

on_both_backends! {
    async fn a_text_matching_more_users_than_are_bound_is_matched_by_the_statements(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        // 2,100 more learners ("Learner <id>"): more than a lookup binds.
        let learners: Vec<_> = (1000..3100)
            .map(|id| learner_row(id, &format!("extra{id}"), &format!("extra{id}@example.org"), None))
            .collect();
        db.exec(&literal_insert(&learners)).await;
        let store = db.store().await;
        let all = every_row(&store).await;
        for filter in [person("learner"), text("LEARNER"), person("extra")] {
            let needle = filter.person.clone().or(filter.text.clone()).unwrap();
            let want = if filter.text.is_some() {
                expected(&all, |s| is_text(s, &needle))
            } else {
                expected(&all, |s| is_person(s, &needle))
            };
            assert_answers(&store, &filter, &want).await;
        }
        assert_eq!(store.count(&person("learner")).await.unwrap(), 2);
        assert_eq!(store.count(&person("extra")).await.unwrap(), 0);
    }
}

/// 1,300 more selections (more than two of the stream's batches), one per new learner.
async fn with_many_rows(backend: crate::support::Backend) -> TestDb {
    let db = TestDb::with_fixture(backend).await;
    let learners: Vec<_> = (100..1400)
        .map(|id| {
            learner_row(
                id,
                &format!("many{id}"),
                &format!("many{id}@example.org"),
                Some(1),
            )
        })
        .collect();
    let selections: Vec<SelectionRow> = (100..1400)
        .map(|id| SelectionRow {
            id,
            outlook_event_id: None,
            calendar_added: false,
            calendar_add_attempted_at: (id % 3 == 0)
                .then(|| format!("2025-12-{:02} 08:00:00", 1 + id % 28)),
            calendar_error: (id % 3 == 0).then(|| format!("API request failed: {id}")),
            // Ties in selected_at, so the id decides the order within them.
            selected_at: format!("2025-11-{:02} 10:00:00", 1 + id % 20),
            ip_address: None,
            conference: 1,
            slot: 1 + id % 2,
            user: id,
        })
        .collect();
    db.exec(&(literal_insert(&learners) + &literal_insert(&selections)))
        .await;
    db
}

/// The JSON lines of every row as pages of 100 list them.
async fn paged_json_lines(store: &Store, sort: Sort) -> Vec<String> {
    let mut request = PageRequest {
        filter: Filter::default(),
        sort,
        after: None,
        limit: 100,
    };
    let mut lines = Vec::new();
    loop {
        let (rows, next) = store.listing(&request).await.unwrap();
        lines.extend(rows.iter().map(|row| match row {
            Listed::Readable(s) => calsync::export::json_line(s),
            Listed::Malformed(m) => calsync::export::malformed_json_line(m),
        }));
        match next {
            Some(next) => request.after = Some(next),
            None => return lines,
        }
    }
}

on_both_backends! {
    async fn status_json_and_exports_stream_every_row_as_pages_list_them(backend: Backend) {
        let db = with_many_rows(backend).await;
        let store = db.store().await;
        for (args, sort) in [
            (vec![], Sort::default()),
            (vec!["--sort", "attempted", "--ascending"], Sort { nulls_first: true, ..Sort::by(SortKey::AttemptedAt, false) }),
            (vec!["--sort", "id"], Sort::by(SortKey::Id, true)),
        ] {
            let url = db.url_string();
            let mut argv = vec!["--database-url", url.as_str(), "status", "--json"];
            argv.extend(args.iter().copied());
            let run = calsync(&argv, &[]);
            assert_eq!(run.code, 0, "{}", run.stderr);
            let streamed: Vec<&str> = run.stdout.lines().collect();
            let paged = paged_json_lines(&store, sort).await;
            assert_eq!(paged.len(), 1310);
            assert_eq!(streamed, paged, "{args:?}");
        }
        // A limit above one batch stops exactly there.
        let url = db.url_string();
        let run = calsync(&["--database-url", &url, "status", "--json", "--limit", "777"], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout.lines().count(), 777);

        // The console's export writes the same rows, in the same order.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("every.json");
        let said = calsync::jobs::export::export_rows(
            &store,
            Filter::default(),
            "json",
            Some(file.to_string_lossy().into_owned()),
        )
        .await
        .unwrap();
        assert!(said.ends_with("(1310 rows)"), "{said}");
        let exported = std::fs::read_to_string(&file).unwrap();
        let exported: Vec<&str> = exported.lines().collect();
        assert_eq!(exported, paged_json_lines(&store, Sort::default()).await);
    }
}

on_both_backends! {
    async fn the_csv_export_carries_every_json_key_as_its_column(backend: Backend) {
        let db = with_many_rows(backend).await;
        let store = db.store().await;
        let dir = tempfile::tempdir().unwrap();
        let export = |format: &'static str| {
            let file = dir.path().join(format!("every.{format}"));
            let store = store.clone();
            async move {
                calsync::jobs::export::export_rows(
                    &store,
                    Filter::default(),
                    format,
                    Some(file.to_string_lossy().into_owned()),
                )
                .await
                .unwrap();
                std::fs::read_to_string(&file).unwrap()
            }
        };
        let json = export("json").await;
        let csv = export("csv").await;
        let mut records = csv::Reader::from_reader(csv.as_bytes());
        let header: Vec<String> = records.headers().unwrap().iter().map(String::from).collect();
        let records: Vec<csv::StringRecord> = records.records().map(Result::unwrap).collect();
        let lines: Vec<serde_json::Value> =
            json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(records.len(), 1310);
        assert_eq!(records.len(), lines.len());
        for (record, line) in records.iter().zip(&lines) {
            for (column, field) in header.iter().zip(record.iter()) {
                // The CSV has no null (an empty field) and defuses a leading formula sign.
                let want = match &line[column.as_str()] {
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::String(text) if text.starts_with(['=', '+', '-', '@']) => {
                        format!("'{text}")
                    }
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                assert_eq!(field, want, "{column} of {line}");
            }
        }
    }
}
