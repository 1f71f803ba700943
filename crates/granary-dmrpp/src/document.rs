//! The raw content of a DMR++ document, as read by [`crate::parser`]: groups, dimensions,
//! variables with their `dmrpp:*` storage elements, attributes. No interpretation yet.

use granary_core::Attribute;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DimRef {
    /// A shared dimension, by (usually fully qualified) name.
    Named(String),
    /// An anonymous dimension of this size.
    Size(u64),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ChunkElem {
    pub offset: u64,
    pub nbytes: u64,
    /// Element coordinates of the chunk's first element (`chunkPositionInArray`).
    pub position: Option<Vec<u64>>,
    pub filter_mask: u32,
    pub href: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ChunksElem {
    pub compression: String,
    pub deflate_levels: String,
    pub fill_value: Option<String>,
    pub byte_order: Option<String>,
    pub chunk_sizes: Option<Vec<u64>>,
    pub chunks: Vec<ChunkElem>,
    pub has_blocks: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Variable {
    pub dap_type: String,
    pub name: String,
    /// `enum=` of an `Enum` variable.
    pub enum_type: Option<String>,
    pub dims: Vec<DimRef>,
    pub attrs: Vec<Attribute>,
    pub chunks: Option<ChunksElem>,
    /// Legacy `dmrpp:chunk` directly under the variable.
    pub bare_chunks: Vec<ChunkElem>,
    pub compact: Option<String>,
    pub missing_data: Option<String>,
    pub vlsa: Option<Vec<Option<String>>>,
    /// `dmrpp:FixedLengthStringArray` `string_length` and `pad`.
    pub fixed_string: Option<(usize, String)>,
    pub special_structure: bool,
}

impl Variable {
    pub fn has_storage(&self) -> bool {
        self.chunks.is_some()
            || !self.bare_chunks.is_empty()
            || self.compact.is_some()
            || self.missing_data.is_some()
            || self.vlsa.is_some()
            || self.special_structure
    }
}

/// An `Enumeration`: name, base type, constants.
pub(crate) type Enumeration = (String, String, Vec<(String, i64)>);

#[derive(Debug, Clone, Default)]
pub(crate) struct GroupDoc {
    /// Path without leading slash (`""` for the root).
    pub path: String,
    pub dims: Vec<(String, u64)>,
    pub attrs: Vec<Attribute>,
    pub variables: Vec<Variable>,
    pub enums: Vec<Enumeration>,
    /// Dimension names listed in `DODS_EXTRA/Unlimited_Dimension`.
    pub unlimited: Vec<String>,
}

/// A parsed document.
#[derive(Debug, Clone, Default)]
pub(crate) struct Document {
    pub href: Option<String>,
    /// `Dataset name=`: the data file's name.
    pub name: Option<String>,
    pub version: Option<String>,
    /// Every group, parents before children.
    pub groups: Vec<GroupDoc>,
    /// Variables of unsupported kinds (Structure, Sequence), by path.
    pub unsupported: Vec<(String, String)>,
}
