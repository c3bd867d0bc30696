//! vouch-doc: the document engine. Reads identity documents from photos: the machine
//! readable zone (MRZ) by OCR, the PDF417 barcode of North American driver's licences,
//! checks what it read, and finds the portrait for face match.

pub mod aamva;
pub mod barcode;
pub mod fastmrz;
pub mod geometry;
pub mod mrz;
pub mod ocr;
pub mod reader;

/// What can go wrong in the document engine (not a verdict on a document: those are
/// results).
#[derive(Debug, thiserror::Error)]
pub enum DocError {
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
