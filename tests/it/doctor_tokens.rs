//! `calsync doctor --check-tokens`: one token request per active integration against the
//! simulated identity platform over real HTTP, reporting ok or the AADSTS code with what to do,
//! and never the secret. Graph docs: the token endpoint answers a wrong secret with
//! AADSTS7000215 and an expired one with AADSTS7000222 (identity platform error codes).

use calsync::demo::lms_rows::{IntegrationRow, literal_insert};
use calsync::sim::{SimConfig, SimServer, SimTenant};

use crate::cli::calsync;
use crate::on_both_backends;
use crate::support::TestDb;

const FIXTURE_TENANT: &str = "contoso.onmicrosoft.com";
const FIXTURE_CLIENT: &str = "00000000-0000-0000-0000-00000000c1d0";
const FIXTURE_SECRET: &str = "fixture-secret-not-real";
const SECOND_TENANT: &str = "fabrikam.onmicrosoft.com";
const SECOND_CLIENT: &str = "00000000-0000-0000-0000-00000000c2d0";
const SECOND_SECRET: &str = "second-integration-secret";

/// A second active integration, and an inactive one that must not be asked about.
fn more_integrations() -> String {
    let integration =
        |id, name: &str, is_active, client_id: &str, client_secret: &str| IntegrationRow {
            id,
            name: name.to_string(),
            is_active,
            created_at: "2025-11-01 08:05:00".to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            tenant_id: SECOND_TENANT.to_string(),
            branch: Some(2),
            owner: Some(4),
        };
    literal_insert(&[
        integration(2, "South Campus Teams", true, SECOND_CLIENT, SECOND_SECRET),
        integration(
            3,
            "Retired pilot",
            false,
            "00000000-0000-0000-0000-00000000c3d0",
            "retired-secret",
        ),
    ])
}

/// The lines of the token check section, after its heading.
fn token_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("Token check"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn problems(stdout: &str) -> u64 {
    let last = stdout.lines().last().unwrap_or_default();
    if last == "No problems found." {
        return 0;
    }
    last.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a problem count: {last:?}"))
}

on_both_backends! {
    async fn a_rotated_or_expired_secret_is_found_with_one_token_request_each(backend: Backend) {
        let db = TestDb::with_fixture(backend).await;
        db.exec(&more_integrations()).await;
        let sim = SimServer::start(SimConfig {
            tenants: vec![
                SimTenant::new(FIXTURE_TENANT, FIXTURE_CLIENT, FIXTURE_SECRET),
                SimTenant::new(SECOND_TENANT, SECOND_CLIENT, SECOND_SECRET),
            ],
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let (graph_url, login_url) = (sim.graph_url(), sim.login_url());
        let env = [
            ("CALSYNC_GRAPH_URL", graph_url.as_str()),
            ("CALSYNC_LOGIN_URL", login_url.as_str()),
        ];
        let url = db.url_string();
        let doctor = |check: bool| {
            let mut args = vec!["--database-url", url.as_str(), "doctor"];
            if check {
                args.push("--check-tokens");
            }
            calsync(&args, &env)
        };

        let plain = doctor(false);
        assert!(!plain.stdout.contains("Token check"), "only when asked");
        assert_eq!(sim.state().stats().token_requests, 0);
        let without = problems(&plain.stdout);

        let healthy = doctor(true);
        assert_eq!(healthy.code, 1, "the fixture has other problems: {}", healthy.stderr);
        assert!(healthy.stdout.contains(&format!("Token check  2 app registrations at {login_url}")), "{}", healthy.stdout);
        assert_eq!(token_lines(&healthy.stdout), [
            "  #1 North Campus Teams  ok: token issued",
            "  #2 South Campus Teams  ok: token issued",
        ]);
        assert_eq!(problems(&healthy.stdout), without);
        assert_eq!(sim.state().stats().token_requests, 2, "one per active integration");

        // Rotated in Entra ID, not in the LMS; and another app whose secret expired.
        assert!(sim.state().rotate_secret(SECOND_TENANT, SECOND_CLIENT, "the-new-secret"));
        assert!(sim.state().expire_secret(FIXTURE_TENANT, FIXTURE_CLIENT));
        let broken = doctor(true);
        assert_eq!(broken.code, 1);
        let lines = token_lines(&broken.stdout);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("  #1 North Campus Teams  ! Token acquisition failed: AADSTS7000222 "), "{}", lines[0]);
        assert!(lines[0].contains("has expired — create a new secret in Entra ID"), "{}", lines[0]);
        assert!(lines[1].starts_with("  #2 South Campus Teams  ! Token acquisition failed: AADSTS7000215 invalid client secret"), "{}", lines[1]);
        assert!(lines[1].contains(SECOND_CLIENT) && lines[1].contains(SECOND_TENANT));
        assert_eq!(problems(&broken.stdout), without + 2);
        for secret in [FIXTURE_SECRET, SECOND_SECRET, "retired-secret", "the-new-secret"] {
            assert!(!broken.stdout.contains(secret) && !broken.stderr.contains(secret), "{secret} shown");
        }
        assert_eq!(sim.state().stats().token_requests, 4);
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_finds_online_academys_rotated_secret_on_its_simulated_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.db");
    let db = path.to_str().unwrap();
    let created = calsync(&["demo", "--db", db, "--selections", "200"], &[]);
    assert_eq!(created.code, 0, "{}", created.stderr);

    let run = calsync(&["--database-url", db, "doctor", "--check-tokens"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("using the simulated Graph"),
        "{}",
        run.stderr
    );
    let lines = token_lines(&run.stdout);
    // Five active integrations; the retired pilot is not asked about.
    assert_eq!(lines.len(), 5, "{lines:?}");
    let failing: Vec<&String> = lines
        .iter()
        .filter(|l| !l.ends_with("ok: token issued"))
        .collect();
    assert_eq!(failing.len(), 1, "{lines:?}");
    assert!(
        failing[0]
            .starts_with("  #3 Online Academy Teams  ! Token acquisition failed: AADSTS7000215 "),
        "{}",
        failing[0]
    );
    assert!(
        !lines.iter().any(|l| l.contains("Old pilot")),
        "inactive integrations are not checked"
    );

    let secrets: Vec<String> = rusqlite::Connection::open(&path)
        .unwrap()
        .prepare("SELECT client_secret FROM account_settings_teamsintegration")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(secrets.len(), 6);
    for secret in &secrets {
        assert!(!run.stdout.contains(secret.as_str()) && !run.stderr.contains(secret.as_str()));
    }
}
