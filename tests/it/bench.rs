//! `calsync bench sync` with tiny parameters: only correctness is asserted (the machine is shared,
//! so speed never is). Every mode must create exactly one event per selection and say so.

use serde_json::Value;

use crate::cli::{assert_one_line_error, calsync};

#[test]
fn bench_sync_creates_exactly_one_event_per_selection_in_every_mode() {
    let run = calsync(
        &[
            "bench",
            "sync",
            "--selections",
            "12",
            "--mailboxes",
            "3",
            "--latency-ms",
            "2",
            "--runs",
            "1",
            "--json",
        ],
        &[],
    );
    assert_eq!(
        run.code, 0,
        "stderr: {}\nstdout: {}",
        run.stderr, run.stdout
    );
    let report: Value = serde_json::from_str(run.stdout.trim()).expect("one JSON object");
    assert_eq!(report["problems"], serde_json::json!([]));
    // As `calsync sync` sets the engine up with no --concurrency: the whole run in flight (it
    // was 4 × mailboxes, a bench-only default, before issue 10).
    let concurrency = report["concurrency"].as_u64().expect("concurrency");
    assert!(concurrency >= 12, "{concurrency}");

    // `calsync sync` itself, spawned with the CLI's defaults, against the same simulator.
    let command = &report["command"]["counts"];
    assert_eq!(command["events_created"], 12, "{command}");
    assert_eq!(command["recorded"], 12);
    assert_eq!(command["duplicates"], 0);
    assert_eq!(command["token_requests"], 1);
    // Each create, then one translateExchangeIds a mailbox for the REST ids the rows keep.
    assert_eq!(command["graph_calls"], 12 + 3);
    assert!(
        report["command_peak_rss_kib"]
            .as_u64()
            .is_some_and(|k| k > 1024)
    );
    assert!(report["lms_over_command"].as_f64().is_some_and(|r| r > 0.0));
    // One token round trip plus one wave of 4 per mailbox.
    assert_eq!(report["floor_ms"], 4.0);
    // And one more for the REST ids the rows keep.
    assert_eq!(report["floor_with_id_translation_ms"], 6.0);

    let counts = |mode: &Value| mode["counts"].clone();
    let calsync = counts(&report["calsync"]);
    assert_eq!(calsync["events_created"], 12);
    assert_eq!(calsync["recorded"], 12, "every row added");
    assert_eq!(calsync["duplicates"], 0);
    assert_eq!(
        calsync["token_requests"], 1,
        "one cached token for the whole run"
    );
    // Each create, then one translateExchangeIds a mailbox for the REST ids the rows keep (the
    // LMS's format).
    assert_eq!(calsync["graph_calls"], 12 + 3);

    let lms = counts(&report["lms"]);
    assert_eq!(lms["events_created"], 12);
    assert_eq!(lms["recorded"], 12);
    assert_eq!(lms["duplicates"], 0);
    assert_eq!(lms["token_requests"], 12, "a token request per selection");
    assert_eq!(lms["graph_calls"], 12);
    assert_eq!(report["lms_work"]["token_posts"], 12);
    assert_eq!(report["lms_work"]["create_posts"], 12);
    assert_eq!(
        report["lms_work"]["commits"], 24,
        "token row and status row, each committed"
    );

    let transports = report["transports"].as_array().expect("transports");
    assert_eq!(transports.len(), 3);
    for transport in transports {
        let c = counts(transport);
        assert_eq!(c["events_created"], 12, "{transport}");
        assert_eq!(c["recorded"], 12, "{transport}");
        assert_eq!(c["duplicates"], 0, "{transport}");
        assert_eq!(c["graph_calls"], 12, "{transport}");
    }
    // Individual requests, then envelopes of 20 (one holds all 12) and of 4 (one per mailbox).
    let http = |i: usize| counts(&transports[i])["graph_http_requests"].clone();
    assert_eq!((http(0), http(1), http(2)), (12.into(), 1.into(), 3.into()));
    for mode in [&report["calsync"], &report["lms"]] {
        assert!(
            mode["median_ms"].as_f64().is_some_and(|t| t > 0.0),
            "{mode}"
        );
    }
}

/// Over TLS every mode trusts the simulator's generated certificate and pays its handshakes;
/// with `h2` the connections are HTTP/2, with `h1` none is.
#[test]
fn bench_sync_over_tls_runs_every_mode_over_https_and_counts_the_connections() {
    for (tls, http2) in [("h2", true), ("h1", false)] {
        let run = calsync(
            &[
                "bench",
                "sync",
                "--selections",
                "12",
                "--mailboxes",
                "3",
                "--latency-ms",
                "2",
                "--runs",
                "1",
                "--tls",
                tls,
                "--json",
            ],
            &[],
        );
        assert_eq!(
            run.code, 0,
            "stderr: {}\nstdout: {}",
            run.stderr, run.stdout
        );
        let report: Value = serde_json::from_str(run.stdout.trim()).expect("one JSON object");
        assert_eq!(report["problems"], serde_json::json!([]), "{tls}");
        assert_eq!(report["tls"], tls);
        for mode in ["command", "calsync", "lms"] {
            let counts = &report[mode]["counts"];
            assert_eq!(counts["events_created"], 12, "{tls} {mode}: {counts}");
            let connections = counts["tls_connections"].as_u64().expect("connections");
            assert!(connections >= 1, "{tls} {mode}: {counts}");
            let h2 = counts["http2_connections"].as_u64().expect("h2");
            // The re-enactment speaks HTTP/1.1, as Python's requests does.
            let expected = if http2 && mode != "lms" {
                connections
            } else {
                0
            };
            assert_eq!(h2, expected, "{tls} {mode}: {counts}");
        }
    }
}

#[test]
fn bench_sync_refuses_bad_sizes_in_one_line() {
    let run = calsync(
        &["bench", "sync", "--selections", "3", "--mailboxes", "4"],
        &[],
    );
    assert_one_line_error(&run, "--mailboxes (4) must not exceed --selections (3)");
    let run = calsync(&["bench", "sync", "--selections", "0"], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

#[test]
fn bench_sync_skips_a_re_enactment_longer_than_allowed_and_gives_its_estimate() {
    let run = calsync(
        &[
            "bench",
            "sync",
            "--selections",
            "8",
            "--mailboxes",
            "2",
            "--latency-ms",
            "3",
            "--runs",
            "1",
            "--reenactment-max-secs",
            "0",
            "--json",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let report: Value = serde_json::from_str(run.stdout.trim()).expect("one JSON object");
    assert_eq!(report["problems"], serde_json::json!([]));
    assert_eq!(report["lms"], Value::Null, "not run");
    assert_eq!(report["lms_over_command"], Value::Null);
    // A token and a create round trip per selection, one at a time: 8 × 2 × 3 ms.
    assert_eq!(report["lms_estimate_ms"], 48.0);
    assert_eq!(report["command"]["counts"]["events_created"], 8);
}

#[test]
fn bench_worker_reports_quiet_pass_costs_and_measures_the_lag_of_every_new_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench-worker.db");
    let run = calsync(
        &[
            "bench",
            "worker",
            "--db",
            db.to_str().unwrap(),
            "--selections",
            "1500",
            "--rows",
            "4",
            "--rate",
            "20",
            "--interval",
            "0.2",
            "--latency-ms",
            "2",
            "--runs",
            "2",
            "--json",
        ],
        &[],
    );
    assert_eq!(
        run.code, 0,
        "stderr: {}\nstdout: {}",
        run.stderr, run.stdout
    );
    let json_line = run.stdout.lines().last().unwrap_or_default();
    let reports: Value = serde_json::from_str(json_line).expect("one JSON array");
    let reports = reports.as_array().expect("an array");
    assert_eq!(reports.len(), 1, "SQLite only without --postgres");
    let r = &reports[0];
    assert_eq!(r["backend"], "SQLite");
    assert!(r["selections"].as_u64().is_some_and(|n| n >= 1500), "{r}");
    assert!(
        r["parked"].as_u64().is_some_and(|n| n > 0),
        "the demo's permanent failures: {r}"
    );
    for key in ["quiet_pass_ms", "sweep_ms", "before_watch_ms"] {
        assert!(r[key].as_f64().is_some_and(|ms| ms > 0.0), "{key}: {r}");
    }
    let questions = |key: &str| -> Vec<String> {
        r[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q[0].as_str().unwrap().to_string())
            .collect()
    };
    // A sweep reads every row; a quiet pass between sweeps asks nothing of the kind.
    assert!(questions("sweep_questions").contains(&"rows not added".to_string()));
    let quiet = questions("quiet_pass_questions");
    assert!(quiet.contains(&"new rows".to_string()), "{quiet:?}");
    assert!(!quiet.contains(&"rows not added".to_string()), "{quiet:?}");
    let lag = &r["lag"];
    assert_eq!(lag["rows"], 4, "{lag}");
    assert_eq!(lag["missed"], 0, "every new row got its event: {lag}");
    let median = lag["median_ms"].as_f64().unwrap();
    let p99 = lag["p99_ms"].as_f64().unwrap();
    assert!(
        median > 0.0 && p99 >= median && lag["max_ms"].as_f64().unwrap() >= p99,
        "{lag}"
    );
}

/// `bench reconcile` spawns `calsync reconcile --dry-run` against the simulated Graph and prints
/// its time beside the floor for the requests the simulator saw it make.
#[test]
fn bench_reconcile_times_the_dry_run_beside_the_floor_of_its_own_requests() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench-reconcile.db");
    let run = calsync(
        &[
            "bench",
            "reconcile",
            "--db",
            db.to_str().unwrap(),
            "--selections",
            "300",
            "--latency-ms",
            "5",
            "--runs",
            "1",
        ],
        &[],
    );
    assert_eq!(
        run.code, 0,
        "stderr: {}\nstdout: {}",
        run.stderr, run.stdout
    );
    assert!(run.stdout.contains("mailboxes scanned"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("calsync reconcile --dry-run (CLI defaults)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("reconcile --dry-run / floor = "),
        "{}",
        run.stdout
    );
    // The demo database is left as it was: the dry run ran on a copy.
    assert!(db.exists());
}

#[test]
fn bench_reconcile_refuses_a_fault_rate_out_of_range_in_one_line() {
    let run = calsync(&["bench", "reconcile", "--fault-rate", "0.9"], &[]);
    assert_one_line_error(&run, "'0.9' is not a share from 0 to 0.5");
}
