//! Checks a verification can request, and the per-key thresholds that judge them.

use serde::{Deserialize, Serialize};

/// A check that an API key may enable and a session may request. Wire names are the
/// spellings of the KYC sessions spec (`liveness`, `age_estimation`, `doc_verify`,
/// `face_match`), and vouch's `digital_id` (a credential from the person's digital ID
/// wallet over OpenID4VP: docs/digital-id.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// Passive and active liveness of the selfie.
    Liveness,
    /// Age estimated from the selfie against the key's minimum age.
    AgeEstimation,
    /// An identity document read and checked.
    DocVerify,
    /// The selfie matched against the document portrait (or the digital ID's).
    FaceMatch,
    /// A digital identity credential presented from a wallet and verified.
    DigitalId,
}

impl Check {
    /// The spec's checks, in its order: what a new key enables unless told otherwise.
    pub const ALL: [Check; 4] = [
        Check::Liveness,
        Check::AgeEstimation,
        Check::DocVerify,
        Check::FaceMatch,
    ];

    /// Every check vouch knows: the spec's and `digital_id`, which a key enables
    /// explicitly (it needs a trust list of credential issuers).
    pub const EVERY: [Check; 5] = [
        Check::Liveness,
        Check::AgeEstimation,
        Check::DocVerify,
        Check::FaceMatch,
        Check::DigitalId,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Liveness => "liveness",
            Check::AgeEstimation => "age_estimation",
            Check::DocVerify => "doc_verify",
            Check::FaceMatch => "face_match",
            Check::DigitalId => "digital_id",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Check> {
        Check::EVERY.into_iter().find(|c| c.as_str() == s)
    }

    /// Parses a comma-separated list (`liveness,face_match`), rejecting unknown names and
    /// dropping duplicates while keeping order.
    pub fn parse_list(s: &str) -> crate::Result<Vec<Check>> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let check = Check::parse(part).ok_or_else(|| {
                crate::Error::Invalid(format!(
                    "unknown check '{part}' (known: liveness, age_estimation, doc_verify, face_match, digital_id)"
                ))
            })?;
            if !out.contains(&check) {
                out.push(check);
            }
        }
        Ok(out)
    }
}

/// Decision thresholds of a key. Defaults are the spec's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Thresholds {
    /// Minimum passive liveness score to pass (0–1).
    pub liveness: f64,
    /// Minimum cosine similarity for a face match (0–1).
    pub face_match: f64,
    /// Minimum age for the age estimation check.
    pub min_age: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            liveness: 0.85,
            face_match: 0.57,
            min_age: 18,
        }
    }
}

impl Thresholds {
    /// Checks that every threshold is in its range.
    pub fn validate(&self) -> crate::Result<()> {
        let unit = |name: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(crate::Error::Invalid(format!(
                    "{name} must be between 0 and 1"
                )))
            }
        };
        unit("liveness threshold", self.liveness)?;
        unit("face match threshold", self.face_match)?;
        if self.min_age > 120 {
            return Err(crate::Error::Invalid(
                "minimum age must be at most 120".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_rejects_unknown_names() {
        let list = Check::parse_list("liveness, face_match,liveness").unwrap();
        assert_eq!(list, vec![Check::Liveness, Check::FaceMatch]);
        assert!(Check::parse_list("liveness,selfie").is_err());
        assert!(Check::parse_list("").unwrap().is_empty());
    }

    #[test]
    fn thresholds_out_of_range_are_invalid() {
        let mut t = Thresholds::default();
        assert!(t.validate().is_ok());
        t.face_match = 1.5;
        assert!(t.validate().is_err());
    }
}
