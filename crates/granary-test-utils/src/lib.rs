//! Helpers shared by the tests of the granary crates (a dev-dependency only; nothing here is
//! linked into the tool): where the repository's fixtures are, a seeded pseudo-random number
//! generator for corruption tests, and comparisons that show the first difference.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// The repository root (canonical: no `..`, so paths derived from it compare equal to the
/// absolute URLs granary writes).
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::canonicalize(&root).unwrap_or(root)
}

/// `tests/data` at the repository root.
pub fn data_dir() -> PathBuf {
    repo_root().join("tests/data")
}

/// The bytes of a file under `tests/data`.
pub fn data(rel: &str) -> Vec<u8> {
    let p = data_dir().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", p.display()))
}

/// The bundled SWOT-like granules (`tests/data/swot/*.nc`), sorted by name.
pub fn swot_granules() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir().join("swot"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "nc"))
        .collect();
    files.sort();
    files
}

/// The first bundled SWOT-like granule (by name).
pub fn swot_granule() -> PathBuf {
    swot_granules().remove(0)
}

/// A small deterministic PRNG (xorshift64), so corruption tests are reproducible and need no
/// extra crate. The seed must not be 0.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Every file under `dir`, by path relative to it, with its bytes, in path order (to compare
/// two output trees byte for byte).
pub fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Fails with the neighbourhood of the first difference when two texts differ (compare Debug
/// texts rather than values with `==` so that NaN attribute values compare equal).
pub fn assert_same_text(a: &str, b: &str, what: &str) {
    if a != b {
        let at = a
            .bytes()
            .zip(b.bytes())
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        let window = |s: &str| {
            let lo = floor_char(s, at.saturating_sub(150));
            let hi = floor_char(s, (at + 150).min(s.len()));
            s[lo..hi].to_string()
        };
        panic!(
            "{what}: differ at byte {at}:\n  left:  {}\n  right: {}",
            window(a),
            window(b)
        );
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_fixtures_exist() {
        let (mut a, mut b) = (Rng(7), Rng(7));
        assert_eq!(a.next_u64(), b.next_u64());
        assert!(a.below(10) < 10);
        assert!(swot_granule().is_file());
    }

    #[test]
    #[should_panic(expected = "differ at byte 2")]
    fn differing_texts_fail_at_the_first_difference() {
        assert_same_text("abcdef", "abXdef", "t");
    }
}
