//! From a parsed DMR++ document to a granary manifest, with the semantics of the HDF5 scanner:
//! shared dimensions by basename, anonymous dimensions named like netCDF phony dimensions,
//! dimension-only phony variables dropped, bookkeeping attributes hidden, the fill value from
//! `_FillValue` (the `fillValue` text is printed with 6 digits, trap 7), codecs in pipeline order.

use std::collections::HashMap;

use granary_core::{
    ArrayData, ArrayMeta, AttrValue, Attribute, ByteOrder, ChunkRef, DType, Dimension,
    GranuleManifest, Group, PhonyDims, SkippedArray, StorageLayout,
};

use crate::document::{ChunkElem, DimRef, Document, GroupDoc, Variable};
use crate::href::{self, DmrppOptions, HrefRule};
use crate::{DmrppError, filters, inline, storage_fill, types};

/// DMR++ builder annotations (the HDF5 handler's), on top of the netCDF/HDF5 bookkeeping ones.
const BUILDER_ATTRIBUTES: &[&str] = &["origname", "fullnamepath"];

/// What the conversion found besides the manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub href_rule: HrefRule,
    pub dmrpp_version: Option<String>,
    /// Variables whose filter order was inferred (unversioned document, section 7.2).
    pub inferred_filter_order: Vec<String>,
    /// Variables dropped under `skip_unsupported`, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Variables whose DMR++ path differs from their HDF5 path (`fullnamepath` attribute of
    /// CF-flattened documents): (DMR++ path, HDF5 path).
    pub renamed: Vec<(String, String)>,
}

struct Ctx<'a> {
    url: &'a str,
    data_url: String,
    opts: &'a DmrppOptions,
    /// Fully qualified dimension name → size.
    dims: HashMap<String, u64>,
    phony: PhonyDims,
    /// Enumeration basename → (base type, constants).
    enums: HashMap<String, (String, Vec<(String, i64)>)>,
    report: Report,
}

fn basename(fqn: &str) -> &str {
    fqn.rsplit('/').next().unwrap_or(fqn)
}

fn fqn(group: &str, name: &str) -> String {
    if name.starts_with('/') {
        name.to_string()
    } else if group.is_empty() {
        format!("/{name}")
    } else {
        format!("/{group}/{name}")
    }
}

impl Ctx<'_> {
    fn var_err(&self, group: &str, v: &Variable, message: impl Into<String>) -> DmrppError {
        DmrppError::Variable {
            url: self.url.into(),
            variable: path(group, &v.name),
            message: message.into(),
        }
    }

    fn unsupported(&self, group: &str, v: &Variable, feature: impl Into<String>) -> DmrppError {
        DmrppError::Unsupported {
            url: self.url.into(),
            variable: path(group, &v.name),
            feature: feature.into(),
        }
    }

    fn dim_size(&self, group: &str, name: &str) -> Option<u64> {
        if name.starts_with('/') {
            return self.dims.get(name).copied();
        }
        // Relative: this group, then its ancestors.
        let mut g = group.to_string();
        loop {
            if let Some(s) = self.dims.get(&fqn(&g, name)) {
                return Some(*s);
            }
            match g.rfind('/') {
                Some(i) => g.truncate(i),
                None if !g.is_empty() => g.clear(),
                None => return None,
            }
        }
    }
}

fn path(group: &str, name: &str) -> String {
    if group.is_empty() {
        name.to_string()
    } else {
        format!("{group}/{name}")
    }
}

/// Builds the manifest.
pub(crate) fn build(
    doc: Document,
    url: &str,
    opts: &DmrppOptions,
) -> Result<(GranuleManifest, Report), DmrppError> {
    if let (Some((p, what)), false) = (doc.unsupported.first(), opts.skip_unsupported) {
        return Err(DmrppError::Unsupported {
            url: url.into(),
            variable: p.clone(),
            feature: what.clone(),
        });
    }
    let (data_url, rule) = href::resolve_root_named(doc.href.as_deref(), opts, doc.name.as_deref());
    let mut ctx = Ctx {
        url,
        data_url,
        opts,
        dims: HashMap::new(),
        phony: PhonyDims::default(),
        enums: doc
            .groups
            .iter()
            .flat_map(|g| {
                g.enums
                    .iter()
                    .map(|(n, b, c)| (n.clone(), (b.clone(), c.clone())))
            })
            .collect(),
        report: Report {
            href_rule: rule,
            dmrpp_version: doc.version.clone(),
            inferred_filter_order: Vec::new(),
            skipped: doc.unsupported.clone(),
            renamed: Vec::new(),
        },
    };
    for g in &doc.groups {
        for (n, s) in &g.dims {
            ctx.dims.insert(fqn(&g.path, n), *s);
        }
    }
    let versioned = doc.version.is_some();
    // Same order as the HDF5 scanner (breadth first, names sorted), so phony names agree.
    let mut order = doc.groups;
    order.sort_by_cached_key(|g| {
        (
            g.path.matches('/').count() + usize::from(!g.path.is_empty()),
            g.path.clone(),
        )
    });
    let mut groups: Vec<Group> = Vec::new();
    for mut g in order {
        let mut out = Group::new(g.path.clone());
        out.attrs = visible(std::mem::take(&mut g.attrs));
        out.dims = g
            .dims
            .iter()
            .map(|(n, s)| Dimension {
                name: n.clone(),
                size: *s,
                unlimited: g.unlimited.contains(n),
            })
            .collect();
        let mut vars = std::mem::take(&mut g.variables);
        vars.sort_by(|a, b| a.name.cmp(&b.name));
        for v in vars {
            match array(&mut ctx, &g, v, versioned, &mut out.dims) {
                Ok(Some(a)) => out.arrays.push(a),
                Ok(None) => {}
                Err(DmrppError::Unsupported {
                    variable, feature, ..
                }) if opts.skip_unsupported => {
                    ctx.report.skipped.push((variable, feature));
                }
                Err(e) => return Err(e),
            }
        }
        groups.push(out);
    }
    let root = tree(&mut groups, "").ok_or_else(|| DmrppError::Invalid {
        url: url.into(),
        message: "no root group".into(),
    })?;
    Ok((
        GranuleManifest {
            url: ctx.data_url.clone(),
            size: None,
            etag: None,
            root,
            skipped: ctx
                .report
                .skipped
                .iter()
                .map(|(path, reason)| SkippedArray {
                    path: path.clone(),
                    reason: format!("not supported: {reason}"),
                })
                .collect(),
        },
        ctx.report,
    ))
}

fn tree(groups: &mut Vec<Group>, p: &str) -> Option<Group> {
    let i = groups.iter().position(|g| g.path == p)?;
    let mut g = groups.remove(i);
    let kids: Vec<String> = groups
        .iter()
        .filter(|c| !c.path.is_empty() && c.path.rsplit_once('/').map_or("", |(a, _)| a) == p)
        .map(|c| c.path.clone())
        .collect();
    for k in kids {
        g.groups.extend(tree(groups, &k));
    }
    Some(g)
}

fn is_visible(a: &Attribute) -> bool {
    !granary_core::is_bookkeeping(a) && !BUILDER_ATTRIBUTES.contains(&a.name.as_str())
}

fn visible(attrs: Vec<Attribute>) -> Vec<Attribute> {
    attrs.into_iter().filter(is_visible).collect()
}

fn array(
    ctx: &mut Ctx<'_>,
    g: &GroupDoc,
    v: Variable,
    versioned: bool,
    group_dims: &mut Vec<Dimension>,
) -> Result<Option<ArrayMeta>, DmrppError> {
    // Shape and dimension names.
    let mut shape = Vec::with_capacity(v.dims.len());
    let mut names = Vec::with_capacity(v.dims.len());
    for d in &v.dims {
        match d {
            DimRef::Named(n) => {
                let s = ctx.dim_size(&g.path, n).ok_or_else(|| {
                    ctx.var_err(&g.path, &v, format!("undeclared dimension {n:?}"))
                })?;
                shape.push(s);
                names.push(basename(n).to_string());
            }
            DimRef::Size(s) => {
                shape.push(*s);
                let n = ctx.phony.name(&g.path, *s, &names, group_dims);
                names.push(n);
            }
        }
    }
    // Builders list each netCDF dimension as a data-less variable of its name (no storage, or
    // an empty dmrpp:chunks, and no attributes but bookkeeping ones): a dimension, not data.
    let data_less = !v.has_storage()
        || (v.chunks.as_ref().is_some_and(|c| c.chunks.is_empty())
            && v.bare_chunks.is_empty()
            && v.compact.is_none()
            && v.missing_data.is_none()
            && v.vlsa.is_none()
            && !v.attrs.iter().any(is_visible));
    if data_less && shape.len() == 1 && g.dims.iter().any(|(n, s)| *n == v.name && *s == shape[0]) {
        return Ok(None);
    }
    if v.special_structure {
        return Err(ctx.unsupported(&g.path, &v, "dmrpp:specialstructuredata"));
    }
    let chunks_elem = v.chunks.as_ref();
    if chunks_elem.is_some_and(|c| c.has_blocks) {
        return Err(ctx.unsupported(&g.path, &v, "dmrpp:block linked blocks (HDF4)"));
    }
    let order = match chunks_elem.and_then(|c| c.byte_order.as_deref()) {
        Some("BE") => ByteOrder::Big,
        _ => ByteOrder::Little,
    };
    let dtype = match v.dap_type.as_str() {
        "String" => match (&v.fixed_string, &v.vlsa, &v.compact) {
            (Some((len, _)), _, _) => DType::FixedString { size: *len, utf8: false },
            (None, Some(_), _) | (None, None, Some(_)) => DType::VlenString { utf8: true },
            (None, None, None) if !v.has_storage() => DType::VlenString { utf8: true },
            _ => return Err(ctx.unsupported(&g.path, &v, "String variable described by raw chunks without dmrpp:FixedLengthStringArray or dmrpp:vlsa (pre-3.21 builder; the bytes may be heap IDs)")),
        },
        "Enum" => {
            let e = v.enum_type.as_deref().and_then(|e| ctx.enums.get(basename(e)));
            let base = e.map_or("Int32", |(b, _)| b.as_str());
            let int = types::dtype(base, order)
                .ok_or_else(|| ctx.unsupported(&g.path, &v, format!("enumeration base type {base}")))?;
            let consts = e.map(|(_, c)| c.clone()).unwrap_or_default();
            // Booleans as h5py and netCDF store them: FALSE=0, TRUE=1 over a 1-byte integer.
            let is_bool = int.size() == 1
                && consts.len() == 2
                && consts.iter().any(|(n, v)| n == "FALSE" && *v == 0)
                && consts.iter().any(|(n, v)| n == "TRUE" && *v == 1);
            if is_bool { DType::Bool } else { DType::Enum { base: Box::new(int), members: consts } }
        }
        t => types::dtype(t, order).ok_or_else(|| ctx.unsupported(&g.path, &v, format!("DAP4 type {t}")))?,
    };
    let element_size = dtype.size();
    // Codecs.
    let (codecs, inferred) = match chunks_elem {
        Some(c) => filters::codecs(&c.compression, &c.deflate_levels, versioned, element_size)
            .map_err(|m| ctx.var_err(&g.path, &v, m))?,
        None => (Vec::new(), false),
    };
    if inferred {
        ctx.report
            .inferred_filter_order
            .push(path(&g.path, &v.name));
    }
    // Data.
    let chunk_sizes = chunks_elem.and_then(|c| c.chunk_sizes.clone());
    let (layout, chunk_shape, data) = if let Some(list) = &v.vlsa {
        (
            StorageLayout::Contiguous,
            shape.clone(),
            ArrayData::Strings(list.clone()),
        )
    } else if let Some(text) = &v.compact {
        let bytes = inline::base64(text).map_err(|m| ctx.var_err(&g.path, &v, m))?;
        let data = if matches!(dtype, DType::VlenString { .. }) {
            ArrayData::Strings(vec![Some(
                String::from_utf8_lossy(&bytes)
                    .trim_end_matches('\0')
                    .to_string(),
            )])
        } else {
            ArrayData::Inline(bytes)
        };
        (StorageLayout::Compact, shape.clone(), data)
    } else if let Some(text) = &v.missing_data {
        let n: u64 = shape.iter().product();
        let bytes = if n == 1 {
            inline::base64(text)
        } else {
            inline::zlib_base64(text)
        }
        .map_err(|m| ctx.var_err(&g.path, &v, m))?;
        (
            StorageLayout::Compact,
            shape.clone(),
            ArrayData::Inline(bytes),
        )
    } else {
        let elems: Vec<&ChunkElem> = match chunks_elem {
            Some(c) => c.chunks.iter().collect(),
            None => v.bare_chunks.iter().collect(),
        };
        let (layout, cshape) = match &chunk_sizes {
            Some(cs) => {
                if cs.len() != shape.len() || cs.contains(&0) {
                    return Err(ctx.var_err(
                        &g.path,
                        &v,
                        format!("chunkDimensionSizes {cs:?} do not fit shape {shape:?}"),
                    ));
                }
                (StorageLayout::Chunked, cs.clone())
            }
            None => (StorageLayout::Contiguous, shape.clone()),
        };
        let mut refs = Vec::with_capacity(elems.len());
        for c in elems {
            let pos = c.position.clone().unwrap_or_else(|| vec![0; shape.len()]);
            if pos.len() != shape.len() {
                return Err(ctx.var_err(
                    &g.path,
                    &v,
                    format!("chunk position {pos:?} has the wrong rank"),
                ));
            }
            let index: Vec<u64> = pos
                .iter()
                .zip(&cshape)
                .map(|(p, c)| p / c.max(&1))
                .collect();
            if pos.iter().zip(&cshape).any(|(p, c)| p % c.max(&1) != 0) {
                return Err(ctx.var_err(
                    &g.path,
                    &v,
                    format!("chunk position {pos:?} is not on the chunk grid"),
                ));
            }
            let url = c
                .href
                .as_deref()
                .and_then(|h| href::resolve_chunk(h, &ctx.data_url, ctx.opts));
            refs.push(ChunkRef {
                index,
                offset: c.offset,
                size: c.nbytes,
                filter_mask: c.filter_mask,
                url,
            });
        }
        refs.sort_by(|a, b| a.index.cmp(&b.index));
        if refs.windows(2).any(|w| w[0].index == w[1].index) {
            return Err(ctx.var_err(&g.path, &v, "two chunks at the same position"));
        }
        (layout, cshape, ArrayData::Chunks(refs))
    };
    // Fill value: `_FillValue` (full precision), else the lossy `fillValue` text.
    let fill_attr = v
        .attrs
        .iter()
        .find(|a| a.name == "_FillValue")
        .map(|a| a.value.clone());
    let fill_text = chunks_elem
        .and_then(|c| c.fill_value.as_deref())
        .filter(|t| !t.starts_with("unsupported"))
        .map(|t| match &dtype {
            // Float32 fills are printed with 6 digits; narrowed to float32 they are exact again.
            DType::Float { size: 4, .. } => types::float(t)
                .map_or(AttrValue::Str(t.to_string()), |f| {
                    AttrValue::Float(f64::from(f as f32))
                }),
            DType::Float { .. } => {
                types::float(t).map_or(AttrValue::Str(t.to_string()), AttrValue::Float)
            }
            DType::Int { signed: true, .. } => t
                .trim()
                .parse::<i64>()
                .map_or(AttrValue::Str(t.to_string()), AttrValue::Int),
            DType::Int { signed: false, .. } => t
                .trim()
                .parse::<u64>()
                .map_or(AttrValue::Str(t.to_string()), AttrValue::UInt),
            _ => AttrValue::Str(t.to_string()),
        });
    // An empty fixed-string fill is the all-zero default.
    let fill_text = fill_text
        .filter(|f| !(matches!(dtype, DType::FixedString { .. }) && f.as_str() == Some("")));
    let (fill_value, storage_fill) = if matches!(dtype, DType::VlenString { .. }) {
        (None, None)
    } else {
        let storage = storage_fill::storage_fill(&dtype, fill_attr.as_ref(), fill_text.as_ref());
        (fill_attr.or(fill_text), storage)
    };
    let own = path(&g.path, &v.name);
    if let Some(full) = v
        .attrs
        .iter()
        .find(|a| a.name == "fullnamepath")
        .and_then(|a| a.value.as_str())
    {
        let full = full.trim_start_matches('/').replace("_nc4_non_coord_", "");
        if full != own {
            ctx.report.renamed.push((own.clone(), full));
        }
    }
    Ok(Some(ArrayMeta {
        path: own,
        name: v.name,
        dims: names,
        shape,
        dtype,
        layout,
        chunk_shape,
        codecs,
        fill_value,
        storage_fill,
        attrs: visible(v.attrs),
        data,
    }))
}
