//! The byte transforms of the HDF5 filters granary applies itself (HDF5 filter pipeline,
//! H5Zshuffle, H5Zdeflate, H5Zfletcher32), both ways: undoing them on chunks granary must read
//! (variable-length string heap IDs, a concatenated coordinate) and applying them to chunks it
//! writes inline (unwritten chunks). Pure computation; decompression is bounded.

use std::io::{Read, Write};

/// Shuffles: byte `j` of every element, then byte `j + 1`; a tail that is not a whole element
/// stays in place.
pub fn shuffle(data: &[u8], element_size: usize) -> Vec<u8> {
    let es = element_size.max(1);
    let n = data.len() / es;
    let mut out = data.to_vec();
    for j in 0..es {
        for i in 0..n {
            out[j * n + i] = data[i * es + j];
        }
    }
    out
}

/// Undoes [`shuffle`].
pub fn unshuffle(data: &[u8], element_size: usize) -> Vec<u8> {
    let es = element_size.max(1);
    let n = data.len() / es;
    let mut out = data.to_vec();
    for j in 0..es {
        for i in 0..n {
            out[i * es + j] = data[j * n + i];
        }
    }
    out
}

/// A zlib stream of `data`.
pub fn deflate(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data)?;
    e.finish()
}

/// The bytes of a zlib stream, at most `max` of them (`Err` beyond: a decompression bomb).
pub fn inflate(data: &[u8], max: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("deflate: {e}"))?;
    if out.len() > max {
        return Err(format!("deflate: inflates to more than {max} bytes"));
    }
    Ok(out)
}

/// HDF5's Fletcher-32 checksum (`H5_checksum_fletcher32`): 16-bit big-endian words, sums
/// folded every 360 words, an odd trailing byte as the high byte of a last word.
pub fn fletcher32(data: &[u8]) -> u32 {
    let (mut sum1, mut sum2) = (0u32, 0u32);
    let fold = |s: u32| (s & 0xffff) + (s >> 16);
    for block in data.chunks(720) {
        let mut words = block.chunks_exact(2);
        for w in &mut words {
            sum1 += (u32::from(w[0]) << 8) | u32::from(w[1]);
            sum2 += sum1;
        }
        if let [last] = words.remainder() {
            sum1 += u32::from(*last) << 8;
            sum2 += sum1;
        }
        sum1 = fold(sum1);
        sum2 = fold(sum2);
    }
    sum1 = fold(sum1);
    sum2 = fold(sum2);
    (sum2 << 16) | sum1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_transposes_bytes_and_keeps_the_tail() {
        assert_eq!(shuffle(&[1, 2, 3, 4, 5], 2), vec![1, 3, 2, 4, 5]);
        assert_eq!(
            unshuffle(&shuffle(&[1, 2, 3, 4, 5, 6, 7], 3), 3),
            vec![1, 2, 3, 4, 5, 6, 7]
        );
    }

    #[test]
    fn fletcher32_matches_hdf5() {
        // Values from numcodecs' Fletcher32 (HDF5-compatible), which readers decode with.
        assert_eq!(fletcher32(b"abcde"), 0x4ff0_29c7);
        let long: Vec<u8> = (0..7).flat_map(|_| 0..=255u8).collect();
        assert_eq!(fletcher32(&long), 0xf397_41be);
    }

    #[test]
    fn inflation_is_bounded() {
        let z = deflate(&[0u8; 10_000]).unwrap();
        assert_eq!(inflate(&z, 10_000).unwrap().len(), 10_000);
        assert!(inflate(&z, 9_999).is_err());
    }
}
