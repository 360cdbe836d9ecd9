//! Runs the app's effects on tokio tasks (store queries, sync runs, exports) and sends what they
//! find back as reports. The render loop never waits on any of it.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::action::Report;
use super::app::{Effect, RunScope, SyncTarget};
use super::data::{BulkPlan, OverviewData, OverviewPart, PersonData};
use super::overview_cache::{self, CachedOverview};
use crate::audit::{
    AuditTrail, reconcile_detail, reconcile_outcome, reconcile_rows, run_scope, verify_detail,
    verify_outcome,
};
use crate::domain::audit::AuditOutcome;
use crate::domain::{Filter, PageRequest, Sort, SyncState, choose_credentials};
use crate::export;
use crate::store::{Store, StoreError};
use crate::sync::Engine;
use crate::sync::verify::verifiable;

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
}

fn text<T>(result: Result<T, StoreError>) -> Result<T, String> {
    result.map_err(|e| e.to_string())
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
        }
    }

    pub fn with_overview_cache(mut self, file: Option<PathBuf>) -> Runtime {
        self.overview_cache = file;
        self
    }

    /// Cancels the running job, as `x` does, and waits until what was in flight has finished
    /// and the job's audit row is closed.
    pub async fn drain(&mut self) {
        if let Some(job) = &self.job {
            job.cancel();
        }
        if let Some(task) = self.job_task.take() {
            let _ = task.await;
        }
    }

    pub fn with_simulated_graph(mut self, simulated_graph: bool) -> Runtime {
        self.simulated_graph = simulated_graph;
        self
    }

    pub fn run(&mut self, effect: Effect) {
        let simulated = self.simulated_graph;
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
                // arrives (the state counts, the cheapest, first). The last to arrive of a
                // complete read replaces the cached overview.
                let fresh = Arc::new(Mutex::new(OverviewData::default()));
                for part in [
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
                    send(Report::Person(generation, person(&store, user_id).await));
                });
            }
            Effect::BulkPlan(generation, target, scope) => {
                tokio::spawn(async move {
                    send(Report::BulkPlan(
                        generation,
                        plan(&store, target, scope).await,
                    ));
                });
            }
            Effect::Sync(target, scope) => {
                let cancel = CancellationToken::new();
                self.job = Some(cancel.clone());
                let engine = self.engine.clone();
                let progress = self.reports.clone();
                let task = tokio::spawn(async move {
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
                        Ok(trail) => trail,
                        Err(e) => return send(Report::SyncFailed(e)),
                    };
                    let (events, mut rx) = mpsc::unbounded_channel();
                    let forward = tokio::spawn(async move {
                        while let Some(event) = rx.recv().await {
                            let _ = progress.send(Report::Sync(event));
                        }
                    });
                    let result = engine.run(claims, &chosen_by, ids, events, cancel).await;
                    let _ = forward.await;
                    match result {
                        Ok(summary) => {
                            if let Err(e) = trail.finish_sync(&summary).await {
                                send(Report::SyncFailed(e));
                            }
                        }
                        Err(e) => {
                            let _ = trail.finish(AuditOutcome::Failed, 0, &e.to_string()).await;
                            send(Report::SyncFailed(e.to_string()));
                        }
                    }
                });
                self.job_task = Some(task);
            }
            Effect::Verify(target, record) => {
                let cancel = CancellationToken::new();
                self.job = Some(cancel.clone());
                let verifier = self.engine.verifier(record);
                let progress = self.reports.clone();
                let task = tokio::spawn(async move {
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
                            Ok(trail) => Some(trail),
                            Err(e) => return send(Report::SyncFailed(e)),
                        }
                    } else {
                        None
                    };
                    let (events, mut rx) = mpsc::unbounded_channel();
                    let forward = tokio::spawn(async move {
                        while let Some(event) = rx.recv().await {
                            let _ = progress.send(Report::Verify(event));
                        }
                    });
                    let result = verifier.run(ids, events, cancel).await;
                    let _ = forward.await;
                    let (outcome, rows, detail) = match &result {
                        Ok(summary) => (
                            verify_outcome(summary, summary.missing),
                            summary.total as u64,
                            verify_detail(summary),
                        ),
                        Err(e) => (AuditOutcome::Failed, 0, e.clone()),
                    };
                    if let Some(trail) = trail
                        && let Err(e) = trail.finish(outcome, rows, &detail).await
                    {
                        send(Report::SyncFailed(e));
                    }
                    if let Err(e) = result {
                        send(Report::SyncFailed(e));
                    }
                });
                self.job_task = Some(task);
            }
            Effect::ReconcilePlan(generation, scope) => {
                let cancel = CancellationToken::new();
                self.job = Some(cancel.clone());
                let reconciler = self.engine.reconciler();
                let progress = self.reports.clone();
                let task = tokio::spawn(async move {
                    let (events, mut rx) = mpsc::unbounded_channel();
                    let forward = tokio::spawn(async move {
                        while let Some(event) = rx.recv().await {
                            let _ = progress.send(Report::Reconcile(generation, event));
                        }
                    });
                    let result = reconciler.plan(scope, events, cancel).await;
                    let _ = forward.await;
                    send(Report::ReconcilePlanned(generation, result));
                });
                self.job_task = Some(task);
            }
            Effect::ReconcileApply(generation, findings, scope) => {
                let cancel = CancellationToken::new();
                self.job = Some(cancel.clone());
                let reconciler = self.engine.reconciler();
                let progress = self.reports.clone();
                let task = tokio::spawn(async move {
                    let trail = match AuditTrail::begin(
                        &store,
                        "console reconcile",
                        &run_scope(&scope, simulated),
                        "",
                        findings.len() as u64,
                    )
                    .await
                    {
                        Ok(trail) => trail,
                        Err(e) => return send(Report::ReconcileApplied(generation, Err(e))),
                    };
                    let (events, mut rx) = mpsc::unbounded_channel();
                    let forward = tokio::spawn(async move {
                        while let Some(event) = rx.recv().await {
                            let _ = progress.send(Report::Reconcile(generation, event));
                        }
                    });
                    let result = reconciler.apply(findings, events, cancel).await;
                    let _ = forward.await;
                    let (outcome, rows, detail) = match &result {
                        Ok(resolved) => (
                            reconcile_outcome(resolved),
                            reconcile_rows(resolved),
                            reconcile_detail(resolved),
                        ),
                        Err(e) => (AuditOutcome::Failed, 0, e.clone()),
                    };
                    if let Err(e) = trail.finish(outcome, rows, &detail).await {
                        send(Report::SyncFailed(e));
                    }
                    send(Report::ReconcileApplied(generation, result));
                });
                self.job_task = Some(task);
            }
            Effect::CancelSync => {
                if let Some(job) = &self.job {
                    job.cancel();
                }
            }
            Effect::FindPerson(generation, login) => {
                tokio::spawn(async move {
                    let found =
                        text(store.users_by_login(&login).await).map(|ids| ids.first().copied());
                    send(Report::PersonFound(generation, found));
                });
            }
            Effect::Export(filter, format, path) => {
                tokio::spawn(async move {
                    send(Report::Exported(
                        export_rows(&store, filter, &format, path).await,
                    ));
                });
            }
        }
    }
}

#[derive(Clone, Copy)]
enum OverviewQuery {
    Counts,
    Trend,
    WorstConferences,
    Causes,
}

async fn overview_part(store: &Store, part: OverviewQuery) -> Result<OverviewPart, String> {
    Ok(match part {
        OverviewQuery::Counts => {
            OverviewPart::Counts(text(store.summary(&Filter::default()).await)?)
        }
        OverviewQuery::Trend => {
            let since = Utc::now() - chrono::Duration::days(14);
            OverviewPart::Trend(text(store.failure_trend(since).await)?)
        }
        OverviewQuery::WorstConferences => {
            let mut worst = text(store.failures_by_conference().await)?;
            worst.truncate(8);
            OverviewPart::WorstConferences(worst)
        }
        OverviewQuery::Causes => {
            OverviewPart::Causes(text(store.cause_counts(&Filter::default()).await)?)
        }
    })
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

async fn person(store: &Store, user_id: i64) -> Result<Option<PersonData>, String> {
    let Some(person) = text(store.person(user_id).await)? else {
        return Ok(None);
    };
    let active = text(store.active_credentials().await)?;
    let chosen = choose_credentials(&active, person.id, person.branch_id);
    let integration = chosen.map(|(c, why)| {
        (
            c.integration_name.clone(),
            c.tenant_id.clone(),
            c.client_id.clone(),
            why,
        )
    });
    let no_integration_reason = match (&integration, &person.branch_name) {
        (Some(_), _) => None,
        (None, Some(branch)) => Some(format!(
            "No active Teams integration is owned by anyone in branch '{branch}', and {} owns none. \
             The LMS looks integrations up through their owner's branch, not the integration's own branch.",
            person.username
        )),
        (None, None) => Some(format!(
            "{} has no branch and owns no active Teams integration.",
            person.username
        )),
    };
    Ok(Some(PersonData {
        person,
        integration,
        no_integration_reason,
    }))
}

/// A console run in the audit log's words: which rows (and the scope), and the filter.
/// The target in the audit log's words; `run` is None for a check (no sync scope).
fn describe_target(target: &SyncTarget, run: Option<RunScope>) -> (String, String) {
    let scope = match run {
        Some(run) if run.include_permanent => {
            format!(
                "{}, permanent causes included",
                super::app::scope_name(run.scope)
            )
        }
        Some(run) => super::app::scope_name(run.scope).to_string(),
        None => "added".to_string(),
    };
    match target {
        SyncTarget::Ids(ids) if ids.len() == 1 => {
            (format!("selection {} ({scope})", ids[0]), String::new())
        }
        SyncTarget::Ids(ids) => (
            format!("{} marked rows ({scope})", ids.len()),
            String::new(),
        ),
        SyncTarget::Matching { filter, except } if except.is_empty() => (
            format!("all matching the filter ({scope})"),
            crate::domain::query::describe(filter),
        ),
        SyncTarget::Matching { filter, except } => (
            format!(
                "all matching the filter but {} unmarked ({scope})",
                except.len()
            ),
            crate::domain::query::describe(filter),
        ),
    }
}

fn target_filter(target: &SyncTarget) -> (Filter, &[i64]) {
    match target {
        SyncTarget::Ids(ids) => (
            Filter {
                selection_ids: ids.clone(),
                ..Filter::default()
            },
            &[],
        ),
        SyncTarget::Matching { filter, except } => ((**filter).clone(), except),
    }
}

async fn plan(store: &Store, target: SyncTarget, run: RunScope) -> Result<BulkPlan, String> {
    let (filter, except) = target_filter(&target);
    let filter = run.narrow(&filter);
    let permanent_left_out = if filter.exclude_causes.is_empty() {
        0
    } else {
        text(store.count(&filter.permanent_failures()).await)?
    };
    let mut counts = text(store.summary(&filter).await)?;
    if !except.is_empty() {
        let excluded = text(
            store
                .summary(&Filter {
                    selection_ids: except.to_vec(),
                    ..filter.clone()
                })
                .await,
        )?;
        for state in SyncState::ALL {
            let n = excluded.get(state);
            match state {
                SyncState::Added => counts.added -= n,
                SyncState::AddedStaleError => counts.added_stale_error -= n,
                SyncState::Failed => counts.failed -= n,
                SyncState::Interrupted => counts.interrupted -= n,
                SyncState::NotSynced => counts.not_synced -= n,
            }
        }
    }
    let causes = text(store.cause_counts(&filter).await)?;
    Ok(BulkPlan {
        run,
        permanent_left_out,
        count: counts.total(),
        target,
        counts,
        causes,
    })
}

/// The run's filter and its ids, frozen now: the filter as it is at this moment, minus unmarked
/// exceptions.
async fn resolve(
    store: &Store,
    target: &SyncTarget,
    run: RunScope,
) -> Result<(Filter, Vec<i64>), String> {
    let (filter, except) = target_filter(target);
    let filter = run.narrow(&filter);
    let mut ids = text(store.selection_ids(&filter).await)?;
    if !except.is_empty() {
        ids.retain(|id| !except.contains(id));
    }
    Ok((filter, ids))
}

/// The target's added selections, the ones with an event to check.
async fn resolve_verifiable(store: &Store, target: &SyncTarget) -> Result<Vec<i64>, String> {
    let (filter, except) = target_filter(target);
    let mut ids = text(store.selection_ids(&verifiable(filter)).await)?;
    if !except.is_empty() {
        ids.retain(|id| !except.contains(id));
    }
    Ok(ids)
}

/// Streams the filtered rows to a file page by page (never all in memory).
pub(crate) async fn export_rows(
    store: &Store,
    filter: Filter,
    format: &str,
    path: Option<String>,
) -> Result<String, String> {
    let json = match format {
        "csv" => false,
        "json" => true,
        other => return Err(format!("unknown export format '{other}' (csv or json)")),
    };
    let path = export::destination(path.as_deref(), json, Utc::now())?;
    let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let write_error = |e: std::io::Error| format!("{}: {e}", path.display());
    if !json {
        writeln!(out, "{}", export::CSV_HEADER).map_err(write_error)?;
    }
    let mut request = PageRequest {
        filter,
        sort: Sort::default(),
        after: None,
        limit: 1000,
    };
    let mut written = 0u64;
    loop {
        let page = text(store.page(&request).await)?;
        for row in &page.rows {
            let line = if json {
                export::json_line(row)
            } else {
                export::csv_line(row)
            };
            writeln!(out, "{line}").map_err(write_error)?;
            written += 1;
        }
        match page.next {
            Some(next) => request.after = Some(next),
            None => break,
        }
    }
    out.flush().map_err(write_error)?;
    Ok(format!("{} ({written} rows)", path.display()))
}
