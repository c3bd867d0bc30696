//! Fuzzes Standard Webhooks verification: any secret, id, timestamp, signature header
//! and body give true or false, never a panic. A signature made by `standard_signature`
//! always verifies, and the same header with one byte changed never does.
//! Input: lines `secret`, `msg id`, `timestamp`, `now`, `header`, then the body; a line
//! that does not parse as a number reads as 0.
//! Run: `scripts/fuzz.sh webhook_verify [seconds]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_core::webhook::{decode_secret, standard_signature, verify_standard};

const TOLERANCE: i64 = 300;

fn field<'a>(rest: &mut &'a [u8]) -> &'a [u8] {
    match rest.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let (line, tail) = rest.split_at(i);
            *rest = &tail[1..];
            line
        }
        None => std::mem::take(rest),
    }
}

fn number(line: &[u8]) -> i64 {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let secret = String::from_utf8_lossy(field(&mut rest)).into_owned();
    let msg_id = String::from_utf8_lossy(field(&mut rest)).into_owned();
    let timestamp = number(field(&mut rest));
    let now = number(field(&mut rest));
    let header = String::from_utf8_lossy(field(&mut rest)).into_owned();
    let body = rest;

    let key = decode_secret(&secret);
    let _ = verify_standard(&secret, &msg_id, timestamp, body, &header, now, TOLERANCE);

    let Ok(sig) = standard_signature(&secret, &msg_id, timestamp, body) else {
        assert!(key.is_err(), "a secret that decodes signs");
        return;
    };
    assert!(key.is_ok());
    assert!(sig.starts_with("v1,"));
    // Round trip: the signature verifies at its own time, and among other candidates.
    assert!(verify_standard(
        &secret, &msg_id, timestamp, body, &sig, timestamp, 0
    ));
    let listed = format!("v1,bogus {sig}");
    assert!(verify_standard(
        &secret, &msg_id, timestamp, body, &listed, timestamp, TOLERANCE
    ));
    // One byte changed (picked by the header's length) never verifies.
    let mut tampered = sig.clone().into_bytes();
    let i = header.len() % tampered.len();
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ASCII");
    assert!(!verify_standard(
        &secret, &msg_id, timestamp, body, &tampered, timestamp, TOLERANCE
    ));
    // Nor does the signature of another body or another id.
    let mut other = body.to_vec();
    other.push(b'x');
    assert!(!verify_standard(
        &secret, &msg_id, timestamp, &other, &sig, timestamp, TOLERANCE
    ));
    assert!(!verify_standard(
        &secret,
        &format!("{msg_id}x"),
        timestamp,
        body,
        &sig,
        timestamp,
        TOLERANCE
    ));
});
