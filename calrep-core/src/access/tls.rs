//! TLS for the front end: a certificate chain and its key from PEM files,
//! served with rustls (ring), as the HTTP client already uses.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};

use crate::auth::pem_blocks;

/// A server configuration from a PEM certificate chain (leaf first) and a
/// PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC).
///
/// # Errors
///
/// A file that cannot be read, holds no certificate or key, or a key that
/// does not match.
pub fn tls_config(
    certificate_file: &Path,
    key_file: &Path,
) -> Result<Arc<rustls::ServerConfig>, String> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let chain: Vec<CertificateDer<'static>> = pem_blocks(&read(certificate_file)?, "CERTIFICATE")
        .into_iter()
        .map(CertificateDer::from)
        .collect();
    if chain.is_empty() {
        return Err(format!(
            "no \"BEGIN CERTIFICATE\" block in {}",
            certificate_file.display()
        ));
    }
    let key_text = read(key_file)?;
    let first = |label: &str| pem_blocks(&key_text, label).into_iter().next();
    let key: PrivateKeyDer<'static> = if let Some(der) = first("PRIVATE KEY") {
        PrivatePkcs8KeyDer::from(der).into()
    } else if let Some(der) = first("RSA PRIVATE KEY") {
        PrivatePkcs1KeyDer::from(der).into()
    } else if let Some(der) = first("EC PRIVATE KEY") {
        PrivateSec1KeyDer::from(der).into()
    } else {
        return Err(format!("no private key block in {}", key_file.display()));
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map(Arc::new)
        .map_err(|e| {
            format!(
                "TLS: {} and {} do not make a usable certificate and key: {e}",
                certificate_file.display(),
                key_file.display()
            )
        })
}
