//! Decoders of the header messages the scanner uses (spec IV.A.2): dataspace, fill value,
//! data layout, filter pipeline, link, link info, attribute info, symbol table, attribute.

use std::borrow::Cow;

use granary_core::{Codec, DType};

use crate::cursor::Cur;
use crate::datatype;
use crate::error::{PResult, malformed, unsupported};

/// Dataspace (IV.A.2.b).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dataspace {
    /// `None` for the null dataspace.
    pub dims: Option<Vec<u64>>,
    pub max: Option<Vec<u64>>,
}

impl Dataspace {
    pub fn shape(&self) -> &[u64] {
        self.dims.as_deref().unwrap_or(&[])
    }

    pub fn n_elements(&self) -> u64 {
        match &self.dims {
            None => 0,
            Some(d) => d.iter().fold(1u64, |a, x| a.saturating_mul(*x)),
        }
    }

    pub fn unlimited(&self, axis: usize) -> bool {
        self.max
            .as_ref()
            .and_then(|m| m.get(axis))
            .is_some_and(|m| *m == u64::MAX)
    }
}

pub(crate) fn dataspace(c: &mut Cur<'_>) -> PResult<Dataspace> {
    let at = c.here();
    let version = c.u8()?;
    let rank = c.u8()? as usize;
    let flags = c.u8()?;
    let mut null = false;
    match version {
        1 => c.skip(5)?,
        2 => null = c.u8()? == 2,
        v => return Err(malformed(at, format!("dataspace version {v}"))),
    }
    if rank > 32 {
        return Err(malformed(at, format!("dataspace rank {rank}")));
    }
    let mut dims = Vec::with_capacity(rank);
    for _ in 0..rank {
        dims.push(c.length()?);
    }
    let max = if flags & 1 != 0 {
        let mut m = Vec::with_capacity(rank);
        for _ in 0..rank {
            let v = c.length()?;
            let (_, sl) = c.sizes();
            let all = if sl >= 8 {
                u64::MAX
            } else {
                (1u64 << (8 * sl)) - 1
            };
            m.push(if v == all { u64::MAX } else { v });
        }
        Some(m)
    } else {
        None
    };
    Ok(Dataspace {
        dims: if null { None } else { Some(dims) },
        max,
    })
}

/// The fill value bytes, if one is defined (IV.A.2.e/f).
pub(crate) fn fill_value(c: &mut Cur<'_>, old: bool) -> PResult<Option<Vec<u8>>> {
    if old {
        let n = c.u32()? as usize;
        return Ok(if n == 0 {
            None
        } else {
            Some(c.take(n)?.to_vec())
        });
    }
    let at = c.here();
    let version = c.u8()?;
    match version {
        1 | 2 => {
            c.skip(2)?; // allocation time, write time
            let defined = c.u8()?;
            if version == 2 && defined == 0 {
                return Ok(None);
            }
            let n = c.u32()? as usize;
            Ok(if n == 0 {
                None
            } else {
                Some(c.take(n)?.to_vec())
            })
        }
        3 => {
            let flags = c.u8()?;
            if flags & 0x20 == 0 {
                return Ok(None);
            }
            let n = c.u32()? as usize;
            Ok(if n == 0 {
                None
            } else {
                Some(c.take(n)?.to_vec())
            })
        }
        v => Err(malformed(at, format!("fill value message version {v}"))),
    }
}

/// How a chunked dataset indexes its chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChunkIndex {
    BTreeV1 {
        addr: Option<u64>,
    },
    Single {
        addr: Option<u64>,
        filtered: Option<(u64, u32)>,
    },
    Implicit {
        addr: Option<u64>,
    },
    FixedArray {
        addr: Option<u64>,
        page_bits: u8,
    },
    ExtensibleArray {
        addr: Option<u64>,
    },
    BTreeV2 {
        addr: Option<u64>,
    },
}

/// Data layout (IV.A.2.i), versions 1-5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Layout {
    Compact {
        data: Vec<u8>,
    },
    Contiguous {
        addr: Option<u64>,
        size: u64,
    },
    Chunked {
        chunk: Vec<u64>,
        index: ChunkIndex,
        layout_version: u8,
    },
    Virtual,
}

pub(crate) fn layout(c: &mut Cur<'_>) -> PResult<Layout> {
    let at = c.here();
    let version = c.u8()?;
    match version {
        1 | 2 => {
            let rank = c.u8()? as usize;
            let class = c.u8()?;
            c.skip(5)?;
            let addr = if class != 0 { c.addr()? } else { None };
            let mut dims = Vec::with_capacity(rank);
            for _ in 0..rank {
                dims.push(u64::from(c.u32()?));
            }
            match class {
                0 => {
                    let n = c.u32()? as usize;
                    Ok(Layout::Compact {
                        data: c.take(n)?.to_vec(),
                    })
                }
                1 => Ok(Layout::Contiguous {
                    addr,
                    size: dims.iter().fold(1u64, |a, x| a.saturating_mul(*x)),
                }),
                2 => {
                    dims.pop();
                    Ok(Layout::Chunked {
                        chunk: dims,
                        index: ChunkIndex::BTreeV1 { addr },
                        layout_version: version,
                    })
                }
                k => Err(malformed(at, format!("layout class {k}"))),
            }
        }
        3..=5 => {
            let class = c.u8()?;
            match class {
                0 => {
                    let n = c.u16()? as usize;
                    Ok(Layout::Compact {
                        data: c.take(n)?.to_vec(),
                    })
                }
                1 => {
                    let addr = c.addr()?;
                    let size = c.length()?;
                    Ok(Layout::Contiguous { addr, size })
                }
                2 if version == 3 => {
                    let rank = c.u8()? as usize;
                    let addr = c.addr()?;
                    let mut dims = Vec::with_capacity(rank);
                    for _ in 0..rank {
                        dims.push(u64::from(c.u32()?));
                    }
                    dims.pop();
                    Ok(Layout::Chunked {
                        chunk: dims,
                        index: ChunkIndex::BTreeV1 { addr },
                        layout_version: 3,
                    })
                }
                2 => {
                    let flags = c.u8()?;
                    let rank = c.u8()? as usize;
                    let enc = c.u8()? as usize;
                    let mut dims = Vec::with_capacity(rank);
                    for _ in 0..rank {
                        dims.push(c.uint(enc)?);
                    }
                    dims.pop();
                    let itype = c.u8()?;
                    let index = match itype {
                        1 => {
                            let filtered = if flags & 0x02 != 0 {
                                let size = c.length()?;
                                let mask = c.u32()?;
                                Some((size, mask))
                            } else {
                                None
                            };
                            ChunkIndex::Single {
                                addr: c.addr()?,
                                filtered,
                            }
                        }
                        2 => ChunkIndex::Implicit { addr: c.addr()? },
                        3 => {
                            let page_bits = c.u8()?;
                            ChunkIndex::FixedArray {
                                addr: c.addr()?,
                                page_bits,
                            }
                        }
                        4 => {
                            c.skip(5)?;
                            ChunkIndex::ExtensibleArray { addr: c.addr()? }
                        }
                        5 => {
                            c.skip(6)?;
                            ChunkIndex::BTreeV2 { addr: c.addr()? }
                        }
                        t => return Err(malformed(at, format!("chunk index type {t}"))),
                    };
                    Ok(Layout::Chunked {
                        chunk: dims,
                        index,
                        layout_version: version,
                    })
                }
                3 => Ok(Layout::Virtual),
                k => Err(malformed(at, format!("layout class {k}"))),
            }
        }
        v => Err(unsupported(format!("data layout message version {v}"))),
    }
}

/// One filter of a pipeline message (IV.A.2.l).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    pub id: u16,
    pub name: String,
    pub optional: bool,
    pub params: Vec<u32>,
}

pub(crate) fn filters(c: &mut Cur<'_>) -> PResult<Vec<Filter>> {
    let at = c.here();
    let version = c.u8()?;
    let n = c.u8()? as usize;
    if version == 1 {
        c.skip(6)?;
    } else if version != 2 {
        return Err(malformed(at, format!("filter pipeline version {version}")));
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let id = c.u16()?;
        let name_len = if version == 1 || id >= 256 {
            c.u16()? as usize
        } else {
            0
        };
        let flags = c.u16()?;
        let nvals = c.u16()? as usize;
        let mut name = String::new();
        if name_len > 0 {
            let raw = c.take(if version == 1 {
                name_len.div_ceil(8) * 8
            } else {
                name_len
            })?;
            let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
            name = String::from_utf8_lossy(&raw[..end]).into_owned();
        }
        let mut params = Vec::with_capacity(nvals.min(64));
        for _ in 0..nvals {
            params.push(c.u32()?);
        }
        if version == 1 && nvals % 2 == 1 {
            c.skip(4)?;
        }
        out.push(Filter {
            id,
            name,
            optional: flags & 1 != 0,
            params,
        });
    }
    Ok(out)
}

/// Codecs in encode order from a filter list.
pub(crate) fn codecs(filters: &[Filter], element_size: usize) -> Vec<Codec> {
    filters
        .iter()
        .map(|f| Codec::from_hdf5(f.id, &f.name, &f.params, element_size))
        .collect()
}

/// A link (IV.A.2.g): a named hard link to an object header, or a soft/external link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub name: String,
    /// Hard link target; `None` for soft and external links.
    pub target: Option<u64>,
    /// Soft link value (a path); `None` for hard and external links.
    pub soft: Option<String>,
    pub creation_order: Option<u64>,
}

pub(crate) fn link(c: &mut Cur<'_>) -> PResult<Link> {
    let at = c.here();
    let version = c.u8()?;
    if version != 1 {
        return Err(malformed(at, format!("link message version {version}")));
    }
    let flags = c.u8()?;
    let ltype = if flags & 0x08 != 0 { c.u8()? } else { 0 };
    let creation_order = if flags & 0x04 != 0 {
        Some(c.u64()?)
    } else {
        None
    };
    if flags & 0x10 != 0 {
        c.skip(1)?;
    }
    let nlen = c.uint(1 << (flags & 0x03))? as usize;
    let name = String::from_utf8_lossy(c.take(nlen)?).into_owned();
    let target = match ltype {
        0 => Some(
            c.addr()?
                .ok_or_else(|| malformed(at, format!("hard link {name:?} to undefined address")))?,
        ),
        _ => None,
    };
    let soft = if ltype == 1 {
        let n = c.u16()? as usize;
        Some(
            String::from_utf8_lossy(c.take(n)?)
                .trim_end_matches('\0')
                .to_string(),
        )
    } else {
        None
    };
    Ok(Link {
        name,
        target,
        soft,
        creation_order,
    })
}

/// Addresses of dense storage (link info IV.A.2.c / attribute info IV.A.2.v).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DenseInfo {
    pub heap: Option<u64>,
    pub name_index: Option<u64>,
}

pub(crate) fn dense_info(c: &mut Cur<'_>, attribute: bool) -> PResult<DenseInfo> {
    let at = c.here();
    let version = c.u8()?;
    if version != 0 {
        return Err(malformed(
            at,
            format!("link/attribute info version {version}"),
        ));
    }
    let flags = c.u8()?;
    if flags & 1 != 0 {
        c.skip(if attribute { 2 } else { 8 })?;
    }
    let heap = c.addr()?;
    let name_index = c.addr()?;
    Ok(DenseInfo { heap, name_index })
}

/// Symbol table message (IV.A.2.r): v1 B-tree and local heap of an old-style group.
pub(crate) fn symbol_table(c: &mut Cur<'_>) -> PResult<(u64, u64)> {
    let at = c.here();
    let btree = c
        .addr()?
        .ok_or_else(|| malformed(at, "symbol table without B-tree"))?;
    let heap = c
        .addr()?
        .ok_or_else(|| malformed(at, "symbol table without local heap"))?;
    Ok((btree, heap))
}

/// A raw attribute (IV.A.2.m): name, type, space and undecoded value bytes.
/// The value bytes are borrowed from the message body they were read from.
#[derive(Debug, Clone)]
pub(crate) struct RawAttribute<'a> {
    pub name: String,
    /// The datatype, or the address of the committed datatype it shares.
    pub dtype: Result<DType, u64>,
    pub space: Dataspace,
    pub data: Cow<'a, [u8]>,
    /// Address of the data (for error messages).
    pub addr: u64,
}

impl RawAttribute<'_> {
    /// The attribute with its value bytes copied (when its message body is short-lived).
    pub(crate) fn into_owned(self) -> RawAttribute<'static> {
        RawAttribute {
            name: self.name,
            dtype: self.dtype,
            space: self.space,
            data: Cow::Owned(self.data.into_owned()),
            addr: self.addr,
        }
    }
}

pub(crate) fn attribute<'a>(c: &mut Cur<'a>) -> PResult<RawAttribute<'a>> {
    let at = c.here();
    let version = c.u8()?;
    let flags = c.u8()?;
    if flags & 0x02 != 0 {
        return Err(unsupported("attribute with a shared dataspace"));
    }
    let name_len = c.u16()? as usize;
    let dt_len = c.u16()? as usize;
    let ds_len = c.u16()? as usize;
    let pad = |n: usize| if version == 1 { n.div_ceil(8) * 8 } else { n };
    if version == 3 {
        c.skip(1)?;
    } else if version != 1 && version != 2 {
        return Err(malformed(
            at,
            format!("attribute message version {version}"),
        ));
    }
    let raw = c.take(pad(name_len))?;
    let end = raw
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(raw.len().min(name_len));
    let name = String::from_utf8_lossy(&raw[..end]).into_owned();
    let (so, sl) = c.sizes();
    let dt_at = c.here();
    let dt_raw = c.take(pad(dt_len))?;
    let mut dc = Cur::detached(dt_raw, dt_at, so, sl);
    let dtype = if flags & 0x01 != 0 {
        Err(shared_address(&mut dc)?)
    } else {
        Ok(datatype::parse(&mut dc)?)
    };
    let ds_at = c.here();
    let ds_raw = c.take(pad(ds_len))?;
    let space = dataspace(&mut Cur::detached(ds_raw, ds_at, so, sl))?;
    let Ok(dt) = &dtype else {
        // Committed type: its size is not known here; the walker re-reads the value.
        let addr = c.here();
        let rest = c.take(c.remaining())?;
        return Ok(RawAttribute {
            name,
            dtype,
            space,
            data: Cow::Borrowed(rest),
            addr,
        });
    };
    let n = usize::try_from(space.n_elements().saturating_mul(dt.size() as u64))
        .map_err(|_| malformed(at, "attribute too large"))?;
    let addr = c.here();
    let data = Cow::Borrowed(c.take(n)?);
    Ok(RawAttribute {
        name,
        dtype,
        space,
        data,
        addr,
    })
}

/// The object header address a shared message points at (IV.A.2, "Shared Message").
pub(crate) fn shared_address(c: &mut Cur<'_>) -> PResult<u64> {
    let at = c.here();
    let version = c.u8()?;
    let kind = c.u8()?;
    match version {
        1 => c.skip(6)?,
        2 => {}
        3 if kind == 2 => {}
        3 => {
            return Err(unsupported(
                "message shared through the shared object header message heap",
            ));
        }
        v => return Err(malformed(at, format!("shared message version {v}"))),
    }
    c.addr()?
        .ok_or_else(|| malformed(at, "shared message with undefined address"))
}
