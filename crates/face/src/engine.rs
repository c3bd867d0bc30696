//! The engine: model sets in a bounded pool, and the operations callers use.

use crate::align::align;
use crate::attributes::{AgeGender, MeshMeasures};
use crate::decode::{decode, DecodeLimits};
use crate::detect::{DetectConfig, Face, Mtcnn};
use crate::pool::Pool;
use crate::quality::{quality, Quality};
use crate::resize::resize_region;
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
    /// The anti-spoofing crop: the face box's longer side times this, squared.
    pub liveness_crop_scale: f32,
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
            liveness_crop_scale: 1.0,
        }
    }
}

/// Default cosine match threshold (see README: chosen on the labelled pairs of
/// `shared/eval/faces`, where it gives no false accepts).
pub const DEFAULT_MATCH_THRESHOLD: f32 = 0.5;
/// Default liveness threshold: the anti-spoofing model's own cut (spoof score 0.2).
pub const DEFAULT_LIVENESS_THRESHOLD: f32 = 0.8;

struct Models {
    mtcnn: Mtcnn,
    embed: Session,
    spoof: Session,
    faceres: Session,
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
            find(dir, "FaceAntiSpoofing.onnx")?,
            find(dir, "faceres.onnx")?,
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
                spoof: session(&env, &paths[4], t)?,
                faceres: session(&env, &paths[5], t)?,
                facemesh: session(&env, &paths[6], t)?,
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

    /// Detects faces, best first.
    pub fn detect(&self, img: &Rgb) -> Result<Vec<Face>> {
        let cfg = self.config.detect;
        self.with_models(|m| m.mtcnn.detect(img, &cfg))
    }

    /// Embeds aligned 112×112 crops (one batch).
    pub fn embed_aligned(&self, crops: &[Rgb]) -> Result<Vec<Vec<f32>>> {
        if crops.is_empty() {
            return Ok(Vec::new());
        }
        let mut input = Vec::with_capacity(crops.len() * 112 * 112 * 3);
        for c in crops {
            if c.width != 112 || c.height != 112 {
                return Err(FaceError::Image("aligned crops must be 112×112".into()));
            }
            input.extend(c.data.iter().map(|&v| (f32::from(v) - 127.5) / 128.0));
        }
        let n = crops.len();
        self.with_models(|m| {
            let tensor = Tensor::from_array(([n, 112usize, 112, 3], input))?;
            let outputs = m.embed.run(ort::inputs![tensor])?;
            let (_, data) = outputs[0].try_extract_tensor::<f32>()?;
            let dim = data.len() / n;
            Ok(data
                .chunks_exact(dim)
                .map(|c| {
                    let mut v = c.to_vec();
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

    /// The anti-spoofing model's raw score (Σ|class|·mask; above 0.2 the model calls it
    /// an attack) for a face.
    pub fn spoof_score(&self, img: &Rgb, face: &Face) -> Result<f32> {
        // Square box around the face, kept inside the image, as the model expects.
        let w = face.width();
        let h = face.height();
        let side = (w.max(h) * self.config.liveness_crop_scale)
            .min(img.width.min(img.height) as f32)
            .max(1.0);
        let cx = (face.bbox[0] + face.bbox[2]) / 2.0;
        let cy = (face.bbox[1] + face.bbox[3]) / 2.0;
        let x0 = (cx - side / 2.0).clamp(0.0, (img.width as f32 - side).max(0.0));
        let y0 = (cy - side / 2.0).clamp(0.0, (img.height as f32 - side).max(0.0));
        let s = side.round() as usize;
        let patch = resize_region(img, x0 as i64, y0 as i64, s, s, 256, 256);
        let input: Vec<f32> = patch.iter().map(|v| v / 255.0).collect();
        self.with_models(|m| {
            let tensor = Tensor::from_array(([1usize, 256, 256, 3], input))?;
            let outputs = m.spoof.run(ort::inputs![tensor])?;
            let (_, clss) = outputs
                .get("Identity")
                .ok_or_else(|| FaceError::Inference("anti-spoofing output missing".into()))?
                .try_extract_tensor::<f32>()?;
            let (_, mask) = outputs
                .get("Identity_1")
                .ok_or_else(|| FaceError::Inference("anti-spoofing output missing".into()))?
                .try_extract_tensor::<f32>()?;
            Ok(clss.iter().zip(mask).map(|(c, m)| c.abs() * m).sum())
        })
    }

    /// Passive liveness in 0–1: `1 − spoof score`, so the model's own cut (0.2) is 0.8.
    pub fn liveness(&self, img: &Rgb, face: &Face) -> Result<f32> {
        Ok((1.0 - self.spoof_score(img, face)?).clamp(0.0, 1.0))
    }

    /// Age and gender of a face.
    pub fn age_gender(&self, img: &Rgb, face: &Face) -> Result<AgeGender> {
        self.with_models(|m| crate::attributes::age_gender(&mut m.faceres, img, face))
    }

    /// Eye openness (for blink challenges) and head yaw (for turn challenges) of a face.
    pub fn mesh(&self, img: &Rgb, face: &Face) -> Result<MeshMeasures> {
        self.with_models(|m| crate::attributes::mesh_measures(&mut m.facemesh, img, face))
    }

    /// Detects every face and measures each: embedding, liveness, quality, age, mesh.
    pub fn analyze(&self, img: &Rgb) -> Result<Vec<FaceAnalysis>> {
        let faces = self.detect(img)?;
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

    /// Every face of a frame (largest first), and the measures of the largest only: the
    /// embedding and quality always; passive liveness (the costliest model, ~57 ms a face
    /// on one core, run on a second thread beside the embedding), age and the face mesh
    /// as `what` asks. Faces narrower than `min_face` pixels are not looked for (a smaller
    /// pyramid: faster).
    pub fn analyze_largest(
        &self,
        img: &Rgb,
        min_face: f32,
        what: Measure,
    ) -> Result<(Vec<Face>, Option<FaceAnalysis>)> {
        let cfg = DetectConfig {
            min_face,
            ..self.config.detect
        };
        let mut faces = self.with_models(|m| m.mtcnn.detect(img, &cfg))?;
        faces.sort_by(|a, b| b.width().total_cmp(&a.width()));
        let Some(face) = faces.first().cloned() else {
            return Ok((faces, None));
        };
        let crop = align(img, &face, 112);
        let (embedding, liveness) = std::thread::scope(|s| {
            let passive = what.passive.then(|| s.spawn(|| self.liveness(img, &face)));
            let embedding = self
                .embed_aligned(std::slice::from_ref(&crop))
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

    /// The largest face of an image with its embedding; errors when there is none.
    pub fn primary_face(&self, img: &Rgb) -> Result<(Face, Vec<f32>)> {
        let faces = self.detect(img)?;
        let face = faces
            .into_iter()
            .max_by(|a, b| (a.width() * a.height()).total_cmp(&(b.width() * b.height())))
            .ok_or_else(|| FaceError::Image("no face found in the image".into()))?;
        let emb = self.embed(img, &face)?;
        Ok((face, emb))
    }
}
