//! vouch-face: the face engine. Plain functions over decoded images — no HTTP, no
//! database. Models (MTCNN, MobileFaceNet, a passive anti-spoofing network) run through
//! ONNX Runtime, loaded once and shared; inference runs on a bounded pool of model sets.
//!
//! ```text
//! bytes ─decode─> RGB ─detect (MTCNN P/R/O-Net)─> faces (box, 5 landmarks, score)
//!                    └─align (similarity → 112×112)─embed (192-d, L2)─> compare (cosine)
//!                    └─square crop 256─anti-spoofing─> liveness score
//! ```

mod align;
mod attributes;
mod decode;
mod detect;
mod engine;
pub mod index;
pub mod pool;
mod quality;
mod resize;
mod sequence;

pub use align::{align, ARCFACE_TEMPLATE};
pub use attributes::{AgeGender, MeshMeasures};
pub use decode::{decode, DecodeLimits, Rgb};
pub use detect::{DetectConfig, Face};
pub use engine::{cosine, open_session, EngineConfig, FaceAnalysis, FaceEngine, Measure};
pub use ort;
pub use quality::{pose, Pose, Quality};
pub use sequence::{consistency, Consistency, Frame};

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
