//! The coordinate variable of a concatenated existing dimension (docs/combine.md,
//! "Concatenating along an existing dimension"): a 1-D array named like the dimension (`time`).
//! Its values differ per granule; a caller reads them ([`Combiner::existing_coordinate`]),
//! decodes the chunks ([`decode_chunk`]) and hands them back
//! ([`Combiner::set_existing_coordinate`]), which checks that they increase within each granule
//! and that granules do not overlap, in concatenation order. The combined set then holds the
//! coordinate inline, as one uncompressed chunk, so readers get it without opening every
//! granule.

use super::CombineError;
use granary_core::chunk_bytes;

use super::accumulate::Combiner;
use super::finish::SourceChunk;

/// What a caller needs to read the coordinate: its path, dtype (zarr JSON text), filters
/// (zarr JSON text) and, per granule in concatenation order, its length and chunks.
#[derive(Debug, Clone)]
pub struct CoordinateChunks {
    pub path: String,
    pub dtype: String,
    pub filters: String,
    pub lengths: Vec<u64>,
    pub chunks: Vec<Vec<SourceChunk>>,
}

/// A coordinate value, ordered as numbers.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum Value {
    Int(i128),
    Float(f64),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
        }
    }
}

/// Whether `a` comes strictly before `b` (NaN never does).
fn before(a: &Value, b: &Value) -> bool {
    a.partial_cmp(b) == Some(std::cmp::Ordering::Less)
}

/// The values of raw `bytes` of numpy dtype `dtype` (`"<f8"`, `">i4"`, ...).
fn values(dtype: &str, bytes: &[u8]) -> Result<Vec<Value>, String> {
    let t = dtype.trim_matches('"');
    let (order, kind, size) = match t.as_bytes() {
        [o @ (b'<' | b'>' | b'|'), k, rest @ ..] => (
            *o,
            *k,
            std::str::from_utf8(rest)
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .unwrap_or(0),
        ),
        _ => return Err(format!("dtype {t} is not a number type")),
    };
    if !matches!((kind, size), (b'i' | b'u', 1 | 2 | 4 | 8) | (b'f', 4 | 8)) {
        return Err(format!("dtype {t} is not a number type"));
    }
    Ok(bytes
        .chunks_exact(size)
        .map(|b| {
            let mut w = [0u8; 8];
            if order == b'>' {
                for (i, x) in b.iter().rev().enumerate() {
                    w[i] = *x;
                }
            } else {
                w[..size].copy_from_slice(b);
            }
            let u = u64::from_le_bytes(w);
            match (kind, size) {
                (b'f', 4) => Value::Float(f64::from(f32::from_bits(u as u32))),
                (b'f', _) => Value::Float(f64::from_bits(u)),
                (b'u', _) => Value::Int(i128::from(u)),
                _ => {
                    let shift = 64 - 8 * size as u32;
                    Value::Int(i128::from(((u << shift) as i64) >> shift))
                }
            }
        })
        .collect())
}

/// The most bytes one coordinate chunk may decode to (a hostile granule's chunk must not
/// inflate without bound).
const MAX_DECODED_BYTES: usize = 256 << 20;

/// Decodes one chunk through a zarr v2 `filters` list (JSON text) as a reader would, for the
/// codecs granary can decode itself (zlib, shuffle, fletcher32); `Err` names any other.
pub fn decode_chunk(filters: &str, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let list: Vec<serde_json::Value> = match serde_json::from_str(filters) {
        Ok(serde_json::Value::Array(v)) => v,
        Ok(serde_json::Value::Null) => Vec::new(),
        _ => return Err(format!("unreadable filters {filters}")),
    };
    let mut data = bytes.to_vec();
    for f in list.iter().rev() {
        let id = f["id"].as_str().unwrap_or("");
        data = match id {
            "zlib" => chunk_bytes::inflate(&data, MAX_DECODED_BYTES)?,
            "shuffle" => {
                chunk_bytes::unshuffle(&data, f["elementsize"].as_u64().unwrap_or(1) as usize)
            }
            "fletcher32" => {
                let keep = data.len().saturating_sub(4);
                data.truncate(keep);
                data
            }
            other => {
                return Err(format!(
                    "codec {other} (granary decodes zlib, shuffle and fletcher32 itself)"
                ));
            }
        };
    }
    Ok(data)
}

impl Combiner {
    /// The chunks of the existing dimension's coordinate variable, when there is one (a 1-D
    /// array named like the concatenated dimension).
    pub fn existing_coordinate(&self) -> Option<CoordinateChunks> {
        let d = self.existing?;
        let name = &self.spec.dims[d].name;
        let &i = self.array_of.get(name)?;
        let acc = &self.arrays[i];
        let r = &acc.reference;
        if r.dims.len() != 1 || r.dims[0] != *name || acc.embedded {
            return None;
        }
        let mut chunks: Vec<Vec<SourceChunk>> = vec![Vec::new(); self.seen.len()];
        for c in &acc.chunks {
            chunks[c.granule as usize].push((
                c.local,
                self.urls[c.url as usize].clone(),
                c.offset,
                c.length,
            ));
        }
        for c in &mut chunks {
            c.sort();
        }
        Some(CoordinateChunks {
            path: name.clone(),
            dtype: r.dtype.clone(),
            filters: r.filters.clone(),
            lengths: acc.lengths.clone(),
            chunks,
        })
    }

    /// The coordinate's decoded raw values per granule (concatenation order): checked to
    /// increase strictly, within and across granules, then written inline by `finish`.
    pub fn set_existing_coordinate(
        &mut self,
        path: &str,
        dtype: &str,
        per_granule: Vec<Vec<u8>>,
    ) -> Result<(), CombineError> {
        let refuse = |reason: String| CombineError::Coordinate {
            path: path.to_string(),
            reason,
        };
        let mut last: Option<(Value, usize)> = None;
        let mut all = Vec::new();
        for (g, bytes) in per_granule.iter().enumerate() {
            let vs = values(dtype, bytes).map_err(refuse)?;
            if let Some(w) = vs.windows(2).position(|w| !before(&w[0], &w[1])) {
                return Err(refuse(format!(
                    "its values do not increase within {} ({} then {} at index {w}); a concatenated coordinate must be strictly increasing",
                    self.urls[g],
                    vs[w],
                    vs[w + 1]
                )));
            }
            if let (Some((prev, pg)), Some(first)) = (last, vs.first())
                && !before(&prev, first)
            {
                return Err(refuse(format!(
                    "granules overlap or are out of order: {} ends at {prev} and the next one, {}, starts at {first}; select one of the overlapping granules, or order the selection by the coordinate",
                    self.urls[pg], self.urls[g]
                )));
            }
            if let Some(v) = vs.last() {
                last = Some((*v, g));
            }
            all.extend_from_slice(bytes);
        }
        self.existing_values = Some((path.to_string(), all));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_each_number_type() {
        assert_eq!(
            values("\"<f8\"", &1.5f64.to_le_bytes()).unwrap(),
            vec![Value::Float(1.5)]
        );
        assert_eq!(
            values("\">i4\"", &(-3i32).to_be_bytes()).unwrap(),
            vec![Value::Int(-3)]
        );
        assert!(values("\"|S4\"", b"abcd").is_err());
    }

    #[test]
    fn chunks_decode_through_shuffle_and_zlib() {
        use std::io::Write;
        let raw: Vec<u8> = (0..16u8).collect();
        let raw = &raw;
        let shuffled: Vec<u8> = (0..4)
            .flat_map(|j| (0..4).map(move |i| raw[i * 4 + j]))
            .collect();
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&shuffled).unwrap();
        let z = e.finish().unwrap();
        let filters = r#"[{"id":"shuffle","elementsize":4},{"id":"zlib","level":4}]"#;
        assert_eq!(
            decode_chunk(filters, &z).unwrap(),
            (0..16u8).collect::<Vec<_>>()
        );
        assert!(decode_chunk(r#"[{"id":"zstd"}]"#, b"x").is_err());
    }
}
