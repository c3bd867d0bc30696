//! The overview (`/admin`): sessions of the last 24 hours and 7 days by status and
//! decision, pass and review rates, the review queue's length, the last webhook failures;
//! above them the first steps: create an API key, try a verification, the API reference.

use super::{filters, page, Nav, PageResult, Shell, Signed, DAY_MS, SCAN_PAGES};
use crate::AppState;
use askama::Template;
use axum::extract::{RawQuery, State};
use vouch_core::now_millis;
use vouch_core::session::{Decision, SessionStatus, VerificationSession};
use vouch_store::outbox::Delivery;
use vouch_store::sessions::SessionFilter;

/// `overview.html`.
#[derive(Template)]
#[template(path = "console/overview.html")]
struct OverviewPage {
    shell: Shell,
    stats: Vec<Stat>,
    rows: Vec<Row>,
    /// Sessions counted, when the scan stopped before the 7 days' start.
    scanned: Option<i64>,
    failures: Vec<Delivery>,
    /// Whether the organisation has an API key of its own (not the try-out key).
    has_key: bool,
}

/// A figure of the top row.
struct Stat {
    id: &'static str,
    value: String,
    label: &'static str,
}

/// A row of the status table: the last 24 hours and the last 7 days.
struct Row {
    label: &'static str,
    day: String,
    week: String,
}

impl Row {
    fn new(label: &'static str, day: impl ToString, week: impl ToString) -> Self {
        Row {
            label,
            day: day.to_string(),
            week: week.to_string(),
        }
    }
}

/// Sessions counted by status and decision.
#[derive(Default)]
struct Tally {
    total: i64,
    by_status: [i64; 5],
    approved: i64,
    rejected: i64,
    review: i64,
}

impl Tally {
    fn add(&mut self, s: &VerificationSession) {
        self.total += 1;
        if let Some(i) = SessionStatus::ALL.iter().position(|st| *st == s.status) {
            self.by_status[i] += 1;
        }
        match s.overall_result {
            Some(Decision::Approved) => self.approved += 1,
            Some(Decision::Rejected) => self.rejected += 1,
            Some(Decision::Review) => self.review += 1,
            None => {}
        }
    }

    fn decided(&self) -> i64 {
        self.approved + self.rejected + self.review
    }
}

fn rate(n: i64, of: i64) -> String {
    if of == 0 {
        "—".into()
    } else {
        format!("{:.1} %", n as f64 * 100.0 / of as f64)
    }
}

fn is_failure(d: &Delivery) -> bool {
    matches!(d.status.as_str(), "dead" | "disabled") || (d.status == "pending" && d.attempts > 0)
}

/// The overview: sessions of the last 24 hours and 7 days, rates, webhook failures.
pub(super) async fn overview(
    State(state): State<AppState>,
    Signed(caller): Signed,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let org = &caller.admin.org_id;
    let now = now_millis();
    let (day, week) = (now - DAY_MS, now - 7 * DAY_MS);
    let (mut last_day, mut last_week) = (Tally::default(), Tally::default());
    let mut partial = false;
    let mut page_no = 1;
    'pages: loop {
        let found = state
            .app
            .kyc
            .list(org, &SessionFilter::default(), page_no, 100)
            .await?;
        for s in &found.items {
            if s.created_at < week {
                break 'pages;
            }
            last_week.add(s);
            if s.created_at >= day {
                last_day.add(s);
            }
        }
        if found.items.len() < 100 {
            break;
        }
        if page_no >= SCAN_PAGES {
            partial = true;
            break;
        }
        page_no += 1;
    }
    let queue = state
        .app
        .kyc
        .list(
            org,
            &SessionFilter {
                overall_result: Some(Decision::Review),
                ..Default::default()
            },
            1,
            1,
        )
        .await?
        .total;
    let stat = |id, value: String, label| Stat { id, value, label };
    let stats = vec![
        stat(
            "stat-24h",
            last_day.total.to_string(),
            "sessions, last 24 h",
        ),
        stat(
            "stat-7d",
            last_week.total.to_string(),
            "sessions, last 7 days",
        ),
        stat(
            "stat-pass",
            rate(last_week.approved, last_week.decided()),
            "pass rate, 7 days",
        ),
        stat(
            "stat-review",
            rate(last_week.review, last_week.decided()),
            "awaiting review, of decided, 7 days",
        ),
        stat("stat-queue", queue.to_string(), "in the review queue"),
    ];
    let mut rows = vec![Row::new("All sessions", last_day.total, last_week.total)];
    for (i, st) in SessionStatus::ALL.iter().enumerate() {
        rows.push(Row::new(
            st.as_str(),
            last_day.by_status[i],
            last_week.by_status[i],
        ));
    }
    rows.extend([
        Row::new("Approved", last_day.approved, last_week.approved),
        Row::new("Rejected", last_day.rejected, last_week.rejected),
        Row::new("Awaiting review", last_day.review, last_week.review),
        Row::new(
            "Pass rate (approved of decided)",
            rate(last_day.approved, last_day.decided()),
            rate(last_week.approved, last_week.decided()),
        ),
        Row::new(
            "Review rate (awaiting review of decided)",
            rate(last_day.review, last_day.decided()),
            rate(last_week.review, last_week.decided()),
        ),
    ]);
    let failures = state
        .app
        .webhooks
        .deliveries(org, 200)
        .await?
        .into_iter()
        .filter(is_failure)
        .take(10)
        .collect();
    let has_key = state.app.keys.has_own_key(org).await?;
    page(&OverviewPage {
        shell: Shell::new(&state, &caller, Nav::Overview, "Overview")
            .await?
            .with_notice(raw.as_deref()),
        has_key,
        stats,
        rows,
        scanned: partial.then_some(SCAN_PAGES * 100),
        failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_show_a_dash_without_decisions() {
        assert_eq!(rate(0, 0), "—");
        assert_eq!(rate(1, 4), "25.0 %");
    }
}
