//! Group membership (spec IV.A.2.c/g/r, III.B, III.C): old-style symbol-table groups (v1 B-tree
//! + local heap + symbol nodes), compact link messages and dense links in a fractal heap.

use crate::btree_v1;
use crate::cursor::{Ctx, Cur};
use crate::dense;
use crate::error::{Needs, PResult, malformed};
use crate::messages::{self, Link};
use crate::object_header::{ObjectHeader, msg};

/// Every link of a group, sorted by name.
pub(crate) fn links(ctx: &Ctx<'_>, header: &ObjectHeader) -> PResult<Vec<Link>> {
    let mut out = Vec::new();
    let mut needs = Needs::default();
    for m in header.all(msg::LINK) {
        out.push(messages::link(&mut Cur::detached(
            &m.body, m.addr, ctx.so, ctx.sl,
        ))?);
    }
    if let Some(m) = header.find(msg::LINK_INFO) {
        let info =
            messages::dense_info(&mut Cur::detached(&m.body, m.addr, ctx.so, ctx.sl), false)?;
        if let (Some(heap), Some(index)) = (info.heap, info.name_index)
            && let Some(objs) = needs.take(dense::objects(ctx, heap, index, Some(link_len)))?
        {
            for (o, _) in objs.here {
                out.push(messages::link(&mut Cur::detached(o, heap, ctx.so, ctx.sl))?);
            }
        }
    }
    if let Some(m) = header.find(msg::SYMBOL_TABLE) {
        let (btree, heap) =
            messages::symbol_table(&mut Cur::detached(&m.body, m.addr, ctx.so, ctx.sl))?;
        if let Some(l) = needs.take(symbol_table_links(ctx, btree, heap))? {
            out.extend(l);
        }
    }
    needs.check()?;
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn symbol_table_links(ctx: &Ctx<'_>, btree: u64, heap: u64) -> PResult<Vec<Link>> {
    let so = u64::from(ctx.so);
    let sl = u64::from(ctx.sl);
    let mut needs = Needs::default();
    // Local heap header (III.D) and the B-tree, fetched in the same wave.
    let heap_hdr = needs.take(ctx.cur(heap, 8 + 2 * sl + so))?;
    let leaves = needs.take(btree_v1::leaves(ctx, btree, 0, sl as usize))?;
    needs.check()?;
    let (Some(mut h), Some(leaves)) = (heap_hdr, leaves) else {
        return Err(malformed(heap, "symbol table incomplete"));
    };
    h.sig(b"HEAP")?;
    h.skip(4)?;
    let data_size = h.length()?;
    h.length()?;
    let data_addr = h
        .addr()?
        .ok_or_else(|| malformed(heap, "local heap without data segment"))?;
    let heap_data = needs.take(ctx.bytes(data_addr, data_size))?;
    let entry = 2 * so + 24;
    let mut nodes = Vec::new();
    for e in &leaves {
        let Some(head) = needs.take(ctx.bytes(e.child, 8))? else {
            continue;
        };
        let mut c = Cur::new(head, e.child, *ctx);
        c.sig(b"SNOD")?;
        c.skip(2)?;
        let n = u64::from(c.u16()?);
        if let Some(b) = needs.take(ctx.bytes(e.child + 8, n * entry))? {
            nodes.push((e.child, n, b));
        }
    }
    needs.check()?;
    let heap_data = heap_data.ok_or_else(|| malformed(heap, "local heap data missing"))?;
    let mut out = Vec::new();
    for (addr, n, b) in nodes {
        let mut c = Cur::new(b, addr + 8, *ctx);
        for _ in 0..n {
            let name_off = c.length_as_offset()?;
            // Soft links (cache type 2) have no object header address.
            let target = c.addr()?;
            c.skip(24)?;
            let name_bytes = heap_data
                .get(name_off as usize..)
                .ok_or_else(|| malformed(data_addr, "link name offset outside the local heap"))?;
            let end = name_bytes
                .iter()
                .position(|x| *x == 0)
                .unwrap_or(name_bytes.len());
            let name = String::from_utf8_lossy(&name_bytes[..end]).into_owned();
            out.push(Link {
                name,
                target,
                soft: None,
                creation_order: None,
            });
        }
    }
    Ok(out)
}

impl Cur<'_> {
    /// A "length"-sized field that holds an offset into a local heap.
    fn length_as_offset(&mut self) -> PResult<u64> {
        let (so, _) = self.sizes();
        self.uint(usize::from(so))
    }
}

/// Length of the link message at the start of `b` (for reading dense link storage directly).
fn link_len(b: &[u8], so: u8, sl: u8) -> Option<usize> {
    let mut c = Cur::detached(b, 0, so, sl);
    messages::link(&mut c).ok()?;
    Some(c.pos())
}
