//! `TwilioClient` against a loopback double of the Twilio Messages API that checks the
//! wire protocol (path, Basic auth, content type, the exact form fields) and answers
//! as Twilio does.
//!
//! Size (over 800 lines): the Twilio client against a loopback double, sharing the double.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Form, Json, Router};
use base64::Engine as _;
use serde_json::json;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vouch_phone::sms::{OutgoingSms, SmsError, SmsSender};
use vouch_phone::twilio::{
    TwilioClient, TwilioConfig, TwilioSender, DEFAULT_BASE_URL, RETRY_BACKOFF,
};
use vouch_phone::E164;

const ACCOUNT: &str = "AC5f1e0e8a2b7c4d3e9f0a1b2c3d4e5f6a";
const TOKEN: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f";
const SERVICE: &str = "MG9a8b7c6d5e4f30211203f4e5d6c7b8a9";
const FROM: &str = "+15005550006";
const TO: &str = "+14155550100";
const CALLBACK: &str = "https://vouch.example.com/webhooks/twilio/status";

/// What the double answers to the next request that passes its checks.
#[derive(Clone, Debug)]
enum Reply {
    /// 201 with a message resource, as Twilio.
    Created,
    /// Twilio's error body with this status and code, optionally with `Retry-After`.
    TwilioError {
        status: u16,
        code: u32,
        message: &'static str,
        retry_after: Option<&'static str>,
    },
    /// Anything at all.
    Raw {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// Waits, then answers [`Reply::Created`].
    Stall(Duration),
}

/// The Twilio double: its script, what it saw, and what it found wrong.
#[derive(Default)]
struct Double {
    script: Mutex<VecDeque<Reply>>,
    hits: AtomicUsize,
    /// Form fields of each authenticated, well-formed request, in order.
    requests: Mutex<Vec<Vec<(String, String)>>>,
    /// Protocol violations: anything a real Twilio would refuse or a client must not do.
    violations: Mutex<Vec<String>>,
    created: AtomicUsize,
}

impl Double {
    fn with_script(replies: impl IntoIterator<Item = Reply>) -> Arc<Double> {
        let double = Double::default();
        double.script.lock().expect("script").extend(replies);
        Arc::new(double)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn requests(&self) -> Vec<Vec<(String, String)>> {
        self.requests.lock().expect("requests").clone()
    }

    fn violation(&self, text: String) {
        self.violations.lock().expect("violations").push(text);
    }

    fn assert_clean(&self) {
        let violations = self.violations.lock().expect("violations");
        assert!(
            violations.is_empty(),
            "protocol violations: {violations:#?}"
        );
    }
}

fn twilio_error(status: u16, code: u32, message: &str) -> Response {
    let status = StatusCode::from_u16(status).expect("status");
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, Json(body)).into_response()
}

async fn create_message(
    State(double): State<Arc<Double>>,
    method: Method,
    Path(account): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    double.hits.fetch_add(1, Ordering::SeqCst);
    if method != Method::POST {
        double.violation(format!("method {method}, not POST"));
        return twilio_error(405, 20004, "Method not allowed");
    }
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TOKEN}"))
    );
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(expected.as_str())
    {
        let mut response = twilio_error(401, 20003, "Authenticate");
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Twilio API\""),
        );
        return response;
    }
    if account != ACCOUNT {
        double.violation(format!(
            "path account {account:?}, not the authenticated one"
        ));
        return twilio_error(404, 20404, "The requested resource was not found");
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type != Some("application/x-www-form-urlencoded") {
        double.violation(format!("content type {content_type:?}"));
        return twilio_error(415, 20415, "Unsupported media type");
    }
    let fields = match form {
        Ok(Form(fields)) => fields,
        Err(rejection) => {
            double.violation(format!("unreadable form: {rejection}"));
            return twilio_error(400, 20001, "Unreadable form");
        }
    };
    let mut names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    let allowed: [&[&str]; 4] = [
        &["Body", "From", "To"],
        &["Body", "MessagingServiceSid", "To"],
        &["Body", "From", "StatusCallback", "To"],
        &["Body", "MessagingServiceSid", "StatusCallback", "To"],
    ];
    if !allowed.contains(&names.as_slice()) {
        double.violation(format!("form fields {names:?}"));
        return twilio_error(
            400,
            21603,
            "A 'From' or 'MessagingServiceSid' parameter is required to send a message",
        );
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let to = field("To");
    let e164 = to
        .strip_prefix('+')
        .is_some_and(|d| (5..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()));
    if !e164 {
        double.violation(format!("To is not E.164: {to:?}"));
    }
    double
        .requests
        .lock()
        .expect("requests")
        .push(fields.clone());

    let reply = double
        .script
        .lock()
        .expect("script")
        .pop_front()
        .unwrap_or(Reply::Created);
    match reply {
        Reply::Created => created(&double, &fields),
        Reply::Stall(wait) => {
            tokio::time::sleep(wait).await;
            created(&double, &fields)
        }
        Reply::TwilioError {
            status,
            code,
            message,
            retry_after,
        } => {
            let message = message.replace("{To}", &to);
            let mut response = twilio_error(status, code, &message);
            if let Some(value) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static(value));
            }
            response
        }
        Reply::Raw {
            status,
            content_type,
            body,
        } => (
            StatusCode::from_u16(status).expect("status"),
            [(header::CONTENT_TYPE, content_type)],
            body,
        )
            .into_response(),
    }
}

/// Twilio's 201 answer: the new message resource.
fn created(double: &Double, fields: &[(String, String)]) -> Response {
    let n = double.created.fetch_add(1, Ordering::SeqCst);
    let sid = format!("SM{n:032x}");
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let service = field("MessagingServiceSid");
    let date = "Thu, 24 Aug 2023 05:01:45 +0000";
    let body = json!({
        "account_sid": ACCOUNT,
        "api_version": "2010-04-01",
        "body": field("Body"),
        "date_created": date,
        "date_sent": null,
        "date_updated": date,
        "direction": "outbound-api",
        "error_code": null,
        "error_message": null,
        "from": field("From"),
        "messaging_service_sid": service,
        "num_media": "0",
        "num_segments": "1",
        "price": null,
        "price_unit": "USD",
        "sid": sid,
        "status": if service.is_some() { "accepted" } else { "queued" },
        "subresource_uris": {
            "media": format!("/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}/Media.json"),
        },
        "to": field("To"),
        "uri": format!("/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json"),
    });
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn unknown_path(
    State(double): State<Arc<Double>>,
    method: Method,
    uri: axum::http::Uri,
) -> Response {
    double.hits.fetch_add(1, Ordering::SeqCst);
    double.violation(format!("{method} {uri}: no such resource"));
    twilio_error(404, 20404, "The requested resource was not found")
}

/// Serves the double on 127.0.0.1 and returns its base URL.
async fn start(double: Arc<Double>) -> String {
    let app = Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            any(create_message),
        )
        .fallback(unknown_path)
        .with_state(double);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    format!("http://{addr}")
}

fn config(base_url: &str, sender: TwilioSender) -> TwilioConfig {
    TwilioConfig {
        base_url: base_url.to_string(),
        status_callback: None,
        timeout: Duration::from_secs(5),
        ..TwilioConfig::new(ACCOUNT, TOKEN, sender)
    }
}

fn sms(body: &str) -> OutgoingSms {
    OutgoingSms {
        to: E164::from_stored(TO).expect("number"),
        body: body.to_string(),
    }
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A client on a fresh double with `script`, sending from [`FROM`].
async fn client_with(script: impl IntoIterator<Item = Reply>) -> (TwilioClient, Arc<Double>) {
    let double = Double::with_script(script);
    let base = start(double.clone()).await;
    let client = TwilioClient::new(config(&base, TwilioSender::From(FROM.into()))).expect("client");
    (client, double)
}

#[tokio::test]
async fn sends_from_a_number_with_exact_form_fields() {
    let (client, double) = client_with([]).await;
    assert_eq!(client.name(), "twilio");
    let body = "Your vouch code is 864209. Reply STOP? No & = + é\nline two";
    let receipt = client.send(&sms(body)).await.expect("sent");
    assert_eq!(receipt.provider_id, format!("SM{:032x}", 0));
    assert_eq!(double.hits(), 1);
    assert_eq!(
        double.requests(),
        vec![pairs(&[("To", TO), ("From", FROM), ("Body", body)])]
    );
    double.assert_clean();

    let again = client.send(&sms("second")).await.expect("sent again");
    assert_eq!(again.provider_id, format!("SM{:032x}", 1));
    double.assert_clean();
}

#[tokio::test]
async fn sends_through_a_messaging_service_with_status_callback() {
    let double = Double::with_script([]);
    let base = start(double.clone()).await;
    let client = TwilioClient::new(TwilioConfig {
        status_callback: Some(CALLBACK.into()),
        ..config(&base, TwilioSender::MessagingService(SERVICE.into()))
    })
    .expect("client");
    let receipt = client.send(&sms("hello")).await.expect("sent");
    assert!(receipt.provider_id.starts_with("SM"), "{receipt:?}");
    assert_eq!(
        double.requests(),
        vec![pairs(&[
            ("To", TO),
            ("MessagingServiceSid", SERVICE),
            ("Body", "hello"),
            ("StatusCallback", CALLBACK),
        ])]
    );
    double.assert_clean();
}

#[tokio::test]
async fn sends_from_an_alphanumeric_sender_with_status_callback() {
    let double = Double::with_script([]);
    let base = start(double.clone()).await;
    let client = TwilioClient::new(TwilioConfig {
        status_callback: Some(CALLBACK.into()),
        ..config(&format!("{base}/"), TwilioSender::From("Vouch".into()))
    })
    .expect("client");
    client.send(&sms("hi")).await.expect("sent");
    assert_eq!(
        double.requests(),
        vec![pairs(&[
            ("To", TO),
            ("From", "Vouch"),
            ("Body", "hi"),
            ("StatusCallback", CALLBACK)
        ])]
    );
    double.assert_clean();
}

#[tokio::test]
async fn invalid_number_is_rejected_without_retry_and_masked() {
    let (client, double) = client_with([Reply::TwilioError {
        status: 400,
        code: 21211,
        message: "The 'To' number {To} is not a valid phone number.",
        retry_after: None,
    }])
    .await;
    let err = client
        .send(&sms("code 864209"))
        .await
        .expect_err("rejected");
    let SmsError::Rejected(text) = &err else {
        panic!("expected Rejected, got {err:?}")
    };
    assert!(text.contains("21211"), "{text}");
    assert!(text.contains("is not a valid phone number"), "{text}");
    assert!(text.contains("•••0100"), "{text}");
    assert!(!text.contains("4155550100"), "full number leaked: {text}");
    assert_eq!(double.hits(), 1);
    double.assert_clean();
}

#[tokio::test]
async fn wrong_credentials_get_twilios_401_and_are_rejected() {
    let double = Double::with_script([]);
    let base = start(double.clone()).await;
    let client = TwilioClient::new(TwilioConfig {
        auth_token: "not-the-token".into(),
        ..config(&base, TwilioSender::From(FROM.into()))
    })
    .expect("client");
    let err = client.send(&sms("hello")).await.expect_err("401");
    let SmsError::Rejected(text) = &err else {
        panic!("expected Rejected, got {err:?}")
    };
    assert!(text.contains("20003") && text.contains("401"), "{text}");
    assert!(!text.contains("not-the-token"), "{text}");
    assert_eq!(double.hits(), 1, "a 401 is not retried");
    assert!(double.requests().is_empty());
    double.assert_clean();
}

#[tokio::test]
async fn too_many_requests_is_retried_once_after_retry_after() {
    let (client, double) = client_with([Reply::TwilioError {
        status: 429,
        code: 20429,
        message: "Too Many Requests",
        retry_after: Some("1"),
    }])
    .await;
    let started = Instant::now();
    let receipt = client.send(&sms("hello")).await.expect("sent on the retry");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1),
        "Retry-After ignored: {elapsed:?}"
    );
    assert_eq!(receipt.provider_id, format!("SM{:032x}", 0));
    assert_eq!(double.hits(), 2);
    let one = pairs(&[("To", TO), ("From", FROM), ("Body", "hello")]);
    assert_eq!(double.requests(), vec![one.clone(), one]);
    double.assert_clean();
}

#[tokio::test]
async fn long_retry_after_is_capped_at_two_seconds() {
    let (client, double) = client_with([Reply::TwilioError {
        status: 503,
        code: 20503,
        message: "Service Unavailable",
        retry_after: Some("3600"),
    }])
    .await;
    let started = Instant::now();
    client.send(&sms("hello")).await.expect("sent on the retry");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(4),
        "Retry-After not capped: {elapsed:?}"
    );
    assert_eq!(double.hits(), 2);
    double.assert_clean();
}

#[tokio::test]
async fn server_errors_twice_are_unavailable_after_one_retry() {
    let error = Reply::TwilioError {
        status: 500,
        code: 20500,
        message: "An internal server error has occurred",
        retry_after: None,
    };
    let (client, double) = client_with([error.clone(), error.clone(), error]).await;
    let started = Instant::now();
    let err = client.send(&sms("hello")).await.expect_err("unavailable");
    assert!(
        started.elapsed() >= RETRY_BACKOFF,
        "no backoff: {:?}",
        started.elapsed()
    );
    let SmsError::Unavailable(text) = &err else {
        panic!("expected Unavailable, got {err:?}")
    };
    assert!(text.contains("500") && text.contains("20500"), "{text}");
    assert_eq!(double.hits(), 2, "exactly one retry");
    double.assert_clean();
}

#[tokio::test]
async fn garbage_success_body_is_unavailable_and_not_retried() {
    let (client, double) = client_with([Reply::Raw {
        status: 201,
        content_type: "text/html",
        body: b"<html><body>Created?</body></html>".to_vec(),
    }])
    .await;
    let err = client.send(&sms("hello")).await.expect_err("garbage");
    assert!(matches!(err, SmsError::Unavailable(_)), "{err:?}");
    assert_eq!(double.hits(), 1, "the message may have been sent: no retry");
    double.assert_clean();
}

#[tokio::test]
async fn odd_answers_never_panic_and_are_classified() {
    #[derive(Debug)]
    enum Kind {
        Sent,
        Rejected,
        Unavailable,
    }
    fn raw(status: u16, content_type: &'static str, body: &[u8]) -> Reply {
        Reply::Raw {
            status,
            content_type,
            body: body.to_vec(),
        }
    }
    let json = "application/json";
    let cases: Vec<(Vec<Reply>, Kind, usize)> = vec![
        (vec![raw(201, json, b"")], Kind::Unavailable, 1),
        (vec![raw(201, json, b"[]")], Kind::Unavailable, 1),
        (
            vec![raw(201, json, b"{\"status\":\"queued\"}")],
            Kind::Unavailable,
            1,
        ),
        (vec![raw(201, json, b"{\"sid\":42}")], Kind::Unavailable, 1),
        (
            vec![raw(201, json, b"{\"sid\":\"SM x\\n\"}")],
            Kind::Unavailable,
            1,
        ),
        (
            vec![raw(201, json, b"{\"sid\":\"\"}")],
            Kind::Unavailable,
            1,
        ),
        (
            vec![raw(201, json, b"\xff\xfe\x00garbage")],
            Kind::Unavailable,
            1,
        ),
        (
            vec![raw(201, json, &vec![b' '; 1 << 20])],
            Kind::Unavailable,
            1,
        ),
        (
            vec![raw(
                201,
                json,
                b"{\"sid\":\"SM1\",\"status\":\"failed\",\"error_code\":30007}",
            )],
            Kind::Rejected,
            1,
        ),
        (vec![raw(204, json, b"")], Kind::Unavailable, 1),
        (
            vec![raw(302, "text/plain", b"elsewhere")],
            Kind::Unavailable,
            1,
        ),
        (
            vec![raw(400, "text/html", b"<h1>Bad Request</h1>")],
            Kind::Rejected,
            1,
        ),
        (
            vec![raw(403, json, b"{\"code\":\"x\",\"message\":null}")],
            Kind::Rejected,
            1,
        ),
        (
            vec![raw(
                404,
                json,
                b"{\"code\":20404,\"message\":\"\\u0000\\u001b[31m\"}",
            )],
            Kind::Rejected,
            1,
        ),
        (vec![raw(422, json, b"{\"code\":1e400}")], Kind::Rejected, 1),
        (
            vec![raw(502, "text/html", b"<h1>Bad Gateway</h1>"); 2],
            Kind::Unavailable,
            2,
        ),
        (vec![raw(408, "text/plain", b""); 2], Kind::Unavailable, 2),
        (vec![raw(429, json, b"nope"); 2], Kind::Unavailable, 2),
        (vec![raw(503, json, b"{}"), Reply::Created], Kind::Sent, 2),
        (
            vec![raw(503, "text/html", &vec![b'x'; 1 << 20]), Reply::Created],
            Kind::Sent,
            2,
        ),
    ];
    for (script, kind, hits) in cases {
        let label = format!("{script:?}").chars().take(120).collect::<String>();
        let (client, double) = client_with(script).await;
        let result = client.send(&sms("hello")).await;
        match (&result, &kind) {
            (Ok(_), Kind::Sent)
            | (Err(SmsError::Rejected(_)), Kind::Rejected)
            | (Err(SmsError::Unavailable(_)), Kind::Unavailable) => {}
            _ => panic!("{label}: expected {kind:?}, got {result:?}"),
        }
        assert_eq!(double.hits(), hits, "{label}");
        double.assert_clean();
    }
}

#[tokio::test]
async fn slow_answer_times_out_without_retry() {
    let double = Double::with_script([Reply::Stall(Duration::from_secs(3))]);
    let base = start(double.clone()).await;
    let client = TwilioClient::new(TwilioConfig {
        timeout: Duration::from_millis(300),
        ..config(&base, TwilioSender::From(FROM.into()))
    })
    .expect("client");
    let started = Instant::now();
    let err = client.send(&sms("hello")).await.expect_err("timeout");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let SmsError::Unavailable(text) = &err else {
        panic!("expected Unavailable, got {err:?}")
    };
    assert!(text.contains("did not answer"), "{text}");
    assert_eq!(
        double.hits(),
        1,
        "the message may have been taken: no retry"
    );
    double.assert_clean();
}

#[tokio::test]
async fn refused_connection_is_unavailable_after_one_retry() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let client = TwilioClient::new(config(
        &format!("http://{addr}"),
        TwilioSender::From(FROM.into()),
    ))
    .expect("client");
    let started = Instant::now();
    let err = client.send(&sms("hello")).await.expect_err("refused");
    assert!(
        started.elapsed() >= RETRY_BACKOFF,
        "not retried: {:?}",
        started.elapsed()
    );
    let SmsError::Unavailable(text) = &err else {
        panic!("expected Unavailable, got {err:?}")
    };
    assert!(text.contains("connect"), "{text}");
}

#[tokio::test]
async fn truncated_answer_is_unavailable() {
    // A raw server: reads the whole request, promises 200 bytes, sends 10, hangs up.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = socket.read(&mut buf).await.expect("read");
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            let answer = "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n\
                          content-length: 200\r\n\r\n{\"sid\": \"S";
            socket.write_all(answer.as_bytes()).await.expect("write");
            socket.shutdown().await.expect("shutdown");
        }
    });
    let client = TwilioClient::new(config(
        &format!("http://{addr}"),
        TwilioSender::From(FROM.into()),
    ))
    .expect("client");
    let err = client.send(&sms("hello")).await.expect_err("truncated");
    assert!(matches!(err, SmsError::Unavailable(_)), "{err:?}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "no retry after the message was taken"
    );
}

#[tokio::test]
async fn empty_body_is_refused_locally() {
    let (client, double) = client_with([]).await;
    let err = client.send(&sms("")).await.expect_err("empty");
    assert!(matches!(err, SmsError::Rejected(_)), "{err:?}");
    assert_eq!(double.hits(), 0);
}

#[test]
fn config_is_validated_with_clear_messages() {
    let good = || config("https://api.twilio.com", TwilioSender::From(FROM.into()));
    let from = |s: &str| TwilioSender::From(s.to_string());
    let service = |s: &str| TwilioSender::MessagingService(s.to_string());
    let cases: Vec<(TwilioConfig, &str)> = vec![
        (
            TwilioConfig {
                account_sid: "XX5f1e0e8a2b7c4d3e9f0a1b2c3d4e5f6a".into(),
                ..good()
            },
            "account_sid must start with \"AC\"",
        ),
        (
            TwilioConfig {
                account_sid: "AC123".into(),
                ..good()
            },
            "account_sid must be 34 characters",
        ),
        (
            TwilioConfig {
                account_sid: format!("{ACCOUNT}0"),
                ..good()
            },
            "account_sid must be 34 characters",
        ),
        (
            TwilioConfig {
                account_sid: "AC5f1e0e8a2b7c4d3e9f0a1b2c3d4e5f/a".into(),
                ..good()
            },
            "account_sid may contain only",
        ),
        (
            TwilioConfig {
                auth_token: String::new(),
                ..good()
            },
            "auth_token is empty",
        ),
        (
            TwilioConfig {
                auth_token: "  ".into(),
                ..good()
            },
            "auth_token is empty",
        ),
        (
            TwilioConfig {
                sender: service("MG123"),
                ..good()
            },
            "32 hexadecimal digits",
        ),
        (
            TwilioConfig {
                sender: service("MG9a8b7c6d5e4f30211203f4e5d6c7b8aZ"),
                ..good()
            },
            "32 hexadecimal digits",
        ),
        (
            TwilioConfig {
                sender: service(ACCOUNT),
                ..good()
            },
            "must start with \"MG\"",
        ),
        (
            TwilioConfig {
                sender: from(""),
                ..good()
            },
            "sender (From) is empty",
        ),
        (
            TwilioConfig {
                sender: from("+1"),
                ..good()
            },
            "must be E.164",
        ),
        (
            TwilioConfig {
                sender: from("15005550006"),
                ..good()
            },
            "short code",
        ),
        (
            TwilioConfig {
                sender: from("VouchVerifyX"),
                ..good()
            },
            "alphanumeric sender ID",
        ),
        (
            TwilioConfig {
                sender: from("Vouch!"),
                ..good()
            },
            "alphanumeric sender ID",
        ),
        (
            TwilioConfig {
                status_callback: Some("/relative".into()),
                ..good()
            },
            "status_callback is not an absolute URL",
        ),
        (
            TwilioConfig {
                status_callback: Some("ftp://x.example/".into()),
                ..good()
            },
            "status_callback must be an http or https URL",
        ),
        (
            TwilioConfig {
                base_url: "api.twilio.com".into(),
                ..good()
            },
            "base_url is not an absolute URL",
        ),
        (
            TwilioConfig {
                base_url: "file:///etc".into(),
                ..good()
            },
            "base_url must be an http or https URL",
        ),
        (
            TwilioConfig {
                base_url: "https://api.twilio.com/?x=1".into(),
                ..good()
            },
            "base_url must not have a query",
        ),
        (
            TwilioConfig {
                base_url: "https://u:p@api.twilio.com".into(),
                ..good()
            },
            "base_url must not carry credentials",
        ),
        (
            TwilioConfig {
                timeout: Duration::ZERO,
                ..good()
            },
            "timeout must be greater than zero",
        ),
    ];
    for (config, expected) in cases {
        let label = format!("{config:?}");
        let err = TwilioClient::new(config).expect_err(&label);
        let SmsError::Rejected(text) = &err else {
            panic!("{label}: expected Rejected, got {err:?}")
        };
        assert!(text.starts_with("invalid Twilio configuration: "), "{text}");
        assert!(
            text.contains(expected),
            "{label}: {text:?} lacks {expected:?}"
        );
        assert!(!text.contains(TOKEN), "{text}");
    }
}

#[test]
fn defaults_and_endpoints() {
    let config = TwilioConfig::new(
        ACCOUNT,
        TOKEN,
        TwilioSender::MessagingService(SERVICE.into()),
    );
    assert_eq!(config.base_url, DEFAULT_BASE_URL);
    assert_eq!(DEFAULT_BASE_URL, "https://api.twilio.com");
    assert!(
        !format!("{config:?}").contains(TOKEN),
        "Debug leaks the token"
    );
    let client = TwilioClient::new(config).expect("client");
    assert_eq!(
        client.endpoint(),
        format!("https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    );
    assert!(
        !format!("{client:?}").contains(TOKEN),
        "Debug leaks the token"
    );
    let compatible = TwilioClient::new(TwilioConfig {
        base_url: "https://sms.example.com/compat/".into(),
        ..TwilioConfig::new(ACCOUNT, TOKEN, TwilioSender::From("12345".into()))
    })
    .expect("client");
    assert_eq!(
        compatible.endpoint(),
        format!("https://sms.example.com/compat/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    );
}

/// Collects the text of `vouch_phone` log events.
struct Capture(Arc<Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target().starts_with("vouch_phone")
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        span.record(&mut Fields(&mut self.0.lock().expect("log")));
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut Fields(&mut self.0.lock().expect("log")));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut log = self.0.lock().expect("log");
        event.record(&mut Fields(&mut log));
        log.push('\n');
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The log of this whole test binary. A process-wide subscriber, not a thread-local
/// one: tracing caches per call site whether anyone listens, and a call site first hit
/// by a test on another thread (with no subscriber) would stay silent for a
/// thread-local one. Every test's logs land here, so the checks below cover them all.
fn global_log() -> Arc<Mutex<String>> {
    static LOG: std::sync::OnceLock<Arc<Mutex<String>>> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(String::new()));
        tracing::subscriber::set_global_default(Capture(log.clone())).expect("one subscriber");
        log
    })
    .clone()
}

#[tokio::test]
async fn logs_mask_the_number_and_omit_the_text() {
    let log = global_log();
    let body = "Your vouch code is 864209";
    let (client, double) = client_with([
        Reply::TwilioError {
            status: 429,
            code: 20429,
            message: "Too Many Requests",
            retry_after: Some("0"),
        },
        Reply::Created,
        Reply::TwilioError {
            status: 400,
            code: 21211,
            message: "The 'To' number {To} is not a valid phone number.",
            retry_after: None,
        },
    ])
    .await;
    client.send(&sms(body)).await.expect("sent");
    client.send(&sms(body)).await.expect_err("rejected");
    double.assert_clean();
    let log = log.lock().expect("log").clone();
    assert!(log.contains("•••0100"), "{log}");
    assert!(log.contains("21211"), "{log}");
    assert!(!log.contains("4155550100"), "full number logged: {log}");
    assert!(!log.contains("864209"), "message text logged: {log}");
}
