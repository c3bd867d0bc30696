//! Biometric identity verification (1:N): verification profiles and the checks pipeline.
//!
//! A profile says which checks run, with what weight, and which fail the verification on
//! their own (`hardFail`). Each check gives a score in 0–1 and a pass; the composite
//! score is the weighted mean of the scores of the checks that ran; a verification
//! passes when the probe matched an enrolled person, no hard-failing check failed and the
//! composite reaches the profile's `minCompositeScore`. The measurements come from the
//! caller (engines, store); this module holds only the rules, so they are tested alone.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The checks, by their wire names.
pub const CHECKS: [&str; 7] = [
    "liveness",
    "frameConsistency",
    "impossibleTravel",
    "embeddingHistory",
    "deviceConsistency",
    "geoFence",
    "timeRestriction",
];

/// The settings of one check in a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckSettings {
    /// Whether it runs.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Its weight in the composite score (0–10).
    #[serde(default = "one")]
    pub weight: f64,
    /// A failure fails the verification whatever the composite.
    #[serde(default)]
    pub hard_fail: bool,
    /// The score a pass needs (liveness: passive score; embeddingHistory: 1 − z/4), 0–1.
    #[serde(default)]
    pub threshold: Option<f64>,
}

fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}

impl CheckSettings {
    fn new(enabled: bool, weight: f64, hard_fail: bool) -> Self {
        CheckSettings {
            enabled,
            weight,
            hard_fail,
            threshold: None,
        }
    }
}

/// Allowed hours and days in a time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimeWindow {
    /// IANA time zone, e.g. `America/Sao_Paulo`.
    pub time_zone: String,
    /// First allowed hour, 0–23.
    pub start_hour: u32,
    /// Hour the window ends (exclusive), 1–24; below `start_hour` wraps past midnight.
    pub end_hour: u32,
    /// Allowed days: `mon` … `sun`; empty means every day.
    #[serde(default)]
    pub days: Vec<String>,
}

/// A verification profile's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileConfig {
    /// Per check, by wire name; checks not named keep their defaults.
    #[serde(default)]
    pub checks: std::collections::BTreeMap<String, CheckSettings>,
    /// The composite score a verification needs, 0–1.
    #[serde(default = "default_min_composite")]
    pub min_composite_score: f64,
    /// Countries allowed by `geoFence` (ISO 3166 alpha-2).
    #[serde(default)]
    pub allowed_countries: Vec<String>,
    /// The window of `timeRestriction`.
    #[serde(default)]
    pub time_window: Option<TimeWindow>,
}

fn default_min_composite() -> f64 {
    0.5
}

impl Default for ProfileConfig {
    fn default() -> Self {
        ProfileConfig {
            checks: Default::default(),
            min_composite_score: default_min_composite(),
            allowed_countries: Vec::new(),
            time_window: None,
        }
    }
}

/// The default settings of a check (what a verify without a profile runs).
pub fn default_settings(check: &str) -> CheckSettings {
    match check {
        // The calibrated passive score (the KYC default is 0.85; a 1:N probe carries no
        // challenge, so the cut is more permissive): weighted, not a hard gate, unless a
        // profile says so.
        "liveness" => CheckSettings {
            threshold: Some(0.5),
            ..CheckSettings::new(true, 1.5, false)
        },
        "frameConsistency" => CheckSettings::new(true, 1.0, true),
        "impossibleTravel" => CheckSettings::new(true, 1.2, true),
        "embeddingHistory" => CheckSettings {
            threshold: Some(0.25),
            ..CheckSettings::new(true, 1.0, false)
        },
        "deviceConsistency" => CheckSettings::new(true, 0.8, false),
        // Need configuration: off until a profile sets countries or a window.
        "geoFence" => CheckSettings::new(false, 1.0, true),
        "timeRestriction" => CheckSettings::new(false, 1.0, true),
        _ => CheckSettings::new(false, 0.0, false),
    }
}

impl ProfileConfig {
    /// Parses and validates a profile configuration (JSON from the API).
    pub fn parse(v: &Value) -> Result<ProfileConfig> {
        let cfg: ProfileConfig = serde_json::from_value(v.clone())
            .map_err(|e| Error::Invalid(format!("profile: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks names, weights, thresholds, countries and the time window.
    pub fn validate(&self) -> Result<()> {
        for (name, c) in &self.checks {
            if !CHECKS.contains(&name.as_str()) {
                return Err(Error::Invalid(format!(
                    "unknown check {name:?}; known: {}",
                    CHECKS.join(", ")
                )));
            }
            if !(0.0..=10.0).contains(&c.weight) {
                return Err(Error::Invalid(format!("{name}: weight must be 0 to 10")));
            }
            if c.threshold.is_some_and(|t| !(0.0..=1.0).contains(&t)) {
                return Err(Error::Invalid(format!("{name}: threshold must be 0 to 1")));
            }
        }
        if !(0.0..=1.0).contains(&self.min_composite_score) {
            return Err(Error::Invalid("minCompositeScore must be 0 to 1".into()));
        }
        if self.allowed_countries.len() > 250
            || self
                .allowed_countries
                .iter()
                .any(|c| c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_uppercase()))
        {
            return Err(Error::Invalid(
                "allowedCountries must be ISO 3166 alpha-2 codes (e.g. \"BR\")".into(),
            ));
        }
        if self.settings("geoFence").enabled && self.allowed_countries.is_empty() {
            return Err(Error::Invalid("geoFence needs allowedCountries".into()));
        }
        if let Some(w) = &self.time_window {
            if w.time_zone.parse::<chrono_tz::Tz>().is_err() {
                return Err(Error::Invalid(format!(
                    "unknown time zone {:?} (use an IANA name such as Europe/Lisbon)",
                    w.time_zone
                )));
            }
            if w.start_hour > 23 || w.end_hour == 0 || w.end_hour > 24 || w.start_hour == w.end_hour
            {
                return Err(Error::Invalid(
                    "timeWindow hours: startHour 0-23, endHour 1-24, not equal".into(),
                ));
            }
            if let Some(d) = w.days.iter().find(|d| weekday(d).is_none()) {
                return Err(Error::Invalid(format!(
                    "unknown day {d:?}; use mon, tue, wed, thu, fri, sat, sun"
                )));
            }
        }
        if self.settings("timeRestriction").enabled && self.time_window.is_none() {
            return Err(Error::Invalid("timeRestriction needs timeWindow".into()));
        }
        Ok(())
    }

    /// The effective settings of a check.
    pub fn settings(&self, check: &str) -> CheckSettings {
        self.checks
            .get(check)
            .cloned()
            .unwrap_or_else(|| default_settings(check))
    }
}

fn weekday(d: &str) -> Option<chrono::Weekday> {
    use chrono::Weekday::*;
    Some(match d.to_ascii_lowercase().as_str() {
        "mon" => Mon,
        "tue" => Tue,
        "wed" => Wed,
        "thu" => Thu,
        "fri" => Fri,
        "sat" => Sat,
        "sun" => Sun,
        _ => return None,
    })
}

/// One check's result, as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    /// Wire name.
    pub check: &'static str,
    /// Whether it passed.
    pub pass: bool,
    /// Its score, 0–1.
    pub score: f64,
    /// Its weight.
    pub weight: f64,
    /// Whether its failure fails the verification.
    pub hard_fail: bool,
    /// Why it failed, or what it could not measure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

impl CheckResult {
    /// A result with the check's settings.
    pub fn new(check: &'static str, s: &CheckSettings, pass: bool, score: f64) -> Self {
        CheckResult {
            check,
            pass,
            score: round3(score.clamp(0.0, 1.0)),
            weight: s.weight,
            hard_fail: s.hard_fail,
            message: None,
        }
    }

    /// With a message.
    pub fn because(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
}

/// The weighted mean score of the results (1 when nothing ran).
pub fn composite(results: &[CheckResult]) -> f64 {
    let w: f64 = results.iter().map(|r| r.weight).sum();
    if w <= 0.0 {
        return 1.0;
    }
    round3(results.iter().map(|r| r.score * r.weight).sum::<f64>() / w)
}

/// The first hard-failing check that failed.
pub fn hard_failure(results: &[CheckResult]) -> Option<&CheckResult> {
    results.iter().find(|r| r.hard_fail && !r.pass)
}

/// Great-circle distance in km.
pub fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1) = (a.0.to_radians(), a.1.to_radians());
    let (la2, lo2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// Fastest plausible travel between two verifications, km/h.
pub const MAX_TRAVEL_KMH: f64 = 900.0;

/// impossibleTravel: the speed from the last verified location to this one.
pub fn travel(
    s: &CheckSettings,
    last: Option<((f64, f64), crate::Millis)>,
    now: Option<((f64, f64), crate::Millis)>,
) -> CheckResult {
    let (Some((from, t0)), Some((to, t1))) = (last, now) else {
        return CheckResult::new("impossibleTravel", s, true, 1.0)
            .because("no earlier location to compare with");
    };
    let km = haversine_km(from, to);
    // Within the accuracy of a location fix there is no travel to speak of.
    if km < 50.0 {
        return CheckResult::new("impossibleTravel", s, true, 1.0);
    }
    let hours = ((t1 - t0) as f64 / 3_600_000.0).max(1.0 / 3600.0);
    let kmh = km / hours;
    let pass = kmh <= MAX_TRAVEL_KMH;
    let r = CheckResult::new(
        "impossibleTravel",
        s,
        pass,
        if pass {
            1.0
        } else {
            (MAX_TRAVEL_KMH / kmh).min(1.0)
        },
    );
    if pass {
        r
    } else {
        r.because(format!(
            "{km:.0} km from the last verified location in {:.1} h ({kmh:.0} km/h)",
            hours
        ))
    }
}

/// embeddingHistory: how far the probe is from the person's templates, against how far
/// those templates are from their own centre. `past` are L2-normalised.
pub fn history(s: &CheckSettings, past: &[Vec<f32>], probe: &[f32]) -> CheckResult {
    if past.len() < 3 {
        return CheckResult::new("embeddingHistory", s, true, 1.0)
            .because("fewer than 3 templates: no spread to compare with");
    }
    let dim = probe.len();
    let mut centre = vec![0f64; dim];
    for t in past {
        for (c, v) in centre.iter_mut().zip(t) {
            *c += f64::from(*v) / past.len() as f64;
        }
    }
    let dist = |t: &[f32]| -> f64 {
        t.iter()
            .zip(&centre)
            .map(|(a, b)| (f64::from(*a) - b).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let ds: Vec<f64> = past.iter().map(|t| dist(t)).collect();
    let mean = ds.iter().sum::<f64>() / ds.len() as f64;
    let sd = (ds.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / ds.len() as f64)
        .sqrt()
        .max(0.02);
    let z = (dist(probe) - mean) / sd;
    let score = 1.0 - z.max(0.0) / 4.0;
    let pass = score >= s.threshold.unwrap_or(0.25);
    let r = CheckResult::new("embeddingHistory", s, pass, score);
    if pass {
        r
    } else {
        r.because(format!(
            "the face is {z:.1} standard deviations outside this person's history"
        ))
    }
}

/// timeRestriction: whether `at` falls in the window.
pub fn in_window(w: &TimeWindow, at: chrono::DateTime<chrono::Utc>) -> bool {
    use chrono::{Datelike, Timelike};
    let Ok(tz) = w.time_zone.parse::<chrono_tz::Tz>() else {
        return false;
    };
    let local = at.with_timezone(&tz);
    let day_ok = w.days.is_empty()
        || w.days
            .iter()
            .filter_map(|d| weekday(d))
            .any(|d| d == local.weekday());
    let h = local.hour();
    let hour_ok = if w.start_hour < w.end_hour {
        h >= w.start_hour && h < w.end_hour
    } else {
        h >= w.start_hour || h < w.end_hour
    };
    day_ok && hour_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn profiles_validate_names_weights_countries_and_windows() {
        assert!(ProfileConfig::parse(&json!({})).is_ok());
        assert!(ProfileConfig::parse(&json!({"checks": {"nope": {}}})).is_err());
        assert!(ProfileConfig::parse(&json!({"checks": {"liveness": {"weight": 11}}})).is_err());
        assert!(ProfileConfig::parse(&json!({"checks": {"geoFence": {}}})).is_err());
        assert!(ProfileConfig::parse(
            &json!({"checks": {"geoFence": {}}, "allowedCountries": ["BR", "PT"]})
        )
        .is_ok());
        assert!(ProfileConfig::parse(&json!({"allowedCountries": ["bra"]})).is_err());
        let w = json!({"timeZone": "Mars/Base", "startHour": 9, "endHour": 17});
        assert!(ProfileConfig::parse(&json!({"timeWindow": w})).is_err());
        let w =
            json!({"timeZone": "Europe/Lisbon", "startHour": 9, "endHour": 17, "days": ["mon"]});
        assert!(
            ProfileConfig::parse(&json!({"checks": {"timeRestriction": {}}, "timeWindow": w}))
                .is_ok()
        );
        assert!(ProfileConfig::parse(&json!({"checks": {"timeRestriction": {}}})).is_err());
        assert!(ProfileConfig::parse(&json!({"extra": 1})).is_err());
    }

    #[test]
    fn composite_is_the_weighted_mean_and_hard_fails_are_found() {
        let s = CheckSettings::new(true, 3.0, true);
        let t = CheckSettings::new(true, 1.0, false);
        let r = vec![
            CheckResult::new("liveness", &s, true, 1.0),
            CheckResult::new("deviceConsistency", &t, false, 0.2),
        ];
        assert_eq!(composite(&r), 0.8);
        assert!(hard_failure(&r).is_none());
        let r = vec![CheckResult::new("liveness", &s, false, 0.1)];
        assert_eq!(hard_failure(&r).unwrap().check, "liveness");
        assert_eq!(composite(&[]), 1.0);
    }

    #[test]
    fn travel_faster_than_a_plane_fails() {
        let s = default_settings("impossibleTravel");
        let lisbon = (38.72, -9.14);
        let sao_paulo = (-23.55, -46.63);
        let hour = 3_600_000;
        // ~7,900 km in 2 hours: no.
        let r = travel(&s, Some((lisbon, 0)), Some((sao_paulo, 2 * hour)));
        assert!(!r.pass && r.score < 0.25, "{r:?}");
        // In 10 hours: a flight.
        assert!(travel(&s, Some((lisbon, 0)), Some((sao_paulo, 10 * hour))).pass);
        // Same city a minute later; nothing to compare with.
        assert!(travel(&s, Some((lisbon, 0)), Some(((38.75, -9.2), 60_000))).pass);
        assert!(travel(&s, None, Some((lisbon, 0))).pass);
        assert!((haversine_km(lisbon, sao_paulo) - 7_930.0).abs() < 60.0);
    }

    #[test]
    fn history_flags_a_probe_far_outside_the_spread() {
        let s = default_settings("embeddingHistory");
        let unit = |v: Vec<f32>| {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / n).collect::<Vec<f32>>()
        };
        let past: Vec<Vec<f32>> = (0..5)
            .map(|i| unit(vec![1.0, 0.05 * i as f32, 0.02 * (i % 2) as f32]))
            .collect();
        assert!(history(&s, &past, &unit(vec![1.0, 0.1, 0.01])).pass);
        let r = history(&s, &past, &unit(vec![0.0, 1.0, 0.0]));
        assert!(!r.pass, "{r:?}");
        assert!(history(&s, &past[..2], &unit(vec![0.0, 1.0, 0.0])).pass);
    }

    #[test]
    fn windows_follow_the_time_zone_and_wrap_past_midnight() {
        use chrono::TimeZone;
        let w = TimeWindow {
            time_zone: "America/Sao_Paulo".into(),
            start_hour: 9,
            end_hour: 18,
            days: vec![
                "mon".into(),
                "tue".into(),
                "wed".into(),
                "thu".into(),
                "fri".into(),
            ],
        };
        // Monday 2026-11-23 13:00 UTC is 10:00 in São Paulo (UTC−3).
        let t = chrono::Utc
            .with_ymd_and_hms(2026, 11, 23, 13, 0, 0)
            .unwrap();
        assert!(in_window(&w, t));
        // 11:00 UTC is 08:00 there.
        assert!(!in_window(
            &w,
            chrono::Utc
                .with_ymd_and_hms(2026, 11, 23, 11, 0, 0)
                .unwrap()
        ));
        // Sunday.
        assert!(!in_window(
            &w,
            chrono::Utc
                .with_ymd_and_hms(2026, 11, 22, 13, 0, 0)
                .unwrap()
        ));
        let night = TimeWindow {
            time_zone: "UTC".into(),
            start_hour: 22,
            end_hour: 6,
            days: vec![],
        };
        assert!(in_window(
            &night,
            chrono::Utc
                .with_ymd_and_hms(2026, 11, 23, 23, 0, 0)
                .unwrap()
        ));
        assert!(in_window(
            &night,
            chrono::Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap()
        ));
        assert!(!in_window(
            &night,
            chrono::Utc
                .with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
                .unwrap()
        ));
    }
}
