//! The analysis engines of the hosted flow (face and document), loaded once at start and
//! optional: without models the server runs and the analysis endpoints answer 503. Every
//! inference runs on the blocking pool, never on the async workers.

use std::path::Path;
use std::sync::Arc;
use vouch_core::policy::{FrameMeasures, LivenessEvidence};
use vouch_doc::reader::{DocReader, DocumentRead, ReaderConfig};
use vouch_face::{EngineConfig, FaceAnalysis, FaceEngine, Rgb};

/// The face engine and the document reader.
pub struct Engines {
    /// Faces: detection, embeddings, liveness, age, mesh.
    pub face: Arc<FaceEngine>,
    /// Documents: MRZ, barcode, portrait.
    pub doc: Arc<DocReader>,
}

impl Engines {
    /// Loads both engines from a models folder (see `scripts/fetch-models.sh`).
    pub fn load(models_dir: &Path) -> Result<Engines, String> {
        Self::load_with(EngineConfig::new(models_dir))
    }

    /// Loads both engines with face engine settings.
    pub fn load_with(config: EngineConfig) -> Result<Engines, String> {
        let face = Arc::new(FaceEngine::load(config.clone()).map_err(|e| e.to_string())?);
        let doc = DocReader::load(&config, ReaderConfig::default(), Some(face.clone()))
            .map_err(|e| e.to_string())?;
        Ok(Engines {
            face,
            doc: Arc::new(doc),
        })
    }
}

/// Why a capture could not be analysed (answered 422, or 500 for `Engine`).
#[derive(Debug)]
pub enum CaptureError {
    /// The image could not be decoded or is not acceptable; `code` is one of
    /// [`CaptureError::CODES`], for the hosted page to show a translated message.
    Image {
        /// Machine code.
        code: &'static str,
        /// What was wrong, in English.
        message: String,
    },
    /// The engine failed.
    Engine(String),
}

impl CaptureError {
    /// The codes of [`CaptureError::Image`].
    pub const CODES: [&'static str; 7] = [
        "unreadable_image",
        "no_face",
        "several_faces",
        "face_too_small",
        "too_dark",
        "too_blurry",
        "document_unreadable",
    ];

    fn image(code: &'static str, message: String) -> CaptureError {
        CaptureError::Image { code, message }
    }
}

/// A face narrower than this many pixels is too far away to judge.
pub const MIN_FACE_PX: f32 = 80.0;
/// Mean luminance (0–1) of the aligned face under which a frame is too dark.
pub const MIN_BRIGHTNESS: f32 = 0.12;
/// Laplacian variance of the aligned face under which a frame is too blurred (the face
/// engine's sharp eval photos measure 500–1300 once framed as a webcam sees them).
pub const MIN_SHARPNESS: f32 = 30.0;

/// What the selfie frames said.
pub struct SelfieAnalysis {
    /// Liveness measurements, for the policy.
    pub liveness: LivenessEvidence,
    /// Median estimated age.
    pub estimated_age: f32,
    /// The mean of the frames' embeddings, L2-normalised.
    pub embedding: Vec<f32>,
}

fn mean_embedding(faces: &[FaceAnalysis]) -> Vec<f32> {
    let dim = faces.first().map(|f| f.embedding.len()).unwrap_or(0);
    let mut v = vec![0f32; dim];
    for f in faces {
        for (a, b) in v.iter_mut().zip(&f.embedding) {
            *a += b;
        }
    }
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// Analyses selfie frames (encoded images): exactly one face in each, then liveness
/// measures, age and the embedding. Blocking: call from the blocking pool.
pub fn analyse_selfie(
    engine: &FaceEngine,
    frames: &[Vec<u8>],
) -> Result<SelfieAnalysis, CaptureError> {
    analyse_frames(engine, frames, true)
}

/// Analyses frames as [`analyse_selfie`] does; without `challenges`, the face mesh and
/// age are skipped (1:N verify needs neither: eye openness and yaw come out NaN).
pub fn analyse_frames(
    engine: &FaceEngine,
    frames: &[Vec<u8>],
    challenges: bool,
) -> Result<SelfieAnalysis, CaptureError> {
    // Frames are analysed side by side by one worker per core (the face engine's pool has
    // a model set per core), each taking the next frame when done, so 8 frames cost about
    // 8/cores frames. Only the largest face of a frame is measured; passive liveness and
    // age, which need no sequence, on three frames (first, middle, last) only, their
    // median judged.
    let cores = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(1);
    let n = frames.len();
    let sampled = [0, n / 2, n.saturating_sub(1)];
    // The costly sampled frames first, so that the cheap ones fill in behind them and the
    // workers finish together.
    let mut order: Vec<usize> = Vec::with_capacity(n);
    for i in sampled.into_iter().chain(0..n) {
        if i < n && !order.contains(&i) {
            order.push(i);
        }
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    type Analysed = Result<(Rgb, Vec<vouch_face::Face>, Option<FaceAnalysis>), CaptureError>;
    let slots: Vec<std::sync::Mutex<Option<Analysed>>> =
        (0..n).map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..cores.min(n) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&i) = order.get(k) else { break };
                let Some(bytes) = frames.get(i) else { break };
                let result = engine
                    .decode(bytes)
                    .map_err(|e| {
                        CaptureError::image("unreadable_image", format!("frame {}: {e}", i + 1))
                    })
                    .and_then(|img| {
                        let sample = sampled.contains(&i);
                        let what = vouch_face::Measure {
                            passive: sample,
                            age: sample && challenges,
                            mesh: challenges,
                            mirror: sample,
                        };
                        let (all, largest) = engine
                            .analyze_largest(&img, what)
                            .map_err(|e| CaptureError::Engine(e.to_string()))?;
                        Ok((img, all, largest))
                    });
                if let Ok(mut slot) = slots[i].lock() {
                    *slot = Some(result);
                }
            });
        }
    });
    let mut images: Vec<Rgb> = Vec::with_capacity(n);
    let mut faces: Vec<FaceAnalysis> = Vec::with_capacity(n);
    for (i, slot) in slots.into_iter().enumerate() {
        let n = i + 1;
        let result = slot
            .into_inner()
            .ok()
            .flatten()
            .unwrap_or_else(|| Err(CaptureError::Engine("frame analysis panicked".into())));
        let (img, all, largest) = result?;
        let Some(largest) = largest else {
            return Err(CaptureError::image(
                "no_face",
                format!("frame {n}: no face found"),
            ));
        };
        if vouch_face::subject::other_people(&all) > 0 {
            return Err(CaptureError::image(
                "several_faces",
                format!(
                "frame {n}: several faces found; only the person verifying should be in the picture"
            ),
            ));
        }
        let q = &largest.quality;
        if q.face_size < MIN_FACE_PX {
            return Err(CaptureError::image(
                "face_too_small",
                format!(
                    "frame {n}: the face is {:.0} px wide, at least {MIN_FACE_PX} px needed: come closer",
                    q.face_size
                ),
            ));
        }
        if q.brightness < MIN_BRIGHTNESS {
            return Err(CaptureError::image(
                "too_dark",
                format!("frame {n}: the face is too dark to analyse"),
            ));
        }
        if q.sharpness < MIN_SHARPNESS {
            return Err(CaptureError::image(
                "too_blurry",
                format!("frame {n}: the face is too blurred to analyse"),
            ));
        }
        images.push(img);
        faces.push(largest);
    }
    let seq: Vec<vouch_face::Frame<'_>> = images
        .iter()
        .zip(&faces)
        .map(|(image, face)| vouch_face::Frame { image, face })
        .collect();
    let consistency = vouch_face::consistency(&seq, vouch_face::SAME_PERSON_IN_SEQUENCE);
    let measures = faces
        .iter()
        .map(|f| FrameMeasures {
            passive: f.liveness,
            eye_openness: f
                .mesh
                .map_or(f32::NAN, |m| (m.eye_left + m.eye_right) / 2.0),
            yaw: f.mesh.map_or(f32::NAN, |m| m.yaw),
        })
        .collect();
    let ages: Vec<f32> = faces
        .iter()
        .filter_map(|f| f.age_gender.map(|a| a.age))
        .collect();
    Ok(SelfieAnalysis {
        liveness: LivenessEvidence {
            frames: measures,
            consistent: consistency.consistent,
        },
        estimated_age: vouch_core::policy::median(&ages),
        embedding: mean_embedding(&faces),
    })
}

/// What the document said, with the portrait's embedding when one was found.
pub struct DocumentAnalysis {
    /// The reading.
    pub read: DocumentRead,
    /// The portrait's embedding.
    pub portrait: Option<Vec<f32>>,
}

/// Reads a document (front, and back for a driver's licence) and embeds its portrait.
/// Blocking: call from the blocking pool.
pub fn analyse_document(
    engines: &Engines,
    front: &[u8],
    back: Option<&[u8]>,
    today: chrono::NaiveDate,
) -> Result<DocumentAnalysis, CaptureError> {
    let front = engines
        .doc
        .decode(front)
        .map_err(|e| CaptureError::image("unreadable_image", format!("front: {e}")))?;
    let back = back
        .map(|b| engines.doc.decode(b))
        .transpose()
        .map_err(|e| CaptureError::image("unreadable_image", format!("back: {e}")))?;
    let read = engines
        .doc
        .read(&front, back.as_ref(), today)
        .map_err(|e| match e {
            vouch_doc::DocError::Image(m) => CaptureError::image("unreadable_image", m),
            e => CaptureError::Engine(e.to_string()),
        })?;
    let portrait = match &read.portrait {
        Some(p) => Some(
            engines
                .face
                .embed(&front, &p.face)
                .map_err(|e| CaptureError::Engine(e.to_string()))?,
        ),
        None => None,
    };
    Ok(DocumentAnalysis { read, portrait })
}
