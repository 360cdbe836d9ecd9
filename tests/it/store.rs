//! The store, specified once and run against a real SQLite file and a real PostgreSQL database.

use calsync::domain::{
    Cause, Cursor, CursorKey, Filter, PageRequest, Scope, Selection, Sort, SortKey, SyncState,
    SyncWrite, WriteOutcome,
};
use calsync::store::{Store, StoreError, StoreOptions};
use chrono::{TimeZone, Utc};

use crate::on_both_backends;
use crate::support::{Backend, LONG_ERROR_LEN, TestDb};

async fn ids(store: &Store, filter: Filter) -> Vec<i64> {
    let request = PageRequest {
        filter,
        sort: Sort::by(SortKey::Id, false),
        after: None,
        limit: 100,
    };
    store
        .page(&request)
        .await
        .expect("page")
        .rows
        .iter()
        .map(|s| s.id)
        .collect()
}

fn states(states: &[SyncState]) -> Filter {
    Filter {
        states: states.to_vec(),
        ..Filter::default()
    }
}

on_both_backends! {
    async fn every_state_is_derived_like_the_lms_pages(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        assert_eq!(ids(&store, states(&[SyncState::Added])).await, vec![1, 8]);
        assert_eq!(ids(&store, states(&[SyncState::AddedStaleError])).await, vec![3]);
        assert_eq!(ids(&store, states(&[SyncState::Failed])).await, vec![2, 7, 9]);
        assert_eq!(ids(&store, states(&[SyncState::Interrupted])).await, vec![4]);
        assert_eq!(ids(&store, states(&[SyncState::NotSynced])).await, vec![5, 6, 10]);

        let counts = store.summary(&Filter::default()).await.unwrap();
        assert_eq!(
            (counts.added, counts.added_stale_error, counts.failed, counts.interrupted, counts.not_synced),
            (2, 1, 3, 1, 3)
        );
        assert_eq!(counts.total(), 10);

        // Each row's own derivation agrees with the SQL's.
        for state in SyncState::ALL {
            let page = store
                .page(&PageRequest { filter: states(&[state]), sort: Sort::default(), after: None, limit: 50 })
                .await
                .unwrap();
            assert!(page.rows.iter().all(|s| s.state() == state), "{state}");
        }
    }
}

on_both_backends! {
    async fn empty_and_null_errors_both_mean_no_error(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let interrupted = store.selection(4).await.unwrap().unwrap();
        assert_eq!(interrupted.sync.error.as_deref(), Some(""));
        assert_eq!(interrupted.sync.error_text(), None);
        assert_eq!(interrupted.state(), SyncState::Interrupted);
        assert_eq!(store.selection(8).await.unwrap().unwrap().state(), SyncState::Added);
        assert_eq!(store.selection(6).await.unwrap().unwrap().state(), SyncState::NotSynced);
    }
}

on_both_backends! {
    async fn the_lms_command_scopes_select_the_same_rows(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let scope = |scope| Filter { scope: Some(scope), ..Filter::default() };
        // unsynced = not added; failed = not added and attempted; all = everything.
        assert_eq!(ids(&store, scope(Scope::Unsynced)).await, vec![2, 4, 5, 6, 7, 9, 10]);
        assert_eq!(ids(&store, scope(Scope::Failed)).await, vec![2, 4, 7, 9]);
        assert_eq!(ids(&store, scope(Scope::All)).await.len(), 10);
    }
}

on_both_backends! {
    async fn every_filter_narrows_and_they_combine(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let f = Filter::default;
        assert_eq!(ids(&store, Filter { conference_id: Some(1), ..f() }).await, vec![1, 2, 3]);
        assert_eq!(ids(&store, Filter { slot_id: Some(3), ..f() }).await, vec![4, 5, 9]);
        assert_eq!(ids(&store, Filter { user_id: Some(5), ..f() }).await, vec![5, 8, 10]);
        assert_eq!(ids(&store, Filter { selection_ids: vec![9, 2, 77], ..f() }).await, vec![2, 9]);
        // Case-insensitive over username, full name and email.
        assert_eq!(ids(&store, Filter { person: Some("ann@x".into()), ..f() }).await, vec![5, 8, 10]);
        assert_eq!(ids(&store, Filter { person: Some("INES TUTOR".into()), ..f() }).await, vec![1, 3]);
        assert_eq!(ids(&store, Filter { person: Some("llearn".into()), ..f() }).await, vec![2, 9]);
        // Free text also covers the conference title and the error.
        assert_eq!(ids(&store, Filter { text: Some("zoom clinic".into()), ..f() }).await, vec![4, 5, 6, 7, 9, 10]);
        assert_eq!(ids(&store, Filter { text: Some("teams integration".into()), ..f() }).await, vec![9]);
        assert_eq!(ids(&store, Filter { role: Some("Instructor".into()), ..f() }).await, vec![1, 3]);
        assert_eq!(ids(&store, Filter { platform: Some("google_meet".into()), ..f() }).await, vec![8]);
        assert_eq!(ids(&store, Filter { error: Some("404 CLIENT".into()), ..f() }).await, vec![2]);
        assert_eq!(ids(&store, Filter { error: Some("会議".into()), ..f() }).await, vec![7]);
        let at = |d, h| Utc.with_ymd_and_hms(2025, 12, d, h, 0, 0).unwrap();
        assert_eq!(
            ids(&store, Filter { attempted_since: Some(at(3, 0)), attempted_until: Some(at(5, 0)), ..f() }).await,
            vec![4, 8]
        );
        // A wildcard typed by the operator is literal.
        assert!(ids(&store, Filter { text: Some("%".into()), ..f() }).await.is_empty());
        // Combinations intersect.
        let combined = Filter {
            states: vec![SyncState::Failed, SyncState::Interrupted],
            conference_id: Some(2),
            person: Some("zoë".into()),
            ..f()
        };
        assert_eq!(ids(&store, combined.clone()).await, vec![4, 7]);
        assert_eq!(store.count(&combined).await.unwrap(), 2);
        assert_eq!(store.summary(&combined).await.unwrap().total(), 2);
    }
}

/// Walks every page and returns the ids in order.
async fn walk(store: &Store, sort: Sort, limit: u32) -> (Vec<i64>, usize) {
    let mut request = PageRequest {
        filter: Filter::default(),
        sort,
        after: None,
        limit,
    };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = store.page(&request).await.unwrap();
        pages += 1;
        assert!(page.rows.len() <= limit as usize);
        seen.extend(page.rows.iter().map(|s| s.id));
        match page.next {
            Some(next) => request.after = Some(next),
            None => break,
        }
    }
    (seen, pages)
}

on_both_backends! {
    async fn paging_by_key_crosses_page_boundaries_without_gaps(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let newest_first = Sort::by(SortKey::SelectedAt, true);
        let (ids, pages) = walk(&store, newest_first, 3).await;
        assert_eq!(ids, vec![10, 7, 6, 9, 8, 5, 4, 3, 2, 1]);
        assert_eq!(pages, 4);
        let (ids, _) = walk(&store, Sort::by(SortKey::SelectedAt, false), 4).await;
        assert_eq!(ids, vec![1, 2, 3, 4, 5, 8, 9, 6, 7, 10]);
        let (ids, _) = walk(&store, Sort::by(SortKey::Id, false), 3).await;
        assert_eq!(ids, (1..=10).collect::<Vec<_>>());
        // Never-attempted rows come last when the newest attempt is first, and first otherwise.
        let (ids, _) = walk(&store, Sort::by(SortKey::AttemptedAt, true), 2).await;
        assert_eq!(ids, vec![7, 9, 8, 4, 3, 2, 1, 10, 6, 5]);
        let oldest_first = Sort { nulls_first: true, ..Sort::by(SortKey::AttemptedAt, false) };
        let (ids, _) = walk(&store, oldest_first, 2).await;
        assert_eq!(ids, vec![5, 6, 10, 1, 2, 3, 4, 8, 9, 7]);
        // The console keeps them last whichever way the operator sorts.
        let (ids, _) = walk(&store, Sort::by(SortKey::AttemptedAt, false), 2).await;
        assert_eq!(ids, vec![1, 2, 3, 4, 8, 9, 7, 5, 6, 10]);
        // A cursor alone (no offset) says where the next page starts.
        let after = Cursor { key: CursorKey::Id, id: 8 };
        let page = store
            .page(&PageRequest {
                filter: Filter::default(),
                sort: Sort::by(SortKey::Id, false),
                after: Some(after),
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(page.rows.iter().map(|s| s.id).collect::<Vec<_>>(), vec![9, 10]);
        assert!(page.next.is_none());
    }
}

/// The rows' `value` in the order of `sort`, walked two at a time.
async fn walked_values(store: &Store, sort: Sort, value: fn(&Selection) -> String) -> Vec<String> {
    let (ids, _) = walk(store, sort, 2).await;
    let mut values = Vec::new();
    for id in ids {
        values.push(value(&store.selection(id).await.unwrap().unwrap()));
    }
    values
}

on_both_backends! {
    async fn the_console_sorts_by_email_name_conference_and_error_page_by_page(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        for key in [SortKey::Email, SortKey::Person, SortKey::Conference, SortKey::Error] {
            for descending in [false, true] {
                let sort = Sort::by(key, descending);
                let (paged, _) = walk(&store, sort, 2).await;
                let (whole, pages) = walk(&store, sort, 100).await;
                assert_eq!(pages, 1);
                assert_eq!(paged, whole, "{key:?} descending={descending}: pages join without gaps");
                let (mut backwards, _) = walk(&store, sort.reversed(), 3).await;
                backwards.reverse();
                assert_eq!(backwards, whole, "{key:?}: read from the end, the same rows reversed");
            }
        }
        // Fixture emails differ in their first letters, so every collation agrees on them.
        let emails = walked_values(&store, Sort::by(SortKey::Email, false), |s| s.email.clone()).await;
        let mut sorted = emails.clone();
        sorted.sort_by_key(|e| e.to_lowercase());
        assert_eq!(emails, sorted);
        // Rows without an error come last in both directions.
        for descending in [false, true] {
            let errors = walked_values(&store, Sort::by(SortKey::Error, descending), |s| {
                s.sync.error_text().unwrap_or("").to_string()
            })
            .await;
            let first_empty = errors.iter().position(String::is_empty).unwrap();
            assert!(errors[first_empty..].iter().all(String::is_empty), "{errors:?}");
            assert!(first_empty > 0, "{errors:?}");
        }
        // The name shown: the username stands in for an empty name.
        let names = walked_values(&store, Sort::by(SortKey::Person, false), Selection::person_name).await;
        assert!(names.contains(&"noemail".to_string()), "{names:?}");
    }
}

on_both_backends! {
    async fn django_datetimes_are_read_with_and_without_microseconds(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let one = store.selection(1).await.unwrap().unwrap();
        assert_eq!(one.sync.attempted_at.unwrap().to_rfc3339(), "2025-11-21T09:00:01.250+00:00");
        assert_eq!(one.selected_at.to_rfc3339(), "2025-11-21T09:00:00.812345+00:00");
        let two = store.selection(2).await.unwrap().unwrap();
        assert_eq!(two.sync.attempted_at.unwrap().to_rfc3339(), "2025-12-01T09:15:04+00:00");
        let seven = store.selection(7).await.unwrap().unwrap();
        assert_eq!(seven.sync.attempted_at.unwrap().to_rfc3339(), "2025-12-06T08:00:00.000001+00:00");
        assert_eq!(one.slot_date.to_string(), "2025-12-15");
        assert_eq!(one.slot_start.to_string(), "10:00:00");
        assert_eq!(one.timezone, "Europe/London");
    }
}

on_both_backends! {
    async fn unicode_and_very_long_errors_survive_intact(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let seven = store.selection(7).await.unwrap().unwrap();
        let error = seven.sync.error_text().unwrap();
        assert!(error.starts_with("Échec: ErrorInvalidUser — 会議 "));
        assert_eq!(error.chars().count(), LONG_ERROR_LEN);
        let four = store.selection(4).await.unwrap().unwrap();
        assert_eq!(four.person_name(), "Zoë Ünal");
        // Django's get_full_name() falls back to the username.
        assert_eq!(store.selection(6).await.unwrap().unwrap().person_name(), "noemail");
    }
}

on_both_backends! {
    async fn a_success_is_written_in_djangos_formats(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let before = store.selection(2).await.unwrap().unwrap();
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::microseconds(6);
        let write = SyncWrite::Success { outlook_event_id: "AAMkAGnew=".into(), at };
        assert_eq!(store.write_sync(2, &write, &before.sync).await.unwrap(), WriteOutcome::Written);
        let after = store.selection(2).await.unwrap().unwrap();
        assert_eq!(after.state(), SyncState::Added);
        assert_eq!(after.sync.outlook_event_id.as_deref(), Some("AAMkAGnew="));
        assert_eq!(after.sync.attempted_at, Some(at));
        assert_eq!(after.sync.error, None, "calsync clears the old error on success");
        let stored = db
            .scalar_text(match backend {
                Backend::Sqlite => "SELECT calendar_add_attempted_at || '|' || calendar_added FROM conferences_conferencetimeslotselection WHERE id = 2",
                Backend::Postgres => "SELECT calendar_add_attempted_at::text || '|' || calendar_added::text FROM conferences_conferencetimeslotselection WHERE id = 2",
            })
            .await
            .unwrap();
        match backend {
            Backend::Sqlite => assert_eq!(stored, "2026-01-02 03:04:05.000006|1"),
            Backend::Postgres => assert_eq!(stored, "2026-01-02 03:04:05.000006+00|true"),
        }
        // Whole seconds are written without a fraction, as Django does.
        let failure = SyncWrite::Failure {
            error: "Graph 404 ErrorInvalidUser".into(),
            at: Utc.with_ymd_and_hms(2026, 1, 3, 0, 0, 0).unwrap(),
        };
        assert_eq!(store.write_sync(5, &failure, &store.selection(5).await.unwrap().unwrap().sync).await.unwrap(), WriteOutcome::Written);
        if backend == Backend::Sqlite {
            let stored = db
                .scalar_text("SELECT calendar_add_attempted_at FROM conferences_conferencetimeslotselection WHERE id = 5")
                .await;
            assert_eq!(stored.as_deref(), Some("2026-01-03 00:00:00"));
        }
        let five = store.selection(5).await.unwrap().unwrap();
        assert_eq!(five.state(), SyncState::Failed);
        assert_eq!(five.sync.outlook_event_id, None);
    }
}

on_both_backends! {
    async fn a_row_the_lms_changed_since_it_was_read_is_not_clobbered(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let read = store.selection(2).await.unwrap().unwrap();
        // Meanwhile the LMS retries the row itself.
        db.exec(
            "UPDATE conferences_conferencetimeslotselection SET calendar_added = TRUE, \
             outlook_event_id = 'AAMkAGfromLMS=', calendar_add_attempted_at = '2025-12-09 10:00:00' WHERE id = 2",
        )
        .await;
        let write = SyncWrite::Failure { error: "stale view".into(), at: Utc::now() };
        assert_eq!(store.write_sync(2, &write, &read.sync).await.unwrap(), WriteOutcome::Conflict);
        let now = store.selection(2).await.unwrap().unwrap();
        assert_eq!(now.sync.outlook_event_id.as_deref(), Some("AAMkAGfromLMS="));
        assert!(now.sync.calendar_added);
        // A deleted row is a conflict too, not an error.
        assert_eq!(store.write_sync(999, &write, &read.sync).await.unwrap(), WriteOutcome::Conflict);
        // With a fresh read the write lands; '' errors and microsecond times match exactly.
        let four = store.selection(4).await.unwrap().unwrap();
        assert_eq!(store.write_sync(4, &write, &four.sync).await.unwrap(), WriteOutcome::Written);
        let seven = store.selection(7).await.unwrap().unwrap();
        assert_eq!(store.write_sync(7, &write, &seven.sync).await.unwrap(), WriteOutcome::Written);
    }
}

on_both_backends! {
    async fn conferences_and_slots_carry_counts_per_state(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let conferences = store.conferences().await.unwrap();
        assert_eq!(conferences.iter().map(|c| c.id).collect::<Vec<_>>(), vec![2, 3, 1]);
        let zoom = &conferences[0];
        assert_eq!(zoom.slot_count, 2);
        assert_eq!((zoom.counts.failed, zoom.counts.interrupted, zoom.counts.not_synced), (2, 1, 3));
        assert!(!conferences[1].use_time_slots);
        let slots = store.slots(1).await.unwrap();
        assert_eq!(slots.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!((slots[0].counts.added, slots[0].counts.failed), (1, 1));
        assert_eq!((slots[0].current_participants, slots[0].max_participants), (3, 20));
        assert_eq!(slots[1].meeting_link.as_deref(), Some(""));
        assert_eq!(store.mismatched_conferences().await.unwrap(), vec![(10, 2, 1)]);
        let zones: Vec<String> = store.slot_zones().await.unwrap().into_iter().map(|(z, _)| z).collect();
        assert!(zones.contains(&"Foo/Bar".to_string()));
    }
}

on_both_backends! {
    async fn integrations_are_listed_without_their_secrets(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let integrations = store.integrations().await.unwrap();
        assert_eq!(integrations.len(), 1);
        let shown = format!("{:?} {}", integrations[0], integrations[0].masked_secret());
        assert!(!shown.contains("fixture-secret-not-real"));
        assert!(integrations[0].has_secret);
        assert_eq!(integrations[0].masked_secret(), "••••••••", "the same mask whatever the length");
        assert_eq!(integrations[0].owner_branch_name.as_deref(), Some("North Campus"));
        assert!(store.can_write().await);
    }
}

async fn open_error(db: &TestDb) -> StoreError {
    match Store::open(&db.url(), &StoreOptions::default()).await {
        Ok(_) => panic!("expected the schema check to refuse this database"),
        Err(e) => e,
    }
}

on_both_backends! {
    async fn a_missing_table_is_named(backend: Backend) {
        let db = TestDb::blank(backend).await;
        let err = open_error(&db).await;
        assert!(err.is_fatal_setup());
        assert_eq!(
            err.to_string(),
            "database has no table conferences_conferencetimeslotselection — is this the LMS database?"
        );
    }
}

on_both_backends! {
    async fn a_missing_column_is_named(backend: Backend) {
        let db = TestDb::empty(backend).await;
        db.exec("ALTER TABLE conferences_conferencetimeslotselection DROP COLUMN calendar_error").await;
        let err = open_error(&db).await;
        assert!(err.to_string().starts_with(
            "table conferences_conferencetimeslotselection has no column calendar_error"
        ), "{err}");
    }
}

on_both_backends! {
    async fn extra_columns_and_another_column_order_are_fine(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        db.exec("ALTER TABLE conferences_conferencetimeslotselection ADD COLUMN reminder_sent boolean NULL").await;
        // Rebuild the slot table with its columns in reverse order, as a Django migration might.
        db.exec(
            "CREATE TABLE slot_copy AS SELECT online_meeting_id, conference_id, updated_at, created_at, \
             is_available, meeting_password, meeting_id, meeting_link, current_participants, \
             max_participants, timezone, end_time, start_time, date, id FROM conferences_conferencetimeslot; \
             ALTER TABLE conferences_conferencetimeslot RENAME TO slot_old; \
             ALTER TABLE slot_copy RENAME TO conferences_conferencetimeslot;",
        )
        .await;
        let store = db.store().await;
        let one = store.selection(1).await.unwrap().unwrap();
        assert_eq!(one.slot_start.to_string(), "10:00:00");
        assert_eq!(one.timezone, "Europe/London");
        assert_eq!(store.summary(&Filter::default()).await.unwrap().total(), 10);
    }
}

#[tokio::test]
async fn sslmode_require_really_encrypts_the_session() {
    let db = TestDb::with_fixture(Backend::Postgres).await;
    let url = db
        .url_string()
        .replace("sslmode=disable", "sslmode=require");
    let store = Store::open(
        &calsync::store::DatabaseUrl::parse(&url).unwrap(),
        &StoreOptions::default(),
    )
    .await
    .expect("TLS connection (the server needs ssl = on; see .ci/postgres-setup)");
    assert_eq!(store.count(&Filter::default()).await.unwrap(), 10);
    let name = db.pg_name();
    let encrypted = db
        .scalar_text(&format!(
            "SELECT bool_and(s.ssl)::text FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = 'calsync' AND a.datname = '{name}'"
        ))
        .await;
    assert_eq!(encrypted.as_deref(), Some("true"));
}

on_both_backends! {
    async fn many_results_are_written_in_one_transaction_each_row_guarded(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let at = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
        let two = store.selection(2).await.unwrap().unwrap();
        let five = store.selection(5).await.unwrap().unwrap();
        let mut stale = store.selection(9).await.unwrap().unwrap();
        stale.sync.error = Some("not what the row holds".into());
        let outcomes = store
            .write_sync_many(&[
                (2, SyncWrite::Success { outlook_event_id: "AAMkAGa=".into(), at }, two.sync, vec![]),
                (5, SyncWrite::Failure { error: "Graph 404 ErrorInvalidUser".into(), at }, five.sync, vec![]),
                (9, SyncWrite::Failure { error: "lost".into(), at }, stale.sync, vec![]),
            ])
            .await
            .unwrap();
        assert_eq!(outcomes, vec![WriteOutcome::Written, WriteOutcome::Written, WriteOutcome::Conflict]);
        assert_eq!(store.selection(2).await.unwrap().unwrap().state(), SyncState::Added);
        assert_eq!(store.selection(5).await.unwrap().unwrap().state(), SyncState::Failed);
        assert_eq!(
            store.selection(9).await.unwrap().unwrap().sync.error_text(),
            Some("No Teams integration available")
        );
    }
}

on_both_backends! {
    async fn credentials_are_found_the_way_the_lms_finds_them(backend: Backend) {
        use calsync::domain::{CredentialSource, choose_credentials};
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let active = store.active_credentials().await.unwrap();
        assert!(!format!("{active:?}").contains("fixture-secret-not-real"));
        // Lea is in North Campus, where the integration's owner (Nora) is.
        let (found, why) = choose_credentials(&active, 3, Some(1)).unwrap();
        assert_eq!(found.integration_name, "North Campus Teams");
        assert_eq!(found.client_secret, "fixture-secret-not-real");
        assert_eq!(why, CredentialSource::OwnerInUsersBranch);
        // Nobody in South Campus owns an integration: none, as in the LMS.
        assert!(choose_credentials(&active, 4, Some(2)).is_none());
        // A user who owns an integration finds it even without a branch.
        db.exec("UPDATE account_settings_teamsintegration SET user_id = 6 WHERE id = 1").await;
        let active = store.active_credentials().await.unwrap();
        assert_eq!(choose_credentials(&active, 6, None).unwrap().1, CredentialSource::OwnedByUser);
        // The integration's own branch_id is ignored, like the LMS ignores it.
        assert!(choose_credentials(&active, 3, Some(1)).is_none());
        // Inactive integrations are never used.
        db.exec("UPDATE account_settings_teamsintegration SET is_active = FALSE").await;
        assert!(store.active_credentials().await.unwrap().is_empty());
    }
}

on_both_backends! {
    async fn a_run_freezes_its_ids_newest_selection_first(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        let failed = Filter { scope: Some(Scope::Failed), ..Filter::default() };
        assert_eq!(store.selection_ids(&failed).await.unwrap(), vec![7, 9, 4, 2]);
    }
}

// ----- failure causes ------------------------------------------------------------------------

fn causes(causes: &[Cause]) -> Filter {
    Filter {
        causes: causes.to_vec(),
        ..Filter::default()
    }
}

on_both_backends! {
    async fn failures_are_counted_by_cause_in_the_database(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        // Failed: 2 (the LMS's lossy 404), 7 (ErrorInvalidUser), 9 (no Teams integration).
        // Row 3's old 429 is not counted: the row was added.
        assert_eq!(
            store.cause_counts(&Filter::default()).await.unwrap(),
            vec![(Cause::UnknownUser, 2), (Cause::Credentials, 1)]
        );
        // Equal counts keep the order of Cause::ALL.
        let zoom = Filter { conference_id: Some(2), ..Filter::default() };
        assert_eq!(
            store.cause_counts(&zoom).await.unwrap(),
            vec![(Cause::UnknownUser, 1), (Cause::Credentials, 1)]
        );
        // Filters that need the user and conference tables combine with the grouping.
        let zoe = Filter { person: Some("zoë".into()), ..Filter::default() };
        assert_eq!(store.cause_counts(&zoe).await.unwrap(), vec![(Cause::UnknownUser, 1)]);
        assert_eq!(
            store.cause_counts(&causes(&[Cause::Credentials])).await.unwrap(),
            vec![(Cause::Credentials, 1)]
        );
        assert!(store.cause_counts(&states(&[SyncState::Added])).await.unwrap().is_empty());
    }
}

on_both_backends! {
    async fn selections_are_filtered_by_one_or_several_causes(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        assert_eq!(ids(&store, causes(&[Cause::UnknownUser])).await, vec![2, 7]);
        assert_eq!(ids(&store, causes(&[Cause::Credentials])).await, vec![9]);
        // Any row with an error text has a cause, including an added row's stale error.
        assert_eq!(ids(&store, causes(&[Cause::Throttled])).await, vec![3]);
        assert_eq!(ids(&store, causes(&[Cause::Credentials, Cause::Throttled])).await, vec![3, 9]);
        // Rows without an error text ('' or NULL) never match, not even as `other`.
        assert!(ids(&store, causes(&[Cause::Other])).await.is_empty());
        assert!(ids(&store, causes(&[Cause::NoMailbox, Cause::Network])).await.is_empty());
        let failed_throttled = Filter {
            states: vec![SyncState::Failed],
            ..causes(&[Cause::Throttled])
        };
        assert!(ids(&store, failed_throttled).await.is_empty());
        assert_eq!(store.count(&causes(&Cause::ALL)).await.unwrap(), 4);
    }
}

/// Error texts in calsync's and the LMS's formats, plus the awkward ones: case, a Kelvin sign
/// (Unicode folds it to `k`, SQLite's LIKE does not), LIKE wildcards, quotes and whitespace.
fn extra_error_texts() -> Vec<String> {
    let url = "https://graph.microsoft.com/v1.0/users/jane@example.org/calendar/events";
    let mut texts: Vec<String> = [
        "Graph 404 ErrorInvalidUser: The requested user 'ghost@contoso.com' is invalid. (request-id 6d2f1c3e-0b1a-4c5d-9e8f-7a6b5c4d3e2f)",
        "No mailbox for visitor@guests.example (MailboxNotEnabledForRESTAPI) — the user needs an Exchange Online licence (or is a guest/on-premises user) (request-id 0f1e2d3c)",
        "Token acquisition failed: AADSTS7000215 invalid client secret for app c1d0 in tenant contoso.onmicrosoft.com — the integration's client secret is wrong or expired",
        "Throttled by Graph for ann@contoso.com: still throttled after 6 attempts (Retry-After 30 s)",
        "Network error talking to Graph: timed out after 30 s",
        "Network error talking to the Microsoft login service: could not connect (connection refused)",
        "Create in ann@contoso.com may or may not have happened (Graph 504 GatewayTimeout: upstream) — look the event up by its tag before creating it again",
        "Graph 403 ErrorAccessDenied: Access is denied. Check credentials and try again. — the app lacks Calendars.ReadWrite (application) admin consent",
        "Graph 400 TimeZoneNotSupportedException: A valid TimeZone value must be specified. The following TimeZone value is not supported: 'Foo/Bar'.",
        "Graph 404 ErrorItemNotFound: The specified object was not found in the store. — the event no longer exists in ann@contoso.com's calendar",
        "No Teams integration available (none active is owned by someone in branch 'South Campus' or by zunal)",
        "User email address is required for calendar integration",
        "Slot 4: unknown time zone 'Foo/Bar' (not an IANA zone name) — fix the slot in the LMS",
        "Slot 4: slot ends at 09:00:00 before it starts at 10:00:00 — fix the slot in the LMS",
        "API request failed: HTTPSConnectionPool(host='graph.microsoft.com', port=443): Read timed out. (read timeout=30)",
        "Token acquisition error: Token acquisition failed: AADSTS7000215: Invalid client secret provided. Trace ID: 1a2b Correlation ID: 5e6f Timestamp: 2025-12-01 09:15:04Z",
        "Unable to get authority configuration for https://login.microsoftonline.com/nope. Authority would typically be in a format of https://login.microsoftonline.com/your_tenant",
        "API request failed: 403 - PROTECTED API REQUIRED for endpoint users/jane@example.org/calendar/events",
        "'Foo/Bar'",
        "'Eastern Standard Time'",
        "Failed to create calendar event",
        "The user 'jane@example.org' does not exist in Azure AD or doesn't have a mailbox",
        "NO MAILBOX FOR ANN@X.ORG",
        "Graph 404 ERRORINVALIDUSER",
        "Networ\u{212a} error talking to Graph",
        "'",
        "'Foo/Bar' ",
        " ",
        "100% of 50_x failed\\",
        "multi\nline\nRead timed out.",
    ]
    .iter()
    .map(|t| t.to_string())
    .collect();
    for (status, reason, kind) in [
        (429, "Too Many Requests", "Client"),
        (503, "Service Unavailable", "Server"),
        (401, "Unauthorized", "Client"),
        (404, "Not Found", "Client"),
    ] {
        texts.push(format!(
            "API request failed: {status} {kind} Error: {reason} for url: {url}"
        ));
    }
    texts.push(format!(
        "API request failed: 400 Client Error: Bad Request \u{1b}[31mfor url\u{1b}[0m: {url} — détails: {}",
        "x".repeat(2600)
    ));
    texts
}

on_both_backends! {
    async fn rust_and_sql_read_every_error_text_as_the_same_cause(backend: Backend) {
        use calsync::domain::diagnosis::failure_cause;
        let db = TestDb::with_fixture(backend).await;
        let texts = extra_error_texts();
        // One new slot per text (a user selects a slot once), then a failed selection of it.
        let mut sql = String::new();
        for i in 0..texts.len() {
            sql.push_str(&format!(
                "INSERT INTO conferences_conferencetimeslot (id, date, start_time, end_time, timezone, \
                 max_participants, current_participants, meeting_link, meeting_id, meeting_password, \
                 is_available, created_at, updated_at, conference_id, online_meeting_id) VALUES \
                 ({slot}, '2026-02-01', '00:{i:02}:00', '23:59:00', 'UTC', 0, 1, '', '', '', TRUE, \
                 '2025-11-20 14:35:00', '2025-11-20 14:35:00', 1, NULL); \
                 INSERT INTO conferences_conferencetimeslotselection (id, outlook_event_id, calendar_added, \
                 calendar_add_attempted_at, calendar_error, selected_at, ip_address, conference_id, \
                 time_slot_id, user_id) VALUES ({id}, NULL, FALSE, NULL, NULL, '2025-12-10 10:00:00', \
                 NULL, 1, {slot}, 2);",
                slot = 100 + i,
                id = 200 + i,
            ));
        }
        db.exec(&sql).await;
        let store = db.store().await;
        let at = Utc.with_ymd_and_hms(2026, 2, 2, 0, 0, 0).unwrap();
        let writes: Vec<_> = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let id = 200 + i as i64;
                let failure = SyncWrite::Failure { error: text.clone(), at };
                (id, failure, calsync::domain::SyncColumns::default(), vec![])
            })
            .collect();
        let outcomes = store.write_sync_many(&writes).await.unwrap();
        assert!(outcomes.iter().all(|o| *o == WriteOutcome::Written));

        let all = store
            .page(&PageRequest {
                filter: Filter::default(),
                sort: Sort::by(SortKey::Id, false),
                after: None,
                limit: 1000,
            })
            .await
            .unwrap()
            .rows;
        assert_eq!(all.len(), 10 + texts.len());
        let read_in_rust = |cause: Cause| -> Vec<i64> {
            all.iter()
                .filter(|s| failure_cause(s.sync.error.as_deref()) == Some(cause))
                .map(|s| s.id)
                .collect()
        };
        for cause in Cause::ALL {
            let expected = read_in_rust(cause);
            // The texts cover every cause, so no comparison is vacuous.
            assert!(!expected.is_empty(), "no text reads as {cause}");
            assert_eq!(ids(&store, causes(&[cause])).await, expected, "{cause}");
        }
        // And so do the counts of failures per cause.
        let mut in_rust: Vec<(Cause, u64)> = Cause::ALL
            .into_iter()
            .map(|cause| {
                let failed = all
                    .iter()
                    .filter(|s| s.state() == SyncState::Failed)
                    .filter(|s| failure_cause(s.sync.error.as_deref()) == Some(cause))
                    .count() as u64;
                (cause, failed)
            })
            .filter(|(_, n)| *n > 0)
            .collect();
        in_rust.sort_by_key(|&(cause, n)| (std::cmp::Reverse(n), cause));
        assert_eq!(store.cause_counts(&Filter::default()).await.unwrap(), in_rust);
    }
}

#[tokio::test]
async fn a_role_that_cannot_update_selections_is_detected_as_read_only() {
    let db = TestDb::with_fixture(Backend::Postgres).await;
    let name = db.pg_name().to_string();
    db.exec(&format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'calsync_reader') \
         THEN CREATE ROLE calsync_reader LOGIN; END IF; END $$; \
         GRANT CONNECT ON DATABASE {name} TO calsync_reader; \
         GRANT USAGE ON SCHEMA public TO calsync_reader; \
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO calsync_reader;"
    ))
    .await;
    let url = format!("postgres://calsync_reader@127.0.0.1:5432/{name}?sslmode=disable");
    let reader = Store::open(
        &calsync::store::DatabaseUrl::parse(&url).unwrap(),
        &StoreOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        reader.count(&Filter::default()).await.unwrap(),
        10,
        "it can read"
    );
    assert!(
        !reader.can_write().await,
        "but the console must go read-only"
    );
    assert!(db.store().await.can_write().await);
    // Revoke before the scratch database is dropped, so the role can go with it next time.
    db.exec("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM calsync_reader; REVOKE USAGE ON SCHEMA public FROM calsync_reader;").await;
}

on_both_backends! {
    async fn people_are_found_by_any_part_of_them_exact_handles_first(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        db.exec(
            "INSERT INTO users_customuser (id, password, last_login, is_superuser, username, first_name, \
             last_name, email, is_staff, is_active, date_joined, role, language, timezone, is_non_uk_address, \
             initial_assessment_english, initial_assessment_maths, initial_assessment_subject_specific, \
             initial_assessment_other, diagnostic_assessment_english, diagnostic_assessment_maths, \
             diagnostic_assessment_subject_specific, diagnostic_assessment_other, functional_skills_english, \
             functional_skills_maths, functional_skills_other, branch_id) VALUES (7, '!unusable', NULL, FALSE, \
             'other', 'Otto', 'Her', 'otto@example.org', FALSE, TRUE, '2025-10-06 09:00:00', 'learner', 'en', \
             'UTC', FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, FALSE, NULL)",
        )
        .await;
        let store = db.store().await;
        let found = store.person_matches("OTHER", 10).await.unwrap();
        let handles: Vec<&str> = found.iter().map(|p| p.username.as_str()).collect();
        assert_eq!(handles, ["other", "aother"], "the exact username first, then by username");
        assert_eq!(found[1].name, "Ann Other");
        assert_eq!(found[1].email, "Ann@X.org");
        // Part of a full name with letters beyond ASCII, in another case.
        let zoe = store.person_matches("ünal", 10).await.unwrap();
        assert_eq!(zoe.iter().map(|p| p.id).collect::<Vec<_>>(), [4]);
        assert_eq!(zoe[0].name, "Zoë Ünal");
        // LIKE wildcards are text, and the limit holds.
        assert!(store.person_matches("%", 10).await.unwrap().is_empty());
        assert_eq!(store.person_matches("e", 2).await.unwrap().len(), 2);
    }
}

on_both_backends! {
    async fn rows_a_run_would_skip_are_counted_apart(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let store = db.store().await;
        // Selection 8 belongs to conference 3, which no longer uses time slots.
        assert_eq!(store.count_without_time_slots(&Filter::default()).await.unwrap(), 1);
        let failed = Filter { states: vec![SyncState::Failed], ..Filter::default() };
        assert_eq!(store.count_without_time_slots(&failed).await.unwrap(), 0);
        let three = Filter { conference_id: Some(3), ..Filter::default() };
        assert_eq!(store.count_without_time_slots(&three).await.unwrap(), 1);
    }
}
