//! Verification sessions. Every query takes the organisation; the hosted page finds its
//! session by the digest of its URL token instead. A session past its lifetime is expired
//! when it is read (and by the housekeeping sweep), in the transaction that writes its
//! `verification.expired` event, so that the webhook fires exactly once whoever notices.
//!
//! Size (over 800 lines): the session table's queries, group commit and expiry sweep share
//! one row decoder and the transaction helpers.

use crate::audit::append_in_tx;
use crate::crypto::Slot;
use crate::db::{db_err, Store};
use crate::outbox::Outbound;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::Row;
use vouch_core::check::Check;
use vouch_core::event::{
    Dialect, VERIFICATION_CANCELLED, VERIFICATION_COMPLETED, VERIFICATION_EXPIRED,
    VERIFICATION_REVIEWED,
};
use vouch_core::ids::{KeyId, OrgId, SessionId};
use vouch_core::model::{Actor, AuditRecord, KeySettings};
use vouch_core::session::{Decision, NewSession, SessionStatus, VerificationSession};
use vouch_core::{now_millis, Error, Millis, Result};

/// Filters of a session listing.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    /// Only sessions in this status.
    pub status: Option<SessionStatus>,
    /// Only sessions with this external reference.
    pub external_ref: Option<String>,
    /// Only sessions with this overall result (`REVIEW`: the review queue).
    pub overall_result: Option<Decision>,
}

/// One page of sessions.
#[derive(Debug, Clone)]
pub struct SessionPage {
    /// The sessions, newest first.
    pub items: Vec<VerificationSession>,
    /// How many sessions match the filters in all.
    pub total: i64,
}

/// Who decides a session.
#[derive(Debug, Clone, Copy)]
pub enum Decider<'a> {
    /// The hosted flow, from the checks' results.
    Flow,
    /// A reviewer, on a session awaiting review, with an optional note for the audit log.
    Reviewer {
        /// Why.
        note: Option<&'a str>,
    },
}

/// Sessions expired at once by one sweep step.
const SWEEP_BATCH: i64 = 200;

fn metadata_slot(id: &str) -> Slot<'_> {
    Slot {
        table: "verification_sessions",
        column: "metadata",
        row: id,
    }
}

fn results_slot(id: &str) -> Slot<'_> {
    Slot {
        table: "verification_sessions",
        column: "results",
        row: id,
    }
}

/// How sealed check results start in the `results` column (TEXT): the rest is the
/// base64 of the sealed JSON. Rows written before results were sealed hold plain JSON.
const SEALED_RESULTS: &str = "sealed:";

fn json_err(e: serde_json::Error) -> Error {
    Error::Internal(format!("session JSON: {e}"))
}

const OPEN: &str = "status IN ('PENDING', 'IN_PROGRESS')";
/// Open, and not yet decided (a session awaiting review has its overall result).
const UNDECIDED: &str = "status IN ('PENDING', 'IN_PROGRESS') AND overall_result IS NULL";

fn evidence_slot(id: &str) -> Slot<'_> {
    Slot {
        table: "verification_sessions",
        column: "evidence",
        row: id,
    }
}

/// A session to insert, with its audit entry.
#[derive(Clone)]
pub(crate) struct NewSessionRow {
    id: SessionId,
    org: OrgId,
    key: KeyId,
    external_ref: Option<String>,
    checks: String,
    redirect_url: Option<String>,
    callback_url: Option<String>,
    metadata: Option<Vec<u8>>,
    token_hash: String,
    expires_at: Millis,
    now: Millis,
    audit: AuditRecord,
}

/// A row written by group commit: a new session, or a phone flow insert or
/// compare-and-set update.
#[derive(Clone)]
pub(crate) enum GroupRow {
    /// A new KYC session.
    Session(Box<NewSessionRow>),
    /// A phone flow write.
    Flow(Box<crate::phone::FlowWrite>),
}

/// A row waiting for a group commit; answered with whether it applied (a phone flow
/// update whose version moved on did not).
pub(crate) struct PendingInsert {
    row: GroupRow,
    done: tokio::sync::oneshot::Sender<Result<bool>>,
}

/// Rows queued for the next group commit.
pub(crate) type InsertQueue = std::sync::Mutex<Vec<PendingInsert>>;

/// The most rows one commit carries.
const GROUP_MAX: usize = 64;

impl Store {
    async fn insert_session_row(
        &self,
        tx: &mut crate::db::WriteTx,
        r: &NewSessionRow,
    ) -> Result<()> {
        sqlx::query(&self.sql(
            "INSERT INTO verification_sessions (id, org_id, key_id, external_ref, status, overall_result, checks, \
             results, redirect_url, callback_url, metadata, token_hash, expires_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'PENDING', NULL, $5, '{}', $6, $7, $8, $9, $10, $11, $12)",
        ))
        .bind(r.id.as_str())
        .bind(r.org.as_str())
        .bind(r.key.as_str())
        .bind(r.external_ref.clone())
        .bind(r.checks.clone())
        .bind(r.redirect_url.clone())
        .bind(r.callback_url.clone())
        .bind(r.metadata.clone())
        .bind(r.token_hash.clone())
        .bind(r.expires_at)
        .bind(r.now)
        .bind(r.now)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
        append_in_tx(self, tx, &r.audit).await
    }

    async fn write_group_row(&self, tx: &mut crate::db::WriteTx, r: &GroupRow) -> Result<bool> {
        match r {
            GroupRow::Session(s) => {
                self.insert_session_row(tx, s).await?;
                Ok(true)
            }
            GroupRow::Flow(f) => self.write_flow_in_tx(tx, f).await,
        }
    }

    async fn write_rows(
        &self,
        guard: tokio::sync::OwnedMutexGuard<()>,
        rows: &[&GroupRow],
    ) -> Result<(tokio::sync::OwnedMutexGuard<()>, Vec<bool>)> {
        let mut tx = self.begin_under(guard).await?;
        let mut applied = Vec::with_capacity(rows.len());
        for r in rows {
            applied.push(self.write_group_row(&mut tx, r).await?);
        }
        let guard = tx.commit_keeping_gate().await.map_err(db_err)?;
        Ok((guard, applied))
    }

    /// Writes a row with group commit: callers queue their row; whoever holds the
    /// write gate next writes every queued row in one transaction (one fsync for many
    /// rows) and tells the others. A failed group is retried row by row, so one bad row
    /// fails alone. A caller cancelled while it leads a group leaves the others to write
    /// their rows on their own; servers run this in a task of its own so that it is
    /// never cancelled half-way.
    pub(crate) async fn write_grouped(&self, row: GroupRow) -> Result<bool> {
        let (done, mut result) = tokio::sync::oneshot::channel();
        let own = row.clone();
        self.insert_queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(PendingInsert { row, done });
        let guard = tokio::select! {
            biased;
            r = &mut result => return match r {
                Ok(r) => r,
                Err(_) => self.write_alone(&own).await,
            },
            g = self.group_gate().lock_owned() => g,
        };
        let batch: Vec<PendingInsert> = {
            let mut q = self.insert_queue.lock().unwrap_or_else(|e| e.into_inner());
            let n = q.len().min(GROUP_MAX);
            q.drain(..n).collect()
        };
        if batch.is_empty() {
            // A leader before us took our row and has answered (it answers before it
            // lets the gate go).
            drop(guard);
            return match result.await {
                Ok(r) => r,
                Err(_) => self.write_alone(&own).await,
            };
        }
        let rows: Vec<&GroupRow> = batch.iter().map(|p| &p.row).collect();
        let (guard, outcomes): (_, Vec<Result<bool>>) = match self.write_rows(guard, &rows).await {
            Ok((g, applied)) => (g, applied.into_iter().map(Ok).collect()),
            Err(e) if batch.len() == 1 => {
                let g = self.group_gate().lock_owned().await;
                (g, vec![Err(e)])
            }
            Err(_) => {
                let mut g = self.group_gate().lock_owned().await;
                let mut outcomes = Vec::with_capacity(batch.len());
                for r in &rows {
                    match self.write_rows(g, &[*r]).await {
                        Ok((next, applied)) => {
                            g = next;
                            outcomes.push(Ok(applied.first().copied().unwrap_or(false)));
                        }
                        Err(e) => {
                            g = self.group_gate().lock_owned().await;
                            outcomes.push(Err(e));
                        }
                    }
                }
                (g, outcomes)
            }
        };
        for (p, outcome) in batch.into_iter().zip(outcomes) {
            let _ = p.done.send(outcome);
        }
        drop(guard);
        // Our own row was in the batch (queued before we took the gate).
        match result.await {
            Ok(r) => r,
            Err(_) => self.write_alone(&own).await,
        }
    }

    /// Writes a row on its own after its group's leader went away without an answer
    /// (its request was cancelled mid-commit): if the group was committed, an insert's
    /// random id is already there, which counts as done.
    async fn write_alone(&self, row: &GroupRow) -> Result<bool> {
        let guard = self.group_gate().lock_owned().await;
        match self.write_rows(guard, &[row]).await {
            Ok((_, applied)) => Ok(applied.first().copied().unwrap_or(false)),
            Err(Error::Conflict(_)) => Ok(true),
            Err(e) => Err(e),
        }
    }
}

impl Store {
    /// Creates a PENDING session for `key`, expiring at `expires_at`. `token_hash` is the
    /// digest of the hosted page token (the token itself is never stored).
    pub async fn create_session(
        &self,
        org: &OrgId,
        key: &KeyId,
        new: &NewSession,
        token_hash: &str,
        expires_at: Millis,
        audit: AuditRecord,
    ) -> Result<VerificationSession> {
        let id = SessionId::generate();
        let now = now_millis();
        let metadata = match &new.metadata {
            Some(v) => Some(self.seal(metadata_slot(id.as_str()), v.to_string().as_bytes())?),
            None => None,
        };
        let checks = serde_json::to_string(&new.checks).map_err(json_err)?;
        let details = serde_json::json!({"checks": new.checks});
        let row = NewSessionRow {
            id: id.clone(),
            org: org.clone(),
            key: key.clone(),
            external_ref: new.external_ref.clone(),
            checks,
            redirect_url: new.redirect_url.clone(),
            callback_url: new.callback_url.clone(),
            metadata,
            token_hash: token_hash.to_string(),
            expires_at,
            now,
            audit: audit.in_org(org).target(&id).details(details),
        };
        self.write_grouped(GroupRow::Session(Box::new(row))).await?;
        Ok(VerificationSession {
            id,
            org_id: org.clone(),
            key_id: key.clone(),
            external_ref: new.external_ref.clone(),
            status: SessionStatus::Pending,
            overall_result: None,
            checks: new.checks.clone(),
            results: Default::default(),
            redirect_url: new.redirect_url.clone(),
            callback_url: new.callback_url.clone(),
            metadata: new.metadata.clone(),
            expires_at,
            created_at: now,
            finished_at: None,
        })
    }

    /// A session's check results as the `results` column holds them: sealed (they carry
    /// personal data: an estimated age, a document's fields, a digital ID's claims).
    fn seal_results(&self, id: &str, results: &Map<String, Value>) -> Result<String> {
        use base64::Engine as _;
        let sealed = self.seal(
            results_slot(id),
            Value::Object(results.clone()).to_string().as_bytes(),
        )?;
        Ok(format!(
            "{SEALED_RESULTS}{}",
            base64::engine::general_purpose::STANDARD.encode(sealed)
        ))
    }

    /// The check results of a `results` column value (sealed, or plain JSON in rows
    /// written before results were sealed).
    async fn open_results(&self, id: &str, text: &str) -> Result<Map<String, Value>> {
        use base64::Engine as _;
        let json = match text.strip_prefix(SEALED_RESULTS) {
            Some(b64) => {
                let sealed = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| Error::Internal(format!("sealed results: {e}")))?;
                String::from_utf8(self.open_sealed(results_slot(id), &sealed).await?)
                    .map_err(|_| Error::Internal("sealed results are not UTF-8".into()))?
            }
            None => text.to_string(),
        };
        serde_json::from_str(&json).map_err(json_err)
    }

    async fn session_from_row(&self, row: &AnyRow) -> Result<VerificationSession> {
        let id: String = row.try_get("id").map_err(db_err)?;
        let status: String = row.try_get("status").map_err(db_err)?;
        let result: Option<String> = row.try_get("overall_result").map_err(db_err)?;
        let checks: String = row.try_get("checks").map_err(db_err)?;
        let results: String = row.try_get("results").map_err(db_err)?;
        let results = self.open_results(&id, &results).await?;
        let sealed: Option<Vec<u8>> = row.try_get("metadata").map_err(db_err)?;
        let metadata = match self.open_text(metadata_slot(&id), sealed).await? {
            Some(text) => Some(serde_json::from_str(&text).map_err(json_err)?),
            None => None,
        };
        Ok(VerificationSession {
            org_id: OrgId::from_string(row.try_get::<String, _>("org_id").map_err(db_err)?),
            key_id: KeyId::from_string(row.try_get::<String, _>("key_id").map_err(db_err)?),
            external_ref: row.try_get("external_ref").map_err(db_err)?,
            status: SessionStatus::parse(&status)
                .ok_or_else(|| Error::Internal(format!("unknown session status {status}")))?,
            overall_result: result.as_deref().and_then(Decision::parse),
            checks: serde_json::from_str::<Vec<Check>>(&checks).map_err(json_err)?,
            results,
            redirect_url: row.try_get("redirect_url").map_err(db_err)?,
            callback_url: row.try_get("callback_url").map_err(db_err)?,
            metadata,
            expires_at: row.try_get("expires_at").map_err(db_err)?,
            created_at: row.try_get("created_at").map_err(db_err)?,
            finished_at: row.try_get("finished_at").map_err(db_err)?,
            id: SessionId::from_string(id),
        })
    }

    /// A session of an organisation, expired first if its lifetime is over.
    pub async fn session(&self, org: &OrgId, id: &SessionId) -> Result<VerificationSession> {
        let s = self.fetch_session(org, id).await?;
        let now = now_millis();
        if s.status.is_open() && s.overall_result.is_none() && s.expires_at <= now {
            self.expire_session(org, id, now).await?;
            return self.fetch_session(org, id).await;
        }
        Ok(s)
    }

    async fn fetch_session(&self, org: &OrgId, id: &SessionId) -> Result<VerificationSession> {
        let row = sqlx::query(
            &self.sql("SELECT * FROM verification_sessions WHERE id = $1 AND org_id = $2"),
        )
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound("session"))?;
        self.session_from_row(&row).await
    }

    /// The session whose hosted page token has this digest, expired first if due.
    pub async fn session_by_token_hash(&self, token_hash: &str) -> Result<VerificationSession> {
        let row = sqlx::query(
            &self.sql("SELECT org_id, id FROM verification_sessions WHERE token_hash = $1"),
        )
        .bind(token_hash)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound("session"))?;
        let org = OrgId::from_string(row.try_get::<String, _>("org_id").map_err(db_err)?);
        let id = SessionId::from_string(row.try_get::<String, _>("id").map_err(db_err)?);
        self.session(&org, &id).await
    }

    /// A page of an organisation's sessions, newest first. Due sessions of the
    /// organisation are expired first, so that a status filter sees the truth.
    pub async fn list_sessions(
        &self,
        org: &OrgId,
        filter: &SessionFilter,
        page: i64,
        limit: i64,
    ) -> Result<SessionPage> {
        self.expire_due_sessions(Some(org), now_millis()).await?;
        let mut cond = String::from("org_id = $1");
        let mut n = 1;
        if filter.status.is_some() {
            n += 1;
            cond.push_str(&format!(" AND status = ${n}"));
        }
        if filter.external_ref.is_some() {
            n += 1;
            cond.push_str(&format!(" AND external_ref = ${n}"));
        }
        if filter.overall_result.is_some() {
            n += 1;
            cond.push_str(&format!(" AND overall_result = ${n}"));
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM verification_sessions WHERE {cond}");
        let list_sql = format!(
            "SELECT * FROM verification_sessions WHERE {cond} ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let count_sql = self.sql(&count_sql);
        let list_sql = self.sql(&list_sql);
        let mut count = sqlx::query(&count_sql).bind(org.as_str());
        let mut list = sqlx::query(&list_sql).bind(org.as_str());
        if let Some(s) = filter.status {
            count = count.bind(s.as_str());
            list = list.bind(s.as_str());
        }
        if let Some(r) = &filter.external_ref {
            count = count.bind(r.clone());
            list = list.bind(r.clone());
        }
        if let Some(d) = filter.overall_result {
            count = count.bind(d.as_str());
            list = list.bind(d.as_str());
        }
        let limit = limit.clamp(1, 1000);
        let offset = (page.max(1) - 1).saturating_mul(limit);
        let total: i64 = count
            .fetch_one(&mut *self.conn().await?)
            .await
            .map_err(db_err)?
            .try_get("n")
            .map_err(db_err)?;
        let rows = list
            .bind(limit)
            .bind(offset)
            .fetch_all(&mut *self.conn().await?)
            .await
            .map_err(db_err)?;
        let mut items = Vec::with_capacity(rows.len());
        for r in &rows {
            items.push(self.session_from_row(r).await?);
        }
        Ok(SessionPage { items, total })
    }

    /// Cancels an open session and queues `verification.cancelled`. A session that is
    /// not PENDING or IN_PROGRESS (or whose lifetime is over) answers Conflict.
    pub async fn cancel_session(
        &self,
        org: &OrgId,
        id: &SessionId,
        audit: AuditRecord,
    ) -> Result<VerificationSession> {
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        match self
            .finish_in_tx(&mut tx, org, id, SessionStatus::Cancelled, now, audit)
            .await?
        {
            Some(s) => {
                tx.commit().await.map_err(db_err)?;
                Ok(s)
            }
            None => {
                drop(tx);
                let current = self.session(org, id).await?;
                Err(Error::Conflict(format!(
                    "Session is {}; only PENDING or IN_PROGRESS sessions can be cancelled",
                    current.status.as_str()
                )))
            }
        }
    }

    /// Expires one session if it is open and due at `now`. Returns whether it did.
    async fn expire_session(&self, org: &OrgId, id: &SessionId, now: Millis) -> Result<bool> {
        let audit = AuditRecord::new(Some(org), Actor::System, VERIFICATION_EXPIRED);
        let mut tx = self.begin_write().await?;
        let done = self
            .finish_in_tx(&mut tx, org, id, SessionStatus::Expired, now, audit)
            .await?
            .is_some();
        tx.commit().await.map_err(db_err)?;
        Ok(done)
    }

    /// Expires the open sessions whose lifetime is over at `now` (of one organisation, or
    /// of all), each with its `verification.expired` event. Returns how many it expired.
    pub async fn expire_due_sessions(&self, org: Option<&OrgId>, now: Millis) -> Result<usize> {
        let mut expired = 0;
        loop {
            let q = match org {
                Some(_) => format!("SELECT org_id, id FROM verification_sessions WHERE {UNDECIDED} AND expires_at <= $1 AND org_id = $2 ORDER BY expires_at LIMIT $3"),
                None => format!("SELECT org_id, id FROM verification_sessions WHERE {UNDECIDED} AND expires_at <= $1 ORDER BY expires_at LIMIT $2"),
            };
            let q = self.sql(&q);
            let mut query = sqlx::query(&q).bind(now);
            if let Some(o) = org {
                query = query.bind(o.as_str());
            }
            let rows = query
                .bind(SWEEP_BATCH)
                .fetch_all(&mut *self.conn().await?)
                .await
                .map_err(db_err)?;
            let mut step = 0;
            for r in &rows {
                let o = OrgId::from_string(r.try_get::<String, _>("org_id").map_err(db_err)?);
                let id = SessionId::from_string(r.try_get::<String, _>("id").map_err(db_err)?);
                // Another node (or reader) may have finished it meanwhile; then this is a no-op.
                if self.expire_session(&o, &id, now).await? {
                    step += 1;
                }
            }
            expired += step;
            if (rows.len() as i64) < SWEEP_BATCH || step == 0 {
                return Ok(expired);
            }
        }
    }

    /// Moves an open session to `to` (CANCELLED while its lifetime lasts, EXPIRED once it
    /// is over) and queues the event with its webhook to the session's callback URL or its
    /// key's webhook URL. Returns `None` when the session was not in a state to move.
    async fn finish_in_tx(
        &self,
        tx: &mut crate::db::WriteTx,
        org: &OrgId,
        id: &SessionId,
        to: SessionStatus,
        now: Millis,
        audit: AuditRecord,
    ) -> Result<Option<VerificationSession>> {
        let (event, due) = match to {
            // A session awaiting review has no lifetime left to run out; it can be cancelled.
            SessionStatus::Cancelled => (
                VERIFICATION_CANCELLED,
                "(expires_at > $3 OR overall_result IS NOT NULL)",
            ),
            SessionStatus::Expired => (
                VERIFICATION_EXPIRED,
                "expires_at <= $3 AND overall_result IS NULL",
            ),
            _ => {
                return Err(Error::Internal(format!(
                    "cannot finish a session as {to:?}"
                )))
            }
        };
        let q = format!(
            "UPDATE verification_sessions SET status = $1, updated_at = $2, finished_at = $2, evidence = NULL \
             WHERE id = $4 AND org_id = $5 AND {OPEN} AND {due}"
        );
        let done = sqlx::query(&self.sql(&q))
            .bind(to.as_str())
            .bind(now)
            .bind(now)
            .bind(id.as_str())
            .bind(org.as_str())
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query(
            &self.sql("SELECT * FROM verification_sessions WHERE id = $1 AND org_id = $2"),
        )
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_one(&mut **tx)
        .await
        .map_err(db_err)?;
        let session = self.session_from_row(&row).await?;
        crate::images::schedule_deletion(self, tx, id, now).await?;
        self.enqueue_session_event(tx, &session, event, now).await?;
        append_in_tx(self, tx, &audit.in_org(org).target(id)).await?;
        Ok(Some(session))
    }

    /// Queues `event` with its webhook to the session's callback URL, or its key's
    /// webhook URL while that is not disabled.
    async fn enqueue_session_event(
        &self,
        tx: &mut crate::db::WriteTx,
        session: &VerificationSession,
        event: &str,
        now: Millis,
    ) -> Result<()> {
        let org = &session.org_id;
        let key = sqlx::query(&self.sql(
            "SELECT settings, webhook_disabled_at FROM api_keys WHERE id = $1 AND org_id = $2",
        ))
        .bind(session.key_id.as_str())
        .bind(org.as_str())
        .fetch_one(&mut **tx)
        .await
        .map_err(db_err)?;
        let settings: KeySettings =
            serde_json::from_str(&key.try_get::<String, _>("settings").map_err(db_err)?)
                .map_err(json_err)?;
        let disabled: Option<Millis> = key.try_get("webhook_disabled_at").map_err(db_err)?;
        let url = session
            .callback_url
            .clone()
            .or_else(|| settings.webhook_url.filter(|_| disabled.is_none()));
        let outbound: Vec<Outbound> = url
            .map(|url| Outbound {
                key_id: session.key_id.clone(),
                url,
                dialect: Dialect::Kyc,
                body: vouch_core::webhook::wire_json(&session.webhook_body(event, now))
                    .into_bytes(),
            })
            .into_iter()
            .collect();
        self.enqueue_in_tx(tx, org, event, &outbound).await?;
        Ok(())
    }

    async fn fetch_in_tx(
        &self,
        tx: &mut crate::db::WriteTx,
        org: &OrgId,
        id: &SessionId,
    ) -> Result<(VerificationSession, Option<Vec<u8>>, Millis)> {
        let row = sqlx::query(
            &self.sql("SELECT * FROM verification_sessions WHERE id = $1 AND org_id = $2"),
        )
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound("session"))?;
        let evidence: Option<Vec<u8>> = row.try_get("evidence").map_err(db_err)?;
        let updated_at: Millis = row.try_get("updated_at").map_err(db_err)?;
        Ok((self.session_from_row(&row).await?, evidence, updated_at))
    }

    async fn open_evidence(
        &self,
        id: &SessionId,
        sealed: Option<Vec<u8>>,
    ) -> Result<Map<String, Value>> {
        match sealed {
            None => Ok(Map::new()),
            Some(blob) => {
                let plain = self.open_sealed(evidence_slot(id.as_str()), &blob).await?;
                serde_json::from_slice(&plain).map_err(json_err)
            }
        }
    }

    /// Records a step of the hosted flow on an open, undecided, unexpired session: merges
    /// `results` (per-check results, by their key in `checks`) and `evidence` (biometric
    /// templates, sealed) into what the session holds, stores the capture `images` (sealed,
    /// see [`crate::images`]) in the same transaction, and moves PENDING to IN_PROGRESS.
    /// Any other session answers Conflict.
    pub async fn record_session_step(
        &self,
        org: &OrgId,
        id: &SessionId,
        results: Map<String, Value>,
        evidence: Map<String, Value>,
        images: &[crate::images::NewImage<'_>],
    ) -> Result<VerificationSession> {
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        let (mut session, sealed, prev_updated) = self.fetch_in_tx(&mut tx, org, id).await?;
        if !session.status.is_open()
            || session.overall_result.is_some()
            || session.expires_at <= now
        {
            return Err(Error::Conflict(format!(
                "Session is {}{}; it accepts no more captures",
                session.status.as_str(),
                if session.overall_result.is_some() {
                    " and awaiting review"
                } else {
                    ""
                }
            )));
        }
        let mut held = self.open_evidence(id, sealed).await?;
        held.extend(evidence);
        session.results.extend(results);
        let sealed = self.seal(
            evidence_slot(id.as_str()),
            Value::Object(held).to_string().as_bytes(),
        )?;
        let results_text = self.seal_results(id.as_str(), &session.results)?;
        let q = format!(
            "UPDATE verification_sessions SET status = 'IN_PROGRESS', results = $1, evidence = $2, updated_at = $3 \
             WHERE id = $4 AND org_id = $5 AND {UNDECIDED} AND updated_at = $6"
        );
        let done = sqlx::query(&self.sql(&q))
            .bind(results_text)
            .bind(sealed)
            .bind(now.max(prev_updated + 1))
            .bind(id.as_str())
            .bind(org.as_str())
            .bind(prev_updated)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::Conflict(
                "Session changed meanwhile; try again".into(),
            ));
        }
        for img in images {
            crate::images::put_in_tx(self, &mut tx, org, id, img).await?;
        }
        tx.commit().await.map_err(db_err)?;
        session.status = SessionStatus::InProgress;
        Ok(session)
    }

    /// The sealed biometric evidence an undecided session holds (empty once decided).
    pub async fn session_evidence(
        &self,
        org: &OrgId,
        id: &SessionId,
    ) -> Result<Map<String, Value>> {
        let row = sqlx::query(
            &self.sql("SELECT evidence FROM verification_sessions WHERE id = $1 AND org_id = $2"),
        )
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound("session"))?;
        let sealed: Option<Vec<u8>> = row.try_get("evidence").map_err(db_err)?;
        self.open_evidence(id, sealed).await
    }

    /// Records the decision of the hosted flow (`review` false: an open, undecided,
    /// unexpired session) or of a reviewer (`review` true: a session awaiting review, and
    /// `decision` APPROVED or REJECTED). APPROVED and REJECTED complete the session and
    /// queue `verification.completed`; REVIEW leaves it IN_PROGRESS awaiting a reviewer.
    /// Either way the biometric evidence is dropped and `results` merged in. A session in
    /// no state to be decided answers Conflict. The audit entry records the decision and
    /// the reviewer's `note`.
    pub async fn decide_session(
        &self,
        org: &OrgId,
        id: &SessionId,
        results: Map<String, Value>,
        decision: Decision,
        by: Decider<'_>,
        audit: AuditRecord,
    ) -> Result<VerificationSession> {
        let (review, note) = match by {
            Decider::Flow => (false, None),
            Decider::Reviewer { note } => (true, note),
        };
        let now = now_millis();
        if review && decision == Decision::Review {
            return Err(Error::Invalid(
                "A review decides APPROVED or REJECTED".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        let (mut session, _, _) = self.fetch_in_tx(&mut tx, org, id).await?;
        let eligible = if review {
            session.awaiting_review()
        } else {
            session.status.is_open() && session.overall_result.is_none() && session.expires_at > now
        };
        if !eligible {
            let what = if review { "awaiting review" } else { "open" };
            return Err(Error::Conflict(format!(
                "Session is {}{}; only sessions {what} can be decided",
                session.status.as_str(),
                match session.overall_result {
                    Some(d) => format!(" ({})", d.as_str()),
                    None => String::new(),
                }
            )));
        }
        session.results.extend(results);
        // Every decision completes the session (REVIEW too, as the spec has it); a
        // review keeps the time the flow finished.
        let status = SessionStatus::Completed;
        let finished = if review {
            session.finished_at.or(Some(now))
        } else {
            Some(now)
        };
        let guard = if review {
            "overall_result = 'REVIEW' AND status IN ('IN_PROGRESS', 'COMPLETED')"
        } else {
            UNDECIDED
        };
        let q = format!(
            "UPDATE verification_sessions SET status = $1, overall_result = $2, results = $3, evidence = NULL, \
             updated_at = $4, finished_at = $5 WHERE id = $6 AND org_id = $7 AND {guard}"
        );
        let done = sqlx::query(&self.sql(&q))
            .bind(status.as_str())
            .bind(decision.as_str())
            .bind(self.seal_results(id.as_str(), &session.results)?)
            .bind(now)
            .bind(finished)
            .bind(id.as_str())
            .bind(org.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::Conflict("Session changed meanwhile".into()));
        }
        session.status = status;
        session.overall_result = Some(decision);
        session.finished_at = finished;
        // A session in review keeps its images for the reviewer until decided.
        if decision != Decision::Review {
            crate::images::schedule_deletion(self, &mut tx, id, now).await?;
        }
        let event = if review {
            VERIFICATION_REVIEWED
        } else {
            VERIFICATION_COMPLETED
        };
        self.enqueue_session_event(&mut tx, &session, event, now)
            .await?;
        let mut details = serde_json::json!({"overallResult": decision.as_str(), "review": review});
        if let Some(n) = note {
            details["note"] = Value::String(n.to_string());
        }
        append_in_tx(
            self,
            &mut tx,
            &audit.in_org(org).target(id).details(details),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(session)
    }
}
