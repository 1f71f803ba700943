//! Version 1 B-trees (spec III.A.1): group nodes (type 0) and raw-data chunk nodes (type 1).
//! Levels are read breadth first, so one wave fetches every node of a level.

use std::collections::HashSet;

use crate::cursor::{Ctx, Cur};
use crate::error::{Needs, PResult, malformed};

/// A leaf entry: the key that precedes the child, and the child address.
pub(crate) struct Entry<'a> {
    pub key: &'a [u8],
    pub child: u64,
}

const MAX_LEVEL: u8 = 64;

/// Every level-0 entry of the tree rooted at `root`, in key order.
pub(crate) fn leaves<'a>(
    ctx: &Ctx<'a>,
    root: u64,
    node_type: u8,
    key_size: usize,
) -> PResult<Vec<Entry<'a>>> {
    let so = usize::from(ctx.so);
    let mut frontier = vec![root];
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut expected_level: Option<u8> = None;
    while !frontier.is_empty() {
        let mut needs = Needs::default();
        let mut next = Vec::new();
        for addr in &frontier {
            if !seen.insert(*addr) {
                return Err(malformed(*addr, "B-tree node visited twice (cycle)"));
            }
            let Some(head) = needs.take(ctx.bytes(*addr, 8 + 2 * so as u64))? else {
                continue;
            };
            let mut c = Cur::new(head, *addr, *ctx);
            c.sig(b"TREE")?;
            let t = c.u8()?;
            let level = c.u8()?;
            let n = c.u16()? as usize;
            if t != node_type {
                return Err(malformed(
                    *addr,
                    format!("B-tree node type {t}, expected {node_type}"),
                ));
            }
            if level > MAX_LEVEL || expected_level.is_some_and(|l| l != level) {
                return Err(malformed(*addr, format!("unexpected B-tree level {level}")));
            }
            expected_level = Some(level);
            let len = 8 + 2 * so + n * so + (n + 1) * key_size;
            let Some(body) = needs.take(ctx.bytes(*addr, len as u64))? else {
                continue;
            };
            let mut c = Cur::new(body, *addr, *ctx);
            c.skip(8 + 2 * so)?;
            for _ in 0..n {
                let key = c.take(key_size)?;
                let child = c
                    .addr()?
                    .ok_or_else(|| malformed(*addr, "B-tree child with undefined address"))?;
                if level == 0 {
                    out.push(Entry { key, child });
                } else {
                    next.push(child);
                }
            }
        }
        needs.check()?;
        expected_level = expected_level.and_then(|l| l.checked_sub(1));
        frontier = next;
    }
    Ok(out)
}
