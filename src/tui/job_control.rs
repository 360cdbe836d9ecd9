//! Starting the console's background jobs (sync, verify, reconcile): the one job at a time,
//! the guard that refuses a second, and how each engine's progress folds into the [`Job`] the
//! jobs panel shows.

use super::app::{App, Effect};
use super::job::{Job, JobKind};
use super::list::Marks;
use super::rate::RateMeter;
use super::reconcile::ReconcileView;
use super::run_rows::RunRows;
use super::screen::Screen;
use crate::domain::Scope;
use crate::domain::ledger::LedgerScope;
use crate::jobs::{RunScope, SyncTarget};
use crate::sync::reconcile::{ReconcileEvent, Resolution};
use crate::sync::verify::{CheckStatus, VerifyEvent, VerifySummary};
use crate::sync::{Outcome, Summary, SyncEvent};

/// What the footer says when a second job is asked for.
const ALREADY_RUNNING: &str = "a job is already running (x cancels it)";

impl App {
    /// The one guard for "a job is running": true (and the footer says so) when one is.
    pub(in crate::tui) fn job_running(&mut self) -> bool {
        let running = self.job.as_ref().is_some_and(Job::running);
        if running {
            self.message = Some(ALREADY_RUNNING.to_string());
        }
        running
    }

    pub(in crate::tui) fn retry(&mut self) -> Vec<Effect> {
        if self.job_running() {
            return Vec::new();
        }
        if self
            .screen()
            .and_then(Screen::list)
            .is_some_and(|list| !list.marks.is_empty())
        {
            return self.open_bulk_with(Scope::All);
        }
        match self.current_selection() {
            Some(s) => {
                let id = s.id;
                self.start_job(JobKind::Sync, format!("Retry of selection {id}"), 1);
                vec![Effect::Sync(
                    SyncTarget::Ids(vec![id]),
                    RunScope::of(Scope::All),
                )]
            }
            None => Vec::new(),
        }
    }

    /// Checks, without a confirmation (nothing in the LMS or Outlook changes), that the events
    /// of the marked or listed added selections still exist. The missing ones come back marked.
    pub(in crate::tui) fn verify(&mut self) -> Vec<Effect> {
        if self.job_running() {
            return Vec::new();
        }
        let Some(target) = self.list_target() else {
            self.message = Some("open a list of selections first".to_string());
            return Vec::new();
        };
        self.verify_origin = self
            .screen()
            .and_then(Screen::list)
            .map(|list| list.filter.clone());
        let what = match &target {
            SyncTarget::Ids(ids) => format!("{} marked selections", ids.len()),
            SyncTarget::Matching { .. } => "the listed selections".to_string(),
        };
        self.start_job(JobKind::Verify, format!("Verify of {what}"), 0);
        vec![Effect::Verify(target, !self.session.read_only)]
    }

    pub(in crate::tui) fn start_job(&mut self, kind: JobKind, label: String, total: usize) {
        self.job = Some(Job {
            kind,
            label,
            total,
            done: 0,
            synced: 0,
            failed: 0,
            skipped: 0,
            throttled: 0,
            started: self.now,
            now: self.now,
            cancelling: false,
            ended: None,
            error: None,
            meter: RateMeter::starting(self.now),
            rows: RunRows::default(),
        });
    }

    pub(in crate::tui) fn end_job(&mut self, ended: Result<String, String>) {
        if let Some(job) = self.job.as_mut().filter(|j| j.running()) {
            job.now = self.now;
            job.meter.end(self.now, job.done);
            match ended {
                Ok(line) => job.ended = Some(line),
                Err(e) => job.error = Some(e),
            }
        }
    }

    pub(in crate::tui) fn sync_event(&mut self, event: SyncEvent) -> Vec<Effect> {
        let Some(job) = self.job.as_mut() else {
            return Vec::new();
        };
        match event {
            SyncEvent::Started { total } => job.total = total,
            SyncEvent::Throttled { .. } => job.throttled += 1,
            SyncEvent::Item(item) => {
                job.done += 1;
                job.now = self.now;
                job.meter.record(self.now, job.done);
                job.rows.record(&item);
                // A single retry says what happened to it in words.
                if job.total == 1 {
                    self.message = Some(match &item.outcome {
                        Outcome::Synced { .. } => {
                            format!("selection {}: added to Outlook", item.selection_id)
                        }
                        Outcome::Failed { error, .. } => {
                            format!("selection {} failed: {error}", item.selection_id)
                        }
                        Outcome::Skipped { reason } => {
                            format!("selection {} skipped: {reason}", item.selection_id)
                        }
                        Outcome::ClaimedElsewhere { detail } => {
                            format!("selection {} skipped: {detail}", item.selection_id)
                        }
                        Outcome::Conflict { detail } => {
                            format!("selection {}: {detail}", item.selection_id)
                        }
                    });
                }
                match item.outcome {
                    Outcome::Synced { .. } => job.synced += 1,
                    Outcome::Failed { .. } | Outcome::Conflict { .. } => job.failed += 1,
                    Outcome::Skipped { .. } | Outcome::ClaimedElsewhere { .. } => job.skipped += 1,
                }
                // Rows on screen update as their results arrive (one re-read in flight at most).
                if let Some(list) = self.stack.last_mut().and_then(Screen::list_mut)
                    && list.rows.iter().any(|r| r.id == item.selection_id)
                {
                    list.changed.insert(item.selection_id);
                    return self.refresh_visible();
                }
            }
            SyncEvent::Finished(summary) => {
                job.now = self.now;
                job.meter.end(self.now, job.done);
                job.ended = Some(sync_ended(&summary));
                if !job.rows.is_empty() {
                    self.message = Some(format!(
                        "{}: L lists the rows that did not sync, with their reasons",
                        job.ended.clone().unwrap_or_default()
                    ));
                }
                let mut effects = self.refresh_visible();
                effects.extend(self.refresh_counts());
                // The run changed the counts the overview shows (it is under the list, or on top).
                effects.extend(self.refresh_overview());
                return effects;
            }
        }
        Vec::new()
    }

    pub(in crate::tui) fn verify_event(&mut self, event: VerifyEvent) -> Vec<Effect> {
        let Some(job) = self.job.as_mut() else {
            return Vec::new();
        };
        match event {
            VerifyEvent::Started { total } => job.total = total,
            VerifyEvent::Checked(check) => {
                job.done += 1;
                job.now = self.now;
                job.meter.record(self.now, job.done);
                match check.status {
                    CheckStatus::Present => job.synced += 1,
                    CheckStatus::Missing => job.failed += 1,
                    CheckStatus::Unchecked(_) => job.skipped += 1,
                }
            }
            VerifyEvent::Finished(summary) => {
                job.now = self.now;
                job.meter.end(self.now, job.done);
                let missing = summary.missing_ids.clone();
                job.ended = Some(verify_ended(&summary));
                let origin = self.verify_origin.take();
                let list = self
                    .stack
                    .iter_mut()
                    .rev()
                    .filter_map(Screen::list_mut)
                    .find(|list| Some(&list.filter) == origin.as_ref());
                self.message = Some(if missing.is_empty() {
                    "no event is missing".to_string()
                } else if let Some(list) = list {
                    list.marks = Marks {
                        ids: missing.iter().copied().collect(),
                        ..Marks::default()
                    };
                    format!(
                        "{} events missing from Outlook, now marked in the list checked: r re-creates them",
                        missing.len()
                    )
                } else {
                    format!("{} events missing from Outlook", missing.len())
                });
            }
        }
        Vec::new()
    }

    /// The reconcile view waiting for `generation`, if it is still open.
    pub(in crate::tui) fn reconcile_view(&mut self, generation: u64) -> Option<&mut ReconcileView> {
        self.stack.iter_mut().find_map(|screen| match screen {
            Screen::Reconcile(view) if view.pending == Some(generation) => Some(view.as_mut()),
            _ => None,
        })
    }

    pub(in crate::tui) fn reconcile_event(&mut self, generation: u64, event: ReconcileEvent) {
        if self.reconcile_view(generation).is_none() {
            return;
        }
        let now = self.now;
        match event {
            ReconcileEvent::PlanStarted { users } => {
                if let Some(job) = self.job.as_mut() {
                    job.total = users;
                }
            }
            ReconcileEvent::MailboxScanned { findings, .. } => {
                if let Some(view) = self.reconcile_view(generation) {
                    view.scanned += 1;
                }
                if let Some(job) = self.job.as_mut() {
                    job.done += 1;
                    job.meter.record(now, job.done);
                    job.synced += findings;
                }
            }
            ReconcileEvent::MailboxFailed(failure) => {
                if let Some(view) = self.reconcile_view(generation) {
                    view.scanned += 1;
                    view.failures.push(failure);
                }
                if let Some(job) = self.job.as_mut() {
                    job.done += 1;
                    job.meter.record(now, job.done);
                    job.failed += 1;
                }
            }
            ReconcileEvent::ApplyStarted { total } => {
                if let Some(job) = self.job.as_mut() {
                    job.total = total;
                }
            }
            ReconcileEvent::Resolved(resolved) => {
                if let Some(job) = self.job.as_mut() {
                    job.done += 1;
                    job.meter.record(now, job.done);
                    match &resolved.result {
                        Resolution::Deleted => job.synced += 1,
                        Resolution::AlreadyGone => job.skipped += 1,
                        r if r.is_failure() => job.failed += 1,
                        _ => {}
                    }
                }
                if let Some(view) = self.reconcile_view(generation) {
                    view.resolved(resolved);
                }
            }
        }
    }

    /// `:reconcile`: without a scope, the person or conference of the screen it is typed on.
    pub(in crate::tui) fn open_reconcile(&mut self, scope: Option<LedgerScope>) -> Vec<Effect> {
        if self.job_running() {
            return Vec::new();
        }
        let scope = scope.unwrap_or_else(|| self.scope_here());
        let generation = self.generation();
        let view = ReconcileView::scanning(scope, generation);
        self.start_job(
            JobKind::ReconcileScan,
            format!("Reconcile scan ({})", view.scope_text()),
            0,
        );
        self.push(Screen::Reconcile(Box::new(view)));
        vec![Effect::ReconcilePlan(generation, scope)]
    }
}

fn cancelled_part(not_started: usize) -> String {
    if not_started > 0 {
        format!(", {not_started} not started (cancelled)")
    } else {
        String::new()
    }
}
fn sync_ended(summary: &Summary) -> String {
    let ended = format!(
        "{} synced, {} failed, {} skipped{} in {:.1}s",
        summary.synced,
        summary.failed + summary.conflicts,
        summary.skipped,
        cancelled_part(summary.not_started),
        summary.duration.as_secs_f64()
    );
    match &summary.stopped {
        Some(reason) => format!("{ended} — stopped: {reason}"),
        None => ended,
    }
}
fn verify_ended(summary: &VerifySummary) -> String {
    format!(
        "{} present, {} missing, {} not checked{} in {:.1}s",
        summary.present,
        summary.missing,
        summary.unchecked,
        cancelled_part(summary.not_started),
        summary.duration.as_secs_f64()
    )
}
