//! Zarr v3 metadata (`zarr.json`, Zarr v3 core spec sections "Array metadata" and "Group
//! metadata") of a combined reference set, derived from the zarr v2 fields granary-refs maps
//! every array to (`docs/formats.md`, "Zarr v3 / Icechunk"):
//!
//! - `dtype` → `data_type` plus the `bytes` codec's `endian`; `|O` strings → `string` with the
//!   `vlen-utf8` codec; `|S<n>` → `null_terminated_bytes` and `<U<n>` → `fixed_length_utf32`
//!   (zarr-python 3.1's extensions).
//! - each numcodecs filter `{"id": X, ...}` → `{"name": "numcodecs.X", "configuration": {...}}`
//!   after the `bytes` codec (zarr-python ≥ 3.1.3 decodes these names); filters with no such
//!   codec (imagecodecs' lzf, lz4-h5, szip) make the array unrepresentable in v3.
//! - `fill_value`: v3 requires one. A v2 `null` becomes the data type's zero; the CF
//!   `_FillValue` becomes an attribute, encoded the way xarray reads it from v3 stores (floats as
//!   base64 of a little-endian float64), since xarray masks v3 arrays with the attribute only.
//! - `_ARRAY_DIMENSIONS` → `dimension_names`.

use base64::Engine;
use granary_refs::ZarrArray;
use serde_json::{Map, Value, json};

/// numcodecs ids zarr-python 3 decodes as `numcodecs.<id>` bytes-to-bytes codecs.
const V3_NUMCODECS: &[&str] = &[
    "shuffle",
    "zlib",
    "gzip",
    "zstd",
    "blosc",
    "bz2",
    "lzma",
    "lz4",
    "fletcher32",
    "crc32",
    "adler32",
];

/// The v3 description of one array.
#[derive(Debug, Clone, PartialEq)]
pub struct V3Array {
    /// The `zarr.json` document.
    pub json: Vec<u8>,
    pub shape: Vec<u64>,
    /// Chunk shape (every length ≥ 1).
    pub chunks: Vec<u64>,
    pub dims: Vec<String>,
}

/// A data type's v3 name, and whether its bytes codec needs an `endian`.
fn data_type(dtype: &Value) -> Result<(Value, Option<&'static str>), String> {
    let Value::String(s) = dtype else {
        return Err(
            "structured (compound) data types have no Zarr v3 data type granary writes".into(),
        );
    };
    if s == "|O" {
        return Ok((json!("string"), None));
    }
    let (order, kind) = s.split_at(1.min(s.len()));
    let endian = match order {
        "<" => Some("little"),
        ">" => Some("big"),
        _ => None,
    };
    let name = match kind {
        "b1" => "bool",
        "i1" => "int8",
        "u1" => "uint8",
        "i2" => "int16",
        "u2" => "uint16",
        "i4" => "int32",
        "u4" => "uint32",
        "i8" => "int64",
        "u8" => "uint64",
        "f2" => "float16",
        "f4" => "float32",
        "f8" => "float64",
        "c8" => "complex64",
        "c16" => "complex128",
        k if k.starts_with('U') => {
            let n: u64 = k[1..]
                .parse()
                .map_err(|_| format!("data type {s:?} has no Zarr v3 equivalent"))?;
            return Ok((
                json!({"name": "fixed_length_utf32", "configuration": {"length_bytes": 4 * n}}),
                endian,
            ));
        }
        k if k.starts_with('S') => {
            let n: u64 = k[1..]
                .parse()
                .map_err(|_| format!("data type {s:?} has no Zarr v3 equivalent"))?;
            return Ok((
                json!({"name": "null_terminated_bytes", "configuration": {"length_bytes": n}}),
                None,
            ));
        }
        _ => return Err(format!("data type {s:?} has no Zarr v3 equivalent")),
    };
    let endian = if kind.ends_with('1') { None } else { endian };
    Ok((json!(name), endian))
}

/// The v3 `fill_value` from the v2 one (`null` → the type's zero).
fn fill_value(v3_type: &Value, v2_fill: &Value) -> Value {
    let name = v3_type.as_str().unwrap_or("");
    match (name, v2_fill) {
        ("string", Value::String(s)) => json!(s),
        ("string", _) => json!(""),
        ("bool", Value::Bool(b)) => json!(b),
        ("bool", Value::Number(n)) => json!(n.as_f64().is_some_and(|f| f != 0.0)),
        ("bool", _) => json!(false),
        // Fixed-length types (an object name): bytes are base64 in both versions, UTF-32 text.
        ("", Value::String(s)) => json!(s),
        ("", _) => json!(""),
        (n, Value::Null) if n.starts_with("complex") => json!([0.0, 0.0]),
        (n, Value::Null) if n.starts_with("float") => json!(0.0),
        (_, Value::Null) => json!(0),
        (_, v) => v.clone(),
    }
}

/// `_FillValue` as xarray decodes it from a v3 array's attributes (`FillValueCoder`).
fn cf_fill_attribute(v3_type: &Value, v2_fill: &Value) -> Option<Value> {
    let name = v3_type.as_str()?;
    let as_f64 = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s == "NaN" => Some(f64::NAN),
        Value::String(s) if s == "Infinity" => Some(f64::INFINITY),
        Value::String(s) if s == "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    };
    let b64 = |f: f64| base64::engine::general_purpose::STANDARD.encode(f.to_le_bytes());
    match v2_fill {
        Value::Null => None,
        v if name.starts_with("float") => as_f64(v).map(|f| json!(b64(f))),
        v if name == "bool" => Some(json!(v.as_bool().unwrap_or(v.as_f64() != Some(0.0)))),
        v if name.starts_with("int") || name.starts_with("uint") => Some(v.clone()),
        _ => None,
    }
}

/// The codec list of an array: `bytes` (or `vlen-utf8`), then the v2 filters.
fn codecs(z: &ZarrArray, string: bool, endian: Option<&str>) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    if string {
        out.push(json!({"name": "vlen-utf8", "configuration": {}}));
        return Ok(out);
    }
    out.push(match endian {
        Some(e) => json!({"name": "bytes", "configuration": {"endian": e}}),
        None => json!({"name": "bytes", "configuration": {}}),
    });
    let filters: Value = serde_json::from_str(&z.filters)
        .map_err(|e| format!("filters {:?} are not JSON: {e}", z.filters))?;
    for f in filters.as_array().into_iter().flatten() {
        let mut config: Map<String, Value> = f.as_object().cloned().unwrap_or_default();
        let id = config
            .remove("id")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        if !V3_NUMCODECS.contains(&id.as_str()) {
            return Err(format!(
                "codec {id:?} has no Zarr v3 codec zarr-python decodes (numcodecs.<id> exists for {})",
                V3_NUMCODECS.join(", ")
            ));
        }
        out.push(json!({"name": format!("numcodecs.{id}"), "configuration": config}));
    }
    Ok(out)
}

/// Attributes as a JSON object from (name, JSON text) pairs.
fn attributes(attrs: &[(String, String)]) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for (name, text) in attrs {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| format!("attribute {name:?} is not JSON ({e}): {text:.80}"))?;
        out.insert(name.clone(), v);
    }
    Ok(out)
}

/// The v3 `zarr.json` of an array mapped to zarr v2 fields; `Err` says why it has none.
pub fn array_metadata(z: &ZarrArray) -> Result<V3Array, String> {
    let dtype: Value = serde_json::from_str(&z.dtype)
        .map_err(|e| format!("dtype {:?} is not JSON: {e}", z.dtype))?;
    let v2_fill: Value = serde_json::from_str(&z.fill_value)
        .map_err(|e| format!("fill value {:?} is not JSON: {e}", z.fill_value))?;
    let (v3_type, endian) = data_type(&dtype)?;
    let string = v3_type == json!("string");
    let mut attrs = attributes(&z.attrs)?;
    if !attrs.contains_key("_FillValue")
        && let Some(f) = cf_fill_attribute(&v3_type, &v2_fill)
    {
        attrs.insert("_FillValue".into(), f);
    }
    // A zero-length axis keeps chunk length ≥ 1 (Icechunk and v3 need a positive chunk shape).
    let chunks: Vec<u64> = z.chunks.iter().map(|c| (*c).max(1)).collect();
    let doc = json!({
        "zarr_format": 3,
        "node_type": "array",
        "shape": z.shape,
        "data_type": v3_type,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill_value(&v3_type, &v2_fill),
        "codecs": codecs(z, string, endian)?,
        "attributes": attrs,
        "dimension_names": z.dims,
        "storage_transformers": [],
    });
    Ok(V3Array {
        json: serde_json::to_vec(&doc).map_err(|e| e.to_string())?,
        shape: z.shape.clone(),
        chunks,
        dims: z.dims.clone(),
    })
}

/// The v3 `zarr.json` of a group.
pub fn group_metadata(attrs: &[(String, String)]) -> Result<Vec<u8>, String> {
    let doc = json!({
        "zarr_format": 3,
        "node_type": "group",
        "attributes": attributes(attrs)?,
    });
    serde_json::to_vec(&doc).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn array(dtype: &str, fill: &str, filters: &str) -> ZarrArray {
        ZarrArray {
            dims: vec!["y".into(), "x".into()],
            shape: vec![10, 4],
            chunks: vec![5, 4],
            dtype: dtype.into(),
            fill_value: fill.into(),
            filters: filters.into(),
            attrs: vec![("units".into(), "\"m\"".into())],
            embedded: None,
            trim: 0,
            unwritten: None,
        }
    }

    fn doc(z: &ZarrArray) -> Value {
        let m = array_metadata(z).unwrap_or_else(|e| unreachable!("{e}"));
        serde_json::from_slice(&m.json).unwrap_or_default()
    }

    #[test]
    fn float_with_shuffle_and_zlib() {
        let d = doc(&array(
            "\"<f4\"",
            "\"NaN\"",
            r#"[{"id":"shuffle","elementsize":4},{"id":"zlib","level":4}]"#,
        ));
        assert_eq!(d["data_type"], "float32");
        assert_eq!(d["fill_value"], "NaN");
        assert_eq!(
            d["codecs"],
            json!([
                {"name": "bytes", "configuration": {"endian": "little"}},
                {"name": "numcodecs.shuffle", "configuration": {"elementsize": 4}},
                {"name": "numcodecs.zlib", "configuration": {"level": 4}},
            ])
        );
        // xarray's FillValueCoder: base64 of the little-endian float64 NaN.
        assert_eq!(d["attributes"]["_FillValue"], "AAAAAAAA+H8=");
        assert_eq!(d["dimension_names"], json!(["y", "x"]));
        assert_eq!(d["attributes"]["units"], "m");
    }

    #[test]
    fn big_endian_int_without_fill() {
        let d = doc(&array("\">i2\"", "null", "null"));
        assert_eq!(d["data_type"], "int16");
        assert_eq!(d["codecs"][0]["configuration"]["endian"], "big");
        assert_eq!(d["fill_value"], 0);
        assert!(d["attributes"].get("_FillValue").is_none());
    }

    #[test]
    fn int_fill_stays_an_integer() {
        let d = doc(&array("\"<i4\"", "2147483647", "null"));
        assert_eq!(d["fill_value"], 2147483647);
        assert_eq!(d["attributes"]["_FillValue"], 2147483647);
    }

    #[test]
    fn strings_use_vlen_utf8() {
        let mut z = array("\"|O\"", "null", r#"[{"id":"vlen-utf8"}]"#);
        z.attrs.insert(0, ("_FillValue".into(), "\"\"".into()));
        let d = doc(&z);
        assert_eq!(d["data_type"], "string");
        assert_eq!(d["fill_value"], "");
        assert_eq!(
            d["codecs"],
            json!([{"name": "vlen-utf8", "configuration": {}}])
        );
        assert_eq!(d["attributes"]["_FillValue"], "");
    }

    #[test]
    fn fixed_bytes_and_one_byte_types() {
        let d = doc(&array("\"|S8\"", "null", "null"));
        assert_eq!(d["data_type"]["name"], "null_terminated_bytes");
        assert_eq!(d["data_type"]["configuration"]["length_bytes"], 8);
        let d = doc(&array("\"<U3\"", "null", "null"));
        assert_eq!(d["data_type"]["name"], "fixed_length_utf32");
        assert_eq!(d["data_type"]["configuration"]["length_bytes"], 12);
        assert_eq!(d["fill_value"], "");
        let d = doc(&array("\"|u1\"", "255", "null"));
        assert_eq!(d["data_type"], "uint8");
        assert_eq!(
            d["codecs"][0],
            json!({"name": "bytes", "configuration": {}})
        );
    }

    #[test]
    fn codecs_without_v3_equivalent_are_refused() {
        let err = array_metadata(&array(
            "\"<f4\"",
            "null",
            r#"[{"id":"imagecodecs_lzf","header":false}]"#,
        ))
        .err()
        .unwrap_or_default();
        assert!(err.contains("imagecodecs_lzf"), "{err}");
        let err = array_metadata(&array(r#"[["a","<i4"]]"#, "null", "null"))
            .err()
            .unwrap_or_default();
        assert!(err.contains("structured"), "{err}");
    }

    #[test]
    fn groups() {
        let g = group_metadata(&[("title".into(), "\"t\"".into())]).unwrap_or_default();
        let d: Value = serde_json::from_slice(&g).unwrap_or_default();
        assert_eq!(d["node_type"], "group");
        assert_eq!(d["attributes"]["title"], "t");
    }
}
