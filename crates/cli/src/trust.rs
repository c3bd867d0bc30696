//! `vouch trust`: an organisation's trust list of digital ID issuers (IACA roots of
//! mobile driving licences, PID providers' CAs, or a pinned signer certificate), from PEM
//! files or bundles. Nothing is fetched: the operator brings the certificates
//! (docs/digital-id.md says where official lists are published).

use anyhow::{Context as _, Result};
use clap::Subcommand;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use vouch_app::trust::{expiry_warning, TrustList};
use vouch_core::ids::OrgId;
use vouch_core::model::{Actor, AuditRecord};
use vouch_core::now_millis;
use vouch_store::Store;

#[derive(Subcommand)]
pub enum TrustCmd {
    /// Add every certificate of PEM files or bundles; prints what was added.
    Add {
        #[arg(long)]
        org: String,
        /// A label for these certificates [default: the file name].
        #[arg(long)]
        name: Option<String>,
        /// PEM files (one or more certificates each).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// The trust list, with each certificate's expiry (warnings on stderr).
    List {
        #[arg(long)]
        org: String,
    },
    /// Remove a certificate by its id.
    Remove {
        #[arg(long)]
        org: String,
        #[arg(long)]
        id: String,
    },
}

fn audit(org: &OrgId, action: &str) -> AuditRecord {
    AuditRecord::new(Some(org), Actor::Cli, action)
}

pub async fn run(store: Arc<Store>, cmd: TrustCmd) -> Result<()> {
    let now = now_millis();
    let trust = TrustList::new(store.clone());
    match cmd {
        TrustCmd::Add { org, name, files } => {
            let org = OrgId::from_string(org);
            store.org(&org).await?;
            let mut added = Vec::new();
            for file in &files {
                let pem = std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?;
                let label = name.clone().unwrap_or_else(|| {
                    file.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "trust list".into())
                });
                let these = trust
                    .add_pem(
                        &org,
                        &label,
                        &pem,
                        || audit(&org, "trust_anchor.added"),
                        now,
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                for a in these {
                    if let Some(w) = &a.warning {
                        eprintln!("warning: {w}");
                    }
                    if !a.ca {
                        eprintln!(
                            "note: {} is not a CA certificate: it is trusted as a pinned signer",
                            a.anchor.subject
                        );
                    }
                    added.push(json!({
                        "id": a.anchor.id, "subject": a.anchor.subject,
                        "fingerprint": a.anchor.fingerprint,
                        "notAfter": vouch_core::rfc3339(a.anchor.not_after), "ca": a.ca,
                    }));
                }
            }
            eprintln!("added {} certificate(s)", added.len());
            println!("{}", json!(added));
        }
        TrustCmd::List { org } => {
            let org = OrgId::from_string(org);
            let mut out = Vec::new();
            for l in trust.list(&org, now).await? {
                if let Some(w) = &l.warning {
                    eprintln!("warning: {w}");
                }
                let a = &l.anchor;
                out.push(json!({
                    "id": a.id, "name": a.name, "subject": a.subject,
                    "fingerprint": a.fingerprint, "notAfter": vouch_core::rfc3339(a.not_after),
                    "expiresInDays": l.expires_in_days,
                }));
            }
            println!("{}", json!(out));
        }
        TrustCmd::Remove { org, id } => {
            let org = OrgId::from_string(org);
            trust
                .remove(&org, &id, audit(&org, "trust_anchor.removed"))
                .await?;
            eprintln!("removed {id}");
            println!("{}", json!({"removed": id}));
        }
    }
    Ok(())
}

/// Logs a warning for every trust-list certificate expired or expiring soon (at start).
pub async fn warn_expiring(store: &Store) -> Result<()> {
    let now = now_millis();
    for org in store.list_orgs().await? {
        for a in store.list_trust_anchors(&org.id).await? {
            if let Some(w) = expiry_warning(&a.subject, a.not_after, now) {
                tracing::warn!(org = %org.id, anchor = %a.id, "trust list: {w}");
            }
        }
    }
    Ok(())
}
