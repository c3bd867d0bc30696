//! Settings: defaults, then `vouch.toml`, then `VOUCH_*` environment variables, then
//! flags — each later source wins. Parsed once into a raw form, validated into [`Config`].

use anyhow::{bail, Context as _, Result};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use vouch_server::ServerConfig;
use vouch_store::crypto::{MasterKeySource, SecretKey};

/// Environment variables vouch reads; any other `VOUCH_*` is warned about.
pub const KNOWN_ENV: &[&str] = &[
    "VOUCH_CONFIG",
    "VOUCH_LISTEN",
    "VOUCH_DATA_DIR",
    "VOUCH_DATABASE_URL",
    "VOUCH_MASTER_KEY",
    "VOUCH_MASTER_KEY_FILE",
    "VOUCH_LOG_FORMAT",
    "VOUCH_BODY_LIMIT",
    "VOUCH_ALLOW_PRIVATE_WEBHOOKS",
    "VOUCH_WEBHOOK_RETRY_BASE_MS",
    "VOUCH_WEBHOOK_MAX_AGE_SECS",
    "VOUCH_WEBHOOK_TIMEOUT_MS",
    "VOUCH_WEBHOOK_LEASE_MS",
    "VOUCH_CLIENT_RATE_LIMIT",
    "VOUCH_HOUSEKEEPING_INTERVAL_MS",
    "VOUCH_PUBLIC_URL",
    "VOUCH_RP_ID",
    "VOUCH_RP_ORIGIN",
    "VOUCH_DIGITAL_ID_CLIENT_ID_SCHEME",
    "VOUCH_DIGITAL_ID_CERT",
    "VOUCH_DIGITAL_ID_KEY",
    "VOUCH_DIGITAL_ID_STATUS_HOSTS",
    "VOUCH_MODELS_DIR",
    "VOUCH_DOC_DEBUG",
    "VOUCH_PRESENCE_TOKEN_ALG",
    "VOUCH_BASE_URL",
    "VOUCH_SERVICE_TOKEN",
    "VOUCH_E2E_SCREENSHOTS",
    "VOUCH_E2E_LOCAL_ASSETS",
    "VOUCH_CHROMIUM",
    "VOUCH_BIN",
    "VOUCH_FOOTAGE",
    "VOUCH_PHONE_REGION",
    "VOUCH_ORY_ORG",
    "VOUCH_SMS_PROVIDER",
    "VOUCH_TWILIO_ACCOUNT_SID",
    "VOUCH_TWILIO_AUTH_TOKEN",
    "VOUCH_TWILIO_FROM",
    "VOUCH_TWILIO_MESSAGING_SERVICE_SID",
    "VOUCH_TWILIO_BASE_URL",
    "VOUCH_TELCO",
    "VOUCH_CAMARA_BASE_URL",
    "VOUCH_CAMARA_TOKEN_URL",
    "VOUCH_CAMARA_CLIENT_ID",
    "VOUCH_CAMARA_CLIENT_SECRET",
    "VOUCH_CAMARA_AUTHORIZE_URL",
];

/// `vouch.toml`, every key optional. See `vouch.example.toml` for each key's default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on.
    pub listen: Option<String>,
    /// Data directory (SQLite file, master key file).
    pub data_dir: Option<PathBuf>,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: Option<String>,
    /// Path of the master key file.
    pub master_key_file: Option<PathBuf>,
    /// `text` or `json`.
    pub log_format: Option<String>,
    /// Largest request body in bytes.
    pub body_limit: Option<usize>,
    /// Allow webhooks to private addresses.
    pub allow_private_webhooks: Option<bool>,
    /// Requests a minute for service tokens and OAuth clients.
    pub client_rate_limit: Option<u32>,
    /// Milliseconds between housekeeping runs (expiring sessions, purging counters).
    pub housekeeping_interval_ms: Option<u64>,
    /// Public base URL of hosted pages (`https://verify.example.com`).
    pub public_url: Option<String>,
    /// WebAuthn relying party id of console passkeys (default: the public URL's host).
    pub rp_id: Option<String>,
    /// WebAuthn origin of console passkeys (default: the public URL's origin).
    pub rp_origin: Option<String>,
    /// Human Presence Token signature: ES256 (default) or HS256.
    pub presence_token_alg: Option<String>,
    /// PEM certificate chain to terminate TLS with (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// Its private key, PEM.
    pub tls_key: Option<PathBuf>,
    /// OpenID4VP client identifier prefix: `x509_san_dns` (default) or `redirect_uri`.
    pub digital_id_client_id_scheme: Option<String>,
    /// PEM file of the verifier certificate for `x509_san_dns` (its dNSName is the public
    /// URL's host); default: a self-signed one made at first use.
    pub digital_id_cert: Option<PathBuf>,
    /// Hosts whose credential status lists may be fetched.
    pub digital_id_status_hosts: Option<Vec<String>>,
    /// PEM file of that certificate's P-256 private key (PKCS#8).
    pub digital_id_key: Option<PathBuf>,
    /// Folder of the face and document models (`scripts/fetch-models.sh`).
    pub models_dir: Option<PathBuf>,
    /// Webhook settings.
    pub webhooks: Option<WebhookFileConfig>,
    /// Phone identity: SMS provider and telco signals.
    pub phone: Option<PhoneFileConfig>,
}

/// `[phone]` in `vouch.toml`. Without it: dev mode (sandbox network, dev SMS inbox).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneFileConfig {
    /// ISO 3166-1 alpha-2 region of national numbers (default US).
    pub region: Option<String>,
    /// `dev` (default: the dev inbox at /dev/sms) or `twilio`.
    pub sms: Option<String>,
    /// Twilio account SID.
    pub twilio_account_sid: Option<String>,
    /// Twilio auth token.
    pub twilio_auth_token: Option<String>,
    /// Sender number or alphanumeric id.
    pub twilio_from: Option<String>,
    /// Messaging service SID (instead of `twilio_from`).
    pub twilio_messaging_service_sid: Option<String>,
    /// Base URL of a Twilio-compatible API (default https://api.twilio.com).
    pub twilio_base_url: Option<String>,
    /// `sandbox` (default) or `camara`.
    pub telco: Option<String>,
    /// CAMARA apiRoot.
    pub camara_base_url: Option<String>,
    /// CAMARA OAuth token endpoint.
    pub camara_token_url: Option<String>,
    /// CAMARA client id.
    pub camara_client_id: Option<String>,
    /// CAMARA client secret.
    pub camara_client_secret: Option<String>,
    /// The operator's authorize endpoint (network authentication).
    pub camara_authorize_url: Option<String>,
}

/// The phone boundaries chosen.
pub enum SmsChoice {
    /// The dev inbox.
    Dev,
    /// Twilio or compatible.
    Twilio(vouch_phone::twilio::TwilioConfig),
}

/// The telco chosen.
pub enum TelcoChoice {
    /// The sandbox.
    Sandbox,
    /// An operator's CAMARA APIs.
    Camara(vouch_phone::camara::CamaraConfig),
}

/// Phone settings.
pub struct PhoneConfig {
    /// Region of national numbers.
    pub region: vouch_phone::Region,
    /// SMS.
    pub sms: SmsChoice,
    /// Telco.
    pub telco: TelcoChoice,
}

fn phone_config(file: Option<PhoneFileConfig>) -> Result<PhoneConfig> {
    let f = file.unwrap_or_default();
    let pick = |var: &str, v: Option<String>| env(var).or(v);
    let region_text = pick("VOUCH_PHONE_REGION", f.region).unwrap_or_else(|| "US".into());
    let region = vouch_phone::Region::parse(&region_text).with_context(|| {
        format!("phone region {region_text:?} is not an ISO 3166-1 alpha-2 code")
    })?;
    let sms = match pick("VOUCH_SMS_PROVIDER", f.sms).as_deref() {
        None | Some("dev") => SmsChoice::Dev,
        Some("twilio") => {
            let need = |var: &str, v: Option<String>| {
                pick(var, v).with_context(|| format!("the twilio SMS provider needs {var}"))
            };
            let sender = match (
                pick("VOUCH_TWILIO_FROM", f.twilio_from),
                pick("VOUCH_TWILIO_MESSAGING_SERVICE_SID", f.twilio_messaging_service_sid),
            ) {
                (Some(from), None) => vouch_phone::twilio::TwilioSender::From(from),
                (None, Some(mg)) => vouch_phone::twilio::TwilioSender::MessagingService(mg),
                _ => bail!("the twilio SMS provider needs exactly one of VOUCH_TWILIO_FROM and VOUCH_TWILIO_MESSAGING_SERVICE_SID"),
            };
            let mut cfg = vouch_phone::twilio::TwilioConfig::new(
                need("VOUCH_TWILIO_ACCOUNT_SID", f.twilio_account_sid)?,
                need("VOUCH_TWILIO_AUTH_TOKEN", f.twilio_auth_token)?,
                sender,
            );
            if let Some(u) = pick("VOUCH_TWILIO_BASE_URL", f.twilio_base_url) {
                cfg.base_url = u;
            }
            SmsChoice::Twilio(cfg)
        }
        Some(other) => bail!("SMS provider {other:?}: use dev or twilio"),
    };
    let telco = match pick("VOUCH_TELCO", f.telco).as_deref() {
        None | Some("sandbox") => TelcoChoice::Sandbox,
        Some("camara") => {
            let need = |var: &str, v: Option<String>| {
                pick(var, v).with_context(|| format!("the camara telco needs {var}"))
            };
            TelcoChoice::Camara(vouch_phone::camara::CamaraConfig {
                base_url: need("VOUCH_CAMARA_BASE_URL", f.camara_base_url)?,
                token_url: need("VOUCH_CAMARA_TOKEN_URL", f.camara_token_url)?,
                client_id: need("VOUCH_CAMARA_CLIENT_ID", f.camara_client_id)?,
                client_secret: need("VOUCH_CAMARA_CLIENT_SECRET", f.camara_client_secret)?,
                authorize_url: pick("VOUCH_CAMARA_AUTHORIZE_URL", f.camara_authorize_url),
                timeout: Duration::from_secs(10),
            })
        }
        Some(other) => bail!("telco {other:?}: use sandbox or camara"),
    };
    Ok(PhoneConfig { region, sms, telco })
}

/// `[webhooks]` in `vouch.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookFileConfig {
    /// First retry delay in milliseconds.
    pub retry_base_ms: Option<i64>,
    /// Seconds after which an undelivered event is dead-lettered.
    pub max_age_secs: Option<i64>,
    /// Timeout of one attempt in seconds.
    pub timeout_secs: Option<u64>,
    /// Seconds a claimed delivery stays reserved for its worker.
    pub lease_secs: Option<u64>,
}

/// Values given as flags (already merged with their environment variables by clap).
#[derive(Debug, Default, Clone)]
pub struct FlagConfig {
    pub config: Option<PathBuf>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub master_key: Option<String>,
    pub log_format: Option<String>,
    /// `vouch serve --tls-cert --tls-key` (or their environment variables).
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// Log output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// Validated settings.
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub master_key: MasterKeySource,
    pub log_format: LogFormat,
    pub server: ServerConfig,
    /// Folder of the analysis models; without them the server runs but analysis
    /// endpoints answer 503.
    pub models_dir: PathBuf,
    /// SMS and telco boundaries.
    pub phone: PhoneConfig,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn env_parse<T: std::str::FromStr>(name: &str) -> Result<Option<T>> {
    match env(name) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| anyhow::anyhow!("{name}={v} is not a valid value")),
    }
}

fn env_bool(name: &str) -> Result<Option<bool>> {
    match env(name).as_deref() {
        None => Ok(None),
        Some("1" | "true" | "yes") => Ok(Some(true)),
        Some("0" | "false" | "no") => Ok(Some(false)),
        Some(v) => bail!("{name}={v}: use 1 or 0"),
    }
}

/// Warns about `VOUCH_*` variables vouch does not know (likely typos).
pub fn warn_unknown_env() {
    for (k, _) in std::env::vars() {
        if k.starts_with("VOUCH_")
            && !KNOWN_ENV.contains(&k.as_str())
            && !k.starts_with("VOUCH_TEST_")
        {
            eprintln!("warning: unknown environment variable {k} is ignored");
        }
    }
}

fn read_file_config(flags: &FlagConfig) -> Result<FileConfig> {
    let (path, required) = match &flags.config {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from("vouch.toml"), false),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            Ok(FileConfig::default())
        }
        Err(e) => Err(e).with_context(|| format!("cannot read config file {}", path.display())),
    }
}

/// Merges flags (with env), the file and defaults, and validates.
pub fn load(flags: &FlagConfig) -> Result<Config> {
    let file = read_file_config(flags)?;
    let hooks = file.webhooks.unwrap_or_default();
    let data_dir = flags
        .data_dir
        .clone()
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from("./vouch-data"));
    let database_url = flags
        .database_url
        .clone()
        .or(file.database_url)
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("vouch.db").display()));
    let master_key = match &flags.master_key {
        Some(b64) => MasterKeySource::Given(
            SecretKey::from_base64(b64).map_err(|e| anyhow::anyhow!("VOUCH_MASTER_KEY: {e}"))?,
        ),
        None => MasterKeySource::File(
            env("VOUCH_MASTER_KEY_FILE")
                .map(PathBuf::from)
                .or(file.master_key_file)
                .unwrap_or_else(|| data_dir.join("master.key")),
        ),
    };
    let log_format = match flags.log_format.clone().or(file.log_format).as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => bail!("log format '{other}': use text or json"),
    };
    let listen_text = flags
        .listen
        .clone()
        .or(file.listen)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen: SocketAddr = listen_text
        .parse()
        .with_context(|| format!("listen address '{listen_text}' is not HOST:PORT"))?;
    let mut server = ServerConfig {
        listen,
        ..ServerConfig::default()
    };
    match flags
        .tls
        .clone()
        .or(file.tls_cert.clone().zip(file.tls_key.clone()))
    {
        Some((cert, key)) => {
            for p in [&cert, &key] {
                if !p.is_file() {
                    bail!("TLS: {} is not a file", p.display());
                }
            }
            server.tls = Some(vouch_server::tls::TlsFiles { cert, key });
        }
        None if file.tls_cert.is_some() || file.tls_key.is_some() => {
            bail!("tls_cert and tls_key go together")
        }
        None => {}
    }
    if let Some(n) = env_parse::<usize>("VOUCH_BODY_LIMIT")?.or(file.body_limit) {
        if n < 1024 {
            bail!("body limit must be at least 1024 bytes");
        }
        server.body_limit = n;
    }
    if let Some(b) = env_bool("VOUCH_ALLOW_PRIVATE_WEBHOOKS")?.or(file.allow_private_webhooks) {
        server.allow_private_webhooks = b;
    }
    if let Some(n) = env_parse::<u32>("VOUCH_CLIENT_RATE_LIMIT")?.or(file.client_rate_limit) {
        if n == 0 {
            bail!("client rate limit must be at least 1");
        }
        server.client_rate_limit = n;
    }
    if let Some(ms) =
        env_parse::<u64>("VOUCH_HOUSEKEEPING_INTERVAL_MS")?.or(file.housekeeping_interval_ms)
    {
        if !(100..=3_600_000).contains(&ms) {
            bail!("housekeeping interval must be between 100 ms and 1 hour");
        }
        server.housekeeping_interval = Duration::from_millis(ms);
    }
    if let Some(alg) = env("VOUCH_PRESENCE_TOKEN_ALG").or(file.presence_token_alg) {
        server.presence_tokens_hs256 = match alg.to_ascii_uppercase().as_str() {
            "ES256" => false,
            "HS256" => true,
            other => bail!("presence_token_alg must be ES256 or HS256, not {other:?}"),
        };
    }
    if let Some(url) = env("VOUCH_PUBLIC_URL").or(file.public_url) {
        vouch_core::model::validate_http_url("public URL", &url)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if url.contains(['?', '#']) {
            bail!("public URL must not have a query or fragment");
        }
        server.public_url = Some(url.trim_end_matches('/').to_string());
    }
    if let Some(id) = env("VOUCH_RP_ID").or(file.rp_id) {
        let id = id.trim().to_ascii_lowercase();
        if id.is_empty() || id.contains(['/', ':', ' ']) {
            bail!("rp_id must be a domain name such as verify.example.com");
        }
        server.rp_id = Some(id);
    }
    match env("VOUCH_DIGITAL_ID_CLIENT_ID_SCHEME")
        .or(file.digital_id_client_id_scheme)
        .as_deref()
    {
        None | Some("x509_san_dns") => {}
        Some("redirect_uri") => server.digital_id_redirect_uri = true,
        Some(other) => {
            bail!("digital_id_client_id_scheme must be x509_san_dns or redirect_uri, not {other:?}")
        }
    }
    let cert = env("VOUCH_DIGITAL_ID_CERT")
        .map(PathBuf::from)
        .or(file.digital_id_cert);
    let key = env("VOUCH_DIGITAL_ID_KEY")
        .map(PathBuf::from)
        .or(file.digital_id_key);
    match (cert, key) {
        (Some(c), Some(k)) => {
            let read = |p: &PathBuf| {
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
            };
            server.digital_id_signer = Some((read(&c)?, read(&k)?));
        }
        (None, None) => {}
        _ => bail!("digital_id_cert and digital_id_key go together"),
    }
    let status_hosts = env("VOUCH_DIGITAL_ID_STATUS_HOSTS")
        .map(|v| v.split(',').map(|h| h.trim().to_string()).collect())
        .or(file.digital_id_status_hosts)
        .unwrap_or_default();
    for h in status_hosts.iter().filter(|h| !h.is_empty()) {
        if h.contains(['/', '?', '#', '@', ' ']) {
            bail!("digital_id_status_hosts takes host names (or host:port), not URLs: {h:?}");
        }
        server.digital_id_status_hosts.push(h.to_ascii_lowercase());
    }
    if let Some(origin) = env("VOUCH_RP_ORIGIN").or(file.rp_origin) {
        vouch_core::model::validate_http_url("relying party origin", &origin)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        server.rp_origin = Some(origin.trim_end_matches('/').to_string());
    }
    if let Some(ms) = env_parse::<i64>("VOUCH_WEBHOOK_RETRY_BASE_MS")?.or(hooks.retry_base_ms) {
        if ms < 1 {
            bail!("webhook retry base must be at least 1 ms");
        }
        server.retry.base_ms = ms;
    }
    if let Some(s) = env_parse::<i64>("VOUCH_WEBHOOK_MAX_AGE_SECS")?.or(hooks.max_age_secs) {
        if s < 1 {
            bail!("webhook max age must be at least 1 s");
        }
        server.retry.max_age_ms = s * 1000;
    }
    if let Some(ms) =
        env_parse::<u64>("VOUCH_WEBHOOK_TIMEOUT_MS")?.or(hooks.timeout_secs.map(|s| s * 1000))
    {
        server.webhook_timeout = Duration::from_millis(ms.clamp(100, 60_000));
    }
    if let Some(ms) =
        env_parse::<u64>("VOUCH_WEBHOOK_LEASE_MS")?.or(hooks.lease_secs.map(|s| s * 1000))
    {
        server.webhook_lease = Duration::from_millis(ms);
    }
    if server.webhook_lease <= server.webhook_timeout {
        bail!("the webhook lease must be longer than the webhook timeout");
    }
    let models_dir = env("VOUCH_MODELS_DIR")
        .map(PathBuf::from)
        .or(file.models_dir)
        .unwrap_or_else(crate::models::default_dir);
    let phone = phone_config(file.phone)?;
    Ok(Config {
        data_dir,
        database_url,
        master_key,
        log_format,
        server,
        models_dir,
        phone,
    })
}

/// Creates the data directory with mode 0700 (and tightens it if it exists).
pub fn prepare_data_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot set permissions of {}", dir.display()))?;
    }
    Ok(())
}
