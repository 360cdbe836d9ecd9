//! The simulator over TLS: a self-signed certificate generated at start, ALPN `h2` and
//! `http/1.1` (or `http/1.1` alone, to exercise a client's fallback), and a cap on concurrent
//! HTTP/2 streams per connection, so benches pay handshakes as against the real Graph and tests
//! can count how many connections a client opened.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// How the simulator serves TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimTls {
    /// Offer `h2` before `http/1.1` in ALPN; when off, only `http/1.1`.
    pub http2: bool,
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` of every HTTP/2 connection.
    pub max_concurrent_streams: u32,
}

impl SimTls {
    /// HTTP/2 and HTTP/1.1, with the stream limit calsync plans for
    /// ([`crate::graph::STREAMS_PER_CONNECTION`]).
    pub const H2: SimTls = SimTls {
        http2: true,
        max_concurrent_streams: crate::graph::STREAMS_PER_CONNECTION as u32,
    };
    /// HTTP/1.1 only.
    pub const HTTP1: SimTls = SimTls {
        http2: false,
        max_concurrent_streams: crate::graph::STREAMS_PER_CONNECTION as u32,
    };
}

/// Connections the TLS simulator has accepted, since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Connections {
    /// TCP connections accepted.
    pub accepted: u64,
    /// TLS handshakes completed.
    pub handshakes: u64,
    /// Handshakes that failed (e.g. a client that does not trust the certificate).
    pub failed_handshakes: u64,
    /// Completed handshakes that chose `h2` by ALPN.
    pub http2: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    accepted: AtomicU64,
    handshakes: AtomicU64,
    failed_handshakes: AtomicU64,
    http2: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> Connections {
        Connections {
            accepted: self.accepted.load(Ordering::Relaxed),
            handshakes: self.handshakes.load(Ordering::Relaxed),
            failed_handshakes: self.failed_handshakes.load(Ordering::Relaxed),
            http2: self.http2.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn reset(&self) {
        for counter in [
            &self.accepted,
            &self.handshakes,
            &self.failed_handshakes,
            &self.http2,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// A certificate for `127.0.0.1` and `localhost`, and the server configuration that presents it.
pub(crate) struct Generated {
    /// The certificate (PEM), which a client adds as a root to trust this simulator.
    pub pem: String,
    /// The same PEM in a file (removed when dropped), for `CALSYNC_GRAPH_CA_FILE`.
    pub file: tempfile::TempPath,
    pub acceptor: TlsAcceptor,
}

pub(crate) fn generate(tls: SimTls) -> std::io::Result<Generated> {
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let certified = rcgen::generate_simple_self_signed(names).map_err(std::io::Error::other)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let chain: Vec<CertificateDer<'static>> = vec![certified.cert.der().clone()];
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(std::io::Error::other)?;
    config.alpn_protocols = if tls.http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    let pem = certified.cert.pem();
    let mut file = tempfile::Builder::new()
        .prefix("calsync-sim-ca-")
        .suffix(".pem")
        .tempfile()?;
    std::io::Write::write_all(&mut file, pem.as_bytes())?;
    Ok(Generated {
        pem,
        file: file.into_temp_path(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    })
}

/// Accepts until `shutdown` fires; each connection is served HTTP/2 or HTTP/1.1 as ALPN chose.
/// Open connections are dropped at shutdown (an HTTP/2 connection never ends by itself).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    acceptor: TlsAcceptor,
    tls: SimTls,
    counters: Arc<Counters>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // A failed accept (e.g. out of descriptors) must not end the simulator.
                Err(_) => continue,
            },
        };
        while connections.try_join_next().is_some() {}
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        let acceptor = acceptor.clone();
        let counters = Arc::clone(&counters);
        let router = router.clone();
        connections.spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                counters.failed_handshakes.fetch_add(1, Ordering::Relaxed);
                return;
            };
            counters.handshakes.fetch_add(1, Ordering::Relaxed);
            if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                counters.http2.fetch_add(1, Ordering::Relaxed);
            }
            serve_connection(stream, peer, router, tls).await;
        });
    }
}

async fn serve_connection(
    stream: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    peer: SocketAddr,
    router: Router,
    tls: SimTls,
) {
    let service = TowerToHyperService::new(router.layer(Extension(ConnectInfo(peer))));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http2()
        .max_concurrent_streams(tls.max_concurrent_streams);
    // A connection that ends badly concerns only its client.
    let _ = builder
        .serve_connection(TokioIo::new(stream), service)
        .await;
}
