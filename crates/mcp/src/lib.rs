//! vouch's MCP server: three tools that let an AI agent ask for proof that a human is
//! present — `request_human_presence`, `get_presence_token`, `verify_presence_token` —
//! over the presence API of a vouch server (`/api/presence/*`), with a service token.
//!
//! Two transports: stdio (`vouch mcp`, configured by `VOUCH_BASE_URL` /
//! `VOUCH_SERVICE_TOKEN`, or the spec's `PROOF_BASE_URL` / `PROOF_SERVICE_TOKEN`), and
//! streamable HTTP at `/mcp` on the server itself, where the caller's own
//! `Authorization: Bearer vst_…` header is the service token.

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{schemars, tool, tool_handler, tool_router, RoleServer, ServerHandler};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// Where the tools send their requests.
#[derive(Debug, Clone)]
pub struct Config {
    /// The vouch server, e.g. `https://id.example.com`.
    pub base_url: String,
    /// The service token; none on the HTTP transport, which takes the caller's.
    pub service_token: Option<String>,
}

impl Config {
    /// From `VOUCH_BASE_URL` / `PROOF_BASE_URL` and `VOUCH_SERVICE_TOKEN` /
    /// `PROOF_SERVICE_TOKEN`.
    pub fn from_env() -> Result<Config, String> {
        let var = |a: &str, b: &str| std::env::var(a).or_else(|_| std::env::var(b)).ok();
        let base_url = var("VOUCH_BASE_URL", "PROOF_BASE_URL")
            .ok_or("set VOUCH_BASE_URL (or PROOF_BASE_URL) to the vouch server's URL")?;
        let service_token = var("VOUCH_SERVICE_TOKEN", "PROOF_SERVICE_TOKEN")
            .ok_or("set VOUCH_SERVICE_TOKEN (or PROOF_SERVICE_TOKEN) to a service token")?;
        Ok(Config {
            base_url: base_url.trim_end_matches('/').to_string(),
            service_token: Some(service_token),
        })
    }
}

/// The MCP server.
#[derive(Clone)]
pub struct VouchMcp {
    config: Config,
    http: reqwest::Client,
    #[allow(dead_code)] // read by the tool_handler macro
    tool_router: ToolRouter<Self>,
}

/// Arguments of `request_human_presence`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestPresence {
    /// What the human is asked to confirm presence for, shown to them (1-500 characters),
    /// e.g. "Authorize production deployment".
    pub purpose: String,
    /// Only the person enrolled with this e-mail may answer.
    pub email: Option<String>,
    /// A value to bind into the token for replay protection (echoed in its claims).
    pub nonce: Option<String>,
    /// Lifetime of the token once issued, 1-3600 seconds (default 300).
    pub ttl_seconds: Option<i64>,
    /// The organisation; default: the service token's own.
    pub org_id: Option<String>,
}

/// Arguments of `get_presence_token`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GetToken {
    /// The sessionId returned by request_human_presence.
    pub session_id: String,
    /// Seconds to wait for the human before answering with the current status
    /// (0-600, default 0: answer at once).
    pub wait_seconds: Option<u64>,
}

/// Arguments of `verify_presence_token`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyToken {
    /// The Human Presence Token (a JWT).
    pub token: String,
    /// The e-mail the token must name.
    pub expected_email: Option<String>,
    /// The nonce the token must carry.
    pub expected_nonce: Option<String>,
    /// The organisation it must be for; default: the service token's own.
    pub expected_org_id: Option<String>,
    /// Redeem it (a second redemption is refused: replay protection).
    pub redeem: Option<bool>,
}

fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

fn json_result(v: &Value) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(
        serde_json::to_string_pretty(v).unwrap_or_default(),
    )])
}

impl VouchMcp {
    /// A server over a vouch instance.
    pub fn new(config: Config) -> VouchMcp {
        VouchMcp {
            config,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            tool_router: Self::tool_router(),
        }
    }

    /// The service token: the configured one, or the HTTP caller's bearer token.
    fn token(&self, ctx: &RequestContext<RoleServer>) -> Result<String, CallToolResult> {
        if let Some(t) = &self.config.service_token {
            return Ok(t.clone());
        }
        ctx.extensions
            .get::<http::request::Parts>()
            .and_then(|p| p.headers.get(http::header::AUTHORIZATION))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string())
            .ok_or_else(|| tool_error("send Authorization: Bearer <service token>"))
    }

    async fn call(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), CallToolResult> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.config.base_url))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| {
            tool_error(format!(
                "cannot reach vouch at {}: {e}",
                self.config.base_url
            ))
        })?;
        let status = resp.status().as_u16();
        let v = resp.json().await.unwrap_or(Value::Null);
        Ok((status, v))
    }

    async fn own_org(&self, token: &str) -> Result<String, CallToolResult> {
        let (status, v) = self
            .call(token, reqwest::Method::GET, "/api/v1/whoami", None)
            .await?;
        if status != 200 {
            return Err(tool_error(format!(
                "vouch refused the service token ({status}): {v}"
            )));
        }
        v.get("orgId")
            .or_else(|| v.get("org_id"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| tool_error("vouch did not say which organisation the token is for"))
    }
}

#[tool_router]
impl VouchMcp {
    /// Starts a presence check.
    #[tool(
        description = "Ask a human to prove they are present: creates a presence session and returns a one-time verifyUrl to send them (by chat, e-mail…). They open it, consent and take a live selfie that is matched against the organisation's enrolled people. Then call get_presence_token with the sessionId."
    )]
    async fn request_human_presence(
        &self,
        Parameters(a): Parameters<RequestPresence>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let token = match self.token(&ctx) {
            Ok(t) => t,
            Err(e) => return e,
        };
        let org = match a.org_id {
            Some(o) => o,
            None => match self.own_org(&token).await {
                Ok(o) => o,
                Err(e) => return e,
            },
        };
        let mut body = json!({"orgId": org, "purpose": a.purpose});
        if let Some(e) = a.email {
            body["email"] = json!(e);
        }
        if let Some(n) = a.nonce {
            body["nonce"] = json!(n);
        }
        if let Some(t) = a.ttl_seconds {
            body["ttlSeconds"] = json!(t);
        }
        match self
            .call(
                &token,
                reqwest::Method::POST,
                "/api/presence/sessions",
                Some(body),
            )
            .await
        {
            Ok((201, v)) => json_result(&v),
            Ok((status, v)) => tool_error(format!("vouch answered {status}: {v}")),
            Err(e) => e,
        }
    }

    /// Fetches the token once the human is verified.
    #[tool(
        description = "Get the Human Presence Token of a presence session once the human has been verified. Returns {status, token, jti, verifiedEmail, verifiedAt} when VERIFIED; otherwise the status (PENDING, EXPIRED, CANCELLED). waitSeconds polls every 2 s up to that long."
    )]
    async fn get_presence_token(
        &self,
        Parameters(a): Parameters<GetToken>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let token = match self.token(&ctx) {
            Ok(t) => t,
            Err(e) => return e,
        };
        let id: String = a
            .session_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(a.wait_seconds.unwrap_or(0).min(600));
        loop {
            let (status, s) = match self
                .call(
                    &token,
                    reqwest::Method::GET,
                    &format!("/api/presence/sessions/{id}"),
                    None,
                )
                .await
            {
                Ok(r) => r,
                Err(e) => return e,
            };
            if status != 200 {
                return tool_error(format!("vouch answered {status}: {s}"));
            }
            if s["status"] == "VERIFIED" {
                return match self
                    .call(
                        &token,
                        reqwest::Method::GET,
                        &format!("/api/presence/sessions/{id}/token"),
                        None,
                    )
                    .await
                {
                    Ok((200, mut t)) => {
                        t["status"] = json!("VERIFIED");
                        json_result(&t)
                    }
                    Ok((status, v)) => tool_error(format!("vouch answered {status}: {v}")),
                    Err(e) => e,
                };
            }
            if s["status"] != "PENDING" || tokio::time::Instant::now() >= deadline {
                return json_result(&json!({"status": s["status"], "sessionId": id}));
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }

    /// Checks a token.
    #[tool(
        description = "Validate a Human Presence Token: signature, expiry, organisation, and optionally the e-mail and nonce expected. Returns the claims ({valid: true, sub, userId, sessionId, purpose, checks, issuedAt, expiresAt}) or {valid: false, error}. redeem: accept the token only once."
    )]
    async fn verify_presence_token(
        &self,
        Parameters(a): Parameters<VerifyToken>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let token = match self.token(&ctx) {
            Ok(t) => t,
            Err(e) => return e,
        };
        let org = match a.expected_org_id {
            Some(o) => o,
            None => match self.own_org(&token).await {
                Ok(o) => o,
                Err(e) => return e,
            },
        };
        let body = json!({
            "token": a.token, "expectedOrgId": org, "expectedEmail": a.expected_email,
            "expectedNonce": a.expected_nonce, "redeem": a.redeem.unwrap_or(false),
        });
        match self
            .call(
                &token,
                reqwest::Method::POST,
                "/api/presence/verify-token",
                Some(body),
            )
            .await
        {
            Ok((200, v)) => json_result(&v),
            Ok((status, v)) => tool_error(format!("vouch answered {status}: {v}")),
            Err(e) => e,
        }
    }
}

#[tool_handler]
impl ServerHandler for VouchMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// Serves over stdio until the client closes it.
pub async fn serve_stdio(config: Config) -> Result<(), String> {
    use rmcp::ServiceExt;
    let running = VouchMcp::new(config)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| e.to_string())?;
    running.waiting().await.map_err(|e| e.to_string())?;
    Ok(())
}

/// The streamable HTTP service to nest at `/mcp` (each caller's bearer token is its
/// service token).
pub fn http_service(
    base_url: String,
) -> rmcp::transport::streamable_http_server::StreamableHttpService<
    VouchMcp,
    rmcp::transport::streamable_http_server::session::local::LocalSessionManager,
> {
    let config = Config {
        base_url: base_url.trim_end_matches('/').to_string(),
        service_token: None,
    };
    rmcp::transport::streamable_http_server::StreamableHttpService::new(
        move || Ok(VouchMcp::new(config.clone())),
        Default::default(),
        Default::default(),
    )
}
