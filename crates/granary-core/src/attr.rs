//! Typed attribute values, kept as close to the source types as JSON-able values allow.

use serde::{Deserialize, Serialize};

/// Attributes that are HDF5/netCDF-4 bookkeeping (dimension scales, netCDF ids and
/// provenance), never user metadata: no extractor passes them on (docs/kerchunk-reference.md 2.5).
pub const BOOKKEEPING_ATTRIBUTES: &[&str] = &[
    "REFERENCE_LIST",
    "CLASS",
    "DIMENSION_LIST",
    "NAME",
    "_Netcdf4Dimid",
    "_Netcdf4Coordinates",
    "_nc3_strict",
    "_NCProperties",
    "_SuperblockVersion",
    "_IsNetcdf4",
];

/// Whether an attribute is bookkeeping: a listed name, or the `DIMENSION_SCALE` marker value.
pub fn is_bookkeeping(a: &Attribute) -> bool {
    BOOKKEEPING_ATTRIBUTES.contains(&a.name.as_str()) || a.value.as_str() == Some("DIMENSION_SCALE")
}

/// One attribute of a group or an array.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Attribute {
    pub name: String,
    pub value: AttrValue,
}

impl Attribute {
    pub fn new(name: impl Into<String>, value: AttrValue) -> Self {
        Self {
            name: name.into(),
            value,
        }
    }
}

/// A typed attribute value. Arrays keep their element type; a one-element array and a scalar are
/// distinct here (the reference writers decide how to flatten them).
///
/// Serialized two ways (`attr_serde.rs`): untagged in human-readable formats (JSON, as
/// `granary inspect` prints it), tagged in binary formats, the only form read back, so that a
/// manifest crosses a process boundary unchanged (`Int` stays `Int`, bytes stay bytes).
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// An attribute with an empty (null) dataspace.
    Empty,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    /// Opaque or non-UTF-8 bytes (e.g. `S` strings that are not valid UTF-8).
    Bytes(Vec<u8>),
    Array(Vec<AttrValue>),
    /// Named fields of a compound value.
    Compound(Vec<(String, AttrValue)>),
}

impl AttrValue {
    /// The string if this is a string (or a one-element array of strings).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(s) => Some(s),
            AttrValue::Array(v) if v.len() == 1 => v[0].as_str(),
            _ => None,
        }
    }

    /// The value as an i64 if it is an integer scalar (or a one-element integer array).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AttrValue::Int(v) => Some(*v),
            AttrValue::UInt(v) => i64::try_from(*v).ok(),
            AttrValue::Array(v) if v.len() == 1 => v[0].as_i64(),
            _ => None,
        }
    }

    /// The value as an f64 if it is a numeric scalar (or a one-element numeric array).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AttrValue::Float(v) => Some(*v),
            AttrValue::Int(v) => Some(*v as f64),
            AttrValue::UInt(v) => Some(*v as f64),
            AttrValue::Array(v) if v.len() == 1 => v[0].as_f64(),
            _ => None,
        }
    }

    /// JSON as kerchunk writes attribute values: one-element arrays become scalars, NaN and
    /// infinities become the strings "NaN"/"Infinity"/"-Infinity" (callers wanting the bare
    /// tokens post-process), bytes are decoded lossily as UTF-8.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            AttrValue::Empty => Value::String(String::new()),
            AttrValue::Bool(b) => Value::Bool(*b),
            AttrValue::Int(v) => Value::from(*v),
            AttrValue::UInt(v) => Value::from(*v),
            AttrValue::Float(v) => float_json(*v),
            AttrValue::Str(s) => Value::String(s.clone()),
            AttrValue::Bytes(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
            AttrValue::Array(v) if v.len() == 1 => v[0].to_json(),
            AttrValue::Array(v) => Value::Array(v.iter().map(AttrValue::to_json).collect()),
            AttrValue::Compound(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// A short type name for the inventory (`int`, `uint`, `float`, `string`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            AttrValue::Empty => "empty",
            AttrValue::Bool(_) => "bool",
            AttrValue::Int(_) => "int",
            AttrValue::UInt(_) => "uint",
            AttrValue::Float(_) => "float",
            AttrValue::Str(_) => "string",
            AttrValue::Bytes(_) => "bytes",
            AttrValue::Array(v) => v.first().map_or("empty", AttrValue::kind),
            AttrValue::Compound(_) => "compound",
        }
    }
}

/// A float as JSON; non-finite values become the strings zarr uses for fill values.
pub fn float_json(v: f64) -> serde_json::Value {
    if v.is_nan() {
        serde_json::Value::String("NaN".into())
    } else if v == f64::INFINITY {
        serde_json::Value::String("Infinity".into())
    } else if v == f64::NEG_INFINITY {
        serde_json::Value::String("-Infinity".into())
    } else {
        serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_element_arrays_flatten() {
        let v = AttrValue::Array(vec![AttrValue::Int(3)]);
        assert_eq!(v.to_json(), serde_json::json!(3));
        assert_eq!(v.as_i64(), Some(3));
    }

    #[test]
    fn non_finite_floats_are_strings() {
        assert_eq!(
            AttrValue::Float(f64::NAN).to_json(),
            serde_json::json!("NaN")
        );
        assert_eq!(
            AttrValue::Float(f64::NEG_INFINITY).to_json(),
            serde_json::json!("-Infinity")
        );
    }

    #[test]
    fn big_unsigned_survive() {
        let v = AttrValue::UInt(9_223_372_036_854_775_813);
        assert_eq!(v.to_json().to_string(), "9223372036854775813");
    }
}
