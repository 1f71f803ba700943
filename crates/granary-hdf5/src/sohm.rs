//! Shared object header messages (HDF5 format spec III.H "Shared Object Header Message Table",
//! IV.A.2.p "Shared Message Table Message", IV.A.2 "Shared Message" version 3): messages that
//! several objects share are stored once in a fractal heap; object headers hold an 8-byte heap
//! ID instead. The table is found through the superblock extension.

use crate::cursor::{Ctx, Cur};
use crate::dense::heap_object;
use crate::error::{PResult, malformed, unsupported};
use crate::object_header::{Message, ObjectHeader, msg};

/// The indexes of the shared message table: (message type flags, fractal heap address).
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedTable {
    indexes: Vec<(u16, u64)>,
}

/// Reads the table named by the superblock extension's shared message table message.
pub(crate) fn table(ctx: &Ctx<'_>, ext: &ObjectHeader) -> PResult<SharedTable> {
    let Some(m) = ext.find(msg::SHARED_MESSAGE_TABLE) else {
        return Ok(SharedTable::default());
    };
    let mut c = Cur::detached(&m.body, m.addr, ctx.so, ctx.sl);
    let version = c.u8()?;
    if version != 0 {
        return Err(malformed(
            m.addr,
            format!("shared message table message version {version}"),
        ));
    }
    let addr = c
        .addr()?
        .ok_or_else(|| malformed(m.addr, "shared message table address undefined"))?;
    let n = usize::from(c.u8()?);
    let so = u64::from(ctx.so);
    let entry = 1 + 1 + 2 + 4 + 2 + 2 + 2 + 2 * so;
    let mut c = ctx.cur(addr, 4 + entry * n as u64 + 4)?;
    c.sig(b"SMTB")?;
    let mut indexes = Vec::with_capacity(n);
    for _ in 0..n {
        c.skip(2)?; // version, index type (list or B-tree: only needed to add messages)
        let flags = c.u16()?;
        c.skip(4 + 2 + 2 + 2)?; // minimum size, list and B-tree cutoffs, message count
        c.addr()?; // index
        let heap = c
            .addr()?
            .ok_or_else(|| malformed(addr, "shared message index without a heap"))?;
        indexes.push((flags, heap));
    }
    Ok(SharedTable { indexes })
}

/// The heap ID of a message shared through the table (shared message version 3, type 1), or
/// None for other encodings (e.g. a committed datatype in another object header).
pub(crate) fn heap_id(m: &Message) -> Option<[u8; 8]> {
    if !m.is_shared() || m.body.len() < 10 || m.body[0] != 3 || m.body[1] != 1 {
        return None;
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&m.body[2..10]);
    Some(id)
}

/// The body of a message shared through the table.
pub(crate) fn resolve(ctx: &Ctx<'_>, t: &SharedTable, m: &Message, id: &[u8]) -> PResult<Vec<u8>> {
    let bit = 1u16.checked_shl(u32::from(m.kind)).unwrap_or(0);
    let (_, heap) = t
        .indexes
        .iter()
        .find(|(flags, _)| flags & bit != 0)
        .ok_or_else(|| {
            unsupported(format!(
                "message type {} shared through a table that has no index for it",
                m.kind
            ))
        })?;
    heap_object(ctx, *heap, id)
}

/// An attribute message (version 2 or 3) whose datatype or dataspace is shared through the
/// table, rewritten with those bodies in place and the shared flags cleared; None when nothing
/// in it is shared that way.
pub(crate) fn inline_attribute(
    ctx: &Ctx<'_>,
    t: &SharedTable,
    m: &Message,
) -> PResult<Option<Vec<u8>>> {
    let b = &m.body;
    if b.len() < 8 || !matches!(b[0], 2 | 3) || b[1] & 0x03 == 0 {
        return Ok(None);
    }
    let (version, flags) = (b[0], b[1]);
    let u16_at = |i: usize| usize::from(u16::from_le_bytes([b[i], b[i + 1]]));
    let (name_len, dt_len, ds_len) = (u16_at(2), u16_at(4), u16_at(6));
    let head = if version == 3 { 9 } else { 8 };
    let dt_at = head + name_len;
    let ds_at = dt_at + dt_len;
    let data_at = ds_at + ds_len;
    if b.len() < data_at {
        return Err(malformed(
            m.addr,
            "attribute message shorter than its fields",
        ));
    }
    let part = |bit: u8, kind: u16, raw: &[u8]| -> PResult<Option<Vec<u8>>> {
        if flags & bit == 0 || raw.len() < 10 || raw[0] != 3 || raw[1] != 1 {
            return Ok(None);
        }
        let inner = Message {
            kind,
            flags: 0x02,
            addr: m.addr,
            body: raw.to_vec(),
        };
        resolve(ctx, t, &inner, &raw[2..10]).map(Some)
    };
    let dt = part(0x01, msg::DATATYPE, &b[dt_at..ds_at])?;
    let ds = part(0x02, msg::DATASPACE, &b[ds_at..data_at])?;
    if dt.is_none() && ds.is_none() {
        return Ok(None);
    }
    let mut new_flags = flags;
    if dt.is_some() {
        new_flags &= !0x01;
    }
    if ds.is_some() {
        new_flags &= !0x02;
    }
    let dt = dt.unwrap_or_else(|| b[dt_at..ds_at].to_vec());
    let ds = ds.unwrap_or_else(|| b[ds_at..data_at].to_vec());
    let len16 = |n: usize| -> PResult<[u8; 2]> {
        u16::try_from(n)
            .map(u16::to_le_bytes)
            .map_err(|_| malformed(m.addr, "shared attribute part too large"))
    };
    let mut out = Vec::with_capacity(b.len() + dt.len() + ds.len());
    out.extend_from_slice(&[version, new_flags]);
    out.extend_from_slice(&b[2..4]);
    out.extend_from_slice(&len16(dt.len())?);
    out.extend_from_slice(&len16(ds.len())?);
    out.extend_from_slice(&b[8..dt_at]);
    out.extend_from_slice(&dt);
    out.extend_from_slice(&ds);
    out.extend_from_slice(&b[data_at..]);
    Ok(Some(out))
}
