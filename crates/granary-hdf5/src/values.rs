//! Decoding of stored values (attributes, fill values) into typed [`AttrValue`]s, reading
//! variable-length data from the global heap when needed.

use granary_core::{AttrValue, ByteOrder, DType};

use crate::cursor::{Ctx, Cur};
use crate::datatype::int_value;
use crate::error::{Needs, PResult, malformed, unsupported};
use crate::global_heap;

/// Decodes `n` elements of `dtype` from `data`. `scalar` keeps a single value unwrapped.
pub(crate) fn decode(
    ctx: &Ctx<'_>,
    dtype: &DType,
    data: &[u8],
    n: usize,
    scalar: bool,
    at: u64,
) -> PResult<AttrValue> {
    let size = dtype.size();
    if size == 0 {
        return Err(malformed(at, "zero-sized datatype"));
    }
    if data.len() < n.saturating_mul(size) {
        return Err(malformed(at, "value shorter than its type and shape"));
    }
    if scalar && n == 1 {
        return one(ctx, dtype, &data[..size], at);
    }
    let mut needs = Needs::default();
    let mut vals = Vec::with_capacity(n.min(1 << 20));
    for i in 0..n {
        let raw = &data[i * size..(i + 1) * size];
        if let Some(v) = needs.take(one(ctx, dtype, raw, at))? {
            vals.push(v);
        }
    }
    needs.check()?;
    if scalar && vals.len() == 1 {
        return Ok(vals.swap_remove(0));
    }
    Ok(AttrValue::Array(vals))
}

fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits >> 15 == 1 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 if frac == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

/// Decodes one element.
pub(crate) fn one(ctx: &Ctx<'_>, dtype: &DType, raw: &[u8], at: u64) -> PResult<AttrValue> {
    Ok(match dtype {
        DType::Int { signed, order, .. } => {
            let big = *order == ByteOrder::Big;
            let v = int_value(raw, *signed, big);
            if *signed {
                AttrValue::Int(v)
            } else {
                AttrValue::UInt(v as u64)
            }
        }
        DType::Enum { base, .. } => return one(ctx, base, raw, at),
        DType::Float { size, order } => {
            let big = *order == ByteOrder::Big;
            match size {
                4 => AttrValue::Float(f64::from(f32::from_le_bytes(le(raw, big, at)?))),
                8 => AttrValue::Float(f64::from_le_bytes(le(raw, big, at)?)),
                2 => AttrValue::Float(f16_to_f64(u16::from_le_bytes(le(raw, big, at)?))),
                s => return Err(unsupported(format!("{s}-byte floating point"))),
            }
        }
        DType::Bool => AttrValue::Bool(raw.first().is_some_and(|b| *b != 0)),
        DType::FixedString { .. } => {
            let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
            text(&raw[..end])
        }
        DType::VlenString { .. } => {
            let r = global_heap::vlen_ref(&mut Cur::detached(raw, at, ctx.so, ctx.sl))?;
            match r.collection {
                None => AttrValue::Str(String::new()),
                Some(_) if r.len == 0 => AttrValue::Str(String::new()),
                Some(coll) => {
                    let b = global_heap::object(ctx, coll, r.index)?;
                    let b = b.get(..r.len as usize).unwrap_or(b);
                    let end = b.iter().position(|x| *x == 0).unwrap_or(b.len());
                    text(&b[..end])
                }
            }
        }
        DType::Vlen(base) => {
            let r = global_heap::vlen_ref(&mut Cur::detached(raw, at, ctx.so, ctx.sl))?;
            match r.collection {
                None => AttrValue::Array(Vec::new()),
                Some(coll) => {
                    let b = global_heap::object(ctx, coll, r.index)?;
                    decode(ctx, base, b, r.len as usize, false, at)?
                }
            }
        }
        DType::Compound { fields, .. } => {
            let mut out = Vec::with_capacity(fields.len());
            for f in fields {
                let part = raw
                    .get(f.offset..f.offset + f.dtype.size())
                    .ok_or_else(|| malformed(at, "compound member outside its element"))?;
                out.push((f.name.clone(), one(ctx, &f.dtype, part, at)?));
            }
            AttrValue::Compound(out)
        }
        DType::Array { base, .. } => {
            let n = dtype.size() / base.size().max(1);
            decode(ctx, base, raw, n, false, at)?
        }
        DType::Reference { .. } => {
            let mut c = Cur::detached(raw, at, ctx.so, ctx.sl);
            AttrValue::UInt(c.uint(raw.len().min(8))?)
        }
        DType::Opaque { .. } => AttrValue::Bytes(raw.to_vec()),
        DType::Bitfield { order, .. } => {
            AttrValue::UInt(int_value(raw, false, *order == ByteOrder::Big) as u64)
        }
    })
}

/// The first `N` bytes of an element in little-endian order (reversed when `big`).
fn le<const N: usize>(raw: &[u8], big: bool, at: u64) -> PResult<[u8; N]> {
    let mut b: [u8; N] = raw
        .get(..N)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| malformed(at, format!("value shorter than its {N}-byte type")))?;
    if big {
        b.reverse();
    }
    Ok(b)
}

fn text(b: &[u8]) -> AttrValue {
    match std::str::from_utf8(b) {
        Ok(s) => AttrValue::Str(s.to_string()),
        Err(_) => AttrValue::Bytes(b.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::RangeCache;
    use crate::global_heap::HeapIndex;

    fn float(size: usize, order: ByteOrder, raw: &[u8]) -> PResult<AttrValue> {
        let cache = RangeCache::from_bytes(Bytes::new());
        let heaps = HeapIndex::default();
        let ctx = Ctx::for_test(&cache, &heaps);
        one(&ctx, &DType::Float { size, order }, raw, 0)
    }

    #[test]
    fn floats_of_both_byte_orders() {
        use ByteOrder::{Big, Little};
        let v = |r: PResult<AttrValue>| match r {
            Ok(AttrValue::Float(f)) => f,
            other => panic!("{other:?}"),
        };
        assert_eq!(v(float(4, Little, &1.5f32.to_le_bytes())), 1.5);
        assert_eq!(v(float(4, Big, &(-2.25f32).to_be_bytes())), -2.25);
        assert_eq!(v(float(8, Little, &1e300f64.to_le_bytes())), 1e300);
        assert_eq!(v(float(8, Big, &(-0.1f64).to_be_bytes())), -0.1);
        assert_eq!(v(float(2, Little, &0x3c00u16.to_le_bytes())), 1.0);
        assert_eq!(v(float(2, Big, &0xc000u16.to_be_bytes())), -2.0);
        // Fewer bytes than the type: an error, not a panic.
        assert!(float(8, Little, &[0; 4]).is_err());
    }
}
