//! The `vouch-attacks` binary end to end: its files, its summary on stdout, and its exit
//! status and message on bad input.

use std::path::Path;
use std::process::{Command, Output};

fn vouch_attacks(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vouch-attacks"))
        .args(args)
        .output()
        .expect("runs vouch-attacks")
}

fn arg(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// A folder with two small photos, one in a subfolder.
fn photos() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("sub")).expect("mkdir");
    let img = image::RgbImage::from_fn(60, 60, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 4) as u8, 120])
    });
    img.save(dir.path().join("sub/b.png")).expect("save");
    img.save(dir.path().join("a.jpg")).expect("save");
    dir
}

#[test]
fn writes_images_labels_and_a_json_summary() {
    let dir = photos();
    let out = tempfile::tempdir().expect("tempdir");
    let run = vouch_attacks(&[
        "--images",
        arg(dir.path()),
        "--out",
        arg(out.path()),
        "--types",
        "print_glossy,screen_laptop",
        "--per-type",
        "2",
        "--limit",
        "1",
        "--seed",
        "4",
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("vouch-attacks: 5/5 images"), "{stderr}");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let summary: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("a summary line")).expect("JSON");
    assert_eq!(summary["sources"], 1);
    assert_eq!(summary["images"], 5);
    assert_eq!(summary["counts"]["bona_fide"], 1);
    assert_eq!(summary["counts"]["attack:print_glossy"], 2);
    assert_eq!(summary["counts"]["attack:screen_laptop"], 2);

    let labels = std::fs::read_to_string(out.path().join("labels.csv")).expect("labels.csv");
    let rows: Vec<&str> = labels.lines().collect();
    assert_eq!(rows[0], "path,label,source,type,distance,yaw,pitch,roll");
    assert_eq!(rows.len(), 6);
    for row in &rows[1..] {
        let path = row.split(',').next().expect("a path");
        assert!(out.path().join(path).is_file(), "{path}");
        assert!(
            row.contains(",a.jpg,"),
            "--limit 1 keeps the first photo: {row}"
        );
    }
    assert!(out.path().join("screen_laptop/0_1.jpg").is_file());
}

#[test]
fn an_empty_folder_fails_with_a_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    let run = vouch_attacks(&["--images", arg(dir.path()), "--out", arg(out.path())]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("no JPEG or PNG images"), "{stderr}");
}

#[test]
fn an_unknown_attack_type_fails_with_the_valid_names() {
    let dir = photos();
    let out = tempfile::tempdir().expect("tempdir");
    let run = vouch_attacks(&[
        "--images",
        arg(dir.path()),
        "--out",
        arg(out.path()),
        "--types",
        "mask_3d",
    ]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("screen_phone"), "{stderr}");
}
