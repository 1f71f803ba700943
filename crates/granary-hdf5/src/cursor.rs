//! Byte access for the sans-IO parser: [`Ctx`] maps file addresses onto the range cache and
//! reports missing ranges; [`Cur`] decodes little-endian fields (HDF5 spec, "Conventions").

use crate::RangeCache;
use crate::global_heap::HeapIndex;

use crate::error::{Fail, PResult, malformed};

/// Per-file parse context: the bytes seen so far and the superblock's field sizes.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub cache: &'a RangeCache,
    /// Where the objects of the global heap collections read so far lie.
    pub heaps: &'a HeapIndex,
    /// Size of file addresses ("offsets") in bytes.
    pub so: u8,
    /// Size of lengths in bytes.
    pub sl: u8,
    /// Base address: every file address is relative to it.
    pub base: u64,
}

/// Upper bound for any single metadata structure; larger sizes are treated as corrupt.
pub(crate) const MAX_STRUCT: u64 = 64 * 1024 * 1024;

impl<'a> Ctx<'a> {
    /// The bytes at relative address `addr`, or `Need`.
    pub fn bytes(&self, addr: u64, len: u64) -> PResult<&'a [u8]> {
        if len > MAX_STRUCT {
            return Err(malformed(
                addr,
                format!("structure of {len} bytes is implausibly large"),
            ));
        }
        let abs = self
            .base
            .checked_add(addr)
            .filter(|a| {
                a.checked_add(len)
                    .is_some_and(|e| e <= self.cache.object_size())
            })
            .ok_or_else(|| {
                malformed(
                    addr,
                    format!(
                        "{len} bytes at address {addr} lie beyond the end of the file ({} bytes)",
                        self.cache.object_size()
                    ),
                )
            })?;
        match self.cache.get(abs, len) {
            Some(b) => Ok(b),
            None => Err(Fail::Need(vec![abs..abs + len])),
        }
    }

    /// Up to `len` bytes at `addr`, fewer if the file ends first (for speculative prefixes).
    pub fn prefix(&self, addr: u64, len: u64) -> PResult<&'a [u8]> {
        let avail = self
            .cache
            .object_size()
            .saturating_sub(self.base.saturating_add(addr));
        self.bytes(addr, len.min(avail))
    }

    pub fn cur(&self, addr: u64, len: u64) -> PResult<Cur<'a>> {
        Ok(Cur::new(self.bytes(addr, len)?, addr, *self))
    }
    /// A context for unit tests: 8-byte addresses and lengths, base 0.
    #[cfg(test)]
    pub fn for_test(cache: &'a RangeCache, heaps: &'a HeapIndex) -> Self {
        Self {
            cache,
            heaps,
            so: 8,
            sl: 8,
            base: 0,
        }
    }
}

/// A little-endian reader over one structure.
pub(crate) struct Cur<'a> {
    buf: &'a [u8],
    pos: usize,
    addr: u64,
    so: u8,
    sl: u8,
}

impl<'a> Cur<'a> {
    pub fn new(buf: &'a [u8], addr: u64, ctx: Ctx<'_>) -> Self {
        Self {
            buf,
            pos: 0,
            addr,
            so: ctx.so,
            sl: ctx.sl,
        }
    }

    /// A reader over a buffer not in the file (message bodies, heap objects).
    pub fn detached(buf: &'a [u8], addr: u64, so: u8, sl: u8) -> Self {
        Self {
            buf,
            pos: 0,
            addr,
            so,
            sl,
        }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn here(&self) -> u64 {
        self.addr + self.pos as u64
    }

    pub fn sizes(&self) -> (u8, u8) {
        (self.so, self.sl)
    }

    pub fn take(&mut self, n: usize) -> PResult<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| {
                malformed(
                    self.here(),
                    format!(
                        "structure truncated: wanted {n} bytes, {} left",
                        self.remaining()
                    ),
                )
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub fn skip(&mut self, n: usize) -> PResult<()> {
        self.take(n).map(|_| ())
    }

    pub fn u8(&mut self) -> PResult<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> PResult<u16> {
        Ok(self.uint(2)? as u16)
    }

    pub fn u32(&mut self) -> PResult<u32> {
        Ok(self.uint(4)? as u32)
    }

    pub fn u64(&mut self) -> PResult<u64> {
        self.uint(8)
    }

    /// An unsigned little-endian integer of `n` (<= 8) bytes.
    pub fn uint(&mut self, n: usize) -> PResult<u64> {
        if n > 8 {
            return Err(malformed(
                self.here(),
                format!("integer field of {n} bytes"),
            ));
        }
        let mut le = [0u8; 8];
        le[..n].copy_from_slice(self.take(n)?);
        Ok(u64::from_le_bytes(le))
    }

    /// A file address; `None` for the undefined address (all bits set).
    pub fn addr(&mut self) -> PResult<Option<u64>> {
        let n = usize::from(self.so);
        let v = self.uint(n)?;
        let undef = if n >= 8 {
            u64::MAX
        } else {
            (1u64 << (8 * n)) - 1
        };
        Ok(if v == undef { None } else { Some(v) })
    }

    pub fn length(&mut self) -> PResult<u64> {
        self.uint(usize::from(self.sl))
    }

    /// Checks a 4-byte signature.
    pub fn sig(&mut self, expected: &[u8; 4]) -> PResult<()> {
        let at = self.here();
        let got = self.take(4)?;
        if got != expected {
            return Err(malformed(
                at,
                format!(
                    "expected signature {:?}, found {:?}",
                    String::from_utf8_lossy(expected),
                    String::from_utf8_lossy(got)
                ),
            ));
        }
        Ok(())
    }

    /// A NUL-terminated string (the NUL is consumed).
    pub fn cstr(&mut self) -> PResult<String> {
        let rest = &self.buf[self.pos..];
        let n = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| malformed(self.here(), "unterminated name"))?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }

    /// Skips to the next multiple of 8 relative to `origin` (a position in this buffer).
    pub fn align8(&mut self, origin: usize) -> PResult<()> {
        let rel = self.pos - origin;
        let pad = (8 - rel % 8) % 8;
        self.skip(pad.min(self.remaining()))
    }
}

/// Bytes needed to encode values up to `max` (HDF5's `H5VM_limit_enc_size`).
pub(crate) fn enc_size(max: u64) -> usize {
    (63 - max.max(1).leading_zeros() as usize) / 8 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enc_size_matches_hdf5() {
        assert_eq!(enc_size(255), 1);
        assert_eq!(enc_size(256), 2);
        assert_eq!(enc_size(65535), 2);
        assert_eq!(enc_size(65536), 3);
    }

    #[test]
    fn undefined_address() {
        let b = [0xffu8; 8];
        let mut c = Cur::detached(&b, 0, 8, 8);
        assert_eq!(c.addr().unwrap(), None);
    }
}
