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

use super::client::USER_AGENT;
use super::errors::GraphError;
use super::GraphConfig;
use super::app_limit::APP_IN_FLIGHT_CEILING;

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
    fn build(&self) -> Result<reqwest::Client, GraphError> {
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(self.tls.clone())
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

/// Clients chosen per request by load.
pub(crate) struct HttpPool {
    recipe: Recipe,
    slots: Mutex<Vec<Slot>>,
}

/// A client lent for one request; gives its place back when dropped.
pub(crate) struct Lease<'a> {
    pool: &'a HttpPool,
    index: usize,
    client: reqwest::Client,
}

impl std::ops::Deref for Lease<'_> {
    type Target = reqwest::Client;
    fn deref(&self) -> &reqwest::Client {
        &self.client
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.pool.lock().get_mut(self.index) {
            slot.in_flight = slot.in_flight.saturating_sub(1);
        }
    }
}

impl HttpPool {
    /// `keep_idle` false: no connection is kept between requests, so each goes out on a new
    /// one (Graph's best practices after a 503).
    pub(crate) fn new(
        config: &GraphConfig,
        local: bool,
        keep_idle: bool,
    ) -> Result<Self, GraphError> {
        let recipe = Recipe {
            tls: tls_config(config.ca_file.as_deref())?,
            timeout: config.timeout,
            local,
            keep_idle,
        };
        let first = recipe.build()?;
        Ok(Self {
            recipe,
            slots: Mutex::new(vec![Slot {
                client: first,
                in_flight: 0,
            }]),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The client with the fewest requests in flight, or a new one when that one is full.
    pub(crate) fn lease(&self) -> Lease<'_> {
        let mut slots = self.lock();
        let mut index = least_loaded(&slots);
        if slots[index].in_flight >= STREAMS_PER_CONNECTION
            && slots.len() < MAX_CLIENTS
            // Building cannot fail once the first client was built; if it did, share.
            && let Ok(client) = self.recipe.build()
        {
            slots.push(Slot {
                client,
                in_flight: 0,
            });
            index = slots.len() - 1;
        }
        slots[index].in_flight += 1;
        Lease {
            pool: self,
            index,
            client: slots[index].client.clone(),
        }
    }

    /// Clients built so far (each holds its own connections).
    pub(crate) fn clients(&self) -> usize {
        self.lock().len()
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
fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, GraphError> {
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
