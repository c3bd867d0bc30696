//! Prometheus metrics, kept in a registry owned by the app state (no global recorder).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Mutex;

/// Labels of HTTP metrics: the route template, never the raw path (ids stay out).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// Method.
    pub method: String,
    /// Route template (`/api/v1/verify/{id}`) or `unmatched`.
    pub route: String,
    /// Status code.
    pub status: u16,
}

/// Labels of webhook metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// delivered, retry, dead, gone.
    pub outcome: String,
}

/// Labels of the Ory hook counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HookLabels {
    /// lookup, enroll, validate.
    pub hook: String,
    /// pass, sim_swap, low_trust, undecided_closed, undecided_open, …
    pub outcome: String,
}

/// The metrics of one process.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Requests answered.
    pub http_requests: Family<HttpLabels, Counter>,
    /// Request latency.
    pub http_latency: Family<HttpLabels, Histogram>,
    /// Webhook attempts by outcome.
    pub webhook_attempts: Family<WebhookLabels, Counter>,
    /// Webhook attempt latency.
    pub webhook_latency: Histogram,
    /// Deliveries waiting (sampled at scrape time).
    pub webhook_queue_depth: Gauge,
    /// Ory hook answers by hook and outcome (fail-closed and fail-open cases included).
    pub ory_hooks: Family<HookLabels, Counter>,
}

fn latency_buckets() -> impl Iterator<Item = f64> {
    [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ]
    .into_iter()
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("vouch");
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_latency = Family::<HttpLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(latency_buckets())
        });
        let webhook_attempts = Family::<WebhookLabels, Counter>::default();
        let webhook_latency = Histogram::new(latency_buckets());
        let webhook_queue_depth = Gauge::default();
        let ory_hooks = Family::<HookLabels, Counter>::default();
        registry.register(
            "ory_hook_answers",
            "Ory Kratos hook answers by hook and outcome",
            ory_hooks.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests answered",
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            http_latency.clone(),
        );
        registry.register(
            "webhook_attempts",
            "Webhook delivery attempts by outcome",
            webhook_attempts.clone(),
        );
        registry.register(
            "webhook_attempt_duration_seconds",
            "Webhook attempt latency",
            webhook_latency.clone(),
        );
        registry.register(
            "webhook_queue_depth",
            "Webhook deliveries waiting to be sent",
            webhook_queue_depth.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            http_requests,
            http_latency,
            webhook_attempts,
            webhook_latency,
            webhook_queue_depth,
            ory_hooks,
        }
    }
}

impl Metrics {
    /// The registry in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = match self.registry.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}
