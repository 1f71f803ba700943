//! Values of variable-length string datasets. Their chunks hold 16-byte global-heap IDs, not
//! text, so references cannot point at them: the strings are read and embedded (kerchunk's
//! `vlen_encode="embed"`, docs/kerchunk-reference.md section 2.3).

use granary_core::{ChunkRef, chunk_bytes};

use crate::cursor::{Ctx, Cur};
use crate::error::{Needs, PResult, malformed, unsupported};
use crate::global_heap;
use crate::messages::{Filter, Layout};

const HEAP_ID: usize = 16;
/// Bound on decompressed chunk size.
const MAX_CHUNK: usize = 256 * 1024 * 1024;

/// Every string of the dataset in C order (`None` for a null string).
pub(crate) fn read(
    ctx: &Ctx<'_>,
    layout: &Layout,
    chunks: &[ChunkRef],
    filters: &[Filter],
    shape: &[u64],
) -> PResult<Vec<Option<String>>> {
    // Bound: embedding more than 2^20 strings in references is impractical (and a 9 KB file
    // can claim 30 million of them).
    let n = usize::try_from(shape.iter().fold(1u64, |a, x| a.saturating_mul(*x)))
        .ok()
        .filter(|n| *n <= 1 << 20)
        .ok_or_else(|| unsupported("variable-length string dataset of more than 2^20 strings"))?;
    let mut ids = vec![None::<Vec<u8>>; n];
    let id_len = 4 + usize::from(ctx.so) + 4;
    let mut needs = Needs::default();
    match layout {
        Layout::Compact { data } => fill_ids(&mut ids, data, &vec![0; shape.len()], shape, shape),
        Layout::Contiguous { .. } => {
            for c in chunks {
                if let Some(b) = needs.take(ctx.bytes(c.offset - ctx.base, c.size))? {
                    fill_ids(&mut ids, b, &c.index, shape, shape);
                }
            }
        }
        Layout::Chunked { chunk, .. } => {
            for c in chunks {
                if let Some(b) = needs.take(ctx.bytes(c.offset - ctx.base, c.size))? {
                    let raw = unfilter(b, filters, c.filter_mask, c.offset)?;
                    fill_ids(&mut ids, &raw, &c.index, chunk, shape);
                }
            }
        }
        Layout::Virtual => return Err(unsupported("virtual dataset")),
    }
    needs.check()?;
    let mut out = Vec::with_capacity(n);
    for id in ids {
        let Some(id) = id else {
            out.push(None);
            continue;
        };
        let r = global_heap::vlen_ref(&mut Cur::detached(
            &id[..id_len.min(id.len())],
            0,
            ctx.so,
            ctx.sl,
        ))?;
        match r.collection {
            None => out.push(None),
            Some(coll) => match needs.take(global_heap::object(ctx, coll, r.index))? {
                Some(b) => {
                    let b = b.get(..r.len as usize).unwrap_or(b);
                    out.push(Some(String::from_utf8_lossy(b).into_owned()));
                }
                None => out.push(None),
            },
        }
    }
    needs.check()?;
    Ok(out)
}

/// Copies the heap IDs of one chunk into their places in the C-order array.
fn fill_ids(ids: &mut [Option<Vec<u8>>], data: &[u8], index: &[u64], chunk: &[u64], shape: &[u64]) {
    let per_chunk = chunk
        .iter()
        .fold(1u64, |a, x| a.saturating_mul(*x))
        .min((data.len() / HEAP_ID) as u64);
    for k in 0..per_chunk {
        let mut rest = k;
        let mut flat = 0u64;
        let mut inside = true;
        for d in (0..chunk.len()).rev() {
            let local = rest % chunk[d];
            rest /= chunk[d];
            let global = index[d].saturating_mul(chunk[d]).saturating_add(local);
            if global >= shape[d] {
                inside = false;
            }
            let stride = shape[d + 1..]
                .iter()
                .fold(1u64, |a, x| a.saturating_mul(*x));
            flat = flat.saturating_add(global.saturating_mul(stride));
        }
        let from = k as usize * HEAP_ID;
        if inside
            && let (Some(slot), Some(b)) =
                (ids.get_mut(flat as usize), data.get(from..from + HEAP_ID))
        {
            *slot = Some(b.to_vec());
        }
    }
}

/// Undoes the filters of one chunk (deflate, shuffle, fletcher32).
fn unfilter(data: &[u8], filters: &[Filter], mask: u32, at: u64) -> PResult<Vec<u8>> {
    let mut buf = data.to_vec();
    for (i, f) in filters.iter().enumerate().rev() {
        if mask & (1 << i) != 0 {
            continue;
        }
        buf = match f.id {
            1 => chunk_bytes::inflate(&buf, MAX_CHUNK).map_err(|e| malformed(at, e))?,
            2 => chunk_bytes::unshuffle(&buf, f.params.first().map_or(HEAP_ID, |v| *v as usize)),
            3 => {
                buf.truncate(buf.len().saturating_sub(4));
                buf
            }
            id => {
                return Err(unsupported(format!(
                    "filter {id} on a variable-length string dataset"
                )));
            }
        };
    }
    Ok(buf)
}
