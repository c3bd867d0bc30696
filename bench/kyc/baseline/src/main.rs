//! The bare baseline for `bench/kyc/run.sh`: one route, `POST /api/v1/verify`, that checks
//! `Authorization: Bearer <key>` against a fixed key (constant-time) and inserts one row
//! into SQLite, then answers 201 with a small JSON.
//!
//! The database is opened the way vouch's store opens it (crates/store/src/db.rs): the
//! sqlx `Any` driver, a pool of at most 8 connections, and on every connection
//! `journal_mode=WAL`, `busy_timeout=10000`, `foreign_keys=ON`, `synchronous=FULL`.
//!
//! Usage: `vouch-bare-baseline [ADDR] [DB_PATH]` (or `BASELINE_LISTEN`, `BASELINE_DB`,
//! `BASELINE_KEY`); defaults 127.0.0.1:8090, ./baseline.db, `bench-key`.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor as _};
use subtle::ConstantTimeEq as _;

#[derive(Clone)]
struct App {
    pool: AnyPool,
    key: Arc<[u8]>,
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn authorised(headers: &HeaderMap, key: &[u8]) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return false;
    };
    let Some(given) = value.as_bytes().strip_prefix(b"Bearer ") else {
        return false;
    };
    given.len() == key.len() && bool::from(given.ct_eq(key))
}

async fn create(State(app): State<App>, headers: HeaderMap, body: String) -> Response {
    if !authorised(&headers, &app.key) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "unauthorized"})),
        )
            .into_response();
    }
    let id = uuid::Uuid::now_v7().to_string();
    let inserted = sqlx::query("INSERT INTO sessions (id, created_at, body) VALUES (?, ?, ?)")
        .bind(id.clone())
        .bind(now_millis())
        .bind(body)
        .execute(&app.pool)
        .await;
    match inserted {
        Ok(_) => (
            StatusCode::CREATED,
            Json(serde_json::json!({"sessionId": id, "status": "pending"})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listen = args
        .next()
        .or_else(|| std::env::var("BASELINE_LISTEN").ok())
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let db = args
        .next()
        .or_else(|| std::env::var("BASELINE_DB").ok())
        .unwrap_or_else(|| "baseline.db".into());
    let key = std::env::var("BASELINE_KEY").unwrap_or_else(|_| "bench-key".into());

    sqlx::any::install_default_drivers();
    let connect = AnyConnectOptions::from_str(&format!("sqlite://{db}?mode=rwc"))?;
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(3))
        .after_connect(|conn, _| {
            Box::pin(async move {
                for pragma in [
                    "PRAGMA journal_mode=WAL",
                    "PRAGMA busy_timeout=10000",
                    "PRAGMA foreign_keys=ON",
                    "PRAGMA synchronous=FULL",
                ] {
                    conn.execute(pragma).await?;
                }
                Ok(())
            })
        })
        .connect_with(connect)
        .await?;
    pool.execute(
        "CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, created_at BIGINT NOT NULL, body TEXT NOT NULL)",
    )
    .await?;

    let app = Router::new()
        .route("/api/v1/verify", post(create))
        .with_state(App {
            pool,
            key: Arc::from(key.into_bytes()),
        });
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("baseline listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
