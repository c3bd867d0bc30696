//! Webhook signing (Standard Webhooks and the dialects' hex HMAC headers) and the retry
//! schedule of the outbox.

use crate::Millis;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC accepts keys of any length, so new_from_slice cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// Decodes a `whsec_…` secret into its key bytes.
pub fn decode_secret(secret: &str) -> crate::Result<Vec<u8>> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = STANDARD
        .decode(b64)
        .map_err(|_| crate::Error::Invalid("webhook secret is not valid base64".into()))?;
    if key.is_empty() {
        return Err(crate::Error::Invalid("webhook secret is empty".into()));
    }
    Ok(key)
}

/// The `webhook-signature` value: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`
/// under the decoded secret.
pub fn standard_signature(
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> crate::Result<String> {
    let key = decode_secret(secret)?;
    let ts = timestamp.to_string();
    let sig = hmac(&key, &[msg_id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    Ok(format!("v1,{}", STANDARD.encode(sig)))
}

/// Verifies a `webhook-signature` header (any of its space-separated `v1,` entries) and
/// that the timestamp is within `tolerance_secs` of `now_secs`.
pub fn verify_standard(
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    header: &str,
    now_secs: i64,
    tolerance_secs: i64,
) -> bool {
    // abs_diff: the timestamp comes from a header, and no i64 may overflow the check.
    let fresh = u64::try_from(tolerance_secs).is_ok_and(|t| now_secs.abs_diff(timestamp) <= t);
    if !fresh {
        return false;
    }
    let Ok(expected) = standard_signature(secret, msg_id, timestamp, body) else {
        return false;
    };
    header.split(' ').any(|candidate| {
        crate::credential::constant_time_eq(candidate.as_bytes(), expected.as_bytes())
    })
}

/// The dialect header value (`X-KYC-Signature`, `x-proof-signature`): hex HMAC-SHA256 of
/// the raw body keyed by the secret string exactly as shown to the user, `whsec_` and
/// all, as the specs' Node examples compute it.
pub fn hex_signature(secret: &str, body: &[u8]) -> String {
    hex::encode(hmac(secret.as_bytes(), &[body]))
}

/// The issuer of phone change-event JWTs, as the phone API's webhook guide names it
/// (receivers written for it check `iss`).
pub const PHONE_JWT_ISSUER: &str = "Prove Identity";

/// The `X-Prove-Authorization` value of a phone change-event delivery: `Bearer` and an
/// HS256 JWT signed with the webhook secret, with `iss`, `iat`, `exp` (+5 minutes), `jti`
/// (the event id) and `body_sha256` (hex SHA-256 of the exact body).
pub fn phone_jwt(secret: &str, event_id: &str, now_secs: i64, body: &[u8]) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use sha2::Digest as _;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "iss": PHONE_JWT_ISSUER,
        "iat": now_secs,
        "exp": now_secs + 300,
        "jti": event_id,
        "body_sha256": hex::encode(sha2::Sha256::digest(body)),
    });
    let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = hmac(secret.as_bytes(), &[input.as_bytes()]);
    format!("Bearer {input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// When to try a failed delivery again.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The first retry's delay; each later one is four times the one before.
    pub base_ms: Millis,
    /// The longest single delay.
    pub max_delay_ms: Millis,
    /// After this long since the event, the delivery is dead-lettered.
    pub max_age_ms: Millis,
}

impl Default for RetryPolicy {
    /// 5 s, 20 s, 80 s, ~5 min, ~21 min, ~85 min, then every 6 h, for 24 hours.
    fn default() -> Self {
        RetryPolicy {
            base_ms: 5_000,
            max_delay_ms: 6 * 3_600_000,
            max_age_ms: 24 * 3_600_000,
        }
    }
}

impl RetryPolicy {
    /// The time of the next attempt after `attempts` failed ones, or `None` when the
    /// delivery has run out of time and goes to the dead letters. `jitter` in [0, 1)
    /// spreads retries ±25 % so that a recovering receiver is not hit all at once;
    /// `retry_after_ms` (from a `Retry-After` header) is honoured as a lower bound.
    pub fn next_attempt(
        &self,
        attempts: u32,
        created_at: Millis,
        now: Millis,
        jitter: f64,
        retry_after_ms: Option<Millis>,
    ) -> Option<Millis> {
        let exp = attempts.saturating_sub(1).min(20);
        let raw = self.base_ms.saturating_mul(4i64.saturating_pow(exp));
        let capped = raw.min(self.max_delay_ms) as f64;
        let jittered = (capped * (0.75 + 0.5 * jitter.clamp(0.0, 1.0))) as Millis;
        let delay = jittered.max(retry_after_ms.unwrap_or(0)).max(1);
        let at = now.saturating_add(delay);
        (at <= created_at.saturating_add(self.max_age_ms)).then_some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test vector from the Standard Webhooks reference libraries.
    #[test]
    fn standard_signature_matches_reference_vector() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let sig = standard_signature(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn verify_rejects_tampering_and_stale_timestamps() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let sig = standard_signature(secret, "msg_1", 1000, b"body").unwrap();
        let header = format!("v1,bogus {sig}");
        assert!(verify_standard(
            secret, "msg_1", 1000, b"body", &header, 1010, 300
        ));
        assert!(!verify_standard(
            secret, "msg_1", 1000, b"bodx", &header, 1010, 300
        ));
        assert!(!verify_standard(
            secret, "msg_1", 1000, b"body", &header, 2000, 300
        ));
    }

    // Regression: a timestamp far from now (any i64 a header can carry) overflowed the
    // freshness check, a panic instead of false (fuzz/seeds/webhook_verify/extreme-timestamp).
    #[test]
    fn verify_survives_extreme_timestamps() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        for (ts, now) in [
            (i64::MIN, 0),
            (i64::MAX, -1),
            (0, i64::MIN),
            (i64::MIN, i64::MAX),
        ] {
            let sig = standard_signature(secret, "msg_1", ts, b"body").unwrap();
            assert!(!verify_standard(
                secret, "msg_1", ts, b"body", &sig, now, 300
            ));
        }
        let sig = standard_signature(secret, "msg_1", i64::MIN, b"body").unwrap();
        assert!(verify_standard(
            secret,
            "msg_1",
            i64::MIN,
            b"body",
            &sig,
            i64::MIN,
            0
        ));
        assert!(!verify_standard(
            secret, "msg_1", 1000, b"body", &sig, 1000, -1
        ));
    }

    #[test]
    fn hex_signature_is_keyed_by_the_secret_string() {
        // echo -n 'hello' | openssl dgst -sha256 -hmac 'whsec_abc'
        assert_eq!(
            hex_signature("whsec_abc", b"hello"),
            hex::encode(hmac(b"whsec_abc", &[b"hello"]))
        );
        assert_eq!(
            hex_signature("key", b"The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn retries_grow_and_stop_after_a_day() {
        let p = RetryPolicy::default();
        let first = p.next_attempt(1, 0, 0, 0.5, None).unwrap();
        let second = p.next_attempt(2, 0, 0, 0.5, None).unwrap();
        assert_eq!(first, 5_000);
        assert_eq!(second, 20_000);
        assert!(p.next_attempt(30, 0, 23 * 3_600_000, 0.5, None).is_none());
        let honoured = p.next_attempt(1, 0, 0, 0.5, Some(60_000)).unwrap();
        assert_eq!(honoured, 60_000);
    }
}

/// A webhook body as JavaScript writes it: `JSON.stringify(JSON.parse(body)) === body`, so
/// a receiver that verifies the signature over its framework's re-serialised body (the
/// KYC spec's Express example) sees exactly the bytes vouch signed. Strings are escaped as
/// both write them; numbers follow ECMAScript's `Number::toString` (`28`, not `28.0`; `0`
/// for `-0`; `1e+21`; `0.000001`); object keys come in the order JavaScript keeps them
/// (array-index keys first, ascending, then the others in the map's order).
pub fn wire_json(v: &serde_json::Value) -> String {
    let mut out = String::new();
    write_js(v, &mut out);
    out
}

fn write_js(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&js_number(i as f64, Some(i.to_string()))),
            (_, Some(u), _) => out.push_str(&js_number(u as f64, Some(u.to_string()))),
            (_, _, Some(f)) => out.push_str(&js_number(f, None)),
            _ => out.push_str("null"),
        },
        Value::String(s) => out.push_str(&Value::String(s.clone()).to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_js(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let index = |k: &str| -> Option<u32> {
                let n: u32 = k.parse().ok()?;
                (n != u32::MAX && n.to_string() == k).then_some(n)
            };
            let mut keys: Vec<(&String, &Value)> = map.iter().collect();
            // Array-index keys first in ascending order; the sort is stable, so the other
            // keys keep the map's order.
            keys.sort_by_key(|(k, _)| match index(k) {
                Some(n) => (0u8, n),
                None => (1u8, 0),
            });
            out.push('{');
            for (i, (k, item)) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_js(item, out);
            }
            out.push('}');
        }
    }
}

/// ECMAScript `Number::toString(x)` for a finite double. `exact` is the integer's own
/// digits when the JSON had an integer (JavaScript reads it as the nearest double).
fn js_number(x: f64, exact: Option<String>) -> String {
    if !x.is_finite() {
        return "null".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    if let Some(digits) = exact {
        // Integers JavaScript holds exactly print as themselves.
        if x.abs() < 9_007_199_254_740_992.0 {
            return digits;
        }
    }
    // Shortest round-trip digits and exponent, from Rust's `{:e}` (for example
    // `-1.2345e-7`): x = 0.d1d2…dk × 10^n in ECMAScript's terms.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let k = digits.len() as i64;
    let n = exp.parse::<i64>().unwrap_or(0) + 1;
    let sign = if x < 0.0 { "-" } else { "" };
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let e = if e >= 0 {
            format!("+{e}")
        } else {
            e.to_string()
        };
        if k == 1 {
            format!("{digits}e{e}")
        } else {
            format!("{}.{}e{e}", &digits[..1], &digits[1..])
        }
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod wire_json_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_are_written_as_javascript_writes_them() {
        // Expected values are what node prints for JSON.stringify(JSON.parse(...)).
        for (x, js) in [
            (28.0, "28"),
            (-0.0, "0"),
            (0.5, "0.5"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (1.5e-10, "1.5e-10"),
            (1e21, "1e+21"),
            (1.2345e21, "1.2345e+21"),
            (123456789012345680000.0, "123456789012345680000"),
            (9007199254740992.0, "9007199254740992"),
            (1e16, "10000000000000000"),
            (-12.75, "-12.75"),
            (0.857, "0.857"),
            (100.0, "100"),
        ] {
            assert_eq!(wire_json(&json!(x)), js, "{x:e}");
        }
        assert_eq!(wire_json(&json!(42)), "42");
        assert_eq!(wire_json(&json!(-7)), "-7");
        assert_eq!(wire_json(&json!(u64::MAX)), "18446744073709552000");
    }

    #[test]
    fn objects_keep_javascript_key_order_and_strings_escape_alike() {
        let v = json!({"b": 1, "a": [true, null, "x\"\\\n\u{1}é\u{2028}"], "10": 0, "2": 28.0, "-1": 1, "01": 2});
        assert_eq!(
            wire_json(&v),
            "{\"2\":28,\"10\":0,\"-1\":1,\"01\":2,\"a\":[true,null,\"x\\\"\\\\\\n\\u0001é\u{2028}\"],\"b\":1}"
        );
    }
}
