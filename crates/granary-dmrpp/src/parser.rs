//! Streaming quick-xml reader of DMR++ documents (docs/dmrpp-reference.md sections 2-3).
//! Elements and attributes are matched by local name, whatever namespace URI (or none) their
//! prefix is bound to. Only the predefined XML entities and character references are expanded;
//! a DTD's custom entities are never expanded (an entity-expansion attack is an error).

use granary_core::{AttrValue, Attribute};
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::DmrppError;
use crate::document::{ChunkElem, ChunksElem, DimRef, Document, GroupDoc, Variable};
use crate::tag_attrs::TagAttrs;
use crate::types::{self, AttrKind};

/// What the current text belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Capture {
    None,
    Value,
    ChunkSizes,
    Compact,
    Missing,
    Vlsa { count: usize, zipped: bool },
}

struct AttrBuilder {
    name: String,
    kind: AttrKind,
    /// The values, parsed as they end (most attributes have one: no list is allocated).
    first: Option<AttrValue>,
    rest: Vec<AttrValue>,
    children: Vec<Attribute>,
}

impl AttrBuilder {
    fn push(&mut self, v: AttrValue) {
        if self.first.is_none() {
            self.first = Some(v);
        } else {
            self.rest.push(v);
        }
    }

    /// The attribute, its value a container's children, its one value, or the list of them.
    fn into_attribute(self) -> Attribute {
        let value = if self.kind == AttrKind::Container {
            AttrValue::Compound(
                self.children
                    .into_iter()
                    .map(|a| (a.name, a.value))
                    .collect(),
            )
        } else {
            match (self.first, self.rest.is_empty()) {
                (Some(v), true) => v,
                (first, _) => AttrValue::Array(first.into_iter().chain(self.rest).collect()),
            }
        };
        Attribute::new(self.name, value)
    }
}

/// Bound on attribute nesting, against hostile documents.
const MAX_DEPTH: usize = 64;
/// Bound on group nesting (HDF5 products nest a few levels): a deeper document is refused
/// before its group paths, which grow with the depth, cost memory quadratic in its size.
const MAX_GROUP_DEPTH: usize = 64;

struct State<'u> {
    url: &'u str,
    doc: Document,
    groups: Vec<usize>,
    var: Option<Variable>,
    /// Nesting of Structure/Sequence elements (their members are not variables of the group).
    struct_depth: usize,
    attrs: Vec<AttrBuilder>,
    capture: Capture,
    text: String,
}

impl State<'_> {
    fn invalid(&self, message: impl Into<String>) -> DmrppError {
        DmrppError::Invalid {
            url: self.url.into(),
            message: message.into(),
        }
    }

    fn group(&mut self) -> Result<&mut GroupDoc, DmrppError> {
        let i = *self.groups.last().ok_or_else(|| DmrppError::Invalid {
            url: self.url.into(),
            message: "content outside <Dataset>".into(),
        })?;
        Ok(&mut self.doc.groups[i])
    }

    fn parse_u64(&self, v: Option<&str>, what: &str) -> Result<u64, DmrppError> {
        v.and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| self.invalid(format!("{what} is missing or not an unsigned integer")))
    }

    fn start(&mut self, e: &BytesStart<'_>, a: &TagAttrs, empty: bool) -> Result<(), DmrppError> {
        let local = e.local_name();
        let name: &str = local.as_ref();
        let in_var = self.var.is_some();
        // The most frequent elements first (a match on strings tests its arms in order).
        match name {
            "Attribute" if self.struct_depth == 0 => {
                if self.attrs.len() >= MAX_DEPTH {
                    return Err(self.invalid("attribute containers nested too deeply"));
                }
                self.attrs.push(AttrBuilder {
                    name: a.get(e, "name").unwrap_or_default().to_string(),
                    kind: AttrKind::of(a.get(e, "type").unwrap_or("String")),
                    first: None,
                    rest: Vec::new(),
                    children: Vec::new(),
                });
                if empty {
                    self.end_attribute()?;
                }
            }
            "Value" if self.struct_depth == 0 => {
                self.begin(Capture::Value);
                if empty {
                    self.end_text()?;
                }
            }
            "Dataset" => {
                self.doc.href = a.get(e, "href").map(str::to_string);
                self.doc.name = a.get(e, "name").map(str::to_string);
                self.doc.version = a.get(e, "version").map(str::to_string);
                self.doc.groups.push(GroupDoc::default());
                self.groups.push(self.doc.groups.len() - 1);
            }
            "Group" if !in_var => {
                if self.groups.len() > MAX_GROUP_DEPTH {
                    return Err(
                        self.invalid(format!("groups nested more than {MAX_GROUP_DEPTH} deep"))
                    );
                }
                let parent = self.group()?.path.clone();
                let n = a
                    .get(e, "name")
                    .ok_or_else(|| self.invalid("<Group> without a name"))?;
                let path = if parent.is_empty() {
                    n.to_string()
                } else {
                    format!("{parent}/{n}")
                };
                self.doc.groups.push(GroupDoc {
                    path,
                    ..Default::default()
                });
                self.groups.push(self.doc.groups.len() - 1);
                if empty {
                    self.groups.pop();
                }
            }
            "Dimension" if !in_var => {
                let n = a
                    .get(e, "name")
                    .ok_or_else(|| self.invalid("<Dimension> without a name"))?
                    .to_string();
                let size = self.parse_u64(a.get(e, "size"), "Dimension size")?;
                self.group()?.dims.push((n, size));
            }
            "Enumeration" if !in_var => {
                let n = a.get(e, "name").unwrap_or_default().to_string();
                let base = a.get(e, "basetype").unwrap_or("Int32").to_string();
                self.group()?.enums.push((n, base, Vec::new()));
            }
            "EnumConst" if !in_var => {
                let n = a.get(e, "name").unwrap_or_default().to_string();
                let value = a
                    .get(e, "value")
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .unwrap_or(0);
                if let Some(e) = self.group()?.enums.last_mut() {
                    e.2.push((n, value));
                }
            }
            "Structure" | "Sequence" => {
                if self.struct_depth == 0 && self.var.is_none() {
                    let g = self.group()?.path.clone();
                    let n = a.get(e, "name").unwrap_or_default();
                    let p = if g.is_empty() {
                        n.to_string()
                    } else {
                        format!("{g}/{n}")
                    };
                    self.doc
                        .unsupported
                        .push((p, format!("DAP4 {name} (HDF5 compound) variables")));
                }
                if !empty {
                    self.struct_depth += 1;
                }
            }
            t if types::is_variable(t) && self.struct_depth == 0 && self.var.is_none() => {
                let v = Variable {
                    dap_type: t.to_string(),
                    name: a
                        .get(e, "name")
                        .ok_or_else(|| self.invalid(format!("<{t}> without a name")))?
                        .to_string(),
                    enum_type: a.get(e, "enum").map(str::to_string),
                    ..Default::default()
                };
                self.var = Some(v);
                if empty {
                    self.end_variable()?;
                }
            }
            _ if self.struct_depth > 0 => {}
            "Dim" => {
                let d = match (a.get(e, "name"), a.get(e, "size")) {
                    (Some(n), None) => DimRef::Named(n.to_string()),
                    (None, Some(s)) => DimRef::Size(self.parse_u64(Some(s), "Dim size")?),
                    _ => return Err(self.invalid("<Dim> needs exactly one of name= and size=")),
                };
                if let Some(v) = self.var.as_mut() {
                    v.dims.push(d);
                }
            }
            "chunks" => {
                let c = ChunksElem {
                    compression: a.get(e, "compressionType").unwrap_or_default().to_string(),
                    deflate_levels: a.get(e, "deflateLevel").unwrap_or_default().to_string(),
                    fill_value: a.get(e, "fillValue").map(str::to_string),
                    byte_order: a.get(e, "byteOrder").map(str::to_string),
                    ..Default::default()
                };
                if let Some(v) = self.var.as_mut() {
                    v.chunks = Some(c);
                }
            }
            "chunkDimensionSizes" => self.begin(Capture::ChunkSizes),
            "chunk" => {
                let position = match a.get(e, "chunkPositionInArray") {
                    Some(p) => Some(
                        p.trim_matches(|c| c == '[' || c == ']')
                            .split(',')
                            .map(|x| x.trim().parse::<u64>())
                            .collect::<Result<Vec<u64>, _>>()
                            .map_err(|_| self.invalid(format!("bad chunkPositionInArray {p:?}")))?,
                    ),
                    None => None,
                };
                let c = ChunkElem {
                    offset: self.parse_u64(a.get(e, "offset"), "chunk offset")?,
                    nbytes: self.parse_u64(a.get(e, "nBytes"), "chunk nBytes")?,
                    position,
                    filter_mask: a.get(e, "fm").and_then(|m| m.parse().ok()).unwrap_or(0),
                    href: a.get(e, "href").map(str::to_string),
                };
                if let Some(v) = self.var.as_mut() {
                    match v.chunks.as_mut() {
                        Some(ch) => ch.chunks.push(c),
                        None => v.bare_chunks.push(c),
                    }
                }
            }
            "block" => {
                if let Some(ch) = self.var.as_mut().and_then(|v| v.chunks.as_mut()) {
                    ch.has_blocks = true;
                }
            }
            "compact" => self.begin(Capture::Compact),
            "missingdata" => self.begin(Capture::Missing),
            "vlsa" => {
                if let Some(v) = self.var.as_mut() {
                    v.vlsa = Some(Vec::new());
                }
            }
            "v" => {
                let count = a
                    .get(e, "c")
                    .and_then(|c| c.parse::<usize>().ok())
                    .unwrap_or(1);
                self.begin(Capture::Vlsa {
                    count,
                    zipped: a.get(e, "s").is_some(),
                });
                if empty {
                    self.end_text()?;
                }
            }
            "FixedLengthStringArray" => {
                let len = self.parse_u64(a.get(e, "string_length"), "string_length")? as usize;
                let pad = a.get(e, "pad").unwrap_or("null_term").to_string();
                if let Some(v) = self.var.as_mut() {
                    v.fixed_string = Some((len, pad));
                }
            }
            "specialstructuredata" => {
                if let Some(v) = self.var.as_mut() {
                    v.special_structure = true;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn begin(&mut self, c: Capture) {
        self.capture = c;
        self.text.clear();
    }

    fn end_text(&mut self) -> Result<(), DmrppError> {
        let capture = std::mem::replace(&mut self.capture, Capture::None);
        // Values and chunk sizes are parsed from the buffer, which is kept for the next text;
        // the other captures keep the text itself.
        match capture {
            Capture::None => {}
            Capture::Value => {
                if let Some(a) = self.attrs.last_mut() {
                    a.push(a.kind.value(&self.text));
                }
            }
            Capture::ChunkSizes => {
                let sizes = self
                    .text
                    .split_whitespace()
                    .map(|s| s.parse::<u64>())
                    .collect::<Result<Vec<u64>, _>>()
                    .map_err(|_| {
                        self.invalid(format!("bad chunkDimensionSizes {:?}", self.text))
                    })?;
                if let Some(c) = self.var.as_mut().and_then(|v| v.chunks.as_mut())
                    && c.chunk_sizes.is_none()
                {
                    c.chunk_sizes = Some(sizes);
                }
            }
            Capture::Compact => {
                let text = std::mem::take(&mut self.text);
                if let Some(v) = self.var.as_mut() {
                    v.compact = Some(text);
                }
            }
            Capture::Missing => {
                let text = std::mem::take(&mut self.text);
                if let Some(v) = self.var.as_mut() {
                    v.missing_data = Some(text);
                }
            }
            Capture::Vlsa { count, zipped } => {
                let text = std::mem::take(&mut self.text);
                let value = if zipped {
                    crate::inline::zlib_base64_text(&text).map_err(|m| self.invalid(m))?
                } else {
                    text
                };
                if count > 1 << 26 {
                    return Err(self.invalid("vlsa repeat count too large"));
                }
                if let Some(list) = self.var.as_mut().and_then(|v| v.vlsa.as_mut()) {
                    list.extend(std::iter::repeat_n(Some(value), count));
                }
            }
        }
        self.text.clear();
        Ok(())
    }

    fn end_attribute(&mut self) -> Result<(), DmrppError> {
        let Some(b) = self.attrs.pop() else {
            return Ok(());
        };
        let attr = b.into_attribute();
        if let Some(parent) = self.attrs.last_mut() {
            parent.children.push(attr);
            return Ok(());
        }
        if let Some(v) = self.var.as_mut() {
            v.attrs.push(attr);
            return Ok(());
        }
        let g = self.group()?;
        match attr.name.as_str() {
            // Builder provenance, not granule metadata.
            "build_dmrpp_metadata" => {}
            "DODS_EXTRA" => {
                if let AttrValue::Compound(fields) = &attr.value {
                    for (k, v) in fields {
                        if k == "Unlimited_Dimension"
                            && let Some(s) = v.as_str()
                        {
                            g.unlimited.push(s.to_string());
                        }
                    }
                }
            }
            // Some handler modes put global attributes in a container.
            "HDF5_GLOBAL" => {
                if let AttrValue::Compound(fields) = attr.value {
                    g.attrs
                        .extend(fields.into_iter().map(|(k, v)| Attribute::new(k, v)));
                }
            }
            _ => g.attrs.push(attr),
        }
        Ok(())
    }

    fn end_variable(&mut self) -> Result<(), DmrppError> {
        if let Some(v) = self.var.take() {
            self.group()?.variables.push(v);
        }
        Ok(())
    }

    fn end(&mut self, name: &str) -> Result<(), DmrppError> {
        match name {
            "Structure" | "Sequence" => self.struct_depth = self.struct_depth.saturating_sub(1),
            _ if self.struct_depth > 0 => {}
            "Group" if self.var.is_none() => {
                self.groups.pop();
            }
            "Attribute" => self.end_attribute()?,
            "Value" | "chunkDimensionSizes" | "compact" | "missingdata" | "v" => self.end_text()?,
            t if types::is_variable(t) => self.end_variable()?,
            _ => {}
        }
        Ok(())
    }
}

/// Reads a DMR++ document into its raw [`Document`].
pub(crate) fn read(xml: &[u8], url: &str) -> Result<Document, DmrppError> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(false);
    let mut st = State {
        url,
        doc: Document::default(),
        groups: Vec::new(),
        var: None,
        struct_depth: 0,
        attrs: Vec::new(),
        capture: Capture::None,
        text: String::new(),
    };
    let xml_err = |reader: &Reader<&[u8]>, message: String| DmrppError::Xml {
        url: url.into(),
        position: reader.buffer_position(),
        message,
    };
    let mut tag_attrs = TagAttrs::default();
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| xml_err(&reader, e.to_string()))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                tag_attrs
                    .read(e, url)
                    .and_then(|()| st.start(e, &tag_attrs, empty))
                    .map_err(|e| with_position(e, &reader))?;
            }
            Event::End(e) => st
                .end(e.local_name().as_ref())
                .map_err(|e| with_position(e, &reader))?,
            Event::Text(t) if st.capture != Capture::None => {
                let s = t.xml_content(XmlVersion::Implicit1_0);
                st.text.push_str(&s);
            }
            Event::CData(t) if st.capture != Capture::None => {
                st.text.push_str(&t.into_inner());
            }
            Event::GeneralRef(r) => {
                let resolved = match r
                    .resolve_char_ref()
                    .map_err(|e| xml_err(&reader, e.to_string()))?
                {
                    Some(c) => c.to_string(),
                    None => {
                        let name: &str = &r;
                        let name = name.to_string();
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| xml_err(&reader, format!("undefined entity &{name}; (custom entities are never expanded)")))?
                            .to_string()
                    }
                };
                if st.capture != Capture::None {
                    st.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    // Only a <Dataset> element adds the root group.
    if st.doc.groups.is_empty() {
        return Err(DmrppError::Invalid {
            url: url.into(),
            message: "no <Dataset> root element".into(),
        });
    }
    Ok(st.doc)
}

fn with_position(e: DmrppError, reader: &Reader<&[u8]>) -> DmrppError {
    match e {
        DmrppError::Xml {
            url,
            position: 0,
            message,
        } => DmrppError::Xml {
            url,
            position: reader.buffer_position(),
            message,
        },
        other => other,
    }
}
