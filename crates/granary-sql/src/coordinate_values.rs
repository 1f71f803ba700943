//! Reads the values of a concatenated existing dimension's coordinate (`time` of granules
//! concatenated along `time`) from the granules, so that the combiner can check their order and
//! write them inline (granary-refs `combine::existing_coord`).

use std::collections::HashMap;

use granary_extract::Extractor;
use granary_refs::combine::decode_chunk;
use granary_refs::{CombineError, Combiner};

use crate::SqlError;

fn refuse(path: &str, reason: String) -> SqlError {
    SqlError::Refs(CombineError::Coordinate {
        path: path.to_string(),
        reason,
    })
}

/// The most coordinate bytes one granule may hold (they are written inline).
const MAX_COORDINATE_BYTES: usize = 256 << 20;

/// Bytes of one element of a numpy dtype given as JSON text (`"<f8"` → 8).
fn element_size(dtype: &str) -> Option<usize> {
    dtype.trim_matches('"').get(2..)?.parse().ok()
}

/// Reads, decodes and hands the coordinate's values to `c` (nothing to do without one).
pub(crate) async fn read_existing_coordinate(
    reader: &Extractor,
    c: &mut Combiner,
) -> Result<(), SqlError> {
    let Some(coord) = c.existing_coordinate() else {
        return Ok(());
    };
    let path = coord.path.as_str();
    let size = element_size(&coord.dtype)
        .ok_or_else(|| refuse(path, format!("dtype {} is not a number type", coord.dtype)))?;
    let wanted: Vec<(String, u64, u64)> = coord
        .chunks
        .iter()
        .flatten()
        .map(|(_, u, o, l)| (u.clone(), *o, *l))
        .collect();
    let bytes: HashMap<(String, u64, u64), Vec<u8>> = reader
        .read_ranges(&wanted)
        .await
        .map_err(|source| SqlError::CompareRead {
            array: path.to_string(),
            source: Box::new(source),
        })?
        .into_iter()
        .collect();
    let mut per_granule = Vec::with_capacity(coord.chunks.len());
    for (g, chunks) in coord.chunks.iter().enumerate() {
        let want = usize::try_from(coord.lengths[g])
            .ok()
            .and_then(|n| n.checked_mul(size))
            .filter(|w| *w <= MAX_COORDINATE_BYTES)
            .ok_or_else(|| {
                refuse(
                    path,
                    format!(
                        "granule {} of the selection holds {} coordinate values: more than granary writes inline ({MAX_COORDINATE_BYTES} bytes)",
                        g + 1,
                        coord.lengths[g]
                    ),
                )
            })?;
        let mut values = Vec::with_capacity(want);
        for (i, (local, u, o, l)) in chunks.iter().enumerate() {
            if *local != i as u64 {
                return Err(refuse(
                    path,
                    format!("{u}: chunk {i} of the coordinate was never written"),
                ));
            }
            let raw = bytes
                .get(&(u.clone(), *o, *l))
                .ok_or_else(|| refuse(path, format!("{u}: bytes {o}+{l} were not read")))?;
            let decoded = decode_chunk(&coord.filters, raw).map_err(|e| {
                refuse(
                    path,
                    format!("{u}: cannot decode its chunk at byte {o}: {e}"),
                )
            })?;
            values.extend_from_slice(&decoded);
        }
        if values.len() < want {
            return Err(refuse(
                path,
                format!(
                    "granule {} of the selection holds {} bytes of coordinate values, {want} expected (unwritten chunks?)",
                    g + 1,
                    values.len()
                ),
            ));
        }
        values.truncate(want);
        per_granule.push(values);
    }
    c.set_existing_coordinate(path, &coord.dtype, per_granule)?;
    Ok(())
}
