//! Superblock versions 0-3 (HDF5 File Format Specification III.A, "Disk Format: Level 0A").

use crate::cursor::{Ctx, Cur};
use crate::error::{Bad, Fail, PResult, malformed, unsupported};

pub(crate) const SIGNATURE: [u8; 8] = [0x89, b'H', b'D', b'F', b'\r', b'\n', 0x1a, b'\n'];

/// What the scanner needs from the superblock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Superblock {
    pub version: u8,
    /// Absolute position of the signature.
    pub at: u64,
    pub so: u8,
    pub sl: u8,
    /// Absolute base address for all relative addresses.
    pub base: u64,
    pub root: u64,
    /// Superblock extension object header (v2/v3; holds e.g. the shared message table).
    pub ext: Option<u64>,
}

/// Finds and parses the superblock. The signature may sit at 0, 512, 1024, 2048, ... (after a
/// user block). `ctx` must have `base = 0`.
pub(crate) fn parse(ctx: &Ctx<'_>) -> PResult<Superblock> {
    let size = ctx.cache.object_size();
    let mut at = 0u64;
    loop {
        if at + 8 > size {
            return Err(Fail::Bad(Bad::NotHdf5, String::new()));
        }
        let sig = ctx.bytes(at, 8)?;
        if sig == SIGNATURE {
            break;
        }
        at = if at == 0 { 512 } else { at * 2 };
    }
    let head = ctx.prefix(at, 128)?;
    let mut c = Cur::new(head, at, *ctx);
    c.skip(8)?;
    let version = c.u8()?;
    match version {
        0 | 1 => {
            c.skip(4)?; // free-space, root symtab, reserved, shared header versions
            let so = c.u8()?;
            let sl = c.u8()?;
            check_sizes(at, so, sl)?;
            c.skip(1)?;
            c.skip(4)?; // group leaf K, internal K
            c.skip(4)?; // consistency flags
            if version == 1 {
                c.skip(4)?; // indexed storage K + reserved
            }
            let mut c = Cur::detached(&head[c.pos()..], at, so, sl);
            let base = c.addr()?.unwrap_or(0);
            c.addr()?; // free space
            c.addr()?; // end of file
            c.addr()?; // driver info
            // Root group symbol table entry.
            c.addr()?; // link name offset
            let root = c
                .addr()?
                .ok_or_else(|| malformed(at, "root group address undefined"))?;
            Ok(Superblock {
                version,
                at,
                so,
                sl,
                base,
                root,
                ext: None,
            })
        }
        2 | 3 => {
            let so = c.u8()?;
            let sl = c.u8()?;
            check_sizes(at, so, sl)?;
            c.skip(1)?; // consistency flags (v3: SWMR bits; the bytes are still valid)
            let mut c = Cur::detached(&head[c.pos()..], at, so, sl);
            let base = c.addr()?.unwrap_or(0);
            let ext = c.addr()?;
            c.addr()?; // end of file
            let root = c
                .addr()?
                .ok_or_else(|| malformed(at, "root group address undefined"))?;
            Ok(Superblock {
                version,
                at,
                so,
                sl,
                base,
                root,
                ext,
            })
        }
        v => Err(unsupported(format!("superblock version {v}"))),
    }
}

fn check_sizes(at: u64, so: u8, sl: u8) -> PResult<()> {
    for s in [so, sl] {
        if !matches!(s, 2 | 4 | 8) {
            return Err(malformed(
                at,
                format!("invalid size of offsets/lengths: {s}"),
            ));
        }
    }
    Ok(())
}
