//! Free-text matching ignores case beyond ASCII on both engines: `RÉUNION` finds `réunion`.
//! SQLite's own LIKE folds ASCII letters only; calsync registers its own function on its
//! connection, and the LMS's file is left exactly as it was (schema, journal mode).

use calsync::domain::Filter;

use crate::cli::calsync;
use crate::on_both_backends;
use crate::support::{Backend, TestDb};

on_both_backends! {
    async fn text_filters_fold_letters_beyond_ascii(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        db.exec("UPDATE conferences_conferencetimeslot SET conference_id = 1 WHERE id = 5;
                 UPDATE conferences_conference SET title = 'Réunion d''équipe' WHERE id = 3").await;
        let store = db.store().await;
        let count = |filter: Filter| {
            let store = store.clone();
            async move { store.count(&filter).await.unwrap() }
        };
        let text = |t: &str| Filter { text: Some(t.to_string()), ..Filter::default() };
        // Selection 8 is the only one in conference 3.
        assert_eq!(count(text("RÉUNION")).await, 1);
        assert_eq!(count(text("réunion")).await, 1);
        assert_eq!(count(text("D'ÉQUIPE")).await, 1);
        // Zoë Ünal (user 4) holds selections 4 and 7.
        let person = |t: &str| Filter { person: Some(t.to_string()), ..Filter::default() };
        assert_eq!(count(person("ZOË ÜNAL")).await, 2);
        assert_eq!(count(person("zoë ünal")).await, 2);
        // A person's fields are searched one by one: text running from one into the next
        // (username `itutor`, then email `ines.tutor@…`) matches neither.
        assert_eq!(count(person("itutorines")).await, 0);
        assert_eq!(count(person("ITUTOR")).await, 2);
        // Wildcards in the operator's text stay literal.
        assert_eq!(count(person("Z_Ë")).await, 0);
        assert_eq!(count(person("%")).await, 0);
        let error = |t: &str| Filter { error: Some(t.to_string()), ..Filter::default() };
        assert_eq!(count(error("ÉCHEC: ERRORINVALIDUSER — 会議")).await, 1);

        // And through the binary, as operators type it.
        let run = calsync(&["--database-url", &db.url_string(), "status", "--json", "--user", "ÜNAL"], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout.lines().count(), 2, "{}", run.stdout);
    }
}

on_both_backends! {
    /// PostgreSQL lowers ASCII text under the "C" collation when the needle is ASCII; the two
    /// letters beyond ASCII that fold into ASCII ones (the Kelvin sign into `k`, `İ` into `i`)
    /// must still be found as `lower` finds them.
    async fn an_ascii_needle_finds_the_letters_that_fold_into_ascii(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        db.exec("UPDATE conferences_conferencetimeslot SET conference_id = 1 WHERE id = 5;
                 UPDATE conferences_conference SET title = '\u{212A}elvin Lab' WHERE id = 3").await;
        let store = db.store().await;
        let text = |t: &str| Filter { text: Some(t.to_string()), ..Filter::default() };
        assert_eq!(store.count(&text("kelvin lab")).await.unwrap(), 1);
        assert_eq!(store.count(&text("KELVIN")).await.unwrap(), 1);
        // A needle beyond ASCII is lowered whole, as before.
        assert_eq!(store.count(&text("\u{212A}ELVIN")).await.unwrap(), 1);
        assert_eq!(store.count(&text("kelvim")).await.unwrap(), 0);
        if backend == Backend::Postgres {
            // PostgreSQL's `lower` makes `İ` a plain `i` (Rust's, on SQLite, adds a dot above).
            db.exec("UPDATE conferences_conference SET title = 'İstanbul Lab' WHERE id = 3").await;
            assert_eq!(store.count(&text("istanbul")).await.unwrap(), 1);
        }
    }
}

on_both_backends! {
    /// A needle's stretch without letters (`493703` of `chloe.rossi493703`) is matched as it
    /// is before anything is lowered, on PostgreSQL; the answers stay those of the whole
    /// needle ignoring case, wherever the stretch lies.
    async fn a_needles_stretch_without_letters_keeps_its_answer(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        db.exec("UPDATE users_customuser SET username = 'Chloe.Rossi493703', first_name = 'Ann 12',
                   last_name = '34 Lee' WHERE id = 5;
                 UPDATE conferences_conferencetimeslotselection
                   SET calendar_error = 'AADSTS700016: Application not found' WHERE id = 2").await;
        let store = db.store().await;
        let count = |filter: Filter| {
            let store = store.clone();
            async move { store.count(&filter).await.unwrap() }
        };
        let theirs = count(Filter { user_id: Some(5), ..Filter::default() }).await;
        assert!(theirs > 0);
        let person = |t: &str| Filter { person: Some(t.to_string()), ..Filter::default() };
        for needle in ["CHLOE.ROSSI493703", "rossi4937", "4937", "ann 12", "12 34", "ANN 12 34 LEE"] {
            assert_eq!(count(person(needle)).await, theirs, "{needle}");
        }
        // Not contiguous, or a wildcard that stays literal.
        for needle in ["1234", "49_703", "rossi 4937", "12 34 lea"] {
            assert_eq!(count(person(needle)).await, 0, "{needle}");
        }
        let text = |t: &str| Filter { text: Some(t.to_string()), ..Filter::default() };
        assert_eq!(count(text("rossi493703")).await, theirs);
        assert_eq!(count(text("aadsts700016")).await, 1);
        assert_eq!(count(text("700016: APPLICATION")).await, 1);
        let error = |t: &str| Filter { error: Some(t.to_string()), ..Filter::default() };
        assert_eq!(count(error("Aadsts700016")).await, 1);
        assert_eq!(count(error("700016")).await, 1);
        assert_eq!(count(error("700017")).await, 0);
    }
}

#[tokio::test]
async fn matching_leaves_the_lms_file_as_it_was() {
    let db = TestDb::with_fixture(Backend::Sqlite).await;
    let schema = "SELECT group_concat(sql, ';') FROM sqlite_master";
    let before = (
        db.scalar_text(schema).await,
        db.scalar_text("PRAGMA journal_mode").await,
    );
    let run = calsync(
        &[
            "--database-url",
            &db.url_string(),
            "status",
            "--user",
            "ÜNAL",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let after = (
        db.scalar_text(schema).await,
        db.scalar_text("PRAGMA journal_mode").await,
    );
    assert_eq!(before, after);
    // The LMS's own tools (here the sqlite3 library without calsync's function) read it as ever.
    let plain = rusqlite::Connection::open(db.sqlite_path()).unwrap();
    let n: i64 = plain
        .query_row(
            "SELECT COUNT(*) FROM conferences_conferencetimeslotselection",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 10);
}
