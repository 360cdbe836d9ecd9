//! `bench sync`'s transports: the same creates sent by the Graph client alone, as individual
//! requests or in `$batch` envelopes, to show what the database work costs and whether batching wins.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tokio::task::JoinSet;

use super::scratch_lms::{CLIENT_ID, SECRET, TENANT, open_scratch};
use super::world::{Counts, graph_client, observe};
use crate::commands::CliError;
use crate::domain::{Filter, resolve_slot_window};
use crate::graph::{BatchRequest, Credentials, MAILBOX_CONCURRENCY};
use crate::sim::SimHandle;
use crate::sync::payload::{PayloadOptions, event_payload, transaction_id};

#[derive(Debug, Clone, Copy)]
pub(super) enum Transport {
    Individual,
    Batch(usize),
}

impl Transport {
    pub(super) fn label(self) -> String {
        match self {
            Transport::Individual => "individual requests (as the engine)".to_string(),
            Transport::Batch(n) => format!("$batch, {n} per envelope"),
        }
    }
}

/// Each selection's (mailbox, create body), read from a scratch database before any timing.
pub(super) async fn creates_of(path: &Path) -> Result<Vec<(String, Json)>, CliError> {
    let store = open_scratch(path).await?;
    let mut creates = Vec::new();
    for id in store.selection_ids(&Filter::default()).await? {
        let Some(selection) = store.selection(id).await? else {
            continue;
        };
        let window = resolve_slot_window(
            selection.slot_date,
            selection.slot_start,
            selection.slot_end,
            &selection.timezone,
        )
        .map_err(|e| CliError::failed(format!("selection {id}: {e}")))?;
        let transaction = transaction_id(&selection, 0);
        let event = event_payload(
            &selection,
            &window,
            PayloadOptions::default(),
            Some(&transaction),
        );
        creates.push((selection.email.clone(), event));
    }
    Ok(creates)
}

/// The same creates through the Graph client alone: every one at once as individual requests
/// (the client keeps each mailbox at 4 in flight), or as `$batch` envelopes all sent at once.
pub(super) async fn graph_run(
    sim: &SimHandle,
    creates: &[(String, Json)],
    transport: Transport,
    problems: &mut Vec<String>,
) -> Result<(Duration, Counts), CliError> {
    sim.state().reset();
    let graph = graph_client(sim)?;
    let credentials = Credentials::new(TENANT, CLIENT_ID, SECRET);
    let mut tasks: JoinSet<Vec<(String, Result<String, String>)>> = JoinSet::new();
    let started;
    match transport {
        Transport::Individual => {
            let inputs = creates.to_vec();
            started = Instant::now();
            for (mailbox, event) in inputs {
                let (graph, credentials) = (graph.clone(), credentials.clone());
                tasks.spawn(async move {
                    let created = graph
                        .create_event(&credentials, &mailbox, &event)
                        .await
                        .map(|event| event.id)
                        .map_err(|e| e.operator_text());
                    vec![(mailbox, created)]
                });
            }
        }
        Transport::Batch(size) => {
            let envelopes = envelopes(creates, size);
            started = Instant::now();
            for envelope in envelopes {
                let (graph, credentials) = (graph.clone(), credentials.clone());
                tasks.spawn(async move {
                    let mailboxes: Vec<String> =
                        envelope.iter().map(|r| r.mailbox.clone()).collect();
                    match graph.batch(&credentials, envelope).await {
                        Ok(responses) => mailboxes
                            .into_iter()
                            .zip(responses)
                            .map(|(mailbox, response)| {
                                let created = response
                                    .outcome
                                    .map_err(|e| e.operator_text())
                                    .and_then(|ok| {
                                        ok.event()
                                            .map(|event| event.id)
                                            .ok_or_else(|| "no event in the response".to_string())
                                    });
                                (mailbox, created)
                            })
                            .collect(),
                        Err(e) => mailboxes
                            .into_iter()
                            .map(|mailbox| (mailbox, Err(e.operator_text())))
                            .collect(),
                    }
                });
            }
        }
    }
    let mut recorded = Vec::new();
    let mut failures = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let results = done.map_err(|e| CliError::failed(format!("a create task failed: {e}")))?;
        for (mailbox, created) in results {
            match created {
                Ok(id) => recorded.push((mailbox, id)),
                Err(error) => failures.push(error),
            }
        }
    }
    let took = started.elapsed();
    let mode = transport.label();
    if let Some(first) = failures.first() {
        problems.push(format!(
            "{mode}: {} creates failed, e.g. {first}",
            failures.len()
        ));
    }
    let n = u32::try_from(creates.len()).unwrap_or(u32::MAX);
    Ok((took, observe(sim, &mode, n, recorded, problems)))
}

/// `$batch` envelopes of up to `size` creates, at most 4 per mailbox (more would wait for the
/// mailbox's slots anyway): every mailbox's first four creates come first, then its next four.
pub(super) fn envelopes(creates: &[(String, Json)], size: usize) -> Vec<Vec<BatchRequest>> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut ordered: Vec<(usize, &str, usize, &Json)> = creates
        .iter()
        .map(|(mailbox, event)| {
            let rank = seen.entry(mailbox.as_str()).or_default();
            *rank += 1;
            (
                (*rank - 1) / MAILBOX_CONCURRENCY,
                mailbox.as_str(),
                *rank,
                event,
            )
        })
        .collect();
    ordered.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    ordered
        .chunks(size.max(1))
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .map(|(i, (_, mailbox, _, event))| {
                    BatchRequest::create_event(i.to_string(), mailbox, (*event).clone())
                })
                .collect()
        })
        .collect()
}
