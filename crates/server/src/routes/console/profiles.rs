//! Verification profiles and alert rules: the lists with their create forms, creation
//! (validated as the identity API does) and deletion.

use super::{
    bad, filters, page, see_other, ConsoleError, FormData, Nav, PageResult, Shell, Signed,
};
use crate::routes::identity::ProfileBody;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use serde_json::Value;
use vouch_app::identity::NewAlertRule;
use vouch_store::biometrics::{AlertRule, Profile};

/// `profiles.html`.
#[derive(Template)]
#[template(path = "console/profiles.html")]
struct ProfilesPage {
    shell: Shell,
    /// Each profile with its configuration as indented JSON.
    rows: Vec<(Profile, String)>,
}

/// `alerts.html`.
#[derive(Template)]
#[template(path = "console/alerts.html")]
struct AlertsPage {
    shell: Shell,
    rules: Vec<AlertRule>,
}

/// The verification profiles, with the create form.
pub(super) async fn profiles(
    State(state): State<AppState>,
    Signed(caller): Signed,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let rows = state
        .app
        .identity
        .profiles(&caller.admin.org_id)
        .await?
        .into_iter()
        .map(|p| {
            let config = serde_json::to_string_pretty(&p.config).unwrap_or_default();
            (p, config)
        })
        .collect();
    let shell = Shell::new(&state, &caller, Nav::Profiles, "Verification profiles")
        .await?
        .with_notice(raw.as_deref());
    page(&ProfilesPage { shell, rows })
}

fn json_field(form: &FormData, name: &str, label: &str) -> Result<Option<Value>, ConsoleError> {
    form.text(name)
        .map(|t| serde_json::from_str(&t).map_err(|e| bad(format!("{label}: invalid JSON ({e})"))))
        .transpose()
}

/// Creates a profile (validated as the identity API does).
pub(super) async fn create_profile(
    State(state): State<AppState>,
    Signed(caller): Signed,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    let slug = form.text("slug").ok_or_else(|| bad("A slug is required"))?;
    let countries = form.text("allowed_countries").map(|c| {
        c.split(',')
            .map(|s| s.trim().to_ascii_uppercase())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    });
    let body = ProfileBody {
        name: form.text("name").unwrap_or_default(),
        slug: Some(slug.clone()),
        checks: json_field(&form, "checks", "Checks")?.unwrap_or(Value::Null),
        min_composite_score: form
            .text("min_composite_score")
            .map(|v| {
                v.parse::<f64>()
                    .map_err(|_| bad("The minimum composite score must be a number"))
            })
            .transpose()?,
        allowed_countries: countries,
        time_window: json_field(&form, "time_window", "Time window")?,
    };
    let config = body.config()?;
    state
        .app
        .identity
        .create_profile(
            &caller.admin.org_id,
            &slug,
            &body.name,
            &config,
            caller.audit("profile.created"),
        )
        .await?;
    Ok(see_other("/admin/profiles?done=created"))
}

/// Deletes a profile.
pub(super) async fn delete_profile(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path(id): Path<String>,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    state
        .app
        .identity
        .delete_profile(&caller.admin.org_id, &id, caller.audit("profile.deleted"))
        .await?;
    Ok(see_other("/admin/profiles?done=deleted"))
}

/// The alert rules, with the create form.
pub(super) async fn alerts(
    State(state): State<AppState>,
    Signed(caller): Signed,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let rules = state.app.identity.alert_rules(&caller.admin.org_id).await?;
    let shell = Shell::new(&state, &caller, Nav::Alerts, "Alert rules")
        .await?
        .with_notice(raw.as_deref());
    page(&AlertsPage { shell, rules })
}

/// Creates an alert rule.
pub(super) async fn create_alert(
    State(state): State<AppState>,
    Signed(caller): Signed,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    let rule = NewAlertRule {
        name: form.text("name").unwrap_or_default(),
        scope: form.text("scope").unwrap_or_default(),
        threshold: form.number("threshold", "Failures", 0)?,
        window_minutes: form.number("window_minutes", "Window", 0)?,
    };
    state
        .app
        .identity
        .create_alert_rule(
            &caller.admin.org_id,
            &rule,
            caller.audit("alert_rule.created"),
        )
        .await?;
    Ok(see_other("/admin/alerts?done=created"))
}

/// Deletes an alert rule.
pub(super) async fn delete_alert(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path(id): Path<String>,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    state
        .app
        .identity
        .delete_alert_rule(
            &caller.admin.org_id,
            &id,
            caller.audit("alert_rule.deleted"),
        )
        .await?;
    Ok(see_other("/admin/alerts?done=deleted"))
}
