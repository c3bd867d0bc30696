//! The face engine on real photos (`../shared/eval`) and on hostile inputs. Models come
//! from `VOUCH_MODELS_DIR` or the repository's `models/` (filled by
//! `scripts/fetch-models.sh`).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use image::{DynamicImage, ImageFormat};
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use vouch_face::{cosine, decode, DecodeLimits, EngineConfig, FaceEngine, Rgb};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[path = "../../testkit/src/evaldata.rs"]
mod evaldata;

fn eval(path: &str) -> Vec<u8> {
    evaldata::eval_bytes(path)
}

fn engine() -> Arc<FaceEngine> {
    static ENGINE: OnceLock<Arc<FaceEngine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let dir = std::env::var_os("VOUCH_MODELS_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| repo().join("models"));
            let mut cfg = EngineConfig::new(dir);
            cfg.workers = 2;
            Arc::new(FaceEngine::load(cfg).expect("models load (run scripts/fetch-models.sh)"))
        })
        .clone()
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn to_dynamic(rgb: &Rgb) -> DynamicImage {
    DynamicImage::ImageRgb8(
        image::RgbImage::from_raw(rgb.width, rgb.height, rgb.data.clone()).unwrap(),
    )
}

#[test]
fn same_people_match_and_different_people_do_not() {
    let e = engine();
    let emb = |name: &str| {
        e.primary_face(&e.decode(&eval(&format!("faces/{name}"))).unwrap())
            .unwrap()
            .1
    };
    let (a, b, c) = (emb("img1.jpg"), emb("img2.jpg"), emb("img16.jpg"));
    assert_eq!(a.len(), 192);
    assert!(
        (a.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-4,
        "L2-normalised"
    );
    let t = e.config().match_threshold;
    assert!(cosine(&a, &b) >= t, "same person: {}", cosine(&a, &b));
    assert!(cosine(&a, &c) < t, "different people: {}", cosine(&a, &c));
}

#[test]
fn every_face_of_a_group_photo_is_found() {
    let e = engine();
    let couple = e
        .analyze(&e.decode(&eval("faces/couple.jpg")).unwrap())
        .unwrap();
    assert_eq!(couple.len(), 2);
    let many = e
        .detect(&e.decode(&eval("faces/selfie-many-people.jpg")).unwrap())
        .unwrap();
    assert!(many.len() >= 5, "found {}", many.len());
    for f in &couple {
        // Landmarks sit inside the box, eyes above the mouth.
        for p in f.face.landmarks {
            assert!(p[0] >= f.face.bbox[0] - 5.0 && p[0] <= f.face.bbox[2] + 5.0);
        }
        assert!(f.face.landmarks[0][1] < f.face.landmarks[3][1]);
        assert!(f.quality.sharpness > 0.0 && f.quality.brightness > 0.0);
    }
}

#[test]
fn exif_orientation_is_honoured() {
    let e = engine();
    let upright = e.decode(&eval("faces/img5.jpg")).unwrap();
    // Store the pixels rotated 90° clockwise... and say so in EXIF (orientation 8 asks
    // the reader to rotate 90° anticlockwise back).
    let rotated = to_dynamic(&upright).rotate90();
    let jpeg = encode(&rotated, ImageFormat::Jpeg);
    let tagged = with_exif_orientation(&jpeg, 8);
    let decoded = e.decode(&tagged).unwrap();
    assert_eq!(
        (decoded.width, decoded.height),
        (upright.width, upright.height)
    );
    let faces = e.detect(&decoded).unwrap();
    assert_eq!(faces.len(), 1);
    let pose = vouch_face::pose(&faces[0]);
    assert!(pose.roll.abs() < 20.0, "upright face, roll {}", pose.roll);
    // Without the tag the face lies on its side (or is not found at all).
    let sideways = e.decode(&jpeg).unwrap();
    assert_eq!(
        (sideways.width, sideways.height),
        (upright.height, upright.width)
    );
    if let Some(f) = e.detect(&sideways).unwrap().first() {
        assert!(vouch_face::pose(f).roll.abs() > 45.0);
    }
}

/// Inserts an APP1 EXIF segment with an orientation tag after the JPEG SOI marker.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn grayscale_png_and_webp_inputs_work() {
    let e = engine();
    let img = e.decode(&eval("faces/img5.jpg")).unwrap();
    let gray = DynamicImage::ImageLuma8(to_dynamic(&img).to_luma8());
    let faces = e
        .detect(&e.decode(&encode(&gray, ImageFormat::Png)).unwrap())
        .unwrap();
    assert_eq!(faces.len(), 1);
    let webp = encode(&to_dynamic(&img), ImageFormat::WebP);
    assert_eq!(e.detect(&e.decode(&webp).unwrap()).unwrap().len(), 1);
}

#[test]
fn cmyk_jpeg_decodes() {
    let bytes =
        std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cmyk.jpg"))
            .unwrap();
    let img = decode(&bytes, &DecodeLimits::default()).unwrap();
    assert_eq!((img.width, img.height), (64, 48));
    assert!(
        engine().detect(&img).unwrap().is_empty(),
        "a gradient has no face"
    );
}

#[test]
fn no_face_tiny_face_and_one_pixel_images_give_no_face() {
    let e = engine();
    let blank = Rgb::new(640, 480, vec![128; 640 * 480 * 3]).unwrap();
    assert!(e.detect(&blank).unwrap().is_empty());
    let err = e.primary_face(&blank).unwrap_err().to_string();
    assert!(err.contains("no face"), "{err}");
    let one = encode(&DynamicImage::new_rgb8(1, 1), ImageFormat::Png);
    assert!(e.detect(&e.decode(&one).unwrap()).unwrap().is_empty());
    // A face of about 15 px is below the default smallest face (40 px).
    let img = e.decode(&eval("faces/img5.jpg")).unwrap();
    let tiny = to_dynamic(&img)
        .resize(40, 40, image::imageops::FilterType::Triangle)
        .to_rgb8();
    let (w, h) = tiny.dimensions();
    let tiny = Rgb::new(w, h, tiny.into_raw()).unwrap();
    assert!(e.detect(&tiny).unwrap().is_empty());
}

#[test]
fn hostile_inputs_are_refused_with_clear_errors() {
    let limits = DecodeLimits::default();
    let jpeg = eval("faces/img5.jpg");
    for (bytes, want) in [
        (Vec::new(), "empty"),
        (b"not an image at all".to_vec(), "format"),
        (jpeg[..jpeg.len() / 3].to_vec(), "decode"),
        (b"GIF89a\x01\x00\x01\x00".to_vec(), "format"),
        (png_claiming(20_000, 20_000), "limit"),
        (vec![0xFF; limits.max_bytes + 1], "limit"),
    ] {
        let err = match decode(&bytes, &limits) {
            Ok(_) => panic!("accepted a bad image ({want})"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(want), "{want}: {err}");
    }
}

/// A tiny PNG whose header claims `w × h` pixels: a decompression bomb.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut png = encode(&DynamicImage::new_rgb8(1, 1), ImageFormat::Png);
    // IHDR data starts at byte 16 (8 signature + 4 length + 4 type).
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn the_pool_serves_concurrent_callers() {
    let e = engine();
    let img = Arc::new(e.decode(&eval("faces/img6.jpg")).unwrap());
    let reference = e.primary_face(&img).unwrap().1;
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (e, img) = (e.clone(), img.clone());
            std::thread::spawn(move || e.primary_face(&img).unwrap().1)
        })
        .collect();
    for h in handles {
        let emb = h.join().unwrap();
        assert!(cosine(&emb, &reference) > 0.9999);
    }
}

#[test]
fn liveness_ranks_the_attack_samples_below_the_live_one() {
    // MiniFASNet's own samples (shared/eval/liveness): the live face passes the default
    // threshold and scores above both attacks; F2 fails outright. F1, a sharp print, scores
    // above the threshold on this single frame (calibrated on NUAA: docs/accuracy.md),
    // which is why a session also needs a blink or turn in one consistent capture.
    let e = engine();
    let score = |name: &str| {
        let img = e.decode(&eval(&format!("liveness/{name}"))).unwrap();
        let faces = e.faces(&img).unwrap();
        e.liveness(&img, &faces[0]).unwrap()
    };
    let live = score("image_T1.jpg");
    assert!(live >= e.config().liveness_threshold, "live {live}");
    for attack in ["image_F1.jpg", "image_F2.jpg"] {
        let s = score(attack);
        assert!(s < live, "{attack}: {s} vs live {live}");
    }
    assert!(score("image_F2.jpg") < e.config().liveness_threshold - 0.25);
}

#[test]
fn mutated_images_never_panic_or_hang() {
    // A deterministic mutation run over real JPEG, PNG and WebP bytes: bit flips, cut
    // points and spliced headers. Every outcome must be Ok or a clean error, quickly.
    let e = engine();
    let img = e.decode(&eval("faces/img5.jpg")).unwrap();
    let small = to_dynamic(&img).resize(160, 160, image::imageops::FilterType::Triangle);
    let seeds = [
        encode(&small, ImageFormat::Jpeg),
        encode(&small, ImageFormat::Png),
        encode(&small, ImageFormat::WebP),
    ];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let started = std::time::Instant::now();
    for round in 0..300 {
        let mut bytes = seeds[round % seeds.len()].clone();
        match next() % 3 {
            0 => {
                for _ in 0..(1 + next() % 8) {
                    let i = (next() as usize) % bytes.len();
                    bytes[i] ^= 1 << (next() % 8);
                }
            }
            1 => bytes.truncate(1 + (next() as usize) % bytes.len()),
            _ => {
                let i = 2 + (next() as usize) % (bytes.len() - 2);
                let j = (next() as usize) % bytes.len();
                let chunk: Vec<u8> = bytes[j..(j + 16).min(bytes.len())].to_vec();
                bytes.splice(i..i, chunk);
            }
        }
        if let Ok(decoded) = e.decode(&bytes) {
            let _ = e.detect(&decoded);
        }
    }
    assert!(
        started.elapsed().as_secs() < 120,
        "mutation run took {:?}",
        started.elapsed()
    );
}

#[test]
fn frame_consistency_catches_repeated_frames_and_other_people() {
    let e = engine();
    let t = e.config().match_threshold;
    let base = e.decode(&eval("liveness/image_T1.jpg")).unwrap();
    // A "live" sequence: the same photo shifted a few pixels each frame.
    let shifted: Vec<Rgb> = (0..3)
        .map(|k| {
            let d = to_dynamic(&base)
                .crop_imm(k * 6, k * 4, base.width - 12, base.height - 8)
                .to_rgb8();
            let (w, h) = d.dimensions();
            Rgb::new(w, h, d.into_raw()).unwrap()
        })
        .collect();
    let analyse = |img: &Rgb| e.analyze(img).unwrap().remove(0);
    let faces: Vec<_> = shifted.iter().map(analyse).collect();
    let frames: Vec<_> = shifted
        .iter()
        .zip(&faces)
        .map(|(image, face)| vouch_face::Frame { image, face })
        .collect();
    let live = vouch_face::consistency(&frames, t);
    assert!(
        live.same_person && live.repeated_frames == 0 && live.consistent,
        "{live:?}"
    );
    // A replayed still: the same frame three times.
    let still: Vec<_> = (0..3)
        .map(|_| vouch_face::Frame {
            image: &shifted[0],
            face: &faces[0],
        })
        .collect();
    let replay = vouch_face::consistency(&still, t);
    assert_eq!(replay.repeated_frames, 2);
    assert!(!replay.consistent);
    // Regression: one frame delivered twice by a busy camera (1 of 4 pairs) is tolerated;
    // the browser tests' captures failed as a replay for it.
    let order = [0, 1, 1, 2, 0];
    let jittery: Vec<_> = order
        .iter()
        .map(|&k| vouch_face::Frame {
            image: &shifted[k],
            face: &faces[k],
        })
        .collect();
    let c = vouch_face::consistency(&jittery, t);
    assert_eq!(c.repeated_frames, 1, "{c:?}");
    assert!(c.consistent, "{c:?}");
    // Someone else in the middle.
    let other_img = e.decode(&eval("faces/img16.jpg")).unwrap();
    let other = analyse(&other_img);
    let swapped = vec![
        vouch_face::Frame {
            image: &shifted[0],
            face: &faces[0],
        },
        vouch_face::Frame {
            image: &other_img,
            face: &other,
        },
        vouch_face::Frame {
            image: &shifted[2],
            face: &faces[2],
        },
    ];
    let mixed = vouch_face::consistency(&swapped, t);
    assert!(!mixed.same_person && !mixed.consistent, "{mixed:?}");
}

#[test]
fn age_gender_and_mesh_match_the_python_reference() {
    // img5.jpg with the MTCNN box [90.3, 104.3, 272.3, 356.4]: AgeGenderNet gives age 28.78,
    // P(male) 0.166 (models/scripts/agegender_ref.py, bench/accuracy/age-models.md); the face
    // mesh EAR 0.320 / 0.335, yaw +5.1° (models/human-notes.md). PIL's decoder and ours may
    // differ by a grey level, hence the tolerances.
    let e = engine();
    let img = e.decode(&eval("faces/img5.jpg")).unwrap();
    let face = vouch_face::Face {
        bbox: [90.3, 104.3, 272.3, 356.4],
        score: 1.0,
        landmarks: [[0.0; 2]; 5],
    };
    let ag = e.age_gender(&img, &face).unwrap();
    assert!((ag.age - 28.78).abs() < 0.5, "age {}", ag.age);
    assert!(
        (ag.male_probability - 0.166).abs() < 0.05,
        "{}",
        ag.male_probability
    );
    let m = e.mesh(&img, &face).unwrap();
    assert!((m.eye_left - 0.320).abs() < 0.02, "{m:?}");
    assert!((m.eye_right - 0.335).abs() < 0.02, "{m:?}");
    assert!((m.yaw - 5.1).abs() < 1.5, "{m:?}");
    assert!(m.confidence > 0.9);
    // A man in the same eval set reads as male.
    let man = e.decode(&eval("faces/img17.jpg")).unwrap();
    let f = e.detect(&man).unwrap().remove(0);
    assert!(e.age_gender(&man, &f).unwrap().male_probability > 0.9);
}

#[test]
fn mesh_yaw_follows_a_mirrored_face() {
    let e = engine();
    let img = e.decode(&eval("faces/selfie-many-people.jpg")).unwrap();
    let mirrored = {
        let d = to_dynamic(&img).fliph().to_rgb8();
        let (w, h) = d.dimensions();
        Rgb::new(w, h, d.into_raw()).unwrap()
    };
    let face = e.detect(&img).unwrap().remove(0);
    let yaw = e.mesh(&img, &face).unwrap().yaw;
    let w = img.width as f32;
    let flipped = vouch_face::Face {
        bbox: [
            w - face.bbox[2],
            face.bbox[1],
            w - face.bbox[0],
            face.bbox[3],
        ],
        ..face.clone()
    };
    let yaw_m = e.mesh(&mirrored, &flipped).unwrap().yaw;
    assert!(yaw.abs() > 10.0, "a turned face: {yaw}");
    assert!(
        (yaw + yaw_m).abs() < 5.0,
        "mirror flips yaw: {yaw} vs {yaw_m}"
    );
}

#[test]
fn an_embedding_is_the_same_for_a_face_and_its_mirror_image() {
    // The embedding sums the network's outputs for the crop and its mirror image, so a
    // mirrored crop embeds to the same vector; without the flip the two differ clearly.
    let e = engine();
    let img = e.decode(&eval("faces/img1.jpg")).unwrap();
    let face = e.detect(&img).unwrap().remove(0);
    let crop = vouch_face::align(&img, &face, 112);
    let mirrored = {
        let d = to_dynamic(&crop).fliph().to_rgb8();
        Rgb::new(112, 112, d.into_raw()).unwrap()
    };
    let emb = e.embed_aligned(&[crop, mirrored]).unwrap();
    let same = cosine(&emb[0], &emb[1]);
    assert!(same > 0.9999, "a face and its mirror: {same}");
}
