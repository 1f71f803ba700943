//! The combiner's second stage: refuse what one array cannot hold (with the SQL filter that
//! would fix it), then place every reference in the combined chunk grid
//! (docs/kerchunk-reference.md 4.4, without its key collisions) and build coordinate arrays.

use std::collections::{BTreeMap, BTreeSet};

use super::accumulate::{ArrayAcc, Combiner};
use super::attr_arrays::{coord_array, group_attr_array};
use super::{
    AttrPolicy, CombineError, CombineReport, Combined, OutArray, OutGroup, OutRef, SkippedInCombine,
};
use crate::zarr::ZarrArray;
use granary_core::ArrayPolicy;

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn parse_list(text: &str) -> Vec<u64> {
    text.trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect()
}

/// netCDF's default fill for integer types (what netCDF-C returns for unwritten data).
fn netcdf_default_fill(dtype: &str) -> Option<&'static str> {
    Some(match dtype.trim_matches('"').get(1..)? {
        "i1" => "-127",
        "u1" => "255",
        "i2" => "-32767",
        "u2" => "65535",
        "i4" => "-2147483647",
        "u4" => "4294967295",
        "i8" => "-9223372036854775806",
        "u8" => "18446744073709551614",
        _ => return None,
    })
}

fn prefixed(group: &str, name: &str) -> String {
    if group.is_empty() {
        name.to_string()
    } else {
        format!("{group}/{name}")
    }
}

/// A referenced chunk of one granule: (chunk position, url, offset, length).
pub type SourceChunk = (u64, String, u64, u64);

impl Combiner {
    /// Whether an array is copied once (checked identical) rather than stacked/concatenated:
    /// named in `identical`; without the concatenated existing dim; or, with new dims, a 1-D
    /// root array named like its dimension (a netCDF coordinate variable).
    fn copies_once(&self, path: &str, acc: &ArrayAcc) -> bool {
        let r = &acc.reference;
        self.spec.identical.iter().any(|p| p == path)
            || match self.existing {
                Some(d) => !r.dims.iter().any(|x| *x == self.spec.dims[d].name),
                None => r.dims.len() == 1 && r.dims[0] == path,
            }
    }

    /// The referenced chunks of every array that will be copied once, per granule in cell
    /// order: `(array path, [[(chunk position, url, offset, length)]])`. A caller that can read
    /// them should check that the bytes are equal across granules (the combiner itself only
    /// compares metadata, chunk sizes and embedded bytes).
    pub fn identical_chunks(&self) -> Vec<(String, Vec<Vec<SourceChunk>>)> {
        let n = self.seen.len();
        let mut out = Vec::new();
        let mut paths: Vec<(&String, &usize)> = self.array_of.iter().collect();
        paths.sort();
        for (path, &i) in paths {
            let acc = &self.arrays[i];
            if !self.copies_once(path, acc) {
                continue;
            }
            let mut per: Vec<Vec<SourceChunk>> = vec![Vec::new(); n];
            for c in &acc.chunks {
                per[c.granule as usize].push((
                    c.local,
                    self.urls[c.url as usize].clone(),
                    c.offset,
                    c.length,
                ));
            }
            for p in &mut per {
                p.sort();
            }
            out.push((path.clone(), per));
        }
        out
    }

    fn example(&self, g: u32) -> &str {
        &self.urls[g as usize]
    }

    /// Lines describing how the granules differ (arrays that split the granules the same way
    /// are reported together), and SQL filters that would fix it.
    fn mismatches(&self, paths: &[(&String, &usize)]) -> (Vec<String>, Vec<String>) {
        let n = self.seen.len();
        // (field, [(count, example granule)]) → (first array path, its value list, more arrays)
        type Split = (String, Vec<(usize, u32)>);
        let mut groups: BTreeMap<Split, (String, String, usize)> = BTreeMap::new();
        let mut dims_fixes = BTreeSet::new();
        let mut other_fixes = BTreeSet::new();
        for &(path, &i) in paths {
            let acc = &self.arrays[i];
            if acc.n_present < n {
                let g = (0..n).find(|g| !acc.present[*g]).unwrap_or(0) as u32;
                let key = ("presence".to_string(), vec![(n - acc.n_present, g)]);
                let text = format!(
                    "missing from {} of {n} granules (e.g. {})",
                    n - acc.n_present,
                    self.example(g)
                );
                groups
                    .entry(key)
                    .and_modify(|e| e.2 += 1)
                    .or_insert(((*path).clone(), text, 0));
                other_fixes.insert(format!(
                    "url IN (SELECT url FROM zarr WHERE path = {})",
                    quote(path)
                ));
            }
            for (field, values) in &acc.diffs {
                let r = &acc.reference;
                let attribute = field.strip_prefix("attribute ");
                let ref_value = match field.as_str() {
                    _ if attribute.is_some() => attribute
                        .and_then(|a| r.attrs.iter().find(|(n, _)| n == a))
                        .map_or_else(|| "(absent)".to_string(), |(_, v)| v.clone()),
                    "dimensions" => format!("{:?}", r.dims),
                    "shape" => format!("[{}]", join(&r.shape)),
                    "chunks" => format!("[{}]", join(&r.chunks)),
                    "dtype" => r.dtype.clone(),
                    "fill_value" => r.fill_value.clone(),
                    "filters" => r.filters.clone(),
                    "checksum" => format!("{} trailing bytes", r.trim),
                    _ => (if acc.embedded { "embedded" } else { "chunks" }).to_string(),
                };
                let others: usize = values.values().map(|(c, _)| c).sum();
                let mut counts = vec![(acc.n_present - others, ref_value, acc.ref_granule)];
                counts.extend(values.iter().map(|(v, (c, e))| (*c, v.clone(), *e)));
                counts.sort_by_key(|x| std::cmp::Reverse(x.0));
                let text: Vec<String> = counts
                    .iter()
                    .map(|(c, v, e)| format!("{v} in {c} (e.g. {})", self.example(*e)))
                    .collect();
                let split = counts.iter().map(|(c, _, e)| (*c, *e)).collect();
                groups
                    .entry((field.clone(), split))
                    .and_modify(|e| e.2 += 1)
                    .or_insert(((*path).clone(), format!("{field} {}", text.join("; ")), 0));
                let majority = &counts[0].1;
                match field.as_str() {
                    "shape" => {
                        let want = parse_list(majority);
                        let other = parse_list(&counts[counts.len() - 1].1);
                        let axis = (0..want.len()).find(|i| other.get(*i) != want.get(*i));
                        if let Some((dim, len)) =
                            axis.and_then(|a| r.dims.get(a).map(|d| (d, want[a])))
                        {
                            let group = path.rsplit_once('/').map_or("", |(g, _)| g);
                            dims_fixes
                                .insert(format!("dims[{}] = {len}", quote(&prefixed(group, dim))));
                        }
                    }
                    "chunks" => {
                        other_fixes.insert(format!(
                            "url IN (SELECT url FROM zarr WHERE path = {} AND chunks = make_array({}))",
                            quote(path),
                            majority.trim_matches(|c| c == '[' || c == ']')
                        ));
                    }
                    _ if attribute.is_some() => {
                        let name = attribute.unwrap_or_default();
                        let condition = if majority == "(absent)" {
                            format!("attrs[{}] IS NULL", quote(name))
                        } else {
                            format!("attrs[{}] = {}", quote(name), quote(majority))
                        };
                        other_fixes.insert(format!(
                            "url IN (SELECT url FROM zarr WHERE path = {} AND {condition})",
                            quote(path)
                        ));
                    }
                    "dtype" | "fill_value" | "filters" => {
                        other_fixes.insert(format!(
                            "url IN (SELECT url FROM zarr WHERE path = {} AND {field} = {})",
                            quote(path),
                            quote(majority)
                        ));
                    }
                    _ => {}
                }
            }
        }
        let lines = groups
            .into_values()
            .map(|(path, text, more)| {
                let also = if more > 0 {
                    format!(" (and {more} more arrays split the same way)")
                } else {
                    String::new()
                };
                format!("  array {path:?}{also}: {text}")
            })
            .collect();
        // A shape filter usually resolves the chunk differences too: offer it alone.
        let fixes = if dims_fixes.is_empty() {
            other_fixes.into_iter().collect()
        } else {
            dims_fixes.into_iter().collect()
        };
        (lines, fixes)
    }

    /// Checks everything and builds the combined reference set.
    pub fn finish(self) -> Result<Combined, CombineError> {
        let n = self.seen.len();
        if let Some(g) = (0..n).find(|g| !self.seen[*g]) {
            return Err(CombineError::NotInInventory {
                count: self.seen.iter().filter(|s| !**s).count(),
                example: self.urls[g].clone(),
            });
        }
        // Arrays some granule cannot reference: refused, or (policy `skip`) left out of the
        // whole set, never kept for some granules only (their cells would read as fill).
        let mut left_out: BTreeMap<&str, SkippedInCombine> = BTreeMap::new();
        for (url, array, reason) in &self.unrepresentable {
            let e = left_out
                .entry(array.as_str())
                .or_insert_with(|| SkippedInCombine {
                    path: array.clone(),
                    granules: 0,
                    example: url.clone(),
                    reason: reason.clone(),
                });
            e.granules += 1;
        }
        if let (ArrayPolicy::Error, Some((url, array, reason))) =
            (self.spec.unreferenceable, self.unrepresentable.first())
        {
            return Err(CombineError::Unrepresentable {
                url: url.clone(),
                array: array.clone(),
                reason: format!(
                    "{reason} ({} array(s) of {} granule(s) of the selection cannot be referenced; leave them out with --drop-arrays {}, or with --unreferenceable skip)",
                    left_out.len(),
                    self.unrepresentable
                        .iter()
                        .map(|(u, _, _)| u)
                        .collect::<BTreeSet<_>>()
                        .len(),
                    left_out.keys().copied().collect::<Vec<_>>().join(",")
                ),
            });
        }
        if !self.errors.is_empty() {
            return Err(CombineError::Inventory(self.errors.join("\n")));
        }
        let mut paths: Vec<(&String, &usize)> = self
            .array_of
            .iter()
            .filter(|(p, _)| !left_out.contains_key(p.as_str()))
            .collect();
        paths.sort();
        for name in &self.spec.identical {
            if !self.array_of.contains_key(name) {
                return Err(CombineError::Spec(format!(
                    "identical_dims names {name:?}, which no selected granule has"
                )));
            }
        }
        let (mut lines, fixes) = self.mismatches(&paths);
        // Existing-dim concatenation: only the last granule may end in a partial chunk.
        let existing_name = self.existing.map(|d| self.spec.dims[d].name.clone());
        if let Some(dim) = &existing_name {
            for &(path, &i) in &paths {
                let acc = &self.arrays[i];
                let Some(ax) = acc.reference.dims.iter().position(|x| x == dim) else {
                    continue;
                };
                let c = acc.reference.chunks[ax].max(1);
                if let Some(g) =
                    (0..n.saturating_sub(1)).find(|g| !acc.lengths[*g].is_multiple_of(c))
                {
                    lines.push(format!(
                        "  array {path:?}: granule {} holds {} elements along {dim}, not a multiple of the chunk length {c}; only the last granule may end in a partial chunk, so the chunks cannot be concatenated exactly",
                        self.urls[g], acc.lengths[g]
                    ));
                }
            }
        }
        if !lines.is_empty() {
            let shown = lines.len().min(30);
            let mut details = lines[..shown].join("\n");
            if lines.len() > shown {
                details.push_str(&format!("\n  ... and {} more", lines.len() - shown));
            }
            if !fixes.is_empty() {
                details.push_str(
                    "\nto combine one consistent set, add to the selection's WHERE clause, e.g.:",
                );
                for f in fixes.iter().take(5) {
                    details.push_str("\n  AND ");
                    details.push_str(f);
                }
            }
            return Err(CombineError::Mismatch { details });
        }
        let mut out = self.build(&paths, existing_name.as_deref())?;
        out.report.skipped_arrays = left_out.into_values().collect();
        Ok(out)
    }

    fn build(
        &self,
        paths: &[(&String, &usize)],
        existing: Option<&str>,
    ) -> Result<Combined, CombineError> {
        let n = self.seen.len();
        let new_dims = existing.is_none();
        let axis_lens: Vec<u64> = self.cells.axes.iter().map(|a| a.len() as u64).collect();
        let cells: u64 = if new_dims {
            axis_lens.iter().product()
        } else {
            1
        };
        let sparse = new_dims && (n as u64) < cells;
        // Linear cell of each granule (new dims).
        let cell_of: Vec<u64> = self
            .cells
            .granules
            .iter()
            .map(|(_, pos)| {
                pos.iter()
                    .zip(&axis_lens)
                    .fold(0, |acc, (p, l)| acc * l + p)
            })
            .collect();
        let mut report = CombineReport {
            granules: n,
            cells,
            axes: self
                .dim_names
                .iter()
                .zip(&self.cells.axes)
                .map(|(d, a)| (d.clone(), a.len()))
                .collect(),
            duplicates_resolved: self.cells.resolved.clone(),
            ..CombineReport::default()
        };
        let mut out = Combined {
            urls: self.urls.clone(),
            ..Combined::default()
        };
        let array_paths: BTreeSet<String> = self.array_of.keys().cloned().collect();
        if new_dims {
            for (d, name) in self.dim_names.iter().enumerate() {
                if array_paths.contains(name) {
                    return Err(CombineError::Spec(format!(
                        "the concat dimension {name:?} is also an array of the granules; name the selection column differently"
                    )));
                }
                out.arrays.push(coord_array(name, &self.cells.axes[d]));
            }
        }
        for (path, acc) in &self.groups {
            let mut attrs = Vec::new();
            let mut varying: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
            let present: Vec<usize> = (0..n).filter(|g| acc.attrs[*g].is_some()).collect();
            let first = present.first().and_then(|g| acc.attrs[*g].as_ref());
            let mut names: Vec<&String> = Vec::new();
            for g in &present {
                for (k, _) in acc.attrs[*g].iter().flatten() {
                    if !names.contains(&k) {
                        names.push(k);
                    }
                }
            }
            for name in names {
                let values: BTreeSet<&str> = present
                    .iter()
                    .map(|g| {
                        acc.attrs[*g]
                            .iter()
                            .flatten()
                            .find(|(k, _)| k == name)
                            .map_or("(absent)", |(_, v)| v.as_str())
                    })
                    .collect();
                if values.len() == 1 && first.is_some() {
                    let v = values.iter().next().copied().unwrap_or("null");
                    attrs.push((name.clone(), v.to_string()));
                } else {
                    varying.insert(name.clone(), values);
                }
            }
            for (name, values) in varying {
                if self.spec.attrs == AttrPolicy::Array && new_dims {
                    let mut array_path = prefixed(path, &name);
                    if array_paths.contains(&array_path) || self.dim_names.contains(&array_path) {
                        array_path = prefixed(path, &format!("{name}_attr"));
                    }
                    let per_cell: Vec<Option<&str>> = (0..n)
                        .map(|g| {
                            acc.attrs[g]
                                .iter()
                                .flatten()
                                .find(|(k, _)| *k == name)
                                .map(|(_, v)| v.as_str())
                        })
                        .collect();
                    out.arrays.push(group_attr_array(
                        &array_path,
                        &self.dim_names,
                        &axis_lens,
                        &cell_of,
                        &per_cell,
                    ));
                    report
                        .attr_arrays
                        .push((path.clone(), name.clone(), array_path));
                } else {
                    report
                        .dropped_attrs
                        .push((path.clone(), name.clone(), values.len()));
                }
            }
            out.groups.push(OutGroup {
                path: path.clone(),
                attrs,
            });
        }
        for &(path, &i) in paths {
            let acc = &self.arrays[i];
            let r = &acc.reference;
            let identical = self.copies_once(path, acc);
            let mut meta = r.clone();
            meta.attrs.retain(|(k, _)| !acc.varying.contains_key(k));
            for (k, values) in &acc.varying {
                report
                    .dropped_attrs
                    .push(((*path).clone(), k.clone(), values.len()));
            }
            let array = if identical {
                report.identical.push((*path).clone());
                self.identical_array(path, acc, meta)?
            } else if let Some(dim) = existing {
                self.concat_array(path, acc, meta, dim)
            } else {
                if sparse && meta.fill_value == "null" {
                    let fill = if meta.dtype.contains('f') && !meta.dtype.contains('[') {
                        Some("\"NaN\"")
                    } else {
                        netcdf_default_fill(&meta.dtype)
                    };
                    if let Some(f) = fill {
                        meta.fill_value = f.to_string();
                        report.fills_set.push(((*path).clone(), f.to_string()));
                    }
                }
                let local_len: u64 = r.grid().iter().product();
                meta.dims = self
                    .dim_names
                    .iter()
                    .cloned()
                    .chain(r.dims.clone())
                    .collect();
                meta.shape = axis_lens.iter().copied().chain(r.shape.clone()).collect();
                meta.chunks = vec![1; axis_lens.len()]
                    .into_iter()
                    .chain(r.chunks.clone())
                    .collect();
                let mut refs: Vec<OutRef> = acc
                    .chunks
                    .iter()
                    .map(|c| OutRef {
                        index: cell_of[c.granule as usize] * local_len + c.local,
                        url: c.url,
                        offset: c.offset,
                        length: c.length,
                    })
                    .collect();
                refs.sort_unstable();
                let mut inline: Vec<(u64, Vec<u8>)> = acc
                    .inline
                    .iter()
                    .map(|(g, b)| (cell_of[*g as usize] * local_len, b.clone()))
                    .collect();
                inline.extend(acc.unwritten_inline(
                    |_| local_len,
                    |g, local| cell_of[g as usize] * local_len + local,
                ));
                inline.sort();
                OutArray {
                    path: (*path).clone(),
                    meta,
                    refs,
                    inline,
                }
            };
            if let Some(w) = array.refs.windows(2).find(|w| w[0].index == w[1].index) {
                return Err(CombineError::Inventory(format!(
                    "array {path:?}: two references for chunk {} ({} and {})",
                    array.key(w[0].index),
                    self.urls[w[0].url as usize],
                    self.urls[w[1].url as usize]
                )));
            }
            report.refs += array.refs.len();
            out.arrays.push(array);
        }
        out.arrays.sort_by(|a, b| a.path.cmp(&b.path));
        out.report = report;
        Ok(out)
    }

    /// An array copied once from the first granule, after checking that every granule has the
    /// same chunk sizes and the same embedded bytes.
    fn identical_array(
        &self,
        path: &str,
        acc: &ArrayAcc,
        meta: ZarrArray,
    ) -> Result<OutArray, CombineError> {
        let n = self.seen.len();
        let mut per: Vec<Vec<(u64, u64)>> = vec![Vec::new(); n];
        for c in &acc.chunks {
            per[c.granule as usize].push((c.local, c.length));
        }
        for p in &mut per {
            p.sort_unstable();
        }
        let mut inl: Vec<Option<&Vec<u8>>> = vec![None; n];
        for (g, b) in &acc.inline {
            inl[*g as usize] = Some(b);
        }
        let mut fills: Vec<Option<&Vec<u8>>> = vec![None; n];
        for (g, b) in &acc.unwritten {
            fills[*g as usize] = Some(b);
        }
        if let Some(g) =
            (1..n).find(|g| per[*g] != per[0] || inl[*g] != inl[0] || fills[*g] != fills[0])
        {
            return Err(CombineError::Mismatch {
                details: format!(
                    "  array {path:?} must be identical in every granule (identical_dims, or it has no concat dimension) but its data differ between {} and {}",
                    self.urls[0], self.urls[g]
                ),
            });
        }
        let mut refs: Vec<OutRef> = acc
            .chunks
            .iter()
            .filter(|c| c.granule == 0)
            .map(|c| OutRef {
                index: c.local,
                url: c.url,
                offset: c.offset,
                length: c.length,
            })
            .collect();
        refs.sort_unstable();
        let local_len: u64 = meta.grid().iter().product();
        let mut inline =
            acc.unwritten_inline(|g| if g == 0 { local_len } else { 0 }, |_, local| local);
        inline.extend(inl[0].map(|b| (0, b.clone())));
        inline.sort();
        Ok(OutArray {
            path: path.to_string(),
            meta,
            refs,
            inline,
        })
    }

    /// An array concatenated along the existing dimension `dim`, granules in coordinate order.
    fn concat_array(&self, path: &str, acc: &ArrayAcc, mut meta: ZarrArray, dim: &str) -> OutArray {
        if let Some((p, values)) = &self.existing_values
            && p == path
        {
            // The coordinate, read and checked: one inline chunk of raw values.
            let total: u64 = acc.lengths.iter().sum();
            meta.shape = vec![total];
            meta.chunks = vec![total.max(1)];
            meta.filters = "null".into();
            meta.trim = 0;
            meta.unwritten = None;
            return OutArray {
                path: path.to_string(),
                meta,
                refs: Vec::new(),
                inline: vec![(0, values.clone())],
            };
        }
        let r = &acc.reference;
        let ax = r.dims.iter().position(|x| x == dim).unwrap_or(0);
        let c = r.chunks[ax].max(1);
        let mut start = vec![0u64; acc.lengths.len()];
        let mut total = 0u64;
        for (g, len) in acc.lengths.iter().enumerate() {
            start[g] = total / c;
            total += len;
        }
        meta.shape[ax] = total;
        let out_grid = meta.grid();
        let local_grid = |g: usize| {
            let mut grid = r.grid();
            grid[ax] = acc.lengths[g].div_ceil(c);
            grid
        };
        let place = |g: usize, local: u64| {
            let grid = local_grid(g);
            let mut pos = vec![0u64; grid.len()];
            let mut rest = local;
            for d in (0..grid.len()).rev() {
                pos[d] = rest % grid[d].max(1);
                rest /= grid[d].max(1);
            }
            pos[ax] += start[g];
            pos.iter().zip(&out_grid).fold(0, |acc, (p, n)| acc * n + p)
        };
        let mut refs: Vec<OutRef> = acc
            .chunks
            .iter()
            .map(|ch| OutRef {
                index: place(ch.granule as usize, ch.local),
                url: ch.url,
                offset: ch.offset,
                length: ch.length,
            })
            .collect();
        refs.sort_unstable();
        let mut inline: Vec<(u64, Vec<u8>)> = acc
            .inline
            .iter()
            .map(|(g, b)| (place(*g as usize, 0), b.clone()))
            .collect();
        inline.extend(acc.unwritten_inline(
            |g| local_grid(g as usize).iter().product(),
            |g, local| place(g as usize, local),
        ));
        inline.sort();
        OutArray {
            path: path.to_string(),
            meta,
            refs,
            inline,
        }
    }
}

fn join(v: &[u64]) -> String {
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}
