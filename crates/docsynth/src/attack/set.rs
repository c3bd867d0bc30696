//! Whole sets: the source photos on disk, and every one of them rendered bona fide and per
//! attack type on every core, deterministically for the set's seed, with `labels.csv`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};

use super::{render, AttackType, Framing, Photo, Pose, Presentation};
use crate::seed_at;

/// A source photo on disk and its name in the labels (its path under the folder, with `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// Where to read it.
    pub path: PathBuf,
    /// Its path relative to the folder, with `/` between components.
    pub name: String,
}

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
}

/// The source photos: every JPEG/PNG under `dir`, recursively, sorted by name; or, with
/// `list`, the paths it names relative to `dir`, one a line, in its order.
pub fn list_sources(dir: &Path, list: Option<&Path>) -> Result<Vec<SourceFile>> {
    if !dir.is_dir() {
        bail!("{} is not a folder", dir.display());
    }
    if let Some(list) = list {
        let text = std::fs::read_to_string(list)
            .with_context(|| format!("reading the list {}", list.display()))?;
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let name = line.trim();
            if name.is_empty() {
                continue;
            }
            let path = dir.join(name);
            if !path.is_file() {
                bail!(
                    "{}:{}: {name} is not a file under {}",
                    list.display(),
                    i + 1,
                    dir.display()
                );
            }
            out.push(SourceFile {
                path,
                name: name.replace('\\', "/"),
            });
        }
        if out.is_empty() {
            bail!("{} lists no images", list.display());
        }
        return Ok(out);
    }
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries = std::fs::read_dir(&folder)
            .with_context(|| format!("reading the folder {}", folder.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {}", folder.display()))?;
            let path = entry.path();
            // Symlinked folders are not followed, so a link cannot make the walk loop.
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path);
            } else if path.is_file() && is_image(&path) {
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                let name = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push(SourceFile { path, name });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    if out.is_empty() {
        bail!("no JPEG or PNG images under {}", dir.display());
    }
    Ok(out)
}

/// What a set holds.
#[derive(Clone, Debug)]
pub struct SetSpec {
    /// The attack types to render (each source is also rendered bona fide).
    pub types: Vec<AttackType>,
    /// Images per attack type and source.
    pub per_type: usize,
    /// The set's seed: the same seed and sources give the same bytes.
    pub seed: u64,
    /// Where the face is in the sources.
    pub framing: Framing,
}

/// One line of `labels.csv`.
struct Row {
    path: String,
    what: Presentation,
    source: String,
    pose: Pose,
}

/// The labels file's header.
pub const LABELS_HEADER: &str = "path,label,source,type,distance,yaw,pitch,roll";

/// Renders every source bona fide (`out/bona_fide/<n>.jpg`) and `per_type` times per attack
/// type (`out/<type>/<n>_<k>.jpg`), with `out/labels.csv`, on every core. `progress` is
/// called with (images done, images in all). Returns the count of images per label.
///
/// Each source's seed comes from the set's seed and the source's index, and each image's
/// from that, its type and `k`; so a set is the same bytes however the work is shared out.
pub fn render_set(
    sources: &[SourceFile],
    out: &Path,
    spec: &SetSpec,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<BTreeMap<String, usize>> {
    let types: Vec<AttackType> = AttackType::ALL
        .into_iter()
        .filter(|t| spec.types.contains(t))
        .collect();
    let mut folders = vec![Presentation::BonaFide];
    folders.extend(types.iter().map(|&t| Presentation::Attack(t)));
    for f in &folders {
        let dir = out.join(f.name());
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let per_source = 1 + types.len() * spec.per_type;
    let total = sources.len() * per_source;
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let rows: Mutex<Vec<(usize, Vec<Row>)>> = Mutex::new(Vec::with_capacity(sources.len()));
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(sources.len().max(1));

    let one_source = |n: usize| -> Result<Vec<Row>> {
        let src = &sources[n];
        let img = image::open(&src.path)
            .with_context(|| format!("reading the image {}", src.path.display()))?
            .to_rgb8();
        let photo =
            Photo::new(&img, spec.framing).with_context(|| format!("{}", src.path.display()))?;
        let source_seed = seed_at(spec.seed, n);
        let mut jobs = vec![(Presentation::BonaFide, 0, seed_at(source_seed, 0))];
        for &t in &types {
            let type_seed = seed_at(source_seed, 1 + t.index());
            for k in 0..spec.per_type {
                jobs.push((Presentation::Attack(t), k, seed_at(type_seed, k)));
            }
        }
        let mut out_rows = Vec::with_capacity(jobs.len());
        for (what, k, seed) in jobs {
            let path = match what {
                Presentation::BonaFide => format!("bona_fide/{n}.jpg"),
                Presentation::Attack(t) => format!("{t}/{n}_{k}.jpg"),
            };
            let cap = render(&photo, what, seed)
                .with_context(|| format!("rendering {path} from {}", src.name))?;
            std::fs::write(out.join(&path), &cap.jpeg)
                .with_context(|| format!("writing {}", out.join(&path).display()))?;
            out_rows.push(Row {
                path,
                what,
                source: src.name.clone(),
                pose: cap.pose,
            });
            let d = done.fetch_add(1, Ordering::Relaxed) + 1;
            // About fifty lines for a whole set.
            if d * 50 / total.max(1) != (d - 1) * 50 / total.max(1) || d == total {
                progress(d, total);
            }
        }
        Ok(out_rows)
    };
    let work = || -> Result<()> {
        loop {
            let n = next.fetch_add(1, Ordering::Relaxed);
            if n >= sources.len() || failed.load(Ordering::Relaxed) {
                return Ok(());
            }
            match one_source(n) {
                Ok(r) => rows
                    .lock()
                    .map_err(|_| anyhow::anyhow!("a worker panicked"))?
                    .push((n, r)),
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers).map(|_| s.spawn(work)).collect();
        let results: Vec<Result<()>> = handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow::anyhow!("a worker panicked"))?)
            .collect();
        results.into_iter().collect::<Result<()>>()
    })?;
    let mut rows = rows
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a worker panicked"))?;
    rows.sort_by_key(|r| r.0);

    let mut csv = String::from(LABELS_HEADER);
    csv.push('\n');
    let mut counts = BTreeMap::new();
    for row in rows.iter().flat_map(|r| &r.1) {
        let p = row.pose;
        csv.push_str(&format!(
            "{},{},{},{},{:.3},{:.1},{:.1},{:.1}\n",
            csv_field(&row.path),
            row.what.label(),
            csv_field(&row.source),
            row.what.name(),
            p.distance,
            p.yaw,
            p.pitch,
            p.roll
        ));
        *counts.entry(row.what.label()).or_insert(0) += 1;
    }
    let labels = out.join("labels.csv");
    std::fs::write(&labels, csv).with_context(|| format!("writing {}", labels.display()))?;
    Ok(counts)
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::smooth_face;
    use super::*;

    fn source_folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("b")).expect("mkdir");
        smooth_face(80, 80)
            .save(dir.path().join("b/two.png"))
            .expect("save");
        smooth_face(90, 70)
            .save(dir.path().join("a one.jpg"))
            .expect("save");
        std::fs::write(dir.path().join("notes.txt"), "not an image").expect("write");
        dir
    }

    #[test]
    fn sources_are_found_recursively_in_order_or_read_from_a_list() {
        let dir = source_folder();
        let found = list_sources(dir.path(), None).expect("list");
        let names: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a one.jpg", "b/two.png"]);
        let list = dir.path().join("list.txt");
        std::fs::write(&list, "b/two.png\n\na one.jpg\n").expect("write");
        let listed = list_sources(dir.path(), Some(&list)).expect("list");
        let names: Vec<&str> = listed.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["b/two.png", "a one.jpg"]);
        std::fs::write(&list, "missing.jpg\n").expect("write");
        let err = list_sources(dir.path(), Some(&list)).expect_err("missing file");
        assert!(err.to_string().contains("missing.jpg"), "{err}");
        let empty = tempfile::tempdir().expect("tempdir");
        let err = list_sources(empty.path(), None).expect_err("empty folder");
        assert!(err.to_string().contains("no JPEG or PNG"), "{err}");
    }

    fn spec() -> SetSpec {
        SetSpec {
            types: vec![AttackType::PrintGlossy, AttackType::ScreenPhone],
            per_type: 2,
            seed: 9,
            framing: Framing::default(),
        }
    }

    #[test]
    fn a_set_writes_its_images_and_labels_csv_the_same_every_time() {
        let dir = source_folder();
        let sources = list_sources(dir.path(), None).expect("list");
        let (a, b) = (
            tempfile::tempdir().expect("tmp"),
            tempfile::tempdir().expect("tmp"),
        );
        let counts = render_set(&sources, a.path(), &spec(), &|_, _| {}).expect("set");
        render_set(&sources, b.path(), &spec(), &|_, _| {}).expect("set");
        assert_eq!(counts["bona_fide"], 2);
        assert_eq!(counts["attack:screen_phone"], 4);
        assert_eq!(counts["attack:print_glossy"], 4);
        assert_eq!(counts.len(), 3);

        let csv = std::fs::read_to_string(a.path().join("labels.csv")).expect("labels");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "path,label,source,type,distance,yaw,pitch,roll");
        assert_eq!(lines.len(), 1 + 10);
        assert!(lines[1].starts_with("bona_fide/0.jpg,bona_fide,a one.jpg,bona_fide,0."));
        assert!(lines[2].starts_with("screen_phone/0_0.jpg,attack:screen_phone,a one.jpg,"));
        assert!(lines[4].starts_with("print_glossy/0_0.jpg,attack:print_glossy,a one.jpg,"));
        assert!(lines[6].starts_with("bona_fide/1.jpg,bona_fide,b/two.png,"));
        for line in &lines[1..] {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 8, "{line}");
            let bytes = std::fs::read(a.path().join(f[0])).expect("image listed exists");
            assert_eq!(
                bytes,
                std::fs::read(b.path().join(f[0])).expect("image"),
                "{}",
                f[0]
            );
            assert!(
                f[1] == "bona_fide" || f[1] == format!("attack:{}", f[3]),
                "{line}"
            );
            for v in &f[4..] {
                v.parse::<f32>().expect("a number");
            }
        }
        assert_eq!(
            csv,
            std::fs::read_to_string(b.path().join("labels.csv")).expect("labels")
        );
    }

    #[test]
    fn choosing_fewer_types_leaves_the_other_images_unchanged() {
        let dir = source_folder();
        let sources = list_sources(dir.path(), None).expect("list");
        let (a, b) = (
            tempfile::tempdir().expect("tmp"),
            tempfile::tempdir().expect("tmp"),
        );
        render_set(&sources, a.path(), &spec(), &|_, _| {}).expect("set");
        let only = SetSpec {
            types: vec![AttackType::PrintGlossy],
            ..spec()
        };
        render_set(&sources, b.path(), &only, &|_, _| {}).expect("set");
        for f in ["print_glossy/1_1.jpg", "bona_fide/0.jpg"] {
            assert_eq!(
                std::fs::read(a.path().join(f)).expect("a"),
                std::fs::read(b.path().join(f)).expect("b"),
                "{f}"
            );
        }
    }

    #[test]
    fn an_unreadable_image_stops_the_set_and_is_named() {
        let dir = source_folder();
        std::fs::write(dir.path().join("broken.jpg"), b"not a jpeg").expect("write");
        let sources = list_sources(dir.path(), None).expect("list");
        let out = tempfile::tempdir().expect("tmp");
        let err = render_set(&sources, out.path(), &spec(), &|_, _| {}).expect_err("fails");
        assert!(format!("{err:#}").contains("broken.jpg"), "{err:#}");
    }
}
