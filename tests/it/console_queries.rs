//! The console's queries (state counts, causes, filter pages and counts), written for speed on a
//! million rows (semi-joins, error texts classified in Rust, several read connections), give
//! the answers that reading every row and deciding in Rust gives. Both backends.

use calsync::domain::diagnosis::failure_cause;
use calsync::domain::{
    Cause, Filter, PageRequest, Selection, Sort, SortKey, StateCounts, SyncState,
};
use calsync::store::Store;

use crate::on_both_backends;
use crate::support::{TestDb, is_person, is_text};

async fn every_row(store: &Store) -> Vec<Selection> {
    let request = PageRequest {
        filter: Filter::default(),
        sort: Sort::by(SortKey::Id, false),
        after: None,
        limit: 1000,
    };
    store.page(&request).await.expect("page").rows
}

fn newest_first(filter: &Filter) -> PageRequest {
    PageRequest {
        filter: filter.clone(),
        sort: Sort::by(SortKey::SelectedAt, true),
        after: None,
        limit: 50,
    }
}

/// Whether a row belongs in a filter's answer, decided in Rust.
type Meaning = Box<dyn Fn(&Selection) -> bool>;

/// What each filter means, decided in Rust from the rows themselves.
fn filters() -> Vec<(Filter, Meaning)> {
    let person = |p: &str| Filter {
        person: Some(p.to_string()),
        ..Filter::default()
    };
    let text = |t: &str| Filter {
        text: Some(t.to_string()),
        ..Filter::default()
    };
    vec![
        (Filter::default(), Box::new(|_: &Selection| true)),
        // Username, email and full name.
        (
            person("learner"),
            Box::new(|s: &Selection| is_person(s, "learner")),
        ),
        (
            person("ANN@x"),
            Box::new(|s: &Selection| is_person(s, "ann@x")),
        ),
        (person("s t"), Box::new(|s: &Selection| is_person(s, "s t"))),
        // Free text: a person, a conference title or an error text.
        (text("zoom"), Box::new(|s: &Selection| is_text(s, "zoom"))),
        (text("teams"), Box::new(|s: &Selection| is_text(s, "teams"))),
        (text("tutor"), Box::new(|s: &Selection| is_text(s, "tutor"))),
        (text("nobody-at-all"), Box::new(|_: &Selection| false)),
        (
            Filter {
                role: Some("Learner".into()),
                ..Filter::default()
            },
            Box::new(|s: &Selection| s.role == "learner"),
        ),
        (
            Filter {
                platform: Some("zoom".into()),
                ..Filter::default()
            },
            Box::new(|s: &Selection| s.platform == "zoom"),
        ),
        (
            Filter {
                platform: Some("teams".into()),
                text: Some("learner".into()),
                ..Filter::default()
            },
            Box::new(|s: &Selection| s.platform == "teams" && is_text(s, "learner")),
        ),
    ]
}

on_both_backends! {
    async fn counts_causes_and_pages_agree_with_every_row_read_in_rust(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let all = every_row(&store).await;
        assert_eq!(all.len(), 10);
        for (filter, matches) in filters() {
            let matching: Vec<&Selection> = all.iter().filter(|s| matches(s)).collect();
            let mut counts = StateCounts::default();
            for s in &matching {
                let slot = match s.state() {
                    SyncState::Added => &mut counts.added,
                    SyncState::AddedStaleError => &mut counts.added_stale_error,
                    SyncState::Failed => &mut counts.failed,
                    SyncState::Interrupted => &mut counts.interrupted,
                    SyncState::NotSynced => &mut counts.not_synced,
                };
                *slot += 1;
            }
            assert_eq!(store.summary(&filter).await.unwrap(), counts, "{filter:?}");
            assert_eq!(
                store.count(&filter).await.unwrap(),
                matching.len() as u64,
                "{filter:?}"
            );
            let mut newest: Vec<&Selection> = matching.clone();
            newest.sort_by_key(|s| std::cmp::Reverse((s.selected_at, s.id)));
            let page: Vec<i64> = store
                .page(&newest_first(&filter))
                .await
                .unwrap()
                .rows
                .iter()
                .map(|s| s.id)
                .collect();
            assert_eq!(page, newest.iter().map(|s| s.id).collect::<Vec<_>>(), "{filter:?}");

            let mut causes: Vec<(Cause, u64)> = Vec::new();
            for s in matching.iter().filter(|s| s.state() == SyncState::Failed) {
                let Some(cause) = failure_cause(s.sync.error.as_deref()) else { continue };
                match causes.iter_mut().find(|(c, _)| *c == cause) {
                    Some((_, n)) => *n += 1,
                    None => causes.push((cause, 1)),
                }
            }
            causes.sort_by_key(|&(cause, n)| (std::cmp::Reverse(n), cause));
            assert_eq!(store.cause_counts(&filter).await.unwrap(), causes, "{filter:?}");
        }
    }
}

on_both_backends! {
    async fn a_page_and_its_counts_read_side_by_side_give_the_same_answers(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let filter = Filter { person: Some("learner".into()), ..Filter::default() };
        let alone = (
            store.page(&newest_first(&filter)).await.unwrap().rows.len(),
            store.summary(&filter).await.unwrap(),
            store.cause_counts(&Filter::default()).await.unwrap(),
        );
        // Many at once: more than there are read connections, so some wait or share.
        let together = futures::future::join_all((0..8).map(|_| {
            let store = store.clone();
            let filter = filter.clone();
            async move {
                let (request, everything) = (newest_first(&filter), Filter::default());
                let (page, counts, causes) = tokio::join!(
                    store.page(&request),
                    store.summary(&filter),
                    store.cause_counts(&everything),
                );
                (page.unwrap().rows.len(), counts.unwrap(), causes.unwrap())
            }
        }))
        .await;
        assert_eq!(alone.0, 2);
        for answer in together {
            assert_eq!(answer, alone);
        }
        // A write on the writing connection is seen by the next read, whichever serves it.
        db.exec(
            "UPDATE conferences_conferencetimeslotselection SET calendar_error = 'Failed to create calendar event' WHERE id = 9",
        )
        .await;
        let causes = store.cause_counts(&Filter::default()).await.unwrap();
        assert_eq!(causes, vec![(Cause::UnknownUser, 2), (Cause::Other, 1)]);
    }
}

on_both_backends! {
    async fn the_overviews_worst_conferences_are_the_conference_lists_counts(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let mut expected: Vec<(i64, String, u64, u64)> = store
            .conferences()
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.counts.failed > 0)
            .map(|c| (c.id, c.title, c.counts.failed, c.counts.total()))
            .collect();
        expected.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        // Failed: 2 (conference 1), 7 and 9 (conference 2), out of 3 and 6 selections.
        assert_eq!(
            expected,
            vec![(2, "Zoom Clinic".to_string(), 2, 6), (1, "Induction Q&A".to_string(), 1, 3)]
        );
        assert_eq!(store.failures_by_conference().await.unwrap(), expected);
    }
}
