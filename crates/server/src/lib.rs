//! vouch-server: the axum application. Handlers are thin: extract, authorise, call the
//! store or an engine, map the result. Shared state is one [`AppState`] passed explicitly.

pub mod admin;
/// The engines, moved to the use-case layer; re-exported under their old path.
pub use vouch_app::analysis;
pub mod auth;
pub mod bootstrap;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod i18n;
pub mod metrics;
pub mod middleware;
pub mod outbound;
pub mod phone;
pub mod routes;
pub mod tls;
pub mod webhooks;

use std::future::IntoFuture as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use vouch_core::webhook::RetryPolicy;
use vouch_store::Store;

/// Settings the server needs, validated by the binary.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Largest request body in bytes.
    pub body_limit: usize,
    /// Allow webhooks to private, loopback and link-local addresses (tests, labs).
    pub allow_private_webhooks: bool,
    /// The webhook retry schedule.
    pub retry: RetryPolicy,
    /// How often the webhook worker looks for due deliveries when idle.
    pub webhook_poll: Duration,
    /// Timeout of one webhook request.
    pub webhook_timeout: Duration,
    /// How long a claimed delivery stays reserved for its worker; longer than the
    /// timeout, so that only a dead worker's deliveries are claimed again.
    pub webhook_lease: Duration,
    /// Requests a minute for service tokens and OAuth clients (API keys have their own).
    pub client_rate_limit: u32,
    /// How long in-flight requests may take to finish at shutdown.
    pub shutdown_grace: Duration,
    /// The public base URL of this server (`https://verify.example.com`), used to build
    /// hosted page links such as a session's `verificationUrl`. None: `http://` and the
    /// bound address, which only suits local use.
    pub public_url: Option<String>,
    /// How often housekeeping runs (expiring sessions, purging counters).
    pub housekeeping_interval: Duration,
    /// Sign Human Presence Tokens with HS256 (the spec's style: only this server can
    /// verify them) instead of ES256 (verifiable offline with the JWKS).
    pub presence_tokens_hs256: bool,
    /// WebAuthn relying party id of console passkeys. None: the host of [`Self::base_url`].
    pub rp_id: Option<String>,
    /// WebAuthn origin of console passkeys. None: the origin of [`Self::base_url`].
    pub rp_origin: Option<String>,
    /// OpenID4VP client identifier prefix: false `x509_san_dns` (signed request
    /// objects), true `redirect_uri` (unsigned).
    pub digital_id_redirect_uri: bool,
    /// The verifier's certificate and P-256 key (PEM) for `x509_san_dns`; None: a
    /// self-signed certificate for the public URL's host, made at first use.
    pub digital_id_signer: Option<(String, String)>,
    /// Hosts (`host` or `host:port`) whose credential status lists vouch may fetch when a
    /// presentation names one; a list elsewhere is not fetched (the check goes to REVIEW).
    pub digital_id_status_hosts: Vec<String>,
    /// Terminate TLS here with these files (None: plain HTTP, e.g. behind a proxy).
    pub tls: Option<tls::TlsFiles>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: 20 * 1024 * 1024,
            allow_private_webhooks: false,
            retry: RetryPolicy::default(),
            webhook_poll: Duration::from_millis(500),
            webhook_timeout: Duration::from_secs(15),
            webhook_lease: Duration::from_secs(60),
            client_rate_limit: 1500,
            shutdown_grace: Duration::from_secs(30),
            public_url: None,
            housekeeping_interval: Duration::from_secs(60),
            presence_tokens_hs256: false,
            rp_id: None,
            rp_origin: None,
            digital_id_redirect_uri: false,
            digital_id_signer: None,
            digital_id_status_hosts: Vec::new(),
            tls: None,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The use cases (`vouch-app`): what handlers call for operations that have moved
    /// there (docs/architecture.md).
    pub app: Arc<vouch_app::App>,
    /// The store, for the background tasks only (the webhook worker's outbox delivery
    /// and housekeeping, `webhooks.rs`): handlers go through `app`.
    pub(crate) store: Arc<Store>,
    /// The settings.
    pub config: Arc<ServerConfig>,
    /// Process metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// Wakes the webhook worker when an event is written on this node.
    pub outbox_notify: Arc<Notify>,
    /// The face and document engines; none without models (analysis answers 503).
    pub engines: Option<Arc<analysis::Engines>>,
    /// Telco signals and SMS for the phone API (dev mode by default: the sandbox
    /// network and the dev inbox).
    pub phone: Arc<phone::PhoneContext>,
    /// The OpenID4VP verifier's identity towards wallets (made at first use).
    pub digital_id: Arc<routes::digital_id::Verifier>,
}

impl AppState {
    /// State over a store with settings.
    pub fn new(store: Arc<Store>, config: ServerConfig) -> Self {
        let outbox_notify = Arc::new(Notify::new());
        AppState {
            app: Arc::new(vouch_app::App::new(store.clone(), outbox_notify.clone())),
            store,
            config: Arc::new(config),
            metrics: Arc::new(metrics::Metrics::default()),
            outbox_notify,
            engines: None,
            phone: Arc::new(phone::PhoneContext::dev()),
            digital_id: Default::default(),
        }
    }

    /// The same state with other phone boundaries (Twilio, CAMARA).
    pub fn with_phone(mut self, phone: phone::PhoneContext) -> Self {
        self.phone = Arc::new(phone);
        self
    }

    /// The same state with analysis engines.
    pub fn with_engines(mut self, engines: Option<Arc<analysis::Engines>>) -> Self {
        self.engines = engines;
        self
    }
}

pub use routes::{app, app_with};

/// A running server: its address and a handle to stop it.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// The state the server runs with (its public URL names the bound port).
    pub state: AppState,
    /// The TLS certificate in use, to reload (SIGHUP), when TLS is terminated here.
    pub tls: Option<Arc<tls::Certificates>>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, stops the workers.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await.unwrap_or(Ok(()))
    }

    /// Waits until the server ends (after a shutdown signal).
    pub async fn wait(self) -> std::io::Result<()> {
        self.task.await.unwrap_or(Ok(()))
    }

    /// A sender that stops the server when `true` is sent.
    pub fn shutdown_handle(&self) -> tokio::sync::watch::Sender<bool> {
        self.shutdown.clone()
    }
}

impl ServerConfig {
    /// Whether clients reach this server over HTTPS (TLS here, or an https public URL
    /// behind a proxy): responses then carry HSTS.
    pub fn https(&self) -> bool {
        self.tls.is_some()
            || self
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
    }

    /// The public base URL without a trailing slash.
    pub fn base_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    /// The base URL to show people: the public URL, with a loopback address written
    /// `localhost` (the console's passkeys need a domain, see [`Self::rp_id`]).
    pub fn browser_url(&self) -> String {
        match self.webauthn_url() {
            Some(u) => u.as_str().trim_end_matches('/').to_string(),
            None => self.base_url(),
        }
    }

    /// The public URL as browsers may use it for passkeys: WebAuthn refuses IP
    /// addresses, so a loopback address (the zero-configuration default) becomes
    /// `localhost`, which browsers treat as a secure origin even over http.
    fn webauthn_url(&self) -> Option<url::Url> {
        let mut u = url::Url::parse(&self.base_url()).ok()?;
        let loopback = match u.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        };
        if loopback {
            u.set_host(Some("localhost")).ok()?;
        }
        Some(u)
    }

    /// The WebAuthn relying party id: configured, or the public URL's host
    /// (`localhost` for a loopback address).
    pub fn rp_id(&self) -> String {
        match &self.rp_id {
            Some(id) => id.clone(),
            None => self
                .webauthn_url()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| "localhost".into()),
        }
    }

    /// The WebAuthn origin: configured, or the public URL's origin (with `localhost`
    /// for a loopback address).
    pub fn rp_origin(&self) -> String {
        match &self.rp_origin {
            Some(o) => o.clone(),
            None => self
                .webauthn_url()
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_else(|| self.base_url()),
        }
    }
}

/// Binds the listener, starts the workers and serves until shut down.
pub async fn start(mut state: AppState) -> std::io::Result<Running> {
    let certs = match &state.config.tls {
        Some(files) => Some(tls::Certificates::load(files.clone()).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("TLS: {e}"))
        })?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(state.config.listen).await?;
    let addr = listener.local_addr()?;
    if state.config.public_url.is_none() {
        // Links must carry the port actually bound (port 0 picks one).
        let scheme = if certs.is_some() { "https" } else { "http" };
        if !addr.ip().is_loopback() {
            tracing::warn!(%addr, "public_url is not set: hosted page links will use {scheme}://{addr}; set VOUCH_PUBLIC_URL");
        }
        let mut config = (*state.config).clone();
        config.public_url = Some(format!("{scheme}://{addr}"));
        state.config = Arc::new(config);
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    let worker = webhooks::spawn_worker(state.clone(), rx.clone());
    let housekeeping = webhooks::spawn_housekeeping(state.clone(), rx.clone());
    let app = routes::app(state.clone());
    let grace = state.config.shutdown_grace;
    let task = match &certs {
        None => {
            let mut stop = rx.clone();
            let serve = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|v| *v).await;
            })
            .into_future();
            tokio::spawn(serve_until_stopped(
                serve,
                rx.clone(),
                grace,
                worker,
                housekeeping,
            ))
        }
        Some(c) => {
            let tls_listener = tls::TlsListener::new(listener, tls::server_config(c.clone()))?;
            // A changed certificate is picked up without a restart (SIGHUP does it at once).
            let watched = c.clone();
            let mut watch_stop = rx.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(tls::WATCH_INTERVAL) => { watched.reload_if_changed(); }
                        _ = watch_stop.wait_for(|v| *v) => return,
                    }
                }
            });
            // TapIo gives the TLS stream's peer address to the ConnectInfo extractor.
            let tapped = axum::serve::ListenerExt::tap_io(tls_listener, |_| {});
            let mut stop = rx.clone();
            let serve = axum::serve(
                tapped,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|v| *v).await;
            })
            .into_future();
            tokio::spawn(serve_until_stopped(
                serve,
                rx.clone(),
                grace,
                worker,
                housekeeping,
            ))
        }
    };
    Ok(Running {
        addr,
        state,
        tls: certs,
        shutdown: tx,
        task,
    })
}

/// Runs a server future until it ends or, after the shutdown signal, the grace period
/// for in-flight requests is over; then waits for the workers.
async fn serve_until_stopped(
    serve: impl std::future::Future<Output = std::io::Result<()>>,
    rx: tokio::sync::watch::Receiver<bool>,
    grace: Duration,
    worker: tokio::task::JoinHandle<()>,
    housekeeping: tokio::task::JoinHandle<()>,
) -> std::io::Result<()> {
    let result = serve;
    let mut stop2 = rx;
    tokio::pin!(result);
    // Graceful shutdown waits for in-flight requests, bounded by the grace period.
    let outcome = tokio::select! {
        r = &mut result => r,
        _ = async { let _ = stop2.wait_for(|v| *v).await; tokio::time::sleep(grace).await } => {
            tracing::warn!("shutdown grace period over; dropping remaining connections");
            Ok(())
        }
    };
    let _ = worker.await;
    let _ = housekeeping.await;
    outcome
}
