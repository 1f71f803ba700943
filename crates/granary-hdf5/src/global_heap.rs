//! Global heap collections (spec III.E): storage of variable-length data and references.

use crate::cursor::{Ctx, Cur};
use crate::error::{PResult, malformed};

/// The bytes of object `index` in the collection at `addr`.
pub(crate) fn object<'a>(ctx: &Ctx<'a>, addr: u64, index: u32) -> PResult<&'a [u8]> {
    let sl = u64::from(ctx.sl);
    let mut c = ctx.cur(addr, 8 + sl)?;
    c.sig(b"GCOL")?;
    c.skip(4)?;
    let size = c.length()?;
    if size < 8 + sl {
        return Err(malformed(addr, "global heap collection too small"));
    }
    let mut c = ctx.cur(addr, size)?;
    c.skip(8 + sl as usize)?;
    while c.remaining() >= 8 + sl as usize {
        let idx = c.u16()?;
        c.skip(6)?;
        let len = c.length()?;
        if idx == 0 {
            break;
        }
        let len =
            usize::try_from(len).map_err(|_| malformed(addr, "global heap object too large"))?;
        let data = c.take(len)?;
        if u32::from(idx) == index {
            return Ok(data);
        }
        let pad = (8 - len % 8) % 8;
        c.skip(pad.min(c.remaining()))?;
    }
    Err(malformed(
        addr,
        format!("global heap object {index} not found"),
    ))
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
