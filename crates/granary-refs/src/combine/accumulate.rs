//! The combiner's first stage: granule by granule, the zarr fields of each group and array are
//! compared with the first granule's, and chunk references are collected with their position
//! in the granule's own chunk grid.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::coords::{Cells, cells};
use super::{CombineError, CombineSpec, SelectedGranule};
use crate::node_path::{node_path_problem, node_path_reason};
use crate::zarr::ZarrArray;

/// A chunk reference of one granule, before placement in the combined grid.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawChunk {
    pub granule: u32,
    /// C-order position in the granule's own chunk grid.
    pub local: u64,
    pub url: u32,
    pub offset: u64,
    pub length: u64,
}

/// Per field, the values that differ from the first granule's: value → (granules, example).
pub(crate) type Diffs = BTreeMap<String, BTreeMap<String, (usize, u32)>>;

#[derive(Debug)]
pub(crate) struct ArrayAcc {
    pub reference: ZarrArray,
    /// The reference's chunk grid, and the position of the concatenated existing dim in it.
    grid: Vec<u64>,
    concat_axis: Option<usize>,
    /// Whether the first granule's data are embedded (compact storage, strings).
    pub embedded: bool,
    pub ref_granule: u32,
    pub present: Vec<bool>,
    pub n_present: usize,
    pub diffs: Diffs,
    /// Attribute name → distinct values seen (only for attributes that vary).
    pub varying: BTreeMap<String, BTreeSet<String>>,
    /// Length along the concatenated existing dim, per granule (existing-dim mode).
    pub lengths: Vec<u64>,
    pub chunks: Vec<RawChunk>,
    pub inline: Vec<(u32, Vec<u8>)>,
    /// Per granule whose unwritten chunks must be written inline: the encoded fill chunk.
    pub unwritten: Vec<(u32, Vec<u8>)>,
}

impl ArrayAcc {
    /// Inline fill chunks for the positions granules did not write (`unwritten.rs`): for each
    /// such granule, every local position `0..local_len(g)` without a reference, placed in the
    /// output grid by `place(g, local)`.
    pub(crate) fn unwritten_inline(
        &self,
        local_len: impl Fn(u32) -> u64,
        place: impl Fn(u32, u64) -> u64,
    ) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        for (g, fill) in &self.unwritten {
            let written: HashSet<u64> = self
                .chunks
                .iter()
                .filter(|c| c.granule == *g)
                .map(|c| c.local)
                .collect();
            for local in (0..local_len(*g)).filter(|l| !written.contains(l)) {
                out.push((place(*g, local), fill.clone()));
            }
        }
        out
    }
}

#[derive(Debug, Default)]
pub(crate) struct GroupAcc {
    pub attrs: Vec<Option<Vec<(String, String)>>>,
}

/// Combines granules; see the module documentation.
#[derive(Debug)]
pub struct Combiner {
    pub(crate) spec: CombineSpec,
    pub(crate) dim_names: Vec<String>,
    pub(crate) cells: Cells,
    pub(crate) granule_of: HashMap<String, u32>,
    pub(crate) seen: Vec<bool>,
    pub(crate) groups: BTreeMap<String, GroupAcc>,
    pub(crate) arrays: Vec<ArrayAcc>,
    pub(crate) array_of: HashMap<String, usize>,
    pub(crate) urls: Vec<String>,
    url_of: HashMap<String, u32>,
    pub(crate) unrepresentable: Vec<(String, String, String)>,
    unrepresentable_paths: HashSet<String>,
    pub(crate) errors: Vec<String>,
    /// Index of the concatenated existing dim in `spec.dims`, if any.
    pub(crate) existing: Option<usize>,
    /// The existing dim's coordinate, read and checked (`existing_coord.rs`): path and the
    /// raw values of every granule in concatenation order, written inline.
    pub(crate) existing_values: Option<(String, Vec<u8>)>,
}

pub(crate) fn diff(diffs: &mut Diffs, field: impl Into<String>, value: String, granule: u32) {
    diffs
        .entry(field.into())
        .or_default()
        .entry(value)
        .or_insert((0, granule))
        .0 += 1;
}

fn list(v: &[u64]) -> String {
    format!(
        "[{}]",
        v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
    )
}

impl Combiner {
    /// A combiner for the selected granules.
    pub fn new(spec: CombineSpec, rows: &[SelectedGranule]) -> Result<Self, CombineError> {
        let existing: Vec<usize> = (0..spec.dims.len())
            .filter(|i| spec.dims[*i].existing)
            .collect();
        if spec.dims.is_empty() {
            return Err(CombineError::Spec(
                "no concat dimension: the selection needs a column besides url".into(),
            ));
        }
        if !existing.is_empty() && spec.dims.len() > 1 {
            return Err(CombineError::Spec(format!(
                "concatenating along the existing dimension {} together with other dimensions is not supported; combine along one existing dimension, or along new ones only",
                spec.dims[existing[0]].name
            )));
        }
        let dim_names: Vec<String> = spec.dims.iter().map(|d| d.name.clone()).collect();
        let cells = cells(&dim_names, rows, spec.on_duplicate)?;
        let n = cells.granules.len();
        let granule_of = cells
            .granules
            .iter()
            .enumerate()
            .map(|(i, (u, _))| (u.clone(), i as u32))
            .collect();
        let urls: Vec<String> = cells.granules.iter().map(|(u, _)| u.clone()).collect();
        let url_of = urls
            .iter()
            .enumerate()
            .map(|(i, u)| (u.clone(), i as u32))
            .collect();
        Ok(Self {
            spec,
            dim_names,
            cells,
            granule_of,
            seen: vec![false; n],
            groups: BTreeMap::new(),
            arrays: Vec::new(),
            array_of: HashMap::new(),
            urls,
            url_of,
            unrepresentable: Vec::new(),
            unrepresentable_paths: HashSet::new(),
            errors: Vec::new(),
            existing: existing.first().copied(),
            existing_values: None,
        })
    }

    /// The granule index of a selected URL (None: not selected, or dropped as a duplicate).
    pub fn granule(&self, url: &str) -> Option<u32> {
        self.granule_of.get(url).copied()
    }

    /// Records a group's attributes (name, JSON text) for the granule at `url`.
    pub fn add_group(&mut self, url: &str, path: &str, attrs: Vec<(String, String)>) {
        let Some(g) = self.granule(url) else { return };
        // Scans leave such groups out; an inventory written otherwise may still hold one.
        if let Some(problem) = node_path_problem(path, true) {
            self.errors
                .push(format!("{url}: group {}", node_path_reason(path, problem)));
            return;
        }
        self.seen[g as usize] = true;
        let n = self.seen.len();
        let acc = self.groups.entry(path.to_string()).or_default();
        if acc.attrs.is_empty() {
            acc.attrs = vec![None; n];
        }
        acc.attrs[g as usize] = Some(attrs);
    }

    /// Records that an array of the granule at `url` has no zarr form.
    pub fn add_unrepresentable(&mut self, url: &str, path: &str, reason: &str) {
        let Some(g) = self.granule(url) else { return };
        self.seen[g as usize] = true;
        self.unrepresentable
            .push((url.to_string(), path.to_string(), reason.to_string()));
        self.unrepresentable_paths.insert(path.to_string());
    }

    /// Records an array of the granule at `url`, comparing it with the first granule's.
    pub fn add_array(&mut self, url: &str, path: &str, z: &ZarrArray) {
        self.add_array_with_attrs(url, path, z, &z.attrs);
    }

    /// [`Combiner::add_array`] with the array's attributes (name, JSON text) given apart, e.g.
    /// borrowed from an inventory batch; `z.attrs` is not read. Attributes are copied only for
    /// the first granule and where they differ from its.
    pub fn add_array_with_attrs<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        url: &str,
        path: &str,
        z: &ZarrArray,
        attrs: &[(K, V)],
    ) {
        if let Some(problem) = node_path_problem(path, false) {
            self.add_unrepresentable(url, path, &node_path_reason(path, problem));
            return;
        }
        let Some(g) = self.granule(url) else { return };
        self.seen[g as usize] = true;
        let n = self.seen.len();
        let axis = self.existing.and_then(|d| {
            let name = &self.spec.dims[d].name;
            z.dims.iter().position(|x| x == name)
        });
        let idx = match self.array_of.get(path) {
            Some(i) => *i,
            None => {
                let reference = ZarrArray {
                    dims: z.dims.clone(),
                    shape: z.shape.clone(),
                    chunks: z.chunks.clone(),
                    dtype: z.dtype.clone(),
                    fill_value: z.fill_value.clone(),
                    filters: z.filters.clone(),
                    attrs: attrs
                        .iter()
                        .map(|(n, v)| (n.as_ref().to_string(), v.as_ref().to_string()))
                        .collect(),
                    embedded: None,
                    trim: z.trim,
                    unwritten: None,
                };
                self.arrays.push(ArrayAcc {
                    grid: reference.grid(),
                    concat_axis: axis,
                    reference,
                    embedded: z.embedded.is_some(),
                    ref_granule: g,
                    present: vec![false; n],
                    n_present: 0,
                    diffs: Diffs::new(),
                    varying: BTreeMap::new(),
                    lengths: if self.existing.is_some() {
                        vec![0; n]
                    } else {
                        Vec::new()
                    },
                    chunks: Vec::new(),
                    inline: Vec::new(),
                    unwritten: Vec::new(),
                });
                self.array_of
                    .insert(path.to_string(), self.arrays.len() - 1);
                self.arrays.len() - 1
            }
        };
        let acc = &mut self.arrays[idx];
        if acc.present[g as usize] {
            self.errors.push(format!(
                "{url}: array {path:?} appears twice in the inventory"
            ));
            return;
        }
        acc.present[g as usize] = true;
        acc.n_present += 1;
        if let Some(a) = axis
            && !acc.lengths.is_empty()
        {
            acc.lengths[g as usize] = z.shape[a];
        }
        let r = &acc.reference;
        if z.dims != r.dims {
            diff(&mut acc.diffs, "dimensions", format!("{:?}", z.dims), g);
        }
        let shape_differs = match axis {
            Some(a) if z.shape.len() == r.shape.len() => z
                .shape
                .iter()
                .zip(&r.shape)
                .enumerate()
                .any(|(i, (x, y))| i != a && x != y),
            _ => z.shape != r.shape,
        };
        if shape_differs {
            diff(&mut acc.diffs, "shape", list(&z.shape), g);
        }
        if z.chunks != r.chunks {
            diff(&mut acc.diffs, "chunks", list(&z.chunks), g);
        }
        if z.dtype != r.dtype {
            diff(&mut acc.diffs, "dtype", z.dtype.clone(), g);
        }
        if z.fill_value != r.fill_value {
            diff(&mut acc.diffs, "fill_value", z.fill_value.clone(), g);
        }
        if z.filters != r.filters {
            diff(&mut acc.diffs, "filters", z.filters.clone(), g);
        }
        if z.trim != r.trim {
            diff(
                &mut acc.diffs,
                "checksum",
                format!("{} trailing bytes", z.trim),
                g,
            );
        }
        if z.embedded.is_some() != acc.embedded {
            let kind = if z.embedded.is_some() {
                "embedded"
            } else {
                "chunks"
            };
            diff(&mut acc.diffs, "storage", kind.to_string(), g);
        }
        super::decoding::compare(acc, attrs, g);
        if let Some(b) = &z.embedded {
            acc.inline.push((g, b.clone()));
        }
        if let Some(b) = &z.unwritten {
            acc.unwritten.push((g, b.clone()));
        }
    }

    /// Records a stored chunk of an array of the granule at `url`. `size` is the stored size;
    /// the array's checksum trim is applied here. `chunk_url` is set when the chunk lives in
    /// another object than the granule.
    pub fn add_chunk(
        &mut self,
        url: &str,
        path: &str,
        index: &[u64],
        offset: u64,
        size: u64,
        chunk_url: Option<&str>,
    ) {
        let Some(g) = self.granule(url) else { return };
        let Some(&a) = self.array_of.get(path) else {
            // An array left out as unrepresentable is already listed; its chunks go with it.
            if self.unrepresentable_paths.contains(path) {
                return;
            }
            self.errors.push(format!(
                "{url}: chunk of array {path:?}, which the inventory does not describe"
            ));
            return;
        };
        let url_id = match chunk_url {
            None => g,
            Some(u) if u == url => g,
            Some(u) => match self.url_of.get(u) {
                Some(i) => *i,
                None => {
                    self.urls.push(u.to_string());
                    let i = (self.urls.len() - 1) as u32;
                    self.url_of.insert(u.to_string(), i);
                    i
                }
            },
        };
        let acc = &mut self.arrays[a];
        let r = &acc.reference;
        // The granule's own grid: the reference grid, except along the concatenated axis.
        let chunks_along = |d: usize| match acc.concat_axis {
            Some(ax) if ax == d => acc.lengths[g as usize].div_ceil(r.chunks[ax].max(1)),
            _ => acc.grid[d],
        };
        let in_grid = if r.shape.is_empty() {
            index.is_empty() || index.iter().all(|i| *i == 0)
        } else {
            index.len() == acc.grid.len()
                && index.iter().enumerate().all(|(d, i)| *i < chunks_along(d))
        };
        if !in_grid {
            let grid: Vec<u64> = (0..acc.grid.len()).map(chunks_along).collect();
            self.errors.push(format!(
                "{url}: array {path:?}: chunk {index:?} lies outside the chunk grid {grid:?}"
            ));
            return;
        }
        let mut local = 0u64;
        for (d, i) in index.iter().enumerate() {
            local = local * chunks_along(d) + i;
        }
        if size < r.trim {
            self.errors.push(format!(
                "{url}: array {path:?}: chunk at byte {offset} is shorter than its checksum"
            ));
            return;
        }
        acc.chunks.push(RawChunk {
            granule: g,
            local,
            url: url_id,
            offset,
            length: size - r.trim,
        });
    }
}
