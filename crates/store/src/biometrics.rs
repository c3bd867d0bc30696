//! Biometric identity (1:N): enrolled face templates (sealed), verification profiles, the
//! results of every verification (which the history checks read: last location, past
//! templates) and the devices a person verified from.

use crate::audit::append_in_tx;
use crate::crypto::Slot;
use crate::db::{db_err, Store};
use crate::outbox::Outbound;
use serde_json::Value;
use sqlx::Row;
use vouch_core::event::Dialect;
use vouch_core::ids::{AlertRuleId, IdentityCheckId, KeyId, OrgId, PersonId, ProfileId};
use vouch_core::model::{AuditRecord, KeySettings, PersonData};
use vouch_core::{now_millis, Error, Millis, Result};

/// One template, opened.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Load order within the organisation.
    pub seq: i64,
    /// Whose.
    pub person_id: PersonId,
    /// The L2-normalised embedding.
    pub embedding: Vec<f32>,
}

/// A verification profile.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// Its id.
    pub id: ProfileId,
    /// Its slug, unique in the organisation.
    pub slug: String,
    /// Its name.
    pub name: String,
    /// The configuration (`vouch_core::identity::ProfileConfig` as JSON).
    pub config: Value,
    /// When it was created.
    pub created_at: Millis,
    /// When it last changed.
    pub updated_at: Millis,
}

/// Event: an identity was matched and passed its checks.
pub const VERIFICATION_SUCCESS: &str = "verification.success";
/// Event: a verification attempt failed (no match, or the pipeline failed).
pub const VERIFICATION_FAILURE: &str = "verification.failure";
/// Event: a face was enrolled.
pub const USER_ENROLLED: &str = "user.enrolled";
/// Event: an alert rule's threshold was reached.
pub const ALERT_TRIGGERED: &str = "alert.triggered";

/// An alert rule: `threshold` failed verifications of one person (`scope` = `person`) or
/// one device (`device`) within `window_minutes`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertRule {
    /// Its id.
    pub id: AlertRuleId,
    /// Its name.
    pub name: String,
    /// `person` or `device`.
    pub scope: String,
    /// Failures that fire it.
    pub threshold: i64,
    /// The window, minutes.
    pub window_minutes: i64,
    /// When it was made.
    pub created_at: Millis,
}

/// What one verification recorded.
#[derive(Debug, Clone)]
pub struct IdentityCheckRecord {
    /// The API key that asked (its webhook URL gets the event).
    pub key_id: KeyId,
    /// The person matched, if any.
    pub person_id: Option<PersonId>,
    /// The outcome.
    pub verified: bool,
    /// The composite score.
    pub composite: f64,
    /// The check results (JSON array).
    pub results: Value,
    /// The profile used.
    pub profile_id: Option<ProfileId>,
    /// The device fingerprint.
    pub device: Option<String>,
    /// Where, when known.
    pub location: Option<(f64, f64)>,
    /// Why it failed.
    pub reason: Option<String>,
    /// The probe's embedding, kept in the person's history when verified (not in the
    /// 1:N index), in the same transaction.
    pub probe: Option<Vec<f32>>,
}

fn template_slot(org: &str) -> Slot<'_> {
    Slot {
        table: "face_templates",
        column: "sealed",
        row: org,
    }
}

fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_bytes(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn profile_from_row(r: &sqlx::any::AnyRow) -> Result<Profile> {
    let config: String = r.try_get("config").map_err(db_err)?;
    Ok(Profile {
        id: ProfileId::from_string(r.try_get::<String, _>("id").map_err(db_err)?),
        slug: r.try_get("slug").map_err(db_err)?,
        name: r.try_get("name").map_err(db_err)?,
        config: serde_json::from_str(&config)
            .map_err(|e| Error::Internal(format!("profile JSON: {e}")))?,
        created_at: r.try_get("created_at").map_err(db_err)?,
        updated_at: r.try_get("updated_at").map_err(db_err)?,
    })
}

/// Checks a profile slug: 1–64 of a–z, 0–9 and `-`.
pub fn validate_slug(slug: &str) -> Result<()> {
    if slug.is_empty()
        || slug.len() > 64
        || !slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(Error::Invalid(
            "slug must be 1 to 64 characters of a-z, 0-9 and -".into(),
        ));
    }
    Ok(())
}

impl Store {
    /// Queues a biometric identity event in the spec's envelope (`{event, orgId,
    /// timestamp, data}`, signed with `x-proof-signature`) to the key's webhook URL.
    pub(crate) async fn enqueue_identity_event(
        &self,
        tx: &mut crate::db::WriteTx,
        org: &OrgId,
        key: &KeyId,
        event: &str,
        data: Value,
    ) -> Result<()> {
        let row = sqlx::query(&self.sql(
            "SELECT settings, webhook_disabled_at FROM api_keys WHERE id = $1 AND org_id = $2",
        ))
        .bind(key.as_str())
        .bind(org.as_str())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err)?;
        let mut outbound = Vec::new();
        if let Some(row) = row {
            let settings: KeySettings =
                serde_json::from_str(&row.try_get::<String, _>("settings").map_err(db_err)?)
                    .map_err(|e| Error::Internal(format!("key settings: {e}")))?;
            let disabled: Option<Millis> = row.try_get("webhook_disabled_at").map_err(db_err)?;
            if let (Some(url), None) = (settings.webhook_url, disabled) {
                let body = serde_json::json!({
                    "event": event,
                    "orgId": org,
                    "timestamp": vouch_core::rfc3339(now_millis()),
                    "data": data,
                });
                outbound.push(Outbound {
                    key_id: key.clone(),
                    url,
                    dialect: Dialect::Proof,
                    body: vouch_core::webhook::wire_json(&body).into_bytes(),
                });
            }
        }
        self.enqueue_in_tx(tx, org, event, &outbound).await?;
        Ok(())
    }

    /// Enrols a face template for the person with this e-mail in the organisation,
    /// creating the person (e-mail sealed, blind-indexed) on first enrolment; `key`'s
    /// webhook gets `user.enrolled`. Returns the person and whether it was created.
    pub async fn enroll_template(
        &self,
        org: &OrgId,
        key: Option<&KeyId>,
        email: &str,
        embedding: &[f32],
        audit: AuditRecord,
    ) -> Result<(PersonId, bool)> {
        let existing = self.find_people_by_email(org, email).await?;
        let (person, created) = match existing.into_iter().next() {
            Some(p) => (p.id, false),
            None => {
                let data = PersonData {
                    email: Some(email.trim().to_lowercase()),
                    ..Default::default()
                };
                (self.create_person(org, None, &data).await?.id, true)
            }
        };
        let event = key.map(|k| (k, serde_json::json!({"userId": person, "newUser": created})));
        self.add_template_with(org, &person, embedding, "enroll", Some(audit), event)
            .await?;
        Ok((person, created))
    }

    /// Adds a template to a person (`source`: `enroll`, or `verify` for an accepted probe
    /// kept for the history check).
    pub async fn add_template(
        &self,
        org: &OrgId,
        person: &PersonId,
        embedding: &[f32],
        source: &str,
        audit: Option<AuditRecord>,
    ) -> Result<()> {
        self.add_template_with(org, person, embedding, source, audit, None)
            .await
    }

    async fn add_template_with(
        &self,
        org: &OrgId,
        person: &PersonId,
        embedding: &[f32],
        source: &str,
        audit: Option<AuditRecord>,
        enrolled: Option<(&KeyId, Value)>,
    ) -> Result<()> {
        let sealed = self.seal(template_slot(org.as_str()), &to_bytes(embedding))?;
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "INSERT INTO face_templates (org_id, person_id, sealed, source, created_at) VALUES ($1, $2, $3, $4, $5)",
        ))
        .bind(org.as_str())
        .bind(person.as_str())
        .bind(sealed)
        .bind(source)
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(a) = audit {
            append_in_tx(
                self,
                &mut tx,
                &a.in_org(org)
                    .target(person)
                    .details(serde_json::json!({"source": source})),
            )
            .await?;
        }
        if let Some((key, data)) = enrolled {
            self.enqueue_identity_event(&mut tx, org, key, USER_ENROLLED, data)
                .await?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn open_templates(
        &self,
        org: &OrgId,
        rows: Vec<sqlx::any::AnyRow>,
    ) -> Result<Vec<Template>> {
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let sealed: Vec<u8> = r.try_get("sealed").map_err(db_err)?;
            let plain = self
                .open_sealed(template_slot(org.as_str()), &sealed)
                .await?;
            out.push(Template {
                seq: r.try_get("seq").map_err(db_err)?,
                person_id: PersonId::from_string(
                    r.try_get::<String, _>("person_id").map_err(db_err)?,
                ),
                embedding: from_bytes(&plain),
            });
        }
        Ok(out)
    }

    /// Up to `limit` enrolled templates of an organisation added after `seq` (0: from the
    /// first), in order.
    pub async fn templates_since(
        &self,
        org: &OrgId,
        seq: i64,
        limit: i64,
    ) -> Result<Vec<Template>> {
        let rows = sqlx::query(&self.sql(
            "SELECT seq, person_id, sealed FROM face_templates WHERE org_id = $1 AND seq > $2 \
             AND source = 'enroll' ORDER BY seq LIMIT $3",
        ))
        .bind(org.as_str())
        .bind(seq)
        .bind(limit)
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        self.open_templates(org, rows).await
    }

    /// Every template of a person (enrolled and kept probes), newest last, at most `limit`.
    pub async fn person_templates(
        &self,
        org: &OrgId,
        person: &PersonId,
        limit: i64,
    ) -> Result<Vec<Template>> {
        let rows = sqlx::query(&self.sql(
            "SELECT seq, person_id, sealed FROM face_templates WHERE org_id = $1 AND person_id = $2 \
             ORDER BY seq DESC LIMIT $3",
        ))
        .bind(org.as_str())
        .bind(person.as_str())
        .bind(limit)
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        let mut t = self.open_templates(org, rows).await?;
        t.reverse();
        Ok(t)
    }

    /// Adds `count` random unit templates to a synthetic person of the organisation, for
    /// benchmarks of 1:N search at scale (a search costs the same whatever the faces);
    /// returns the person. Never use on an organisation with real users.
    pub async fn seed_synthetic_templates(
        &self,
        org: &OrgId,
        count: usize,
        seed: u64,
    ) -> Result<PersonId> {
        use rand::{Rng, SeedableRng};
        let data = PersonData {
            email: Some(format!("synthetic-{seed}@bench.invalid")),
            ..Default::default()
        };
        let person = self.create_person(org, Some("synthetic"), &data).await?.id;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let now = now_millis();
        for chunk in (0..count).collect::<Vec<_>>().chunks(500) {
            let mut tx = self.begin_write().await?;
            for _ in chunk {
                let mut v: Vec<f32> = (0..192).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
                let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                v.iter_mut().for_each(|x| *x /= n);
                let sealed = self.seal(template_slot(org.as_str()), &to_bytes(&v))?;
                sqlx::query(&self.sql(
                    "INSERT INTO face_templates (org_id, person_id, sealed, source, created_at) VALUES ($1, $2, $3, 'enroll', $4)",
                ))
                .bind(org.as_str())
                .bind(person.as_str())
                .bind(sealed)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)?;
        }
        Ok(person)
    }

    /// Records a verification, and on success the device it came from; returns its id.
    pub async fn record_identity_check(
        &self,
        org: &OrgId,
        rec: &IdentityCheckRecord,
    ) -> Result<IdentityCheckId> {
        let id = IdentityCheckId::generate();
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "INSERT INTO identity_checks (id, org_id, person_id, verified, composite, results, profile_id, device, \
             latitude, longitude, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        ))
        .bind(id.as_str())
        .bind(org.as_str())
        .bind(rec.person_id.as_ref().map(|p| p.as_str().to_string()))
        .bind(i64::from(rec.verified))
        .bind(rec.composite)
        .bind(rec.results.to_string())
        .bind(rec.profile_id.as_ref().map(|p| p.as_str().to_string()))
        .bind(rec.device.clone())
        .bind(rec.location.map(|l| l.0))
        .bind(rec.location.map(|l| l.1))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if let (true, Some(person), Some(probe)) = (rec.verified, &rec.person_id, &rec.probe) {
            let sealed = self.seal(template_slot(org.as_str()), &to_bytes(probe))?;
            sqlx::query(&self.sql(
                "INSERT INTO face_templates (org_id, person_id, sealed, source, created_at) VALUES ($1, $2, $3, 'verify', $4)",
            ))
            .bind(org.as_str())
            .bind(person.as_str())
            .bind(sealed)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        if let (true, Some(person), Some(device)) = (rec.verified, &rec.person_id, &rec.device) {
            sqlx::query(&self.sql(
                "INSERT INTO known_devices (org_id, person_id, fingerprint, first_seen, last_seen) \
                 VALUES ($1, $2, $3, $4, $4) ON CONFLICT (org_id, person_id, fingerprint) \
                 DO UPDATE SET last_seen = excluded.last_seen",
            ))
            .bind(org.as_str())
            .bind(person.as_str())
            .bind(device)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let (event, data) = if rec.verified {
            (
                VERIFICATION_SUCCESS,
                serde_json::json!({"verificationId": id, "userId": rec.person_id,
                    "compositeScore": rec.composite, "checkResults": rec.results}),
            )
        } else {
            (
                VERIFICATION_FAILURE,
                serde_json::json!({"verificationId": id, "userId": rec.person_id,
                    "reason": rec.reason, "compositeScore": rec.composite,
                    "checkResults": rec.results}),
            )
        };
        self.enqueue_identity_event(&mut tx, org, &rec.key_id, event, data)
            .await?;
        if !rec.verified {
            self.fire_alerts(&mut tx, org, rec, now).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(id)
    }

    /// After a failure: each rule whose count of failures for this person or device in
    /// its window has just reached its threshold fires `alert.triggered` (once per
    /// crossing).
    async fn fire_alerts(
        &self,
        tx: &mut crate::db::WriteTx,
        org: &OrgId,
        rec: &IdentityCheckRecord,
        now: Millis,
    ) -> Result<()> {
        let rules = sqlx::query(&self.sql(
            "SELECT id, name, scope, threshold, window_minutes FROM alert_rules WHERE org_id = $1",
        ))
        .bind(org.as_str())
        .fetch_all(&mut **tx)
        .await
        .map_err(db_err)?;
        for r in rules {
            let scope: String = r.try_get("scope").map_err(db_err)?;
            let threshold: i64 = r.try_get("threshold").map_err(db_err)?;
            let window: i64 = r.try_get("window_minutes").map_err(db_err)?;
            let (column, subject) = match scope.as_str() {
                "person" => ("person_id", rec.person_id.as_ref().map(|p| p.to_string())),
                _ => ("device", rec.device.clone()),
            };
            let Some(subject) = subject else { continue };
            let q = format!(
                "SELECT COUNT(*) AS n FROM identity_checks WHERE org_id = $1 AND {column} = $2 \
                 AND verified = 0 AND created_at >= $3"
            );
            let n: i64 = sqlx::query(&self.sql(&q))
                .bind(org.as_str())
                .bind(&subject)
                .bind(now - window * 60_000)
                .fetch_one(&mut **tx)
                .await
                .map_err(db_err)?
                .try_get("n")
                .map_err(db_err)?;
            if n == threshold {
                let rule: String = r.try_get("id").map_err(db_err)?;
                let name: String = r.try_get("name").map_err(db_err)?;
                let data = serde_json::json!({
                    "ruleId": rule, "name": name, "scope": scope, "subject": subject,
                    "failures": n, "windowMinutes": window,
                });
                self.enqueue_identity_event(tx, org, &rec.key_id, ALERT_TRIGGERED, data)
                    .await?;
            }
        }
        Ok(())
    }

    /// Creates an alert rule.
    pub async fn create_alert_rule(
        &self,
        org: &OrgId,
        name: &str,
        scope: &str,
        threshold: i64,
        window_minutes: i64,
        audit: AuditRecord,
    ) -> Result<AlertRule> {
        if name.trim().is_empty() || name.chars().count() > 100 {
            return Err(Error::Invalid("name must be 1 to 100 characters".into()));
        }
        if scope != "person" && scope != "device" {
            return Err(Error::Invalid("scope must be person or device".into()));
        }
        if !(1..=1000).contains(&threshold) || !(1..=10_080).contains(&window_minutes) {
            return Err(Error::Invalid(
                "threshold must be 1 to 1000 and windowMinutes 1 to 10080".into(),
            ));
        }
        let rule = AlertRule {
            id: AlertRuleId::generate(),
            name: name.trim().into(),
            scope: scope.into(),
            threshold,
            window_minutes,
            created_at: now_millis(),
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "INSERT INTO alert_rules (id, org_id, name, scope, threshold, window_minutes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        ))
        .bind(rule.id.as_str())
        .bind(org.as_str())
        .bind(&rule.name)
        .bind(&rule.scope)
        .bind(threshold)
        .bind(window_minutes)
        .bind(rule.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        append_in_tx(self, &mut tx, &audit.in_org(org).target(&rule.id)).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(rule)
    }

    /// The organisation's alert rules.
    pub async fn list_alert_rules(&self, org: &OrgId) -> Result<Vec<AlertRule>> {
        let rows = sqlx::query(
            &self.sql("SELECT * FROM alert_rules WHERE org_id = $1 ORDER BY created_at"),
        )
        .bind(org.as_str())
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(AlertRule {
                    id: AlertRuleId::from_string(r.try_get::<String, _>("id").map_err(db_err)?),
                    name: r.try_get("name").map_err(db_err)?,
                    scope: r.try_get("scope").map_err(db_err)?,
                    threshold: r.try_get("threshold").map_err(db_err)?,
                    window_minutes: r.try_get("window_minutes").map_err(db_err)?,
                    created_at: r.try_get("created_at").map_err(db_err)?,
                })
            })
            .collect()
    }

    /// Deletes an alert rule.
    pub async fn delete_alert_rule(&self, org: &OrgId, id: &str, audit: AuditRecord) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(&self.sql("DELETE FROM alert_rules WHERE id = $1 AND org_id = $2"))
            .bind(id)
            .bind(org.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("alert rule"));
        }
        append_in_tx(self, &mut tx, &audit.in_org(org).target(id)).await?;
        tx.commit().await.map_err(db_err)
    }

    /// Where and when a person last verified successfully with a known location.
    pub async fn last_verified_location(
        &self,
        org: &OrgId,
        person: &PersonId,
    ) -> Result<Option<((f64, f64), Millis)>> {
        let row = sqlx::query(&self.sql(
            "SELECT latitude, longitude, created_at FROM identity_checks WHERE org_id = $1 AND person_id = $2 \
             AND verified = 1 AND latitude IS NOT NULL ORDER BY created_at DESC LIMIT 1",
        ))
        .bind(org.as_str())
        .bind(person.as_str())
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok((
                (
                    r.try_get::<f64, _>("latitude").map_err(db_err)?,
                    r.try_get::<f64, _>("longitude").map_err(db_err)?,
                ),
                r.try_get::<i64, _>("created_at").map_err(db_err)?,
            ))
        })
        .transpose()
    }

    /// Whether a person verified from this device before.
    pub async fn known_device(&self, org: &OrgId, person: &PersonId, fp: &str) -> Result<bool> {
        let row = sqlx::query(&self.sql(
            "SELECT 1 AS one FROM known_devices WHERE org_id = $1 AND person_id = $2 AND fingerprint = $3",
        ))
        .bind(org.as_str())
        .bind(person.as_str())
        .bind(fp)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        Ok(row.is_some())
    }

    /// Creates a profile (config validated by the caller).
    pub async fn create_profile(
        &self,
        org: &OrgId,
        slug: &str,
        name: &str,
        config: &Value,
        audit: AuditRecord,
    ) -> Result<Profile> {
        validate_slug(slug)?;
        let id = ProfileId::generate();
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "INSERT INTO verification_profiles (id, org_id, slug, name, config, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        ))
        .bind(id.as_str())
        .bind(org.as_str())
        .bind(slug)
        .bind(name)
        .bind(config.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| match db_err(e) {
            Error::Conflict(_) => Error::Conflict(format!("a profile with slug {slug:?} exists")),
            e => e,
        })?;
        append_in_tx(self, &mut tx, &audit.in_org(org).target(&id)).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Profile {
            id,
            slug: slug.into(),
            name: name.into(),
            config: config.clone(),
            created_at: now,
            updated_at: now,
        })
    }

    /// A profile by id or slug.
    pub async fn profile(&self, org: &OrgId, id_or_slug: &str) -> Result<Profile> {
        let row = sqlx::query(&self.sql(
            "SELECT * FROM verification_profiles WHERE org_id = $1 AND (id = $2 OR slug = $2)",
        ))
        .bind(org.as_str())
        .bind(id_or_slug)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound("profile"))?;
        profile_from_row(&row)
    }

    /// The organisation's profiles by slug.
    pub async fn list_profiles(&self, org: &OrgId) -> Result<Vec<Profile>> {
        let rows = sqlx::query(
            &self.sql("SELECT * FROM verification_profiles WHERE org_id = $1 ORDER BY slug"),
        )
        .bind(org.as_str())
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        rows.iter().map(profile_from_row).collect()
    }

    /// Replaces a profile's name and configuration.
    pub async fn update_profile(
        &self,
        org: &OrgId,
        id_or_slug: &str,
        name: &str,
        config: &Value,
        audit: AuditRecord,
    ) -> Result<Profile> {
        let current = self.profile(org, id_or_slug).await?;
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "UPDATE verification_profiles SET name = $1, config = $2, updated_at = $3 WHERE id = $4 AND org_id = $5",
        ))
        .bind(name)
        .bind(config.to_string())
        .bind(now)
        .bind(current.id.as_str())
        .bind(org.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        append_in_tx(self, &mut tx, &audit.in_org(org).target(&current.id)).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Profile {
            name: name.into(),
            config: config.clone(),
            updated_at: now,
            ..current
        })
    }

    /// Deletes a profile.
    pub async fn delete_profile(
        &self,
        org: &OrgId,
        id_or_slug: &str,
        audit: AuditRecord,
    ) -> Result<()> {
        let current = self.profile(org, id_or_slug).await?;
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql("DELETE FROM verification_profiles WHERE id = $1 AND org_id = $2"))
            .bind(current.id.as_str())
            .bind(org.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        append_in_tx(self, &mut tx, &audit.in_org(org).target(&current.id)).await?;
        tx.commit().await.map_err(db_err)
    }
}
