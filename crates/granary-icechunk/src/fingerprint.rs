//! Fingerprints of an array's chunk references, per block of the first chunk-grid axis (one
//! cycle of a cycle × pass set, one run of an unlimited time axis), kept in each commit's
//! properties (`granary_fingerprints`) so that the next run reads from the tip only the
//! blocks whose references differ (an append reads the new blocks, a rerun with nothing new
//! reads none).
//!
//! A block's fingerprint is the wrapping sum of one 64-bit digest per chunk, each mixing the
//! chunk's coordinates with its payload (URL and ETag hashed once per granule with SipHash,
//! then offset and length, or the inline bytes) through splitmix64's finalizer: it does not
//! depend on the order chunks are listed in. Fingerprints are trusted only from the
//! tip snapshot's own properties, which describe exactly that snapshot (a commit by another
//! tool carries none, and the next run then reads every block). A block whose fingerprint
//! differs, or that is not fingerprinted, is read and compared chunk by chunk; only a 64-bit
//! collision could make a changed block look unchanged.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use icechunk::format::ChunkIndices;
use icechunk::format::snapshot::SnapshotProperties;
use serde_json::{Value, json};

/// The snapshot property holding the fingerprints.
pub const PROPERTY: &str = "granary_fingerprints";

/// Arrays with more blocks than this are not fingerprinted (their next run reads them whole),
/// which keeps the properties small.
pub const MAX_BLOCKS: usize = 4096;

/// Array path → fingerprint per first-axis block (index = block).
pub type Fingerprints = BTreeMap<String, Vec<u64>>;

/// splitmix64's finalizer: a full-avalanche 64-bit mix (every input bit flips about half of
/// the output bits), cheap enough for one call per chunk field.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// `values` folded into one digest, position by position.
fn fold(seed: u64, values: impl Iterator<Item = u64>) -> u64 {
    values.fold(mix(seed), |h, v| mix(h ^ mix(v)))
}

/// The digest of a payload: of the granule's reference target and the byte range.
pub fn range_digest(target: u64, offset: u64, length: u64) -> u64 {
    fold(0x5261_6e67_6500_0000, [target, offset, length].into_iter())
}

/// The digest of an inline chunk.
pub fn inline_digest(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    (1u8, bytes).hash(&mut h);
    h.finish()
}

/// The digest of a reference target (URL and checksum), computed once per granule.
pub fn target_digest(url: &str, checksum: Option<&str>) -> u64 {
    let mut h = DefaultHasher::new();
    (url, checksum).hash(&mut h);
    h.finish()
}

/// The block (first-axis chunk index) of a chunk; scalars are block 0.
pub fn block(coord: &ChunkIndices) -> usize {
    coord.0.first().copied().unwrap_or(0) as usize
}

/// Fingerprints per block of chunks given as (coordinates, payload digest).
pub fn blocks<'a>(chunks: impl Iterator<Item = (&'a ChunkIndices, u64)>) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for (coord, digest) in chunks {
        let b = block(coord);
        if out.len() <= b {
            out.resize(b + 1, 0);
        }
        let at = fold(digest, coord.0.iter().map(|c| u64::from(*c)));
        out[b] = out[b].wrapping_add(at);
    }
    out
}

/// The fingerprints recorded in a snapshot's properties (none: not a granary commit, or an
/// unreadable record, and every block is read).
pub fn from_properties(props: &SnapshotProperties) -> Fingerprints {
    let Some(Value::Object(arrays)) = props.get(PROPERTY) else {
        return Fingerprints::new();
    };
    let mut out = Fingerprints::new();
    for (path, v) in arrays {
        let hashes: Option<Vec<u64>> = v.as_array().and_then(|l| {
            l.iter()
                .map(|x| x.as_str().and_then(|s| u64::from_str_radix(s, 16).ok()))
                .collect()
        });
        if let Some(h) = hashes {
            out.insert(path.clone(), h);
        }
    }
    out
}

/// The fingerprints as a snapshot property value (arrays over [`MAX_BLOCKS`] left out).
pub fn to_property(f: &Fingerprints) -> Value {
    let mut arrays = serde_json::Map::new();
    for (path, hashes) in f {
        if hashes.len() <= MAX_BLOCKS {
            let hex: Vec<String> = hashes.iter().map(|h| format!("{h:016x}")).collect();
            arrays.insert(path.clone(), json!(hex));
        }
    }
    Value::Object(arrays)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_does_not_matter_and_content_does() {
        let a = ChunkIndices(vec![0, 1]);
        let b = ChunkIndices(vec![1, 0]);
        let c = ChunkIndices(vec![1, 1]);
        let one = blocks([(&a, 1), (&b, 2), (&c, 3)].into_iter());
        let two = blocks([(&c, 3), (&a, 1), (&b, 2)].into_iter());
        assert_eq!(one, two);
        assert_eq!(one.len(), 2);
        let changed = blocks([(&a, 1), (&b, 2), (&c, 4)].into_iter());
        assert_eq!(changed[0], one[0]);
        assert_ne!(changed[1], one[1]);
        // The same digest at another position is another fingerprint.
        let moved = blocks([(&a, 1), (&c, 2), (&b, 3)].into_iter());
        assert_ne!(moved[1], one[1]);
    }

    #[test]
    fn properties_round_trip() {
        let mut f = Fingerprints::new();
        f.insert("ssh".into(), vec![1, u64::MAX]);
        let mut props = SnapshotProperties::new();
        props.insert(PROPERTY.into(), to_property(&f));
        assert_eq!(from_properties(&props), f);
        assert!(from_properties(&SnapshotProperties::new()).is_empty());
    }
}
