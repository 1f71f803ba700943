//! Version 2 B-trees (spec III.A.2): every record, read level by level (one wave per level).

use std::collections::HashSet;

use crate::cursor::{Ctx, Cur, enc_size};
use crate::error::{Needs, PResult, malformed};

/// The tree's type and every record of the v2 B-tree at `addr`.
pub(crate) fn records<'a>(ctx: &Ctx<'a>, addr: u64) -> PResult<(u8, Vec<&'a [u8]>)> {
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
