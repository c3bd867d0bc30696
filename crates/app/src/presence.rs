//! Human Presence use cases (spec: biometric-identity-api.md): an agent opens a presence
//! session, the person answers it with a live scan matched 1:N against the organisation's
//! enrolled people, the agent fetches the signed token and anyone may check it (and redeem
//! it once). The session's states and transitions are [`PresenceStatus`]'s
//! (`core/src/presence.rs`).

use crate::identity::Identity;
use crate::scan::LiveScan;
use crate::tokens::{Expect, Refusal, Tokens};
use async_trait::async_trait;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use std::sync::Arc;
use vouch_core::credential::{hash_secret, issue, SecretKind};
use vouch_core::ids::{OrgId, PersonId, PresenceId, TokenId};
use vouch_core::{now_millis, Error, Millis, Result};
use vouch_store::presence::{PresenceSession, PresenceStatus};

/// How long a presence session waits for the person.
pub const SESSION_MINUTES: i64 = 15;
/// The longest token lifetime.
pub const MAX_TTL_SECONDS: i64 = 3600;
/// A token's lifetime when the agent names none.
pub const DEFAULT_TTL_SECONDS: i64 = 300;
/// The longest page token a link can carry.
const MAX_PAGE_TOKEN: usize = 128;

/// Storage of presence sessions.
#[async_trait]
pub trait PresenceStore: Send + Sync {
    /// Opens a PENDING session.
    async fn create_presence(
        &self,
        org: &OrgId,
        token: &TokenId,
        new: &NewPresence,
        page_hash: &str,
        expires_at: Millis,
    ) -> Result<PresenceSession>;
    /// A session of the org (a due PENDING one reads as EXPIRED).
    async fn presence(&self, org: &OrgId, id: &PresenceId) -> Result<PresenceSession>;
    /// The session of a page token's digest.
    async fn presence_by_page(&self, page_hash: &str) -> Result<PresenceSession>;
    /// PENDING → VERIFIED by `person`; `Conflict` from any other state.
    async fn verify_presence(
        &self,
        org: &OrgId,
        id: &PresenceId,
        person: &PersonId,
        email: &str,
        composite: f64,
        liveness: f64,
    ) -> Result<PresenceSession>;
    /// Marks a token redeemed; false when it already was.
    async fn redeem_presence_token(&self, org: &OrgId, jti: &str) -> Result<bool>;
}

#[async_trait]
impl PresenceStore for vouch_store::Store {
    async fn create_presence(
        &self,
        org: &OrgId,
        token: &TokenId,
        new: &NewPresence,
        page_hash: &str,
        expires_at: Millis,
    ) -> Result<PresenceSession> {
        vouch_store::Store::create_presence(
            self,
            org,
            token,
            &new.purpose,
            new.email.as_deref(),
            new.nonce.as_deref(),
            new.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS),
            page_hash,
            expires_at,
        )
        .await
    }

    async fn presence(&self, org: &OrgId, id: &PresenceId) -> Result<PresenceSession> {
        vouch_store::Store::presence(self, org, id).await
    }

    async fn presence_by_page(&self, page_hash: &str) -> Result<PresenceSession> {
        vouch_store::Store::presence_by_page(self, page_hash).await
    }

    async fn verify_presence(
        &self,
        org: &OrgId,
        id: &PresenceId,
        person: &PersonId,
        email: &str,
        composite: f64,
        liveness: f64,
    ) -> Result<PresenceSession> {
        vouch_store::Store::verify_presence(self, org, id, person, email, composite, liveness).await
    }

    async fn redeem_presence_token(&self, org: &OrgId, jti: &str) -> Result<bool> {
        vouch_store::Store::redeem_presence_token(self, org, jti).await
    }
}

/// A session an agent asks for.
#[derive(Debug, Clone, Default)]
pub struct NewPresence {
    /// What presence is asked for (shown to the person), 1–500 characters.
    pub purpose: String,
    /// Only the person enrolled with this e-mail may answer.
    pub email: Option<String>,
    /// Bound into the token (≤ 200 characters).
    pub nonce: Option<String>,
    /// Token lifetime, 1–[`MAX_TTL_SECONDS`] (default [`DEFAULT_TTL_SECONDS`]).
    pub ttl_seconds: Option<i64>,
}

impl NewPresence {
    fn validate(mut self) -> Result<NewPresence> {
        let purpose = self.purpose.trim();
        if purpose.is_empty() || purpose.chars().count() > 500 {
            return Err(Error::Invalid("purpose must be 1 to 500 characters".into()));
        }
        self.purpose = purpose.to_string();
        if let Some(e) = &self.email {
            if e.len() > 254 || !e.contains('@') {
                return Err(Error::Invalid("email must be an e-mail address".into()));
            }
        }
        if self
            .nonce
            .as_ref()
            .is_some_and(|n| n.is_empty() || n.len() > 200)
        {
            return Err(Error::Invalid("nonce must be 1 to 200 characters".into()));
        }
        let ttl = self.ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
        if !(1..=MAX_TTL_SECONDS).contains(&ttl) {
            return Err(Error::Invalid(format!(
                "ttlSeconds must be 1 to {MAX_TTL_SECONDS}"
            )));
        }
        self.ttl_seconds = Some(ttl);
        Ok(self)
    }
}

/// An opened session and the secret of its page link (shown once, stored hashed).
#[derive(Debug, Clone)]
pub struct Opened {
    /// The session.
    pub session: PresenceSession,
    /// The page token of `verifyUrl`.
    pub page_token: String,
}

/// A signed Human Presence Token.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The compact JWS.
    pub token: String,
    /// Its id.
    pub jti: String,
    /// Who was present.
    pub verified_email: Option<String>,
    /// When.
    pub verified_at: Millis,
}

/// Why no token is given.
#[derive(Debug)]
pub enum TokenError {
    /// The session expired or was cancelled before the person answered.
    SessionOver(PresenceStatus),
    /// The person has not answered yet.
    NotVerified,
    /// The token's lifetime (from verification) is over.
    TokenExpired,
    /// Not found, the store, signing.
    Core(Error),
}

impl From<Error> for TokenError {
    fn from(e: Error) -> Self {
        TokenError::Core(e)
    }
}

/// What a checked token must say, besides vouch's signature and a future `exp`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenCheck<'a> {
    /// The organisation it must be for (the caller's own when absent).
    pub org_id: Option<&'a str>,
    /// The person it must name.
    pub email: Option<&'a str>,
    /// The nonce it must carry.
    pub nonce: Option<&'a str>,
    /// Redeem it: a second redeeming check refuses it (replay).
    pub redeem: bool,
}

/// What a live scan of a presence page came to.
#[derive(Debug, Clone)]
pub enum Answer {
    /// The person was recognised: the session is VERIFIED.
    Verified(Box<PresenceSession>),
    /// No enrolled person is similar enough.
    NotRecognised,
    /// Someone else than the session's locked e-mail.
    OtherPerson,
}

/// The presence use cases.
pub struct Presence {
    store: Arc<dyn PresenceStore>,
    identity: Arc<Identity>,
    tokens: Arc<Tokens>,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Presence {
    /// The use cases over a store, recognising people through `identity` and signing
    /// with `tokens`.
    pub fn new(
        store: Arc<dyn PresenceStore>,
        identity: Arc<Identity>,
        tokens: Arc<Tokens>,
    ) -> Presence {
        Presence {
            store,
            identity,
            tokens,
        }
    }

    /// Opens a session for an agent's service token.
    pub async fn open(&self, org: &OrgId, token: &TokenId, new: NewPresence) -> Result<Opened> {
        let new = new.validate()?;
        let page = issue(SecretKind::PresenceToken);
        let expires = now_millis() + SESSION_MINUTES * 60_000;
        let session = self
            .store
            .create_presence(org, token, &new, &page.hash, expires)
            .await?;
        Ok(Opened {
            session,
            page_token: page.secret,
        })
    }

    /// A session of the org.
    pub async fn session(&self, org: &OrgId, id: &PresenceId) -> Result<PresenceSession> {
        self.store.presence(org, id).await
    }

    /// The session of a page link (`NotFound` for anything that is not one).
    pub async fn by_page(&self, page_token: &str) -> Result<PresenceSession> {
        if !page_token.starts_with(SecretKind::PresenceToken.prefix())
            || page_token.len() > MAX_PAGE_TOKEN
        {
            return Err(Error::NotFound("session"));
        }
        self.store.presence_by_page(&hash_secret(page_token)).await
    }

    /// Answers a PENDING session with an accepted live scan: the person is recognised
    /// 1:N (and must be the locked e-mail's), and the session becomes VERIFIED.
    pub async fn answer(&self, session: &PresenceSession, scan: &LiveScan) -> Result<Answer> {
        let org = &session.org_id;
        let Some((person, similarity, email)) = self
            .identity
            .recognise(org, &scan.embedding, scan.match_threshold)
            .await?
        else {
            return Ok(Answer::NotRecognised);
        };
        let email = email.unwrap_or_default();
        if let Some(lock) = &session.email_lock {
            if !lock.eq_ignore_ascii_case(&email) {
                return Ok(Answer::OtherPerson);
            }
        }
        let live = f64::from(scan.liveness.liveness_score);
        let composite = round3((f64::from(similarity) + live) / 2.0);
        let done = self
            .store
            .verify_presence(org, &session.id, &person, &email, composite, round3(live))
            .await?;
        Ok(Answer::Verified(Box::new(done)))
    }

    /// The signed token of a VERIFIED session of the org, valid for the session's TTL from
    /// the moment of verification; `issuer` (the server's public URL) is its `iss`, `alg`
    /// ES256 or, when the operator asks for it, HS256.
    pub async fn token(
        &self,
        org: &OrgId,
        id: &PresenceId,
        issuer: &str,
        alg: Algorithm,
    ) -> std::result::Result<Issued, TokenError> {
        let s = self.store.presence(org, id).await?;
        let (Some(verified_at), Some(jti), Some(person)) = (s.verified_at, &s.jti, &s.person_id)
        else {
            return Err(match s.status {
                PresenceStatus::Expired | PresenceStatus::Cancelled => {
                    TokenError::SessionOver(s.status)
                }
                _ => TokenError::NotVerified,
            });
        };
        let exp = verified_at + s.ttl_seconds * 1000;
        if exp <= now_millis() {
            return Err(TokenError::TokenExpired);
        }
        let mut claims = json!({
            "iss": issuer,
            "sub": s.verified_email,
            "org_id": s.org_id,
            "user_id": person,
            "session_id": s.id,
            "purpose": s.purpose,
            "checks": {"compositeScore": s.composite, "liveness": s.liveness},
            "iat": verified_at / 1000,
            "exp": exp / 1000,
            "jti": jti,
        });
        if let Some(n) = &s.nonce {
            claims["nonce"] = json!(n);
        }
        let token = self.tokens.sign(alg, &claims).await?;
        Ok(Issued {
            token,
            jti: jti.clone(),
            verified_email: s.verified_email.clone(),
            verified_at,
        })
    }

    /// Checks a token for a caller of `org`: signature, expiry, then what `check` asks;
    /// redeems it when asked. The outer error is a store failure; the inner one says why
    /// the token is refused.
    pub async fn check_token(
        &self,
        org: &OrgId,
        token: &str,
        check: TokenCheck<'_>,
    ) -> Result<std::result::Result<Value, Refusal>> {
        if token.len() > 8192 {
            return Err(Error::Invalid("token is too long".into()));
        }
        let claims = match self.tokens.verify(token, Expect::default()).await? {
            Ok(c) => c,
            Err(why) => return Ok(Err(why)),
        };
        // A caller checks tokens of its own organisation only, named or not.
        let expected_org = check.org_id.unwrap_or(org.as_str());
        if claims["org_id"] != expected_org || expected_org != org.as_str() {
            return Ok(Err("token is for another organisation"));
        }
        if let Some(e) = check.email {
            if claims["sub"].as_str().map(str::to_lowercase) != Some(e.trim().to_lowercase()) {
                return Ok(Err("token names another person"));
            }
        }
        if let Some(n) = check.nonce {
            if claims["nonce"] != n {
                return Ok(Err("nonce does not match"));
            }
        }
        if check.redeem {
            let jti = claims["jti"].as_str().unwrap_or_default();
            if !self.store.redeem_presence_token(org, jti).await? {
                return Ok(Err("token already redeemed"));
            }
        }
        Ok(Ok(claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::tests::one_hot;
    use crate::tokens::SigningKeys;
    use std::collections::HashSet;
    use std::sync::Mutex;
    use tokio::sync::Notify;
    use vouch_core::policy::{LivenessResult, Outcome};
    use vouch_store::presence::PublicKey;

    /// One session, as the test sets it; remembers redeemed token ids and verifications.
    struct Fake {
        session: Mutex<PresenceSession>,
        redeemed: Mutex<HashSet<String>>,
        verified: Mutex<usize>,
    }

    impl Fake {
        fn session(&self) -> Result<PresenceSession> {
            self.session
                .lock()
                .map(|s| s.clone())
                .map_err(|_| Error::Internal("poisoned".into()))
        }
    }

    #[async_trait]
    impl PresenceStore for Fake {
        async fn create_presence(
            &self,
            _: &OrgId,
            _: &TokenId,
            _: &NewPresence,
            _: &str,
            _: Millis,
        ) -> Result<PresenceSession> {
            self.session()
        }
        async fn presence(&self, org: &OrgId, _: &PresenceId) -> Result<PresenceSession> {
            let s = self.session()?;
            if &s.org_id != org {
                return Err(Error::NotFound("presence session"));
            }
            Ok(s)
        }
        async fn presence_by_page(&self, _: &str) -> Result<PresenceSession> {
            self.session()
        }
        async fn verify_presence(
            &self,
            _: &OrgId,
            _: &PresenceId,
            person: &PersonId,
            email: &str,
            composite: f64,
            liveness: f64,
        ) -> Result<PresenceSession> {
            *self
                .verified
                .lock()
                .map_err(|_| Error::Internal("poisoned".into()))? += 1;
            let mut s = self
                .session
                .lock()
                .map_err(|_| Error::Internal("poisoned".into()))?;
            s.status = PresenceStatus::Verified;
            s.person_id = Some(person.clone());
            s.verified_email = Some(email.into());
            s.verified_at = Some(now_millis());
            s.composite = Some(composite);
            s.liveness = Some(liveness);
            s.jti = Some("jti-1".into());
            Ok(s.clone())
        }
        async fn redeem_presence_token(&self, _: &OrgId, jti: &str) -> Result<bool> {
            Ok(self
                .redeemed
                .lock()
                .map_err(|_| Error::Internal("poisoned".into()))?
                .insert(jti.to_string()))
        }
    }

    const ISSUER: &str = "https://vouch.test";

    /// An HS256 secret only.
    struct Keys;

    #[async_trait]
    impl SigningKeys for Keys {
        async fn es256_private(&self) -> Result<(String, Vec<u8>)> {
            Err(Error::Unavailable("no ES256 in this fake".into()))
        }
        async fn es256_public(&self) -> Result<Vec<PublicKey>> {
            Ok(Vec::new())
        }
        async fn hs256_secret(&self) -> Result<(String, Vec<u8>)> {
            Ok(("hs-1".into(), b"0123456789abcdef0123456789abcdef".to_vec()))
        }
    }

    fn pending(lock: Option<&str>) -> PresenceSession {
        PresenceSession {
            id: PresenceId::from_string("ps1"),
            org_id: OrgId::from_string("o"),
            token_id: TokenId::from_string("t"),
            purpose: "approve a payment".into(),
            email_lock: lock.map(str::to_string),
            nonce: Some("n1".into()),
            ttl_seconds: 300,
            status: PresenceStatus::Pending,
            person_id: None,
            verified_email: None,
            verified_at: None,
            composite: None,
            liveness: None,
            jti: None,
            expires_at: now_millis() + 60_000,
            created_at: now_millis(),
        }
    }

    /// A presence service whose one enrolled person (`ann@example.com`) has the
    /// template `one_hot(0)`.
    fn presence(session: PresenceSession) -> (Presence, Arc<Fake>) {
        let store = Arc::new(Fake {
            session: Mutex::new(session),
            redeemed: Mutex::new(HashSet::new()),
            verified: Mutex::new(0),
        });
        let people = crate::identity::tests::Fake::new(one_hot(0));
        let identity = Arc::new(Identity::new(people, Arc::new(Notify::new())));
        let tokens = Arc::new(Tokens::new(Arc::new(Keys)));
        (Presence::new(store.clone(), identity, tokens), store)
    }

    fn scan(embedding: Vec<f32>) -> LiveScan {
        LiveScan {
            embedding,
            liveness: LivenessResult {
                result: Outcome::Pass,
                liveness_score: 0.9,
                blink: true,
                turn: false,
                consistent: true,
                frames: 8,
            },
            match_threshold: 0.54,
        }
    }

    #[tokio::test]
    async fn bad_requests_for_presence_are_refused() {
        let (p, _) = presence(pending(None));
        let (org, token) = (OrgId::from_string("o"), TokenId::from_string("t"));
        let ok = NewPresence {
            purpose: "approve".into(),
            ..NewPresence::default()
        };
        for bad in [
            NewPresence {
                purpose: "  ".into(),
                ..ok.clone()
            },
            NewPresence {
                purpose: "x".repeat(501),
                ..ok.clone()
            },
            NewPresence {
                email: Some("ann".into()),
                ..ok.clone()
            },
            NewPresence {
                nonce: Some(String::new()),
                ..ok.clone()
            },
            NewPresence {
                ttl_seconds: Some(MAX_TTL_SECONDS + 1),
                ..ok.clone()
            },
        ] {
            let e = p.open(&org, &token, bad).await;
            assert!(matches!(e, Err(Error::Invalid(_))), "{e:?}");
        }
        let opened = p.open(&org, &token, ok).await.expect("opened");
        assert!(opened
            .page_token
            .starts_with(SecretKind::PresenceToken.prefix()));
        for link in [
            "",
            "not-a-token",
            &format!("{}{}", opened.page_token, "x".repeat(200)),
        ] {
            assert!(matches!(p.by_page(link).await, Err(Error::NotFound(_))));
        }
    }

    #[tokio::test]
    async fn only_the_locked_person_answers_and_then_the_token_checks_once() {
        let (p, store) = presence(pending(Some("bob@example.com")));
        let session = store.session().expect("session");
        // Someone else than the locked e-mail: nothing changes.
        let a = p.answer(&session, &scan(one_hot(0))).await.expect("answer");
        assert!(matches!(a, Answer::OtherPerson));
        let a = p.answer(&session, &scan(one_hot(1))).await.expect("answer");
        assert!(matches!(a, Answer::NotRecognised));
        assert_eq!(store.verified.lock().map(|n| *n).unwrap_or(9), 0);
        let org = OrgId::from_string("o");
        assert!(matches!(
            p.token(&org, &session.id, ISSUER, Algorithm::HS256).await,
            Err(TokenError::NotVerified)
        ));

        let (p, store) = presence(pending(Some("ANN@example.com")));
        let session = store.session().expect("session");
        let a = p.answer(&session, &scan(one_hot(0))).await.expect("answer");
        assert!(matches!(a, Answer::Verified(ref s) if s.status == PresenceStatus::Verified));
        let issued = p
            .token(&org, &session.id, ISSUER, Algorithm::HS256)
            .await
            .expect("a token");
        let check = TokenCheck {
            email: Some("ann@example.com"),
            nonce: Some("n1"),
            redeem: true,
            ..TokenCheck::default()
        };
        let claims = p
            .check_token(&org, &issued.token, check)
            .await
            .expect("checked")
            .expect("valid");
        assert_eq!(claims["iss"], "https://vouch.test");
        assert_eq!(claims["checks"]["liveness"], 0.9);
        let again = p.check_token(&org, &issued.token, check).await;
        assert!(matches!(again, Ok(Err("token already redeemed"))));
        let other = TokenCheck {
            org_id: Some("o2"),
            ..TokenCheck::default()
        };
        let elsewhere = p.check_token(&org, &issued.token, other).await;
        assert!(matches!(
            elsewhere,
            Ok(Err("token is for another organisation"))
        ));
        let wrong_nonce = TokenCheck {
            nonce: Some("n2"),
            ..TokenCheck::default()
        };
        let replay = p.check_token(&org, &issued.token, wrong_nonce).await;
        assert!(matches!(replay, Ok(Err("nonce does not match"))));
    }

    #[tokio::test]
    async fn an_expired_session_or_token_gives_no_token() {
        let mut expired = pending(None);
        expired.status = PresenceStatus::Expired;
        let (p, _) = presence(expired);
        let org = OrgId::from_string("o");
        let id = PresenceId::from_string("ps1");
        assert!(matches!(
            p.token(&org, &id, ISSUER, Algorithm::HS256).await,
            Err(TokenError::SessionOver(PresenceStatus::Expired))
        ));
        let mut old = pending(None);
        old.status = PresenceStatus::Verified;
        old.person_id = Some(PersonId::from_string("p1"));
        old.jti = Some("j".into());
        old.verified_at = Some(now_millis() - 301_000);
        let (p, _) = presence(old);
        assert!(matches!(
            p.token(&org, &id, ISSUER, Algorithm::HS256).await,
            Err(TokenError::TokenExpired)
        ));
        assert!(matches!(
            p.token(&OrgId::from_string("o2"), &id, ISSUER, Algorithm::HS256)
                .await,
            Err(TokenError::Core(Error::NotFound(_)))
        ));
    }
}
