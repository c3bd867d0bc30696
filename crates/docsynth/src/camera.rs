//! Synthetic camera footage for the hosted flow's browser tests: a face photo framed as a
//! webcam sees it, written as a YUV4MPEG2 (`.y4m`) file that Chromium plays as its fake
//! camera (`--use-file-for-fake-video-capture`).
//!
//! A script of shots moves the face a little from frame to frame (a hand-held phone, a
//! person breathing), and can close the eyes: the eyelids are painted over the eyes from
//! the skin just below them, with a lash line, which is what a face-mesh model sees of a
//! blink. No head turn is synthesised: a turn needs a second real photo, and the liveness
//! policy accepts a blink or a turn.

use anyhow::{bail, Context, Result};
use image::{imageops, Rgb, RgbImage};
use std::io::Write;

/// One shot of the script.
#[derive(Clone, Copy, Debug)]
pub struct Shot {
    /// Frames in this shot.
    pub frames: u32,
    /// Eyes painted closed.
    pub eyes_closed: bool,
}

/// What to film.
#[derive(Clone, Debug)]
pub struct Footage {
    /// Output width and height (even numbers; 4:2:0 chroma).
    pub size: (u32, u32),
    /// Frames per second written in the header.
    pub fps: u32,
    /// Hand-held motion amplitude in pixels (0 for a tripod).
    pub sway_px: f32,
    /// The shots, in order; Chromium loops the file.
    pub shots: Vec<Shot>,
}

impl Footage {
    /// A person who looks at the camera, blinks and looks again, at 15 fps: 0.6 s open,
    /// 0.6 s closed, 0.4 s open, looped by Chromium every 1.6 s (a capture that samples
    /// 1.6 s or more at intervals under 0.6 s sees the eyes closed at least once).
    pub fn blinking() -> Footage {
        Footage {
            size: (640, 480),
            fps: 15,
            sway_px: 3.0,
            shots: vec![
                Shot {
                    frames: 9,
                    eyes_closed: false,
                },
                Shot {
                    frames: 9,
                    eyes_closed: true,
                },
                Shot {
                    frames: 6,
                    eyes_closed: false,
                },
            ],
        }
    }

    /// A printed photo held up to the camera: it sways, it never blinks or turns.
    pub fn still_photo() -> Footage {
        Footage {
            shots: vec![Shot {
                frames: 24,
                eyes_closed: false,
            }],
            ..Footage::blinking()
        }
    }
}

/// Where the eyes are in the source photo (pixel centres, left then right in the image).
#[derive(Clone, Copy, Debug)]
pub struct Eyes {
    pub left: (f32, f32),
    pub right: (f32, f32),
}

impl Eyes {
    fn distance(&self) -> f32 {
        ((self.right.0 - self.left.0).powi(2) + (self.right.1 - self.left.1).powi(2)).sqrt()
    }
}

/// Paints both eyes closed, in place.
pub fn close_eyes(img: &mut RgbImage, eyes: Eyes) {
    let iod = eyes.distance();
    for (cx, cy) in [eyes.left, eyes.right] {
        close_eye(img, cx, cy, iod);
    }
}

fn mean_colour(img: &RgbImage, cx: f32, cy: f32, r: f32) -> [f32; 3] {
    let mut sum = [0f32; 3];
    let mut n = 0f32;
    let (w, h) = img.dimensions();
    for y in (cy - r).max(0.0) as u32..((cy + r) as u32).min(h) {
        for x in (cx - r).max(0.0) as u32..((cx + r) as u32).min(w) {
            let p = img.get_pixel(x, y).0;
            for c in 0..3 {
                sum[c] += f32::from(p[c]);
            }
            n += 1.0;
        }
    }
    sum.map(|s| s / n.max(1.0))
}

fn close_eye(img: &mut RgbImage, cx: f32, cy: f32, iod: f32) {
    // The lid: the skin above and below the eye, averaged, over an ellipse larger than
    // the eye opening and its make-up, feathered at its edge; along it the curved crease
    // of a closed lid with its lashes.
    let above = mean_colour(img, cx, cy - 0.2 * iod, 0.04 * iod);
    let below = mean_colour(img, cx, cy + 0.3 * iod, 0.06 * iod);
    let skin = [0, 1, 2].map(|c| 0.5 * (above[c] + below[c]));
    let (a, b) = (0.3 * iod, 0.15 * iod);
    let (w, h) = img.dimensions();
    let x0 = (cx - a).max(0.0) as u32;
    let x1 = ((cx + a) as u32 + 1).min(w);
    let y0 = (cy - b).max(0.0) as u32;
    let y1 = ((cy + b) as u32 + 1).min(h);
    for y in y0..y1 {
        for x in x0..x1 {
            let dx = (x as f32 - cx) / a;
            let dy = (y as f32 - cy) / b;
            let d = (dx * dx + dy * dy).sqrt();
            if d >= 1.0 {
                continue;
            }
            // Opaque inside 0.6 of the radius, fading out to the edge.
            let alpha = ((1.0 - d) / 0.4).min(1.0);
            let crease = (y as f32 - cy) / iod - (0.0 + 0.04 * (1.0 - (dx / 0.8).powi(2)));
            let shade = if dx.abs() < 0.8 && crease.abs() < 0.02 {
                0.2
            } else if dx.abs() < 0.85 && crease.abs() < 0.04 {
                0.6
            } else {
                1.0
            };
            let colour = skin.map(|c| c * shade);
            let p = img.get_pixel_mut(x, y);
            for (v, c) in p.0.iter_mut().zip(colour) {
                *v = (f32::from(*v) * (1.0 - alpha) + c * alpha).round() as u8;
            }
        }
    }
}

/// Frames the face: the photo scaled so that the eyes are a third of the frame's width
/// apart… at most, centred on the eyes and shifted by `offset`, grey outside the photo.
fn frame(src: &RgbImage, eyes: Eyes, size: (u32, u32), offset: (f32, f32)) -> RgbImage {
    let (w, h) = size;
    let scale = (w as f32 * 0.2 / eyes.distance().max(1.0)).min(1.0);
    let sw = ((src.width() as f32 * scale).round() as u32).max(1);
    let sh = ((src.height() as f32 * scale).round() as u32).max(1);
    let scaled = imageops::resize(src, sw, sh, imageops::FilterType::Triangle);
    let centre = (
        (eyes.left.0 + eyes.right.0) / 2.0 * scale,
        (eyes.left.1 + eyes.right.1) / 2.0 * scale,
    );
    let mut out = RgbImage::from_pixel(w, h, Rgb([90, 90, 90]));
    let x = (w as f32 / 2.0 - centre.0 + offset.0).round() as i64;
    let y = (h as f32 * 0.42 - centre.1 + offset.1).round() as i64;
    imageops::overlay(&mut out, &scaled, x, y);
    out
}

/// Renders the footage's frames.
pub fn frames(src: &RgbImage, eyes: Eyes, footage: &Footage) -> Vec<RgbImage> {
    let mut closed = src.clone();
    close_eyes(&mut closed, eyes);
    let mut out = Vec::new();
    let mut t = 0f32;
    for shot in &footage.shots {
        let photo = if shot.eyes_closed { &closed } else { src };
        for _ in 0..shot.frames {
            // Two incommensurate sways, so no two frames sit at the same place.
            let offset = (
                footage.sway_px * (t * 0.9).sin(),
                footage.sway_px * 0.6 * (t * 1.7 + 0.5).sin(),
            );
            out.push(frame(photo, eyes, footage.size, offset));
            t += 1.0;
        }
    }
    out
}

/// Writes frames as a YUV4MPEG2 file (C420jpeg, BT.601 full range as Chromium reads it).
pub fn write_y4m(frames: &[RgbImage], fps: u32, out: &mut impl Write) -> Result<()> {
    let Some(first) = frames.first() else {
        bail!("no frames");
    };
    let (w, h) = first.dimensions();
    if w % 2 != 0 || h % 2 != 0 {
        bail!("frame size must be even, got {w}x{h}");
    }
    writeln!(out, "YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg").context("writing y4m")?;
    for f in frames {
        if f.dimensions() != (w, h) {
            bail!("frames differ in size");
        }
        let mut y_plane = Vec::with_capacity((w * h) as usize);
        for p in f.pixels() {
            let [r, g, b] = p.0.map(f32::from);
            y_plane.push(
                (0.299 * r + 0.587 * g + 0.114 * b)
                    .round()
                    .clamp(0.0, 255.0) as u8,
            );
        }
        let (cw, ch) = (w / 2, h / 2);
        let mut u_plane = Vec::with_capacity((cw * ch) as usize);
        let mut v_plane = Vec::with_capacity((cw * ch) as usize);
        for cy in 0..ch {
            for cx in 0..cw {
                let mut rgb = [0f32; 3];
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let p = f.get_pixel(cx * 2 + dx, cy * 2 + dy).0;
                    for c in 0..3 {
                        rgb[c] += f32::from(p[c]) / 4.0;
                    }
                }
                let [r, g, b] = rgb;
                u_plane.push((128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b).round() as u8);
                v_plane.push((128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b).round() as u8);
            }
        }
        out.write_all(b"FRAME\n").context("writing y4m")?;
        out.write_all(&y_plane).context("writing y4m")?;
        out.write_all(&u_plane).context("writing y4m")?;
        out.write_all(&v_plane).context("writing y4m")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_the_eyes_changes_only_the_eye_regions() {
        let mut img = RgbImage::from_fn(200, 200, |x, _| Rgb([(x % 256) as u8, 120, 80]));
        let before = img.clone();
        let eyes = Eyes {
            left: (70.0, 90.0),
            right: (130.0, 90.0),
        };
        close_eyes(&mut img, eyes);
        assert_ne!(img.get_pixel(70, 90), before.get_pixel(70, 90));
        assert_eq!(img.get_pixel(100, 150), before.get_pixel(100, 150));
        assert_eq!(img.get_pixel(10, 10), before.get_pixel(10, 10));
    }

    #[test]
    fn y4m_has_a_header_and_one_planar_frame_per_image() {
        let f = RgbImage::from_pixel(4, 2, Rgb([255, 255, 255]));
        let mut out = Vec::new();
        write_y4m(&[f.clone(), f], 15, &mut out).unwrap();
        let header = b"YUV4MPEG2 W4 H2 F15:1 Ip A1:1 C420jpeg\n";
        assert!(out.starts_with(header));
        // Per frame: "FRAME\n", 8 luma bytes, 2 + 2 chroma bytes.
        assert_eq!(out.len(), header.len() + 2 * (6 + 8 + 4));
        assert_eq!(out[header.len() + 6], 255);
        assert!(write_y4m(&[RgbImage::new(3, 2)], 15, &mut Vec::new()).is_err());
    }

    #[test]
    fn footage_moves_between_frames() {
        let src = RgbImage::from_fn(300, 300, |x, y| Rgb([(x % 251) as u8, (y % 241) as u8, 9]));
        let eyes = Eyes {
            left: (120.0, 140.0),
            right: (180.0, 140.0),
        };
        let f = frames(&src, eyes, &Footage::still_photo());
        assert_eq!(f.len(), 24);
        assert!(f.windows(2).all(|w| w[0] != w[1]));
    }
}
