//! Reconcile: the Outlook events no selection points to any more, found and (when chosen)
//! deleted. From certain to heuristic:
//! - ledger orphans: events calsync wrote whose selection is gone or now points elsewhere;
//! - tagged orphans: events in a mailbox carrying calsync's tag for such a selection;
//! - probable orphans and duplicates: events shaped like the LMS's (the conference title as
//!   subject, a slot's start and end) that nothing points to.
//!
//! Ids are compared only after translation (`sync::event_ids`): a row's REST id and the
//! ledger's or Graph's immutable id of one event are different strings.
//!
//! [`Reconciler::plan`] only reads; [`Reconciler::apply`] deletes the findings it is given and
//! records each deletion in the ledger.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::credentials::{Holder, RunCredentials};
use super::event_ids::{MailboxIds, PointedIds};
use super::payload::{TAG_PROPERTY_ID, subject};
use super::progress::Progress;
use crate::domain::ledger::{EventPointer, LedgerAction, LedgerRecord, LedgerScope};
use crate::domain::{Person, StoredCredentials, resolve_slot_window};
use crate::graph::{Credentials, DeleteOutcome, EventInfo, GraphClient};
use crate::store::Store;

/// Slot windows closer than this are read with one calendarView (paged by 100): a few pages of
/// a person's calendar cost less than a request per slot day.
const WINDOW_JOIN_GAP: chrono::TimeDelta = chrono::TimeDelta::days(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// In the ledger, its selection gone or pointing elsewhere: certain.
    LedgerOrphan,
    /// Carries calsync's tag for a selection that is gone or points elsewhere: certain.
    TaggedOrphan,
    /// Looks like the LMS's event for a slot the person holds with another event.
    ProbableDuplicate,
    /// Looks like the LMS's event for a slot, and nothing points to it.
    ProbableOrphan,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::LedgerOrphan => "ledger_orphan",
            FindingKind::TaggedOrphan => "tagged_orphan",
            FindingKind::ProbableDuplicate => "probable_duplicate",
            FindingKind::ProbableOrphan => "probable_orphan",
        }
    }

    /// calsync made the event and knows it is orphaned; the others are guesses.
    pub fn is_certain(self) -> bool {
        matches!(self, FindingKind::LedgerOrphan | FindingKind::TaggedOrphan)
    }
}

/// One event reconcile found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    /// Lower-case.
    pub mailbox: String,
    pub user_id: Option<i64>,
    /// The selection the event was made for (certain findings only).
    pub selection_id: Option<i64>,
    pub conference_id: Option<i64>,
    pub slot_id: Option<i64>,
    pub event_id: String,
    pub subject: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// Why it is a finding, in one line.
    pub evidence: String,
    /// The ledger holds the event already (its row is marked on deletion, else one is added).
    pub in_ledger: bool,
}

/// A mailbox that could not be looked at, reported once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxFailure {
    pub mailbox: String,
    pub user_id: Option<i64>,
    pub error: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// By mailbox, certain findings first.
    pub findings: Vec<Finding>,
    pub mailboxes_scanned: usize,
    pub mailbox_failures: Vec<MailboxFailure>,
    /// Users with selections but no email address: nothing to look at.
    pub users_without_email: usize,
    /// False before `calsync migrate`: ledger orphans were not looked for.
    pub ledger_checked: bool,
    /// Users not looked at because the plan was cancelled.
    pub not_scanned: usize,
}

/// What became of one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Deleted,
    /// Graph answered 404 (or 410): someone else deleted it first.
    AlreadyGone,
    /// Not chosen for deletion (probable findings by default).
    Kept,
    /// Would be deleted, but this is a dry run.
    WouldDelete,
    Failed(String),
    /// The run was cancelled before its turn.
    NotStarted,
}

impl Resolution {
    /// `deleted`, `already_gone`, `kept`, `would_delete` or `failed: …`.
    pub fn as_text(&self) -> String {
        match self {
            Resolution::Deleted => "deleted".to_string(),
            Resolution::AlreadyGone => "already_gone".to_string(),
            Resolution::Kept => "kept".to_string(),
            Resolution::WouldDelete => "would_delete".to_string(),
            Resolution::Failed(error) => format!("failed: {error}"),
            Resolution::NotStarted => "failed: not started (cancelled)".to_string(),
        }
    }

    pub fn is_failure(&self) -> bool {
        matches!(self, Resolution::Failed(_) | Resolution::NotStarted)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub finding: Finding,
    pub result: Resolution,
}

#[derive(Debug, Clone)]
pub enum ReconcileEvent {
    PlanStarted {
        users: usize,
    },
    /// One user's mailbox looked at (`mailbox` is empty when the user has none).
    MailboxScanned {
        user_id: Option<i64>,
        mailbox: String,
        findings: usize,
    },
    MailboxFailed(MailboxFailure),
    ApplyStarted {
        total: usize,
    },
    Resolved(Resolved),
}

#[derive(Debug, Clone)]
pub struct ReconcileOptions {
    /// Mailboxes looked at (and findings deleted) at once.
    pub concurrency: usize,
    /// `CALSYNC_TENANT_ID` & co.: one app for everybody.
    pub credentials_override: Option<StoredCredentials>,
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        ReconcileOptions {
            // Every mailbox of the run at once, up to the app-wide ceiling and memory.
            concurrency: super::default_concurrency(),
            credentials_override: None,
        }
    }
}

/// Cheap to clone: clones share the store and the Graph client.
#[derive(Clone)]
pub struct Reconciler {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    graph: GraphClient,
    options: ReconcileOptions,
}

/// A slot as the LMS would have written its event.
#[derive(Debug, Clone)]
struct SlotShape {
    slot_id: i64,
    conference_id: i64,
    /// `subject(conference title)`.
    subject: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// `conference 1 'Induction Q&A' slot 1 (2025-12-15 10:00–11:00 Europe/London)`.
    label: String,
}

/// What one plan reads once and every mailbox uses.
struct PlanContext {
    scope: LedgerScope,
    credentials: RunCredentials,
    slots: Vec<SlotShape>,
    /// `subject(title)` by conference, for tagged events whose conference is unknown.
    subjects: HashMap<i64, String>,
    ledger: bool,
}

/// What one user's task found.
enum UserReport {
    Scanned {
        mailbox: String,
        findings: Vec<Finding>,
    },
    NoEmail {
        findings: Vec<Finding>,
    },
    Failed(MailboxFailure),
}

impl Reconciler {
    pub fn new(store: Store, graph: GraphClient, options: ReconcileOptions) -> Reconciler {
        Reconciler {
            inner: Arc::new(Inner {
                store,
                graph,
                options,
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Looks at the mailboxes in `scope` and returns what it found; deletes nothing. Cancelling
    /// stops starting mailboxes; the ones in flight finish.
    pub async fn plan(
        &self,
        scope: LedgerScope,
        progress: impl Into<Progress<ReconcileEvent>>,
        cancel: CancellationToken,
    ) -> Result<Plan, String> {
        let progress = progress.into();
        // Ctrl-C must also end a wait for the login service, not only the scan.
        self.inner.graph.abandon_logins_on(cancel.clone());
        let store = &self.inner.store;
        let read = |e: crate::store::StoreError| format!("cannot read the database: {e}");
        let ledger = store.has_ledger();
        let titles: HashMap<i64, String> = store
            .conferences()
            .await
            .map_err(read)?
            .into_iter()
            .map(|c| (c.id, c.title))
            .collect();
        let context = Arc::new(PlanContext {
            scope,
            credentials: RunCredentials::load(
                store,
                self.inner.options.credentials_override.as_ref(),
            )
            .await
            .map_err(|e| e.to_string())?,
            slots: self.slot_shapes(scope.conference_id, &titles).await?,
            subjects: titles.iter().map(|(id, t)| (*id, subject(t))).collect(),
            ledger,
        });
        let mut orphans: BTreeMap<Option<i64>, Vec<(LedgerRecord, bool)>> = BTreeMap::new();
        if ledger {
            let found = store
                .ledger_orphans(scope)
                .await
                .map_err(|e| format!("cannot read the event ledger: {e}"))?;
            for orphan in found {
                orphans.entry(orphan.0.user_id).or_default().push(orphan);
            }
        }
        let mut users: Vec<Option<i64>> = store
            .reconcile_user_ids(scope)
            .await
            .map_err(read)?
            .into_iter()
            .map(Some)
            .collect();
        // Orphans of a user no longer in the LMS's tables: a task of their own, by the ledger.
        if orphans.contains_key(&None) {
            users.push(None);
        }
        progress.report(ReconcileEvent::PlanStarted { users: users.len() });

        let mut plan = Plan {
            ledger_checked: ledger,
            ..Plan::default()
        };
        let permits = Arc::new(Semaphore::new(self.inner.options.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        let mut launched = 0;
        for user_id in &users {
            let permit = tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                permit = Arc::clone(&permits).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            launched += 1;
            let this = self.clone();
            let context = Arc::clone(&context);
            let user_id = *user_id;
            let orphans = orphans.remove(&user_id).unwrap_or_default();
            tasks.spawn(async move {
                let report = this.look_at_user(user_id, orphans, &context).await;
                drop(permit);
                (user_id, report)
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (user_id, report) = done.map_err(|e| format!("internal error: {e}"))?;
            match report {
                UserReport::Scanned { mailbox, findings } => {
                    plan.mailboxes_scanned += 1;
                    progress.report(ReconcileEvent::MailboxScanned {
                        user_id,
                        mailbox,
                        findings: findings.len(),
                    });
                    plan.findings.extend(findings);
                }
                UserReport::NoEmail { findings } => {
                    if user_id.is_some() {
                        plan.users_without_email += 1;
                    }
                    progress.report(ReconcileEvent::MailboxScanned {
                        user_id,
                        mailbox: String::new(),
                        findings: findings.len(),
                    });
                    plan.findings.extend(findings);
                }
                UserReport::Failed(failure) => {
                    progress.report(ReconcileEvent::MailboxFailed(failure.clone()));
                    plan.mailbox_failures.push(failure);
                }
            }
        }
        plan.not_scanned = users.len() - launched;
        plan.findings.sort_by(|a, b| {
            (&a.mailbox, a.kind, a.start, &a.event_id).cmp(&(
                &b.mailbox,
                b.kind,
                b.start,
                &b.event_id,
            ))
        });
        plan.mailbox_failures
            .sort_by(|a, b| a.mailbox.cmp(&b.mailbox));
        Ok(plan)
    }

    /// Deletes `findings` (`DELETE /users/{mailbox}/calendar/events/{id}`; 404 is already gone) and
    /// records each in the ledger. Cancelling stops starting deletions; the rest are
    /// [`Resolution::NotStarted`].
    pub async fn apply(
        &self,
        findings: Vec<Finding>,
        progress: impl Into<Progress<ReconcileEvent>>,
        cancel: CancellationToken,
    ) -> Result<Vec<Resolved>, String> {
        let progress = progress.into();
        self.inner.graph.abandon_logins_on(cancel.clone());
        progress.report(ReconcileEvent::ApplyStarted {
            total: findings.len(),
        });
        // Every deletion is marked in the ledger: none is sent unless that can be written.
        self.inner.store.probe_write(None).await.map_err(|e| {
            format!("nothing was deleted: calsync cannot record deletions in this database ({e})")
        })?;
        let credentials = RunCredentials::load(
            &self.inner.store,
            self.inner.options.credentials_override.as_ref(),
        )
        .await
        .map_err(|e| e.to_string())?;
        let mut owners: HashMap<Option<i64>, Result<Credentials, String>> = HashMap::new();
        let mut user_ids: Vec<Option<i64>> = findings.iter().map(|f| f.user_id).collect();
        user_ids.sort_unstable();
        user_ids.dedup();
        for user_id in user_ids {
            let chosen = self.credentials_of(&credentials, user_id).await;
            owners.insert(user_id, chosen);
        }
        let owners = Arc::new(owners);
        let permits = Arc::new(Semaphore::new(self.inner.options.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        let mut resolved = Vec::with_capacity(findings.len());
        let mut pending = findings.into_iter();
        for finding in pending.by_ref() {
            let permit = tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    resolved.push(not_started(finding, &progress));
                    break;
                }
                permit = Arc::clone(&permits).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => {
                        resolved.push(not_started(finding, &progress));
                        break;
                    }
                },
            };
            let this = self.clone();
            let owners = Arc::clone(&owners);
            tasks.spawn(async move {
                let result = match owners.get(&finding.user_id) {
                    Some(Ok(credentials)) => this.delete(&finding, credentials).await,
                    Some(Err(e)) => Resolution::Failed(e.clone()),
                    None => Resolution::Failed("no credentials were chosen".to_string()),
                };
                drop(permit);
                Resolved { finding, result }
            });
        }
        for finding in pending {
            resolved.push(not_started(finding, &progress));
        }
        while let Some(done) = tasks.join_next().await {
            let done = done.map_err(|e| format!("internal error: {e}"))?;
            progress.report(ReconcileEvent::Resolved(done.clone()));
            resolved.push(done);
        }
        Ok(resolved)
    }

    async fn credentials_of(
        &self,
        credentials: &RunCredentials,
        user_id: Option<i64>,
    ) -> Result<Credentials, String> {
        let person = match user_id {
            Some(id) => self
                .inner
                .store
                .person(id)
                .await
                .map_err(|e| format!("cannot read user {id}: {e}"))?,
            None => None,
        };
        credentials
            .for_holder(&holder(user_id, person.as_ref()))
            .map_err(|e| e.to_string())
    }

    /// One deletion. An event the ledger does not know yet is recorded first, so it stays
    /// findable should the delete or the process fail halfway.
    async fn delete(&self, finding: &Finding, credentials: &Credentials) -> Resolution {
        let store = &self.inner.store;
        if store.has_ledger() && !finding.in_ledger {
            let record = ledger_record(finding);
            if let Err(e) = store
                .ledger_record_found(&record, LedgerAction::Found, Utc::now())
                .await
            {
                return Resolution::Failed(format!(
                    "not deleted: cannot record it in the ledger first ({e})"
                ));
            }
        }
        let outcome = match self
            .inner
            .graph
            .delete_event(credentials, &finding.mailbox, &finding.event_id)
            .await
        {
            Ok(DeleteOutcome::Deleted { .. }) => Resolution::Deleted,
            Ok(DeleteOutcome::AlreadyGone { .. }) => Resolution::AlreadyGone,
            Err(e) => return Resolution::Failed(e.operator_text()),
        };
        match store
            .ledger_mark(
                &finding.mailbox,
                &finding.event_id,
                LedgerAction::Deleted,
                Utc::now(),
            )
            .await
        {
            Ok(_) => outcome,
            // The next reconcile finds it as a ledger orphan, gets a 404 and marks it.
            Err(e) => Resolution::Failed(format!(
                "deleted in Outlook, but the ledger could not be updated ({e})"
            )),
        }
    }

    /// Every slot in scope as the LMS would have written its event; slots whose times cannot
    /// be resolved never got one.
    async fn slot_shapes(
        &self,
        conference_id: Option<i64>,
        titles: &HashMap<i64, String>,
    ) -> Result<Vec<SlotShape>, String> {
        let slots = self
            .inner
            .store
            .all_slots()
            .await
            .map_err(|e| format!("cannot read the slots: {e}"))?;
        Ok(slots
            .into_iter()
            .filter(|slot| conference_id.is_none_or(|id| id == slot.conference_id))
            .filter_map(|slot| {
                let title = titles.get(&slot.conference_id)?;
                let window =
                    resolve_slot_window(slot.date, slot.start_time, slot.end_time, &slot.timezone)
                        .ok()?;
                Some(SlotShape {
                    slot_id: slot.id,
                    conference_id: slot.conference_id,
                    subject: subject(title),
                    start: window.start_utc,
                    end: window.end_utc,
                    label: format!(
                        "conference {} '{}' slot {} ({} {}–{} {})",
                        slot.conference_id,
                        crate::text::clean_line(title),
                        slot.id,
                        slot.date,
                        slot.start_time.format("%H:%M"),
                        slot.end_time.format("%H:%M"),
                        crate::text::clean_line(&slot.timezone)
                    ),
                })
            })
            .collect())
    }

    async fn look_at_user(
        &self,
        user_id: Option<i64>,
        orphans: Vec<(LedgerRecord, bool)>,
        context: &PlanContext,
    ) -> UserReport {
        let store = &self.inner.store;
        let person = match user_id {
            Some(id) => match store.person(id).await {
                Ok(person) => person,
                Err(e) => {
                    return UserReport::Failed(MailboxFailure {
                        mailbox: String::new(),
                        user_id,
                        error: format!("cannot read user {id}: {e}"),
                    });
                }
            },
            None => None,
        };
        let pointers = match user_id {
            Some(id) => match store.event_pointers_of_user(id).await {
                Ok(pointers) => pointers,
                Err(e) => {
                    return UserReport::Failed(MailboxFailure {
                        mailbox: String::new(),
                        user_id,
                        error: format!("cannot read the selections of user {id}: {e}"),
                    });
                }
            },
            None => Vec::new(),
        };
        let Some(person) = person.filter(|p| !p.email.trim().is_empty()) else {
            // No mailbox to translate ids in: only an orphan whose selection is gone is proven
            // (one "pointing elsewhere" may point to it in the other id format).
            let findings = orphans
                .iter()
                .filter(|(record, gone)| {
                    *gone
                        && !pointers.iter().any(|p| {
                            p.outlook_event_id.as_deref() == Some(record.event_id.as_str())
                        })
                })
                .map(|(record, gone)| ledger_finding(record, *gone, &pointers))
                .collect();
            return UserReport::NoEmail { findings };
        };
        let mailbox = person.email.trim().to_lowercase();
        let failed = |error: String| {
            UserReport::Failed(MailboxFailure {
                mailbox: mailbox.clone(),
                user_id,
                error,
            })
        };
        let credentials = match context
            .credentials
            .for_holder(&holder(user_id, Some(&person)))
        {
            Ok(credentials) => credentials,
            Err(e) => return failed(e.to_string()),
        };
        match self
            .scan_mailbox(
                &mailbox,
                &person,
                &credentials,
                &pointers,
                &orphans,
                context,
            )
            .await
        {
            Ok(findings) => UserReport::Scanned { mailbox, findings },
            Err(e) => failed(e),
        }
    }

    /// Reads the mailbox in the slot windows (and where the ledger says calsync wrote events),
    /// translates every id involved to one format, and returns the proven ledger `orphans` and
    /// the mailbox's tagged and probable orphans.
    async fn scan_mailbox(
        &self,
        mailbox: &str,
        person: &Person,
        credentials: &Credentials,
        pointers: &[EventPointer],
        orphans: &[(LedgerRecord, bool)],
        context: &PlanContext,
    ) -> Result<Vec<Finding>, String> {
        let store = &self.inner.store;
        let ledger: Vec<LedgerRecord> = if context.ledger {
            store
                .ledger_rows(LedgerScope {
                    user_id: Some(person.id),
                    conference_id: None,
                })
                .await
                .map_err(|e| format!("cannot read the event ledger: {e}"))?
                .into_iter()
                .filter(|r| r.mailbox == mailbox && r.deleted_at.is_none())
                .collect()
        } else {
            Vec::new()
        };
        let mut windows: Vec<(DateTime<Utc>, DateTime<Utc>)> =
            context.slots.iter().map(|s| (s.start, s.end)).collect();
        windows.extend(
            ledger
                .iter()
                .filter(|r| in_scope(context.scope, r.conference_id))
                .map(|r| (r.sent_start, r.sent_end)),
        );
        // Every window in one round trip (a `$batch`), not one after the other.
        let pages = self
            .inner
            .graph
            .calendar_views(
                credentials,
                mailbox,
                &join_windows(windows),
                TAG_PROPERTY_ID,
            )
            .await
            .map_err(|e| e.operator_text())?;
        let mut seen = HashSet::new();
        let events: Vec<EventInfo> = pages
            .into_iter()
            .flatten()
            .filter(|e| seen.insert(e.id.clone()))
            .collect();
        let events: Vec<SeenEvent> = events.into_iter().map(SeenEvent::from).collect();
        let tagged: Vec<i64> = events.iter().filter_map(|e| e.tag).collect();
        let tag_pointers: HashMap<i64, EventPointer> = store
            .event_pointers(&tagged)
            .await
            .map_err(|e| format!("cannot read the selections: {e}"))?
            .into_iter()
            .map(|p| (p.selection_id, p))
            .collect();
        let row_ids: Vec<&str> = pointers
            .iter()
            .chain(tag_pointers.values())
            .filter_map(|p| p.outlook_event_id.as_deref())
            .collect();
        let ids = MailboxIds::resolve(
            &self.inner.graph,
            credentials,
            mailbox,
            row_ids
                .iter()
                .copied()
                .chain(ledger.iter().map(|r| r.event_id.as_str()))
                .chain(orphans.iter().map(|(r, _)| r.event_id.as_str()))
                .chain(events.iter().map(|e| e.id.as_str())),
        )
        .await
        .map_err(|e| e.operator_text())?;
        let rows_point = PointedIds::new(&ids, row_ids.iter().copied());

        let mut findings: Vec<Finding> = orphans
            .iter()
            .filter(|(record, gone)| {
                proven_orphan(record, *gone, mailbox, pointers, &ids, &rows_point)
            })
            .map(|(record, gone)| ledger_finding(record, *gone, pointers))
            .collect();
        let mut reported: HashSet<String> = findings.iter().map(|f| ids.key(&f.event_id)).collect();
        let ledger_by_event: HashMap<String, &LedgerRecord> =
            ledger.iter().map(|r| (ids.key(&r.event_id), r)).collect();
        let sighting = Sighting {
            mailbox,
            user_id: person.id,
            ids: &ids,
            rows_point: &rows_point,
        };
        findings.extend(
            tagged_orphans(&sighting, &events, &tag_pointers, &ledger_by_event, context)
                .into_iter()
                .filter(|f| reported.insert(ids.key(&f.event_id))),
        );
        let pointed = PointedIds::new(
            &ids,
            row_ids
                .iter()
                .copied()
                .chain(ledger.iter().map(|r| r.event_id.as_str())),
        );
        for event in events.iter().filter(|e| e.tag.is_none()) {
            if pointed.contains(&event.id) || reported.contains(&ids.key(&event.id)) {
                continue;
            }
            if let Some(finding) = probable(mailbox, person.id, event, &events, pointers, context) {
                reported.insert(ids.key(&finding.event_id));
                findings.push(finding);
            }
        }
        Ok(findings)
    }
}

/// Where a mailbox's events were seen, with what their ids are compared through.
struct Sighting<'a> {
    mailbox: &'a str,
    user_id: i64,
    ids: &'a MailboxIds,
    /// Every event id a selection row in view points to.
    rows_point: &'a PointedIds<'a>,
}

/// A ledger orphan is proven when no row points to its event in any id format, and either its
/// selection is gone or that selection points to another event that exists in this mailbox (an
/// id Graph cannot place might be this very event under an old REST id).
fn proven_orphan(
    record: &LedgerRecord,
    gone: bool,
    mailbox: &str,
    pointers: &[EventPointer],
    ids: &MailboxIds,
    rows_point: &PointedIds<'_>,
) -> bool {
    if rows_point.contains(&record.event_id) {
        return false;
    }
    if gone {
        return true;
    }
    record.mailbox == mailbox
        && pointers
            .iter()
            .find(|p| Some(p.selection_id) == record.selection_id)
            .and_then(|p| p.outlook_event_id.as_deref())
            .is_some_and(|other| ids.exists(other) && !ids.same(other, &record.event_id))
}

/// Events with calsync's tag whose selection is gone or points to another existing event, and
/// that no row points to in any id format.
fn tagged_orphans(
    seen: &Sighting<'_>,
    events: &[SeenEvent],
    pointers: &HashMap<i64, EventPointer>,
    ledger: &HashMap<String, &LedgerRecord>,
    context: &PlanContext,
) -> Vec<Finding> {
    let mut found = Vec::new();
    for event in events {
        let Some(selection_id) = event.tag else {
            continue;
        };
        if seen.rows_point.contains(&event.id) {
            continue;
        }
        let pointer = pointers.get(&selection_id);
        let why = match pointer.map(|p| p.outlook_event_id.as_deref()) {
            None => format!("its selection {selection_id} no longer exists"),
            Some(Some(other)) if seen.ids.exists(other) && !seen.ids.same(other, &event.id) => {
                format!(
                    "its selection {selection_id} now points to event {}",
                    short_id(other)
                )
            }
            // Points to no event yet (the next sync adopts it), or to one Graph cannot place.
            Some(_) => continue,
        };
        let known = ledger.get(&seen.ids.key(&event.id));
        let conference_id = pointer
            .map(|p| p.conference_id)
            .or_else(|| known.and_then(|r| r.conference_id));
        let belongs = match (context.scope.conference_id, conference_id) {
            (None, _) => true,
            (Some(wanted), Some(conference)) => wanted == conference,
            (Some(wanted), None) => context.subjects.get(&wanted) == Some(&event.subject),
        };
        if !belongs {
            continue;
        }
        found.push(Finding {
            kind: FindingKind::TaggedOrphan,
            mailbox: seen.mailbox.to_string(),
            user_id: Some(seen.user_id),
            selection_id: Some(selection_id),
            conference_id,
            slot_id: pointer
                .map(|p| p.slot_id)
                .or_else(|| known.and_then(|r| r.slot_id)),
            event_id: event.id.clone(),
            subject: event.subject.clone(),
            start: event.start,
            end: event.end,
            evidence: format!("carries calsync's tag, but {why}"),
            in_ledger: known.is_some(),
        });
    }
    found
}

/// An event from a calendarView, with what reconcile compares.
struct SeenEvent {
    id: String,
    /// `subject()` of what Graph returned.
    subject: String,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    /// The selection id in calsync's tag.
    tag: Option<i64>,
}

impl From<EventInfo> for SeenEvent {
    fn from(event: EventInfo) -> SeenEvent {
        let tag = event
            .property(TAG_PROPERTY_ID)
            .and_then(|v| v.strip_prefix("calsync-selection-"))
            .and_then(|id| id.parse().ok());
        SeenEvent {
            subject: subject(event.subject.as_deref().unwrap_or("")),
            start: event.start.as_ref().and_then(utc_of),
            end: event.end.as_ref().and_then(utc_of),
            tag,
            id: event.id,
        }
    }
}

/// Graph's `dateTime` in UTC (what calsync asks for with `Prefer: outlook.timezone`).
fn utc_of(at: &crate::graph::DateTimeTimeZone) -> Option<DateTime<Utc>> {
    if !at.time_zone.eq_ignore_ascii_case("UTC") {
        return None;
    }
    let whole = at.date_time.get(..19)?;
    NaiveDateTime::parse_from_str(whole, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|naive| naive.and_utc())
}

/// An untagged event with a slot's subject and times that nothing points to.
fn probable(
    mailbox: &str,
    user_id: i64,
    event: &SeenEvent,
    events: &[SeenEvent],
    pointers: &[EventPointer],
    context: &PlanContext,
) -> Option<Finding> {
    let (start, end) = (event.start?, event.end?);
    let slot = context
        .slots
        .iter()
        .find(|s| s.start == start && s.end == end && s.subject == event.subject)?;
    let alike = events
        .iter()
        .filter(|e| e.start == event.start && e.end == event.end && e.subject == event.subject)
        .count();
    let holders: Vec<&EventPointer> = pointers
        .iter()
        .filter(|p| p.slot_id == slot.slot_id)
        .collect();
    let duplicate_of = holders
        .iter()
        .find_map(|p| Some((p.selection_id, p.outlook_event_id.as_deref()?)));
    let (kind, holder) = match (duplicate_of, holders.first()) {
        (Some((selection, other)), _) => (
            FindingKind::ProbableDuplicate,
            format!(
                "selection {selection} holds this slot and points to event {}",
                short_id(other)
            ),
        ),
        (None, Some(p)) => (
            FindingKind::ProbableOrphan,
            format!(
                "selection {} holds this slot but points to no event",
                p.selection_id
            ),
        ),
        (None, None) => (
            FindingKind::ProbableOrphan,
            "no selection of this person holds this slot".to_string(),
        ),
    };
    Some(Finding {
        kind,
        mailbox: mailbox.to_string(),
        user_id: Some(user_id),
        selection_id: None,
        conference_id: Some(slot.conference_id),
        slot_id: Some(slot.slot_id),
        event_id: event.id.clone(),
        subject: event.subject.clone(),
        start: event.start,
        end: event.end,
        evidence: format!(
            "subject and times match {}; no selection or ledger entry points to it; {holder}; \
             {alike} such event(s) in this mailbox",
            slot.label
        ),
        in_ledger: false,
    })
}

fn ledger_finding(record: &LedgerRecord, gone: bool, pointers: &[EventPointer]) -> Finding {
    let selection = record
        .selection_id
        .map_or_else(|| "?".to_string(), |id| id.to_string());
    let evidence = if gone {
        format!("calsync wrote it for selection {selection}, which no longer exists")
    } else {
        let now = pointers
            .iter()
            .find(|p| Some(p.selection_id) == record.selection_id)
            .and_then(|p| p.outlook_event_id.as_deref())
            .map_or_else(
                || "another event".to_string(),
                |id| format!("event {}", short_id(id)),
            );
        format!("calsync wrote it for selection {selection}, which now points to {now}")
    };
    Finding {
        kind: FindingKind::LedgerOrphan,
        mailbox: record.mailbox.clone(),
        user_id: record.user_id,
        selection_id: record.selection_id,
        conference_id: record.conference_id,
        slot_id: record.slot_id,
        event_id: record.event_id.clone(),
        subject: record.subject.clone(),
        start: Some(record.sent_start),
        end: Some(record.sent_end),
        evidence,
        in_ledger: true,
    }
}

fn ledger_record(finding: &Finding) -> LedgerRecord {
    let now = Utc::now();
    LedgerRecord {
        id: 0,
        selection_id: finding.selection_id,
        user_id: finding.user_id,
        conference_id: finding.conference_id,
        slot_id: finding.slot_id,
        mailbox: finding.mailbox.clone(),
        event_id: finding.event_id.clone(),
        subject: finding.subject.clone(),
        sent_start: finding.start.unwrap_or(now),
        sent_end: finding.end.unwrap_or(now),
        last_action: LedgerAction::Found,
        created_at: now,
        last_seen_at: now,
        deleted_at: None,
    }
}

fn holder(user_id: Option<i64>, person: Option<&Person>) -> Holder<'_> {
    Holder {
        user_id: user_id.unwrap_or_default(),
        username: person.map_or("(unknown user)", |p| p.username.as_str()),
        branch_id: person.and_then(|p| p.branch_id),
        branch_name: person.and_then(|p| p.branch_name.as_deref()),
    }
}

fn in_scope(scope: LedgerScope, conference_id: Option<i64>) -> bool {
    scope
        .conference_id
        .is_none_or(|wanted| conference_id == Some(wanted))
}

/// The windows sorted and joined where they overlap or nearly touch: fewer requests.
fn join_windows(
    mut windows: Vec<(DateTime<Utc>, DateTime<Utc>)>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    windows.sort();
    let mut joined: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for (start, end) in windows {
        match joined.last_mut() {
            Some(last) if start <= last.1 + WINDOW_JOIN_GAP => last.1 = last.1.max(end),
            _ => joined.push((start, end)),
        }
    }
    joined
}

fn not_started(finding: Finding, progress: &Progress<ReconcileEvent>) -> Resolved {
    let resolved = Resolved {
        finding,
        result: Resolution::NotStarted,
    };
    progress.report(ReconcileEvent::Resolved(resolved.clone()));
    resolved
}

pub fn short_id(id: &str) -> String {
    crate::text::truncate(id, 24)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 12, 15, hour, 0, 0).unwrap()
    }

    #[test]
    fn windows_that_overlap_or_nearly_touch_are_read_in_one_request() {
        let joined = join_windows(vec![(at(14), at(15)), (at(10), at(11)), (at(10), at(12))]);
        assert_eq!(joined, vec![(at(10), at(15))]);
        let next_week = at(9) + chrono::TimeDelta::days(7);
        let apart = join_windows(vec![(at(8), at(9)), (next_week, next_week)]);
        assert_eq!(apart.len(), 2);
    }

    #[test]
    fn only_times_graph_gave_in_utc_are_compared() {
        let utc = crate::graph::DateTimeTimeZone {
            date_time: "2025-12-15T10:00:00.0000000".into(),
            time_zone: "UTC".into(),
        };
        assert_eq!(utc_of(&utc), Some(at(10)));
        let local = crate::graph::DateTimeTimeZone {
            time_zone: "Pacific Standard Time".into(),
            ..utc
        };
        assert_eq!(utc_of(&local), None);
    }
}
