//! The engine: model sets in a bounded pool, and the operations callers use.

use crate::align::align;
use crate::attributes::{AgeGender, MeshMeasures};
use crate::decode::{decode, DecodeLimits};
use crate::detect::{DetectConfig, Face, Mtcnn};
use crate::liveness::{calibrate, MiniFas};
use crate::pool::Pool;
use crate::quality::{quality, Quality};
use crate::{FaceError, Result, Rgb};
use ort::environment::Environment;
use ort::session::Session;
use ort::value::Tensor;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Folder with the model files (also searched: its `fetched/` subfolder).
    pub models_dir: PathBuf,
    /// The ONNX Runtime library; default `<models_dir>/fetched/libonnxruntime.so`, or
    /// `ORT_DYLIB_PATH` when set.
    pub ort_library: Option<PathBuf>,
    /// Model sets in the pool: requests beyond this wait their turn.
    pub workers: usize,
    /// Threads each inference may use.
    pub intra_threads: usize,
    /// Detector settings.
    pub detect: DetectConfig,
    /// Decoding limits.
    pub decode: DecodeLimits,
    /// Cosine similarity at or above which two faces match.
    pub match_threshold: f32,
    /// Liveness score at or above which a face is judged live.
    pub liveness_threshold: f32,
}

impl EngineConfig {
    /// Defaults for a models folder.
    pub fn new(models_dir: impl Into<PathBuf>) -> Self {
        EngineConfig {
            models_dir: models_dir.into(),
            ort_library: None,
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .min(8),
            intra_threads: 1,
            detect: DetectConfig::default(),
            decode: DecodeLimits::default(),
            match_threshold: DEFAULT_MATCH_THRESHOLD,
            liveness_threshold: DEFAULT_LIVENESS_THRESHOLD,
        }
    }
}

/// MobileFaceNet's input scaling: (x − 127.5) / 128.
fn normalise_pixel(v: u8) -> f32 {
    (f32::from(v) - 127.5) / 128.0
}

/// Default cosine match threshold of 1:N verify and enrolment checks (frames of one capture
/// use [`crate::SAME_PERSON_IN_SEQUENCE`]):
/// the score at which at most 1 in 10,000 different-person comparisons match, chosen on
/// every cross-identity pair of LFW folds 1–3 (0.534, rounded up) and confirmed on folds
/// 4–5 (FMR 7.3e-5, FNMR 7.6%); docs/accuracy.md. Selfie-to-document matching has its own
/// threshold (the key's `face_match`, spec default 0.57).
pub const DEFAULT_MATCH_THRESHOLD: f32 = 0.54;
/// Default liveness threshold: the spec's default for a key (0.85), on the calibrated
/// scale of [`crate::liveness::calibrate`].
pub const DEFAULT_LIVENESS_THRESHOLD: f32 = 0.85;

struct Models {
    mtcnn: Mtcnn,
    embed: Session,
    minifas: MiniFas,
    agegender: Session,
    facemesh: Session,
}

/// Everything the engine says about one face.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaceAnalysis {
    /// Box, landmarks and detector score.
    #[serde(flatten)]
    pub face: Face,
    /// Passive liveness, 0–1 (higher is more likely a live face); absent when not asked
    /// for (see [`FaceEngine::analyze_largest`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness: Option<f32>,
    /// Quality measures and pose.
    pub quality: Quality,
    /// Estimated age and gender (absent when not asked for, see
    /// [`FaceEngine::analyze_largest`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_gender: Option<AgeGender>,
    /// Eye openness and yaw from the dense mesh (absent when not asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesh: Option<MeshMeasures>,
    /// The 192-d L2-normalised embedding (not serialised).
    #[serde(skip)]
    pub embedding: Vec<f32>,
}

/// What [`FaceEngine::analyze_largest`] measures beside the embedding and quality.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measure {
    /// Passive anti-spoofing.
    pub passive: bool,
    /// Age and gender.
    pub age: bool,
    /// Eye openness and yaw from the face mesh.
    pub mesh: bool,
    /// Embed the mirror image too ([`FaceEngine::embed_aligned`]); without it the
    /// embedding is the network's single pass, which a sequence of frames averages anyway.
    pub mirror: bool,
}

/// The face engine. Cheap to share behind an `Arc`; every method is `&self`.
pub struct FaceEngine {
    config: EngineConfig,
    pool: Pool<Models>,
}

/// ONNX Runtime allows one environment per process (it is the loaded library itself),
/// so it lives here rather than in the engine.
static ORT: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();

fn find(dir: &Path, name: &str) -> Result<PathBuf> {
    for p in [dir.join(name), dir.join("fetched").join(name)] {
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(FaceError::Model(format!(
        "{name} not found in {} (run scripts/fetch-models.sh)",
        dir.display()
    )))
}

fn environment(cfg: &EngineConfig) -> Result<Environment> {
    let lib = match (&cfg.ort_library, std::env::var_os("ORT_DYLIB_PATH")) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => PathBuf::from(p),
        (None, None) => find(&cfg.models_dir, "libonnxruntime.so")?,
    };
    ORT.get_or_init(|| {
        ort::init_from(&lib)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", lib.display()))?
            .with_name("vouch")
            .build()
            .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(FaceError::Model)
}

fn session(env: &Environment, path: &Path, threads: usize) -> Result<Session> {
    let err = |e: String| FaceError::Model(format!("{}: {e}", path.display()));
    Session::builder(env)
        .map_err(|e| err(e.to_string()))?
        .with_intra_threads(threads)
        .map_err(|e| err(e.to_string()))?
        .with_inter_threads(1)
        .map_err(|e| err(e.to_string()))?
        .commit_from_file(path)
        .map_err(|e| err(e.to_string()))
}

/// Opens another ONNX model (found like the engine's own: in `models_dir` or its
/// `fetched/` folder) on the process's one ONNX Runtime environment, with the engine's
/// thread settings. The document engine loads its OCR models this way.
///
/// Its intra-op threads do not spin while idle: the document engine runs its OCR beside
/// the face detector, and spinning threads would take the other's core.
pub fn open_session(cfg: &EngineConfig, file: &str) -> Result<Session> {
    let env = environment(cfg)?;
    let path = find(&cfg.models_dir, file)?;
    let err = |e: String| FaceError::Model(format!("{}: {e}", path.display()));
    Session::builder(&env)
        .map_err(|e| err(e.to_string()))?
        .with_intra_threads(cfg.intra_threads.max(1))
        .map_err(|e| err(e.to_string()))?
        .with_inter_threads(1)
        .map_err(|e| err(e.to_string()))?
        .with_intra_op_spinning(false)
        .map_err(|e| err(e.to_string()))?
        .commit_from_file(&path)
        .map_err(|e| err(e.to_string()))
}

/// Cosine similarity of two L2-normalised embeddings.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn l2_normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= n);
}

impl FaceEngine {
    /// Loads the models (`workers` sets of them) and the runtime.
    pub fn load(config: EngineConfig) -> Result<FaceEngine> {
        let env = environment(&config)?;
        let dir = &config.models_dir;
        let paths = [
            find(dir, "pnet.onnx")?,
            find(dir, "rnet.onnx")?,
            find(dir, "onet.onnx")?,
            find(dir, "MobileFaceNet.onnx")?,
            find(dir, "minifasnet_v2.onnx")?,
            find(dir, "minifasnet_v1se.onnx")?,
            find(dir, "agegendernet.onnx")?,
            find(dir, "facemesh.onnx")?,
        ];
        let workers = config.workers.max(1);
        let t = config.intra_threads.max(1);
        let mut pool = Vec::with_capacity(workers);
        for _ in 0..workers {
            pool.push(Models {
                mtcnn: Mtcnn {
                    pnet: session(&env, &paths[0], t)?,
                    rnet: session(&env, &paths[1], t)?,
                    onet: session(&env, &paths[2], t)?,
                },
                embed: session(&env, &paths[3], t)?,
                minifas: MiniFas {
                    v2: session(&env, &paths[4], t)?,
                    v1se: session(&env, &paths[5], t)?,
                },
                agegender: session(&env, &paths[6], t)?,
                facemesh: session(&env, &paths[7], t)?,
            });
        }
        Ok(FaceEngine {
            config,
            pool: Pool::new(pool),
        })
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Runs `f` with a model set, waiting for one to be free.
    fn with_models<T>(&self, f: impl FnOnce(&mut Models) -> Result<T>) -> Result<T> {
        self.pool
            .with(f)
            .unwrap_or_else(|| Err(FaceError::Inference("inference panicked".into())))
    }

    /// Decodes an encoded image with the configured limits.
    pub fn decode(&self, bytes: &[u8]) -> Result<Rgb> {
        decode(bytes, &self.config.decode)
    }

    /// Detects faces with the engine's one detector configuration, best score first.
    pub fn detect(&self, img: &Rgb) -> Result<Vec<Face>> {
        let cfg = self.config.detect;
        self.detect_with(img, &cfg)
    }

    /// Detects faces with other settings (the document reader looks for small printed
    /// portraits), best score first.
    pub fn detect_with(&self, img: &Rgb, cfg: &DetectConfig) -> Result<Vec<Face>> {
        self.with_models(|m| m.mtcnn.detect(img, cfg))
    }

    /// The faces of a photo as every caller counts them (hosted flow, enrolment, verify,
    /// presence, CLI): [`FaceEngine::detect`], with second detections of the largest face
    /// merged into it, largest first. [`crate::subject::other_people`] then says whether
    /// someone else is in the picture.
    pub fn faces(&self, img: &Rgb) -> Result<Vec<Face>> {
        Ok(crate::subject::distinct(self.detect(img)?))
    }

    /// Embeds aligned 112×112 crops (one batch). Each crop is embedded together with its
    /// mirror image and the two outputs are summed before normalising ("flip test-time
    /// augmentation"): on LFW it lowers the FNMR at FMR 1e-4 from 6.4% to 5.7%, for twice
    /// the embedding time (docs/accuracy.md).
    pub fn embed_aligned(&self, crops: &[Rgb]) -> Result<Vec<Vec<f32>>> {
        self.embed_crops(crops, true)
    }

    fn embed_crops(&self, crops: &[Rgb], mirror: bool) -> Result<Vec<Vec<f32>>> {
        if crops.is_empty() {
            return Ok(Vec::new());
        }
        const SIDE: usize = 112;
        let passes = if mirror { 2 } else { 1 };
        let mut input = Vec::with_capacity(passes * crops.len() * SIDE * SIDE * 3);
        for c in crops {
            if c.width as usize != SIDE || c.height as usize != SIDE {
                return Err(FaceError::Image("aligned crops must be 112×112".into()));
            }
            input.extend(c.data.iter().map(|&v| normalise_pixel(v)));
            if !mirror {
                continue;
            }
            for row in c.data.chunks_exact(SIDE * 3) {
                for px in row.chunks_exact(3).rev() {
                    input.extend(px.iter().map(|&v| normalise_pixel(v)));
                }
            }
        }
        let n = passes * crops.len();
        self.with_models(|m| {
            let tensor = Tensor::from_array(([n, SIDE, SIDE, 3], input))?;
            let outputs = m.embed.run(ort::inputs![tensor])?;
            let (_, data) = outputs[0].try_extract_tensor::<f32>()?;
            let dim = data.len() / n;
            Ok(data
                .chunks_exact(passes * dim)
                .map(|chunk| {
                    let (front, flipped) = chunk.split_at(dim);
                    let mut v = front.to_vec();
                    for (a, b) in v.iter_mut().zip(flipped) {
                        *a += b;
                    }
                    l2_normalise(&mut v);
                    v
                })
                .collect())
        })
    }

    /// Embeds one detected face.
    pub fn embed(&self, img: &Rgb, face: &Face) -> Result<Vec<f32>> {
        let crop = align(img, face, 112);
        self.embed_aligned(std::slice::from_ref(&crop))?
            .pop()
            .ok_or_else(|| FaceError::Inference("no embedding".into()))
    }

    /// MiniFASNet's fused probability that a face is real, as upstream computes it (not
    /// calibrated: see [`FaceEngine::liveness`]).
    pub fn liveness_raw(&self, img: &Rgb, face: &Face) -> Result<f32> {
        self.with_models(|m| m.minifas.raw(img, face))
    }

    /// Passive liveness in 0–1 on the calibrated scale of a key's liveness threshold
    /// ([`crate::liveness::calibrate`] of [`FaceEngine::liveness_raw`]).
    pub fn liveness(&self, img: &Rgb, face: &Face) -> Result<f32> {
        Ok(calibrate(self.liveness_raw(img, face)?))
    }

    /// Age and gender of a face.
    pub fn age_gender(&self, img: &Rgb, face: &Face) -> Result<AgeGender> {
        self.with_models(|m| crate::attributes::age_gender(&mut m.agegender, img, face))
    }

    /// Eye openness (for blink challenges) and head yaw (for turn challenges) of a face.
    pub fn mesh(&self, img: &Rgb, face: &Face) -> Result<MeshMeasures> {
        self.with_models(|m| crate::attributes::mesh_measures(&mut m.facemesh, img, face))
    }

    /// Finds every face ([`FaceEngine::faces`]) and measures each: embedding, liveness,
    /// quality, age, mesh.
    pub fn analyze(&self, img: &Rgb) -> Result<Vec<FaceAnalysis>> {
        let faces = self.faces(img)?;
        let crops: Vec<Rgb> = faces.iter().map(|f| align(img, f, 112)).collect();
        let embeddings = self.embed_aligned(&crops)?;
        let mut out = Vec::with_capacity(faces.len());
        for ((face, crop), embedding) in faces.into_iter().zip(&crops).zip(embeddings) {
            out.push(FaceAnalysis {
                liveness: Some(self.liveness(img, &face)?),
                quality: quality(crop, &face),
                age_gender: Some(self.age_gender(img, &face)?),
                mesh: Some(self.mesh(img, &face)?),
                face,
                embedding,
            });
        }
        Ok(out)
    }

    /// Every face of a frame (largest first, as [`FaceEngine::faces`] finds them), and
    /// the measures of the largest only: the embedding and quality always; passive
    /// liveness (two MiniFASNet runs, on a second thread beside the embedding), age
    /// and the face mesh as `what` asks.
    pub fn analyze_largest(
        &self,
        img: &Rgb,
        what: Measure,
    ) -> Result<(Vec<Face>, Option<FaceAnalysis>)> {
        let faces = self.faces(img)?;
        let Some(face) = faces.first().cloned() else {
            return Ok((faces, None));
        };
        let crop = align(img, &face, 112);
        let (embedding, liveness) = std::thread::scope(|s| {
            let passive = what.passive.then(|| s.spawn(|| self.liveness(img, &face)));
            let embedding = self
                .embed_crops(std::slice::from_ref(&crop), what.mirror)
                .and_then(|mut v| {
                    v.pop()
                        .ok_or_else(|| FaceError::Inference("no embedding".into()))
                });
            let liveness = passive
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(FaceError::Inference("liveness thread panicked".into()))
                    })
                })
                .transpose();
            (embedding, liveness)
        });
        let analysis = FaceAnalysis {
            liveness: liveness?,
            quality: quality(&crop, &face),
            age_gender: if what.age {
                Some(self.age_gender(img, &face)?)
            } else {
                None
            },
            mesh: if what.mesh {
                Some(self.mesh(img, &face)?)
            } else {
                None
            },
            face,
            embedding: embedding?,
        };
        Ok((faces, Some(analysis)))
    }

    /// The largest face of an image ([`FaceEngine::faces`]) with its embedding; errors
    /// when there is none.
    pub fn primary_face(&self, img: &Rgb) -> Result<(Face, Vec<f32>)> {
        let face = self
            .faces(img)?
            .into_iter()
            .next()
            .ok_or_else(|| FaceError::Image("no face found in the image".into()))?;
        let emb = self.embed(img, &face)?;
        Ok((face, emb))
    }
}
