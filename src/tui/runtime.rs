//! Runs the app's effects on tokio tasks (store queries, sync runs, exports) and sends what they
//! find back as reports. The render loop never waits on any of it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::action::Report;
use super::app::Effect;
use super::data::{OverviewData, OverviewPart, RecentFailure, WorkersLine};
use super::overview_cache::{self, CachedOverview};
use super::worker_views::{NO_WORKER_TABLES, WorkerAction, WorkerData, WorkerTab};
use crate::audit::{AuditTrail, OpenRows, run_scope};
use crate::domain::ledger::LedgerScope;
use crate::domain::{Filter, PageRequest, Sort};
use crate::jobs::audited::{audited, reconcile_closing, sync_closing, verify_closing};
use crate::jobs::{self, RunScope, SyncTarget, describe_target, resolve, resolve_verifiable, text};
use crate::store::{Store, StoreError};
use crate::sync::Engine;
use crate::sync::progress::Progress;
use crate::sync::reconcile::Finding;
use crate::worker::views::{self, Origin};

pub struct Runtime {
    store: Store,
    engine: Engine,
    reports: mpsc::UnboundedSender<Report>,
    job: Option<CancellationToken>,
    /// The task of the job, so that a stop (SIGTERM) can wait until it has drained.
    job_task: Option<tokio::task::JoinHandle<()>>,
    /// The audit rows of a run against the simulated Graph say so.
    simulated_graph: bool,
    /// Where the last complete overview of this database is kept (None: not kept).
    overview_cache: Option<PathBuf>,
    /// The audit rows of the jobs this console runs, closed `interrupted` if it ends mid-run.
    open_rows: OpenRows,
}

/// The newest failures the overview reads: more than the tallest terminal shows of them.
pub const NEWEST_FAILURES: u32 = 40;

/// How many people a `:person` text offers at most.
const PERSON_CANDIDATES: u32 = 20;

/// How long a closing console waits for the job in flight to finish and record itself.
const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// An engine's progress, delivered as the console's own reports: they go into the report
/// channel as they happen, so they are all in before the job's closing report.
fn reporting<E: 'static>(
    reports: &mpsc::UnboundedSender<Report>,
    as_report: impl Fn(E) -> Report + Send + Sync + 'static,
) -> Progress<E> {
    let reports = reports.clone();
    Progress::new(move |event| {
        let _ = reports.send(as_report(event));
    })
}

impl Runtime {
    pub fn new(store: Store, engine: Engine, reports: mpsc::UnboundedSender<Report>) -> Runtime {
        Runtime {
            store,
            engine,
            reports,
            job: None,
            job_task: None,
            simulated_graph: false,
            overview_cache: None,
            open_rows: OpenRows::default(),
        }
    }

    pub fn with_overview_cache(mut self, file: Option<PathBuf>) -> Runtime {
        self.overview_cache = file;
        self
    }

    /// The console is ending with a job perhaps still running (a confirmed quit, SIGTERM, an
    /// error): the job is cancelled and waited for (at most 15 s), its audit row says
    /// `interrupted`, and any row still open is closed so; never left `running`.
    pub async fn interrupt(&mut self) -> Result<(), String> {
        self.open_rows.ending();
        if let Some(job) = &self.job {
            job.cancel();
        }
        if let Some(task) = self.job_task.take() {
            let _ = tokio::time::timeout(DRAIN_WAIT, task).await;
        }
        self.open_rows
            .close_remaining(&self.store)
            .await
            .map(|_| ())
    }

    pub fn with_simulated_graph(mut self, simulated_graph: bool) -> Runtime {
        self.simulated_graph = simulated_graph;
        self
    }

    fn job_context(&self) -> JobContext {
        JobContext {
            store: self.store.clone(),
            reports: self.reports.clone(),
            simulated: self.simulated_graph,
            open_rows: self.open_rows.clone(),
        }
    }

    /// Starts the one job: its cancellation is kept for `x`, its task for a drain.
    fn start_job<F>(&mut self, job: impl FnOnce(CancellationToken) -> F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let cancel = CancellationToken::new();
        self.job = Some(cancel.clone());
        self.job_task = Some(tokio::spawn(job(cancel)));
    }

    /// Runs `effect` in the background; what it finds comes back as reports.
    pub fn run(&mut self, effect: Effect) {
        let store = self.store.clone();
        let reports = self.reports.clone();
        let send = move |report: Report| {
            let _ = reports.send(report);
        };
        match effect {
            Effect::Overview(generation) => {
                let database = store.describe();
                let cache = self.overview_cache.clone();
                if let Some(file) = cache.clone() {
                    let send = send.clone();
                    let database = database.clone();
                    tokio::task::spawn_blocking(move || {
                        if let Some(cached) = overview_cache::load(&file, &database) {
                            send(Report::OverviewCached(generation, Box::new(cached)));
                        }
                    });
                }
                // Every part at once, each on its own read connection; each shows as it
                // arrives (the newest failures, one page through an index, first; then the
                // state counts, the cheapest scan). The last to arrive of a complete read
                // replaces the cached overview.
                let fresh = Arc::new(Mutex::new(OverviewData::default()));
                for part in [
                    OverviewQuery::NewestFailures,
                    OverviewQuery::Counts,
                    OverviewQuery::Trend,
                    OverviewQuery::WorstConferences,
                    OverviewQuery::Causes,
                ] {
                    let store = store.clone();
                    let send = send.clone();
                    let fresh = Arc::clone(&fresh);
                    let cache = cache.clone();
                    let database = database.clone();
                    tokio::spawn(async move {
                        let result = overview_part(&store, part).await;
                        if let (Ok(part), Some(file)) = (&result, cache) {
                            let mut data = fresh.lock().unwrap_or_else(|p| p.into_inner());
                            data.add(part.clone());
                            if data.complete() {
                                let cached = CachedOverview {
                                    database,
                                    read_at: Utc::now(),
                                    data: data.clone(),
                                };
                                // A cache that cannot be written only costs the next start time.
                                tokio::task::spawn_blocking(move || {
                                    let _ = overview_cache::store(&file, &cached);
                                });
                            }
                        }
                        send(Report::Overview(generation, result));
                    });
                }
                tokio::spawn(async move {
                    let line = workers_line(&store).await;
                    send(Report::Overview(
                        generation,
                        Ok(OverviewPart::Workers(line)),
                    ));
                });
            }
            Effect::Conferences(generation) => {
                tokio::spawn(async move {
                    send(Report::Conferences(
                        generation,
                        text(store.conferences().await),
                    ));
                });
            }
            Effect::Audit(generation) => {
                tokio::spawn(async move {
                    send(Report::Audit(
                        generation,
                        text(store.audit_rows(500, None).await),
                    ));
                });
            }
            Effect::Slots(generation, conference) => {
                tokio::spawn(async move {
                    send(Report::Slots(
                        generation,
                        text(store.slots(conference).await),
                    ));
                });
            }
            Effect::Page(generation, request) => {
                tokio::spawn(async move {
                    send(Report::Page(generation, text(store.page(&request).await)));
                });
            }
            Effect::Counts(generation, filter) => {
                tokio::spawn(async move {
                    let counts = text(store.summary(&filter).await).map(|c| (c.total(), c));
                    send(Report::Counts(generation, counts));
                });
            }
            Effect::Rows(generation, ids, sort) => {
                tokio::spawn(async move {
                    send(Report::Rows(
                        generation,
                        rows_by_id(&store, ids, sort).await,
                    ));
                });
            }
            Effect::Selection(generation, id) => {
                tokio::spawn(async move {
                    send(Report::Selection(
                        generation,
                        text(store.selection(id).await).map(|s| s.map(Box::new)),
                    ));
                });
            }
            Effect::Person(generation, user_id) => {
                tokio::spawn(async move {
                    send(Report::Person(
                        generation,
                        jobs::person::person(&store, user_id).await,
                    ));
                });
            }
            Effect::BulkPlan(generation, target, scope) => {
                tokio::spawn(async move {
                    send(Report::BulkPlan(
                        generation,
                        jobs::plan(&store, target, scope).await,
                    ));
                });
            }
            Effect::Sync(target, scope) => {
                let (job, engine) = (self.job_context(), self.engine.clone());
                self.start_job(move |cancel| sync_job(job, engine, target, scope, cancel));
            }
            Effect::Verify(target, record) => {
                let (job, verifier) = (self.job_context(), self.engine.verifier(record));
                self.start_job(move |cancel| verify_job(job, verifier, target, record, cancel));
            }
            Effect::ReconcilePlan(generation, scope) => {
                let (job, reconciler) = (self.job_context(), self.engine.reconciler());
                self.start_job(move |cancel| {
                    reconcile_plan_job(job, reconciler, generation, scope, cancel)
                });
            }
            Effect::ReconcileApply(generation, findings, scope) => {
                let (job, reconciler) = (self.job_context(), self.engine.reconciler());
                self.start_job(move |cancel| {
                    reconcile_apply_job(job, reconciler, generation, findings, scope, cancel)
                });
            }
            Effect::CancelSync => {
                if let Some(job) = &self.job {
                    job.cancel();
                }
            }
            Effect::FindPerson(generation, login) => {
                tokio::spawn(async move {
                    let found = text(store.person_matches(&login, PERSON_CANDIDATES).await);
                    send(Report::PersonFound(generation, found));
                });
            }
            Effect::WorkerData(generation, tab) => {
                tokio::spawn(async move {
                    send(Report::WorkerData(
                        generation,
                        worker_data(&store, tab).await,
                    ));
                });
            }
            Effect::WorkerAct(action, ids) => {
                tokio::spawn(async move {
                    send(Report::WorkerActed(
                        action,
                        worker_act(&store, action, &ids).await,
                    ));
                });
            }
            Effect::OpenUrl(url) => {
                tokio::task::spawn_blocking(move || {
                    let opener = crate::tui::browser::opener(|name| std::env::var(name).ok());
                    send(Report::Opened(crate::tui::browser::open(&url, &opener)));
                });
            }
            Effect::Export(filter, format, path) => {
                tokio::spawn(async move {
                    send(Report::Exported(
                        jobs::export::export_rows(&store, filter, &format, path).await,
                    ));
                });
            }
        }
    }
}

/// What a job's task needs of the runtime.
struct JobContext {
    store: Store,
    reports: mpsc::UnboundedSender<Report>,
    /// The audit rows of a run against the simulated Graph say so.
    simulated: bool,
    /// Where its audit row is registered, so a closing console can close it.
    open_rows: OpenRows,
}

#[derive(Clone, Copy)]
enum OverviewQuery {
    NewestFailures,
    Counts,
    Trend,
    WorstConferences,
    Causes,
}

async fn overview_part(store: &Store, part: OverviewQuery) -> Result<OverviewPart, String> {
    Ok(match part {
        OverviewQuery::NewestFailures => OverviewPart::NewestFailures(
            text(store.newest_failures(NEWEST_FAILURES).await)?
                .iter()
                .map(RecentFailure::of)
                .collect(),
        ),
        OverviewQuery::Counts => {
            OverviewPart::Counts(text(store.summary(&Filter::default()).await)?)
        }
        OverviewQuery::Trend => {
            let since = Utc::now() - chrono::Duration::days(14);
            OverviewPart::Trend(text(store.failure_trend(since).await)?)
        }
        OverviewQuery::WorstConferences => {
            let mut worst = text(store.failures_by_conference().await)?;
            worst.truncate(super::screens::overview::WORST_CONFERENCES_SHOWN);
            OverviewPart::WorstConferences(worst)
        }
        OverviewQuery::Causes => {
            OverviewPart::Causes(text(store.cause_counts(&Filter::default()).await)?)
        }
    })
}

/// Rows the worker screens show at most: the schedule's soonest, the newest of each cause.
const WORKER_ROWS: u32 = 500;

async fn worker_data(store: &Store, tab: WorkerTab) -> Result<WorkerData, String> {
    if !store.has_worker_tables() {
        return Ok(WorkerData::NoTables);
    }
    Ok(match tab {
        WorkerTab::Workers => WorkerData::Workers(text(views::workers(store, Utc::now()).await)?),
        WorkerTab::Retries => {
            WorkerData::Retries(text(views::retry_schedule(store, WORKER_ROWS).await)?)
        }
        WorkerTab::Parked => WorkerData::Parked(text(views::parked(store, WORKER_ROWS).await)?),
    })
}

async fn workers_line(store: &Store) -> WorkersLine {
    if !store.has_worker_tables() {
        return WorkersLine::NoTables;
    }
    match views::workers(store, Utc::now()).await {
        Ok(workers) => WorkersLine::Seen {
            running: workers.iter().filter(|w| w.alive).count(),
            last_pass: workers.iter().filter_map(|w| w.entry.last_pass_at).max(),
        },
        Err(e) => WorkersLine::Unreadable(e.to_string()),
    }
}

async fn worker_act(
    store: &Store,
    action: WorkerAction,
    ids: &[i64],
) -> Result<views::ActionReport, String> {
    if !store.has_worker_tables() {
        return Err(NO_WORKER_TABLES.to_string());
    }
    match action {
        WorkerAction::RetryNow => views::retry_now(store, ids, Origin::Console).await,
        WorkerAction::Park => views::park(store, ids, Origin::Console).await,
    }
}

async fn rows_by_id(
    store: &Store,
    ids: Vec<i64>,
    sort: Sort,
) -> Result<Vec<crate::domain::Selection>, String> {
    let limit = ids.len() as u32;
    let request = PageRequest {
        filter: Filter {
            selection_ids: ids,
            ..Filter::default()
        },
        sort,
        after: None,
        limit,
    };
    text(store.page(&request).await).map(|page| page.rows)
}

async fn sync_job(
    job: JobContext,
    engine: Engine,
    target: SyncTarget,
    scope: RunScope,
    cancel: CancellationToken,
) {
    let store = job.store.clone();
    let simulated = job.simulated;
    let send = |report: Report| {
        let _ = job.reports.send(report);
    };
    let claims = match store.claims(false).await {
        Ok(claims) => claims,
        Err(StoreError::Busy(holder)) => {
            return send(Report::SyncFailed(format!(
                "{holder}; try again when it has finished"
            )));
        }
        Err(e) => return send(Report::SyncFailed(e.to_string())),
    };
    let (chosen_by, ids) = match resolve(&store, &target, scope).await {
        Ok(resolved) => resolved,
        Err(e) => return send(Report::SyncFailed(e)),
    };
    let (what, filter) = describe_target(&target, Some(scope));
    let trail = match AuditTrail::begin(
        &store,
        "console sync",
        &run_scope(&what, simulated),
        &filter,
        ids.len() as u64,
    )
    .await
    {
        Ok(trail) => trail.tracked_by(&job.open_rows),
        Err(e) => return send(Report::SyncFailed(e)),
    };
    let progress = reporting(&job.reports, Report::Sync);
    let work = async {
        let result = engine.run(claims, &chosen_by, ids, progress, cancel).await;
        result.map_err(|e| e.to_string())
    };
    let ran = audited(Some(trail), work, sync_closing).await;
    for error in ran.unclosed.into_iter().chain(ran.result.err()) {
        send(Report::SyncFailed(error));
    }
}

async fn verify_job(
    job: JobContext,
    verifier: crate::sync::verify::Verifier,
    target: SyncTarget,
    record: bool,
    cancel: CancellationToken,
) {
    let store = job.store.clone();
    let simulated = job.simulated;
    let send = |report: Report| {
        let _ = job.reports.send(report);
    };
    let ids = match resolve_verifiable(&store, &target).await {
        Ok(ids) => ids,
        Err(e) => return send(Report::SyncFailed(e)),
    };
    let trail = if record {
        let (what, filter) = describe_target(&target, None);
        match AuditTrail::begin(
            &store,
            "console verify",
            &run_scope(&what, simulated),
            &filter,
            ids.len() as u64,
        )
        .await
        {
            Ok(trail) => Some(trail.tracked_by(&job.open_rows)),
            Err(e) => return send(Report::SyncFailed(e)),
        }
    } else {
        None
    };
    let progress = reporting(&job.reports, Report::Verify);
    let work = verifier.run(ids, progress, cancel);
    let ran = audited(trail, work, verify_closing).await;
    for error in ran.unclosed.into_iter().chain(ran.result.err()) {
        send(Report::SyncFailed(error));
    }
}

async fn reconcile_plan_job(
    job: JobContext,
    reconciler: crate::sync::reconcile::Reconciler,
    generation: u64,
    scope: LedgerScope,
    cancel: CancellationToken,
) {
    let progress = reporting(&job.reports, move |event| {
        Report::Reconcile(generation, event)
    });
    let result = reconciler.plan(scope, progress, cancel).await;
    let _ = job
        .reports
        .send(Report::ReconcilePlanned(generation, result));
}

async fn reconcile_apply_job(
    job: JobContext,
    reconciler: crate::sync::reconcile::Reconciler,
    generation: u64,
    findings: Vec<Finding>,
    scope: String,
    cancel: CancellationToken,
) {
    let store = job.store.clone();
    let simulated = job.simulated;
    let send = |report: Report| {
        let _ = job.reports.send(report);
    };
    let trail = match AuditTrail::begin(
        &store,
        "console reconcile",
        &run_scope(&scope, simulated),
        "",
        findings.len() as u64,
    )
    .await
    {
        Ok(trail) => trail.tracked_by(&job.open_rows),
        Err(e) => return send(Report::ReconcileApplied(generation, Err(e))),
    };
    let progress = reporting(&job.reports, move |event| {
        Report::Reconcile(generation, event)
    });
    let work = reconciler.apply(findings, progress, cancel);
    let ran = audited(Some(trail), work, |resolved| reconcile_closing(resolved)).await;
    if let Some(error) = ran.unclosed {
        send(Report::SyncFailed(error));
    }
    send(Report::ReconcileApplied(generation, ran.result));
}
