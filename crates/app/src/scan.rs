//! Live scans outside a KYC session: a person verifying presence, an admin signing in or
//! enrolling with the face factor. One use case and one rule ([`policy::live_scan`]) for
//! both (the two once disagreed: the admin copy demanded a blink, the presence copy took a
//! turn).

use crate::analysis::{CaptureError, Engines, SelfieAnalysis};
use std::sync::Arc;
use vouch_core::check::Thresholds;
use vouch_core::policy::{self, LivenessResult};

/// Fewest frames of a scan.
pub const MIN_FRAMES: usize = 2;
/// Most frames of a scan (and of a KYC selfie step).
pub const MAX_FRAMES: usize = 12;

/// The engine a scan needs: a selfie's liveness evidence and embedding. Blocking.
pub trait SelfieAnalyser: Send + Sync {
    /// Analyses encoded frames (exactly one face in each).
    fn analyse_selfie(&self, frames: &[Vec<u8>]) -> Result<SelfieAnalysis, CaptureError>;
    /// The similarity at which two embeddings are one person.
    fn match_threshold(&self) -> f32;
}

impl SelfieAnalyser for Engines {
    fn analyse_selfie(&self, frames: &[Vec<u8>]) -> Result<SelfieAnalysis, CaptureError> {
        crate::analysis::analyse_selfie(&self.face, frames)
    }

    fn match_threshold(&self) -> f32 {
        self.face.config().match_threshold
    }
}

/// An accepted scan.
#[derive(Debug, Clone)]
pub struct LiveScan {
    /// The capture's embedding (L2-normalised).
    pub embedding: Vec<f32>,
    /// The liveness verdict (PASS).
    pub liveness: LivenessResult,
    /// The analyser's match threshold, for the caller's 1:1 or 1:N comparison.
    pub match_threshold: f32,
}

/// Why a scan was refused.
#[derive(Debug)]
pub enum ScanError {
    /// Fewer than [`MIN_FRAMES`] or more than [`MAX_FRAMES`] frames.
    Frames(String),
    /// A frame could not be analysed (no face, too dark…), or the engine failed.
    Capture(CaptureError),
    /// The capture is not live by the rule.
    NotLive(LivenessResult),
}

/// Scans a capture: the frame count, the analysis on the blocking pool, the live-scan
/// rule at the default thresholds.
pub async fn live_scan(
    analyser: Arc<dyn SelfieAnalyser>,
    frames: Vec<Vec<u8>>,
) -> Result<LiveScan, ScanError> {
    if frames.len() < MIN_FRAMES || frames.len() > MAX_FRAMES {
        return Err(ScanError::Frames(format!(
            "frames must hold {MIN_FRAMES} to {MAX_FRAMES} images"
        )));
    }
    let worker = analyser.clone();
    let analysis = tokio::task::spawn_blocking(move || worker.analyse_selfie(&frames))
        .await
        .map_err(|e| ScanError::Capture(CaptureError::Engine(e.to_string())))?
        .map_err(ScanError::Capture)?;
    let liveness = policy::live_scan(&analysis.liveness, &Thresholds::default())
        .map_err(ScanError::NotLive)?;
    Ok(LiveScan {
        embedding: analysis.embedding,
        liveness,
        match_threshold: analyser.match_threshold(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_core::policy::{FrameMeasures, LivenessEvidence, Outcome};

    /// Answers every capture with the same measures.
    struct Fake(Vec<FrameMeasures>);

    impl SelfieAnalyser for Fake {
        fn analyse_selfie(&self, _: &[Vec<u8>]) -> Result<SelfieAnalysis, CaptureError> {
            Ok(SelfieAnalysis {
                liveness: LivenessEvidence {
                    frames: self.0.clone(),
                    consistent: true,
                },
                estimated_age: 30.0,
                embedding: vec![1.0, 0.0],
            })
        }

        fn match_threshold(&self) -> f32 {
            0.54
        }
    }

    fn frame(passive: f32, eye: f32, yaw: f32) -> FrameMeasures {
        FrameMeasures {
            passive: Some(passive),
            eye_openness: eye,
            yaw,
        }
    }

    fn frames(n: usize) -> Vec<Vec<u8>> {
        vec![vec![0u8]; n]
    }

    #[tokio::test]
    async fn presence_and_admin_scans_accept_a_turn_without_a_blink() {
        let turn = Arc::new(Fake(vec![frame(0.95, 0.3, -12.0), frame(0.95, 0.3, 12.0)]));
        let scan = live_scan(turn, frames(2))
            .await
            .expect("a turn is a challenge");
        assert!(scan.liveness.turn && !scan.liveness.blink);
        assert_eq!(scan.match_threshold, 0.54);
    }

    #[tokio::test]
    async fn a_still_capture_or_a_borderline_score_is_refused() {
        let still = Arc::new(Fake(vec![frame(0.95, 0.3, 0.0), frame(0.95, 0.3, 0.0)]));
        assert!(matches!(
            live_scan(still, frames(2)).await,
            Err(ScanError::NotLive(v)) if v.result == Outcome::Fail
        ));
        let borderline = Arc::new(Fake(vec![frame(0.8, 0.3, 0.0), frame(0.8, 0.1, 0.0)]));
        assert!(matches!(
            live_scan(borderline, frames(2)).await,
            Err(ScanError::NotLive(v)) if v.result == Outcome::Review
        ));
    }

    #[tokio::test]
    async fn the_frame_count_is_checked_before_analysis() {
        let live = Arc::new(Fake(vec![frame(0.95, 0.3, -12.0), frame(0.95, 0.1, 12.0)]));
        for n in [0, 1, MAX_FRAMES + 1] {
            assert!(matches!(
                live_scan(live.clone(), frames(n)).await,
                Err(ScanError::Frames(_))
            ));
        }
    }
}
