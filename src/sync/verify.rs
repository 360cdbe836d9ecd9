//! Drift check: does the event of each added selection still exist in Outlook? People delete
//! events, mailboxes get recreated. Events are looked up with `$batch` GETs (4 per envelope,
//! grouped by the app registration serving each mailbox); what is seen goes into the ledger,
//! and the missing ones are handed back so the sync engine can re-create them (its update of a
//! vanished event creates a new one, once). Events are looked up under the calendar
//! (`/calendar/events/{id}`), so one its owner deleted, now in Deleted Items where its immutable
//! id still reaches it through `/events/{id}`, counts as missing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::credentials::{Holder, RunCredentials};
use super::progress::Progress;
use super::verify_ledger::LedgerWriter;
use super::verify_rows::{Chunk, RowsAhead};
use super::{ItemLabel, label_of};
use crate::domain::ledger::{LedgerAction, LedgerRecord};
use crate::domain::{Filter, Selection, StoredCredentials, SyncState, resolve_slot_window};
use crate::graph::{BatchRequest, Credentials, ErrorKind, GraphClient};
use crate::store::Store;

/// Lookups per `$batch` envelope. Graph runs a batch's items 4 at a time, so an envelope of 20
/// costs 5 round trips where 4 cost one (`calsync bench verify`, `calsync bench sync`): 4 keeps
/// the speed of single requests with a quarter of the HTTP requests.
const ENVELOPE: usize = 4;

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Lookups in flight at once (in envelopes of up to 20).
    pub concurrency: usize,
    /// `CALSYNC_TENANT_ID` & co., as for a sync.
    pub credentials_override: Option<StoredCredentials>,
    /// Write what was seen into the ledger (off in a read-only session).
    pub record: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            // Every lookup of the run at once, up to the app-wide ceiling and memory; Graph's 4
            // per mailbox still applies.
            concurrency: super::default_concurrency(),
            credentials_override: None,
            record: true,
        }
    }
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckStatus {
    Present,
    /// Graph answered 404, or the row claims "added" with no event id to look up.
    Missing,
    /// The lookup itself failed (no mailbox, credentials, throttled too long…).
    Unchecked(String),
}

/// One selection checked.
#[derive(Debug, Clone)]
pub struct Check {
    pub selection_id: i64,
    pub user_id: i64,
    pub conference_id: i64,
    pub slot_id: i64,
    pub mailbox: String,
    /// Empty when the row holds none.
    pub event_id: String,
    pub label: ItemLabel,
    pub status: CheckStatus,
}

#[derive(Debug, Clone)]
pub enum VerifyEvent {
    Started { total: usize },
    Checked(Check),
    Finished(VerifySummary),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct VerifySummary {
    pub total: usize,
    pub present: usize,
    pub missing: usize,
    pub unchecked: usize,
    /// No longer added (or gone) by the time it was read.
    pub skipped: usize,
    /// Cancelled before they were looked up.
    pub not_started: usize,
    /// The selections whose event is missing, for a re-create.
    pub missing_ids: Vec<i64>,
    pub duration: Duration,
}

impl VerifySummary {
    fn count(&mut self, check: &Check) {
        match &check.status {
            CheckStatus::Present => self.present += 1,
            CheckStatus::Missing => {
                self.missing += 1;
                self.missing_ids.push(check.selection_id);
            }
            CheckStatus::Unchecked(_) => self.unchecked += 1,
        }
    }
}

/// Only added selections have an event to verify: `filter` narrowed to them.
pub fn verifiable(mut filter: Filter) -> Filter {
    let added = [SyncState::Added, SyncState::AddedStaleError];
    if filter.states.is_empty() {
        filter.states = added.to_vec();
    } else {
        filter.states.retain(|s| added.contains(s));
        if filter.states.is_empty() {
            // Asked only for states that have no event: match nothing.
            filter.selection_ids = vec![-1];
            filter.states = added.to_vec();
        }
    }
    filter.scope = None;
    filter
}

#[derive(Clone)]
pub struct Verifier {
    store: Store,
    graph: GraphClient,
    options: VerifyOptions,
}

impl Verifier {
    pub fn new(store: Store, graph: GraphClient, options: VerifyOptions) -> Verifier {
        Verifier {
            store,
            graph,
            options,
        }
    }

    /// Checks `ids` (frozen by the caller, see [`verifiable`]), reporting to `progress`.
    pub async fn run(
        &self,
        ids: Vec<i64>,
        progress: impl Into<Progress<VerifyEvent>>,
        cancel: CancellationToken,
    ) -> Result<VerifySummary, String> {
        let progress = progress.into();
        let started = Instant::now();
        // Ctrl-C must also end a wait for the login service, not only new lookups.
        self.graph.abandon_logins_on(cancel.clone());
        let mut summary = VerifySummary {
            total: ids.len(),
            ..VerifySummary::default()
        };
        progress.report(VerifyEvent::Started { total: ids.len() });
        let credentials = Arc::new(
            RunCredentials::load(&self.store, self.options.credentials_override.as_ref())
                .await
                .map_err(|e| e.to_string())?,
        );
        let in_flight = Arc::new(Semaphore::new(self.options.concurrency.max(1)));
        let ledger = self
            .options
            .record
            .then(|| LedgerWriter::start(self.store.clone()));
        let mut tasks: JoinSet<Vec<Looked>> = JoinSet::new();
        let mut rows_ahead = RowsAhead::start(self.store.clone(), ids);
        'read: while let Some(chunk) = rows_ahead.next().await {
            if cancel.is_cancelled() {
                break;
            }
            let Chunk {
                ids: chunk,
                mut rows,
            } = chunk?;
            let mut envelopes: HashMap<CredentialKey, Vec<(Selection, Credentials)>> =
                HashMap::new();
            for id in &chunk {
                let Some(row) = rows.remove(id).filter(|r| r.sync.calendar_added) else {
                    summary.skipped += 1;
                    continue;
                };
                match lookup_plan(&row, &credentials) {
                    Ok(creds) => envelopes
                        .entry(CredentialKey::of(&creds))
                        .or_default()
                        .push((row, creds)),
                    Err(status) => {
                        self.report(Looked::of(&row, status).check, &mut summary, &progress)
                    }
                }
            }
            for group in envelopes.into_values() {
                for envelope in group.chunks(ENVELOPE) {
                    let permits = envelope.len() as u32;
                    let permit = tokio::select! {
                        biased;
                        _ = cancel.cancelled() => break 'read,
                        permit = Arc::clone(&in_flight).acquire_many_owned(permits) => match permit {
                            Ok(permit) => permit,
                            Err(_) => break 'read,
                        },
                    };
                    let verifier = self.clone();
                    let envelope = envelope.to_vec();
                    tasks.spawn(async move {
                        let checks = verifier.look_up(envelope).await;
                        drop(permit);
                        checks
                    });
                    while let Some(done) = tasks.try_join_next() {
                        self.finish(done, ledger.as_ref(), &mut summary, &progress);
                    }
                }
            }
        }
        // Cancelled: the rows read ahead are not looked up.
        drop(rows_ahead);
        while let Some(done) = tasks.join_next().await {
            self.finish(done, ledger.as_ref(), &mut summary, &progress);
        }
        if let Some(ledger) = ledger {
            ledger.finish().await;
        }
        summary.not_started = summary.total
            - (summary.present + summary.missing + summary.unchecked + summary.skipped);
        summary.duration = started.elapsed();
        progress.report(VerifyEvent::Finished(summary.clone()));
        Ok(summary)
    }

    /// One `$batch` envelope of GETs, all served by the same credentials.
    async fn look_up(&self, envelope: Vec<(Selection, Credentials)>) -> Vec<Looked> {
        let Some((_, creds)) = envelope.first() else {
            return Vec::new();
        };
        let requests = envelope
            .iter()
            .map(|(row, _)| {
                BatchRequest::get_event(
                    row.id.to_string(),
                    row.email.trim(),
                    event_id_of(row).unwrap_or_default(),
                )
            })
            .collect();
        match self.graph.batch(creds, requests).await {
            Ok(responses) => envelope
                .iter()
                .zip(responses)
                .map(|((row, _), response)| {
                    let (status, seen) = match response.outcome {
                        Ok(found) => (CheckStatus::Present, found.event()),
                        Err(e) if e.kind == ErrorKind::NotFound => (CheckStatus::Missing, None),
                        Err(e) => (CheckStatus::Unchecked(e.operator_text()), None),
                    };
                    let mut looked = Looked::of(row, status);
                    if let Some(event) = seen {
                        looked.seen_as = Some(event.id);
                        looked.web_link = event.web_link;
                    }
                    looked
                })
                .collect(),
            Err(e) => envelope
                .iter()
                .map(|(row, _)| Looked::of(row, CheckStatus::Unchecked(e.operator_text())))
                .collect(),
        }
    }

    /// Reports an envelope's checks; what they learnt goes to `ledger` without waiting.
    fn finish(
        &self,
        done: Result<Vec<Looked>, tokio::task::JoinError>,
        ledger: Option<&LedgerWriter>,
        summary: &mut VerifySummary,
        progress: &Progress<VerifyEvent>,
    ) {
        let Ok(looked) = done else {
            return;
        };
        if let Some(ledger) = ledger {
            let at = Utc::now();
            ledger.add(looked.iter().filter_map(|l| l.ledger_record(at)).collect());
        }
        for l in looked {
            self.report(l.check, summary, progress);
        }
    }

    fn report(&self, check: Check, summary: &mut VerifySummary, progress: &Progress<VerifyEvent>) {
        summary.count(&check);
        progress.report(VerifyEvent::Checked(check));
    }
}

/// The credentials to look a row's event up with, or why it cannot be looked up.
fn lookup_plan(row: &Selection, credentials: &RunCredentials) -> Result<Credentials, CheckStatus> {
    if row.email.trim().is_empty() {
        return Err(CheckStatus::Unchecked(
            "User email address is required for calendar integration".to_string(),
        ));
    }
    if event_id_of(row).is_none() {
        return Err(CheckStatus::Missing);
    }
    credentials
        .for_holder(&Holder {
            user_id: row.user_id,
            username: &row.username,
            branch_id: row.branch_id,
            branch_name: row.branch_name.as_deref(),
        })
        .map_err(|e| CheckStatus::Unchecked(e.to_string()))
}

fn event_id_of(row: &Selection) -> Option<&str> {
    row.sync
        .outlook_event_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty())
}

/// A check, with what the ledger needs to record an event it did not know yet.
struct Looked {
    check: Check,
    /// The slot's window in UTC, as the event should have it (None: the slot's zone is bad).
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The id Graph answered with (the immutable id calsync asks for), which the ledger keeps:
    /// the row's REST id changes when the event moves.
    seen_as: Option<String>,
    /// The event's `webLink` as the GET answered (`resources/event.md`).
    web_link: Option<String>,
}

impl Looked {
    fn of(row: &Selection, status: CheckStatus) -> Looked {
        let window =
            resolve_slot_window(row.slot_date, row.slot_start, row.slot_end, &row.timezone)
                .ok()
                .map(|w| (w.start_utc, w.end_utc));
        Looked {
            check: Check {
                selection_id: row.id,
                user_id: row.user_id,
                conference_id: row.conference_id,
                slot_id: row.time_slot_id,
                mailbox: row.email.trim().to_lowercase(),
                event_id: event_id_of(row).unwrap_or_default().to_string(),
                label: label_of(row),
                status,
            },
            window,
            seen_as: None,
            web_link: None,
        }
    }

    /// Seen or missing, in the ledger's words. An event the LMS made becomes known to the
    /// ledger here, so it stays findable after the LMS deletes its selection.
    fn ledger_record(
        &self,
        at: DateTime<Utc>,
    ) -> Option<(LedgerRecord, LedgerAction, Option<String>)> {
        let check = &self.check;
        let action = match check.status {
            CheckStatus::Present => LedgerAction::Found,
            CheckStatus::Missing if !check.event_id.is_empty() => LedgerAction::Missing,
            _ => return None,
        };
        let (start, end) = self.window?;
        Some((
            LedgerRecord {
                id: 0,
                selection_id: Some(check.selection_id),
                user_id: Some(check.user_id),
                conference_id: Some(check.conference_id),
                slot_id: Some(check.slot_id),
                mailbox: check.mailbox.clone(),
                event_id: self
                    .seen_as
                    .clone()
                    .unwrap_or_else(|| check.event_id.clone()),
                subject: check.label.conference_title.clone(),
                sent_start: start,
                sent_end: end,
                last_action: action,
                created_at: at,
                last_seen_at: at,
                deleted_at: None,
            },
            action,
            self.web_link.clone(),
        ))
    }
}

/// Envelopes are grouped by app registration: one token serves a whole `$batch`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CredentialKey(String, String);

impl CredentialKey {
    fn of(creds: &Credentials) -> CredentialKey {
        CredentialKey(creds.tenant_id.clone(), creds.client_id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_added_states_are_verifiable() {
        assert_eq!(
            verifiable(Filter::default()).states,
            vec![SyncState::Added, SyncState::AddedStaleError]
        );
        let asked = Filter {
            states: vec![SyncState::Failed, SyncState::Added],
            ..Filter::default()
        };
        assert_eq!(verifiable(asked).states, vec![SyncState::Added]);
        let nothing = verifiable(Filter {
            states: vec![SyncState::Failed],
            ..Filter::default()
        });
        assert_eq!(nothing.selection_ids, vec![-1]);
    }
}
