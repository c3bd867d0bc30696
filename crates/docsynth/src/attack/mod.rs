//! Presentation attacks as a webcam captures them, for measuring vouch's passive liveness per
//! attack type (APCER per presentation-attack instrument species, ISO/IEC 30107-3).
//!
//! From a bona fide face photo it renders the photo shown on a phone or a laptop screen, or
//! printed on matte or glossy paper, held before a 640×480 webcam; and the bona fide capture:
//! the same photo through the same camera with no medium in between, so that the two differ
//! only by the attack medium.
//!
//! Scenes are rendered in linear light. A medium (a screen, a sheet of paper) lies in space,
//! flat or bent, turned by yaw, pitch and roll before a pinhole camera, over a room; each
//! camera pixel integrates the medium over its footprint. A screen's RGB stripes and a
//! print's halftone dots are about as fine as the camera's pixels, and that integration is
//! what turns them into moiré. The camera then defocuses, exposes, samples through a Bayer
//! mosaic with sensor noise, demosaics, sharpens and writes a JPEG. Deterministic for a seed.
//!
//! This file holds the public types and [`render`]; its private submodules hold the rest:
//! `scene` frames the bona fide photo, or poses a medium over a room, with `geometry` for the
//! pinhole projection and the sheet's bend and `hand` for the hand that holds it; `screen`
//! and `print` are the two kinds of medium; `camera` is the webcam that develops every scene;
//! `set` lists the source photos and writes whole sets with `labels.csv` ([`render_set`]).

mod camera;
mod geometry;
mod hand;
mod print;
mod scene;
mod screen;
mod set;

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Result};
use image::imageops::{self, FilterType};
use image::{ImageBuffer, Pixel, Rgb, Rgb32FImage, RgbImage};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::photo::jpeg;

use camera::Camera;
use scene::{attack_scene, bona_fide_scene};

pub use set::{list_sources, render_set, SetSpec, SourceFile, LABELS_HEADER};

/// Width and height of the webcam's frames.
pub const FRAME: (u32, u32) = (640, 480);

/// Sources are shrunk to at most this many pixels on their longer side: no screen or print
/// shows more of a face than that at webcam distance.
const SOURCE_MAX_PX: u32 = 1024;

/// Camera sub-samples per pixel side: each pixel integrates its footprint on the medium.
const SUBSAMPLES: u32 = 3;

/// The share of a pixel's side that its photodiode collects light from. Below 1, and with
/// no optical low-pass filter (as in webcams), detail finer than a pixel aliases: moiré.
const FILL_FACTOR: f32 = 0.5;

/// Linear RGB.
type Rgbf = [f32; 3];

/// A kind of presentation attack (a PAI species).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AttackType {
    /// The photo on a phone held up to the webcam.
    ScreenPhone,
    /// The photo on a laptop or monitor screen turned to the webcam.
    ScreenLaptop,
    /// A halftone print on matte paper, held by hand.
    PrintMatte,
    /// A continuous-tone glossy photo print, held by hand.
    PrintGlossy,
}

impl AttackType {
    /// Every type, in the order of the labels and the seeds.
    pub const ALL: [AttackType; 4] = [
        AttackType::ScreenPhone,
        AttackType::ScreenLaptop,
        AttackType::PrintMatte,
        AttackType::PrintGlossy,
    ];

    /// The name in labels and folder names (`screen_phone`, …).
    pub fn name(self) -> &'static str {
        match self {
            AttackType::ScreenPhone => "screen_phone",
            AttackType::ScreenLaptop => "screen_laptop",
            AttackType::PrintMatte => "print_matte",
            AttackType::PrintGlossy => "print_glossy",
        }
    }

    /// Position in [`AttackType::ALL`]; it picks the seed, so that choosing fewer types leaves
    /// the others' images unchanged.
    fn index(self) -> usize {
        AttackType::ALL
            .iter()
            .position(|&t| t == self)
            .unwrap_or_default()
    }

    fn is_screen(self) -> bool {
        matches!(self, AttackType::ScreenPhone | AttackType::ScreenLaptop)
    }
}

impl fmt::Display for AttackType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AttackType {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<AttackType, String> {
        AttackType::ALL
            .into_iter()
            .find(|t| t.name() == s.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = AttackType::ALL.iter().map(|t| t.name()).collect();
                format!(
                    "unknown attack type {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// What stands before the camera: the person (bona fide) or an attack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Presentation {
    /// The person themself: the photo through the camera, no medium.
    BonaFide,
    /// The photo on an attack medium.
    Attack(AttackType),
}

impl Presentation {
    /// The label: `bona_fide` or `attack:<type>`.
    pub fn label(self) -> String {
        match self {
            Presentation::BonaFide => "bona_fide".into(),
            Presentation::Attack(t) => format!("attack:{t}"),
        }
    }

    /// The folder and `type` column: `bona_fide` or the attack type's name.
    pub fn name(self) -> &'static str {
        match self {
            Presentation::BonaFide => "bona_fide",
            Presentation::Attack(t) => t.name(),
        }
    }
}

/// Where the face is in a source photo, as shares of the photo's width and height.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Framing {
    /// Centre of the face box.
    pub centre: (f32, f32),
    /// Width of the face box (about what a face detector's box spans).
    pub width: f32,
}

impl Default for Framing {
    /// LFW's crops: the face in the middle, a little above centre, 40 % of the width.
    fn default() -> Framing {
        Framing {
            centre: (0.5, 0.47),
            width: 0.4,
        }
    }
}

/// How a capture was framed, as the labels record it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pose {
    /// Width of the face as a share of the frame's width.
    pub distance: f32,
    /// Turn of the medium about its vertical axis, degrees (0 for bona fide).
    pub yaw: f32,
    /// Tilt of the medium about its horizontal axis, degrees (0 for bona fide).
    pub pitch: f32,
    /// In-plane rotation, degrees counter-clockwise.
    pub roll: f32,
}

/// One rendered webcam frame.
pub struct Capture {
    /// The frame as written to disk (640×480 JPEG).
    pub jpeg: Vec<u8>,
    /// How the face was framed, as the labels record it.
    pub pose: Pose,
    /// The face box in the frame, `[x, y, w, h]` pixels (its centre is exact; its size
    /// ignores perspective).
    pub face: [f32; 4],
}

/// A source photo, prepared once for all its renders.
pub struct Photo {
    /// sRGB, as a screen receives it.
    srgb: RgbImage,
    /// Linear light, as a print's inks and the bona fide scene use it.
    linear: Rgb32FImage,
    /// Face centre in pixels.
    face: (f32, f32),
    /// Face width in pixels.
    face_w: f32,
}

impl Photo {
    /// Prepares `img`, whose face sits where `framing` says; shrinks large photos.
    pub fn new(img: &RgbImage, framing: Framing) -> Result<Photo> {
        let (w, h) = img.dimensions();
        if w == 0 || h == 0 {
            bail!("the image is empty ({w}×{h})");
        }
        let Framing { centre, width } = framing;
        if !(centre.0.is_finite() && centre.1.is_finite() && width.is_finite() && width > 0.0) {
            bail!("the face framing must be finite with a positive width, got {framing:?}");
        }
        let srgb = if w.max(h) > SOURCE_MAX_PX {
            let k = SOURCE_MAX_PX as f32 / w.max(h) as f32;
            let nw = ((w as f32 * k).round() as u32).max(1);
            let nh = ((h as f32 * k).round() as u32).max(1);
            imageops::resize(img, nw, nh, FilterType::Triangle)
        } else {
            img.clone()
        };
        let linear = Rgb32FImage::from_fn(srgb.width(), srgb.height(), |x, y| {
            Rgb(srgb.get_pixel(x, y).0.map(|c| decode(f32::from(c) / 255.0)))
        });
        let (w, h) = (srgb.width() as f32, srgb.height() as f32);
        Ok(Photo {
            face: (centre.0 * w, centre.1 * h),
            face_w: (width * w).max(0.5),
            srgb,
            linear,
        })
    }
}

/// Renders `what` for `photo`; the same photo, presentation and seed give the same bytes.
pub fn render(photo: &Photo, what: Presentation, seed: u64) -> Result<Capture> {
    render_with(photo, what, seed, true)
}

/// [`render`], with a screen's sub-pixel stripes switched off for the tests that show that
/// the moiré comes from them.
fn render_with(photo: &Photo, what: Presentation, seed: u64, stripes: bool) -> Result<Capture> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let scene = match what {
        Presentation::BonaFide => bona_fide_scene(photo, &mut rng),
        Presentation::Attack(t) => attack_scene(photo, t, stripes, &mut rng)?,
    };
    let camera = Camera::sample(&mut rng, scene.defocus);
    let image = camera.develop(&scene.radiance, &mut rng);
    Ok(Capture {
        jpeg: jpeg(&image, camera.quality)?,
        pose: scene.pose,
        face: scene.face,
    })
}

/// A scene before the camera: radiance in linear light, with what the labels say about it.
struct Scene {
    radiance: Rgb32FImage,
    pose: Pose,
    face: [f32; 4],
    /// Defocus of the medium, pixels (added to the camera's own blur).
    defocus: f32,
}

fn face_box(centre: (f32, f32), distance: f32) -> [f32; 4] {
    let w = distance * FRAME.0 as f32;
    [centre.0 - w / 2.0, centre.1 - 0.6 * w, w, 1.2 * w]
}

// ---------------------------------------------------------------------------------------------
// Small helpers, shared by the submodules

/// sRGB to linear light.
fn decode(v: f32) -> f32 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// Linear light to sRGB.
fn encode(v: f32) -> f32 {
    if v <= 0.003_130_8 {
        v * 12.92
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    }
}

fn smoothstep(a: f32, b: f32, x: f32) -> f32 {
    let t = ((x - a) / (b - a)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Bilinear sample of an RGB image at (x, y) (pixel centres at integers), clamped at the
/// border, in the image's own units.
fn bilinear<P>(img: &ImageBuffer<P, Vec<P::Subpixel>>, x: f32, y: f32) -> Rgbf
where
    P: Pixel,
    P::Subpixel: Into<f32>,
{
    let (w, h) = (img.width() as i64, img.height() as i64);
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x as i64, y as i64);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let p = |xx: i64, yy: i64| img.get_pixel(xx as u32, yy as u32).channels();
    let (a, b, c, d) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
    [0, 1, 2].map(|k| {
        let (a, b, c, d) = (a[k].into(), b[k].into(), c[k].into(), d[k].into());
        let top = a + (b - a) * fx;
        let bot = c + (d - c) * fx;
        top + (bot - top) * fy
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A face-like test photo with no fine detail: a skin oval with dark hair and eyes on a
    /// light ground, smooth everywhere, so that any fine pattern in a capture comes from the
    /// medium or the camera.
    pub(super) fn smooth_face(w: u32, h: u32) -> RgbImage {
        let blocky = RgbImage::from_fn(w, h, |x, y| {
            let (nx, ny) = (x as f32 / w as f32 - 0.5, y as f32 / h as f32 - 0.47);
            let face = (nx / 0.2).powi(2) + (ny / 0.27).powi(2) < 1.0;
            let hair = (nx / 0.23).powi(2) + ((ny + 0.1) / 0.27).powi(2) < 1.0 && ny < -0.12;
            let eye = ((nx.abs() - 0.08) / 0.035).powi(2) + ((ny + 0.04) / 0.02).powi(2) < 1.0;
            if eye || hair {
                Rgb([12, 10, 10])
            } else if face {
                Rgb([205, 160, 135])
            } else {
                Rgb([235, 238, 240])
            }
        });
        imageproc::filter::gaussian_blur_f32(&blocky, w as f32 / 150.0)
    }

    pub(super) fn photo() -> Photo {
        Photo::new(&smooth_face(150, 150), Framing::default()).expect("photo")
    }

    pub(super) fn decoded(c: &Capture) -> RgbImage {
        image::load_from_memory(&c.jpeg).expect("jpeg").to_rgb8()
    }

    fn all() -> Vec<Presentation> {
        let mut v = vec![Presentation::BonaFide];
        v.extend(AttackType::ALL.map(Presentation::Attack));
        v
    }

    /// Luma of the middle of the face box (half its width and height).
    pub(super) fn face_luma(img: &RgbImage, face: [f32; 4]) -> Vec<(u32, u32, f32)> {
        let [x, y, w, h] = face;
        let (x0, x1) = ((x + w * 0.25).max(1.0) as u32, (x + w * 0.75) as u32);
        let (y0, y1) = ((y + h * 0.25).max(1.0) as u32, (y + h * 0.75) as u32);
        let mut out = Vec::new();
        for yy in y0..y1.min(img.height() - 1) {
            for xx in x0..x1.min(img.width() - 1) {
                let p = img.get_pixel(xx, yy).0.map(f32::from);
                out.push((xx, yy, 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]));
            }
        }
        out
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let p = photo();
        for what in all() {
            let a = render(&p, what, 7).expect("render");
            let b = render(&p, what, 7).expect("render");
            let c = render(&p, what, 8).expect("render");
            assert_eq!(a.jpeg, b.jpeg, "{what:?}");
            assert_eq!(a.pose, b.pose, "{what:?}");
            assert_ne!(a.jpeg, c.jpeg, "{what:?}");
        }
    }

    #[test]
    fn every_capture_is_a_640x480_jpeg_with_its_pose_in_range() {
        let p = photo();
        for what in all() {
            for seed in 0..3 {
                let c = render(&p, what, seed).expect("render");
                assert_eq!(decoded(&c).dimensions(), FRAME, "{what:?}");
                let pose = c.pose;
                assert!((0.15..=0.45).contains(&pose.distance), "{what:?} {pose:?}");
                assert!(
                    pose.yaw.abs() <= 25.0 && pose.pitch.abs() <= 25.0,
                    "{pose:?}"
                );
                assert!(pose.roll.abs() <= 10.0, "{pose:?}");
                if what == Presentation::BonaFide {
                    assert!(pose.distance >= 0.3 && pose.yaw == 0.0 && pose.pitch == 0.0);
                }
            }
        }
    }

    #[test]
    fn no_input_size_panics() {
        for (w, h) in [(1, 1), (2, 2), (10, 4000), (4000, 10), (3, 700)] {
            let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
            let p = Photo::new(&img, Framing::default()).expect("photo");
            for what in all() {
                let c = render(&p, what, 11).unwrap_or_else(|e| panic!("{w}×{h} {what:?}: {e}"));
                assert_eq!(decoded(&c).dimensions(), FRAME, "{w}×{h} {what:?}");
            }
        }
        assert!(Photo::new(&RgbImage::new(0, 5), Framing::default()).is_err());
        let bad = Framing {
            centre: (0.5, 0.5),
            width: 0.0,
        };
        assert!(Photo::new(&RgbImage::new(5, 5), bad).is_err());
    }

    #[test]
    fn attack_types_parse_from_their_names() {
        for t in AttackType::ALL {
            assert_eq!(t.name().parse::<AttackType>(), Ok(t));
            assert_eq!(
                Presentation::Attack(t).label(),
                format!("attack:{}", t.name())
            );
        }
        assert!("screen".parse::<AttackType>().is_err());
        assert_eq!(Presentation::BonaFide.label(), "bona_fide");
    }
}
