//! Where the tests' photos and documents come from. Included by path from the test crates
//! that cannot depend on the testkit (`vouch-face`, `vouch-doc`), so it uses std only.
//!
//! `VOUCH_EVAL_DIR` when set; else `../shared/eval` beside the repository (the labelled
//! evaluation data CI has; never committed); else the stand-in photos that
//! `scripts/fetch_test_data.py` builds from registry packages in `target/test-data/eval`.
//! With the stand-ins, `scripts/test.sh` skips (by name, listed in
//! `tests/needs-shared-eval.txt`) the tests that need a photo only the full set has.

// Each test crate that includes this file uses some of it.
#![allow(dead_code)]

use std::path::PathBuf;

/// The repository's root folder (every crate sits two levels below it).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The evaluation data folder the tests read (see the module's documentation).
pub fn eval_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VOUCH_EVAL_DIR") {
        return PathBuf::from(dir);
    }
    let shared = repo_root().join("../shared/eval");
    if shared.is_dir() {
        return shared;
    }
    repo_root().join("target/test-data/eval")
}

/// A file of the evaluation data.
pub fn eval_path(rel: &str) -> PathBuf {
    eval_dir().join(rel)
}

/// The bytes of a file of the evaluation data; the panic names the folder and how to get
/// the stand-ins.
pub fn eval_bytes(rel: &str) -> Vec<u8> {
    let p = eval_path(rel);
    std::fs::read(&p).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the evaluation data: ../shared/eval beside the repository, or the \
             stand-ins of scripts/fetch_test_data.py, which have fewer photos)",
            p.display()
        )
    })
}
