//! `calsync status --cause`: the cause words of `sync --cause` and the console's `cause:`,
//! compiled to the same SQL, through the real binary on both backends.

use crate::cli::{assert_one_line_error, calsync};
use crate::on_both_backends;
use crate::support::TestDb;

fn ids(url: &str, extra: &[&str]) -> Vec<i64> {
    let mut args = vec!["--database-url", url, "status", "--json"];
    args.extend_from_slice(extra);
    let run = calsync(&args, &[]);
    assert_eq!(run.code, 0, "{extra:?}: {}", run.stderr);
    run.stdout
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).expect("one JSON object");
            row["id"].as_i64().expect("an id")
        })
        .collect()
}

on_both_backends! {
    async fn status_lists_the_selections_of_a_cause(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let url = db.url_string();
        // 9: "No Teams integration available"; 2 and 7: Graph's 404 for a user and
        // ErrorInvalidUser; 3: an added row that kept the old 429 text.
        assert_eq!(ids(&url, &["--cause", "credentials"]), vec![9]);
        assert_eq!(ids(&url, &["--cause", "unknown_user"]), vec![7, 2]);
        assert_eq!(ids(&url, &["--cause", "credentials,unknown_user"]), vec![7, 9, 2]);
        assert_eq!(ids(&url, &["--cause", "throttled", "--cause", "credentials"]), vec![9, 3]);
        assert_eq!(ids(&url, &["--cause", "throttled", "--state", "failed"]), Vec::<i64>::new());
        assert_eq!(ids(&url, &["--cause", "network"]), Vec::<i64>::new());

        let run = calsync(&["--database-url", &url, "status", "--summary", "--json", "--cause", "unknown_user"], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let summary: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        assert_eq!(summary["failed"], 2);
        assert_eq!(summary["total"], 2);

        // The same words as `sync --cause`, refused the same way.
        let bad = calsync(&["--database-url", &url, "status", "--cause", "gremlins"], &[]);
        assert_one_line_error(&bad, "unknown cause 'gremlins'");
    }
}
