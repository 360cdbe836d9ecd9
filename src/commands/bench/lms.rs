//! `bench sync`'s re-enactment of the LMS's `manage.py sync_calendar_events`, request by request
//! and commit by commit, as the LMS does it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use rusqlite::{Connection, OpenFlags, params};
use serde::Serialize;
use serde_json::Value as Json;

use super::scratch_lms::{GRAPH_SCOPE, create_lms_db, open_scratch, recorded_events, unsynced};
use super::shared::ms;
use super::world::{Counts, Spec, observe};
use crate::commands::CliError;
use crate::domain::{
    Selection, StoredCredentials, SyncWrite, choose_credentials, resolve_slot_window,
};
use crate::sim::SimHandle;
use crate::store::{django_datetime, sqlite_message};
use crate::sync::payload::{PayloadOptions, event_payload};

/// What the re-enactment counted itself, next to what the simulator saw.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct LmsWork {
    pub(super) token_posts: u64,
    pub(super) create_posts: u64,
    pub(super) commits: u64,
    pub(super) database_ms: f64,
}

/// The LMS's `manage.py sync_calendar_events`, one selection after the other, as it does it
/// (seed-system §3.3–3.6, §5): the integration looked up, a new client (so an empty token cache
/// and a token request), the token written back to the integration row, the create, and the
/// status row saved, each write in its own commit. Nothing is retried and nothing overlaps.
/// Left out, which only flatters the LMS: MSAL's tenant discovery GET on every new client.
pub(super) async fn lms_run(
    sim: &SimHandle,
    path: &Path,
    spec: &Spec,
    problems: &mut Vec<String>,
) -> Result<(Duration, Counts, LmsWork), CliError> {
    sim.state().reset();
    create_lms_db(path, spec).await?;
    let store = open_scratch(path).await?;
    let ids = store.selection_ids(&unsynced()).await?;
    let integration_db = open_rw(path).await?;
    crate::graph::install_crypto_provider();
    // `requests.post` opens a connection per call, over HTTP/1.1: keep no idle connections
    // either.
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30));
    if let Some(pem) = sim.certificate_pem() {
        let certificate = reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| {
            CliError::failed(format!("cannot read the simulator's certificate: {e}"))
        })?;
        builder = builder.tls_certs_merge([certificate]);
    }
    let http = builder
        .build()
        .map_err(|e| CliError::failed(format!("cannot build the HTTP client: {e}")))?;
    let urls = (sim.login_url(), sim.graph_url());
    let mut work = LmsWork::default();
    let mut database = Duration::ZERO;
    let mut failures = Vec::new();
    let started = Instant::now();
    for id in ids {
        let Some(selection) = store.selection(id).await? else {
            failures.push(format!("selection {id} vanished"));
            continue;
        };
        let active = store.active_credentials().await?;
        let at = Utc::now();
        let result = match choose_credentials(&active, selection.user_id, selection.branch_id) {
            Some((credentials, _)) => {
                let step = LmsStep {
                    http: &http,
                    urls: &urls,
                    integration_db: &integration_db,
                };
                step.add_to_outlook(credentials, &selection, &mut work, &mut database)
                    .await
            }
            None => Err("No Teams integration available".to_string()),
        };
        let write = match result {
            Ok(outlook_event_id) => SyncWrite::Success {
                outlook_event_id,
                at,
            },
            Err(error) => {
                failures.push(format!("selection {id}: {error}"));
                SyncWrite::Failure { error, at }
            }
        };
        let writing = Instant::now();
        store.write_sync(id, &write, &selection.sync).await?;
        database += writing.elapsed();
        work.commits += 1;
    }
    let took = started.elapsed();
    work.database_ms = ms(database);
    if let Some(first) = failures.first() {
        problems.push(format!(
            "LMS re-enactment: {} selections failed, e.g. {first}",
            failures.len()
        ));
    }
    let recorded = recorded_events(path).await?;
    let counts = observe(sim, "LMS re-enactment", spec.selections, recorded, problems);
    Ok((took, counts, work))
}

/// A plain read-write connection, as the LMS's own.
async fn open_rw(path: &Path) -> Result<Arc<Mutex<Connection>>, CliError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)
    })
    .await
    .map_err(|e| CliError::failed(format!("the database task failed: {e}")))?
    .map(|conn| Arc::new(Mutex::new(conn)))
    .map_err(|e| {
        CliError::failed(format!(
            "cannot open the scratch database: {}",
            sqlite_message(&e)
        ))
    })
}

struct LmsStep<'a> {
    http: &'a reqwest::Client,
    /// (login, Graph)
    urls: &'a (String, String),
    integration_db: &'a Arc<Mutex<Connection>>,
}

impl LmsStep<'_> {
    /// `add_to_outlook_calendar` from the token on: Ok is the event id, Err the error text.
    async fn add_to_outlook(
        &self,
        credentials: &StoredCredentials,
        selection: &Selection,
        work: &mut LmsWork,
        database: &mut Duration,
    ) -> Result<String, String> {
        work.token_posts += 1;
        let response = self
            .http
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                self.urls.0, credentials.tenant_id
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", credentials.client_id.as_str()),
                ("client_secret", credentials.client_secret.as_str()),
                ("scope", GRAPH_SCOPE),
            ])
            .send()
            .await
            .map_err(|e| format!("Token acquisition error: {e}"))?;
        let body: Json = response
            .json()
            .await
            .map_err(|e| format!("Token acquisition error: {e}"))?;
        let token = body
            .get("access_token")
            .and_then(Json::as_str)
            .ok_or_else(|| format!("Token acquisition error: {}", body["error_description"]))?
            .to_string();
        let lifetime = body
            .get("expires_in")
            .and_then(Json::as_i64)
            .unwrap_or(3599);
        let writing = Instant::now();
        self.save_token(credentials.integration_id, &token, lifetime)
            .await?;
        *database += writing.elapsed();
        work.commits += 1;

        let window = resolve_slot_window(
            selection.slot_date,
            selection.slot_start,
            selection.slot_end,
            &selection.timezone,
        )
        .map_err(|e| e.to_string())?;
        let mut event = event_payload(selection, &window, PayloadOptions::default(), None);
        if let Some(fields) = event.as_object_mut() {
            // The LMS sends no tag of its own.
            fields.remove("singleValueExtendedProperties");
        }
        work.create_posts += 1;
        // The address goes into the path raw, as the LMS does.
        let response = self
            .http
            .post(format!(
                "{}/users/{}/calendar/events",
                self.urls.1, selection.email
            ))
            .bearer_auth(&token)
            .json(&event)
            .send()
            .await
            .map_err(|e| format!("API request failed: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("API request failed: {status}"));
        }
        let body: Json = response
            .json()
            .await
            .map_err(|e| format!("API request failed: {e}"))?;
        body.get("id")
            .and_then(Json::as_str)
            .map(str::to_string)
            .ok_or_else(|| "Failed to create calendar event".to_string())
    }

    /// `TeamsAPIClient.get_access_token` saves every new token on the integration row.
    async fn save_token(&self, integration: i64, token: &str, lifetime: i64) -> Result<(), String> {
        let conn = Arc::clone(self.integration_db);
        let token = token.to_string();
        let expiry = django_datetime(Utc::now() + chrono::Duration::seconds(lifetime - 300));
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            conn.execute(
                "UPDATE account_settings_teamsintegration SET access_token = ?1, token_expiry = ?2 \
                 WHERE id = ?3",
                params![token, expiry, integration],
            )
            .map(drop)
            .map_err(|e| sqlite_message(&e))
        })
        .await
        .map_err(|e| format!("the database task failed: {e}"))?
    }
}
