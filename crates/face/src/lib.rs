//! vouch-face: the face engine. Plain functions over decoded images — no HTTP, no
//! database. Models (MTCNN, MobileFaceNet, MiniFASNet anti-spoofing, AgeGenderNet age,
//! MediaPipe face mesh) run through ONNX Runtime, loaded once and shared; inference runs
//! on a bounded pool of model sets.
//!
//! ```text
//! bytes ─decode─> RGB ─detect (MTCNN P/R/O-Net)─> faces (box, 5 landmarks, score)
//!                    │                              └─subject: who is in the picture
//!                    └─align (similarity → 112×112)─embed (192-d, L2)─> compare (cosine)
//!                    └─crops 2.7× and 4× → 80×80─MiniFASNet V2 + V1SE─> liveness score
//!                    └─crop 112─AgeGenderNet─> age   └─crop 192─face mesh─> eyes, yaw
//! ```

mod align;
mod attributes;
mod decode;
mod detect;
mod engine;
pub mod index;
pub mod liveness;
pub mod pool;
mod quality;
mod resize;
mod sequence;
pub mod subject;

pub use align::{align, ARCFACE_TEMPLATE};
pub use attributes::{AgeGender, MeshMeasures};
pub use decode::{decode, DecodeLimits, Rgb};
pub use detect::{DetectConfig, Face};
pub use engine::{cosine, open_session, EngineConfig, FaceAnalysis, FaceEngine, Measure};
pub use ort;
pub use quality::{pose, Pose, Quality};
pub use sequence::{consistency, Consistency, Frame, SAME_PERSON_IN_SEQUENCE};

/// What can go wrong in the face engine.
#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    /// The image is not acceptable (format, size, corrupt data).
    #[error("{0}")]
    Image(String),
    /// Models could not be loaded.
    #[error("model loading failed: {0}")]
    Model(String),
    /// Inference failed.
    #[error("inference failed: {0}")]
    Inference(String),
}

/// Result with [`FaceError`].
pub type Result<T, E = FaceError> = std::result::Result<T, E>;

impl From<ort::Error> for FaceError {
    fn from(e: ort::Error) -> Self {
        FaceError::Inference(e.to_string())
    }
}
