//! Serde for [`AttrValue`]: untagged where a person reads it, tagged where a program does.
//!
//! Human-readable formats (JSON: `granary inspect`) get the value as it reads naturally
//! (`3`, `"m"`, `[1.5, 2.5]`), which cannot tell `Int` from `UInt` nor bytes from an integer
//! array. Binary formats (the manifests executors send back in a cluster run) get every value
//! tagged with its variant, and only that form deserializes, so a manifest read back equals
//! the one written.

use serde::ser::{SerializeSeq, SerializeTuple};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::AttrValue;

/// The tagged form, owned, for reading back.
#[derive(Deserialize)]
enum Tagged {
    Empty,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Array(Vec<AttrValue>),
    Compound(Vec<(String, AttrValue)>),
}

impl From<Tagged> for AttrValue {
    fn from(t: Tagged) -> Self {
        match t {
            Tagged::Empty => AttrValue::Empty,
            Tagged::Bool(v) => AttrValue::Bool(v),
            Tagged::Int(v) => AttrValue::Int(v),
            Tagged::UInt(v) => AttrValue::UInt(v),
            Tagged::Float(v) => AttrValue::Float(v),
            Tagged::Str(v) => AttrValue::Str(v),
            Tagged::Bytes(v) => AttrValue::Bytes(v),
            Tagged::Array(v) => AttrValue::Array(v),
            Tagged::Compound(v) => AttrValue::Compound(v),
        }
    }
}

/// A compound's fields as the untagged form writes them: `[[name, value], ...]`.
struct Pairs<'a>(&'a [(String, AttrValue)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (name, value) in self.0 {
            seq.serialize_element(&(name, value))?;
        }
        seq.end()
    }
}

fn untagged<S: Serializer>(v: &AttrValue, s: S) -> Result<S::Ok, S::Error> {
    match v {
        AttrValue::Empty => s.serialize_unit(),
        AttrValue::Bool(b) => s.serialize_bool(*b),
        AttrValue::Int(i) => s.serialize_i64(*i),
        AttrValue::UInt(u) => s.serialize_u64(*u),
        AttrValue::Float(f) => s.serialize_f64(*f),
        AttrValue::Str(t) => s.serialize_str(t),
        AttrValue::Bytes(b) => {
            let mut t = s.serialize_tuple(b.len())?;
            for byte in b {
                t.serialize_element(byte)?;
            }
            t.end()
        }
        AttrValue::Array(items) => items.serialize(s),
        AttrValue::Compound(fields) => Pairs(fields).serialize(s),
    }
}

fn tagged<S: Serializer>(v: &AttrValue, s: S) -> Result<S::Ok, S::Error> {
    const NAME: &str = "AttrValue";
    match v {
        AttrValue::Empty => s.serialize_unit_variant(NAME, 0, "Empty"),
        AttrValue::Bool(b) => s.serialize_newtype_variant(NAME, 1, "Bool", b),
        AttrValue::Int(i) => s.serialize_newtype_variant(NAME, 2, "Int", i),
        AttrValue::UInt(u) => s.serialize_newtype_variant(NAME, 3, "UInt", u),
        AttrValue::Float(f) => s.serialize_newtype_variant(NAME, 4, "Float", f),
        AttrValue::Str(t) => s.serialize_newtype_variant(NAME, 5, "Str", t),
        AttrValue::Bytes(b) => s.serialize_newtype_variant(NAME, 6, "Bytes", b),
        AttrValue::Array(items) => s.serialize_newtype_variant(NAME, 7, "Array", items),
        AttrValue::Compound(fields) => s.serialize_newtype_variant(NAME, 8, "Compound", fields),
    }
}

impl Serialize for AttrValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            untagged(self, s)
        } else {
            tagged(self, s)
        }
    }
}

impl<'de> Deserialize<'de> for AttrValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Tagged::deserialize(d).map(AttrValue::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_stays_untagged() {
        let v = AttrValue::Compound(vec![
            ("a".into(), AttrValue::Int(-1)),
            ("b".into(), AttrValue::Bytes(vec![1, 2])),
            ("c".into(), AttrValue::Empty),
            ("d".into(), AttrValue::Array(vec![AttrValue::Float(1.5)])),
        ]);
        let text = serde_json::to_string(&v).unwrap();
        assert_eq!(text, r#"[["a",-1],["b",[1,2]],["c",null],["d",[1.5]]]"#);
    }
}
