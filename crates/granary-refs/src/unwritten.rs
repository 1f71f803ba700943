//! Chunks a granule never wrote (docs/kerchunk-reference.md section 1.8, "Fill values"). HDF5
//! returns its own fill value for them (zeros when the dataset defines none); a zarr reader
//! returns the zarr `fill_value`, which granary sets from the CF `_FillValue` so that readers
//! mask with it. When the two differ (h5py writes `_FillValue` attributes that are not the
//! dataset's fill value), each unwritten chunk is written inline, holding the HDF5 fill value
//! encoded through the array's codecs, so that every reader sees what libhdf5 and
//! netCDF4-python see.

use granary_core::{AttrValue, ByteOrder, Codec, DType, chunk_bytes};

use crate::zarr::fill_value_json;

/// Raw bytes of one inline fill chunk, at most (the chunk before compression).
pub const MAX_FILL_CHUNK_BYTES: u64 = 64 << 20;

/// Total inline bytes an array's unwritten chunks may take in one reference set.
pub const MAX_FILL_BYTES_PER_ARRAY: u64 = 64 << 20;

/// The value one element's stored bytes hold, for the types whose zarr fill value granary
/// writes (numbers, fixed strings); `None` for the others.
fn element_value(dtype: &DType, b: &[u8]) -> Option<AttrValue> {
    let ordered = |order: ByteOrder| -> Option<[u8; 8]> {
        let mut w = [0u8; 8];
        let n = b.len();
        if n == 0 || n > 8 {
            return None;
        }
        match order {
            ByteOrder::Little => w[..n].copy_from_slice(b),
            ByteOrder::Big => {
                for (i, x) in b.iter().rev().enumerate() {
                    w[i] = *x;
                }
            }
        }
        Some(w)
    };
    match dtype {
        DType::Int {
            size,
            signed,
            order,
        } => {
            let w = ordered(*order)?;
            let u = u64::from_le_bytes(w);
            if *signed {
                let shift = 64 - 8 * *size as u32;
                Some(AttrValue::Int(((u << shift) as i64) >> shift))
            } else {
                Some(AttrValue::UInt(u))
            }
        }
        DType::Float { size: 4, order } => {
            let w = ordered(*order)?;
            let bits = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            Some(AttrValue::Float(f64::from(f32::from_bits(bits))))
        }
        DType::Float { size: 8, order } => Some(AttrValue::Float(f64::from_bits(
            u64::from_le_bytes(ordered(*order)?),
        ))),
        DType::Enum { base, .. } => element_value(base, b),
        DType::Bool => Some(AttrValue::Int(i64::from(b.iter().any(|x| *x != 0)))),
        DType::FixedString { .. } => Some(AttrValue::Bytes(b.to_vec())),
        _ => None,
    }
}

/// Whether a zarr reader, given `fill_value` (JSON text), returns exactly the element bytes
/// `storage` for a chunk that has no key.
pub fn fill_matches(dtype: &DType, fill_value: &str, storage: &[u8]) -> bool {
    if fill_value == "null" {
        // zarr-python 2 leaves such elements uninitialised: never rely on it.
        return false;
    }
    match element_value(dtype, storage) {
        // -0.0 and 0.0 print differently: the comparison is of what zarr would write.
        Some(v) => fill_value_json(dtype, Some(&v)) == fill_value,
        None => false,
    }
}

/// One chunk of `elements` elements all equal to `element`, encoded through `codecs` (encode
/// order; a trailing Fletcher32 already removed by the caller). `Err` names what granary cannot
/// encode.
pub fn encode_fill_chunk(
    element: &[u8],
    elements: u64,
    codecs: &[Codec],
) -> Result<Vec<u8>, String> {
    let raw = (element.len() as u64).saturating_mul(elements);
    if raw > MAX_FILL_CHUNK_BYTES {
        return Err(format!(
            "an unwritten chunk would be {raw} bytes inline (limit {MAX_FILL_CHUNK_BYTES})"
        ));
    }
    let mut data = element.repeat(elements as usize);
    for c in codecs {
        data = match c {
            Codec::Shuffle { element_size } => chunk_bytes::shuffle(&data, *element_size),
            // numcodecs' `fletcher32` checks and strips the trailing little-endian checksum.
            Codec::Fletcher32 => {
                let sum = chunk_bytes::fletcher32(&data);
                data.extend_from_slice(&sum.to_le_bytes());
                data
            }
            Codec::Deflate { .. } => chunk_bytes::deflate(&data)
                .map_err(|err| format!("deflate of an unwritten chunk failed: {err}"))?,
            other => {
                let (name, _) = other.registered();
                return Err(format!(
                    "its unwritten chunks read as the HDF5 fill value, which differs from `_FillValue`; granary writes them inline but cannot encode filter {} ({name})",
                    other.hdf5_id()
                ));
            }
        };
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i8le() -> DType {
        DType::Int {
            size: 8,
            signed: true,
            order: ByteOrder::Little,
        }
    }

    #[test]
    fn storage_fill_is_compared_as_zarr_would_write_it() {
        assert!(fill_matches(&i8le(), "-9999", &(-9999i64).to_le_bytes()));
        assert!(!fill_matches(&i8le(), "-9999", &[0; 8]));
        assert!(!fill_matches(&i8le(), "null", &[0; 8]));
        let f4be = DType::Float {
            size: 4,
            order: ByteOrder::Big,
        };
        assert!(fill_matches(&f4be, "\"NaN\"", &f32::NAN.to_be_bytes()));
        assert!(fill_matches(&f4be, "-1.5", &(-1.5f32).to_be_bytes()));
        let i2 = DType::Int {
            size: 2,
            signed: true,
            order: ByteOrder::Little,
        };
        assert!(fill_matches(&i2, "-2", &(-2i16).to_le_bytes()));
    }

    #[test]
    fn fill_chunks_decode_back() {
        use std::io::Read;
        let c = encode_fill_chunk(
            &7i32.to_le_bytes(),
            100,
            &[
                Codec::Shuffle { element_size: 4 },
                Codec::Deflate { level: 4 },
            ],
        )
        .unwrap();
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&c[..])
            .read_to_end(&mut raw)
            .unwrap();
        assert_eq!(raw.len(), 400);
        assert_eq!(&raw[..100], &[7u8; 100][..]);
        assert!(encode_fill_chunk(&[0; 4], 10, &[Codec::Lzf]).is_err());
    }
}
