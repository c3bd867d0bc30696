//! `vouch trust`: an organisation's trust list of digital ID issuers (IACA roots of
//! mobile driving licences, PID providers' CAs, or a pinned signer certificate), from PEM
//! files or bundles. Nothing is fetched: the operator brings the certificates
//! (docs/digital-id.md says where official lists are published).

use anyhow::{bail, Context as _, Result};
use clap::Subcommand;
use serde_json::json;
use std::path::PathBuf;
use vouch_core::ids::OrgId;
use vouch_core::model::{Actor, AuditRecord};
use vouch_core::now_millis;
use vouch_digitalid::x509::Cert;
use vouch_store::digital_id::NewTrustAnchor;
use vouch_store::Store;

/// A certificate expiring within this many days is warned about.
pub const EXPIRY_WARNING_DAYS: i64 = 30;
const DAY_MS: i64 = 24 * 3600 * 1000;

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

/// A warning for a certificate expired or expiring soon, if it is.
pub fn expiry_warning(subject: &str, not_after: i64, now: i64) -> Option<String> {
    let days = (not_after - now).div_euclid(DAY_MS);
    if not_after < now {
        Some(format!(
            "{subject} has expired: presentations it signed are refused"
        ))
    } else if days < EXPIRY_WARNING_DAYS {
        Some(format!(
            "{subject} expires in {days} days: add its successor"
        ))
    } else {
        None
    }
}

fn audit(org: &OrgId, action: &str) -> AuditRecord {
    AuditRecord::new(Some(org), Actor::Cli, action)
}

pub async fn run(store: &Store, cmd: TrustCmd) -> Result<()> {
    let now = now_millis();
    match cmd {
        TrustCmd::Add { org, name, files } => {
            let org = OrgId::from_string(org);
            store.org(&org).await?;
            let mut added = Vec::new();
            for file in &files {
                let pem = std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?;
                let certs = Cert::from_pem_bundle(&pem)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                let label = name.clone().unwrap_or_else(|| {
                    file.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "trust list".into())
                });
                for cert in certs {
                    if let Err(e) = cert.public_key() {
                        bail!("{}: {}: {e}", file.display(), cert.subject());
                    }
                    let a = store
                        .add_trust_anchor(
                            &org,
                            &NewTrustAnchor {
                                name: &label,
                                subject: &cert.subject(),
                                fingerprint: &cert.fingerprint(),
                                pem: &cert.to_pem(),
                                not_after: cert.not_after(),
                            },
                            audit(&org, "trust_anchor.added"),
                        )
                        .await?;
                    if let Some(w) = expiry_warning(&a.subject, a.not_after, now) {
                        eprintln!("warning: {w}");
                    }
                    if !cert.is_ca() {
                        eprintln!(
                            "note: {} is not a CA certificate: it is trusted as a pinned signer",
                            a.subject
                        );
                    }
                    added.push(json!({
                        "id": a.id, "subject": a.subject, "fingerprint": a.fingerprint,
                        "notAfter": vouch_core::rfc3339(a.not_after), "ca": cert.is_ca(),
                    }));
                }
            }
            eprintln!("added {} certificate(s)", added.len());
            println!("{}", json!(added));
        }
        TrustCmd::List { org } => {
            let org = OrgId::from_string(org);
            let list = store.list_trust_anchors(&org).await?;
            let mut out = Vec::new();
            for a in &list {
                if let Some(w) = expiry_warning(&a.subject, a.not_after, now) {
                    eprintln!("warning: {w}");
                }
                out.push(json!({
                    "id": a.id, "name": a.name, "subject": a.subject,
                    "fingerprint": a.fingerprint, "notAfter": vouch_core::rfc3339(a.not_after),
                    "expiresInDays": (a.not_after - now).div_euclid(DAY_MS),
                }));
            }
            println!("{}", json!(out));
        }
        TrustCmd::Remove { org, id } => {
            let org = OrgId::from_string(org);
            store
                .remove_trust_anchor(&org, &id, audit(&org, "trust_anchor.removed"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_warnings_start_thirty_days_ahead() {
        let now = 1_000 * DAY_MS;
        assert!(expiry_warning("CN=a", now + 31 * DAY_MS, now).is_none());
        assert!(expiry_warning("CN=a", now + 29 * DAY_MS, now)
            .is_some_and(|w| w.contains("expires in 29 days")));
        assert!(expiry_warning("CN=a", now - 1, now).is_some_and(|w| w.contains("has expired")));
    }
}
