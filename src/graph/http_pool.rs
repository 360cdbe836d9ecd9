//! The HTTP clients Graph and login requests go out on. Over HTTPS each negotiates HTTP/2 by
//! ALPN (HTTP/1.1 when the server offers only that), so many requests share one TLS
//! connection. hyper (under reqwest) keeps one HTTP/2 connection per host and queues requests
//! beyond the server's `SETTINGS_MAX_CONCURRENT_STREAMS` instead of opening a second
//! (hyperium/hyper#2197, #3623), so calsync keeps a pool of clients, each with its own
//! connections, and sends each request on the one with the fewest in flight, adding a client
//! when every one already carries [`STREAMS_PER_CONNECTION`].

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::GraphConfig;
use super::app_limit::APP_IN_FLIGHT_CEILING;
use super::errors::GraphError;

/// Sent on every request, to Graph and to the login service.
pub const USER_AGENT: &str = concat!("calsync/", env!("CARGO_PKG_VERSION"));

/// Requests in flight calsync puts on one HTTP/2 connection. Microsoft documents no
/// `SETTINGS_MAX_CONCURRENT_STREAMS` for Graph; 100 is the least RFC 9113 (§6.5.2) recommends
/// a server allow, so it is safe whatever Graph sets.
pub const STREAMS_PER_CONNECTION: usize = 100;

/// Enough clients that the app-wide ceiling fits under the stream limit.
const MAX_CLIENTS: usize = APP_IN_FLIGHT_CEILING.div_ceil(STREAMS_PER_CONNECTION);

/// How every client of a pool is built.
#[derive(Clone)]
struct Recipe {
    tls: rustls::ClientConfig,
    timeout: Duration,
    local: bool,
    keep_idle: bool,
}

impl Recipe {
    fn build(&self, protocol: Protocol) -> Result<reqwest::Client, GraphError> {
        let mut tls = self.tls.clone();
        let mut builder = reqwest::Client::builder();
        if protocol == Protocol::Http2 {
            tls.alpn_protocols = vec![b"h2".to_vec()];
            builder = builder.http2_prior_knowledge();
        }
        let mut builder = builder
            .tls_backend_preconfigured(tls)
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            .user_agent(USER_AGENT)
            // A redirect could carry the client secret or an event body to another origin.
            .redirect(reqwest::redirect::Policy::none());
        if !self.keep_idle {
            builder = builder.pool_max_idle_per_host(0);
        }
        if self.local {
            // A system proxy must never see traffic meant for a local simulator.
            builder = builder.no_proxy();
        }
        builder.build().map_err(|e| {
            GraphError::invalid_input(format!("could not build the HTTP client ({e})"))
        })
    }
}

struct Slot {
    client: reqwest::Client,
    in_flight: usize,
}

/// What the server answered in, as far as this pool knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// No answer yet over TLS: ALPN has not been seen.
    Unknown,
    /// HTTP/2: clients are built for it alone, so each opens exactly one connection.
    Http2,
    /// HTTP/1.1 (or plain `http://`): each request in flight needs its own connection anyway.
    Http1,
}

struct State {
    slots: Vec<Slot>,
    protocol: Protocol,
    /// A request is out to learn the protocol; the others wait for its answer (a moment),
    /// since until ALPN is known every request would open its own connection.
    probing: bool,
}

/// Clients chosen per request by load.
pub(crate) struct HttpPool {
    recipe: Recipe,
    state: Mutex<State>,
    learned: tokio::sync::Notify,
}

/// A client lent for one request; gives its place back when dropped.
pub(crate) struct Lease<'a> {
    pool: &'a HttpPool,
    index: usize,
    client: reqwest::Client,
    probe: bool,
    answered_in: Option<reqwest::Version>,
}

impl Lease<'_> {
    /// Sends `request` (built on this lease's client); the response's HTTP version tells the
    /// pool what ALPN chose.
    pub(crate) async fn send(
        &mut self,
        request: reqwest::RequestBuilder,
    ) -> reqwest::Result<reqwest::Response> {
        let response = request.send().await?;
        self.answered_in = Some(response.version());
        Ok(response)
    }
}

impl std::ops::Deref for Lease<'_> {
    type Target = reqwest::Client;
    fn deref(&self) -> &reqwest::Client {
        &self.client
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        if let Some(slot) = state.slots.get_mut(self.index) {
            slot.in_flight = slot.in_flight.saturating_sub(1);
        }
        if !self.probe {
            return;
        }
        state.probing = false;
        match self.answered_in {
            Some(reqwest::Version::HTTP_2) => {
                state.protocol = Protocol::Http2;
                // Requests in flight keep the clients they hold; new ones get HTTP/2-only
                // clients, which wait for one connection instead of racing to open many.
                for slot in &mut state.slots {
                    if let Ok(client) = self.pool.recipe.build(Protocol::Http2) {
                        slot.client = client;
                    }
                }
            }
            Some(_) => state.protocol = Protocol::Http1,
            // No answer (a failure or a cancel): the next request probes.
            None => {}
        }
        drop(state);
        self.pool.learned.notify_waiters();
    }
}

/// How long a request waits for the probe's answer before going out anyway.
const PROBE_WAIT: Duration = Duration::from_secs(1);

impl HttpPool {
    /// `keep_idle` false: no connection is kept between requests, so each goes out on a new
    /// one (Graph's best practices after a 503).
    pub(crate) fn new(
        config: &GraphConfig,
        tls: rustls::ClientConfig,
        local: bool,
        keep_idle: bool,
    ) -> Result<Self, GraphError> {
        let recipe = Recipe {
            tls,
            timeout: config.timeout,
            local,
            keep_idle,
        };
        let https = [&config.graph_url, &config.login_url]
            .iter()
            .any(|u| u.starts_with("https://"));
        // Only a pool that keeps connections gains from learning the protocol first.
        let protocol = if https && keep_idle {
            Protocol::Unknown
        } else {
            Protocol::Http1
        };
        let first = recipe.build(Protocol::Unknown)?;
        Ok(Self {
            recipe,
            state: Mutex::new(State {
                slots: vec![Slot {
                    client: first,
                    in_flight: 0,
                }],
                protocol,
                probing: false,
            }),
            learned: tokio::sync::Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The client with the fewest requests in flight, or a new one when that one is full.
    pub(crate) async fn lease(&self) -> Lease<'_> {
        let deadline = tokio::time::Instant::now() + PROBE_WAIT;
        loop {
            // Made before the check, so an answer between the two is not missed.
            let learned = self.learned.notified();
            {
                let mut state = self.lock();
                let waited_enough = tokio::time::Instant::now() >= deadline;
                if state.protocol != Protocol::Unknown || !state.probing || waited_enough {
                    return self.take(&mut state);
                }
            }
            let _ = tokio::time::timeout_at(deadline, learned).await;
        }
    }

    fn take(&self, state: &mut State) -> Lease<'_> {
        let probe = state.protocol == Protocol::Unknown && !state.probing;
        state.probing |= probe;
        let mut index = least_loaded(&state.slots);
        if state.slots[index].in_flight >= STREAMS_PER_CONNECTION
            && state.slots.len() < MAX_CLIENTS
            // Building cannot fail once the first client was built; if it did, share.
            && let Ok(client) = self.recipe.build(state.protocol)
        {
            state.slots.push(Slot {
                client,
                in_flight: 0,
            });
            index = state.slots.len() - 1;
        }
        let slot = &mut state.slots[index];
        slot.in_flight += 1;
        Lease {
            pool: self,
            index,
            client: slot.client.clone(),
            probe,
            answered_in: None,
        }
    }

    /// Clients built so far (each holds its own connections).
    pub(crate) fn clients(&self) -> usize {
        self.lock().slots.len()
    }
}

fn least_loaded(slots: &[Slot]) -> usize {
    slots
        .iter()
        .enumerate()
        .min_by_key(|(_, s)| s.in_flight)
        .map_or(0, |(i, _)| i)
}

/// The platform's roots (as reqwest uses them), plus the certificate in `ca_file` when one is
/// named (the simulator's, in tests and benches). Verification is never turned off. ALPN
/// offers `h2` first, then `http/1.1`.
pub(crate) fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, GraphError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = match ca_file {
        None => rustls_platform_verifier::Verifier::new(Arc::clone(&provider)),
        Some(path) => rustls_platform_verifier::Verifier::new_with_extra_roots(
            read_certificates(path)?,
            Arc::clone(&provider),
        ),
    }
    .map_err(|e| GraphError::invalid_input(format!("could not load the TLS roots ({e})")))?;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| GraphError::invalid_input(format!("could not set up TLS ({e})")))?
        .dangerous()
        // The platform verifier is the full check (chain, name, expiry); "dangerous" is only
        // rustls's word for supplying one.
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tls)
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, GraphError> {
    let unreadable = |e: &dyn std::fmt::Display| {
        GraphError::invalid_input(format!(
            "{}={} is not a readable PEM certificate file ({e})",
            super::ENV_GRAPH_CA_FILE,
            path.display()
        ))
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| unreadable(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(&e))?;
    if certs.is_empty() {
        return Err(unreadable(&"it holds no certificate"));
    }
    Ok(certs)
}
