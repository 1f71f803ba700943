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

const CONSOLIDATED_OPEN: &str = "{\"zarr_consolidated_format\":1,\"metadata\":{";
const CONSOLIDATED_CLOSE: &str = "}}";

/// A piece of a consolidated `.zmetadata` text: JSON syntax (braces, keys, separators) or the
/// metadata text of the `i`-th entry.
enum Piece<'a> {
    Syntax(&'a str),
    Text(usize, &'a str),
}

impl<'a> Piece<'a> {
    fn text(&self) -> &'a str {
        match self {
            Piece::Syntax(s) | Piece::Text(_, s) => s,
        }
    }
}

/// Walks the consolidation of `entries` (key, metadata text) piece by piece, in order, while
/// `f` accepts them; returns whether every piece was accepted. The one place the layout of
/// `.zmetadata` is written down.
fn consolidation_pieces<'a>(
    entries: impl Iterator<Item = (&'a str, &'a str)>,
    mut f: impl FnMut(Piece<'_>) -> bool,
) -> bool {
    let mut syntax = String::new();
    if !f(Piece::Syntax(CONSOLIDATED_OPEN)) {
        return false;
    }
    for (i, (k, text)) in entries.enumerate() {
        syntax.clear();
        if i > 0 {
            syntax.push(',');
        }
        jsontext::string(&mut syntax, k);
        syntax.push(':');
        if !f(Piece::Syntax(&syntax)) || !f(Piece::Text(i, text)) {
            return false;
        }
    }
    f(Piece::Syntax(CONSOLIDATED_CLOSE))
}

/// The consolidated `.zmetadata` JSON text of `entries` (key, metadata text), in their order.
pub(crate) fn consolidation_text<'a>(entries: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    consolidation_pieces(entries, |p| {
        out.push_str(p.text());
        true
    });
    out
}

/// The zarr v2 metadata keys a consolidation gathers.
fn is_metadata_key(k: &str) -> bool {
    k.ends_with(".zgroup") || k.ends_with(".zattrs") || k.ends_with(".zarray")
}

/// `key` inside the group or array at `path` (the root: `key` alone).
pub(crate) fn prefixed(path: &str, key: &str) -> String {
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
    /// The keys `.zmetadata` consolidates (every `.zgroup`, `.zattrs` and `.zarray` holding
    /// JSON text), with their texts, in key order.
    fn metadata_entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.keys.iter().filter_map(|(k, v)| match v {
            ChunkValue::Meta(text) if is_metadata_key(k) => Some((k.as_str(), text.as_str())),
            _ => None,
        })
    }

    /// (Re)builds `.zmetadata` from every `.zgroup`, `.zattrs` and `.zarray` key.
    pub fn consolidate(&mut self) {
        self.keys.remove(".zmetadata");
        let text = consolidation_text(self.metadata_entries());
        self.keys
            .insert(".zmetadata".into(), ChunkValue::Meta(text));
    }

    /// Whether `text` is what [`RefSet::consolidate`] makes of the current keys (compared piece
    /// by piece, without building it).
    fn is_consolidation_of_keys(&self, text: &str) -> bool {
        let mut rest = text;
        consolidation_pieces(self.metadata_entries(), |p| {
            match rest.strip_prefix(p.text()) {
                Some(r) => {
                    rest = r;
                    true
                }
                None => false,
            }
        }) && rest.is_empty()
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

    /// Writes kerchunk JSON v1, one key per line. Each metadata text is escaped once and used
    /// twice: as its key's value and inside `.zmetadata` (the escape of a concatenation is the
    /// concatenation of the escapes), when `.zmetadata` is the consolidation of the keys.
    pub fn write_json<W: Write>(&self, mut w: W) -> Result<(), RefsError> {
        let io = |e: std::io::Error| RefsError::Write {
            path: "references".into(),
            source: e,
        };
        let escaped: Vec<String> = self
            .metadata_entries()
            .map(|(_, text)| {
                let mut e = String::new();
                jsontext::escaped(&mut e, text);
                e
            })
            .collect();
        w.write_all(b"{\"version\":1,\"refs\":{\n").map_err(io)?;
        let mut line = String::new();
        let mut next_meta = escaped.iter();
        for (i, (k, v)) in self.keys.iter().enumerate() {
            line.clear();
            if i > 0 {
                line.push_str(",\n");
            }
            jsontext::string(&mut line, k);
            line.push(':');
            match v {
                ChunkValue::Meta(_) if is_metadata_key(k) => {
                    line.push('"');
                    line.push_str(next_meta.next().map_or("", String::as_str));
                    line.push('"');
                }
                ChunkValue::Meta(text)
                    if k == ".zmetadata" && self.is_consolidation_of_keys(text) =>
                {
                    self.escaped_consolidation(&mut line, &escaped);
                }
                _ => value(&mut line, v),
            }
            w.write_all(line.as_bytes()).map_err(io)?;
        }
        w.write_all(b"\n}}\n").map_err(io)?;
        Ok(())
    }

    /// The JSON string literal of the consolidation, from the metadata texts already escaped.
    fn escaped_consolidation(&self, out: &mut String, escaped: &[String]) {
        out.push('"');
        consolidation_pieces(self.metadata_entries(), |p| {
            match p {
                Piece::Syntax(s) => jsontext::escaped(out, s),
                Piece::Text(i, _) => out.push_str(escaped.get(i).map_or("", String::as_str)),
            }
            true
        });
        out.push('"');
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

    fn meta(text: &str) -> ChunkValue {
        ChunkValue::Meta(text.to_string())
    }

    fn written(set: &RefSet) -> serde_json::Value {
        let text = set.to_json_string().unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn metadata_escaped_once_reads_back_as_the_texts() {
        let mut set = RefSet::default();
        set.keys
            .insert(".zgroup".into(), meta("{\"zarr_format\":2}"));
        set.keys.insert(
            ".zattrs".into(),
            meta("{\"title\":\"a \\\"quoted\\\" \\\\ é ✓ \\u0001\"}"),
        );
        set.keys
            .insert("v\"1/.zattrs".into(), meta("{\"units\":\"m\\n\"}"));
        set.keys
            .insert("v\"1/.zarray".into(), meta("{\"shape\":[2]}"));
        set.keys.insert(
            "v\"1/0".into(),
            ChunkValue::Range {
                url: "file:///g.nc".into(),
                offset: 1,
                length: 2,
            },
        );
        set.keys
            .insert("w/.zattrs".into(), ChunkValue::Bytes(b"{}".to_vec()));
        set.consolidate();
        let json = written(&set);
        let refs = &json["refs"];
        for (k, v) in &set.keys {
            if let ChunkValue::Meta(text) = v {
                assert_eq!(refs[k].as_str(), Some(text.as_str()), "{k}");
            }
        }
        let zmeta: serde_json::Value =
            serde_json::from_str(refs[".zmetadata"].as_str().unwrap()).unwrap();
        assert_eq!(zmeta["metadata"]["v\"1/.zattrs"]["units"], "m\n");
        assert!(zmeta["metadata"].get("w/.zattrs").is_none());
    }

    #[test]
    fn a_zmetadata_that_is_not_the_consolidation_is_written_as_it_is() {
        let mut set = RefSet::default();
        set.keys
            .insert(".zgroup".into(), meta("{\"zarr_format\":2}"));
        set.consolidate();
        set.keys
            .insert("a/.zgroup".into(), meta("{\"zarr_format\":2}"));
        let json = written(&set);
        assert_eq!(
            json["refs"][".zmetadata"],
            "{\"zarr_consolidated_format\":1,\"metadata\":{\".zgroup\":{\"zarr_format\":2}}}"
        );
        set.consolidate();
        let json = written(&set);
        let zmeta: serde_json::Value =
            serde_json::from_str(json["refs"][".zmetadata"].as_str().unwrap()).unwrap();
        assert_eq!(zmeta["metadata"]["a/.zgroup"]["zarr_format"], 2);
    }
}
