//! Webhook bodies verified the way the KYC spec's receiver does it, by Node itself:
//! Express parses the body, the handler computes the HMAC over `JSON.stringify(req.body)`
//! and compares it with `X-KYC-Signature`. That only works when re-serialising gives back
//! the exact bytes vouch signed. Hundreds of sessions with generated results (whole and
//! fractional scores, negative zero, large and tiny numbers, every decision, metadata
//! with awkward strings and numeric keys) go through the code that builds the bytes
//! (`webhook_body` then `wire_json`) and the code that signs them (`hex_signature`).
//! Needs `node` on the PATH (scripts/install-deps.sh installs it); says so and skips
//! without it.

use serde_json::{json, Map, Value};
use std::io::Write as _;
use std::process::{Command, Stdio};
use vouch_core::check::Check;
use vouch_core::ids::{KeyId, OrgId, SessionId};
use vouch_core::session::{Decision, SessionStatus, VerificationSession};
use vouch_core::webhook::{hex_signature, wire_json};

/// A small deterministic generator (xorshift), so a failure can be reproduced.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[(self.next() % xs.len() as u64) as usize]
    }

    fn number(&mut self) -> f64 {
        let awkward = [
            28.0,
            -0.0,
            0.0,
            1.0,
            0.5,
            0.857,
            0.1 + 0.2,
            1e-7,
            0.000001,
            1e21,
            1e16,
            12345.678,
            -3.25,
            9007199254740993.0,
            0.97,
            99.99999999,
        ];
        if self.next().is_multiple_of(3) {
            self.pick(&awkward)
        } else {
            (self.next() % 100_000) as f64 / 1000.0
        }
    }
}

fn session(g: &mut Gen, i: usize) -> VerificationSession {
    let mut results = Map::new();
    results.insert(
        "liveness".into(),
        json!({"status": "COMPLETED", "result": g.pick(&["PASS", "FAIL", "REVIEW"]),
               "livenessScore": g.number(), "blink": g.next().is_multiple_of(2)}),
    );
    results.insert(
        "ageEstimation".into(),
        json!({"status": "COMPLETED", "result": "PASS", "estimatedAge": g.number(),
               "meetsMinAge": true}),
    );
    results.insert(
        "faceMatch".into(),
        json!({"status": "COMPLETED", "result": "FAIL", "similarityScore": g.number(),
               "isMatch": false}),
    );
    let note = g.pick(&[
        "plain",
        "quote \" and \\ slash /",
        "ütf-8 ✓",
        "line\nbreak\t\u{1}",
        "\u{2028}\u{2029}",
        "</script>",
    ]);
    let metadata = json!({
        "user": format!("u_{i}"),
        "note": note,
        "10": g.number(),
        "2": [g.number(), null, i],
        "n": -(i as i64),
    });
    VerificationSession {
        id: SessionId::generate(),
        org_id: OrgId::generate(),
        key_id: KeyId::generate(),
        external_ref: Some(format!("ref-{i}")),
        status: SessionStatus::Completed,
        overall_result: Some(g.pick(&[Decision::Approved, Decision::Rejected, Decision::Review])),
        checks: vec![Check::Liveness, Check::AgeEstimation, Check::FaceMatch],
        results,
        redirect_url: None,
        callback_url: None,
        metadata: Some(metadata),
        expires_at: 1_800_000_000_000,
        created_at: 1_700_000_000_000 + i as i64,
        finished_at: Some(1_700_000_060_000 + i as i64),
    }
}

/// The spec's handler, with `JSON.parse` standing in for `express.json()`.
const RECEIVER: &str = r#"
const crypto = require('crypto');
const lines = require('fs').readFileSync(0, 'utf8').trim().split('\n');
const bad = [];
for (const line of lines) {
  const { body, signature } = JSON.parse(line);
  const reqBody = JSON.parse(body);
  const expected = crypto.createHmac('sha256', process.argv[1])
    .update(JSON.stringify(reqBody)).digest('hex');
  if (!crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expected))) bad.push(body);
}
console.log(JSON.stringify({ checked: lines.length, failed: bad.length, first: bad[0] || null }));
"#;

#[test]
fn node_verifies_every_body_over_json_stringify_of_the_parsed_body() {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("skipped: node is not installed (scripts/install-deps.sh installs it)");
        return;
    }
    let secret = "whsec_dGVzdC1zZWNyZXQtZm9yLXdlYmhvb2tz";
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let mut lines = Vec::new();
    for i in 0..400 {
        let s = session(&mut g, i);
        let event = g.pick(&[
            "verification.completed",
            "verification.expired",
            "verification.cancelled",
        ]);
        let body = wire_json(&s.webhook_body(event, 1_700_000_100_000));
        let signature = hex_signature(secret, body.as_bytes());
        lines.push(json!({"body": body, "signature": signature}).to_string());
    }
    let mut child = Command::new("node")
        .args(["-e", RECEIVER, secret])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run node");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(lines.join("\n").as_bytes())
        .expect("write bodies");
    let out = child.wait_with_output().expect("node output");
    assert!(out.status.success(), "node failed");
    let report: Value = serde_json::from_slice(&out.stdout).expect("node's report");
    assert_eq!(report["checked"], 400, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
}

#[test]
fn serde_json_alone_would_break_the_spec_receiver() {
    // Why wire_json exists: serde_json writes whole floats with ".0", JavaScript does not.
    let body = json!({"estimatedAge": 28.0, "score": -0.0});
    assert_eq!(body.to_string(), r#"{"estimatedAge":28.0,"score":-0.0}"#);
    assert_eq!(wire_json(&body), r#"{"estimatedAge":28,"score":0}"#);
}
