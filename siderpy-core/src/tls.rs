//! TLS settings: which rustls crypto provider siderpy's own configurations
//! use, the verifying default, and the explicit opt-out of certificate
//! verification behind
//! [`RedisBuilder::danger_accept_invalid_certs`](crate::RedisBuilder::danger_accept_invalid_certs).
//!
//! The provider is always passed to rustls: rustls's process default
//! cannot be guessed when both ring and aws-lc-rs are compiled in (one by
//! siderpy, one by another crate), and guessing panics at run time.

use std::io;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// A verifier that accepts whatever certificate the server presents: any
/// issuer, any name, expired or not. The handshake's signatures are still
/// checked (the server holds the key of the certificate it sent), but
/// nothing says that certificate is the server's: anyone on the path can
/// present one of their own and read everything, passwords included.
#[derive(Debug)]
struct AcceptAnyServerCertificateDangerously(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServerCertificateDangerously {
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
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// What a client's settings say about TLS beyond the URL's `rediss://`.
#[derive(Debug, Clone)]
pub(crate) enum TlsConfig {
    /// The application's own configuration ([`RedisBuilder::tls`](crate::RedisBuilder::tls)).
    Given(Arc<rustls::ClientConfig>),
    /// No certificate verification; built at connect time, when the
    /// provider is known.
    AcceptInvalidCerts,
}

/// The rustls configuration to connect with: the one given, else the
/// verifying default.
pub(crate) fn client_config(tls: Option<&TlsConfig>) -> crate::Result<Arc<rustls::ClientConfig>> {
    match tls {
        Some(TlsConfig::Given(config)) => Ok(Arc::clone(config)),
        Some(TlsConfig::AcceptInvalidCerts) => accept_invalid_certs_config(),
        None => default_tls_config(),
    }
}

/// The crypto provider siderpy builds its TLS configurations with: the one
/// the application installed as the process default
/// ([`CryptoProvider::install_default`]), else the one a feature picked
/// (`tls-aws-lc-rs` over `tls-ring` when both are on). Build your own
/// [`rustls::ClientConfig`] with it (`ClientConfig::builder_with_provider`)
/// rather than with `ClientConfig::builder()`, which panics when it cannot
/// tell which provider to use.
///
/// An error when there is none: the `tls` feature alone, and no process default.
pub fn crypto_provider() -> crate::Result<Arc<CryptoProvider>> {
    if let Some(installed) = CryptoProvider::get_default() {
        return Ok(Arc::clone(installed));
    }
    #[cfg(feature = "tls-aws-lc-rs")]
    return Ok(Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    #[cfg(all(feature = "tls-ring", not(feature = "tls-aws-lc-rs")))]
    return Ok(Arc::new(rustls::crypto::ring::default_provider()));
    #[cfg(not(any(feature = "tls-ring", feature = "tls-aws-lc-rs")))]
    Err(crate::Error::Usage(
        "no rustls crypto provider: enable siderpy's `tls-ring` or `tls-aws-lc-rs` feature, \
         or install one with rustls::crypto::CryptoProvider::install_default"
            .into(),
    ))
}

/// A configuration that verifies the server's certificate against the
/// webpki root store, as `rediss://` URLs get by default.
pub fn default_tls_config() -> crate::Result<Arc<rustls::ClientConfig>> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let config = rustls::ClientConfig::builder_with_provider(crypto_provider()?)
        .with_safe_default_protocol_versions()
        .map_err(|e| crate::Error::Tls(Arc::new(io::Error::other(e))))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A client configuration that does not verify the server's certificate.
fn accept_invalid_certs_config() -> crate::Result<Arc<rustls::ClientConfig>> {
    let provider = crypto_provider()?;
    let verifier = AcceptAnyServerCertificateDangerously(Arc::clone(&provider));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| crate::Error::Tls(Arc::new(io::Error::other(e))))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}
