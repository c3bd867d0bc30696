//! `vouch`: the server and its command-line tools. The commands work on the same data
//! directory or database as a running server. JSON goes to stdout, messages to stderr.
//!
//! Size (over 800 lines): the whole command tree (clap) and the small commands; the large
//! ones live in `face.rs` and `doc.rs`.

mod config;
mod doc;
mod face;
mod identity;
mod models;
mod trust;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use vouch_core::check::Check;
use vouch_core::ids::{ClientId, KeyId, OrgId, TokenId};
use vouch_core::model::{Actor, AuditRecord, KeySettings, DEFAULT_RATE_LIMIT, SCOPE_PRESENCE};
use vouch_store::crypto::{self, MasterKeySource, SecretKey};
use vouch_store::{Store, StoreOptions};

#[derive(Parser)]
#[command(
    name = "vouch",
    version,
    about = "Self-hosted identity verification server"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct GlobalArgs {
    /// Config file (default: ./vouch.toml if it exists).
    #[arg(long, global = true, env = "VOUCH_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory for the SQLite file and the master key file [default: ./vouch-data].
    #[arg(long, global = true, env = "VOUCH_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://… [default: sqlite in the data dir].
    #[arg(
        long,
        global = true,
        env = "VOUCH_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long, global = true, env = "VOUCH_LOG_FORMAT")]
    log_format: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long, env = "VOUCH_LISTEN")]
        listen: Option<String>,
        /// Terminate TLS here: PEM certificate chain (reloaded on SIGHUP or when the
        /// file changes). Without it vouch speaks plain HTTP (behind a TLS proxy).
        #[arg(long, env = "VOUCH_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key, PEM.
        #[arg(long, env = "VOUCH_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Organisations.
    #[command(subcommand)]
    Org(OrgCmd),
    /// API keys.
    #[command(subcommand)]
    Key(KeyCmd),
    /// OAuth 2.0 client-credentials clients (phone API).
    #[command(subcommand, name = "oauth-client")]
    OAuthClient(ClientCmd),
    /// Service tokens (scope presence).
    #[command(subcommand, name = "service-token")]
    ServiceToken(TokenCmd),
    /// Master and data keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// The face engine (models from VOUCH_MODELS_DIR, default: ./models in a checkout, else the checkout the binary was built from).
    #[command(subcommand)]
    Face(face::FaceCmd),
    /// The document engine: read ID documents (MRZ, PDF417), evaluate accuracy.
    #[command(subcommand)]
    Doc(doc::DocCmd),
    /// Biometric identity: enrol photos in bulk (models from VOUCH_MODELS_DIR).
    #[command(subcommand)]
    Identity(identity::IdentityCmd),
    /// Ory Kratos hooks (/hooks/ory/*, /prove/*).
    #[command(subcommand)]
    Ory(OryCmd),
    /// Console administrators.
    #[command(subcommand)]
    Admin(AdminCmd),
    /// Trust lists of digital ID issuers (IACA roots, PID providers' CAs), per organisation.
    #[command(subcommand)]
    Trust(trust::TrustCmd),
    /// MCP server over stdio with the Human Presence Token tools, for AI agents
    /// (VOUCH_BASE_URL or PROOF_BASE_URL, VOUCH_SERVICE_TOKEN or PROOF_SERVICE_TOKEN).
    Mcp,
}

#[derive(Subcommand)]
enum AdminCmd {
    /// Create an admin; prints {"adminId", "setupUrl"} (a one-time link to set the
    /// password, valid 72 h), or with --password-stdin sets the password read from stdin.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        /// Read the password from the first line of stdin instead of issuing a setup link.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List an organisation's admins.
    List {
        #[arg(long)]
        org: String,
    },
    /// Move an admin's 2FA enrolment deadline to N days from now.
    ExtendEnrollment {
        #[arg(long)]
        email: String,
        #[arg(long)]
        days: u32,
    },
}

#[derive(Subcommand)]
enum OrgCmd {
    /// Create an organisation; prints {"orgId": …}.
    Create {
        #[arg(long)]
        name: String,
    },
    /// List organisations.
    List,
}

#[derive(Subcommand)]
enum KeyCmd {
    /// Create an API key; prints {"keyId", "apiKey", "webhookSecret"} (shown once).
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
        /// Enabled checks, comma-separated [default: liveness, age_estimation,
        /// doc_verify, face_match; digital_id must be named].
        #[arg(long)]
        checks: Option<String>,
        /// Claims the digital_id check asks a wallet for, comma-separated (given_name,
        /// family_name, birth_date, age_over_18, document_number, issuing_country,
        /// nationality, portrait) [default: given_name,family_name,birth_date].
        #[arg(long)]
        digital_id_claims: Option<String>,
        /// Webhook URL for this key's events.
        #[arg(long)]
        webhook_url: Option<String>,
        /// Requests a minute [default: 100].
        #[arg(long)]
        rate_limit: Option<u32>,
        /// Days until the key expires [default: never].
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// Seconds a verification session stays open [default: 1800].
        #[arg(long)]
        session_ttl_secs: Option<u32>,
        /// Days a session's capture images are kept after it ends, for review (0-90)
        /// [default: 0, deleted when the session is decided].
        #[arg(long)]
        image_retention_days: Option<u32>,
        /// Name shown on hosted pages.
        #[arg(long)]
        display_name: Option<String>,
        /// Logo URL shown on hosted pages.
        #[arg(long)]
        logo_url: Option<String>,
        /// Accent colour, #rrggbb.
        #[arg(long)]
        accent_color: Option<String>,
    },
    /// List an organisation's keys (never their secrets).
    List {
        #[arg(long)]
        org: String,
    },
    /// Revoke a key.
    Revoke {
        #[arg(long)]
        org: String,
        #[arg(long)]
        key: String,
    },
}

#[derive(Subcommand)]
enum OryCmd {
    /// Sets an organisation's Kratos hook configuration: the secret Kratos sends
    /// (X-Webhook-Secret or Bearer), the Kratos admin API and its key.
    Configure {
        #[arg(long)]
        org: String,
        /// The shared secret (≥ 16 characters); `-` reads it from standard input.
        #[arg(long)]
        webhook_secret: String,
        /// Kratos admin API base URL (e.g. http://kratos:4434 or https://PROJECT.projects.oryapis.com).
        #[arg(long)]
        kratos_admin_url: String,
        /// Admin API key (Ory Network: an API key with identities:write); `-` reads stdin.
        #[arg(long)]
        api_key: Option<String>,
        /// Hooks that let the flow through when vouch cannot decide: lookup, validate.
        #[arg(long, value_delimiter = ',')]
        fail_open: Vec<String>,
    },
    /// Shows an organisation's configuration (secrets are never shown).
    Show {
        #[arg(long)]
        org: String,
    },
}

#[derive(Subcommand)]
enum ClientCmd {
    /// Create a client; prints {"clientId", "clientSecret"} (shown once).
    Create {
        #[arg(long)]
        org: String,
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// List an organisation's clients.
    List {
        #[arg(long)]
        org: String,
    },
    /// Revoke a client and its access tokens.
    Revoke {
        #[arg(long)]
        org: String,
        #[arg(long)]
        client: String,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create a service token; prints {"tokenId", "token"} (shown once).
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
        /// Scope [default: presence].
        #[arg(long, default_value = SCOPE_PRESENCE)]
        scope: String,
    },
    /// List an organisation's service tokens.
    List {
        #[arg(long)]
        org: String,
    },
    /// Revoke a service token.
    Revoke {
        #[arg(long)]
        org: String,
        #[arg(long)]
        token: String,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Generate a new master key, re-wrap every data key under it and start a new data
    /// key for new values. With a key file, the file is replaced (the old one is kept as
    /// master.key.old-<fingerprint>); with VOUCH_MASTER_KEY, the new key is printed.
    Rotate,
}

#[derive(Subcommand)]
enum AuditCmd {
    /// The newest entries of an organisation.
    List {
        #[arg(long)]
        org: String,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

async fn admin_cmd(store: &Store, cfg: &config::Config, cmd: AdminCmd) -> Result<()> {
    use vouch_store::admin::{token_digest, SETUP_TTL_MS};
    match cmd {
        AdminCmd::Create {
            org,
            email,
            password_stdin,
        } => {
            let org = OrgId::from_string(org);
            store.org(&org).await?;
            let email = email.trim().to_string();
            if email.len() > 254 || !email.contains('@') {
                bail!("--email must be an e-mail address");
            }
            if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                let password = line.trim_end_matches(['\r', '\n']);
                vouch_server::admin::check_new_password(password)
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                let hash = vouch_server::admin::hash_password(password)
                    .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
                let admin = store.create_admin(&org, &email, Some(&hash), None).await?;
                audit_admin(store, &admin).await?;
                eprintln!("created admin {} with a password", admin.id);
                print(
                    json!({"adminId": admin.id, "enrollBy": vouch_core::rfc3339(admin.enroll_by)}),
                );
            } else {
                let token = vouch_server::admin::new_token("vsu_");
                let admin = store
                    .create_admin(&org, &email, None, Some(&token_digest(&token)))
                    .await?;
                audit_admin(store, &admin).await?;
                eprintln!(
                    "created admin {}; the setup link works once, for {} hours",
                    admin.id,
                    SETUP_TTL_MS / 3_600_000
                );
                print(json!({
                    "adminId": admin.id,
                    "setupUrl": format!("{}/admin/setup?token={token}", cfg.server.base_url()),
                }));
            }
        }
        AdminCmd::List { org } => {
            let org = OrgId::from_string(org);
            let admins = store.list_admins(&org).await?;
            let mut out = Vec::with_capacity(admins.len());
            for a in &admins {
                let passkeys = store.admin_passkeys(&a.id).await?.len();
                out.push(json!({
                    "adminId": a.id,
                    "email": a.email,
                    "passwordSet": a.password_hash.is_some(),
                    "passkeys": passkeys,
                    "face": a.face_template.is_some(),
                    "enrollBy": vouch_core::rfc3339(a.enroll_by),
                    "createdAt": vouch_core::rfc3339(a.created_at),
                }));
            }
            print(json!(out));
        }
        AdminCmd::ExtendEnrollment { email, days } => {
            if days == 0 || days > 365 {
                bail!("--days must be 1 to 365");
            }
            let Some(admin) = store.admin_by_email(&email).await? else {
                bail!("no admin has this e-mail");
            };
            let enroll_by = vouch_core::now_millis() + i64::from(days) * 24 * 3_600_000;
            store.set_admin_enroll_by(&admin.id, enroll_by).await?;
            store
                .append_audit(
                    &AuditRecord::new(Some(&admin.org_id), Actor::Cli, "admin.enrollment_extended")
                        .target(&admin.id)
                        .details(json!({"enrollBy": vouch_core::rfc3339(enroll_by)})),
                )
                .await?;
            print(json!({"adminId": admin.id, "enrollBy": vouch_core::rfc3339(enroll_by)}));
        }
    }
    Ok(())
}

async fn audit_admin(store: &Store, admin: &vouch_store::admin::Admin) -> Result<()> {
    store
        .append_audit(
            &AuditRecord::new(Some(&admin.org_id), Actor::Cli, "admin.created").target(&admin.id),
        )
        .await?;
    Ok(())
}

fn print(value: serde_json::Value) {
    println!("{value}");
}

fn init_logging(format: config::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        config::LogFormat::Json => builder.json().flatten_event(true).init(),
        config::LogFormat::Text => builder.init(),
    }
}

async fn open_store(cfg: &config::Config) -> Result<Store> {
    if cfg.database_url.starts_with("sqlite:") || matches!(cfg.master_key, MasterKeySource::File(_))
    {
        config::prepare_data_dir(&cfg.data_dir)?;
    }
    let opts = StoreOptions::new(cfg.database_url.clone(), cfg.master_key.clone());
    match Store::open(opts.clone()).await {
        Ok(s) => Ok(s),
        Err(e) => {
            // A rotation that committed but crashed before swapping the key files leaves
            // the new key in master.key.next: finish the swap.
            if let MasterKeySource::File(path) = &cfg.master_key {
                let next = next_key_path(path);
                if next.exists() {
                    let key = crypto::load_or_create_key_file(&next)?;
                    let retry =
                        StoreOptions::new(cfg.database_url.clone(), MasterKeySource::Given(key));
                    if let Ok(store) = Store::open(retry).await {
                        finish_key_swap(path)?;
                        eprintln!(
                            "recovered an interrupted key rotation: {} is now the master key",
                            next.display()
                        );
                        drop(store);
                        return Store::open(opts).await.map_err(anyhow::Error::from);
                    }
                }
            }
            Err(anyhow::Error::from(e)).context("cannot open the store")
        }
    }
}

fn next_key_path(path: &std::path::Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".next");
    PathBuf::from(p)
}

fn finish_key_swap(path: &std::path::Path) -> Result<()> {
    let next = next_key_path(path);
    if path.exists() {
        let old = crypto::load_or_create_key_file(path)?;
        let mut backup = path.as_os_str().to_owned();
        backup.push(format!(".old-{}", old.fingerprint()));
        std::fs::rename(path, PathBuf::from(backup))
            .context("cannot keep the old master key file")?;
    }
    std::fs::rename(&next, path).context("cannot install the new master key file")?;
    Ok(())
}

fn cli_audit(org: &OrgId, action: &str) -> AuditRecord {
    AuditRecord::new(Some(org), Actor::Cli, action)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    let cli = Cli::parse();
    config::warn_unknown_env();
    let listen = match &cli.command {
        Command::Serve { listen, .. } => listen.clone(),
        _ => None,
    };
    let tls = match &cli.command {
        Command::Serve {
            tls_cert: Some(cert),
            tls_key: Some(key),
            ..
        } => Some((cert.clone(), key.clone())),
        _ => None,
    };
    let flags = config::FlagConfig {
        config: cli.global.config.clone(),
        listen,
        data_dir: cli.global.data_dir.clone(),
        database_url: cli.global.database_url.clone(),
        master_key: std::env::var("VOUCH_MASTER_KEY")
            .ok()
            .filter(|v| !v.is_empty()),
        log_format: cli.global.log_format.clone(),
        tls,
    };
    if let Command::Face(cmd) = cli.command {
        return face::run(cmd);
    }
    if let Command::Doc(cmd) = cli.command {
        return doc::run(cmd);
    }
    if let Command::Mcp = cli.command {
        // stdout is the protocol: nothing else may be written to it.
        let config = vouch_mcp::Config::from_env().map_err(anyhow::Error::msg)?;
        return vouch_mcp::serve_stdio(config)
            .await
            .map_err(anyhow::Error::msg);
    }
    let cfg = config::load(&flags)?;
    match cli.command {
        Command::Face(_) | Command::Doc(_) | Command::Mcp => unreachable!("handled above"),
        Command::Identity(cmd) => {
            let store = open_store(&cfg).await?;
            let r = identity::run(cmd, &store).await;
            store.close().await;
            r
        }
        Command::Serve { .. } => serve(cfg).await,
        Command::Migrate => {
            let store = open_store(&cfg).await?;
            eprintln!(
                "database is at schema version {}",
                vouch_store::SCHEMA_VERSION
            );
            print(json!({"schemaVersion": vouch_store::SCHEMA_VERSION}));
            store.close().await;
            Ok(())
        }
        Command::Org(cmd) => {
            let store = open_store(&cfg).await?;
            match cmd {
                OrgCmd::Create { name } => {
                    let audit = AuditRecord::new(None, Actor::Cli, "org.created");
                    let org = store.create_org(&name, audit).await?;
                    eprintln!("created organisation {}", org.id);
                    print(json!({"orgId": org.id, "name": org.name}));
                }
                OrgCmd::List => print(json!(store.list_orgs().await?)),
            }
            store.close().await;
            Ok(())
        }
        Command::Key(cmd) => {
            let store = open_store(&cfg).await?;
            key_cmd(&store, cmd).await?;
            store.close().await;
            Ok(())
        }
        Command::Admin(cmd) => {
            let store = open_store(&cfg).await?;
            admin_cmd(&store, &cfg, cmd).await?;
            store.close().await;
            Ok(())
        }
        Command::Trust(cmd) => {
            let store = std::sync::Arc::new(open_store(&cfg).await?);
            trust::run(store.clone(), cmd).await?;
            store.close().await;
            Ok(())
        }
        Command::Ory(cmd) => {
            let store = open_store(&cfg).await?;
            match cmd {
                OryCmd::Configure {
                    org,
                    webhook_secret,
                    kratos_admin_url,
                    api_key,
                    fail_open,
                } => {
                    let org = OrgId::from_string(org);
                    store.org(&org).await?;
                    let mut stdin_used = false;
                    let mut read = |v: String| -> Result<String> {
                        if v != "-" {
                            return Ok(v);
                        }
                        if stdin_used {
                            bail!("only one of --webhook-secret and --api-key can be read from standard input");
                        }
                        stdin_used = true;
                        let mut line = String::new();
                        std::io::stdin().read_line(&mut line)?;
                        Ok(line.trim().to_string())
                    };
                    let secret = read(webhook_secret)?;
                    let api_key = api_key.map(&mut read).transpose()?;
                    vouch_core::model::validate_http_url("Kratos admin URL", &kratos_admin_url)
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    for hook in &fail_open {
                        if !matches!(hook.as_str(), "lookup" | "validate") {
                            bail!("--fail-open takes lookup and/or validate, not {hook:?}");
                        }
                    }
                    let open = |h: &str| fail_open.iter().any(|f| f == h);
                    store
                        .configure_ory(
                            &org,
                            &secret,
                            &kratos_admin_url,
                            api_key.as_deref(),
                            open("lookup"),
                            open("validate"),
                        )
                        .await?;
                    eprintln!("configured the Ory hooks of {org}");
                    print(json!({"orgId": org, "kratosAdminUrl": kratos_admin_url,
                        "failOpen": {"lookup": open("lookup"), "validate": open("validate")}}));
                }
                OryCmd::Show { org } => {
                    let org = OrgId::from_string(org);
                    match store.ory_config(&org).await? {
                        Some(c) => {
                            print(json!({"orgId": org, "kratosAdminUrl": c.kratos_admin_url,
                            "apiKey": c.api_key.is_some(),
                            "failOpen": {"lookup": c.fail_open_lookup, "validate": c.fail_open_validate}}))
                        }
                        None => bail!("organisation {org} has no Ory configuration"),
                    }
                }
            }
            store.close().await;
            Ok(())
        }
        Command::OAuthClient(cmd) => {
            let store = open_store(&cfg).await?;
            match cmd {
                ClientCmd::Create { org, name } => {
                    let org = OrgId::from_string(org);
                    let (client, secret) = store
                        .create_oauth_client(&org, &name, cli_audit(&org, "oauth_client.created"))
                        .await?;
                    eprintln!(
                        "created OAuth client {}; the secret is shown once",
                        client.id
                    );
                    print(json!({"clientId": client.id, "clientSecret": secret}));
                }
                ClientCmd::List { org } => print(json!(
                    store.list_oauth_clients(&OrgId::from_string(org)).await?
                )),
                ClientCmd::Revoke { org, client } => {
                    let org = OrgId::from_string(org);
                    let id = ClientId::from_string(client);
                    store
                        .revoke_oauth_client(&org, &id, cli_audit(&org, "oauth_client.revoked"))
                        .await?;
                    eprintln!("revoked OAuth client {id}");
                    print(json!({"clientId": id, "revoked": true}));
                }
            }
            store.close().await;
            Ok(())
        }
        Command::ServiceToken(cmd) => {
            let store = open_store(&cfg).await?;
            match cmd {
                TokenCmd::Create { org, name, scope } => {
                    let org = OrgId::from_string(org);
                    let (token, secret) = store
                        .create_service_token(
                            &org,
                            &name,
                            &scope,
                            cli_audit(&org, "service_token.created"),
                        )
                        .await?;
                    eprintln!("created service token {}; it is shown once", token.id);
                    print(json!({"tokenId": token.id, "token": secret, "scope": token.scope}));
                }
                TokenCmd::List { org } => print(json!(
                    store.list_service_tokens(&OrgId::from_string(org)).await?
                )),
                TokenCmd::Revoke { org, token } => {
                    let org = OrgId::from_string(org);
                    let id = TokenId::from_string(token);
                    store
                        .revoke_service_token(&org, &id, cli_audit(&org, "service_token.revoked"))
                        .await?;
                    eprintln!("revoked service token {id}");
                    print(json!({"tokenId": id, "revoked": true}));
                }
            }
            store.close().await;
            Ok(())
        }
        Command::Keys(KeysCmd::Rotate) => rotate(&cfg).await,
        Command::Audit(AuditCmd::List { org, limit }) => {
            let store = open_store(&cfg).await?;
            print(json!(
                store.list_audit(&OrgId::from_string(org), limit).await?
            ));
            store.close().await;
            Ok(())
        }
    }
}

async fn key_cmd(store: &Store, cmd: KeyCmd) -> Result<()> {
    match cmd {
        KeyCmd::Create {
            org,
            name,
            checks,
            digital_id_claims,
            webhook_url,
            rate_limit,
            expires_in_days,
            session_ttl_secs,
            image_retention_days,
            display_name,
            logo_url,
            accent_color,
        } => {
            let org = OrgId::from_string(org);
            let mut settings = KeySettings::default();
            if let Some(list) = checks {
                settings.checks = Check::parse_list(&list)?;
            }
            if let Some(list) = digital_id_claims {
                settings.digital_id_claims = list
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(String::from)
                    .collect();
            }
            settings.webhook_url = webhook_url;
            settings.rate_limit = rate_limit.unwrap_or(DEFAULT_RATE_LIMIT);
            settings.expires_at =
                expires_in_days.map(|d| vouch_core::now_millis() + i64::from(d) * 86_400_000);
            if let Some(ttl) = session_ttl_secs {
                settings.session_ttl_secs = ttl;
            }
            settings.image_retention_days = image_retention_days.unwrap_or(0);
            settings.branding.display_name = display_name;
            settings.branding.logo_url = logo_url;
            settings.branding.accent_color = accent_color;
            let created = store
                .create_api_key(&org, &name, settings, cli_audit(&org, "api_key.created"))
                .await?;
            eprintln!(
                "created API key {} ({}…); the key and webhook secret are shown once",
                created.key.id, created.key.prefix
            );
            print(json!({
                "keyId": created.key.id,
                "apiKey": created.secret,
                "webhookSecret": created.webhook_secret,
            }));
        }
        KeyCmd::List { org } => print(json!(store.list_api_keys(&OrgId::from_string(org)).await?)),
        KeyCmd::Revoke { org, key } => {
            let org = OrgId::from_string(org);
            let id = KeyId::from_string(key);
            store
                .revoke_api_key(&org, &id, cli_audit(&org, "api_key.revoked"))
                .await?;
            eprintln!("revoked API key {id}");
            print(json!({"keyId": id, "revoked": true}));
        }
    }
    Ok(())
}

async fn rotate(cfg: &config::Config) -> Result<()> {
    let store = open_store(cfg).await?;
    let new_key = SecretKey::generate();
    match &cfg.master_key {
        MasterKeySource::File(path) => {
            // Order matters for crash safety: the new key is on disk before the database
            // commits to it, and open_store finishes an interrupted swap.
            crypto::write_key_file(&next_key_path(path), &new_key)?;
            let n = store.rotate_master_key(&new_key).await?;
            finish_key_swap(path)?;
            eprintln!("re-wrapped {n} data keys under a new master key ({}); the old key file is kept beside it", new_key.fingerprint());
            print(json!({"rewrapped": n, "masterKeyFingerprint": new_key.fingerprint()}));
        }
        MasterKeySource::Given(_) => {
            let n = store.rotate_master_key(&new_key).await?;
            eprintln!("re-wrapped {n} data keys; set VOUCH_MASTER_KEY to the new key below on every node now");
            print(
                json!({"rewrapped": n, "masterKey": new_key.to_base64().as_str(), "masterKeyFingerprint": new_key.fingerprint()}),
            );
        }
    }
    store.close().await;
    Ok(())
}

async fn serve(cfg: config::Config) -> Result<()> {
    init_logging(cfg.log_format);
    let store = Arc::new(open_store(&cfg).await?);
    let backend = store.backend();
    let models = cfg.models_dir.clone();
    let engines = tokio::task::spawn_blocking(move || {
        // A first start fetches what the manifest lists and the folder lacks; a failed
        // fetch leaves the server up without analysis (readyz says so), not down.
        if let Err(e) = models::ensure(&models) {
            tracing::warn!(models = %models.display(), "{e}");
        }
        let started = std::time::Instant::now();
        vouch_server::analysis::Engines::load(&models).map(|e| (e, started.elapsed()))
    })
    .await
    .context("loading the analysis engines")?;
    let engines = match engines {
        Ok((e, took)) => {
            tracing::info!(models = %cfg.models_dir.display(), ms = took.as_millis() as u64, "analysis engines loaded");
            Some(Arc::new(e))
        }
        Err(e) => {
            tracing::warn!(error = %e, models = %cfg.models_dir.display(),
                "analysis models not loaded: the hosted flow's analysis, enrolment and verify answer 503 models_missing and /readyz says `models: missing` (scripts/fetch-models.sh fetches them; VOUCH_MODELS_DIR points elsewhere)");
            None
        }
    };
    ory_from_env(&store).await?;
    trust::warn_expiring(&store).await?;
    let phone = phone_context(&cfg)?;
    let state = vouch_server::AppState::new(store.clone(), cfg.server.clone())
        .with_engines(engines)
        .with_phone(phone);
    let running = vouch_server::start(state)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.server.listen))?;
    let scheme = if running.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(addr = %running.addr, backend = ?backend, "vouch listening on {scheme}://{}", running.addr);
    if let Some(certs) = running.tls.clone() {
        reload_on_sighup(certs);
    }
    offer_first_admin(&running.state).await?;
    let stop = running.shutdown_handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stop.send(true);
    });
    running.wait().await?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// On a database without any admin, prints the one-time link that creates the first
/// organisation and admin in the browser (valid an hour, once; a restart prints a new
/// one).
async fn offer_first_admin(state: &vouch_server::AppState) -> Result<()> {
    if let Some(link) = vouch_server::bootstrap::offer(state).await? {
        tracing::info!("no administrator yet: printed a one-time setup link");
        eprintln!(
            "\n  No administrator yet. Open this link to name your organisation and create the\n  first admin (it works once, for {} minutes; a restart prints a new one):\n\n    {link}\n",
            vouch_server::bootstrap::BOOTSTRAP_TTL_MS / 60_000
        );
    }
    Ok(())
}

/// The spec's environment variables for a single-organisation install:
/// `ORY_WEBHOOK_SECRET`, `KRATOS_ADMIN_URL`, `ORY_API_KEY` configure the hooks of the
/// only organisation (or of `VOUCH_ORY_ORG` when there are several).
async fn ory_from_env(store: &vouch_store::Store) -> Result<()> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let Some(secret) = var("ORY_WEBHOOK_SECRET") else {
        return Ok(());
    };
    let url = var("KRATOS_ADMIN_URL")
        .context("ORY_WEBHOOK_SECRET is set: KRATOS_ADMIN_URL is needed too")?;
    let org = match var("VOUCH_ORY_ORG") {
        Some(o) => OrgId::from_string(o),
        None => {
            let orgs = store.list_orgs().await?;
            match orgs.as_slice() {
                [one] => one.id.clone(),
                [] => bail!("ORY_WEBHOOK_SECRET is set but there is no organisation yet: run `vouch org create` first"),
                _ => bail!("ORY_WEBHOOK_SECRET is set and there are several organisations: set VOUCH_ORY_ORG"),
            }
        }
    };
    store
        .configure_ory(
            &org,
            &secret,
            &url,
            var("ORY_API_KEY").as_deref(),
            false,
            false,
        )
        .await?;
    tracing::info!(org = %org, "Ory hooks configured from the environment");
    Ok(())
}

/// The phone boundaries from the settings: dev mode (sandbox network, dev inbox) unless
/// Twilio or CAMARA are configured.
fn phone_context(cfg: &config::Config) -> Result<vouch_server::phone::PhoneContext> {
    use vouch_phone::sms::{DevInbox, SmsSender};
    use vouch_phone::telco::Telco;
    let (sms, inbox): (Arc<dyn SmsSender>, Option<Arc<DevInbox>>) = match &cfg.phone.sms {
        config::SmsChoice::Dev => {
            let inbox = Arc::new(DevInbox::default());
            if !cfg.server.listen.ip().is_loopback() {
                tracing::warn!("dev SMS inbox on a non-loopback address: anyone who reaches /dev/sms reads the codes; configure an SMS provider for production");
            }
            (inbox.clone(), Some(inbox))
        }
        config::SmsChoice::Twilio(t) => (
            Arc::new(
                vouch_phone::twilio::TwilioClient::new(t.clone())
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            ),
            None,
        ),
    };
    let (telco, sandbox): (Arc<dyn Telco>, _) = match &cfg.phone.telco {
        config::TelcoChoice::Sandbox => {
            let s = Arc::new(vouch_phone::sandbox::Sandbox::default());
            (s.clone(), Some(s))
        }
        config::TelcoChoice::Camara(c) => (
            Arc::new(
                vouch_phone::camara::CamaraClient::new(c.clone())
                    .map_err(|e| anyhow::anyhow!("CAMARA: {e}"))?,
            ),
            None,
        ),
    };
    tracing::info!(sms = sms.name(), telco = telco.name(), "phone boundaries");
    Ok(
        vouch_server::phone::PhoneContext::new(telco, sandbox, sms, inbox)
            .with_region(cfg.phone.region),
    )
}

/// Reloads the TLS certificate on SIGHUP (the files are also watched for changes).
fn reload_on_sighup(certs: Arc<vouch_server::tls::Certificates>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            match certs.reload() {
                Ok(()) => tracing::info!("TLS certificate reloaded (SIGHUP)"),
                Err(e) => tracing::error!("TLS certificate not reloaded, the old one stays: {e}"),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = certs;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
