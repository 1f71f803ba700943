//! Chunk indexes of data layout message version 4 (spec IV.A.2.i, III.H, III.I, III.A.2):
//! fixed array (with paged data blocks), extensible array (index, super and data blocks) and
//! v2 B-tree records of types 10/11. Element `i` of an array index is the chunk at linear
//! position `i` of the grid over the *maximum* dimensions (unlimited axis first for the
//! extensible array), as libhdf5's `H5VM_array_offset_pre` computes it.

use granary_core::ChunkRef;

use crate::btree_v2;
use crate::cursor::{Ctx, Cur};
use crate::error::{Needs, PResult, malformed};

/// How to turn an index element into a chunk reference.
pub(crate) struct Elements<'a> {
    /// Current chunk grid.
    pub grid: &'a [u64],
    /// Grid used for linear indexing (maximum dimensions, unlimited axis first for EA).
    pub index_grid: Vec<u64>,
    /// Axis permutation: `order[k]` is the dataset axis at linear position `k`.
    pub order: Vec<usize>,
    pub filtered: bool,
    pub unfiltered_size: u64,
}

impl Elements<'_> {
    /// Decodes the element at linear position `i`; `None` if unallocated or out of extent.
    fn decode(&self, ctx: &Ctx<'_>, raw: &[u8], i: u64, at: u64) -> PResult<Option<ChunkRef>> {
        let mut c = Cur::new(raw, at, *ctx);
        let Some(addr) = c.addr()? else {
            return Ok(None);
        };
        let (size, filter_mask) = if self.filtered {
            let n = raw.len().saturating_sub(usize::from(ctx.so) + 4);
            (c.uint(n)?, c.u32()?)
        } else {
            (self.unfiltered_size, 0)
        };
        let mut index = vec![0; self.grid.len()];
        let mut rest = i;
        for k in (0..self.index_grid.len()).rev() {
            let n = self.index_grid[k].max(1);
            index[self.order[k]] = rest % n;
            rest /= n;
        }
        if index.iter().zip(self.grid).any(|(x, g)| x >= g) {
            return Ok(None);
        }
        Ok(Some(ChunkRef {
            index,
            offset: ctx.base + addr,
            size,
            filter_mask,
            url: None,
        }))
    }
}

fn bit(bitmap: &[u8], i: u64) -> bool {
    bitmap
        .get((i / 8) as usize)
        .is_some_and(|b| (b >> (7 - i % 8)) & 1 == 1)
}

/// Fixed array index (III.I).
pub(crate) fn fixed_array(ctx: &Ctx<'_>, addr: u64, e: &Elements<'_>) -> PResult<Vec<ChunkRef>> {
    let (so, sl) = (u64::from(ctx.so), u64::from(ctx.sl));
    let mut h = ctx.cur(addr, 4 + 4 + sl + so + 4)?;
    h.sig(b"FAHD")?;
    h.skip(2)?;
    let esize = u64::from(h.u8()?);
    let page_bits = h.u8()?;
    let n = h.length()?;
    let Some(dblk) = h.addr()? else {
        return Ok(Vec::new());
    };
    if esize < so || page_bits > 32 || n > ctx.cache.object_size() {
        return Err(malformed(addr, "invalid fixed array header"));
    }
    let page = 1u64 << page_bits;
    let mut out = Vec::new();
    if n <= page {
        let mut c = ctx.cur(dblk, 10 + so + n * esize)?;
        c.sig(b"FADB")?;
        c.skip(2 + so as usize)?;
        for i in 0..n {
            let raw = c.take(esize as usize)?;
            out.extend(e.decode(ctx, raw, i, dblk)?);
        }
        return Ok(out);
    }
    let npages = n.div_ceil(page);
    let bitmap_len = npages.div_ceil(8);
    let prefix = 10 + so + bitmap_len;
    let mut c = ctx.cur(dblk, prefix)?;
    c.sig(b"FADB")?;
    c.skip(2 + so as usize)?;
    let bitmap = c.take(bitmap_len as usize)?;
    let mut needs = Needs::default();
    for p in 0..npages {
        if !bit(bitmap, p) {
            continue;
        }
        let count = if p + 1 == npages { n - p * page } else { page };
        let at = dblk + prefix + p * (page * esize + 4);
        let Some(b) = needs.take(ctx.bytes(at, count * esize))? else {
            continue;
        };
        for k in 0..count {
            let raw = &b[(k * esize) as usize..((k + 1) * esize) as usize];
            out.extend(e.decode(ctx, raw, p * page + k, at)?);
        }
    }
    needs.check()?;
    Ok(out)
}

/// Extensible array index (III.H).
pub(crate) fn extensible_array(
    ctx: &Ctx<'_>,
    addr: u64,
    e: &Elements<'_>,
) -> PResult<Vec<ChunkRef>> {
    let (so, sl) = (u64::from(ctx.so), u64::from(ctx.sl));
    let mut h = ctx.cur(addr, 4 + 8 + 6 * sl + so + 4)?;
    h.sig(b"EAHD")?;
    h.skip(2)?;
    let esize = u64::from(h.u8()?);
    let max_bits = u32::from(h.u8()?);
    let iblk_elmts = u64::from(h.u8()?);
    let dblk_min = u64::from(h.u8()?);
    let sblk_min_ptrs = u64::from(h.u8()?);
    let page_bits = u32::from(h.u8()?);
    for _ in 0..6 {
        h.length()?;
    }
    let Some(iblk) = h.addr()? else {
        return Ok(Vec::new());
    };
    if esize < so
        || !dblk_min.is_power_of_two()
        || !sblk_min_ptrs.is_power_of_two()
        || max_bits > 64
        || page_bits > 32
    {
        return Err(malformed(addr, "invalid extensible array header"));
    }
    let off_size = u64::from(max_bits.div_ceil(8));
    let page = 1u64 << page_bits;
    // Super block table (H5EA__hdr_init).
    let nsblks = 1 + u64::from(max_bits.saturating_sub(dblk_min.trailing_zeros()));
    let sblk = |u: u64| -> (u64, u64) { (1u64 << (u / 2), (1u64 << u.div_ceil(2)) * dblk_min) };
    let first_sblk = 2 * u64::from(sblk_min_ptrs.trailing_zeros());
    let ndblk_addrs = 2 * (sblk_min_ptrs - 1);
    let nsblk_addrs = nsblks.saturating_sub(first_sblk);
    let mut c = ctx.cur(
        iblk,
        10 + so + iblk_elmts * esize + (ndblk_addrs + nsblk_addrs) * so,
    )?;
    c.sig(b"EAIB")?;
    c.skip(2 + so as usize)?;
    let mut out = Vec::new();
    for i in 0..iblk_elmts {
        let raw = c.take(esize as usize)?;
        out.extend(e.decode(ctx, raw, i, iblk)?);
    }
    // Data blocks: (address, first element index, element count, page bitmap if paged).
    let mut dblks: Vec<(u64, u64, u64, Option<Vec<u8>>)> = Vec::new();
    let mut next = iblk_elmts;
    let mut u = 0;
    let mut k = 0;
    while k < ndblk_addrs {
        let (nd, ne) = sblk(u);
        for _ in 0..nd {
            if let Some(a) = c.addr()? {
                dblks.push((a, next, ne, None));
            }
            next += ne;
            k += 1;
        }
        u += 1;
    }
    let mut sblks = Vec::new();
    for s in 0..nsblk_addrs {
        let (nd, ne) = sblk(first_sblk + s);
        if let Some(a) = c.addr()? {
            sblks.push((a, next, nd, ne));
        }
        next += nd * ne;
    }
    let mut needs = Needs::default();
    for (a, start, nd, ne) in sblks {
        let paged = ne > page;
        let bitmap_len = if paged {
            (nd * (ne / page)).div_ceil(8)
        } else {
            0
        };
        let Some(mut s) = needs.take(ctx.cur(a, 10 + so + off_size + bitmap_len + nd * so))? else {
            continue;
        };
        s.sig(b"EASB")?;
        s.skip(2 + (so + off_size) as usize)?;
        let bitmap = s.take(bitmap_len as usize)?;
        for d in 0..nd {
            if let Some(da) = s.addr()? {
                let bits = paged.then(|| {
                    let per = ne / page;
                    (0..per)
                        .map(|p| u8::from(bit(bitmap, d * per + p)))
                        .collect::<Vec<u8>>()
                });
                dblks.push((da, start + d * ne, ne, bits));
            }
        }
    }
    needs.check()?;
    for (a, start, ne, pages) in dblks {
        let prefix = 10 + so + off_size;
        if ne <= page {
            let Some(mut d) = needs.take(ctx.cur(a, prefix + ne * esize))? else {
                continue;
            };
            d.sig(b"EADB")?;
            d.skip((prefix - 8) as usize)?;
            for i in 0..ne {
                out.extend(e.decode(ctx, d.take(esize as usize)?, start + i, a)?);
            }
            continue;
        }
        for p in 0..ne / page {
            if pages
                .as_ref()
                .is_some_and(|b| b.get(p as usize) == Some(&0))
            {
                continue;
            }
            let at = a + prefix + p * (page * esize + 4);
            let Some(b) = needs.take(ctx.bytes(at, page * esize))? else {
                continue;
            };
            for i in 0..page {
                let raw = &b[(i * esize) as usize..((i + 1) * esize) as usize];
                out.extend(e.decode(ctx, raw, start + p * page + i, at)?);
            }
        }
    }
    needs.check()?;
    Ok(out)
}

/// Version 2 B-tree chunk index: record types 10 (unfiltered) and 11 (filtered).
pub(crate) fn btree(ctx: &Ctx<'_>, addr: u64, e: &Elements<'_>) -> PResult<Vec<ChunkRef>> {
    let (btype, records) = btree_v2::records(ctx, addr)?;
    let rank = e.grid.len();
    let so = usize::from(ctx.so);
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let mut c = Cur::new(r, addr, *ctx);
        let Some(a) = c.addr()? else { continue };
        let (size, filter_mask) = match btype {
            10 => (e.unfiltered_size, 0),
            11 => {
                let n = r
                    .len()
                    .checked_sub(so + 4 + 8 * rank)
                    .ok_or_else(|| malformed(addr, "short chunk record"))?;
                (c.uint(n)?, c.u32()?)
            }
            t => {
                return Err(malformed(
                    addr,
                    format!("v2 B-tree of type {t} as a chunk index"),
                ));
            }
        };
        let mut index = Vec::with_capacity(rank);
        for d in 0..rank {
            let x = c.u64()?;
            if x >= e.grid[d] {
                return Err(malformed(
                    addr,
                    format!("chunk position {x} on axis {d} outside the grid"),
                ));
            }
            index.push(x);
        }
        out.push(ChunkRef {
            index,
            offset: ctx.base + a,
            size,
            filter_mask,
            url: None,
        });
    }
    Ok(out)
}
