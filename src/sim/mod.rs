//! The simulated Microsoft Graph: a real axum HTTP server on 127.0.0.1 that emulates the
//! identity platform's token endpoint and the Outlook calendar endpoints calsync uses,
//! including throttling, `$batch`, `transactionId` dedup and scripted faults.
//!
//! It is a test and demo tool: the control endpoints under `/_sim/` have no
//! authentication, so bind it to a loopback address.

mod app_limit;
mod detours;
mod events;
mod graph_api;
mod http;
mod ids;
mod online_meeting;
mod owner;
mod reply;
pub(crate) mod rng;
mod state;
mod timezones;
mod tls;
mod user_path;
mod wire;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use app_limit::AppLimit;
pub use state::{Fault, GhostReply, MailboxStats, RedirectOn, SimState, SimStats};
pub use tls::{Connections, SimTls};
pub use wire::WireRequest;

/// Whether the simulated Exchange accepts `name` as a `timeZone` (Windows ids and the IANA
/// names Graph lists).
pub fn accepts_time_zone(name: &str) -> bool {
    timezones::resolve(name).is_some()
}

/// How the simulator must label itself wherever it identifies itself.
pub const SIMULATOR_LABEL: &str = "simulated Graph";

/// The form of the `Retry-After` header on simulated 429 (and 503) responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfterMode {
    /// Whole seconds, rounded up (`Retry-After: 1`).
    Integer,
    /// Seconds with a fraction, as an older Graph page showed (`Retry-After: 2.128`).
    Decimal,
    /// An HTTP-date, rounded up to the next whole second.
    HttpDate,
    /// No header at all, so the client's fallback backoff is exercised. With no stated
    /// wait, the simulator sets no early-retry penalty gate either.
    Absent,
}

/// Per-request artificial latency, uniform in `min..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    pub min: Duration,
    pub max: Duration,
}

impl Latency {
    pub const NONE: Latency = Latency {
        min: Duration::ZERO,
        max: Duration::ZERO,
    };

    pub fn fixed(d: Duration) -> Self {
        Self { min: d, max: d }
    }

    pub fn between(min: Duration, max: Duration) -> Self {
        if max < min {
            Self { min: max, max: min }
        } else {
            Self { min, max }
        }
    }
}

/// What the directory says about an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MailboxState {
    /// A licensed user with an Exchange Online mailbox.
    #[default]
    Ok,
    /// No such user: 404 `ErrorInvalidUser`.
    Unknown,
    /// A user without an Exchange Online mailbox: 404 `MailboxNotEnabledForRESTAPI`.
    NoMailbox,
    /// Outside the app's Exchange application access policy: 403 `ErrorAccessDenied` (RAOP).
    AccessDenied,
}

/// A computed directory rule: address (as sent) → state.
type Rule = Arc<dyn Fn(&str) -> MailboxState + Send + Sync>;

/// Mailbox states by address (case-insensitive). Lookup order: an address set with
/// [`Directory::with_user`], then a [`Directory::with_domain`] rule, then a
/// [`Directory::with_rule`] function, then the default.
#[derive(Clone, Default)]
pub struct Directory {
    users: HashMap<String, MailboxState>,
    domains: HashMap<String, MailboxState>,
    rule: Option<Rule>,
    default: MailboxState,
}

impl fmt::Debug for Directory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Directory")
            .field("users", &self.users.len())
            .field("domains", &self.domains)
            .field("rule", &self.rule.as_ref().map(|_| "fn"))
            .field("default", &self.default)
            .finish()
    }
}

impl Directory {
    /// A directory where every address not listed has state `default`.
    pub fn new(default: MailboxState) -> Self {
        Self {
            default,
            ..Self::default()
        }
    }

    /// Every address is a working mailbox.
    pub fn all_ok() -> Self {
        Self::new(MailboxState::Ok)
    }

    /// Sets one address (a UPN or an object id).
    pub fn with_user(mut self, address: &str, state: MailboxState) -> Self {
        self.set_user(address, state);
        self
    }

    /// Rule form: every address `…@domain` has `state` unless listed individually.
    pub fn with_domain(mut self, domain: &str, state: MailboxState) -> Self {
        self.domains
            .insert(domain.trim_start_matches('@').to_lowercase(), state);
        self
    }

    /// A function deciding the state of any address not listed individually or by
    /// domain (e.g. "one tenant user in forty has no licence").
    pub fn with_rule(
        mut self,
        rule: impl Fn(&str) -> MailboxState + Send + Sync + 'static,
    ) -> Self {
        self.rule = Some(Arc::new(rule));
        self
    }

    pub fn set_user(&mut self, address: &str, state: MailboxState) {
        self.users.insert(address.to_lowercase(), state);
    }

    pub fn lookup(&self, address: &str) -> MailboxState {
        let key = address.to_lowercase();
        if let Some(state) = self.users.get(&key) {
            return *state;
        }
        if let Some((_, domain)) = key.rsplit_once('@')
            && let Some(state) = self.domains.get(domain)
        {
            return *state;
        }
        match &self.rule {
            Some(rule) => rule(address),
            None => self.default,
        }
    }
}

/// An app registration the simulated identity platform knows.
#[derive(Clone)]
pub struct SimTenant {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// Answer AADSTS7000222 (expired secret) even for the right secret.
    pub secret_expired: bool,
}

impl SimTenant {
    pub fn new(tenant_id: &str, client_id: &str, client_secret: &str) -> Self {
        Self {
            tenant_id: tenant_id.to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            secret_expired: false,
        }
    }
}

impl fmt::Debug for SimTenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimTenant")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("secret_expired", &self.secret_expired)
            .finish()
    }
}

/// Everything the simulator can be told at start-up. Most of it can also be changed at
/// run time through [`SimState`].
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub latency: Latency,
    /// `expires_in` of issued tokens; expiry is enforced server-side.
    pub token_lifetime: Duration,
    /// Concurrent requests allowed per mailbox (Graph: 4); extra ones get 429.
    pub per_mailbox_concurrency: usize,
    /// Requests per window across every mailbox ([`AppLimit::GRAPH`] is Graph's); over it, 429
    /// with Retry-After until the window ends. `None`: no app-wide limit.
    pub app_limit: Option<AppLimit>,
    pub retry_after: RetryAfterMode,
    /// How long a throttled mailbox stays throttled.
    pub throttle_retry_after: Duration,
    /// Probability of a random 429/503/504 per Graph request (or batch item).
    pub fault_rate: f64,
    pub seed: u64,
    pub directory: Directory,
    pub tenants: Vec<SimTenant>,
    /// Issue a token for any tenant/client/secret (scope and presence still checked).
    pub accept_any_credentials: bool,
    /// A second create with the same `transactionId` in a mailbox returns the first event.
    pub transaction_id_dedup: bool,
    /// Reject `dateTime` values that carry `Z` or a UTC offset.
    pub strict_datetime: bool,
    /// Return `$batch` responses in a shuffled order (as Graph may).
    pub shuffle_batch_responses: bool,
    /// How many batch items run at once (Graph sends up to four to Outlook at a time).
    pub batch_parallelism: usize,
    /// Page size of event lists when the client sends no `$top`.
    pub default_page_size: usize,
    /// Answer in the id format `Prefer: IdType` asks for; when off, always in REST ids, so
    /// tests can show nothing depends on which format Graph answers in.
    pub honour_id_type: bool,
    /// The cloud this simulates: its token endpoint issues tokens only for that cloud's
    /// Graph scope.
    pub cloud: crate::graph::Cloud,
    /// Serve HTTPS with a certificate generated at start ([`SimHandle::certificate_pem`]);
    /// `None`: plain HTTP.
    pub tls: Option<SimTls>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            latency: Latency::NONE,
            token_lifetime: Duration::from_secs(3599),
            per_mailbox_concurrency: 4,
            app_limit: None,
            retry_after: RetryAfterMode::Integer,
            throttle_retry_after: Duration::from_secs(1),
            fault_rate: 0.0,
            seed: 1,
            directory: Directory::all_ok(),
            tenants: Vec::new(),
            accept_any_credentials: false,
            transaction_id_dedup: true,
            strict_datetime: false,
            shuffle_batch_responses: true,
            batch_parallelism: 4,
            default_page_size: 10,
            honour_id_type: true,
            cloud: crate::graph::Cloud::Global,
            tls: None,
        }
    }
}

/// Starts simulated Graph servers.
pub struct SimServer;

impl SimServer {
    /// Binds 127.0.0.1 on a free port and serves until the handle is shut down or dropped.
    pub async fn start(config: SimConfig) -> std::io::Result<SimHandle> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Binds the given address (port 0 picks a free port).
    pub async fn start_on(addr: SocketAddr, config: SimConfig) -> std::io::Result<SimHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let tls = config.tls;
        let state = SimState::new(config);
        let router = http::router(Arc::clone(&state.shared));
        let (tx, rx) = oneshot::channel::<()>();
        let (task, certificate) = match tls {
            None => (tokio::spawn(serve_plain(listener, router, rx)), None),
            Some(tls) => {
                let generated = tls::generate(tls)?;
                let task = tokio::spawn(tls::serve(
                    listener,
                    router,
                    generated.acceptor,
                    tls,
                    Arc::clone(&state.shared.connections),
                    rx,
                ));
                (task, Some((generated.pem, generated.file)))
            }
        };
        Ok(SimHandle {
            addr,
            state,
            certificate,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

async fn serve_plain(listener: TcpListener, router: axum::Router, rx: oneshot::Receiver<()>) {
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(async move {
        // Either an explicit shutdown or the handle being dropped ends the server.
        let _ = rx.await;
    });
    // The only error is from accept(); there is no one left to report it to.
    let _ = server.await;
}

/// A running simulator. Dropping it stops the server.
pub struct SimHandle {
    addr: SocketAddr,
    state: SimState,
    /// Over TLS: the generated certificate, as PEM and in a file.
    certificate: Option<(String, tempfile::TempPath)>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// Base URL for Graph, e.g. `http://127.0.0.1:PORT/v1.0` (`https://` over TLS).
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.login_url())
    }

    /// Base URL for the identity platform, e.g. `http://127.0.0.1:PORT` (`https://` over TLS).
    pub fn login_url(&self) -> String {
        let scheme = if self.certificate.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The certificate generated at start (PEM) when serving TLS: the one root a client must
    /// add to trust this simulator.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.certificate.as_ref().map(|(pem, _)| pem.as_str())
    }

    /// The same certificate in a file that lives as long as this handle: the value for
    /// `CALSYNC_GRAPH_CA_FILE`.
    pub fn certificate_file(&self) -> Option<&std::path::Path> {
        self.certificate.as_ref().map(|(_, file)| file.as_ref())
    }

    /// Connections and handshakes since the start or the last reset (zeros over plain HTTP).
    pub fn connections(&self) -> Connections {
        self.state.connections()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// In-process access to the simulator's state (inspect and alter it from tests).
    pub fn state(&self) -> SimState {
        self.state.clone()
    }

    /// Stops accepting connections and waits briefly for open requests to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take() {
            // A stalled request (a scripted fault) must not hold shutdown up for long.
            if tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Runs a simulator on `addr` until Ctrl-C, printing the URLs to use. This is the body
/// of a future `calsync graph-sim --port N` command.
pub async fn run_standalone(addr: SocketAddr, config: SimConfig) -> std::io::Result<()> {
    let dedupe = config.transaction_id_dedup;
    let handle = SimServer::start_on(addr, config).await?;
    println!("calsync {SIMULATOR_LABEL} listening on {}", handle.addr());
    println!("  CALSYNC_GRAPH_URL={}", handle.graph_url());
    println!("  CALSYNC_LOGIN_URL={}", handle.login_url());
    if let Some(file) = handle.certificate_file() {
        println!("  CALSYNC_GRAPH_CA_FILE={}", file.display());
    }
    println!(
        "  inspect: {}/_sim/stats  {}/_sim/events?user=ADDRESS",
        handle.login_url(),
        handle.login_url()
    );
    if !handle.addr().ip().is_loopback() {
        println!("  warning: the /_sim/ control endpoints have no authentication");
    }
    if !dedupe {
        println!("  transactionId de-duplication: off (every create makes a new event)");
    }
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    handle.shutdown().await;
    Ok(())
}
