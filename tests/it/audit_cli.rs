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
