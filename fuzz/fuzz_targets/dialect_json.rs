//! Fuzzes the request bodies of every dialect: KYC sessions (create, review, the hosted
//! page's steps), the phone API v3 and its client SDK, biometric identity, human
//! presence, the Ory Kratos hooks and the OAuth token form. The first byte picks the
//! endpoint (`vouch_server::fuzzing::ENDPOINTS`), the rest is the body, sent through the
//! whole application (extractors, checks, handlers) over a throwaway SQLite store. No
//! body may panic or answer 500. `@org@`, `@flow@`, `@auth@`, `@client@`, `@secret@` in a
//! body become the organisation, a fresh phone flow's id and authToken, and the OAuth
//! client's credentials, so that bodies reach past "unknown flow".
//! The database lives in `$TMPDIR` (`scripts/fuzz.sh` points it at a folder it removes).
//! Run: `scripts/fuzz.sh dialect_json [seconds]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use vouch_server::fuzzing::{Dialects, ENDPOINTS};

fn dialects() -> &'static Dialects {
    static APP: OnceLock<Dialects> = OnceLock::new();
    APP.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("vouch-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a database folder");
        Dialects::open(&dir)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let endpoint = &ENDPOINTS[usize::from(pick) % ENDPOINTS.len()];
    let answer = dialects().send(endpoint, body);
    // 500 is what a handler's unexpected error (or a caught panic) answers; 503 (no
    // models) and the other 5xx are expected outcomes.
    assert!(
        answer.status != 500,
        "{} answered {}: {}",
        endpoint.path,
        answer.status,
        answer.body
    );
});
