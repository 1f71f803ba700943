//! The combined reference set: metadata per group and array, and per array its references in
//! chunk-grid order. Sinks (JSON, Parquet) write from this; it holds each URL once.

use crate::zarr::{ZarrArray, chunk_key};

/// A group of the combined set.
#[derive(Debug, Clone, PartialEq)]
pub struct OutGroup {
    /// `""` for the root.
    pub path: String,
    /// (name, JSON text).
    pub attrs: Vec<(String, String)>,
}

/// One reference: chunk `index` (C-order linear position in the chunk grid) is bytes
/// `offset..offset + length` of `urls[url]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct OutRef {
    pub index: u64,
    pub url: u32,
    pub offset: u64,
    pub length: u64,
}

/// An array of the combined set.
#[derive(Debug, Clone, PartialEq)]
pub struct OutArray {
    pub path: String,
    /// Output metadata; `embedded` is unused (see `inline`).
    pub meta: ZarrArray,
    /// References sorted by `index`, one per index.
    pub refs: Vec<OutRef>,
    /// Inline chunks (linear index, bytes) sorted by index.
    pub inline: Vec<(u64, Vec<u8>)>,
}

impl OutArray {
    /// The chunk grid of the output array.
    pub fn grid(&self) -> Vec<u64> {
        self.meta.grid()
    }

    /// Number of chunk positions (product of the grid).
    pub fn grid_len(&self) -> u64 {
        self.grid().iter().product()
    }

    /// The chunk key of a linear position.
    pub fn key(&self, index: u64) -> String {
        self.key_in(&self.grid(), index)
    }

    /// The chunk key of a linear position, with the array's grid computed once by the caller.
    pub fn key_in(&self, grid: &[u64], index: u64) -> String {
        if self.meta.shape.is_empty() {
            return "0".into();
        }
        let mut pos = vec![0u64; grid.len()];
        let mut rest = index;
        for d in (0..grid.len()).rev() {
            let n = grid[d].max(1);
            pos[d] = rest % n;
            rest /= n;
        }
        chunk_key(&pos)
    }
}

/// What combining did, for the user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CombineReport {
    /// Granules combined.
    pub granules: usize,
    /// Cells of the grid of new dimensions (1 without new dims).
    pub cells: u64,
    /// (dim, number of values).
    pub axes: Vec<(String, usize)>,
    /// Duplicate cells resolved by the policy: (cell, kept url, dropped urls).
    pub duplicates_resolved: Vec<(String, String, Vec<String>)>,
    /// Attributes dropped because they vary: (owner path, name, distinct values seen).
    pub dropped_attrs: Vec<(String, String, usize)>,
    /// Group attributes turned into arrays: (owner path, name, array path).
    pub attr_arrays: Vec<(String, String, String)>,
    /// Arrays given a fill value for the empty cells: (path, fill JSON).
    pub fills_set: Vec<(String, String)>,
    /// Arrays copied once (identical in every granule).
    pub identical: Vec<String>,
    /// References written (not inline).
    pub refs: usize,
    /// Arrays left out because some granule cannot reference them (policy `skip`).
    pub skipped_arrays: Vec<SkippedInCombine>,
}

/// An array left out of a combined set: in how many granules it cannot be referenced, one of
/// them, and the reason there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedInCombine {
    pub path: String,
    pub granules: usize,
    pub example: String,
    pub reason: String,
}

/// A combined reference set.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Combined {
    /// Every URL referenced, each once.
    pub urls: Vec<String>,
    pub groups: Vec<OutGroup>,
    pub arrays: Vec<OutArray>,
    pub report: CombineReport,
}

impl Combined {
    /// `(key, JSON text)` of every `.zgroup`, `.zattrs` and `.zarray`, sorted by key.
    pub fn metadata(&self) -> Vec<(String, String)> {
        let prefixed = crate::json::prefixed;
        let mut out = Vec::new();
        for g in &self.groups {
            out.push((
                prefixed(&g.path, ".zgroup"),
                "{\"zarr_format\":2}".to_string(),
            ));
            out.push((
                prefixed(&g.path, ".zattrs"),
                crate::zarr::attrs_json(None, &g.attrs),
            ));
        }
        for a in &self.arrays {
            out.push((prefixed(&a.path, ".zarray"), a.meta.zarray_json()));
            out.push((prefixed(&a.path, ".zattrs"), a.meta.zattrs_json()));
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_c_order() {
        let a = OutArray {
            path: "v".into(),
            meta: ZarrArray {
                dims: vec!["a".into(), "b".into(), "c".into()],
                shape: vec![2, 2, 10],
                chunks: vec![1, 1, 4],
                dtype: "\"<f4\"".into(),
                fill_value: "null".into(),
                filters: "null".into(),
                attrs: vec![],
                embedded: None,
                trim: 0,
                unwritten: None,
            },
            refs: vec![],
            inline: vec![],
        };
        assert_eq!(a.grid(), vec![2, 2, 3]);
        assert_eq!(a.key(0), "0.0.0");
        assert_eq!(a.key(5), "0.1.2");
        assert_eq!(a.key(11), "1.1.2");
    }
}
