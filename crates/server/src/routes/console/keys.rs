//! API keys: the list (prefixes only) with the create form, a new key's secrets shown
//! once, rotation and revocation.

use super::{
    bad, filters, page, see_other, ConsoleError, FormData, Nav, PageResult, Shell, Signed,
};
use crate::admin::AdminCaller;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use vouch_core::check::{Check, Thresholds};
use vouch_core::ids::KeyId;
use vouch_core::model::{ApiKey, Branding, KeySettings};
use vouch_core::{now_millis, Millis};
use vouch_store::tenancy::NewApiKey;

/// `keys.html`.
#[derive(Template)]
#[template(path = "console/keys.html")]
struct KeysPage {
    shell: Shell,
    /// Each key with its status (`ACTIVE`, `EXPIRED`, `REVOKED`).
    rows: Vec<(ApiKey, &'static str)>,
    /// The checks offered by the create form (the defaults checked).
    checks: &'static [Check],
    /// The claims a digital ID check may ask for, each with whether it is a default.
    claims: Vec<(&'static str, bool)>,
    /// The create form's defaults.
    defaults: KeySettings,
}

/// `new_key.html`.
#[derive(Template)]
#[template(path = "console/new_key.html")]
struct NewKeyPage<'a> {
    shell: Shell,
    name: &'a str,
    id: &'a str,
    secret: &'a str,
    webhook_secret: &'a str,
    /// The key it replaces (a rotation).
    replaced: Option<&'a str>,
}

fn key_status(k: &ApiKey, now: Millis) -> &'static str {
    if k.revoked_at.is_some() {
        "REVOKED"
    } else if k.is_active(now) {
        "ACTIVE"
    } else {
        "EXPIRED"
    }
}

/// The organisation's API keys, with the create form.
pub(super) async fn keys(
    State(state): State<AppState>,
    Signed(caller): Signed,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let list = state.app.keys.list(&caller.admin.org_id).await?;
    let now = now_millis();
    let rows = list
        .into_iter()
        .map(|k| {
            let status = key_status(&k, now);
            (k, status)
        })
        .collect();
    let shell = Shell::new(&state, &caller, Nav::Keys, "API keys")
        .await?
        .with_notice(raw.as_deref());
    page(&KeysPage {
        shell,
        rows,
        checks: &Check::EVERY,
        claims: vouch_core::model::DIGITAL_ID_CLAIMS
            .iter()
            .map(|c| {
                (
                    *c,
                    KeySettings::default()
                        .digital_id_claims
                        .iter()
                        .any(|d| d == c),
                )
            })
            .collect(),
        defaults: KeySettings::default(),
    })
}

fn key_settings(form: &FormData) -> Result<KeySettings, ConsoleError> {
    let d = KeySettings::default();
    let mut checks = Vec::new();
    for name in form.all("checks") {
        let c = Check::parse(name).ok_or_else(|| bad(format!("Unknown check {name:?}")))?;
        if !checks.contains(&c) {
            checks.push(c);
        }
    }
    if checks.is_empty() {
        return Err(bad("Choose at least one check"));
    }
    let ttl_minutes: u32 = form.number(
        "session_ttl_minutes",
        "Session lifetime",
        d.session_ttl_secs / 60,
    )?;
    let settings = KeySettings {
        checks,
        thresholds: Thresholds {
            liveness: form.number("liveness", "Liveness threshold", d.thresholds.liveness)?,
            face_match: form.number(
                "face_match",
                "Face match threshold",
                d.thresholds.face_match,
            )?,
            min_age: form.number("min_age", "Minimum age", d.thresholds.min_age)?,
        },
        rate_limit: form.number("rate_limit", "Requests a minute", d.rate_limit)?,
        webhook_url: form.text("webhook_url"),
        branding: Branding {
            display_name: form.text("display_name"),
            logo_url: form.text("logo_url"),
            accent_color: form.text("accent_color"),
        },
        expires_at: None,
        digital_id_claims: {
            let named: Vec<String> = form.all("digital_id_claims").map(String::from).collect();
            if named.is_empty() {
                d.digital_id_claims.clone()
            } else {
                named
            }
        },
        session_ttl_secs: ttl_minutes.saturating_mul(60),
        image_retention_days: form.number(
            "image_retention_days",
            "Image retention",
            d.image_retention_days,
        )?,
    };
    settings.validate()?;
    Ok(settings)
}

/// The page that shows a new key's secrets, once.
async fn new_key_page(
    state: &AppState,
    caller: &AdminCaller,
    created: &NewApiKey,
    replaced: Option<&KeyId>,
) -> PageResult {
    page(&NewKeyPage {
        shell: Shell::new(state, caller, Nav::Keys, "New API key").await?,
        name: &created.key.name,
        id: created.key.id.as_str(),
        secret: &created.secret,
        webhook_secret: &created.webhook_secret,
        replaced: replaced.map(KeyId::as_str),
    })
}

/// Creates a key and shows its secret once.
pub(super) async fn create_key(
    State(state): State<AppState>,
    Signed(caller): Signed,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    let name = form.text("name").ok_or_else(|| bad("A name is required"))?;
    let settings = key_settings(&form)?;
    let created = state
        .app
        .keys
        .create(
            &caller.admin.org_id,
            &name,
            settings,
            caller.audit("api_key.created"),
        )
        .await?;
    new_key_page(&state, &caller, &created, None).await
}

/// Rotates a key: a replacement with the same name and settings, then the old revoked.
pub(super) async fn rotate_key(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path(id): Path<String>,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    let (old, created) = state
        .app
        .keys
        .rotate(&caller.admin.org_id, &KeyId::from_string(id), |action| {
            caller.audit(action)
        })
        .await?;
    new_key_page(&state, &caller, &created, Some(&old.id)).await
}

/// Revokes a key.
pub(super) async fn revoke_key(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path(id): Path<String>,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    state
        .app
        .keys
        .revoke(
            &caller.admin.org_id,
            &KeyId::from_string(id),
            caller.audit("api_key.revoked"),
        )
        .await?;
    Ok(see_other("/admin/keys?done=revoked"))
}
