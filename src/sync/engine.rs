use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::credentials::{Holder, RunCredentials};
use super::error::SyncError;
use super::halt::Halt;
use super::intent::{self, Refusal};
use super::meeting::{self, Sent};
use super::payload::{PayloadOptions, TAG_PROPERTY_ID, event_payload, tag_for, transaction_id};
use super::progress::Progress;
use super::reconcile::{ReconcileOptions, Reconciler};
use super::rest_ids::{Attempting, RestIds};
use super::verify::{Verifier, VerifyOptions};
use super::writer::ResultWriter;
use super::{ItemResult, Outcome, Summary, SyncAction, SyncEvent, label_of};
use crate::domain::ledger::{LedgerAction, LedgerChange, LedgerEntry};
use crate::domain::meeting::{MeetingRecord, body_digest};
use crate::domain::{
    Filter, Listed, MalformedSelection, Selection, SlotWindow, StoredCredentials, SyncColumns,
    SyncWrite, WriteOutcome, resolve_slot_window,
};
use crate::graph::{Credentials, ErrorKind, EventInfo, GraphClient};
use crate::store::retry::retrying;
use crate::store::{Claim, Claims, Store, StoreError};

mod malformed;

/// `calendar_error` holds one line an operator can act on, never a novel.
const MAX_ERROR_CHARS: usize = 1000;
/// Rows are read in one query per this many selections, just before they are launched: a query
/// per selection cost more than the Graph calls at 600 in flight (`calsync bench sync`), and a
/// chunk's create intents share a commit.
const READ_CHUNK: usize = 1024;

#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// At most this many selections in flight at once across all mailboxes (Graph allows 4 per
    /// mailbox and the client holds each mailbox to that). Default: every selection of the run,
    /// up to [`super::default_concurrency`] (Graph's app-wide ceiling and memory).
    pub concurrency: usize,
    pub payload: PayloadOptions,
    /// `CALSYNC_TENANT_ID`, `CALSYNC_CLIENT_ID`, `CALSYNC_CLIENT_SECRET`: one app for everybody.
    pub credentials_override: Option<StoredCredentials>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            concurrency: super::default_concurrency(),
            payload: PayloadOptions::default(),
            credentials_override: None,
        }
    }
}

impl SyncOptions {
    /// Reads the credential override; all three variables or none.
    pub fn credentials_from_env() -> Result<Option<StoredCredentials>, String> {
        let get = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let vars = [
            get("CALSYNC_TENANT_ID"),
            get("CALSYNC_CLIENT_ID"),
            get("CALSYNC_CLIENT_SECRET"),
        ];
        match vars {
            [Some(tenant_id), Some(client_id), Some(client_secret)] => {
                Ok(Some(StoredCredentials {
                    integration_id: 0,
                    integration_name: "CALSYNC_* override".to_string(),
                    tenant_id,
                    client_id,
                    client_secret,
                    owner_id: None,
                    owner_branch_id: None,
                }))
            }
            [None, None, None] => Ok(None),
            _ => Err(
                "set all of CALSYNC_TENANT_ID, CALSYNC_CLIENT_ID and CALSYNC_CLIENT_SECRET, or none"
                    .to_string(),
            ),
        }
    }
}

/// Cheap to clone: clones share the store, the Graph client (and its token cache and
/// per-mailbox limits) and the result writer.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    graph: GraphClient,
    options: SyncOptions,
    writer: ResultWriter,
}

impl Engine {
    pub fn new(store: Store, graph: GraphClient, options: SyncOptions) -> Engine {
        let writer = ResultWriter::start(store.clone());
        Engine {
            inner: Arc::new(Inner {
                store,
                graph,
                options,
                writer,
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Reconcile, sharing this engine's Graph client and credentials.
    pub fn reconciler(&self) -> Reconciler {
        Reconciler::new(
            self.inner.store.clone(),
            self.inner.graph.clone(),
            ReconcileOptions {
                credentials_override: self.inner.options.credentials_override.clone(),
                ..ReconcileOptions::default()
            },
        )
    }

    /// A drift check sharing this engine's Graph client (its token cache and mailbox limits)
    /// and credentials. `record`: write what it sees into the ledger.
    pub fn verifier(&self, record: bool) -> Verifier {
        Verifier::new(
            self.inner.store.clone(),
            self.inner.graph.clone(),
            VerifyOptions {
                credentials_override: self.inner.options.credentials_override.clone(),
                record,
                ..VerifyOptions::default()
            },
        )
    }

    /// Syncs `ids` (frozen by the caller, chosen by `scope`), reporting to `progress`. Each
    /// selection is claimed (see [`Claims`]) and then read again before anything is sent to
    /// Graph: one claimed elsewhere is left to its holder, and one that no longer matches
    /// `scope` (done meanwhile by another calsync, or changed in the LMS) is skipped. Cancelling
    /// stops new work; selections in flight finish and their results are recorded.
    pub async fn run(
        &self,
        claims: Claims,
        scope: &Filter,
        ids: Vec<i64>,
        progress: impl Into<Progress<SyncEvent>>,
        cancel: CancellationToken,
    ) -> Result<Summary, SyncError> {
        let progress = progress.into();
        let started = Instant::now();
        let total = ids.len();
        // Ctrl-C must also end a wait for the login service, not only new work.
        self.inner.graph.abandon_logins_on(cancel.clone());
        progress.report(SyncEvent::Started { total });
        let credentials = RunCredentials::load(
            &self.inner.store,
            self.inner.options.credentials_override.as_ref(),
        )
        .await?;
        // Nothing goes to Graph unless its result can be written (see `Store::probe_write`).
        if let Some(&first) = ids.first() {
            self.inner
                .store
                .probe_write(Some(first))
                .await
                .map_err(|e| {
                    SyncError::Run(format!(
                        "nothing was sent: calsync cannot record results in this database ({e})"
                    ))
                })?;
        }
        let run = Arc::new(RunContext {
            credentials,
            halt: Halt::default(),
            rest_ids: RestIds::new(self.inner.graph.clone()),
        });
        // Claims held while in flight must fit what the store can hold (PostgreSQL's lock table).
        let concurrency = match claims.budget().await {
            Some(budget) => self.inner.options.concurrency.min(budget),
            None => self.inner.options.concurrency,
        };
        let claims = Arc::new(claims);
        let slots = Arc::new(Semaphore::new(concurrency.clamp(1, total.max(1))));
        let mut tasks = JoinSet::new();
        let mut summary = Summary {
            total,
            ..Summary::default()
        };
        let throttled_before = self.inner.graph.stats().throttled_responses;
        let forwarder = forward_throttling(&self.inner.graph, progress.clone());
        let mut launched = 0usize;
        // At most one round of work ahead, so a row is claimed and read shortly before its
        // attempt (the write guard catches any change the LMS makes after that).
        let chunk = concurrency.clamp(1, READ_CHUNK);
        let mut warmed = HashSet::new();
        'launch: for ids in ids.chunks(chunk) {
            let mut rows = self.claim_chunk(&claims, ids, scope).await;
            self.warm_tokens(&run, &rows, &mut warmed);
            for &id in ids {
                while let Some(done) = tasks.try_join_next() {
                    finish(done, &mut summary, &progress);
                }
                let permit = tokio::select! {
                    biased;
                    _ = cancel.cancelled() => break 'launch,
                    _ = run.halt.tripped() => break 'launch,
                    permit = Arc::clone(&slots).acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break 'launch,
                    },
                };
                let row = rows.remove(&id).unwrap_or(Claimed::Gone);
                // Counted from launch, so a mailbox's batch of REST ids waits for this one.
                let attempting = match &row {
                    Claimed::Mine(selection) => run
                        .credentials_for(selection)
                        .ok()
                        .map(|c| run.rest_ids.attempting(&c, selection.email.trim())),
                    _ => None,
                };
                let engine = self.clone();
                let run = Arc::clone(&run);
                let claims = Arc::clone(&claims);
                launched += 1;
                tasks.spawn(async move {
                    let held = row.is_held();
                    let result = engine.sync_one(id, row, &run, attempting).await;
                    // Only now that its result is written may another calsync take it.
                    if held {
                        claims.release(id);
                    }
                    drop(permit);
                    result
                });
            }
        }
        while let Some(done) = tasks.join_next().await {
            finish(done, &mut summary, &progress);
        }
        forwarder.abort();
        summary.not_started = total - launched;
        summary.throttled =
            (self.inner.graph.stats().throttled_responses - throttled_before) as usize;
        summary.duration = started.elapsed();
        summary.stopped = run.halt.reason();
        progress.report(SyncEvent::Finished(summary.clone()));
        Ok(summary)
    }

    /// Starts fetching the token of each app registration this chunk's selections are synced
    /// with (and no earlier chunk's were), so the login round trip runs while their create
    /// intents commit instead of after. Only selections that will reach Graph count.
    fn warm_tokens(
        &self,
        run: &RunContext,
        rows: &HashMap<i64, Claimed>,
        warmed: &mut HashSet<(String, String)>,
    ) {
        for row in rows.values() {
            let Claimed::Mine(selection) = row else {
                continue;
            };
            if !selection.use_time_slots
                || selection.email.trim().is_empty()
                || slot_window(selection).is_err()
            {
                continue;
            }
            let Ok(credentials) = run.credentials_for(selection) else {
                continue;
            };
            if warmed.insert((credentials.tenant_id.clone(), credentials.client_id.clone())) {
                let graph = self.inner.graph.clone();
                // The create asks again and gets this token, or this failure, from the cache.
                tokio::spawn(async move { graph.check_credentials(&credentials).await });
            }
        }
    }

    /// Claims a chunk of selections in one round trip, then reads the claimed ones: read after
    /// the claim, a row another calsync finished a moment ago is seen as done and not synced
    /// again. One query when nothing is claimed elsewhere and every row still matches `scope`.
    async fn claim_chunk(
        &self,
        claims: &Claims,
        ids: &[i64],
        scope: &Filter,
    ) -> HashMap<i64, Claimed> {
        let claimed = match claims.claim(ids).await {
            Ok(claimed) => claimed,
            Err(e) => {
                let error = format!("cannot claim the selection: {e}");
                return ids
                    .iter()
                    .map(|&id| {
                        (
                            id,
                            Claimed::Unreadable {
                                error: error.clone(),
                                held: false,
                            },
                        )
                    })
                    .collect();
            }
        };
        let mine: Vec<i64> = ids
            .iter()
            .zip(&claimed)
            .filter(|(_, claim)| **claim == Claim::Taken)
            .map(|(&id, _)| id)
            .collect();
        let read = async {
            let mut in_scope = self.read_rows(&mine, scope).await?;
            let others: Vec<i64> = ids
                .iter()
                .copied()
                .filter(|id| !in_scope.contains_key(id))
                .collect();
            // For the labels of rows left out, and to tell "gone" from "done meanwhile".
            let mut others = self.read_rows(&others, &Filter::default()).await?;
            Ok::<_, StoreError>(
                ids.iter()
                    .zip(&claimed)
                    .map(|(&id, claim)| {
                        let row = match (claim, in_scope.remove(&id), others.remove(&id)) {
                            (Claim::Elsewhere { holder }, _, row) => {
                                Claimed::Elsewhere(row.and_then(readable), holder.clone())
                            }
                            (Claim::Taken, Some(Listed::Readable(row)), _) => Claimed::Mine(row),
                            (Claim::Taken, Some(Listed::Malformed(row)), _) => {
                                Claimed::Malformed(row)
                            }
                            (Claim::Taken, None, Some(Listed::Readable(row))) => {
                                Claimed::OutOfScope(row)
                            }
                            (Claim::Taken, None, Some(Listed::Malformed(row))) => {
                                Claimed::Unreadable {
                                    error: malformed::failure_text(&row),
                                    held: true,
                                }
                            }
                            (Claim::Taken, None, None) => Claimed::Gone,
                        };
                        (id, row)
                    })
                    .collect(),
            )
        };
        read.await.unwrap_or_else(|e: StoreError| {
            let error = format!("cannot read the selection: {e}");
            ids.iter()
                .zip(&claimed)
                .map(|(&id, claim)| {
                    let error = error.clone();
                    let held = *claim == Claim::Taken;
                    (id, Claimed::Unreadable { error, held })
                })
                .collect()
        })
    }

    /// The selections among `ids` that still exist and match `filter` (readable or not), by id,
    /// in one query.
    async fn read_rows(
        &self,
        ids: &[i64],
        filter: &Filter,
    ) -> Result<HashMap<i64, Listed>, StoreError> {
        let store = &self.inner.store;
        retrying(|| store.listed_by_id(ids, filter)).await
    }

    /// `row` is the selection as claimed and read just before launch; `attempting` counts it
    /// among its mailbox's attempts under way.
    async fn sync_one(
        &self,
        id: i64,
        row: Claimed,
        run: &RunContext,
        attempting: Option<Attempting>,
    ) -> ItemResult {
        let skipped = |selection: Option<&Selection>, outcome| ItemResult {
            selection_id: id,
            label: selection.map(label_of),
            outcome,
        };
        let selection = match row {
            Claimed::Mine(selection) => selection,
            Claimed::Elsewhere(selection, holder) => {
                let detail = match holder {
                    Some(holder) => format!("being synced by another calsync ({holder})"),
                    None => "being synced by another calsync".to_string(),
                };
                return skipped(selection.as_ref(), Outcome::ClaimedElsewhere { detail });
            }
            Claimed::OutOfScope(selection) => {
                let reason = format!(
                    "no longer needs this run: now {} (done meanwhile by another calsync, \
                     or changed in the LMS)",
                    selection.state().label()
                );
                return skipped(Some(&selection), Outcome::Skipped { reason });
            }
            Claimed::Gone => {
                return skipped(
                    None,
                    Outcome::Skipped {
                        reason: "the selection no longer exists".to_string(),
                    },
                );
            }
            Claimed::Unreadable { error, .. } => {
                return skipped(None, Outcome::failed(&SyncError::Store(error)));
            }
            Claimed::Malformed(row) => return self.fail_malformed(row, run).await,
        };
        let label = Some(label_of(&selection));
        // The LMS command's skip rule: conferences that no longer use time slots.
        if !selection.use_time_slots {
            return ItemResult {
                selection_id: id,
                label,
                outcome: Outcome::Skipped {
                    reason: "the conference does not use time slots".to_string(),
                },
            };
        }
        let mut ledger = Vec::new();
        let mut expected = selection.sync.clone();
        let result = self
            .attempt(&selection, run, &mut expected, &mut ledger)
            .await;
        // Only a new event waits for its REST id; the mailbox's batch must not wait for the rest.
        let attempting = attempting.filter(|_| result.is_ok());
        let at = Utc::now();
        let (write, if_written) = match result {
            Ok(written) => {
                ledger.push(LedgerChange::Record(ledger_entry(&selection, &written, at)));
                ledger.push(LedgerChange::Meeting(meeting_record(&selection, &written)));
                if let Some(web_link) = &written.web_link {
                    ledger.push(LedgerChange::WebLink {
                        mailbox: selection.email.trim().to_lowercase(),
                        event_id: written.event_id.clone(),
                        web_link: web_link.clone(),
                    });
                }
                // The row keeps the LMS's format (a REST id); the ledger the immutable id.
                let column = super::lms_id::column_id(
                    attempting,
                    &written.event_id,
                    (written.action == SyncAction::Updated)
                        .then_some(selection.sync.outlook_event_id.as_deref())
                        .flatten(),
                )
                .await;
                ledger.push(LedgerChange::Settle {
                    selection_id: id,
                    event_id: Some(written.event_id.clone()),
                    at,
                });
                (
                    SyncWrite::Success {
                        outlook_event_id: column.clone(),
                        at,
                    },
                    Outcome::Synced {
                        event_id: column,
                        action: written.action,
                    },
                )
            }
            Err(NotWritten::Unsent(outcome)) => {
                return ItemResult {
                    selection_id: id,
                    label,
                    outcome,
                };
            }
            Err(NotWritten::Failed(failure)) => {
                let error = one_line(&failure.to_string());
                ledger.push(LedgerChange::Settle {
                    selection_id: id,
                    event_id: None,
                    at,
                });
                (
                    SyncWrite::Failure {
                        error: error.clone(),
                        at,
                    },
                    Outcome::Failed {
                        error,
                        cause: failure.cause(),
                    },
                )
            }
        };
        let outcome = match self.inner.writer.write(id, write, expected, ledger).await {
            Ok(WriteOutcome::Written) => if_written,
            Ok(WriteOutcome::Conflict) => Outcome::Conflict {
                detail: match if_written {
                    Outcome::Synced { event_id, .. } => format!(
                        "the LMS changed this selection meanwhile; nothing was written \
                         (event {} stays tagged for reconcile)",
                        short_id(&event_id)
                    ),
                    _ => {
                        "the LMS changed this selection meanwhile; nothing was written".to_string()
                    }
                },
            },
            Err(e) => {
                run.halt.trip(&e.to_string());
                Outcome::failed(&e)
            }
        };
        ItemResult {
            selection_id: id,
            label,
            outcome,
        }
    }

    /// One selection against Graph. Ok: the event written; Err: the reason, or what happened
    /// instead when nothing was sent. What is learnt on the way about other events (an old one
    /// gone) is added to `ledger`; `expected` follows what this attempt wrote to the row.
    async fn attempt(
        &self,
        selection: &Selection,
        run: &RunContext,
        expected: &mut SyncColumns,
        ledger: &mut Vec<LedgerChange>,
    ) -> Result<Written, NotWritten> {
        if let Some(reason) = run.halt.reason() {
            return Err(NotWritten::Unsent(stopped_before_sending(&reason)));
        }
        let mailbox = selection.email.trim();
        if mailbox.is_empty() {
            return Err(SyncError::NoEmail.into());
        }
        let window = slot_window(selection)?;
        let credentials = run.credentials_for(selection)?;
        let graph = &self.inner.graph;
        let options = self.inner.options.payload;
        // Built only when an update is sent: a create holds its own payload alone.
        let update = || event_payload(selection, &window, options, None);
        // The event an update found gone, which a new one replaces.
        let mut replaced = None;

        // Added before: update that event in place; create only if Graph says it is gone.
        if let Some(event_id) = selection
            .sync
            .outlook_event_id
            .as_deref()
            .filter(|id| selection.sync.calendar_added && !id.trim().is_empty())
        {
            let recorded = selection.recorded.sent_body_digest.as_deref();
            match meeting::update_in_place(
                graph,
                &credentials,
                mailbox,
                event_id,
                &update(),
                recorded,
            )
            .await
            {
                Ok(Some(sent)) => return Ok(window.written(sent, SyncAction::Updated)),
                Ok(None) => {
                    replaced = Some(event_id.to_string());
                    ledger.push(LedgerChange::Mark {
                        mailbox: mailbox.to_lowercase(),
                        event_id: event_id.to_string(),
                        action: LedgerAction::Missing,
                        at: Utc::now(),
                    });
                    // The ledger knows it by its immutable id, the row by its REST id.
                    let store = &self.inner.store;
                    for gone in super::lms_id::gone_in_ledger(
                        store,
                        graph,
                        &credentials,
                        mailbox,
                        selection.id,
                    )
                    .await
                    {
                        ledger.push(LedgerChange::Mark {
                            mailbox: mailbox.to_lowercase(),
                            event_id: gone,
                            action: LedgerAction::Missing,
                            at: Utc::now(),
                        });
                    }
                }
                Err(e) => return Err(SyncError::Graph(e).into()),
            }
        }

        // A previous attempt (ours or the LMS's) may have left an event: adopt it if tagged. A
        // create in flight when a run died is among them (its intent, or the attempt time
        // stamped before it was sent).
        let prior = intent::prior(&self.inner.store, selection.id).await?;
        let tried_before = selection.sync.attempted_at.is_some()
            || selection.sync.outlook_event_id.is_some()
            || replaced.is_some()
            || prior.is_some();
        if tried_before
            && let Some(found) = self
                .find_tagged(&credentials, mailbox, selection.id)
                .await?
            && let Some(sent) =
                meeting::update_in_place(graph, &credentials, mailbox, &found.id, &update(), None)
                    .await
                    .map_err(SyncError::Graph)?
        {
            return Ok(window.written(sent, SyncAction::Adopted));
        }

        let attempt = intent::attempt(prior.as_ref(), replaced.as_deref());
        let transaction = transaction_id(selection, attempt);
        if let Some(reason) = run.halt.reason() {
            return Err(NotWritten::Unsent(stopped_before_sending(&reason)));
        }
        match intent::make_durable(
            &self.inner.writer,
            selection,
            expected,
            &transaction,
            attempt,
        )
        .await
        {
            Ok(()) => {}
            Err(Refusal::Conflict) => {
                return Err(NotWritten::Unsent(Outcome::Conflict {
                    detail: "the LMS changed this selection meanwhile; nothing was sent"
                        .to_string(),
                }));
            }
            Err(Refusal::Unrecordable(e)) => {
                run.halt.trip(&e.to_string());
                return Err(NotWritten::Unsent(Outcome::Failed {
                    error: format!("not sent: {e}"),
                    cause: e.cause(),
                }));
            }
        }
        let create = event_payload(selection, &window, options, Some(&transaction));
        let sent_digest = meeting::body_content(&create).map(body_digest);
        let created = |event: EventInfo| Sent {
            event,
            body_digest: sent_digest.clone(),
        };
        match graph.create_event(&credentials, mailbox, &create).await {
            Ok(event) => Ok(window.written(created(event), SyncAction::Created)),
            Err(e) if e.kind == ErrorKind::Ambiguous => {
                // The create may have reached the mailbox: look before creating again.
                if let Some(found) = self
                    .find_tagged(&credentials, mailbox, selection.id)
                    .await?
                {
                    // Which body it was made with is not known: the next update reads it.
                    let adopted = Sent {
                        event: found,
                        body_digest: None,
                    };
                    return Ok(window.written(adopted, SyncAction::Adopted));
                }
                // Same transactionId: should the first create surface late, Graph dedups it.
                graph
                    .create_event(&credentials, mailbox, &create)
                    .await
                    .map(|event| window.written(created(event), SyncAction::Created))
                    .map_err(|e| SyncError::Graph(e).into())
            }
            Err(e) => Err(SyncError::Graph(e).into()),
        }
    }

    async fn find_tagged(
        &self,
        credentials: &Credentials,
        mailbox: &str,
        selection_id: i64,
    ) -> Result<Option<EventInfo>, SyncError> {
        let found = self
            .inner
            .graph
            .find_events_by_property(
                credentials,
                mailbox,
                TAG_PROPERTY_ID,
                &tag_for(selection_id),
            )
            .await
            .map_err(SyncError::Graph)?;
        Ok(found.into_iter().next())
    }
}

/// Why an attempt wrote no event.
enum NotWritten {
    /// Graph (or a check before it) refused: written to the row as its failure.
    Failed(SyncError),
    /// Nothing was sent, and this is what the run reports (the row is left as it is).
    Unsent(Outcome),
}

impl From<SyncError> for NotWritten {
    fn from(error: SyncError) -> Self {
        NotWritten::Failed(error)
    }
}

fn stopped_before_sending(reason: &str) -> Outcome {
    Outcome::Skipped {
        reason: format!("not sent: the run stopped ({reason})"),
    }
}

/// A selection of the run once its chunk is claimed and read.
enum Claimed {
    /// Claimed by this run, and matching the run's filter as read after the claim.
    Mine(Selection),
    /// Claimed by another calsync (the row as read, for its label; the holder if known).
    Elsewhere(Option<Selection>, Option<String>),
    /// Claimed, but no longer what the run is for (done meanwhile, or changed in the LMS).
    OutOfScope(Selection),
    /// Claimed, but the LMS deleted it.
    Gone,
    /// Claimed and in scope, but a column cannot be read: fails before any Graph call.
    Malformed(MalformedSelection),
    Unreadable {
        error: String,
        held: bool,
    },
}

impl Claimed {
    /// Whether this run holds the claim, and so must give it back.
    fn is_held(&self) -> bool {
        match self {
            Claimed::Mine(_) | Claimed::OutOfScope(_) | Claimed::Gone | Claimed::Malformed(_) => {
                true
            }
            Claimed::Elsewhere(..) => false,
            Claimed::Unreadable { held, .. } => *held,
        }
    }
}

/// An event as written to a mailbox.
struct Written {
    event_id: String,
    action: SyncAction,
    window: SlotWindow,
    /// `onlineMeeting.joinUrl` as Graph answered.
    teams_join_url: Option<String>,
    /// `webLink` as Graph answered: the event in Outlook on the web.
    web_link: Option<String>,
    /// Digest of calsync's body content, when it is known to be the event's.
    body_digest: Option<String>,
}

impl SlotWindow {
    fn written(&self, sent: Sent, action: SyncAction) -> Written {
        Written {
            event_id: sent.event.id,
            action,
            window: self.clone(),
            teams_join_url: sent.event.online_meeting_join_url,
            web_link: sent.event.web_link,
            body_digest: sent.body_digest,
        }
    }
}

fn meeting_record(selection: &Selection, written: &Written) -> MeetingRecord {
    MeetingRecord {
        mailbox: selection.email.trim().to_lowercase(),
        event_id: written.event_id.clone(),
        teams_join_url: written.teams_join_url.clone(),
        sent_body_digest: written.body_digest.clone(),
    }
}

fn ledger_entry(
    selection: &Selection,
    written: &Written,
    at: chrono::DateTime<Utc>,
) -> LedgerEntry {
    LedgerEntry {
        selection_id: selection.id,
        user_id: selection.user_id,
        conference_id: selection.conference_id,
        slot_id: selection.time_slot_id,
        mailbox: selection.email.trim().to_lowercase(),
        event_id: written.event_id.clone(),
        subject: selection.conference_title.clone(),
        sent_start: written.window.start_utc,
        sent_end: written.window.end_utc,
        fingerprint: selection.fingerprint.clone(),
        action: match written.action {
            SyncAction::Created => LedgerAction::Created,
            SyncAction::Updated => LedgerAction::Updated,
            SyncAction::Adopted => LedgerAction::Adopted,
        },
        at,
    }
}

/// The selection, when its row can be read whole.
fn readable(row: Listed) -> Option<Selection> {
    match row {
        Listed::Readable(selection) => Some(selection),
        Listed::Malformed(_) => None,
    }
}

/// Graph's "wait before the next request to this mailbox" notices become progress events.
fn forward_throttling(
    graph: &GraphClient,
    progress: Progress<SyncEvent>,
) -> tokio::task::JoinHandle<()> {
    let mut notices = graph.subscribe_throttling();
    tokio::spawn(async move {
        loop {
            match notices.recv().await {
                Ok(notice) => {
                    progress.report(SyncEvent::Throttled {
                        mailbox: notice.mailbox,
                        wait: notice.wait,
                    });
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    })
}

/// What one run reads once (whose credentials serve each user) and its stop on the first
/// write that fails.
struct RunContext {
    credentials: RunCredentials,
    halt: Halt,
    rest_ids: RestIds,
}

impl RunContext {
    fn credentials_for(&self, selection: &Selection) -> Result<Credentials, SyncError> {
        self.credentials.for_holder(&Holder {
            user_id: selection.user_id,
            username: &selection.username,
            branch_id: selection.branch_id,
            branch_name: selection.branch_name.as_deref(),
        })
    }
}

fn slot_window(selection: &Selection) -> Result<SlotWindow, SyncError> {
    resolve_slot_window(
        selection.slot_date,
        selection.slot_start,
        selection.slot_end,
        &selection.timezone,
    )
    .map_err(|problem| SyncError::Slot {
        slot_id: selection.time_slot_id,
        problem,
    })
}

fn finish(
    done: Result<ItemResult, tokio::task::JoinError>,
    summary: &mut Summary,
    progress: &Progress<SyncEvent>,
) {
    let result = match done {
        Ok(result) => result,
        // A panic in one selection's task must not take the run (or the terminal) with it.
        Err(e) => ItemResult {
            selection_id: 0,
            label: None,
            outcome: Outcome::failed(&SyncError::Run(format!("internal error: {e}"))),
        },
    };
    summary.record(&result);
    progress.report(SyncEvent::Item(result));
}

/// One line of at most [`MAX_ERROR_CHARS`] characters, without control characters.
fn one_line(error: &str) -> String {
    let line = crate::text::clean_line(error);
    if line.chars().count() <= MAX_ERROR_CHARS {
        line
    } else {
        let mut cut: String = line.chars().take(MAX_ERROR_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

fn short_id(id: &str) -> String {
    crate::text::truncate(id, 24)
}
