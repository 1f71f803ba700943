//! netCDF-4 semantics on top of the HDF5 objects (netCDF-C "HDF5 format" conventions,
//! docs/kerchunk-reference.md section 2.5): dimension names from dimension scales, dimension-only
//! scales kept as dimensions, `_nc4_non_coord_` removed, bookkeeping attributes hidden, phony
//! dimensions named per distinct length, and the fill value taken from `_FillValue`.

use std::collections::{BTreeMap, HashMap};

use granary_core::{
    ArrayData, ArrayMeta, AttrValue, Attribute, DType, Dimension, GranuleManifest, Group,
    PhonyDims, StorageLayout,
};

use crate::error::{PResult, malformed};
use crate::messages::{self, Layout};
use crate::walk::{Attr, Object};

const NON_COORD_PREFIX: &str = "_nc4_non_coord_";
const DIM_ONLY_NAME: &str = "This is a netCDF dimension but not a netCDF variable";

fn attr<'a>(attrs: &'a [Attr], name: &str) -> Option<&'a AttrValue> {
    attrs.iter().find(|a| a.name == name).map(|a| &a.value)
}

fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

fn is_scale(o: &Object) -> bool {
    attr(&o.attrs, "CLASS").and_then(AttrValue::as_str) == Some("DIMENSION_SCALE")
}

fn is_dim_only(o: &Object) -> bool {
    attr(&o.attrs, "NAME")
        .and_then(AttrValue::as_str)
        .is_some_and(|n| n.starts_with(DIM_ONLY_NAME))
}

/// Object addresses listed in one axis of a `DIMENSION_LIST` value.
fn refs_of(v: &AttrValue) -> Vec<u64> {
    match v {
        AttrValue::UInt(a) => vec![*a],
        AttrValue::Array(items) => items.iter().flat_map(refs_of).collect(),
        _ => Vec::new(),
    }
}

fn int_list(v: &AttrValue) -> Vec<i64> {
    match v {
        AttrValue::Array(items) => items.iter().filter_map(AttrValue::as_i64).collect(),
        other => other.as_i64().into_iter().collect(),
    }
}

/// Builds the manifest from the objects of one file.
pub(crate) fn assemble(
    url: &str,
    size: Option<u64>,
    mut objects: Vec<Object>,
) -> PResult<GranuleManifest> {
    // The first (shortest, breadth-first) path of each object names it in dimension lists.
    let mut path_of: HashMap<u64, String> = HashMap::new();
    for o in &objects {
        path_of.entry(o.addr).or_insert_with(|| o.path.clone());
    }
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for o in objects.iter_mut().filter(|o| o.dataset.is_none()) {
        let mut g = Group::new(o.path.clone());
        g.attrs = visible(std::mem::take(&mut o.attrs), &path_of);
        groups.insert(o.path.clone(), g);
    }
    // Dimensions from dimension scales, and netCDF dimension ids.
    let mut dimid: HashMap<i64, (String, u64)> = HashMap::new();
    let mut scale_len: HashMap<u64, u64> = HashMap::new();
    for o in objects.iter().filter(|o| is_scale(o)) {
        let Some(d) = &o.dataset else { continue };
        let (group, name) = split(&o.path);
        let name = name
            .strip_prefix(NON_COORD_PREFIX)
            .unwrap_or(name)
            .to_string();
        if let Some(id) = attr(&o.attrs, "_Netcdf4Dimid").and_then(AttrValue::as_i64) {
            dimid.insert(
                id,
                (name.clone(), d.space.shape().first().copied().unwrap_or(0)),
            );
        }
        scale_len.insert(o.addr, d.space.shape().first().copied().unwrap_or(0));
        if let Some(g) = groups.get_mut(group) {
            g.dims.push(Dimension {
                name,
                size: d.space.shape().first().copied().unwrap_or(0),
                unlimited: d.space.unlimited(0),
            });
        }
    }
    let mut phony = PhonyDims::default();
    for o in objects {
        if o.dataset.is_none() || is_dim_only(&o) {
            continue;
        }
        let scale = is_scale(&o);
        let Object {
            addr,
            path: object_path,
            attrs,
            dataset: Some(d),
        } = o
        else {
            continue;
        };
        let Some(shape) = d.space.dims.clone() else {
            tracing::warn!(
                url,
                object = object_path,
                "Skipping dataset with a null dataspace (it holds no data)."
            );
            continue;
        };
        let (group_path, raw_name) = split(&object_path);
        let name = raw_name
            .strip_prefix(NON_COORD_PREFIX)
            .unwrap_or(raw_name)
            .to_string();
        let path = if group_path.is_empty() {
            name.clone()
        } else {
            format!("{group_path}/{name}")
        };
        let mut dims: Vec<String> = Vec::with_capacity(shape.len());
        let dim_list = attr(&attrs, "DIMENSION_LIST").map(|v| match v {
            AttrValue::Array(axes) => axes.iter().map(refs_of).collect::<Vec<_>>(),
            other => vec![refs_of(other)],
        });
        let coords = attr(&attrs, "_Netcdf4Coordinates").map(int_list);
        let group = groups
            .get_mut(group_path)
            .ok_or_else(|| malformed(addr, format!("dataset {path:?} outside any group")))?;
        for (axis, len) in shape.iter().enumerate() {
            // A scale whose length differs from the axis would make the dimension inconsistent
            // (netCDF-C pads such variables to the dimension length; granary keeps the stored
            // extent and names the axis as a phony dimension instead).
            let from_list = dim_list
                .as_ref()
                .and_then(|l| l.get(axis))
                .and_then(|refs| refs.first())
                .filter(|a| scale_len.get(*a).is_some_and(|l| l == len))
                .and_then(|a| path_of.get(a))
                .map(|p| {
                    let n = split(p).1;
                    n.strip_prefix(NON_COORD_PREFIX).unwrap_or(n).to_string()
                });
            let from_self = (axis == 0 && scale).then(|| name.clone());
            let from_ids = coords
                .as_ref()
                .and_then(|c| c.get(axis))
                .and_then(|id| dimid.get(id))
                .filter(|(_, l)| l == len)
                .map(|(n, _)| n.clone());
            let n = match from_list.or(from_self).or(from_ids) {
                Some(n) => n,
                None => phony.name(group_path, *len, &dims, &mut group.dims),
            };
            dims.push(n);
        }
        let element_size = d.dtype.size();
        let (layout, chunk_shape, data) = match d.layout {
            Layout::Chunked { chunk, .. } => {
                (StorageLayout::Chunked, chunk, ArrayData::Chunks(d.chunks))
            }
            Layout::Contiguous { .. } => (
                StorageLayout::Contiguous,
                shape.clone(),
                ArrayData::Chunks(d.chunks),
            ),
            Layout::Compact { data } => (
                StorageLayout::Compact,
                shape.clone(),
                ArrayData::Inline(data),
            ),
            Layout::Virtual => return Err(malformed(addr, "virtual dataset reached assembly")),
        };
        let data = match d.strings {
            Some(s) => ArrayData::Strings(s),
            None if !d.data_read && !matches!(data, ArrayData::Inline(_)) => ArrayData::Unread,
            None => data,
        };
        let fill_value = attr(&attrs, "_FillValue").cloned().or(d.fill);
        let fill_value = match fill_value {
            Some(AttrValue::Array(mut v)) if v.len() == 1 => v.pop(),
            other => other,
        };
        // Unwritten chunks read as the HDF5 fill value, zeros when the dataset defines none.
        let storage_fill = match &d.dtype {
            DType::VlenString { .. } | DType::Vlen(_) => None,
            t => Some(d.fill_raw.unwrap_or_else(|| vec![0; t.size()])),
        };
        group.arrays.push(ArrayMeta {
            name,
            path,
            dims,
            shape,
            dtype: d.dtype,
            layout,
            chunk_shape,
            codecs: messages::codecs(&d.filters, element_size),
            fill_value,
            storage_fill,
            attrs: visible(attrs, &path_of),
            data,
        });
    }
    for g in groups.values_mut() {
        g.arrays.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let root = build_tree(&mut groups, "").ok_or_else(|| malformed(0, "root group missing"))?;
    Ok(GranuleManifest {
        url: url.to_string(),
        size,
        etag: None,
        root,
        skipped: Vec::new(),
    })
}

fn visible(attrs: Vec<Attr>, path_of: &HashMap<u64, String>) -> Vec<Attribute> {
    attrs
        .into_iter()
        .filter(|a| !granary_core::BOOKKEEPING_ATTRIBUTES.contains(&a.name.as_str()))
        .filter(|a| a.value.as_str() != Some("DIMENSION_SCALE"))
        .map(|a| {
            let value = match a.dtype {
                DType::Reference { region: false, .. } => object_paths(&a.value, path_of),
                _ => a.value,
            };
            Attribute::new(a.name, value)
        })
        .collect()
}

/// Object references (addresses) as the absolute path of the object they point at; a
/// reference to an object outside the tree becomes an empty string.
fn object_paths(v: &AttrValue, path_of: &HashMap<u64, String>) -> AttrValue {
    match v {
        AttrValue::UInt(addr) => {
            AttrValue::Str(path_of.get(addr).map_or(String::new(), |p| format!("/{p}")))
        }
        AttrValue::Array(items) => {
            AttrValue::Array(items.iter().map(|x| object_paths(x, path_of)).collect())
        }
        other => other.clone(),
    }
}

fn build_tree(groups: &mut BTreeMap<String, Group>, path: &str) -> Option<Group> {
    let mut g = groups.remove(path)?;
    let children: Vec<String> = groups
        .keys()
        .filter(|k| split(k).0 == path && !k.is_empty())
        .cloned()
        .collect();
    for c in children {
        if let Some(child) = build_tree(groups, &c) {
            g.groups.push(child);
        }
    }
    Some(g)
}
