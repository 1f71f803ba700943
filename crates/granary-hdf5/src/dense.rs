//! Dense link and attribute storage: fractal heaps (spec III.G) indexed by version 2 B-trees
//! (spec III.A.2). Returns the heap objects (link or attribute messages) the name index lists.

use std::collections::HashSet;

use crate::btree_v2;
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
    huge_btree: Option<u64>,
    /// Counts of managed, huge and tiny objects.
    n_managed: u64,
    n_huge: u64,
    n_tiny: u64,
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
    let huge_btree = c.addr()?;
    c.length()?; // free space
    c.addr()?; // free space manager
    c.length()?; // managed space
    c.length()?; // allocated managed space
    c.length()?; // direct block allocation iterator
    let n_managed = c.length()?;
    c.length()?; // huge size
    let n_huge = c.length()?;
    c.length()?; // tiny size
    let n_tiny = c.length()?;
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
        huge_btree,
        n_managed,
        n_huge,
        n_tiny,
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
        ctx: &Ctx<'a>,
        heap_addr: u64,
        blocks: &[(u64, &'a [u8])],
        huge: &[(u64, u64, u64)],
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
            1 => {
                let (so, sl) = (usize::from(ctx.so), usize::from(ctx.sl));
                let mut c = Cur::detached(id, heap_addr, ctx.so, ctx.sl);
                c.skip(1)?;
                if self.id_len > so + sl {
                    // Directly accessed huge object: the ID holds address and length.
                    let addr = c
                        .addr()?
                        .ok_or_else(|| malformed(heap_addr, "huge object without address"))?;
                    let len = c.length()?;
                    return ctx.bytes(addr, len);
                }
                let key = c.uint((self.id_len - 1).min(8))?;
                let (addr, len, _) = huge.iter().find(|(_, _, k)| *k == key).ok_or_else(|| {
                    malformed(heap_addr, format!("huge object {key} not in its B-tree"))
                })?;
                ctx.bytes(*addr, *len)
            }
            _ => Err(malformed(heap_addr, "invalid heap ID type")),
        }
    }
}

/// Length of one heap object (a link or attribute message) at the start of a byte slice, or
/// `None` if the bytes are not one.
pub(crate) type Measure = fn(&[u8], u8, u8) -> Option<usize>;

/// The heap's objects read straight from its direct blocks, in allocation (creation) order.
/// Link and attribute messages are self-delimiting and packed back to back; the result is used
/// only when it accounts for exactly the heap's managed objects, and every one parses (a heap
/// with freed or reused space fails that test and is read through its name index instead). This
/// saves the name index's B-tree levels: round trips.
fn sequential<'a>(
    ctx: &Ctx<'a>,
    heap: &Heap,
    blocks: &[(u64, &'a [u8])],
    measure: Measure,
) -> Option<Vec<(&'a [u8], u64)>> {
    if heap.n_huge != 0 || heap.n_tiny != 0 {
        return None;
    }
    let header =
        4 + 1 + usize::from(ctx.so) + heap.off_size + if heap.checksum_direct { 4 } else { 0 };
    let mut ordered: Vec<&(u64, &[u8])> = blocks.iter().collect();
    ordered.sort_by_key(|(offset, _)| *offset);
    let mut out = Vec::new();
    for (_, b) in ordered {
        let mut pos = header;
        while pos < b.len() && b[pos] != 0 {
            let n = measure(&b[pos..], ctx.so, ctx.sl).filter(|n| *n > 0 && pos + n <= b.len())?;
            out.push((&b[pos..pos + n], out.len() as u64));
            if out.len() as u64 > heap.n_managed {
                return None;
            }
            pos += n;
        }
    }
    (out.len() as u64 == heap.n_managed).then_some(out)
}

/// The heap objects of dense storage with their creation order: through the name index (B-tree
/// type 5 for links, 8 for attributes, whose records carry the creation order), or, when `direct`
/// gives the object length and order does not matter (links are sorted by name), straight from
/// the heap if that is provably complete. Heap order is allocation order, not creation order.
pub(crate) fn objects<'a>(
    ctx: &Ctx<'a>,
    heap_addr: u64,
    btree_addr: u64,
    direct: Option<Measure>,
) -> PResult<DenseObjects<'a>> {
    let mut needs = Needs::default();
    let heap = needs.take(heap_header(ctx, heap_addr))?;
    // The name index header is fetched in the same wave, in case it is needed.
    let (so, sl) = (u64::from(ctx.so), u64::from(ctx.sl));
    needs.take(ctx.bytes(btree_addr, 22 + so + sl))?;
    needs.check()?;
    let heap = heap.ok_or_else(|| malformed(heap_addr, "dense storage incomplete"))?;
    let blocks = heap.direct_blocks(ctx)?;
    if let Some(objs) = direct.and_then(|m| sequential(ctx, &heap, &blocks, m)) {
        return Ok(DenseObjects {
            here: objs,
            shared: Vec::new(),
        });
    }
    let (btype, records) = btree_v2::records(ctx, btree_addr)?;
    let huge = match heap.huge_btree {
        Some(b) if records.iter().any(|r| is_huge(btype, heap.id_len, r)) => huge_objects(ctx, b)?,
        _ => Vec::new(),
    };
    let mut needs = Needs::default();
    let mut out = Vec::with_capacity(records.len());
    let mut shared = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let (id, order) = match btype {
            5 => (r.get(4..4 + heap.id_len), i as u64),
            6 => (r.get(8..8 + heap.id_len), i as u64),
            8 | 9 => {
                let flags = r.get(heap.id_len).copied().unwrap_or(0);
                let order = r
                    .get(heap.id_len + 1..heap.id_len + 5)
                    .map_or(i as u64, |b| {
                        u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    });
                // Message flag "shared": the ID names the message in the shared message heap.
                if flags & 0x02 != 0 {
                    let mut id = [0u8; 8];
                    let raw = r.get(0..8).ok_or_else(|| {
                        malformed(btree_addr, "v2 B-tree record shorter than a heap ID")
                    })?;
                    id.copy_from_slice(raw);
                    shared.push((id, order));
                    continue;
                }
                (r.get(0..heap.id_len), order)
            }
            t => return Err(unsupported(format!("v2 B-tree type {t} as a name index"))),
        };
        let id =
            id.ok_or_else(|| malformed(btree_addr, "v2 B-tree record shorter than a heap ID"))?;
        if let Some(o) = needs.take(heap.object(ctx, heap_addr, &blocks, &huge, id))? {
            out.push((o, order));
        }
    }
    needs.check()?;
    Ok(DenseObjects { here: out, shared })
}

/// The objects of dense storage: those in its own heap (bytes, creation order), and attribute
/// messages shared through the shared message table (heap ID there, creation order).
pub(crate) struct DenseObjects<'a> {
    pub here: Vec<(&'a [u8], u64)>,
    pub shared: Vec<([u8; 8], u64)>,
}

fn is_huge(btype: u8, id_len: usize, record: &[u8]) -> bool {
    let at = match btype {
        5 => 4,
        6 => 8,
        _ => 0,
    };
    record.get(at).is_some_and(|b| (b >> 4) & 0x03 == 1) && id_len > 0
}

/// Records of a huge-object B-tree (type 1, unfiltered, indirectly accessed): (address,
/// length, id).
/// One object of the fractal heap at `heap_addr`, by heap ID (III.G), as owned bytes.
pub(crate) fn heap_object(ctx: &Ctx<'_>, heap_addr: u64, id: &[u8]) -> PResult<Vec<u8>> {
    let heap = heap_header(ctx, heap_addr)?;
    let blocks = heap.direct_blocks(ctx)?;
    let huge = match (heap.huge_btree, id.first().map(|b| (b >> 4) & 0x03)) {
        (Some(b), Some(1)) => huge_objects(ctx, b)?,
        _ => Vec::new(),
    };
    Ok(heap.object(ctx, heap_addr, &blocks, &huge, id)?.to_vec())
}

fn huge_objects(ctx: &Ctx<'_>, btree: u64) -> PResult<Vec<(u64, u64, u64)>> {
    let (btype, records) = btree_v2::records(ctx, btree)?;
    if btype != 1 {
        return Err(unsupported(format!(
            "huge objects indexed by v2 B-tree type {btype} (filtered heap)"
        )));
    }
    records
        .iter()
        .map(|r| {
            let mut c = Cur::new(r, btree, *ctx);
            let addr = c
                .addr()?
                .ok_or_else(|| malformed(btree, "huge object without address"))?;
            Ok((addr, c.length()?, c.length()?))
        })
        .collect()
}
