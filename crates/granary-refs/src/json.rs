//! kerchunk JSON version 1 (docs/kerchunk-reference.md section 1): `{"version":1,"refs":{...}}` with
//! metadata as JSON text, a consolidated `.zmetadata`, absolute URLs, and inlined chunks as
//! plain strings only when every byte is ASCII, `base64:` otherwise.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use base64::Engine;
use granary_core::GranuleManifest;

use crate::RefsError;
use crate::jsontext;
use crate::zarr::{ChunkValue, map_array};

/// Writer settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsonOptions {
    /// Chunks whose referenced length is below this many bytes are inlined (0: never).
    pub inline_threshold: u64,
}

/// Bytes of referenced ranges, keyed by (url, offset, length), for inlining.
pub type InlineChunks = HashMap<(String, u64, u64), Vec<u8>>;

/// A complete reference set: key → value, sorted by key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefSet {
    pub keys: BTreeMap<String, ChunkValue>,
}

fn prefixed(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}/{key}")
    }
}

/// The reference set of one granule, with consolidated metadata.
pub fn single_granule_refs(m: &GranuleManifest) -> Result<RefSet, RefsError> {
    let mut keys = BTreeMap::new();
    for g in m.root.walk() {
        keys.insert(
            prefixed(&g.path, ".zgroup"),
            ChunkValue::Meta("{\"zarr_format\":2}".into()),
        );
        let mut attrs = String::from("{");
        for (i, a) in g.attrs.iter().enumerate() {
            if i > 0 {
                attrs.push(',');
            }
            jsontext::string(&mut attrs, &a.name);
            attrs.push(':');
            jsontext::attr_value(&mut attrs, &a.value);
        }
        attrs.push('}');
        keys.insert(prefixed(&g.path, ".zattrs"), ChunkValue::Meta(attrs));
        for a in &g.arrays {
            let r = map_array(&m.url, a)?;
            keys.insert(prefixed(&a.path, ".zarray"), ChunkValue::Meta(r.zarray));
            keys.insert(prefixed(&a.path, ".zattrs"), ChunkValue::Meta(r.zattrs));
            for (k, v) in r.chunks {
                keys.insert(prefixed(&a.path, &k), v);
            }
        }
    }
    let mut set = RefSet { keys };
    set.consolidate();
    Ok(set)
}

impl RefSet {
    /// (Re)builds `.zmetadata` from every `.zgroup`, `.zattrs` and `.zarray` key.
    pub fn consolidate(&mut self) {
        self.keys.remove(".zmetadata");
        let mut out = String::from("{\"zarr_consolidated_format\":1,\"metadata\":{");
        let mut first = true;
        for (k, v) in &self.keys {
            let is_meta =
                k.ends_with(".zgroup") || k.ends_with(".zattrs") || k.ends_with(".zarray");
            if let (true, ChunkValue::Meta(text)) = (is_meta, v) {
                if !first {
                    out.push(',');
                }
                first = false;
                jsontext::string(&mut out, k);
                out.push(':');
                out.push_str(text);
            }
        }
        out.push_str("}}");
        self.keys.insert(".zmetadata".into(), ChunkValue::Meta(out));
    }

    /// Ranges shorter than `threshold` bytes: candidates for inlining.
    pub fn inline_candidates(&self, threshold: u64) -> Vec<(String, u64, u64)> {
        self.keys
            .values()
            .filter_map(|v| match v {
                ChunkValue::Range {
                    url,
                    offset,
                    length,
                } if *length < threshold => Some((url.clone(), *offset, *length)),
                _ => None,
            })
            .collect()
    }

    /// Replaces ranges by their bytes where `bytes` has them.
    pub fn inline(&mut self, bytes: &InlineChunks) {
        for v in self.keys.values_mut() {
            if let ChunkValue::Range {
                url,
                offset,
                length,
            } = v
                && let Some(b) = bytes.get(&(url.clone(), *offset, *length))
            {
                *v = ChunkValue::Bytes(b.clone());
            }
        }
    }

    /// Writes kerchunk JSON v1, one key per line.
    pub fn write_json<W: Write>(&self, mut w: W) -> Result<(), RefsError> {
        let io = |e: std::io::Error| RefsError::Write {
            path: "references".into(),
            source: e,
        };
        w.write_all(b"{\"version\":1,\"refs\":{\n").map_err(io)?;
        let mut line = String::new();
        for (i, (k, v)) in self.keys.iter().enumerate() {
            line.clear();
            if i > 0 {
                line.push_str(",\n");
            }
            jsontext::string(&mut line, k);
            line.push(':');
            value(&mut line, v);
            w.write_all(line.as_bytes()).map_err(io)?;
        }
        w.write_all(b"\n}}\n").map_err(io)?;
        Ok(())
    }

    /// The JSON text as a string.
    pub fn to_json_string(&self) -> Result<String, RefsError> {
        let mut buf = Vec::new();
        self.write_json(&mut buf)?;
        String::from_utf8(buf).map_err(|e| RefsError::Write {
            path: "references".into(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })
    }
}

pub(crate) fn value(out: &mut String, v: &ChunkValue) {
    match v {
        ChunkValue::Meta(text) => jsontext::string(out, text),
        ChunkValue::Bytes(b) if b.is_ascii() => {
            // ASCII bytes are valid UTF-8; control bytes become \u00XX escapes.
            jsontext::string(out, &String::from_utf8_lossy(b));
        }
        ChunkValue::Bytes(b) => {
            out.push_str("\"base64:");
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push('"');
        }
        ChunkValue::Range {
            url,
            offset,
            length,
        } => {
            out.push('[');
            jsontext::string(out, url);
            out.push_str(&format!(",{offset},{length}]"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_values_are_ascii_or_base64() {
        let mut s = String::new();
        value(&mut s, &ChunkValue::Bytes(vec![b'1', b'.', b'5', b'0']));
        assert_eq!(s, "\"1.50\"");
        s.clear();
        value(&mut s, &ChunkValue::Bytes(vec![0x80, 0x01]));
        assert_eq!(s, "\"base64:gAE=\"");
        s.clear();
        value(&mut s, &ChunkValue::Bytes(vec![0, 1]));
        assert_eq!(s, "\"\\u0000\\u0001\"");
    }
}
