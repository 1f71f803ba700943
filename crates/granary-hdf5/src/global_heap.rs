//! Global heap collections (spec III.E): storage of variable-length data and references.
//!
//! netCDF-4 files keep every variable-length string attribute of a file in one collection
//! (a SWOT granule: 163 objects in 4 KiB). A lookup walks the collection once and keeps where
//! each object lies ([`HeapIndex`]), so looking up all of them costs one walk, not one each.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

use crate::cursor::{Ctx, Cur};
use crate::error::{PResult, malformed};

/// The objects of one collection: (object index, byte range in the collection), sorted by
/// index, first occurrence kept.
type Positions = Vec<(u32, Range<usize>)>;

/// Where the objects of each collection seen so far lie, by collection address. Kept across
/// a scan's passes (the bytes of a collection do not change between passes). Every object
/// takes at least 16 bytes of its collection and an entry 24, so the index of a hostile
/// collection stays within one and a half times the bytes the cache already holds for it.
#[derive(Default)]
pub(crate) struct HeapIndex(RefCell<HashMap<u64, Positions>>);

/// The bytes of object `index` in the collection at `addr`.
pub(crate) fn object<'a>(ctx: &Ctx<'a>, addr: u64, index: u32) -> PResult<&'a [u8]> {
    let bytes = collection(ctx, addr)?;
    // The index is only borrowed here and nothing below looks up another object; were it
    // borrowed all the same, the walk answers alone.
    if let Ok(mut known) = ctx.heaps.0.try_borrow_mut() {
        let objects = known
            .entry(addr)
            .or_insert_with(|| positions(ctx, addr, bytes));
        if let Some(b) = objects
            .binary_search_by_key(&index, |(i, _)| *i)
            .ok()
            .and_then(|k| objects.get(k))
            .and_then(|(_, r)| bytes.get(r.clone()))
        {
            return Ok(b);
        }
    }
    // Not among the objects the index holds: the walk finds it or reports its error.
    let mut found = None;
    walk(ctx, addr, bytes, |i, r| {
        let hit = i == index;
        if hit {
            found = bytes.get(r);
        }
        hit
    })?;
    found.ok_or_else(|| malformed(addr, format!("global heap object {index} not found")))
}

/// The whole collection at `addr`, its signature and size checked.
fn collection<'a>(ctx: &Ctx<'a>, addr: u64) -> PResult<&'a [u8]> {
    let sl = u64::from(ctx.sl);
    let mut c = ctx.cur(addr, 8 + sl)?;
    c.sig(b"GCOL")?;
    c.skip(4)?;
    let size = c.length()?;
    if size < 8 + sl {
        return Err(malformed(addr, "global heap collection too small"));
    }
    ctx.bytes(addr, size)
}

/// Every object the walk of a collection reads before its end, free space or a fault.
fn positions(ctx: &Ctx<'_>, addr: u64, bytes: &[u8]) -> Positions {
    let mut out = Vec::new();
    // A fault ends the list; a lookup past it walks again and reports it.
    let _ = walk(ctx, addr, bytes, |i, r| {
        out.push((i, r));
        false
    });
    // Stable: of two objects with one index, the first in the collection stays.
    out.sort_by_key(|(i, _)| *i);
    out.dedup_by_key(|(i, _)| *i);
    out
}

/// Walks the objects of a collection in file order until `stop` says so (`Ok(true)`), the
/// objects end (`Ok(false)`) or one is malformed (`Err`).
fn walk(
    ctx: &Ctx<'_>,
    addr: u64,
    bytes: &[u8],
    mut stop: impl FnMut(u32, Range<usize>) -> bool,
) -> PResult<bool> {
    let sl = usize::from(ctx.sl);
    let mut c = Cur::detached(bytes, addr, ctx.so, ctx.sl);
    c.skip(8 + sl)?;
    while c.remaining() >= 8 + sl {
        let idx = c.u16()?;
        c.skip(6)?;
        let len = c.length()?;
        if idx == 0 {
            break;
        }
        let len =
            usize::try_from(len).map_err(|_| malformed(addr, "global heap object too large"))?;
        let start = c.pos();
        c.take(len)?;
        if stop(u32::from(idx), start..start + len) {
            return Ok(true);
        }
        let pad = (8 - len % 8) % 8;
        c.skip(pad.min(c.remaining()))?;
    }
    Ok(false)
}

/// A variable-length element as stored in a dataset or attribute: length, collection, index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VlenRef {
    pub len: u32,
    pub collection: Option<u64>,
    pub index: u32,
}

pub(crate) fn vlen_ref(c: &mut Cur<'_>) -> PResult<VlenRef> {
    let len = c.u32()?;
    let collection = c.addr()?;
    let index = c.u32()?;
    Ok(VlenRef {
        len,
        collection,
        index,
    })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::RangeCache;
    use crate::error::Fail;

    /// A collection at address 0 holding `objects` (index, bytes) in this order, padded to 8.
    fn collection_bytes(objects: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (idx, data) in objects {
            body.extend_from_slice(&idx.to_le_bytes());
            body.extend_from_slice(&[1, 0, 0, 0, 0, 0]);
            body.extend_from_slice(&(data.len() as u64).to_le_bytes());
            body.extend_from_slice(data);
            body.resize(body.len().div_ceil(8) * 8, 0);
        }
        body.extend_from_slice(&[0u8; 16]); // free space: object 0
        let mut out = b"GCOL\x01\0\0\0".to_vec();
        out.extend_from_slice(&((16 + body.len()) as u64).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    fn lookup(file: &[u8], index: u32) -> PResult<Vec<u8>> {
        let cache = RangeCache::from_bytes(Bytes::copy_from_slice(file));
        let heaps = HeapIndex::default();
        let ctx = Ctx::for_test(&cache, &heaps);
        // Twice: the second lookup answers from the index the first one built.
        let first = object(&ctx, 0, index).map(<[u8]>::to_vec);
        let second = object(&ctx, 0, index).map(<[u8]>::to_vec);
        assert_eq!(first.is_ok(), second.is_ok());
        second
    }

    #[test]
    fn objects_are_found_in_any_order_and_the_first_of_an_index_wins() {
        let file = collection_bytes(&[(3, b"three"), (1, b"one"), (2, b"two"), (1, b"again")]);
        assert_eq!(lookup(&file, 1).unwrap(), b"one");
        assert_eq!(lookup(&file, 2).unwrap(), b"two");
        assert_eq!(lookup(&file, 3).unwrap(), b"three");
        let missing = lookup(&file, 4).unwrap_err();
        assert!(format!("{missing:?}").contains("global heap object 4 not found"));
    }

    #[test]
    fn an_object_before_a_truncated_one_is_found_and_one_after_it_fails_as_truncated() {
        let mut file = collection_bytes(&[(1, b"one"), (2, b"two"), (3, b"three")]);
        // Object 2 claims more bytes than the collection holds.
        let len_at = 16 + 16 + 8 + 8;
        file[len_at..len_at + 8].copy_from_slice(&1000u64.to_le_bytes());
        assert_eq!(lookup(&file, 1).unwrap(), b"one");
        for index in [2, 3] {
            let e = lookup(&file, index).unwrap_err();
            assert!(matches!(e, Fail::Bad(..)), "{e:?}");
            assert!(format!("{e:?}").contains("truncated"), "{e:?}");
        }
    }
}
