//! Datatype message (spec IV.A.2.d): every class netCDF-C and h5py write.

use granary_core::{ByteOrder, DType, Field};

use crate::cursor::Cur;
use crate::error::{PResult, malformed, unsupported};

const MAX_DEPTH: usize = 32;

/// Parses a datatype message body.
pub(crate) fn parse(c: &mut Cur<'_>) -> PResult<DType> {
    parse_depth(c, 0)
}

fn order(bits: u8) -> ByteOrder {
    if bits & 1 == 0 {
        ByteOrder::Little
    } else {
        ByteOrder::Big
    }
}

fn parse_depth(c: &mut Cur<'_>, depth: usize) -> PResult<DType> {
    if depth > MAX_DEPTH {
        return Err(malformed(c.here(), "datatype nesting too deep"));
    }
    let at = c.here();
    let cv = c.u8()?;
    let class = cv & 0x0f;
    let version = cv >> 4;
    let b0 = c.u8()?;
    let b1 = c.u8()?;
    let _b2 = c.u8()?;
    let size = c.u32()? as usize;
    let bits16 = usize::from(b0) | (usize::from(b1) << 8);
    Ok(match class {
        0 => {
            c.skip(4)?; // bit offset, precision
            DType::Int {
                size,
                signed: b0 & 0x08 != 0,
                order: order(b0),
            }
        }
        1 => {
            if b0 & 0x40 != 0 {
                return Err(unsupported("VAX-order floating point"));
            }
            c.skip(12)?;
            DType::Float {
                size,
                order: order(b0),
            }
        }
        2 => return Err(unsupported("HDF5 time datatype")),
        3 => DType::FixedString {
            size,
            utf8: (b0 >> 4) & 0x0f == 1,
        },
        4 => {
            c.skip(4)?;
            DType::Bitfield {
                size,
                order: order(b0),
            }
        }
        5 => {
            let tag_len = usize::from(b0);
            let tag = c.take(tag_len)?;
            let end = tag.iter().position(|b| *b == 0).unwrap_or(tag.len());
            DType::Opaque {
                size,
                tag: String::from_utf8_lossy(&tag[..end]).into_owned(),
            }
        }
        6 => {
            let mut fields = Vec::with_capacity(bits16.min(4096));
            for _ in 0..bits16 {
                let start = c.pos();
                let name = c.cstr()?;
                let offset;
                let dtype;
                match version {
                    1 | 2 => {
                        c.align8(start)?;
                        offset = c.u32()? as usize;
                        if version == 1 {
                            let ndims = c.u8()? as usize;
                            c.skip(3 + 4 + 4)?;
                            let mut dims = Vec::new();
                            for i in 0..4 {
                                let d = c.u32()?;
                                if i < ndims {
                                    dims.push(u64::from(d));
                                }
                            }
                            let base = parse_depth(c, depth + 1)?;
                            dtype = if ndims == 0 {
                                base
                            } else {
                                DType::Array {
                                    base: Box::new(base),
                                    dims,
                                }
                            };
                        } else {
                            dtype = parse_depth(c, depth + 1)?;
                        }
                    }
                    3..=5 => {
                        let n = crate::cursor::enc_size(size as u64);
                        offset = c.uint(n)? as usize;
                        dtype = parse_depth(c, depth + 1)?;
                    }
                    v => return Err(unsupported(format!("compound datatype version {v}"))),
                }
                fields.push(Field {
                    name,
                    offset,
                    dtype,
                });
            }
            DType::Compound { size, fields }
        }
        7 => DType::Reference {
            size,
            region: b0 & 0x0f == 1,
        },
        8 => {
            let base = parse_depth(c, depth + 1)?;
            let mut names = Vec::with_capacity(bits16.min(4096));
            for _ in 0..bits16 {
                let start = c.pos();
                names.push(c.cstr()?);
                if version < 3 {
                    c.align8(start)?;
                }
            }
            let bsize = base.size();
            let signed = matches!(base, DType::Int { signed: true, .. });
            let big = matches!(
                base,
                DType::Int {
                    order: ByteOrder::Big,
                    ..
                }
            );
            let mut members = Vec::with_capacity(names.len());
            for name in names {
                let raw = c.take(bsize)?;
                members.push((name, int_value(raw, signed, big)));
            }
            // h5py and netCDF store booleans as an enum FALSE=0, TRUE=1 over a 1-byte integer.
            let is_bool = bsize == 1
                && members.len() == 2
                && members.iter().any(|(n, v)| n == "FALSE" && *v == 0)
                && members.iter().any(|(n, v)| n == "TRUE" && *v == 1);
            if is_bool {
                DType::Bool
            } else {
                DType::Enum {
                    base: Box::new(base),
                    members,
                }
            }
        }
        9 => {
            let kind = b0 & 0x0f;
            let charset = b1 & 0x0f;
            let base = parse_depth(c, depth + 1)?;
            if kind == 1 {
                DType::VlenString { utf8: charset == 1 }
            } else {
                DType::Vlen(Box::new(base))
            }
        }
        10 => {
            let ndims = c.u8()? as usize;
            if version < 3 {
                c.skip(3)?;
            }
            let mut dims = Vec::with_capacity(ndims);
            for _ in 0..ndims {
                dims.push(u64::from(c.u32()?));
            }
            if version < 3 {
                c.skip(4 * ndims)?;
            }
            let base = parse_depth(c, depth + 1)?;
            DType::Array {
                base: Box::new(base),
                dims,
            }
        }
        other => return Err(malformed(at, format!("unknown datatype class {other}"))),
    })
}

/// Decodes a signed or unsigned integer of 1-8 bytes.
pub(crate) fn int_value(raw: &[u8], signed: bool, big: bool) -> i64 {
    let mut v: u64 = 0;
    let n = raw.len().min(8);
    for i in 0..n {
        let b = if big { raw[i] } else { raw[n - 1 - i] };
        v = (v << 8) | u64::from(b);
    }
    if signed && n > 0 && n < 8 && (v >> (8 * n - 1)) & 1 == 1 {
        (v | (u64::MAX << (8 * n))) as i64
    } else {
        v as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_extension() {
        assert_eq!(int_value(&[0xff, 0xff], true, false), -1);
        assert_eq!(int_value(&[0xff, 0xff], false, false), 65535);
        assert_eq!(int_value(&[0x80, 0x00], true, true), -32768);
    }

    #[test]
    fn parses_little_endian_f4() {
        // class 1, version 1; byte order LE; size 4; properties 12 bytes.
        let mut b = vec![0x11, 0x20, 0x1f, 0x00, 4, 0, 0, 0];
        b.extend_from_slice(&[0, 0, 32, 0, 23, 8, 0, 23, 127, 0, 0, 0]);
        let mut c = Cur::detached(&b, 0, 8, 8);
        assert_eq!(
            parse(&mut c).unwrap(),
            DType::Float {
                size: 4,
                order: ByteOrder::Little
            }
        );
    }
}
