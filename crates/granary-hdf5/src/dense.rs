//! Dense link and attribute storage: fractal heaps (spec III.G) indexed by version 2 B-trees
//! (spec III.A.2). Returns the heap objects (link or attribute messages) the name index lists.

use std::collections::HashSet;

use crate::cursor::{Ctx, Cur, enc_size};
use crate::error::{Needs, PResult, malformed, unsupported};

/// The parts of a fractal heap header needed to read managed and tiny objects.
struct Heap {
    id_len: usize,
    off_size: usize,
    len_size: usize,
    checksum_direct: bool,
    width: u64,
    start_block: u64,
    max_direct: u64,
    root: Option<u64>,
    root_rows: u64,
}

fn heap_header(ctx: &Ctx<'_>, addr: u64) -> PResult<Heap> {
    let (so, sl) = (u64::from(ctx.so), u64::from(ctx.sl));
    let len = 4 + 1 + 2 + 2 + 1 + 4 + 12 * sl + 3 * so + 2 + 2 + 2 + 2;
    let mut c = ctx.cur(addr, len)?;
    c.sig(b"FRHP")?;
    c.skip(1)?;
    let id_len = c.u16()? as usize;
    let filter_len = c.u16()?;
    let flags = c.u8()?;
    let max_managed = u64::from(c.u32()?);
    c.length()?; // next huge id
    c.addr()?; // huge object B-tree
    c.length()?; // free space
    c.addr()?; // free space manager
    for _ in 0..8 {
        c.length()?;
    }
    let width = u64::from(c.u16()?);
    let start_block = c.length()?;
    let max_direct = c.length()?;
    let max_heap_bits = c.u16()? as usize;
    c.u16()?; // starting rows
    let root = c.addr()?;
    let root_rows = u64::from(c.u16()?);
    if filter_len != 0 {
        return Err(unsupported("fractal heap with I/O filters"));
    }
    if width == 0
        || !start_block.is_power_of_two()
        || !max_direct.is_power_of_two()
        || max_direct < start_block
    {
        return Err(malformed(addr, "invalid fractal heap doubling table"));
    }
    let off_size = max_heap_bits.div_ceil(8);
    let dir_off_size = (max_direct.trailing_zeros() as usize).div_ceil(8);
    let len_size = dir_off_size.min(enc_size(max_managed));
    Ok(Heap {
        id_len,
        off_size,
        len_size,
        checksum_direct: flags & 0x02 != 0,
        width,
        start_block,
        max_direct,
        root,
        root_rows,
    })
}

impl Heap {
    fn row_block_size(&self, row: u64) -> u64 {
        if row == 0 {
            self.start_block
        } else {
            self.start_block.saturating_mul(1u64 << (row - 1).min(62))
        }
    }

    fn max_direct_rows(&self) -> u64 {
        u64::from(self.max_direct.trailing_zeros() - self.start_block.trailing_zeros()) + 2
    }

    /// Every direct block: (heap offset of its start, its bytes).
    fn direct_blocks<'a>(&self, ctx: &Ctx<'a>) -> PResult<Vec<(u64, &'a [u8])>> {
        let Some(root) = self.root else {
            return Ok(Vec::new());
        };
        let so = usize::from(ctx.so);
        let mut direct: Vec<(u64, u64)> = Vec::new(); // (addr, size)
        let mut frontier: Vec<(u64, u64)> = Vec::new(); // indirect (addr, rows)
        if self.root_rows == 0 {
            direct.push((root, self.start_block));
        } else {
            frontier.push((root, self.root_rows));
        }
        let mut seen = HashSet::new();
        while !frontier.is_empty() {
            let mut needs = Needs::default();
            let mut next = Vec::new();
            for (addr, rows) in &frontier {
                if !seen.insert(*addr) || *rows > 64 {
                    return Err(malformed(
                        *addr,
                        "fractal heap indirect block cycle or too many rows",
                    ));
                }
                let entries = rows * self.width;
                let len = 4 + 1 + so + self.off_size + entries as usize * so + 4;
                let Some(b) = needs.take(ctx.bytes(*addr, len as u64))? else {
                    continue;
                };
                let mut c = Cur::new(b, *addr, *ctx);
                c.sig(b"FHIB")?;
                c.skip(1 + so + self.off_size)?;
                for row in 0..*rows {
                    let size = self.row_block_size(row);
                    for _ in 0..self.width {
                        let child = c.addr()?;
                        let Some(child) = child else { continue };
                        if row < self.max_direct_rows() {
                            direct.push((child, size));
                        } else {
                            let first_row_bits =
                                self.start_block.trailing_zeros() + self.width.trailing_zeros();
                            let child_rows =
                                u64::from(size.trailing_zeros().saturating_sub(first_row_bits)) + 1;
                            next.push((child, child_rows));
                        }
                    }
                }
            }
            needs.check()?;
            frontier = next;
        }
        let mut needs = Needs::default();
        let mut out = Vec::with_capacity(direct.len());
        for (addr, size) in direct {
            let Some(b) = needs.take(ctx.bytes(addr, size))? else {
                continue;
            };
            let mut c = Cur::new(b, addr, *ctx);
            c.sig(b"FHDB")?;
            c.skip(1 + so)?;
            let block_offset = c.uint(self.off_size)?;
            out.push((block_offset, b));
        }
        needs.check()?;
        let _ = self.checksum_direct;
        Ok(out)
    }

    fn object<'a>(
        &self,
        heap_addr: u64,
        blocks: &[(u64, &'a [u8])],
        id: &'a [u8],
    ) -> PResult<&'a [u8]> {
        let first = *id
            .first()
            .ok_or_else(|| malformed(heap_addr, "empty heap ID"))?;
        match (first >> 4) & 0x03 {
            0 => {
                let mut c = Cur::detached(id, heap_addr, 8, 8);
                c.skip(1)?;
                let off = c.uint(self.off_size)?;
                let len = c.uint(self.len_size)?;
                for (start, b) in blocks {
                    if off >= *start && off < start + b.len() as u64 {
                        let from = (off - start) as usize;
                        return b
                            .get(from..from.saturating_add(len as usize))
                            .ok_or_else(|| {
                                malformed(heap_addr, "heap object crosses its direct block")
                            });
                    }
                }
                Err(malformed(
                    heap_addr,
                    format!("heap offset {off} is in no direct block"),
                ))
            }
            2 => {
                let (len, from) = if self.id_len <= 18 {
                    (usize::from(first & 0x0f) + 1, 1)
                } else {
                    let b1 = usize::from(*id.get(1).unwrap_or(&0));
                    (((usize::from(first & 0x0f)) << 8 | b1) + 1, 2)
                };
                id.get(from..from + len)
                    .ok_or_else(|| malformed(heap_addr, "tiny heap object too long"))
            }
            1 => Err(unsupported("huge objects in a fractal heap")),
            _ => Err(malformed(heap_addr, "invalid heap ID type")),
        }
    }
}

/// Every record of the v2 B-tree at `addr`.
fn btree_records<'a>(ctx: &Ctx<'a>, addr: u64) -> PResult<(u8, Vec<&'a [u8]>)> {
    let so = u64::from(ctx.so);
    let sl = u64::from(ctx.sl);
    let mut c = ctx.cur(addr, 4 + 1 + 1 + 4 + 2 + 2 + 2 + so + 2 + sl + 4)?;
    c.sig(b"BTHD")?;
    c.skip(1)?;
    let btype = c.u8()?;
    let node_size = u64::from(c.u32()?);
    let rec_size = u64::from(c.u16()?);
    let depth = c.u16()? as usize;
    c.skip(2)?;
    let root = c.addr()?;
    let root_nrec = u64::from(c.u16()?);
    let Some(root) = root else {
        return Ok((btype, Vec::new()));
    };
    if rec_size == 0 || node_size <= 10 || depth > 32 {
        return Err(malformed(addr, "invalid v2 B-tree header"));
    }
    // Node geometry (H5B2__hdr_init).
    let leaf_max = (node_size - 10) / rec_size;
    let max_nrec_size = enc_size(leaf_max) as u64;
    let mut cum = vec![leaf_max];
    let mut cum_size = vec![0u64];
    for d in 1..=depth {
        let ptr = so + max_nrec_size + if d > 1 { cum_size[d - 1] } else { 0 };
        let max = (node_size.saturating_sub(10 + ptr)) / (rec_size + ptr);
        let c = (max + 1).saturating_mul(cum[d - 1]).saturating_add(max);
        cum.push(c);
        cum_size.push(enc_size(c) as u64);
    }
    let mut out = Vec::new();
    let mut frontier = vec![(root, root_nrec, depth)];
    let mut seen = HashSet::new();
    while !frontier.is_empty() {
        let mut needs = Needs::default();
        let mut next = Vec::new();
        for (naddr, nrec, d) in &frontier {
            if !seen.insert(*naddr) {
                return Err(malformed(*naddr, "v2 B-tree node visited twice (cycle)"));
            }
            let Some(b) = needs.take(ctx.bytes(*naddr, node_size))? else {
                continue;
            };
            let mut c = Cur::new(b, *naddr, *ctx);
            c.sig(if *d == 0 { b"BTLF" } else { b"BTIN" })?;
            c.skip(2)?;
            for _ in 0..*nrec {
                out.push(c.take(rec_size as usize)?);
            }
            if *d > 0 {
                for _ in 0..=*nrec {
                    let child = c
                        .addr()?
                        .ok_or_else(|| malformed(*naddr, "v2 B-tree child undefined"))?;
                    let n = c.uint(max_nrec_size as usize)?;
                    if *d > 1 {
                        c.uint(cum_size[d - 1] as usize)?;
                    }
                    next.push((child, n, d - 1));
                }
            }
        }
        needs.check()?;
        frontier = next;
    }
    Ok((btype, out))
}

/// The heap objects listed by a name index (B-tree type 5 for links, 8 for attributes), with the
/// creation order from type-8 records when present.
pub(crate) fn objects<'a>(
    ctx: &Ctx<'a>,
    heap_addr: u64,
    btree_addr: u64,
) -> PResult<Vec<(&'a [u8], u64)>> {
    let mut needs = Needs::default();
    let heap = needs.take(heap_header(ctx, heap_addr))?;
    let records = needs.take(btree_records(ctx, btree_addr))?;
    needs.check()?;
    let (Some(heap), Some((btype, records))) = (heap, records) else {
        return Err(malformed(heap_addr, "dense storage incomplete"));
    };
    let blocks = heap.direct_blocks(ctx)?;
    let mut out = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let (id, order) = match btype {
            5 => (r.get(4..4 + heap.id_len), i as u64),
            6 => (r.get(8..8 + heap.id_len), i as u64),
            8 | 9 => {
                let flags = r.get(heap.id_len).copied().unwrap_or(0);
                if flags & 0x01 != 0 {
                    return Err(unsupported("shared attribute message in dense storage"));
                }
                let order = r
                    .get(heap.id_len + 1..heap.id_len + 5)
                    .map_or(i as u64, |b| {
                        u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    });
                (r.get(0..heap.id_len), order)
            }
            t => return Err(unsupported(format!("v2 B-tree type {t} as a name index"))),
        };
        let id =
            id.ok_or_else(|| malformed(btree_addr, "v2 B-tree record shorter than a heap ID"))?;
        out.push((heap.object(heap_addr, &blocks, id)?, order));
    }
    Ok(out)
}
