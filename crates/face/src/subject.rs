//! Who is in a photo: the one rule every caller uses to count faces (hosted selfie,
//! enrolment, 1:N verify, presence, admin face 2FA and the CLI), so that a photo the CLI
//! calls one face is never refused by the server as several.
//!
//! The detector's own non-maximum suppression keeps a second box on one face when the two
//! overlap less than its cut (a box on the face and a looser one around the head, at two
//! pyramid scales): such a box is the same person, not another. A face much smaller than
//! the subject's is somebody far behind (a crowd, a poster) and does not refuse a photo;
//! a face of comparable size is a second person and does.

use crate::Face;

/// Faces at least this share of the largest face's width count as another person in the
/// picture; smaller ones are background.
pub const OTHER_FACE_SHARE: f32 = 0.4;

/// A detection whose centre lies inside a larger face's box, or which covers this share of
/// the smaller box, is a second detection of that face.
const SAME_FACE_OVERLAP: f32 = 0.5;

fn overlap_of_smaller(a: &Face, b: &Face) -> f32 {
    let w = (a.bbox[2].min(b.bbox[2]) - a.bbox[0].max(b.bbox[0])).max(0.0);
    let h = (a.bbox[3].min(b.bbox[3]) - a.bbox[1].max(b.bbox[1])).max(0.0);
    let smaller = (a.width() * a.height())
        .min(b.width() * b.height())
        .max(1e-6);
    w * h / smaller
}

fn centre_inside(small: &Face, big: &Face) -> bool {
    let cx = (small.bbox[0] + small.bbox[2]) / 2.0;
    let cy = (small.bbox[1] + small.bbox[3]) / 2.0;
    cx >= big.bbox[0] && cx <= big.bbox[2] && cy >= big.bbox[1] && cy <= big.bbox[3]
}

/// The distinct faces of a detection, largest first: a detection that is a second box on
/// a larger face (its centre inside it, or mostly covered by it) is dropped.
pub fn distinct(mut faces: Vec<Face>) -> Vec<Face> {
    faces.sort_by(|a, b| b.width().total_cmp(&a.width()));
    let mut kept: Vec<Face> = Vec::with_capacity(faces.len());
    for f in faces {
        let duplicate = kept
            .iter()
            .any(|k| centre_inside(&f, k) || overlap_of_smaller(&f, k) >= SAME_FACE_OVERLAP);
        if !duplicate {
            kept.push(f);
        }
    }
    kept
}

/// How many other people are in a picture beside its subject (the first, largest face of
/// [`distinct`] faces): faces at least [`OTHER_FACE_SHARE`] of its width.
pub fn other_people(faces: &[Face]) -> usize {
    let Some(subject) = faces.first() else {
        return 0;
    };
    let width = subject.width();
    faces
        .iter()
        .skip(1)
        .filter(|f| f.width() >= width * OTHER_FACE_SHARE)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, y: f32, w: f32) -> Face {
        Face {
            bbox: [x, y, x + w, y + w * 1.2],
            score: 0.99,
            landmarks: [[0.0; 2]; 5],
        }
    }

    #[test]
    fn a_second_box_on_the_subjects_face_is_not_another_person() {
        // A tight box and a looser one around the head, as two pyramid scales give them.
        let faces = distinct(vec![face(110.0, 100.0, 100.0), face(90.0, 80.0, 150.0)]);
        assert_eq!(faces.len(), 1);
        assert_eq!(faces[0].width(), 150.0);
        assert_eq!(other_people(&faces), 0);
    }

    #[test]
    fn a_small_face_in_the_background_does_not_count_and_a_comparable_one_does() {
        let crowd = distinct(vec![face(300.0, 50.0, 30.0), face(100.0, 100.0, 160.0)]);
        assert_eq!(crowd.len(), 2);
        assert_eq!(other_people(&crowd), 0);
        let couple = distinct(vec![face(100.0, 100.0, 160.0), face(300.0, 110.0, 140.0)]);
        assert_eq!(other_people(&couple), 1);
        assert_eq!(other_people(&[]), 0);
    }
}
