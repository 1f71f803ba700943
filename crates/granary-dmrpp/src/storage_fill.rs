//! The HDF5 fill value of a DMR++ variable (the `fillValue` of `dmrpp:chunks`), as the bytes
//! unwritten chunks read as, when it differs from the CF `_FillValue` (files written by h5py).
//! The builder prints it with 6 significant digits: it is used only where that text is exact
//! (integers, 32-bit floats narrowed back, integer-valued 64-bit floats below 10^6); otherwise
//! the two are assumed equal, as netCDF-4 writers make them.

use granary_core::{AttrValue, ByteOrder, DType};

/// One element of `dtype` holding `v`, in the type's byte order.
fn element_bytes(dtype: &DType, v: &AttrValue) -> Option<Vec<u8>> {
    let order_bytes = |le: Vec<u8>, order: ByteOrder| match order {
        ByteOrder::Little => le,
        ByteOrder::Big => le.into_iter().rev().collect(),
    };
    match dtype {
        DType::Int { size, order, .. } => {
            let le = match v {
                AttrValue::Int(i) => i.to_le_bytes(),
                AttrValue::UInt(u) => u.to_le_bytes(),
                _ => return None,
            };
            Some(order_bytes(le[..*size].to_vec(), *order))
        }
        DType::Float { size: 4, order } => {
            let f = v.as_f64()? as f32;
            Some(order_bytes(f.to_le_bytes().to_vec(), *order))
        }
        DType::Float { size: 8, order } => {
            let f = v.as_f64()?;
            (f.fract() == 0.0 && f.abs() < 1e6)
                .then(|| order_bytes(f.to_le_bytes().to_vec(), *order))
        }
        _ => None,
    }
}

/// Whether the printed storage fill and `_FillValue` denote one value (within the printing's
/// 6 digits).
fn same(a: &AttrValue, b: &AttrValue) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if x.is_nan() || y.is_nan() => x.is_nan() && y.is_nan(),
        (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-5 * x.abs().max(y.abs()),
        _ => true,
    }
}

/// The storage fill to record, or `None` (unknown, or the same as `_FillValue`).
pub(crate) fn storage_fill(
    dtype: &DType,
    fill_attr: Option<&AttrValue>,
    fill_text: Option<&AttrValue>,
) -> Option<Vec<u8>> {
    let (attr, text) = (fill_attr?, fill_text?);
    if same(attr, text) {
        return None;
    }
    element_bytes(dtype, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differing_exact_fills_become_bytes() {
        let i8 = DType::Int {
            size: 8,
            signed: true,
            order: ByteOrder::Little,
        };
        let s = storage_fill(&i8, Some(&AttrValue::Int(-9999)), Some(&AttrValue::Int(0)));
        assert_eq!(s, Some(vec![0; 8]));
        assert_eq!(
            storage_fill(&i8, Some(&AttrValue::Int(5)), Some(&AttrValue::Int(5))),
            None
        );
        let f8 = DType::Float {
            size: 8,
            order: ByteOrder::Big,
        };
        // 6 printed digits of the same value: equal.
        let full = AttrValue::Float(9.969209968386869e36);
        assert_eq!(
            storage_fill(&f8, Some(&full), Some(&AttrValue::Float(9.96921e36))),
            None
        );
        assert_eq!(
            storage_fill(
                &f8,
                Some(&AttrValue::Float(-1.0)),
                Some(&AttrValue::Float(7.0))
            ),
            Some(7.0f64.to_be_bytes().to_vec())
        );
        // A fractional double printed with 6 digits may not be exact: not used.
        assert_eq!(
            storage_fill(
                &f8,
                Some(&AttrValue::Float(-1.0)),
                Some(&AttrValue::Float(0.1))
            ),
            None
        );
    }
}
