//! Connecting, migrating and the keyring of a store.
//!
//! Size (over 800 lines): connecting, migrating, the keyring and the transaction helpers
//! every store module uses.

use crate::crypto::{self, Keyring, MasterKeySource, SecretKey, Slot};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor as _, Row};
use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use vouch_core::{Error, Result};

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (one node).
    Sqlite,
    /// PostgreSQL (one or many nodes).
    Postgres,
}

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Forward-only migrations, embedded in the binary.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "kyc_sessions",
        sqlite: include_str!("../migrations/sqlite/0002_kyc_sessions.sql"),
        postgres: include_str!("../migrations/postgres/0002_kyc_sessions.sql"),
    },
    Migration {
        version: 3,
        name: "session_evidence",
        sqlite: include_str!("../migrations/sqlite/0003_session_evidence.sql"),
        postgres: include_str!("../migrations/postgres/0003_session_evidence.sql"),
    },
    Migration {
        version: 4,
        name: "session_images",
        sqlite: include_str!("../migrations/sqlite/0004_session_images.sql"),
        postgres: include_str!("../migrations/postgres/0004_session_images.sql"),
    },
    Migration {
        version: 5,
        name: "biometric_identity",
        sqlite: include_str!("../migrations/sqlite/0005_biometric_identity.sql"),
        postgres: include_str!("../migrations/postgres/0005_biometric_identity.sql"),
    },
    Migration {
        version: 6,
        name: "presence",
        sqlite: include_str!("../migrations/sqlite/0006_presence.sql"),
        postgres: include_str!("../migrations/postgres/0006_presence.sql"),
    },
    Migration {
        version: 7,
        name: "alert_rules",
        sqlite: include_str!("../migrations/sqlite/0007_alert_rules.sql"),
        postgres: include_str!("../migrations/postgres/0007_alert_rules.sql"),
    },
    Migration {
        version: 8,
        name: "phone",
        sqlite: include_str!("../migrations/sqlite/0008_phone.sql"),
        postgres: include_str!("../migrations/postgres/0008_phone.sql"),
    },
    Migration {
        version: 9,
        name: "ory",
        sqlite: include_str!("../migrations/sqlite/0009_ory.sql"),
        postgres: include_str!("../migrations/postgres/0009_ory.sql"),
    },
    Migration {
        version: 10,
        name: "admin",
        sqlite: include_str!("../migrations/sqlite/0010_admin.sql"),
        postgres: include_str!("../migrations/postgres/0010_admin.sql"),
    },
    Migration {
        version: 11,
        name: "digital_id",
        sqlite: include_str!("../migrations/sqlite/0011_digital_id.sql"),
        postgres: include_str!("../migrations/postgres/0011_digital_id.sql"),
    },
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = 11;

/// How to open a store.
#[derive(Clone)]
pub struct StoreOptions {
    /// `sqlite://PATH` or `postgres://…`.
    pub url: String,
    /// Where the master key comes from.
    pub master_key: MasterKeySource,
    /// Most connections in the pool.
    pub max_connections: u32,
    /// How long a request waits for a connection before failing with 503.
    pub acquire_timeout: Duration,
    /// Apply pending migrations on open (the server does; `vouch migrate` does explicitly).
    pub migrate: bool,
}

impl StoreOptions {
    /// Options with the defaults for `url`.
    pub fn new(url: impl Into<String>, master_key: MasterKeySource) -> Self {
        StoreOptions {
            url: url.into(),
            master_key,
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
            migrate: true,
        }
    }
}

/// The store: a connection pool, its backend and the unwrapped data keys.
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
    keyring: RwLock<Arc<Keyring>>,
    master: MasterKeySource,
    /// SQLite: the rate counters of this database, kept in this process (see
    /// [`crate::ratelimit`]); PostgreSQL counts in the database.
    pub(crate) local_rates: Option<Arc<crate::ratelimit::LocalCounts>>,
    /// SQLite: one write transaction at a time in this process (see [`Store::begin_write`]).
    write_gate: Option<Arc<tokio::sync::Mutex<()>>>,
    /// Whoever holds this writes the queued session inserts (the write gate on SQLite).
    group_gate: Arc<tokio::sync::Mutex<()>>,
    /// Session inserts waiting for a group commit.
    pub(crate) insert_queue: crate::sessions::InsertQueue,
    /// The HS256 signing secret once read (it never changes once created): phone auth
    /// tokens are signed and checked on every flow call.
    pub(crate) hs256_cache: std::sync::RwLock<Option<(String, Vec<u8>)>>,
    /// Fails requests at once while the database is known to be unreachable.
    breaker: Breaker,
}

/// How long requests fail at once after the database could not be reached, before one
/// request tries again.
const OUTAGE_PROBE: Duration = Duration::from_millis(500);

/// A circuit breaker in front of the pool. When a connection cannot be had (the database
/// is down or restarting), every request would otherwise wait the whole acquire timeout
/// before its 503; instead, for [`OUTAGE_PROBE`] after a failure requests fail at once
/// (503 JSON, Retry-After), then one request tries the database again. The first
/// connection that works closes the breaker: no restart of vouch is needed.
#[derive(Default)]
struct Breaker {
    /// Milliseconds since the Unix epoch until which requests fail at once; 0: closed.
    open_until: std::sync::atomic::AtomicU64,
    /// When a connection was last had (ms since the epoch): an attempt that began before
    /// it and failed late (a probe waiting out the acquire timeout while the database
    /// came back) does not open the breaker again.
    last_ok: std::sync::atomic::AtomicU64,
}

impl Breaker {
    fn now_ms() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    /// Ok when a connection may be tried: the breaker is closed, or this caller won the
    /// right to probe once the open period ended.
    fn check(&self) -> Result<()> {
        use std::sync::atomic::Ordering::*;
        let until = self.open_until.load(Acquire);
        if until == 0 {
            return Ok(());
        }
        let now = Self::now_ms();
        let probe_until = now + OUTAGE_PROBE.as_millis() as u64;
        if now >= until
            && self
                .open_until
                .compare_exchange(until, probe_until, AcqRel, Acquire)
                .is_ok()
        {
            return Ok(());
        }
        Err(Error::Unavailable(
            "database unreachable (failing fast until it answers again)".into(),
        ))
    }

    /// Passes the outcome of a connection attempt begun at `started` (ms) through,
    /// opening the breaker on an outage unless a connection was had since.
    fn observe<T>(&self, started: u64, r: std::result::Result<T, sqlx::Error>) -> Result<T> {
        use std::sync::atomic::Ordering::*;
        match r {
            Ok(v) => {
                self.last_ok.fetch_max(Self::now_ms(), AcqRel);
                if self.open_until.swap(0, AcqRel) != 0 {
                    tracing::info!("database reachable again");
                }
                Ok(v)
            }
            Err(e) => {
                let outage = is_outage(&e);
                let e = db_err(e);
                if outage && self.last_ok.load(Acquire) < started {
                    let until = Self::now_ms() + OUTAGE_PROBE.as_millis() as u64;
                    if self.open_until.swap(until, AcqRel) == 0 {
                        tracing::error!(error = %e, "database unreachable: failing requests at once until it answers");
                    }
                }
                Err(e)
            }
        }
    }
}

/// A write transaction; derefs to its connection like [`sqlx::Transaction`]. On SQLite it
/// holds the store's write gate until committed or dropped.
///
/// It runs `BEGIN`/`COMMIT` itself rather than through [`sqlx::Transaction`]: when a
/// COMMIT fails (SQLite's disk full, a PostgreSQL connection lost mid-commit) sqlx's
/// transaction still counts the connection as inside a transaction, and back in the pool
/// every later `BEGIN` on it fails ("non-zero transaction depth") even once the disk has
/// room again. Here a transaction that did not commit closes its connection instead of
/// returning it to the pool (closing rolls back on both databases), so the pool only
/// ever holds clean connections.
pub(crate) struct WriteTx {
    conn: sqlx::pool::PoolConnection<sqlx::Any>,
    gate: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// Begun and not committed: the connection is closed on drop.
    open: bool,
}

impl WriteTx {
    async fn begin(
        mut conn: sqlx::pool::PoolConnection<sqlx::Any>,
        backend: Backend,
        gate: Option<tokio::sync::OwnedMutexGuard<()>>,
    ) -> std::result::Result<WriteTx, sqlx::Error> {
        let begin = match backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        if let Err(e) = conn.execute(begin).await {
            conn.close_on_drop();
            return Err(e);
        }
        Ok(WriteTx {
            conn,
            gate,
            open: true,
        })
    }

    /// Commits, then opens the gate.
    pub(crate) async fn commit(mut self) -> std::result::Result<(), sqlx::Error> {
        self.conn.execute("COMMIT").await?;
        self.open = false;
        Ok(())
    }

    /// Commits and hands back the gate it was begun under (see [`Store::begin_under`]).
    pub(crate) async fn commit_keeping_gate(
        mut self,
    ) -> std::result::Result<tokio::sync::OwnedMutexGuard<()>, sqlx::Error> {
        self.conn.execute("COMMIT").await?;
        self.open = false;
        self.gate
            .take()
            .ok_or_else(|| sqlx::Error::Protocol("transaction without a gate".into()))
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if self.open {
            // Rolled back by closing: the pool never gets a connection whose
            // transaction state is uncertain.
            self.conn.close_on_drop();
        }
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &sqlx::AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.conn
    }
}

pub(crate) fn db_err(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            Error::Unavailable("database unavailable".into())
        }
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            Error::Conflict("already exists".into())
        }
        sqlx::Error::Database(d) => match d.code().as_deref().and_then(unavailable_code) {
            Some(why) => Error::Unavailable(format!("{why}: {}", d.message())),
            None => Error::Internal(format!("database: {e}")),
        },
        sqlx::Error::RowNotFound => Error::NotFound("row"),
        _ => Error::Internal(format!("database: {e}")),
    }
}

/// The database cannot be reached (as opposed to busy, full or refusing a statement):
/// what opens the [`Breaker`].
fn is_outage(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.len() == 5 && (c.starts_with("08") || c.starts_with("57P"))),
        _ => false,
    }
}

/// Database error codes that mean "the database cannot serve now, try again" rather than
/// "this request is wrong": PostgreSQL's SQLSTATEs for lost connections, shutdowns and
/// exhausted resources, SQLite's result codes for a full disk or failing I/O (the
/// transaction was rolled back: nothing half-written). Answered 503 with Retry-After.
fn unavailable_code(code: &str) -> Option<&'static str> {
    // PostgreSQL: five-character SQLSTATEs.
    if code.len() == 5 {
        return match code {
            c if c.starts_with("08") => Some("database connection lost"),
            "57P01" | "57P02" => Some("database shutting down"),
            "57P03" => Some("database starting up"),
            "53100" => Some("database disk full"),
            c if c.starts_with("53") => Some("database out of resources"),
            _ => None,
        };
    }
    // SQLite: an extended result code, whose low byte is the primary code.
    match code.parse::<u32>().ok()? & 0xff {
        13 => Some("database disk full (SQLITE_FULL): free space in the data directory"),
        10 => Some("database I/O error (SQLITE_IOERR)"),
        5 | 6 => Some("database busy"),
        14 => Some("database file cannot be opened"),
        _ => None,
    }
}

impl Store {
    /// Opens (and by default migrates) the database at `opts.url`, then loads the
    /// keyring, creating the first data keys on a new database.
    pub async fn open(opts: StoreOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend =
            if opts.url.starts_with("postgres://") || opts.url.starts_with("postgresql://") {
                Backend::Postgres
            } else if opts.url.starts_with("sqlite:") {
                Backend::Sqlite
            } else {
                return Err(Error::Invalid(
                    "database URL must start with sqlite: or postgres://".into(),
                ));
            };
        let connect = AnyConnectOptions::from_str(&opts.url)
            .map_err(|e| Error::Invalid(format!("database URL: {e}")))?;
        let max = match backend {
            Backend::Sqlite => opts.max_connections.min(8),
            Backend::Postgres => opts.max_connections,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(opts.acquire_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets the CLI and the server share the file; FULL makes every
                        // commit durable before it is acknowledged.
                        for pragma in [
                            "PRAGMA journal_mode=WAL",
                            "PRAGMA busy_timeout=10000",
                            "PRAGMA foreign_keys=ON",
                            "PRAGMA synchronous=FULL",
                        ] {
                            conn.execute(pragma).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(connect)
            .await
            .map_err(|e| Error::Unavailable(format!("cannot connect to the database: {e}")))?;
        if opts.migrate {
            migrate(&pool, backend).await?;
        } else {
            let v = schema_version(&pool).await?;
            if v != SCHEMA_VERSION {
                return Err(Error::Conflict(format!(
                    "database schema is at version {v}, this vouch needs {SCHEMA_VERSION}: run `vouch migrate`"
                )));
            }
        }
        let master = opts.master_key.clone();
        let master_key = master.load()?;
        let keyring = load_keyring(&pool, backend, &master, &master_key).await?;
        let write_gate: Option<Arc<tokio::sync::Mutex<()>>> =
            (backend == Backend::Sqlite).then(Default::default);
        let local_rates = (backend == Backend::Sqlite)
            .then(|| crate::ratelimit::LocalCounts::for_database(&opts.url));
        Ok(Store {
            pool,
            backend,
            keyring: RwLock::new(Arc::new(keyring)),
            master,
            local_rates,
            group_gate: write_gate.clone().unwrap_or_default(),
            write_gate,
            insert_queue: Default::default(),
            hs256_cache: Default::default(),
            breaker: Breaker::default(),
        })
    }

    /// Begins a write transaction. SQLite lets one writer in at a time and makes the others
    /// retry in sleeps of growing length (its busy handler), which under load costs more
    /// than the writes; writers of this process queue here instead, in order, and only
    /// one at a time asks SQLite for the write lock. PostgreSQL writes in parallel.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx> {
        let gate = match &self.write_gate {
            Some(g) => Some(g.clone().lock_owned().await),
            None => None,
        };
        self.begin_tx(gate).await
    }

    /// A transaction that takes SQLite's write lock at once (`BEGIN IMMEDIATE`, waiting
    /// up to the busy timeout). A deferred transaction that reads first would fail with
    /// "database is locked", without waiting, if an autocommit write of another
    /// connection (housekeeping deletes) landed between its read and its first write.
    async fn begin_tx(&self, gate: Option<tokio::sync::OwnedMutexGuard<()>>) -> Result<WriteTx> {
        self.breaker.check()?;
        let started = Breaker::now_ms();
        let tx = match self.pool.acquire().await {
            Ok(conn) => WriteTx::begin(conn, self.backend, gate).await,
            Err(e) => Err(e),
        };
        self.breaker.observe(started, tx)
    }

    /// A connection from the pool, for reads and single statements (failing at once
    /// while the database is known to be down: see [`Breaker`]).
    pub(crate) async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        self.breaker.check()?;
        let started = Breaker::now_ms();
        let conn = self.pool.acquire().await;
        self.breaker.observe(started, conn)
    }

    /// Begins a write transaction under a gate already held (the group commit's).
    pub(crate) async fn begin_under(
        &self,
        gate: tokio::sync::OwnedMutexGuard<()>,
    ) -> Result<WriteTx> {
        self.begin_tx(Some(gate)).await
    }

    /// The gate of session group commits.
    pub(crate) fn group_gate(&self) -> Arc<tokio::sync::Mutex<()>> {
        self.group_gate.clone()
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Rewrites `$1`-style placeholders for SQLite (`?1`, which binds by number).
    pub(crate) fn sql<'a>(&self, q: &'a str) -> Cow<'a, str> {
        match self.backend {
            Backend::Postgres => Cow::Borrowed(q),
            Backend::Sqlite => Cow::Owned(q.replace('$', "?")),
        }
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&mut *self.conn().await?)
            .await
            .map(|_| ())
            .map_err(db_err)
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn keyring(&self) -> Arc<Keyring> {
        match self.keyring.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Seals a value for a slot with the active data key.
    pub fn seal(&self, slot: Slot<'_>, plaintext: &[u8]) -> Result<Vec<u8>> {
        self.keyring().seal(slot, plaintext)
    }

    /// Opens a sealed value, reloading the keyring once if another process (a key
    /// rotation) added a data key this one has not seen.
    pub async fn open_sealed(&self, slot: Slot<'_>, blob: &[u8]) -> Result<Vec<u8>> {
        let ring = self.keyring();
        if let Some(id) = Keyring::key_id_of(blob) {
            if !ring.has_key(id) {
                self.reload_keyring().await?;
                return self.keyring().open(slot, blob);
            }
        }
        ring.open(slot, blob)
    }

    /// Opens an optional sealed text column.
    pub(crate) async fn open_text(
        &self,
        slot: Slot<'_>,
        blob: Option<Vec<u8>>,
    ) -> Result<Option<String>> {
        match blob {
            None => Ok(None),
            Some(b) => {
                let raw = self.open_sealed(slot, &b).await?;
                String::from_utf8(raw)
                    .map(Some)
                    .map_err(|_| Error::Internal("sealed text is not UTF-8".into()))
            }
        }
    }

    /// Blind index of a value.
    pub fn blind_index(&self, purpose: &str, value: &str) -> String {
        self.keyring().blind_index(purpose, value)
    }

    async fn reload_keyring(&self) -> Result<()> {
        let master_key = self.master.load()?;
        let ring = load_keyring(&self.pool, self.backend, &self.master, &master_key).await?;
        match self.keyring.write() {
            Ok(mut g) => *g = Arc::new(ring),
            Err(p) => *p.into_inner() = Arc::new(ring),
        }
        Ok(())
    }

    /// Re-wraps every data key under `new_master` and starts a new active data key, in one
    /// transaction. Values sealed before stay readable (their data keys are kept). Returns
    /// the number of data keys re-wrapped.
    pub async fn rotate_master_key(&self, new_master: &SecretKey) -> Result<usize> {
        let old_master = self.master.load()?;
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("LOCK TABLE data_keys IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        let rows = sqlx::query("SELECT id, wrapped FROM data_keys ORDER BY id")
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        let now = vouch_core::now_millis();
        let fp = new_master.fingerprint();
        let mut max_id = 0i64;
        for row in &rows {
            let id: i64 = row.try_get("id").map_err(db_err)?;
            let wrapped: Vec<u8> = row.try_get("wrapped").map_err(db_err)?;
            let dk = crypto::unwrap(&old_master, id, &wrapped)?;
            let rewrapped = crypto::wrap(new_master, id, &dk)?;
            sqlx::query(
                &self.sql("UPDATE data_keys SET wrapped = $1, master_fp = $2 WHERE id = $3"),
            )
            .bind(rewrapped)
            .bind(&fp)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            max_id = max_id.max(id);
        }
        sqlx::query("UPDATE data_keys SET active = 0 WHERE purpose = 'data'")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let new_id = max_id + 1;
        let dk = SecretKey::generate();
        sqlx::query(&self.sql(
            "INSERT INTO data_keys (id, purpose, wrapped, master_fp, active, created_at) VALUES ($1, 'data', $2, $3, 1, $4)",
        ))
        .bind(new_id)
        .bind(crypto::wrap(new_master, new_id, &dk)?)
        .bind(&fp)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(rows.len())
    }
}

async fn schema_version(pool: &AnyPool) -> Result<i64> {
    let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
        .fetch_one(pool)
        .await;
    match row {
        Ok(r) => r.try_get::<i64, _>("v").map_err(db_err),
        Err(sqlx::Error::Database(_)) => Ok(0),
        Err(e) => Err(db_err(e)),
    }
}

/// Applies pending migrations. On PostgreSQL an advisory lock keeps nodes that start
/// together from migrating twice. Refuses a database newer than this build.
async fn migrate(pool: &AnyPool, backend: Backend) -> Result<()> {
    let mut conn = pool.acquire().await.map_err(db_err)?;
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_lock(774101)")
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
    }
    let result = async {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        let current: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?
            .try_get("v")
            .map_err(db_err)?;
        if current > SCHEMA_VERSION {
            return Err(Error::Conflict(format!(
                "database schema is at version {current}, newer than this vouch ({SCHEMA_VERSION}); upgrade vouch"
            )));
        }
        // SQLite rebuilds tables to change constraints; foreign keys are off while
        // migrations run (the pragma is a no-op inside a transaction) and checked
        // before each commit.
        if backend == Backend::Sqlite {
            sqlx::raw_sql("PRAGMA foreign_keys=OFF")
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
        for m in MIGRATIONS.iter().filter(|m| m.version > current) {
            let body = match backend {
                Backend::Sqlite => m.sqlite,
                Backend::Postgres => m.postgres,
            };
            let record = match backend {
                Backend::Sqlite => "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                Backend::Postgres => "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            };
            let begin = match backend {
                Backend::Sqlite => "BEGIN IMMEDIATE",
                Backend::Postgres => "BEGIN",
            };
            sqlx::raw_sql(begin).execute(&mut *conn).await.map_err(db_err)?;
            let applied = async {
                sqlx::raw_sql(body).execute(&mut *conn).await?;
                if backend == Backend::Sqlite {
                    let broken = sqlx::raw_sql("PRAGMA foreign_key_check")
                        .fetch_all(&mut *conn)
                        .await?;
                    if !broken.is_empty() {
                        return Err(sqlx::Error::Protocol(format!(
                            "{} rows break foreign keys",
                            broken.len()
                        )));
                    }
                }
                sqlx::query(record)
                    .bind(m.version)
                    .bind(m.name)
                    .bind(vouch_core::now_millis())
                    .execute(&mut *conn)
                    .await?;
                sqlx::raw_sql("COMMIT").execute(&mut *conn).await?;
                Ok::<_, sqlx::Error>(())
            }
            .await;
            if let Err(e) = applied {
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
                return Err(Error::Internal(format!("migration {} ({}) failed: {e}", m.version, m.name)));
            }
            tracing::info!(version = m.version, name = m.name, "applied migration");
        }
        Ok(())
    }
    .await;
    if backend == Backend::Sqlite {
        // The connection goes back to the pool: foreign keys on again, whatever happened.
        if let Err(e) = sqlx::raw_sql("PRAGMA foreign_keys=ON")
            .execute(&mut *conn)
            .await
        {
            tracing::warn!(error = %e, "could not re-enable foreign keys; connection dropped");
            conn.detach();
            return result;
        }
    }
    if backend == Backend::Postgres {
        let _ = sqlx::query("SELECT pg_advisory_unlock(774101)")
            .execute(&mut *conn)
            .await;
    }
    result
}

async fn load_keyring(
    pool: &AnyPool,
    backend: Backend,
    source: &MasterKeySource,
    master: &SecretKey,
) -> Result<Keyring> {
    let select = "SELECT id, purpose, wrapped, active FROM data_keys ORDER BY id";
    let mut rows = sqlx::query(select).fetch_all(pool).await.map_err(db_err)?;
    if rows.is_empty() {
        // First start: two keys, one to seal and one for blind indexes. Fixed ids, one
        // statement (so that no node sees one key without the other) and ON CONFLICT make
        // concurrent first starts of several nodes agree.
        let now = vouch_core::now_millis();
        let insert = match backend {
            Backend::Sqlite => "INSERT INTO data_keys (id, purpose, wrapped, master_fp, active, created_at) VALUES (1, 'data', ?1, ?3, 1, ?4), (2, 'index', ?2, ?3, 1, ?4) ON CONFLICT (id) DO NOTHING",
            Backend::Postgres => "INSERT INTO data_keys (id, purpose, wrapped, master_fp, active, created_at) VALUES (1, 'data', $1, $3, 1, $4), (2, 'index', $2, $3, 1, $4) ON CONFLICT (id) DO NOTHING",
        };
        sqlx::query(insert)
            .bind(crypto::wrap(master, 1, &SecretKey::generate())?)
            .bind(crypto::wrap(master, 2, &SecretKey::generate())?)
            .bind(master.fingerprint())
            .bind(now)
            .execute(pool)
            .await
            .map_err(db_err)?;
        rows = sqlx::query(select).fetch_all(pool).await.map_err(db_err)?;
    }
    let mut keys = HashMap::new();
    let mut active = None;
    let mut index_key = None;
    for row in rows {
        let id: i64 = row.try_get("id").map_err(db_err)?;
        let purpose: String = row.try_get("purpose").map_err(db_err)?;
        let wrapped: Vec<u8> = row.try_get("wrapped").map_err(db_err)?;
        let is_active: i64 = row.try_get("active").map_err(db_err)?;
        let key = crypto::unwrap(master, id, &wrapped).map_err(|e| match source {
            MasterKeySource::File(p) => Error::Internal(format!("{e} (key file {})", p.display())),
            MasterKeySource::Given(_) => e,
        })?;
        let id32 =
            u32::try_from(id).map_err(|_| Error::Internal("data key id out of range".into()))?;
        if purpose == "index" {
            index_key = Some(key);
        } else {
            if is_active == 1 {
                active = Some(id32);
            }
            keys.insert(id32, key);
        }
    }
    let active = active.ok_or_else(|| Error::Internal("no active data key".into()))?;
    let index_key = index_key.ok_or_else(|| Error::Internal("no blind-index key".into()))?;
    Ok(Keyring::new(keys, active, index_key))
}

#[cfg(test)]
mod tests {
    use super::unavailable_code;

    #[test]
    fn outage_codes_are_told_from_request_errors() {
        // PostgreSQL: lost connection, shutdown, startup, full disk → unavailable.
        for code in [
            "08006", "08003", "57P01", "57P02", "57P03", "53100", "53300",
        ] {
            assert!(unavailable_code(code).is_some(), "{code}");
        }
        // A constraint or syntax error is the request's (or our) fault, not an outage.
        for code in ["23503", "42601", "22P02"] {
            assert!(unavailable_code(code).is_none(), "{code}");
        }
        // SQLite: SQLITE_FULL, SQLITE_IOERR_WRITE (778), SQLITE_BUSY → unavailable;
        // SQLITE_CONSTRAINT_FOREIGNKEY (787) is not.
        for code in ["13", "778", "5"] {
            assert!(unavailable_code(code).is_some(), "{code}");
        }
        assert!(unavailable_code("787").is_none());
        assert!(unavailable_code("not a code").is_none());
    }
}
