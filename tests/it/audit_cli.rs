//! `calsync audit` shows every action whole: the table's ACTION column is as wide as the longest
//! action, on both backends.

use calsync::audit::AuditTrail;
use calsync::domain::audit::AuditOutcome;

use crate::cli::calsync;
use crate::on_both_backends;
use crate::support::TestDb;

/// Every action README "calsync audit" lists, as the commands and the console write them.
const ACTIONS: [&str; 7] = [
    "sync",
    "console sync",
    "reconcile",
    "console reconcile",
    "verify",
    "console verify",
    "migrate",
];

on_both_backends! {
    async fn the_audit_table_never_cuts_an_action(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        let url = db.url_string();
        let migrated = calsync(&["--database-url", &url, "migrate"], &[]);
        assert_eq!(migrated.code, 0, "{}", migrated.stderr);
        let store = db.store().await;
        for action in ACTIONS.iter().filter(|a| **a != "migrate") {
            let trail = AuditTrail::begin(&store, action, "failed", "", 3).await.unwrap();
            trail.finish(AuditOutcome::Ok, 3, "3 done").await.unwrap();
        }

        let run = calsync(&["--database-url", &url, "audit"], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert_eq!(lines.len(), 1 + ACTIONS.len(), "{}", run.stdout);
        let action_at = lines[0].find("ACTION").expect("an ACTION column");
        for line in &lines[1..] {
            let rest = line.get(action_at..).expect("a full row");
            assert!(
                ACTIONS.iter().any(|a| rest.starts_with(&format!("{a}  "))),
                "whole action in the ACTION column: {line:?}"
            );
        }
        assert!(run.stdout.contains("console reconcile  "));
        assert!(run.stdout.contains("console verify  "));

        let only = calsync(&["--database-url", &url, "audit", "--action", "console reconcile", "--json"], &[]);
        assert_eq!(only.code, 0, "{}", only.stderr);
        let rows: Vec<serde_json::Value> = only.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["action"], "console reconcile");
    }
}

on_both_backends! {
    async fn a_console_closed_mid_run_leaves_its_rows_interrupted_never_running(backend: Backend) {
        use calsync::audit::OpenRows;
        let db = TestDb::with_fixture(backend).await;
        let url = db.url_string();
        let migrated = calsync(&["--database-url", &url, "migrate"], &[]);
        assert_eq!(migrated.code, 0, "{}", migrated.stderr);
        let store = db.store().await;
        let open = OpenRows::default();
        let finished = AuditTrail::begin(&store, "console sync", "1 marked row (all)", "", 1)
            .await
            .unwrap()
            .tracked_by(&open);
        finished.finish(AuditOutcome::Ok, 1, "1 synced").await.unwrap();
        let drained = AuditTrail::begin(&store, "console sync", "all matching the filter (failed)", "", 40)
            .await
            .unwrap()
            .tracked_by(&open);
        let _stuck = AuditTrail::begin(&store, "console verify", "the listed selections", "", 9)
            .await
            .unwrap()
            .tracked_by(&open);
        assert_eq!(open.count(), 2);
        // The operator confirms quitting: the drained run ends cancelled, the other never ends.
        open.ending();
        drained.finish(AuditOutcome::Cancelled, 4, "4 synced, 36 not started").await.unwrap();
        assert_eq!(open.close_remaining(&store).await.unwrap(), 1);
        assert_eq!(open.count(), 0);

        let run = calsync(&["--database-url", &url, "audit", "--json"], &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let rows: Vec<serde_json::Value> = run.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let outcome = |action: &str, scope: &str| {
            rows.iter()
                .find(|r| r["action"] == action && r["scope"].as_str().unwrap().starts_with(scope))
                .map(|r| (r["outcome"].as_str().unwrap().to_string(), r["detail"].as_str().unwrap().to_string()))
                .unwrap()
        };
        assert_eq!(outcome("console sync", "1 marked").0, "ok");
        let (drained, detail) = outcome("console sync", "all matching");
        assert_eq!(drained, "interrupted");
        assert!(detail.starts_with("the console was closed during the run: 4 synced"), "{detail}");
        let (stuck, detail) = outcome("console verify", "the listed");
        assert_eq!(stuck, "interrupted");
        assert!(detail.contains("before the run could record its end"), "{detail}");
        assert!(!run.stdout.contains("\"running\""), "{}", run.stdout);
    }
}
