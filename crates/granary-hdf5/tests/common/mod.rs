//! Helpers shared by the integration tests of this crate.
#![allow(dead_code, clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// `tests/data` at the repository root.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// The bytes of a file under `tests/data`.
pub fn data(rel: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(rel)).unwrap()
}

/// The first committed SWOT-like granule (by name).
pub fn swot_granule() -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir().join("swot"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "nc"))
        .collect();
    files.sort();
    files.remove(0)
}

/// Fails with the neighbourhood of the first difference when two Debug texts differ (Debug
/// text, not `==`, so that NaN attribute values compare equal).
pub fn assert_same_debug(a: &str, b: &str, what: &str) {
    if a != b {
        let at = a
            .bytes()
            .zip(b.bytes())
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        panic!(
            "{what}: differ at {at}:\n  left:  {}\n  right: {}",
            &a[at.saturating_sub(150)..(at + 150).min(a.len())],
            &b[at.saturating_sub(150)..(at + 150).min(b.len())]
        );
    }
}
