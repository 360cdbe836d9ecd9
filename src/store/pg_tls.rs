//! TLS to PostgreSQL as libpq's `sslmode` says. `prefer` and `require` encrypt without checking
//! the certificate, exactly like libpq (and so like Django on RDS). `verify-ca` checks that the
//! server's certificate chains to a CA in `sslrootcert` (RDS publishes its bundle), and
//! `verify-full` also that it names the host connected to, so a password is only ever sent to
//! the server it is meant for.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::StoreError;
use super::url::SslMode;

/// libpq's default CA file for the verify modes, under the home directory.
const DEFAULT_ROOT_CERT: &str = ".postgresql/root.crt";

/// The connector for `sslmode` (None: no TLS at all).
pub fn connector(
    sslmode: SslMode,
    sslrootcert: Option<&Path>,
) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match sslmode {
        SslMode::Disable => return Ok(None),
        SslMode::Prefer | SslMode::Require => Arc::new(LibpqRequireVerifier(Arc::clone(&provider))),
        SslMode::VerifyCa | SslMode::VerifyFull => Arc::new(CaVerifier {
            roots: Arc::new(load_roots(sslmode, sslrootcert)?),
            provider: Arc::clone(&provider),
            check_name: sslmode == SslMode::VerifyFull,
        }),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Connect(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
}

/// The CAs of `sslrootcert`, else of `~/.postgresql/root.crt` (libpq's default); one line when
/// there are none to trust.
fn load_roots(sslmode: SslMode, sslrootcert: Option<&Path>) -> Result<RootCertStore, StoreError> {
    let mode = if sslmode == SslMode::VerifyFull {
        "verify-full"
    } else {
        "verify-ca"
    };
    let default =
        || std::env::var_os("HOME").map(|home| PathBuf::from(home).join(DEFAULT_ROOT_CERT));
    let path = match sslrootcert.map(Path::to_path_buf).or_else(default) {
        Some(path) if sslrootcert.is_some() || path.is_file() => path,
        _ => {
            return Err(StoreError::Connect(format!(
                "sslmode={mode} needs the server's CA certificates: add sslrootcert=PATH to the \
                 URL (for RDS, its global-bundle.pem) or put them in ~/{DEFAULT_ROOT_CERT}"
            )));
        }
    };
    let shown = path.display();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
        .and_then(|certs| certs.collect())
        .map_err(|e| StoreError::Connect(format!("cannot read sslrootcert {shown}: {e}")))?;
    let mut roots = RootCertStore::empty();
    let (added, _unusable) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(StoreError::Connect(format!(
            "sslrootcert {shown} holds no usable CA certificate (PEM expected)"
        )));
    }
    Ok(roots)
}

/// verify-ca and verify-full: the chain to a trusted CA (validity dates included), and for
/// verify-full the host name (or IP address) the URL names.
#[derive(Debug)]
struct CaVerifier {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    check_name: bool,
}

impl ServerCertVerifier for CaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        if self.check_name {
            rustls::client::verify_server_name(&cert, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12(&self.provider, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13(&self.provider, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// prefer and require: any certificate (libpq's behaviour), but the handshake's signatures
/// are still checked.
#[derive(Debug)]
struct LibpqRequireVerifier(Arc<CryptoProvider>);

impl ServerCertVerifier for LibpqRequireVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12(&self.0, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13(&self.0, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn verify_tls12(
    provider: &CryptoProvider,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    rustls::crypto::verify_tls12_signature(
        message,
        cert,
        dss,
        &provider.signature_verification_algorithms,
    )
}

fn verify_tls13(
    provider: &CryptoProvider,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    rustls::crypto::verify_tls13_signature(
        message,
        cert,
        dss,
        &provider.signature_verification_algorithms,
    )
}
