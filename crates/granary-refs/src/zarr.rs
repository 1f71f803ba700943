//! Zarr v2 mapping of one array (docs/kerchunk-reference.md sections 1.6-1.8 and 2):
//! `.zarray` with numpy dtype, encoded fill value and filters in encode order; `.zattrs` with
//! `_ARRAY_DIMENSIONS` and without `_FillValue`; chunk keys `i.j.k` (scalars: `0`).

use std::fmt::Write;

use base64::Engine;
use granary_core::{ArrayData, ArrayMeta, AttrValue, Codec, DType};

use crate::RefsError;
use crate::jsontext;
use crate::node_path::{node_path_problem, node_path_reason};
use crate::unwritten;

/// The value stored under one reference key.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkValue {
    /// JSON text (metadata keys).
    Meta(String),
    /// Literal bytes (inlined chunks).
    Bytes(Vec<u8>),
    /// `[url, offset, length]`.
    Range {
        url: String,
        offset: u64,
        length: u64,
    },
}

/// The keys of one array, relative to the array path.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayRefs {
    pub zarray: String,
    pub zattrs: String,
    /// (chunk key such as `0.1`, value)
    pub chunks: Vec<(String, ChunkValue)>,
}

fn unrepresentable(url: &str, a: &ArrayMeta, reason: impl Into<String>) -> RefsError {
    RefsError::Unrepresentable {
        url: url.to_string(),
        array: a.path.clone(),
        reason: reason.into(),
    }
}

/// The `.zarray` fill value for `dtype` (JSON text).
pub fn fill_value_json(dtype: &DType, fill: Option<&AttrValue>) -> String {
    let Some(fill) = fill else {
        return "null".into();
    };
    let mut out = String::new();
    match dtype {
        DType::Enum { base, .. } => return fill_value_json(base, Some(fill)),
        DType::Int { .. } | DType::Bitfield { .. } => match fill {
            AttrValue::Int(i) => out.push_str(&i.to_string()),
            AttrValue::UInt(u) => out.push_str(&u.to_string()),
            AttrValue::Float(f) if f.fract() == 0.0 && f.is_finite() => {
                out.push_str(&(*f as i64).to_string())
            }
            AttrValue::Bool(b) => out.push_str(if *b { "1" } else { "0" }),
            _ => out.push_str("null"),
        },
        DType::Float { .. } => match fill.as_f64() {
            Some(f) if f.is_nan() => out.push_str("\"NaN\""),
            Some(f) if f.is_infinite() => out.push_str(if f > 0.0 {
                "\"Infinity\""
            } else {
                "\"-Infinity\""
            }),
            Some(f) => jsontext::float(&mut out, f),
            None => out.push_str("null"),
        },
        DType::Bool => out.push_str(if fill.as_i64().unwrap_or(0) != 0 {
            "true"
        } else {
            "false"
        }),
        DType::FixedString { size, .. } => {
            let bytes: Vec<u8> = match fill {
                AttrValue::Str(s) => s.as_bytes().to_vec(),
                AttrValue::Bytes(b) => b.clone(),
                _ => return "null".into(),
            };
            let mut b = bytes;
            b.truncate(*size);
            jsontext::string(
                &mut out,
                &base64::engine::general_purpose::STANDARD.encode(&b),
            );
        }
        _ => out.push_str("null"),
    }
    out
}

/// Codecs that apply to every chunk: filters skipped by the (common) filter mask removed.
fn effective_codecs(url: &str, a: &ArrayMeta) -> Result<Vec<Codec>, RefsError> {
    let chunks = a.chunks();
    let mask = chunks.first().map_or(0, |c| c.filter_mask);
    if chunks.iter().any(|c| c.filter_mask != mask) {
        return Err(unrepresentable(
            url,
            a,
            "chunks skip different filters (per-chunk filter masks differ); zarr v2 has one codec list per array",
        ));
    }
    Ok(a.codecs
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) == 0)
        .map(|(_, c)| c.clone())
        .collect())
}

/// The chunk key `i.j.k` of a grid position (scalars: `0`).
pub fn chunk_key(index: &[u64]) -> String {
    if index.is_empty() {
        return "0".into();
    }
    let mut key = String::with_capacity(4 * index.len());
    for (i, x) in index.iter().enumerate() {
        if i > 0 {
            key.push('.');
        }
        let _ = write!(key, "{x}");
    }
    key
}

/// numcodecs VLenUTF8 payload: u32 count, then u32 length + UTF-8 bytes per item.
fn vlen_utf8(items: &[Option<String>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + items.len() * 8);
    out.extend_from_slice(&(items.len() as u32).to_le_bytes());
    for s in items {
        let b = s.as_deref().unwrap_or("").as_bytes();
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(b);
    }
    out
}

/// The zarr v2 description of one array of one granule, field by field (JSON text where zarr
/// stores JSON), so that granules can be compared field by field when they are combined.
#[derive(Debug, Clone, PartialEq)]
pub struct ZarrArray {
    /// `_ARRAY_DIMENSIONS`.
    pub dims: Vec<String>,
    pub shape: Vec<u64>,
    /// Zarr chunk shape (the array shape when the data are embedded).
    pub chunks: Vec<u64>,
    /// `dtype` as JSON text (`"<f4"`, or a list for structured types).
    pub dtype: String,
    /// `fill_value` as JSON text.
    pub fill_value: String,
    /// `filters` as JSON text (`null` when none).
    pub filters: String,
    /// Attributes other than `_FillValue`/`_ARRAY_DIMENSIONS`: (name, JSON text).
    pub attrs: Vec<(String, String)>,
    /// The one chunk, when the data are embedded in the metadata (compact storage, strings).
    pub embedded: Option<Vec<u8>>,
    /// Bytes cut from the end of every referenced chunk (a trailing Fletcher32 checksum).
    pub trim: u64,
    /// The encoded chunk to write at every chunk position the granule did not write, when a
    /// missing key would not read as HDF5 does (`unwritten.rs`); `None`: missing keys read
    /// right.
    pub unwritten: Option<Vec<u8>>,
}

impl ZarrArray {
    /// The `.zarray` JSON text.
    pub fn zarray_json(&self) -> String {
        zarray_json(
            &self.shape,
            &self.chunks,
            &self.dtype,
            &self.fill_value,
            &self.filters,
        )
    }

    /// The `.zattrs` JSON text.
    pub fn zattrs_json(&self) -> String {
        attrs_json(Some(&self.dims), &self.attrs)
    }

    /// The chunk grid: chunks per axis (`[1]` for a scalar).
    pub fn grid(&self) -> Vec<u64> {
        chunk_grid(&self.shape, &self.chunks)
    }
}

/// Chunks per axis; a scalar has one chunk.
pub fn chunk_grid(shape: &[u64], chunks: &[u64]) -> Vec<u64> {
    if shape.is_empty() {
        return vec![1];
    }
    shape
        .iter()
        .zip(chunks)
        .map(|(s, c)| if *c == 0 { 0 } else { s.div_ceil(*c) })
        .collect()
}

/// `.zarray` JSON text from its fields.
pub fn zarray_json(
    shape: &[u64],
    chunks: &[u64],
    dtype: &str,
    fill_value: &str,
    filters: &str,
) -> String {
    let mut out = String::with_capacity(160 + dtype.len() + fill_value.len() + filters.len());
    let list = |out: &mut String, v: &[u64]| {
        out.push('[');
        for (i, x) in v.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{x}");
        }
        out.push(']');
    };
    out.push_str("{\"shape\":");
    list(&mut out, shape);
    out.push_str(",\"chunks\":");
    list(&mut out, chunks);
    let _ = write!(
        out,
        ",\"dtype\":{dtype},\"fill_value\":{fill_value},\"order\":\"C\",\"filters\":{filters},\"dimension_separator\":\".\",\"compressor\":null,\"zarr_format\":2}}"
    );
    out
}

/// `.zattrs` JSON text: `_ARRAY_DIMENSIONS` first (arrays), then the attributes in order.
pub fn attrs_json(dims: Option<&[String]>, attrs: &[(String, String)]) -> String {
    let mut out = String::from("{");
    if let Some(dims) = dims {
        out.push_str("\"_ARRAY_DIMENSIONS\":[");
        for (i, d) in dims.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            jsontext::string(&mut out, d);
        }
        out.push(']');
    }
    for (name, value) in attrs {
        if out.len() > 1 {
            out.push(',');
        }
        jsontext::string(&mut out, name);
        out.push(':');
        out.push_str(value);
    }
    out.push('}');
    out
}

/// Attributes as (name, JSON text), without the ones zarr keeps elsewhere.
pub fn attr_texts(attrs: &[granary_core::Attribute]) -> Vec<(String, String)> {
    attrs
        .iter()
        .filter(|at| at.name != "_FillValue" && at.name != "_ARRAY_DIMENSIONS")
        .map(|at| {
            let mut v = String::new();
            jsontext::attr_value(&mut v, &at.value);
            (at.name.clone(), v)
        })
        .collect()
}

/// The `.zarray` fields that decide whether an array can be referenced at all, encoded.
struct Encoding {
    dtype: String,
    filters: String,
    fill_value: String,
    /// Bytes to drop from the end of every stored chunk (a trailing Fletcher32 checksum).
    trim: u64,
    /// The inline chunk for unwritten positions (see [`unwritten_chunk`]).
    unwritten: Option<Vec<u8>>,
}

/// Whether `a` can be referenced: the checks of [`zarr_array`] without building its attribute
/// texts (the referenceability split runs it on every array before the references are made).
pub fn check_referenceable(url: &str, a: &ArrayMeta) -> Result<(), RefsError> {
    check_path(url, a)?;
    encoding(url, a).map(|_| ())
}

/// Refuses an array whose path cannot name a Zarr node (`node_path.rs`).
fn check_path(url: &str, a: &ArrayMeta) -> Result<(), RefsError> {
    match node_path_problem(&a.path, false) {
        None => Ok(()),
        Some(problem) => Err(unrepresentable(url, a, node_path_reason(&a.path, problem))),
    }
}

fn unread(url: &str, a: &ArrayMeta) -> RefsError {
    unrepresentable(
        url,
        a,
        "its chunk index was not read (metadata-only scan)".to_string(),
    )
}

/// The datatype, filter pipeline, fill value and unwritten-chunk encoding of `a`, or why a
/// zarr v2 reader could not decode it as stored.
fn encoding(url: &str, a: &ArrayMeta) -> Result<Encoding, RefsError> {
    let strings = matches!(a.data, ArrayData::Strings(_));
    let mut trim = 0u64;
    let mut unwritten = None;
    let (dtype, filters, fill_value) = if strings {
        (
            "\"|O\"".to_string(),
            "[{\"id\":\"vlen-utf8\"}]".to_string(),
            "null".to_string(),
        )
    } else {
        let dt = a.dtype.zarr_dtype().ok_or_else(|| {
            unrepresentable(
                url,
                a,
                format!("datatype {} has no zarr v2 equivalent", a.dtype.name()),
            )
        })?;
        let codecs = effective_codecs(url, a)?;
        let mut parts = Vec::new();
        let mut encode = Vec::new();
        for (i, c) in codecs.iter().enumerate() {
            // Fletcher32 last in the pipeline: its 4-byte checksum trails the stored chunk, so
            // the reference simply ends before it. Elsewhere numcodecs' HDF5-compatible
            // `fletcher32` codec verifies and strips it.
            if *c == Codec::Fletcher32 && i + 1 == codecs.len() {
                trim = 4;
                continue;
            }
            // numcodecs' shuffle refuses a buffer that is not whole elements: after an inner
            // Fletcher32 the chunk carries 4 checksum bytes more (HDF5 leaves such a tail
            // unshuffled).
            let checksums = codecs[..i]
                .iter()
                .filter(|x| **x == Codec::Fletcher32)
                .count();
            if matches!(c, Codec::Shuffle { element_size } if (4 * checksums) % element_size.max(&1) != 0)
            {
                return Err(unrepresentable(
                    url,
                    a,
                    "Fletcher32 before shuffle in the filter pipeline: numcodecs' shuffle cannot decode chunks that carry the 4 checksum bytes",
                ));
            }
            let j = c.numcodecs_json().ok_or_else(|| {
                unrepresentable(
                    url,
                    a,
                    {
                        let (name, reader) = c.registered();
                        format!(
                            "HDF5 filter {} ({name}) has no codec granary can reference yet (a reader would need: {reader}); leave the array out (--drop-arrays) or the granule",
                            c.hdf5_id()
                        )
                    },
                )
            })?;
            parts.push(j);
            encode.push(c.clone());
        }
        let filters = if parts.is_empty() {
            "null".into()
        } else {
            format!("[{}]", parts.join(","))
        };
        let fill_value = fill_value_json(&a.dtype, a.fill_value.as_ref());
        unwritten = unwritten_chunk(url, a, &fill_value, &encode)?;
        (dt.to_string(), filters, fill_value)
    };
    if matches!(a.data, ArrayData::Unread) {
        return Err(unread(url, a));
    }
    Ok(Encoding {
        dtype,
        filters,
        fill_value,
        trim,
        unwritten,
    })
}

/// The zarr v2 fields of one array of the granule at `url`.
pub fn zarr_array(url: &str, a: &ArrayMeta) -> Result<ZarrArray, RefsError> {
    check_path(url, a)?;
    let Encoding {
        dtype,
        filters,
        fill_value,
        trim,
        unwritten,
    } = encoding(url, a)?;
    // Embedded data (compact storage, variable-length strings) is one chunk spanning the array.
    let (chunks, embedded) = match &a.data {
        ArrayData::Chunks(_) => (a.chunk_shape.clone(), None),
        ArrayData::Inline(b) => (a.shape.clone(), Some(b.clone())),
        ArrayData::Strings(s) => (a.shape.clone(), Some(vlen_utf8(s))),
        ArrayData::Unread => return Err(unread(url, a)),
    };
    // A `_FillValue` that cannot be the zarr fill value (a string's, a compound's) stays an
    // attribute, for readers that mask with it; otherwise zarr's fill value carries it.
    let mut attrs = attr_texts(&a.attrs);
    if fill_value == "null"
        && let Some(f) = a.attrs.iter().find(|at| at.name == "_FillValue")
    {
        let mut v = String::new();
        jsontext::attr_value(&mut v, &f.value);
        attrs.insert(0, ("_FillValue".to_string(), v));
    }
    Ok(ZarrArray {
        dims: a.dims.clone(),
        shape: a.shape.clone(),
        chunks,
        dtype,
        fill_value,
        filters,
        attrs,
        embedded,
        trim,
        unwritten,
    })
}

/// The inline chunk for the positions `a` never wrote, when its storage fill is not what a
/// zarr reader would return for them.
fn unwritten_chunk(
    url: &str,
    a: &ArrayMeta,
    fill_value: &str,
    codecs: &[Codec],
) -> Result<Option<Vec<u8>>, RefsError> {
    let (ArrayData::Chunks(chunks), Some(storage)) = (&a.data, &a.storage_fill) else {
        return Ok(None);
    };
    // Checked: a hostile shape must not overflow (the limits below then refuse it).
    let positions = chunk_grid(&a.shape, &a.chunk_shape)
        .iter()
        .try_fold(1u64, |n, x| n.checked_mul(*x))
        .unwrap_or(u64::MAX);
    let missing = positions.saturating_sub(chunks.len() as u64);
    if missing == 0 || unwritten::fill_matches(&a.dtype, fill_value, storage) {
        return Ok(None);
    }
    let elements = a
        .chunk_shape
        .iter()
        .try_fold(1u64, |n, x| n.checked_mul(*x))
        .unwrap_or(u64::MAX);
    let chunk = unwritten::encode_fill_chunk(storage, elements, codecs)
        .map_err(|reason| unrepresentable(url, a, reason))?;
    let total = missing.saturating_mul(chunk.len() as u64);
    if total > unwritten::MAX_FILL_BYTES_PER_ARRAY {
        return Err(unrepresentable(
            url,
            a,
            format!(
                "its {missing} unwritten chunks read as the HDF5 fill value, which differs from `_FillValue`; writing them inline would take {total} bytes (limit {})",
                unwritten::MAX_FILL_BYTES_PER_ARRAY
            ),
        ));
    }
    Ok(Some(chunk))
}

/// `chunks` plus an inline `fill` chunk at every position of `grid` they lack, in key order of
/// the grid.
fn with_unwritten(
    chunks: Vec<(String, ChunkValue)>,
    grid: &[u64],
    fill: &[u8],
) -> Vec<(String, ChunkValue)> {
    let mut have: std::collections::HashMap<String, ChunkValue> = chunks.into_iter().collect();
    let total: u64 = grid.iter().product();
    let mut out = Vec::with_capacity(total as usize);
    let mut pos = vec![0u64; grid.len()];
    for _ in 0..total {
        let key = chunk_key(&pos);
        let value = have
            .remove(&key)
            .unwrap_or_else(|| ChunkValue::Bytes(fill.to_vec()));
        out.push((key, value));
        for d in (0..pos.len()).rev() {
            pos[d] += 1;
            if pos[d] < grid[d] {
                break;
            }
            pos[d] = 0;
        }
    }
    out
}

/// Maps one array of the granule at `url` to zarr v2 keys.
pub fn map_array(url: &str, a: &ArrayMeta) -> Result<ArrayRefs, RefsError> {
    let z = zarr_array(url, a)?;
    let chunks = match (&z.embedded, &a.data) {
        (Some(b), _) => vec![(
            chunk_key(&vec![0u64; a.shape.len()]),
            ChunkValue::Bytes(b.clone()),
        )],
        (None, ArrayData::Chunks(c)) => c
            .iter()
            .map(|c| {
                if c.size < z.trim {
                    return Err(unrepresentable(
                        url,
                        a,
                        format!("chunk at byte {} is shorter than its checksum", c.offset),
                    ));
                }
                let url = c.url.clone().unwrap_or_else(|| url.to_string());
                Ok((
                    chunk_key(&c.index),
                    ChunkValue::Range {
                        url,
                        offset: c.offset,
                        length: c.size - z.trim,
                    },
                ))
            })
            .collect::<Result<Vec<_>, _>>()?,
        (None, _) => Vec::new(),
    };
    let chunks = match &z.unwritten {
        Some(fill) => with_unwritten(chunks, &z.grid(), fill),
        None => chunks,
    };
    Ok(ArrayRefs {
        zarray: z.zarray_json(),
        zattrs: z.zattrs_json(),
        chunks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use granary_core::ByteOrder;

    #[test]
    fn fill_values_by_dtype() {
        let f4 = DType::Float {
            size: 4,
            order: ByteOrder::Little,
        };
        assert_eq!(
            fill_value_json(&f4, Some(&AttrValue::Float(f64::NAN))),
            "\"NaN\""
        );
        assert_eq!(
            fill_value_json(&f4, Some(&AttrValue::Float(-9999.0))),
            "-9999.0"
        );
        let i4 = DType::Int {
            size: 4,
            signed: true,
            order: ByteOrder::Little,
        };
        assert_eq!(
            fill_value_json(&i4, Some(&AttrValue::Int(2147483647))),
            "2147483647"
        );
        let s1 = DType::FixedString {
            size: 1,
            utf8: false,
        };
        assert_eq!(
            fill_value_json(&s1, Some(&AttrValue::Str("*".into()))),
            "\"Kg==\""
        );
        assert_eq!(fill_value_json(&i4, None), "null");
    }

    #[test]
    fn vlen_payload_layout() {
        let p = vlen_utf8(&[Some("ab".into()), None]);
        assert_eq!(p, vec![2, 0, 0, 0, 2, 0, 0, 0, b'a', b'b', 0, 0, 0, 0]);
    }

    #[test]
    fn a_huge_sparse_grid_is_refused_not_overflowed() {
        use granary_core::{ArrayMeta, ChunkRef, StorageLayout};
        let a = ArrayMeta {
            name: "x".into(),
            path: "x".into(),
            dims: vec!["a".into(), "b".into()],
            shape: vec![1 << 40, 1 << 40],
            dtype: DType::Int {
                size: 8,
                signed: true,
                order: ByteOrder::Little,
            },
            layout: StorageLayout::Chunked,
            chunk_shape: vec![1, 1],
            codecs: Vec::new(),
            fill_value: Some(AttrValue::Int(-1)),
            storage_fill: Some(vec![0; 8]),
            attrs: Vec::new(),
            data: ArrayData::Chunks(vec![ChunkRef {
                index: vec![0, 0],
                offset: 0,
                size: 8,
                filter_mask: 0,
                url: None,
            }]),
        };
        let e = zarr_array("file:///g.h5", &a).unwrap_err();
        assert!(e.to_string().contains("unwritten"), "{e}");
    }

    #[test]
    fn scalar_key_is_zero() {
        assert_eq!(chunk_key(&[]), "0");
        assert_eq!(chunk_key(&[1, 2]), "1.2");
    }
}
