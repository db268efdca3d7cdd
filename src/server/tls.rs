//! TLS (rustls) of the S3 and WebDAV listeners: the certificate chain and key come from PEM files
//! (`tls.cert`, `tls.key`) and can be read again while the gateway runs ([`Tls::reload`], on
//! SIGHUP in `serve`). A failed reload keeps the certificate in use.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Context as _;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// A TLS acceptor whose certificate can be swapped while connections are being accepted.
#[derive(Clone)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    current: Arc<RwLock<TlsAcceptor>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key's path is not a secret; its content never leaves `load_config`.
        f.debug_struct("Tls")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads the certificate chain and key; an unreadable or mismatched pair is an error that
    /// names the file.
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Self> {
        let acceptor = acceptor(cert, key)?;
        Ok(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: Arc::new(RwLock::new(acceptor)),
        })
    }

    /// Reads the files again; new connections use the new certificate, open ones keep theirs.
    pub fn reload(&self) -> anyhow::Result<()> {
        let fresh = acceptor(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    /// The acceptor for the next connection.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    Ok(TlsAcceptor::from(Arc::new(load_config(cert, key)?)))
}

fn load_config(cert: &Path, key: &Path) -> anyhow::Result<ServerConfig> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading TLS certificate {}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("no certificate in {}", cert.display());
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading TLS key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .with_context(|| {
            format!(
                "TLS certificate {} and key {} do not fit together",
                cert.display(),
                key.display()
            )
        })?;
    // The listeners speak HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn missing_or_mismatched_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        let err = Tls::load(&cert_path, &key_path).unwrap_err();
        assert!(format!("{err:#}").contains("cert.pem"), "{err:#}");

        let a = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        std::fs::write(&cert_path, a.cert.pem()).unwrap();
        std::fs::write(&key_path, b.key_pair.serialize_pem()).unwrap();
        let err = Tls::load(&cert_path, &key_path).unwrap_err();
        assert!(format!("{err:#}").contains("do not fit"), "{err:#}");

        std::fs::write(&key_path, a.key_pair.serialize_pem()).unwrap();
        let tls = Tls::load(&cert_path, &key_path).unwrap();
        // A broken file on reload keeps the loaded pair and reports the error.
        std::fs::write(&cert_path, "not a certificate").unwrap();
        assert!(tls.reload().is_err());
        std::fs::write(&cert_path, a.cert.pem()).unwrap();
        tls.reload().unwrap();
    }
}
