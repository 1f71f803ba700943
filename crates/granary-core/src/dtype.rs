//! Element types of arrays and attributes, and their numpy/zarr v2 `dtype` spelling
//! (docs/kerchunk-reference.md section 1.7: single-byte types use `|`, byte order is kept).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    fn prefix(self, size: usize) -> char {
        match (size, self) {
            (1, _) => '|',
            (_, ByteOrder::Little) => '<',
            (_, ByteOrder::Big) => '>',
        }
    }
}

/// A member of a compound type.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Field {
    pub name: String,
    pub offset: usize,
    pub dtype: DType,
}

/// An element type.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub enum DType {
    Int {
        size: usize,
        signed: bool,
        order: ByteOrder,
    },
    Float {
        size: usize,
        order: ByteOrder,
    },
    Bool,
    /// Fixed-length byte string of `size` bytes (HDF5 fixed strings, netCDF `char`).
    FixedString {
        size: usize,
        utf8: bool,
    },
    /// Variable-length string (stored as heap IDs in HDF5).
    VlenString {
        utf8: bool,
    },
    /// Variable-length sequence of another type.
    Vlen(Box<DType>),
    Compound {
        size: usize,
        fields: Vec<Field>,
    },
    Enum {
        base: Box<DType>,
        members: Vec<(String, i64)>,
    },
    Array {
        base: Box<DType>,
        dims: Vec<u64>,
    },
    /// Object (8 bytes) or region reference.
    Reference {
        size: usize,
        region: bool,
    },
    Opaque {
        size: usize,
        tag: String,
    },
    Bitfield {
        size: usize,
        order: ByteOrder,
    },
}

impl DType {
    /// Size of one element in bytes as stored (vlen types: the 16-byte heap ID).
    pub fn size(&self) -> usize {
        match self {
            DType::Int { size, .. }
            | DType::Float { size, .. }
            | DType::FixedString { size, .. }
            | DType::Compound { size, .. }
            | DType::Reference { size, .. }
            | DType::Opaque { size, .. }
            | DType::Bitfield { size, .. } => *size,
            DType::Bool => 1,
            DType::VlenString { .. } | DType::Vlen(_) => 16,
            DType::Enum { base, .. } => base.size(),
            DType::Array { base, dims } => dims
                .iter()
                .fold(base.size(), |a, d| a.saturating_mul(*d as usize)),
        }
    }

    /// The numpy typestr (`<f4`, `|u1`, `|S5`, `|O`), or `None` for types zarr v2 cannot express
    /// as one typestr (compound types use [`DType::zarr_dtype`]).
    pub fn typestr(&self) -> Option<String> {
        Some(match self {
            DType::Int {
                size,
                signed,
                order,
            } => {
                format!(
                    "{}{}{}",
                    order.prefix(*size),
                    if *signed { 'i' } else { 'u' },
                    size
                )
            }
            DType::Float { size, order } => format!("{}f{}", order.prefix(*size), size),
            DType::Bool => "|b1".into(),
            DType::FixedString { size, .. } => format!("|S{size}"),
            DType::VlenString { .. } => "|O".into(),
            DType::Enum { base, .. } => return base.typestr(),
            DType::Opaque { size, .. } => format!("|V{size}"),
            DType::Bitfield { size, order } => format!("{}u{}", order.prefix(*size), size),
            DType::Compound { .. } => return self.complex_typestr(),
            DType::Vlen(_) | DType::Array { .. } | DType::Reference { .. } => return None,
        })
    }

    /// `Some(typestr)` for a compound of two equal floats named `r` and `i` (h5py's complex).
    pub fn complex_typestr(&self) -> Option<String> {
        let DType::Compound { size, fields } = self else {
            return None;
        };
        match fields.as_slice() {
            [r, i]
                if r.name == "r"
                    && i.name == "i"
                    && r.offset == 0
                    && r.dtype == i.dtype
                    && i.offset * 2 == *size =>
            {
                match &r.dtype {
                    DType::Float { size: s, order } if *s == 4 || *s == 8 => {
                        Some(format!("{}c{}", order.prefix(2), s * 2))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The zarr v2 `.zarray` `dtype` value: a typestr, or a list of `[name, typestr]` pairs for
    /// compound types with a C-contiguous layout. `None` if zarr v2 cannot express it.
    pub fn zarr_dtype(&self) -> Option<serde_json::Value> {
        if let Some(c) = self.complex_typestr() {
            return Some(serde_json::Value::String(c));
        }
        if let DType::Compound { size, fields } = self {
            let mut out = Vec::new();
            let mut expected = 0usize;
            for f in fields {
                if f.offset != expected {
                    return None; // padding between members has no zarr v2 spelling here
                }
                // zarr-python 3 reads flat structured dtypes only: members that are arrays,
                // variable-length or nested compounds have no zarr v2 spelling it accepts.
                let member = match &f.dtype {
                    DType::Array { .. }
                    | DType::VlenString { .. }
                    | DType::Vlen(_)
                    | DType::Compound { .. }
                    | DType::Reference { .. } => return None,
                    other => serde_json::json!([f.name, other.typestr()?]),
                };
                out.push(member);
                expected += f.dtype.size();
            }
            if expected != *size {
                return None;
            }
            return Some(serde_json::Value::Array(out));
        }
        self.typestr().map(serde_json::Value::String)
    }

    /// A short human-readable name (`int32`, `uint8`, `float64`, `string`, `S5`, ...).
    pub fn name(&self) -> String {
        match self {
            DType::Int { size, signed, .. } => {
                format!("{}int{}", if *signed { "" } else { "u" }, size * 8)
            }
            DType::Float { size, .. } => format!("float{}", size * 8),
            DType::Bool => "bool".into(),
            DType::FixedString { size, .. } => format!("S{size}"),
            DType::VlenString { .. } => "string".into(),
            DType::Vlen(b) => format!("vlen<{}>", b.name()),
            DType::Compound { fields, .. } => format!(
                "compound{{{}}}",
                fields
                    .iter()
                    .map(|f| format!("{}:{}", f.name, f.dtype.name()))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            DType::Enum { base, .. } => format!("enum<{}>", base.name()),
            DType::Array { base, dims } => format!("{}{:?}", base.name(), dims),
            DType::Reference { region, .. } => {
                if *region {
                    "region_ref".into()
                } else {
                    "object_ref".into()
                }
            }
            DType::Opaque { size, .. } => format!("opaque{size}"),
            DType::Bitfield { size, .. } => format!("bitfield{}", size * 8),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_byte_types_use_pipe() {
        let u1 = DType::Int {
            size: 1,
            signed: false,
            order: ByteOrder::Little,
        };
        assert_eq!(u1.typestr().as_deref(), Some("|u1"));
        let i1 = DType::Int {
            size: 1,
            signed: true,
            order: ByteOrder::Big,
        };
        assert_eq!(i1.typestr().as_deref(), Some("|i1"));
    }

    #[test]
    fn big_endian_is_kept() {
        let f = DType::Float {
            size: 4,
            order: ByteOrder::Big,
        };
        assert_eq!(f.typestr().as_deref(), Some(">f4"));
    }

    #[test]
    fn compound_packed() {
        let c = DType::Compound {
            size: 12,
            fields: vec![
                Field {
                    name: "x".into(),
                    offset: 0,
                    dtype: DType::Int {
                        size: 4,
                        signed: true,
                        order: ByteOrder::Little,
                    },
                },
                Field {
                    name: "y".into(),
                    offset: 4,
                    dtype: DType::Float {
                        size: 8,
                        order: ByteOrder::Little,
                    },
                },
            ],
        };
        assert_eq!(
            c.zarr_dtype(),
            Some(serde_json::json!([["x", "<i4"], ["y", "<f8"]]))
        );
    }
}
