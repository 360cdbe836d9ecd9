//! One pass of the worker: decide (see [`super::plan`]), sync each list through the engine and
//! its claims, then write what the pass learnt into the retry schedule and one audit row.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::cleanup::Cleanup;
use super::depends::{depends_on, integrations_digest};
use super::pass_error::PassError;
use super::plan::{Plan, plan, read_all};
use super::schedule::{RetryPolicy, jitter};
use super::watch::{Detection, Watch};
use crate::audit::{AuditTrail, sync_detail, sync_outcome};
use crate::domain::worker::RetryEntry;
use crate::domain::{Filter, Selection};
use crate::store::{Claims, ScheduleChange};
use crate::sync::progress::Progress;
use crate::sync::{Engine, ItemResult, Outcome, Summary, SyncEvent};

/// What a pass did.
#[derive(Debug, Default, Clone)]
pub struct PassReport {
    pub new: usize,
    pub retries: usize,
    pub rechecks: usize,
    pub stale: usize,
    /// Every list's results together.
    pub summary: Summary,
    /// Failures given a next attempt.
    pub retries_scheduled: usize,
    /// Failures parked (at once, or at the cap).
    pub parked: usize,
    /// Users whose ledger holds events no selection points to any more.
    pub cleanup_users: usize,
    /// Events of cancelled selections and replaced slots deleted (see `worker::cleanup`).
    pub deleted: usize,
    pub delete_failures: usize,
    /// The pass looked at every row.
    pub swept: bool,
    /// How long each question of the pass's detection took the database.
    pub detection: Vec<(&'static str, Duration)>,
}

impl PassReport {
    fn of(plan: &Plan) -> PassReport {
        PassReport {
            new: plan.new.len(),
            retries: plan.retries.len(),
            rechecks: plan.rechecks,
            stale: plan.stale.len(),
            parked: plan.parked,
            ..PassReport::default()
        }
    }

    pub fn planned(&self) -> usize {
        self.new + self.retries + self.stale + self.cleanup_users
    }

    /// The database time of the pass's detection.
    pub fn detection_cost(&self) -> Duration {
        self.detection.iter().map(|(_, took)| *took).sum()
    }
}

/// A pass's decision, before it acts.
struct Decided {
    plan: Plan,
    /// The users whose ledger holds events no selection points to any more.
    orphans: BTreeMap<i64, Vec<String>>,
    detection: Detection,
    /// The digest of the active integrations, for what parked failures depend on.
    integrations: String,
}

pub struct Pass<'a> {
    pub engine: &'a Engine,
    pub cleanup: &'a Cleanup,
    /// What earlier passes saw, so this one looks only where something changed.
    pub watch: &'a Watch,
    pub policy: RetryPolicy,
    /// Against the simulated Graph (said in the audit row).
    pub simulated: bool,
    /// Look at every row (see [`Watch`]), not only where something changed.
    pub sweep: bool,
}

impl Pass<'_> {
    /// Decides what a pass would do, without doing it; the users whose leftover events it
    /// would look for; and what it found (with the database time of each question).
    pub async fn plan(&self) -> Result<(Plan, usize, Detection), PassError> {
        let decided = self.decide().await?;
        Ok((decided.plan, decided.orphans.len(), decided.detection))
    }

    async fn decide(&self) -> Result<Decided, PassError> {
        let store = self.engine.store();
        let now = Utc::now();
        let integrations = integrations_digest(&store.active_credentials().await?);
        let mut detection = self
            .watch
            .detect(store, &integrations, now, self.sweep)
            .await?;
        let found = std::mem::take(&mut detection.found);
        let plan = plan(
            store,
            found,
            &detection.schedule,
            &detection.changed,
            &self.policy,
            &integrations,
            now,
        )
        .await?;
        let orphans = if detection.look_for_leftovers {
            let started = std::time::Instant::now();
            let users = self.cleanup.users_to_check(store).await?;
            detection
                .timings
                .push(("leftover events", started.elapsed()));
            users
        } else {
            BTreeMap::new()
        };
        Ok(Decided {
            plan,
            orphans,
            detection,
            integrations,
        })
    }

    /// Runs one pass. Cancelling stops new work; what is in flight finishes and is recorded.
    pub async fn run(&self, cancel: &CancellationToken) -> Result<PassReport, PassError> {
        let store = self.engine.store();
        let Decided {
            plan,
            orphans,
            mut detection,
            integrations,
        } = self.decide().await?;
        let schedule = std::mem::take(&mut detection.schedule);
        let mut report = PassReport {
            cleanup_users: orphans.len(),
            swept: detection.swept,
            detection: std::mem::take(&mut detection.timings),
            ..PassReport::of(&plan)
        };
        let mut changes = plan.changes.clone();
        if plan.is_idle() && orphans.is_empty() {
            store.apply_schedule(&changes).await?;
            self.watch.commit(detection.seen, false);
            return Ok(report);
        }
        let scope = crate::audit::run_scope(
            &format!(
                "worker pass: {} new, {} retries, {} stale, {} users with leftover events",
                report.new, report.retries, report.stale, report.cleanup_users
            ),
            self.simulated,
        );
        // Taken before the audit row is opened: a pass that must wait for another calsync's
        // run leaves no row behind.
        let mut claims = Some(store.claims(false).await?);
        let trail = AuditTrail::begin(store, "worker", &scope, "", report.planned() as u64)
            .await
            .map_err(PassError::Database)?;
        let entries: HashMap<i64, &RetryEntry> =
            schedule.iter().map(|e| (e.selection_id, e)).collect();
        let lists = [
            (Plan::new_filter(), plan.new),
            (Plan::retry_filter(), plan.retries),
            (Plan::stale_filter(), plan.stale),
        ];
        let mut stopped = None;
        for (filter, ids) in lists {
            if ids.is_empty() || cancel.is_cancelled() {
                report.summary.not_started += ids.len();
                continue;
            }
            let (summary, results) =
                match self.sync(claims.take(), &filter, ids.clone(), cancel).await {
                    Ok(done) => done,
                    Err(e) => {
                        report.summary.not_started += ids.len();
                        stopped.get_or_insert(e);
                        continue;
                    }
                };
            add(&mut report.summary, &summary);
            let failed: Vec<i64> = results
                .iter()
                .filter(|r| matches!(r.outcome, Outcome::Failed { .. } | Outcome::Skipped { .. }))
                .map(|r| r.selection_id)
                .collect();
            let rows = read_all(store, &failed).await?;
            for result in &results {
                let change = schedule_change(
                    &self.policy,
                    result,
                    entries.get(&result.selection_id).copied(),
                    rows.get(&result.selection_id),
                    &integrations,
                );
                let failed = matches!(result.outcome, Outcome::Failed { .. });
                match &change {
                    Some(ScheduleChange::Put(e)) if e.is_parked() => report.parked += 1,
                    Some(ScheduleChange::Put(_)) if failed => report.retries_scheduled += 1,
                    _ => {}
                }
                changes.extend(change);
            }
        }
        let written = store.apply_schedule(&changes).await;
        if !orphans.is_empty() && !cancel.is_cancelled() && stopped.is_none() {
            let cleaned = self
                .cleanup
                .run(&self.engine.reconciler(), orphans, cancel)
                .await;
            report.deleted = cleaned.deleted;
            report.delete_failures = cleaned.failed;
        }
        let detail = format!(
            "{}; {} retries scheduled, {} parked; {} leftover events deleted{}",
            sync_detail(&report.summary),
            report.retries_scheduled,
            report.parked,
            report.deleted,
            if report.delete_failures > 0 {
                format!(", {} could not be deleted", report.delete_failures)
            } else {
                String::new()
            }
        );
        let outcome = sync_outcome(&report.summary);
        if let Err(e) = trail
            .finish(outcome, report.summary.total as u64, &detail)
            .await
        {
            tracing::warn!(target: "calsync::worker", "{e}");
        }
        written?;
        // The engine stops a run on its first write that fails: the database is the problem.
        if let Some(reason) = &report.summary.stopped {
            stopped.get_or_insert(PassError::Database(format!("the run stopped: {reason}")));
        }
        match stopped {
            Some(e) => Err(e),
            None => {
                let wrote = report.summary.synced > 0 || report.deleted > 0;
                self.watch.commit(detection.seen, wrote);
                Ok(report)
            }
        }
    }

    /// One list through the engine, under the run's claims.
    async fn sync(
        &self,
        claims: Option<Claims>,
        filter: &Filter,
        ids: Vec<i64>,
        cancel: &CancellationToken,
    ) -> Result<(Summary, Vec<ItemResult>), PassError> {
        let claims = match claims {
            Some(claims) => claims,
            None => self.engine.store().claims(false).await?,
        };
        let results = Arc::new(Mutex::new(Vec::new()));
        let collected = Arc::clone(&results);
        let progress = Progress::new(move |event| match event {
            SyncEvent::Item(result) => collected
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(result),
            SyncEvent::Throttled { mailbox: _, wait } => {
                tracing::info!(target: "calsync::worker", wait_ms = wait.as_millis() as u64, "Graph asked to slow down on a mailbox");
            }
            SyncEvent::Started { .. } | SyncEvent::Finished(_) => {}
        });
        let summary = self
            .engine
            .run(claims, filter, ids, progress, cancel.clone())
            .await
            .map_err(|e| PassError::Sync(e.to_string()))?;
        let results = std::mem::take(&mut *results.lock().unwrap_or_else(PoisonError::into_inner));
        Ok((summary, results))
    }
}

/// What one result changes in the schedule: a success leaves it, a failure is given its next
/// attempt or parked; anything else (skipped, left to another calsync, changed by the LMS) waits
/// for the next pass to look again.
fn schedule_change(
    policy: &RetryPolicy,
    result: &ItemResult,
    previous: Option<&RetryEntry>,
    row: Option<&Selection>,
    integrations: &str,
) -> Option<ScheduleChange> {
    match &result.outcome {
        Outcome::Synced { .. } => previous.map(|_| ScheduleChange::Forget(result.selection_id)),
        Outcome::Failed { error, cause } => {
            let attempts = previous.map_or(0, |p| p.attempts);
            Some(ScheduleChange::Put(policy.after_failure(
                previous,
                result.selection_id,
                (error, *cause),
                row.map(|row| depends_on(row, integrations)),
                Utc::now(),
                jitter(result.selection_id, attempts),
            )))
        }
        // Without this, a conference that stopped using time slots would be synced (and
        // skipped) on every pass.
        Outcome::Skipped { reason } if row.is_some_and(|row| !row.use_time_slots) => {
            let attempts = previous.map_or(0, |p| p.attempts);
            Some(ScheduleChange::Put(policy.after_skip(
                previous,
                result.selection_id,
                reason,
                Utc::now(),
                jitter(result.selection_id, attempts),
            )))
        }
        Outcome::Skipped { .. } | Outcome::Conflict { .. } | Outcome::ClaimedElsewhere { .. } => {
            None
        }
    }
}

fn add(total: &mut Summary, more: &Summary) {
    total.total += more.total;
    total.synced += more.synced;
    total.created += more.created;
    total.updated += more.updated;
    total.adopted += more.adopted;
    total.failed += more.failed;
    total.skipped += more.skipped;
    total.conflicts += more.conflicts;
    total.claimed_elsewhere += more.claimed_elsewhere;
    total.not_started += more.not_started;
    total.throttled += more.throttled;
    total.duration += more.duration;
    total.failures.extend(more.failures.iter().cloned());
    if total.stopped.is_none() {
        total.stopped.clone_from(&more.stopped);
    }
}

/// The first ids of a list, for the lines a dry run prints.
pub fn describe_ids(ids: &[i64]) -> String {
    const SHOWN: usize = 10;
    let mut shown: Vec<String> = ids.iter().take(SHOWN).map(|id| id.to_string()).collect();
    if ids.len() > SHOWN {
        shown.push(format!("… and {} more", ids.len() - SHOWN));
    }
    shown.join(", ")
}
