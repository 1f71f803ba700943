//! One breadth-first pass over the file. A pass parses everything the cache already holds and
//! collects, level by level, every byte range still missing; the driver fetches them in one
//! wave and runs the pass again. Finished pieces are memoised across passes, so a pass costs
//! only the new work. Round trips grow with the depth of the file, not its object count.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use granary_core::{AttrValue, ChunkRef, DType};

use crate::chunks::{self, Geometry};
use crate::cursor::{Ctx, Cur};
use crate::datatype;
use crate::dense;
use crate::error::{Bad, Fail, Needs, PResult, malformed, unsupported};
use crate::groups;
use crate::messages::{self, Dataspace, Filter, Layout};
use crate::object_header::{self, ObjectHeader, msg};
use crate::sohm;
use crate::strings;
use crate::values;

/// A decoded attribute with its stored type.
#[derive(Debug, Clone)]
pub(crate) struct Attr {
    pub name: String,
    pub dtype: DType,
    pub value: AttrValue,
}

/// What a dataset stores.
#[derive(Debug, Clone)]
pub(crate) struct Dataset {
    pub dtype: DType,
    pub space: Dataspace,
    pub layout: Layout,
    pub filters: Vec<Filter>,
    /// The HDF5 fill value decoded with the dataset's type (`None`: not defined).
    pub fill: Option<AttrValue>,
    /// The fill value's stored bytes, exactly as the fill value message holds them.
    pub fill_raw: Option<Vec<u8>>,
    pub chunks: Vec<ChunkRef>,
    pub strings: Option<Vec<Option<String>>>,
    /// False when a metadata-only scan skipped the chunk index and string values.
    pub data_read: bool,
}

/// One object reached from the root.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub addr: u64,
    /// Path without leading slash; `""` for the root.
    pub path: String,
    pub attrs: Vec<Attr>,
    pub dataset: Option<Dataset>,
}

/// An object of a pass, sharing the memoised pieces until the pass completes.
struct Found {
    addr: u64,
    path: String,
    attrs: Arc<Vec<Attr>>,
    dataset: Option<Arc<Dataset>>,
}

impl Found {
    fn into_object(self) -> Object {
        Object {
            addr: self.addr,
            path: self.path,
            attrs: Arc::try_unwrap(self.attrs).unwrap_or_else(|a| (*a).clone()),
            dataset: self
                .dataset
                .map(|d| Arc::try_unwrap(d).unwrap_or_else(|d| (*d).clone())),
        }
    }
}

/// State kept across passes.
#[derive(Default)]
pub(crate) struct Walker {
    headers: HashMap<u64, Arc<ObjectHeader>>,
    links: HashMap<u64, Arc<Vec<messages::Link>>>,
    attrs: HashMap<u64, Arc<Vec<Attr>>>,
    datasets: HashMap<u64, Arc<Dataset>>,
    /// Skip chunk indexes and string values (metadata-only scans).
    pub(crate) skip_data: bool,
    /// The superblock extension (v2/v3), where the shared message table is named.
    pub(crate) extension: Option<u64>,
    shared_table: Option<Arc<sohm::SharedTable>>,
    /// Datasets of the last pass granary cannot express: (path, feature). The file's other
    /// objects are scanned; a malformed dataset still fails the file.
    pub(crate) skipped: Vec<(String, String)>,
}

/// Bound on objects per file, against link cycles and absurd files.
const MAX_OBJECTS: usize = 1_000_000;

/// Bound on chunk references per file (summed over every path that reaches a dataset).
const MAX_CHUNK_REFS: usize = 1 << 26;

impl Walker {
    /// A walker; `skip_data` skips chunk indexes and string values (metadata-only scans).
    pub(crate) fn new(skip_data: bool) -> Self {
        Self {
            skip_data,
            ..Default::default()
        }
    }

    /// Runs one pass. `Err(Fail::Need)` lists every range the pass could not do without.
    /// Objects are materialised only by the pass that completes: earlier passes keep nothing
    /// but the memoised pieces, and the last one moves them out instead of copying them.
    pub(crate) fn pass(&mut self, ctx: &Ctx<'_>, root: u64) -> PResult<Vec<Object>> {
        let mut needs = Needs::default();
        let mut out: Vec<Found> = Vec::new();
        let mut queue = VecDeque::from([(root, String::new())]);
        let mut seen_groups = HashSet::new();
        let mut soft_links = Vec::new();
        let mut visited = 0usize;
        let mut chunk_refs = 0usize;
        self.skipped.clear();
        while let Some((addr, path)) = queue.pop_front() {
            visited += 1;
            if visited > MAX_OBJECTS {
                return Err(malformed(addr, "more than a million objects"));
            }
            let Some(h) = needs.take(self.header(ctx, addr).map_err(|e| e.at(&path)))? else {
                continue;
            };
            let is_dataset = h.find(msg::LAYOUT).is_some()
                || h.find(msg::DATATYPE).is_some() && h.find(msg::DATASPACE).is_some();
            if !is_dataset && h.find(msg::DATATYPE).is_some() {
                continue; // committed datatype: not data
            }
            // A dataset reached by several hard links is listed at each path; a group only once
            // (links back to an ancestor would otherwise loop).
            if !is_dataset && !seen_groups.insert(addr) {
                continue;
            }
            if !is_dataset
                && let Some(links) = needs.take(self.links(ctx, &h).map_err(|e| e.at(&path)))?
            {
                for l in links.iter() {
                    let child = if path.is_empty() {
                        l.name.clone()
                    } else {
                        format!("{path}/{}", l.name)
                    };
                    if let Some(t) = l.target {
                        queue.push_back((t, child));
                    } else if let Some(target) = &l.soft {
                        soft_links.push((child, resolve_soft(&path, target)));
                    }
                }
            }
            let attrs = self.attributes(ctx, &h);
            let dataset = if is_dataset {
                let d = self.dataset(ctx, &h);
                // An unsupported feature of one dataset (its type, layout, an attribute's
                // type) leaves that dataset out, listed; the file's other objects are scanned.
                if let Some(feature) = [&attrs.as_ref().err(), &d.as_ref().err()]
                    .into_iter()
                    .flatten()
                    .find_map(|e| match e {
                        Fail::Bad(Bad::Unsupported { feature }, _) => Some(feature.clone()),
                        _ => None,
                    })
                {
                    self.skipped.push((path, feature));
                    continue;
                }
                match needs.take(d.map_err(|e| e.at(&path)))? {
                    Some(d) => Some(d),
                    None => {
                        needs.take(attrs.map_err(|e| e.at(&path)))?;
                        continue;
                    }
                }
            } else {
                None
            };
            let attrs = needs.take(attrs.map_err(|e| e.at(&path)))?;
            if let Some(attrs) = attrs {
                // Hard links can list one large dataset many times: bound the total.
                chunk_refs += dataset.as_ref().map_or(0, |d| d.chunks.len());
                if chunk_refs > MAX_CHUNK_REFS {
                    return Err(malformed(
                        addr,
                        "more than 2^26 chunk references in one file",
                    ));
                }
                out.push(Found {
                    addr,
                    path,
                    attrs,
                    dataset,
                });
            }
        }
        needs.check()?;
        // Soft links to datasets are listed under their own path too; dangling links and links
        // to groups are not followed.
        for (path, target) in soft_links {
            if let Some(o) = out.iter().find(|o| o.path == target && o.dataset.is_some()) {
                let alias = Found {
                    addr: o.addr,
                    path,
                    attrs: o.attrs.clone(),
                    dataset: o.dataset.clone(),
                };
                out.push(alias);
            }
        }
        // The pass is complete: the memoised pieces are handed over (an object reached by
        // several links is copied once per extra path).
        self.attrs.clear();
        self.datasets.clear();
        Ok(out.into_iter().map(Found::into_object).collect())
    }

    fn header(&mut self, ctx: &Ctx<'_>, addr: u64) -> PResult<Arc<ObjectHeader>> {
        if let Some(h) = self.headers.get(&addr) {
            return Ok(h.clone());
        }
        let mut h = object_header::parse(ctx, addr)?;
        let shared_in_attribute = |m: &object_header::Message| {
            m.kind == msg::ATTRIBUTE && m.body.len() > 1 && m.body[0] >= 2 && m.body[1] & 0x03 != 0
        };
        if h.messages
            .iter()
            .any(|m| sohm::heap_id(m).is_some() || shared_in_attribute(m))
            && self.extension.is_some()
        {
            // Messages kept once in the shared message heap: put their bodies in place, so that
            // everything downstream reads them as if they were stored in this header.
            let table = self.shared_table(ctx, addr)?;
            let mut needs = Needs::default();
            for m in &mut h.messages {
                if let Some(id) = sohm::heap_id(m)
                    && let Some(body) = needs.take(sohm::resolve(ctx, &table, m, &id))?
                {
                    m.body = body;
                    m.flags &= !0x02;
                }
                if shared_in_attribute(m)
                    && let Some(Some(body)) = needs.take(sohm::inline_attribute(ctx, &table, m))?
                {
                    m.body = body;
                }
            }
            needs.check()?;
        }
        let h = Arc::new(h);
        self.headers.insert(addr, h.clone());
        Ok(h)
    }

    /// The shared message table, read once through the superblock extension.
    fn shared_table(&mut self, ctx: &Ctx<'_>, at: u64) -> PResult<Arc<sohm::SharedTable>> {
        if let Some(t) = &self.shared_table {
            return Ok(t.clone());
        }
        let ext = self.extension.ok_or_else(|| {
            malformed(
                at,
                "message shared through the shared message table, but the file has no superblock extension",
            )
        })?;
        let ext = object_header::parse(ctx, ext)?;
        let t = Arc::new(sohm::table(ctx, &ext)?);
        self.shared_table = Some(t.clone());
        Ok(t)
    }

    fn links(&mut self, ctx: &Ctx<'_>, h: &ObjectHeader) -> PResult<Arc<Vec<messages::Link>>> {
        if let Some(l) = self.links.get(&h.addr) {
            return Ok(l.clone());
        }
        let l = Arc::new(groups::links(ctx, h)?);
        self.links.insert(h.addr, l.clone());
        Ok(l)
    }

    fn attributes(&mut self, ctx: &Ctx<'_>, h: &ObjectHeader) -> PResult<Arc<Vec<Attr>>> {
        if let Some(a) = self.attrs.get(&h.addr) {
            return Ok(a.clone());
        }
        let mut raw: Vec<(messages::RawAttribute, u64)> = Vec::new();
        for (i, m) in h.all(msg::ATTRIBUTE).enumerate() {
            if m.is_shared() {
                return Err(unsupported("shared attribute message"));
            }
            raw.push((
                messages::attribute(&mut Cur::detached(&m.body, m.addr, ctx.so, ctx.sl))?,
                i as u64,
            ));
        }
        if let Some(m) = h.find(msg::ATTRIBUTE_INFO) {
            let info =
                messages::dense_info(&mut Cur::detached(&m.body, m.addr, ctx.so, ctx.sl), true)?;
            if let (Some(heap), Some(index)) = (info.heap, info.name_index) {
                let objs = dense::objects(ctx, heap, index, None)?;
                for (o, order) in objs.here {
                    raw.push((
                        messages::attribute(&mut Cur::detached(o, heap, ctx.so, ctx.sl))?,
                        order,
                    ));
                }
                if !objs.shared.is_empty() {
                    let table = self.shared_table(ctx, h.addr)?;
                    let mut needs = Needs::default();
                    for (id, order) in objs.shared {
                        let mut m = object_header::Message {
                            kind: msg::ATTRIBUTE,
                            flags: 0x02,
                            addr: heap,
                            body: Vec::new(),
                        };
                        let Some(body) = needs.take(sohm::resolve(ctx, &table, &m, &id))? else {
                            continue;
                        };
                        m.body = body;
                        m.flags = 0;
                        if let Some(Some(b)) =
                            needs.take(sohm::inline_attribute(ctx, &table, &m))?
                        {
                            m.body = b;
                        }
                        raw.push((
                            messages::attribute(&mut Cur::detached(&m.body, heap, ctx.so, ctx.sl))?
                                .into_owned(),
                            order,
                        ));
                    }
                    needs.check()?;
                }
            }
        }
        raw.sort_by_key(|(_, order)| *order);
        let mut needs = Needs::default();
        let mut out = Vec::with_capacity(raw.len());
        for (mut a, _) in raw {
            if let Err(addr) = a.dtype {
                let Some(dt) = needs.take(self.committed_type(ctx, addr))? else {
                    continue;
                };
                let n = a.space.n_elements().saturating_mul(dt.size() as u64) as usize;
                if let Cow::Borrowed(b) = &mut a.data {
                    *b = b.get(..n).unwrap_or(b);
                } else {
                    a.data.to_mut().truncate(n);
                }
                a.dtype = Ok(dt);
            }
            let Ok(dtype) = &a.dtype else { continue };
            let n = usize::try_from(a.space.n_elements())
                .map_err(|_| malformed(a.addr, "attribute too large"))?;
            let value = if a.space.dims.is_none() {
                Some(AttrValue::Empty)
            } else {
                let scalar = a.space.shape().is_empty();
                needs.take(
                    values::decode(ctx, dtype, &a.data, n, scalar, a.addr)
                        .map_err(|e| attr_context(e, &a.name)),
                )?
            };
            if let Some(value) = value {
                let value = nest(value, a.space.shape());
                out.push(Attr {
                    name: a.name,
                    dtype: dtype.clone(),
                    value,
                });
            }
        }
        needs.check()?;
        let out = Arc::new(out);
        self.attrs.insert(h.addr, out.clone());
        Ok(out)
    }

    /// The datatype stored in a committed datatype object.
    fn committed_type(&mut self, ctx: &Ctx<'_>, addr: u64) -> PResult<DType> {
        let h = self.header(ctx, addr)?;
        let m = h
            .find(msg::DATATYPE)
            .ok_or_else(|| malformed(addr, "committed datatype without a datatype message"))?;
        if m.is_shared() {
            return Err(malformed(
                addr,
                "committed datatype refers to another shared datatype",
            ));
        }
        datatype::parse(&mut Cur::detached(&m.body, m.addr, ctx.so, ctx.sl))
    }

    fn dataset(&mut self, ctx: &Ctx<'_>, h: &ObjectHeader) -> PResult<Arc<Dataset>> {
        if let Some(d) = self.datasets.get(&h.addr) {
            return Ok(d.clone());
        }
        let body = |kind: u16, what: &str| -> PResult<Cur<'_>> {
            let m = h
                .find(kind)
                .ok_or_else(|| malformed(h.addr, format!("dataset without {what} message")))?;
            if m.is_shared() {
                return Err(unsupported(format!(
                    "shared {what} message (committed datatype)"
                )));
            }
            Ok(Cur::detached(&m.body, m.addr, ctx.so, ctx.sl))
        };
        let dtype = match h.find(msg::DATATYPE) {
            Some(m) if m.is_shared() => {
                let addr =
                    messages::shared_address(&mut Cur::detached(&m.body, m.addr, ctx.so, ctx.sl))?;
                self.committed_type(ctx, addr)?
            }
            _ => datatype::parse(&mut body(msg::DATATYPE, "datatype")?)?,
        };
        let space = messages::dataspace(&mut body(msg::DATASPACE, "dataspace")?)?;
        let layout = messages::layout(&mut body(msg::LAYOUT, "layout")?)?;
        if h.find(msg::EXTERNAL).is_some() {
            return Err(unsupported("external raw data storage"));
        }
        let filters = match h.find(msg::FILTERS) {
            Some(m) => messages::filters(&mut Cur::detached(&m.body, m.addr, ctx.so, ctx.sl))?,
            None => Vec::new(),
        };
        let fill_raw = if let Some(m) = h.find(msg::FILL) {
            messages::fill_value(&mut Cur::detached(&m.body, m.addr, ctx.so, ctx.sl), false)?
        } else if let Some(m) = h.find(msg::FILL_OLD) {
            messages::fill_value(&mut Cur::detached(&m.body, m.addr, ctx.so, ctx.sl), true)?
        } else {
            None
        };
        let fill_raw = fill_raw.filter(|raw| {
            raw.len() == dtype.size() && !matches!(dtype, DType::VlenString { .. } | DType::Vlen(_))
        });
        let fill = match &fill_raw {
            Some(raw) => Some(values::one(ctx, &dtype, raw, h.addr)?),
            None => None,
        };
        let shape = space.shape().to_vec();
        let elem = dtype.size() as u64;
        let chunk_refs = match &layout {
            Layout::Virtual => return Err(unsupported("virtual dataset")),
            Layout::Chunked { .. } if self.skip_data => Vec::new(),
            Layout::Chunked { chunk, index, .. } => {
                let g = Geometry::new(
                    &shape,
                    space.max.as_deref(),
                    chunk,
                    elem,
                    !filters.is_empty(),
                );
                chunks::list(ctx, index, &g)?
            }
            Layout::Contiguous {
                addr: Some(a),
                size,
            } if *size > 0 => {
                vec![ChunkRef {
                    index: vec![0; shape.len()],
                    offset: ctx.base + a,
                    size: *size,
                    filter_mask: 0,
                    url: None,
                }]
            }
            Layout::Contiguous { .. } | Layout::Compact { .. } => Vec::new(),
        };
        // A reference past the end of the object would read garbage or fail later: the file is
        // truncated or corrupt.
        let size = ctx.cache.object_size();
        if let Some(c) = chunk_refs
            .iter()
            .find(|c| c.offset.saturating_add(c.size) > size)
        {
            return Err(malformed(
                c.offset,
                format!(
                    "chunk of {} bytes at byte {} extends past the end of the file ({size} bytes)",
                    c.size, c.offset
                ),
            ));
        }
        let strings = if matches!(dtype, DType::VlenString { .. }) && !self.skip_data {
            Some(strings::read(ctx, &layout, &chunk_refs, &filters, &shape)?)
        } else {
            None
        };
        let data_read = !(self.skip_data
            && (matches!(layout, Layout::Chunked { .. })
                || matches!(dtype, DType::VlenString { .. })));
        let d = Arc::new(Dataset {
            dtype,
            space,
            layout,
            filters,
            fill,
            fill_raw,
            chunks: chunk_refs,
            strings,
            data_read,
        });
        self.datasets.insert(h.addr, d.clone());
        Ok(d)
    }
}

fn attr_context(e: Fail, name: &str) -> Fail {
    match e {
        Fail::Bad(Bad::Format { address, message }, o) => Fail::Bad(
            Bad::Format {
                address,
                message: format!("attribute {name:?}: {message}"),
            },
            o,
        ),
        other => other,
    }
}

/// Gives a flat attribute array the nesting of its dataspace (row-major).
fn nest(v: AttrValue, dims: &[u64]) -> AttrValue {
    match v {
        // Only non-empty arrays whose size really is the product of the dims (no zero-length
        // axis, which would let a huge other axis through).
        AttrValue::Array(items)
            if dims.len() > 1
                && !items.is_empty()
                && items.len() as u64 == dims.iter().fold(1u64, |a, x| a.saturating_mul(*x)) =>
        {
            let inner: u64 = dims[1..].iter().product();
            let mut rows = Vec::with_capacity(items.len().min(dims[0] as usize));
            let mut it = items.into_iter();
            for _ in 0..dims[0] {
                let row: Vec<AttrValue> = it.by_ref().take(inner as usize).collect();
                rows.push(nest(AttrValue::Array(row), &dims[1..]));
            }
            AttrValue::Array(rows)
        }
        other => other,
    }
}

/// The object path (no leading slash) a soft link value names, from the group at `group`.
fn resolve_soft(group: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') || group.is_empty() {
        Vec::new()
    } else {
        group.split('/').collect()
    };
    for p in target.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    parts.join("/")
}
