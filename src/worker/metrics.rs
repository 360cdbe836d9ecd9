//! `--metrics ADDR`: Prometheus text on `/metrics` and a health check on `/healthz`. Counters
//! come from the worker's passes and from the request log's events (one per HTTP request to
//! Graph or the login service); the database's numbers are read when scraped, at most every
//! few seconds, so scraping adds little to the quiet-pass cost.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::Utc;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

use super::pass::PassReport;
use crate::domain::worker::ScheduleCounts;
use crate::domain::{Filter, StateCounts, SyncState};
use crate::store::Store;

/// How long the database's numbers are reused between scrapes.
const DATABASE_NUMBERS_TTL: Duration = Duration::from_secs(10);
/// How long `/healthz` waits for the database.
const PING_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Counters>,
    store: Mutex<Option<Store>>,
    cached: tokio::sync::Mutex<Option<(Instant, DatabaseNumbers)>>,
    /// A pass older than this makes `/healthz` fail.
    pass_deadline: Mutex<Duration>,
}

#[derive(Default)]
struct Counters {
    passes: u64,
    pass_failures: u64,
    last_pass_seconds: f64,
    pass_seconds_total: f64,
    last_pass: Option<Instant>,
    started: Option<Instant>,
    synced: u64,
    failed: u64,
    throttled: u64,
    retries_scheduled: u64,
    parked: u64,
    /// `(service, status)` → requests; status "none" when no response arrived.
    requests: BTreeMap<(String, String), u64>,
}

#[derive(Clone, Copy)]
struct DatabaseNumbers {
    states: StateCounts,
    schedule: ScheduleCounts,
    oldest_unsynced_seconds: Option<i64>,
}

impl Metrics {
    pub fn new(pass_deadline: Duration) -> Arc<Metrics> {
        let metrics = Metrics::default();
        if let Ok(mut deadline) = metrics.pass_deadline.lock() {
            *deadline = pass_deadline;
        }
        if let Ok(mut counters) = metrics.inner.lock() {
            counters.started = Some(Instant::now());
        }
        Arc::new(metrics)
    }

    /// The store scrapes read (replaced when the worker reconnects).
    pub fn use_store(&self, store: &Store) {
        if let Ok(mut current) = self.store.lock() {
            *current = Some(store.clone());
        }
    }

    pub fn record_pass(&self, report: &PassReport, took: Duration) {
        let Ok(mut c) = self.inner.lock() else {
            return;
        };
        c.passes += 1;
        c.last_pass_seconds = took.as_secs_f64();
        c.pass_seconds_total += took.as_secs_f64();
        c.last_pass = Some(Instant::now());
        c.synced += report.summary.synced as u64;
        c.failed += report.summary.failed as u64;
        c.throttled += report.summary.throttled as u64;
        c.retries_scheduled += report.retries_scheduled as u64;
        c.parked += report.parked as u64;
    }

    pub fn record_pass_failure(&self) {
        if let Ok(mut c) = self.inner.lock() {
            c.pass_failures += 1;
        }
    }

    fn record_request(&self, service: String, status: String) {
        if let Ok(mut c) = self.inner.lock() {
            *c.requests.entry((service, status)).or_default() += 1;
        }
    }

    fn current_store(&self) -> Option<Store> {
        self.store.lock().ok().and_then(|s| s.clone())
    }

    async fn database_numbers(&self) -> Option<DatabaseNumbers> {
        let mut cached = self.cached.lock().await;
        if let Some((at, numbers)) = *cached
            && at.elapsed() < DATABASE_NUMBERS_TTL
        {
            return Some(numbers);
        }
        let store = self.current_store()?;
        let now = Utc::now();
        let read = async {
            let states = store.summary(&Filter::default()).await?;
            let schedule = store.schedule_counts(now).await?;
            let oldest = store.oldest_unsynced().await?;
            Ok::<_, crate::store::StoreError>(DatabaseNumbers {
                states,
                schedule,
                oldest_unsynced_seconds: oldest.map(|at| (now - at).num_seconds().max(0)),
            })
        };
        let numbers = read.await.ok()?;
        *cached = Some((Instant::now(), numbers));
        Some(numbers)
    }

    async fn render(&self) -> String {
        let database = self.database_numbers().await;
        let mut out = String::new();
        let Ok(c) = self.inner.lock().map(|c| Snapshot::of(&c)) else {
            return out;
        };
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let one = |v: String| vec![(String::new(), v)];
        if let Some(db) = &database {
            let states: Vec<(String, String)> = SyncState::ALL
                .iter()
                .map(|s| {
                    (
                        format!("{{state=\"{}\"}}", s.as_str()),
                        db.states.get(*s).to_string(),
                    )
                })
                .collect();
            metric(
                "calsync_selections",
                "gauge",
                "Selections by sync state.",
                &states,
            );
            metric(
                "calsync_retries_pending",
                "gauge",
                "Selections waiting for their next attempt.",
                &one(db.schedule.scheduled.to_string()),
            );
            metric(
                "calsync_retries_due",
                "gauge",
                "Selections whose next attempt is due.",
                &one(db.schedule.due.to_string()),
            );
            metric(
                "calsync_parked",
                "gauge",
                "Parked selections (the dead set).",
                &one(db.schedule.parked.to_string()),
            );
            metric(
                "calsync_oldest_unsynced_age_seconds",
                "gauge",
                "Age of the oldest selection never attempted (0 when none).",
                &one(db.oldest_unsynced_seconds.unwrap_or(0).to_string()),
            );
        }
        metric(
            "calsync_database_up",
            "gauge",
            "Whether the database answered the last scrape.",
            &one(u8::from(database.is_some()).to_string()),
        );
        metric(
            "calsync_worker_passes_total",
            "counter",
            "Passes completed.",
            &one(c.passes.to_string()),
        );
        metric(
            "calsync_worker_pass_failures_total",
            "counter",
            "Passes that could not run (database, lock, credentials).",
            &one(c.pass_failures.to_string()),
        );
        metric(
            "calsync_worker_pass_duration_seconds",
            "gauge",
            "Duration of the last pass.",
            &one(format!("{:.6}", c.last_pass_seconds)),
        );
        metric(
            "calsync_worker_pass_duration_seconds_total",
            "counter",
            "Time spent in passes.",
            &one(format!("{:.6}", c.pass_seconds_total)),
        );
        metric(
            "calsync_worker_last_pass_age_seconds",
            "gauge",
            "Seconds since the last pass ended (since start before the first).",
            &one(format!("{:.3}", c.last_pass_age)),
        );
        metric(
            "calsync_synced_total",
            "counter",
            "Selections synced.",
            &one(c.synced.to_string()),
        );
        metric(
            "calsync_failed_total",
            "counter",
            "Failed attempts.",
            &one(c.failed.to_string()),
        );
        metric(
            "calsync_retries_scheduled_total",
            "counter",
            "Failures given a next attempt.",
            &one(c.retries_scheduled.to_string()),
        );
        metric(
            "calsync_parked_total",
            "counter",
            "Failures parked.",
            &one(c.parked.to_string()),
        );
        metric(
            "calsync_graph_throttled_total",
            "counter",
            "429 responses from Graph.",
            &one(c.throttled.to_string()),
        );
        let requests: Vec<(String, String)> = c
            .requests
            .iter()
            .map(|((service, status), n)| {
                (
                    format!("{{service=\"{service}\",status=\"{status}\"}}"),
                    n.to_string(),
                )
            })
            .collect();
        metric(
            "calsync_graph_requests_total",
            "counter",
            "HTTP requests to Graph and the login service, by status.",
            &requests,
        );
        out
    }

    /// `(healthy, body)`: the database answers and the last pass is recent.
    async fn health(&self) -> (bool, String) {
        let database = match self.current_store() {
            Some(store) => match tokio::time::timeout(PING_TIMEOUT, store.ping()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("no answer within 3 s".to_string()),
            },
            None => Err("not connected".to_string()),
        };
        let (age, deadline) = match (self.inner.lock(), self.pass_deadline.lock()) {
            (Ok(c), Ok(d)) => (Snapshot::of(&c).last_pass_age, d.as_secs_f64()),
            _ => (f64::MAX, 0.0),
        };
        let recent = age <= deadline;
        let healthy = database.is_ok() && recent;
        let body = serde_json::json!({
            "healthy": healthy,
            "database": match &database { Ok(()) => "ok".to_string(), Err(e) => e.clone() },
            "last_pass_age_seconds": (age * 1000.0).round() / 1000.0,
            "last_pass_deadline_seconds": deadline,
        });
        (healthy, body.to_string())
    }
}

struct Snapshot {
    passes: u64,
    pass_failures: u64,
    last_pass_seconds: f64,
    pass_seconds_total: f64,
    last_pass_age: f64,
    synced: u64,
    failed: u64,
    throttled: u64,
    retries_scheduled: u64,
    parked: u64,
    requests: BTreeMap<(String, String), u64>,
}

impl Snapshot {
    fn of(c: &Counters) -> Snapshot {
        Snapshot {
            passes: c.passes,
            pass_failures: c.pass_failures,
            last_pass_seconds: c.last_pass_seconds,
            pass_seconds_total: c.pass_seconds_total,
            last_pass_age: c
                .last_pass
                .or(c.started)
                .map_or(f64::MAX, |at| at.elapsed().as_secs_f64()),
            synced: c.synced,
            failed: c.failed,
            throttled: c.throttled,
            retries_scheduled: c.retries_scheduled,
            parked: c.parked,
            requests: c.requests.clone(),
        }
    }
}

/// Serves `/metrics` and `/healthz` on `listener` until the process ends.
pub fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    let app = Router::new()
        .route("/metrics", get(metrics_page))
        .route("/healthz", get(health_page))
        .with_state(metrics);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(target: "calsync::worker", "the metrics server stopped: {e}");
        }
    });
}

/// Binds `addr`, saying in one line why not.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("--metrics {addr}: cannot listen there: {e}"))
}

async fn metrics_page(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render().await,
    )
}

async fn health_page(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    let (healthy, body) = metrics.health().await;
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, [(header::CONTENT_TYPE, "application/json")], body)
}

/// Counts the request log's events (see [`crate::graph::request_log`]) by service and status.
pub struct RequestCounter(pub Arc<Metrics>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RequestCounter {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != crate::graph::request_log::TARGET {
            return;
        }
        let mut fields = RequestFields::default();
        event.record(&mut fields);
        self.0.record_request(
            fields.service.unwrap_or_else(|| "graph".to_string()),
            fields.status.unwrap_or_else(|| "none".to_string()),
        );
    }
}

#[derive(Default)]
struct RequestFields {
    service: Option<String>,
    status: Option<String>,
}

impl Visit for RequestFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "service" {
            self.service = Some(value.to_string());
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "status" {
            self.status = Some(value.to_string());
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "status" {
            self.status = Some(value.to_string());
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}
