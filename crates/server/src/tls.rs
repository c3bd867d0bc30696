//! TLS termination in `vouch serve` (rustls, TLS 1.2 and 1.3): a certificate chain and
//! its private key from PEM files, reloaded without a restart ([`Certificates::reload`],
//! on SIGHUP and when the files change), and a listener that hands axum finished TLS
//! streams (handshakes run in their own tasks, so a slow client does not hold up the
//! others). Behind a reverse proxy that terminates TLS, leave it off (docs/operations.md).

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the certificate files are checked for a change.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(5);
/// The `Strict-Transport-Security` header sent over HTTPS: one year, subdomains too.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Where the certificate chain and key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM: the certificate, then its intermediates.
    pub cert: PathBuf,
    /// PEM: the private key (PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
}

/// The certificate in use, swappable while serving.
pub struct Certificates {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
    stamp: RwLock<Option<(SystemTime, SystemTime)>>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates")
            .field("files", &self.files)
            .finish()
    }
}

fn modified(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Reads and checks a certificate chain and its key.
fn load(files: &TlsFiles) -> Result<CertifiedKey, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| format!("{}: {e}", files.cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", files.cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate", files.cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| format!("{}: {e}", files.key.display()))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| format!("{}: {e}", files.key.display()))?;
    let certified = CertifiedKey::new(certs, signing);
    certified.keys_match().map_err(|e| {
        format!(
            "{} does not belong to {}: {e}",
            files.key.display(),
            files.cert.display()
        )
    })?;
    Ok(certified)
}

impl Certificates {
    /// Loads the files; an error names the file and what is wrong.
    pub fn load(files: TlsFiles) -> Result<Arc<Certificates>, String> {
        let first = load(&files)?;
        let stamp = modified(&files.cert).zip(modified(&files.key));
        Ok(Arc::new(Certificates {
            files,
            current: RwLock::new(Arc::new(first)),
            stamp: RwLock::new(stamp),
        }))
    }

    /// Loads the files again; on an error the certificate in use stays.
    pub fn reload(&self) -> Result<(), String> {
        let next = load(&self.files)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        *self.stamp.write().unwrap_or_else(|e| e.into_inner()) =
            modified(&self.files.cert).zip(modified(&self.files.key));
        Ok(())
    }

    /// Reloads when either file's modification time changed; true when it did reload.
    pub fn reload_if_changed(&self) -> bool {
        let now = modified(&self.files.cert).zip(modified(&self.files.key));
        let seen = *self.stamp.read().unwrap_or_else(|e| e.into_inner());
        if now.is_none() || now == seen {
            return false;
        }
        match self.reload() {
            Ok(()) => {
                tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded (files changed)");
                true
            }
            Err(e) => {
                // Remember the stamp so a half-written pair is retried only when it changes.
                *self.stamp.write().unwrap_or_else(|e| e.into_inner()) = now;
                tracing::error!("TLS certificate not reloaded, the old one stays: {e}");
                false
            }
        }
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

/// The rustls configuration: TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1 by ALPN.
pub fn server_config(certs: Arc<Certificates>) -> Arc<rustls::ServerConfig> {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
    .map(|b| b.with_no_client_auth().with_cert_resolver(certs.clone()))
    .unwrap_or_else(|_| {
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_cert_resolver(certs)
    });
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// A listener of finished TLS streams.
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Accepts on `tcp` and runs each handshake in its own task.
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, addr) = match tcp.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, sender) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = sender.send((tls, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%addr, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                    }
                });
                if tx.is_closed() {
                    return;
                }
            }
        });
        Ok(TlsListener { rx, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept task ended: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
