//! The event's `webLink`, the URL that opens it in Outlook on the web, is kept in calsync's own
//! ledger (migration 7, "event web links") when a create, an update or a verify's GET returns
//! it, and `status --json` shows it as `web_link`; on both backends, over HTTP to the simulator.
//!
//! Graph docs: api-reference/v1.0/resources/event.md, webLink — "The URL to open the event in
//! Outlook on the web"; api-reference/v1.0/api/user-post-events.md and event-get.md return the
//! event resource, so the create, the update and the GET all carry it.

use calsync::sync::verify::{Verifier, VerifyOptions, verifiable};
use chrono::Utc;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::on_both_backends;
use crate::own_tables::run;
use crate::sync::{World, graph_config};

const LEA: &str = "lea.learner@example.org";

fn web_link_in_outlook(world: &World) -> String {
    let events = world.events(LEA);
    assert_eq!(events.len(), 1, "{events:?}");
    events[0]["webLink"]
        .as_str()
        .expect("Graph returns webLink")
        .to_string()
}

async fn recorded(world: &World, id: i64) -> Option<String> {
    world
        .store
        .selection(id)
        .await
        .unwrap()
        .unwrap()
        .recorded
        .web_link
}

fn status_rows(world: &World) -> Vec<Value> {
    let status = run(&world.db, None, &["status", "--user-id", "3", "--json"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    status
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

on_both_backends! {
    async fn a_synced_events_web_link_is_in_the_ledger_and_in_status_json(backend: Backend) {
        let world = World::new(backend).await;
        world.store.migrate_up(Utc::now()).await.unwrap();
        let (created, items) = world.sync(vec![2]).await;
        assert_eq!(created.created, 1, "{items:?}");
        let link = web_link_in_outlook(&world);
        assert!(link.starts_with("https://outlook.office365.com/owa/"), "{link}");
        assert_eq!(recorded(&world, 2).await.as_deref(), Some(link.as_str()));

        // An update answers with the event again: the link stays recorded.
        world.db.exec("UPDATE calsync_event_ledger SET web_link = NULL").await;
        let (updated, _) = world.sync(vec![2]).await;
        assert_eq!(updated.updated, 1);
        assert_eq!(recorded(&world, 2).await.as_deref(), Some(link.as_str()));

        let rows = status_rows(&world);
        let of = |id: i64| rows.iter().find(|r| r["id"] == id).cloned().unwrap_or_default();
        assert_eq!(of(2)["web_link"], link.as_str());
        assert!(of(9)["web_link"].is_null(), "never synced: no link");

        // Reverting the step drops the column only; the rows read as before, without a link.
        world.store.migrate_down(6).await.unwrap();
        assert_eq!(recorded(&world, 2).await, None);
        assert!(status_rows(&world).iter().all(|r| r["web_link"].is_null()));
    }
}

on_both_backends! {
    async fn verify_records_the_web_link_of_an_event_the_ledger_did_not_know(backend: Backend) {
        let world = World::new(backend).await;
        world.store.migrate_up(Utc::now()).await.unwrap();
        world.sync(vec![2]).await;
        let link = web_link_in_outlook(&world);
        // As if the LMS had made the event: in the mailbox and the row, not in the ledger.
        world.db.exec("DELETE FROM calsync_event_ledger").await;
        assert_eq!(recorded(&world, 2).await, None);

        let graph = calsync::graph::GraphClient::new(graph_config(&world.sim)).unwrap();
        let verifier = Verifier::new(world.store.clone(), graph, VerifyOptions::default());
        let ids = world.store.selection_ids(&verifiable(calsync::domain::Filter {
            selection_ids: vec![2],
            ..Default::default()
        })).await.unwrap();
        let (tx, _rx) = mpsc::unbounded_channel();
        let summary = verifier.run(ids, tx, CancellationToken::new()).await.unwrap();
        assert_eq!(summary.present, 1);
        assert_eq!(recorded(&world, 2).await.as_deref(), Some(link.as_str()));
    }
}
