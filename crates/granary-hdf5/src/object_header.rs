//! Object headers version 1 and 2 with continuation blocks (spec IV.A.1).
//!
//! An object header is parsed in steps: the prefix gives chunk 0's size, chunk 0 gives its
//! messages and the continuation blocks, which are fetched together. Messages are returned
//! raw (type, flags, body) and decoded by [`crate::messages`].

use crate::cursor::{Ctx, Cur};
use crate::error::{PResult, malformed, unsupported};

pub(crate) mod msg {
    pub const NIL: u16 = 0x00;
    pub const DATASPACE: u16 = 0x01;
    pub const LINK_INFO: u16 = 0x02;
    pub const DATATYPE: u16 = 0x03;
    pub const FILL_OLD: u16 = 0x04;
    pub const FILL: u16 = 0x05;
    pub const LINK: u16 = 0x06;
    pub const EXTERNAL: u16 = 0x07;
    pub const LAYOUT: u16 = 0x08;
    pub const FILTERS: u16 = 0x0B;
    pub const ATTRIBUTE: u16 = 0x0C;
    pub const CONTINUATION: u16 = 0x10;
    pub const SYMBOL_TABLE: u16 = 0x11;
    pub const ATTRIBUTE_INFO: u16 = 0x15;
    pub const SHARED_MESSAGE_TABLE: u16 = 0x0F;
}

/// One header message.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub kind: u16,
    pub flags: u8,
    /// Absolute-in-file (relative to base) address of the body.
    pub addr: u64,
    pub body: Vec<u8>,
}

impl Message {
    pub fn is_shared(&self) -> bool {
        self.flags & 0x02 != 0
    }
}

/// A parsed object header.
#[derive(Debug, Clone)]
pub(crate) struct ObjectHeader {
    pub addr: u64,
    pub messages: Vec<Message>,
}

impl ObjectHeader {
    pub fn find(&self, kind: u16) -> Option<&Message> {
        self.messages.iter().find(|m| m.kind == kind)
    }

    pub fn all(&self, kind: u16) -> impl Iterator<Item = &Message> {
        self.messages.iter().filter(move |m| m.kind == kind)
    }
}

/// Continuation blocks may chain; bound how many one header may have.
const MAX_CONTINUATIONS: usize = 4096;

/// Parses the whole object header at `addr`, following continuation blocks.
pub(crate) fn parse(ctx: &Ctx<'_>, addr: u64) -> PResult<ObjectHeader> {
    let first = ctx.prefix(addr, 4)?;
    if first == b"OHDR" {
        parse_v2(ctx, addr)
    } else if first.first() == Some(&1) {
        parse_v1(ctx, addr)
    } else {
        Err(malformed(
            addr,
            format!("not an object header (starts with {:02x?})", first),
        ))
    }
}

fn parse_v1(ctx: &Ctx<'_>, addr: u64) -> PResult<ObjectHeader> {
    let mut c = ctx.cur(addr, 16)?;
    c.skip(2)?; // version, reserved
    let nmsgs = c.u16()? as usize;
    c.skip(4)?; // reference count
    let size = u64::from(c.u32()?);
    let mut messages = Vec::with_capacity(nmsgs.min(1024));
    let mut blocks = vec![(addr + 16, size)];
    let mut i = 0;
    while i < blocks.len() {
        if blocks.len() > MAX_CONTINUATIONS {
            return Err(malformed(addr, "too many continuation blocks"));
        }
        let (baddr, blen) = blocks[i];
        i += 1;
        let mut c = ctx.cur(baddr, blen)?;
        while c.remaining() >= 8 {
            let kind = c.u16()?;
            let len = c.u16()? as usize;
            let flags = c.u8()?;
            c.skip(3)?;
            let body_addr = c.here();
            let body = c.take(len)?.to_vec();
            c.align8(0)?;
            push_message(
                ctx,
                &mut messages,
                &mut blocks,
                kind,
                flags,
                body_addr,
                body,
            )?;
        }
    }
    Ok(ObjectHeader { addr, messages })
}

fn parse_v2(ctx: &Ctx<'_>, addr: u64) -> PResult<ObjectHeader> {
    let pre = ctx.prefix(addr, 32)?;
    let mut c = Cur::new(pre, addr, *ctx);
    c.skip(4)?;
    let version = c.u8()?;
    if version != 2 {
        return Err(malformed(addr, format!("object header version {version}")));
    }
    let flags = c.u8()?;
    if flags & 0x20 != 0 {
        c.skip(16)?; // times
    }
    if flags & 0x10 != 0 {
        c.skip(4)?; // attribute phase change values
    }
    let size_len = 1usize << (flags & 0x03);
    let chunk0 = c.uint(size_len)?;
    let start = addr + c.pos() as u64;
    let track_order = flags & 0x04 != 0;
    let mut messages = Vec::new();
    let mut blocks = vec![(start, chunk0, false)];
    let mut i = 0;
    while i < blocks.len() {
        if blocks.len() > MAX_CONTINUATIONS {
            return Err(malformed(addr, "too many continuation blocks"));
        }
        let (baddr, blen, is_cont) = blocks[i];
        i += 1;
        let (mut c, end) = if is_cont {
            let mut c = ctx.cur(baddr, blen)?;
            c.sig(b"OCHK")?;
            (c, blen.saturating_sub(4) as usize)
        } else {
            (ctx.cur(baddr, blen)?, blen as usize)
        };
        let hdr_len = if track_order { 6 } else { 4 };
        while c.pos() + hdr_len <= end {
            let kind = u16::from(c.u8()?);
            let len = c.u16()? as usize;
            let mflags = c.u8()?;
            if track_order {
                c.skip(2)?;
            }
            let body_addr = c.here();
            let body = c.take(len)?.to_vec();
            let mut conts = Vec::new();
            push_message(
                ctx,
                &mut messages,
                &mut conts,
                kind,
                mflags,
                body_addr,
                body,
            )?;
            blocks.extend(conts.into_iter().map(|(a, l)| (a, l, true)));
        }
    }
    Ok(ObjectHeader { addr, messages })
}

/// Records a message; continuation messages add a block to read instead.
fn push_message(
    ctx: &Ctx<'_>,
    messages: &mut Vec<Message>,
    blocks: &mut Vec<(u64, u64)>,
    kind: u16,
    flags: u8,
    addr: u64,
    body: Vec<u8>,
) -> PResult<()> {
    if kind == msg::CONTINUATION {
        let mut c = Cur::detached(&body, addr, ctx.so, ctx.sl);
        let at = c
            .addr()?
            .ok_or_else(|| malformed(addr, "continuation to undefined address"))?;
        let len = c.length()?;
        blocks.push((at, len));
        return Ok(());
    }
    if kind == msg::NIL {
        return Ok(());
    }
    if flags & 0x08 != 0 && kind != msg::ATTRIBUTE {
        // "fail if unknown" bit on a message we do not interpret is fine as long as we ignore it;
        // it only matters for messages that change how data is read.
        if !matches!(kind, 0x00..=0x18) {
            return Err(unsupported(format!(
                "object header message type {kind:#x} marked as required"
            )));
        }
    }
    messages.push(Message {
        kind,
        flags,
        addr,
        body,
    });
    Ok(())
}
