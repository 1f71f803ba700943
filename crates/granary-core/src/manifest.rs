//! The granule manifest: granule -> groups -> arrays -> chunk references.

use serde::{Deserialize, Serialize};

use crate::{AttrValue, Attribute, Codec, DType};

/// Everything granary knows about one granule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct GranuleManifest {
    /// Absolute URL of the data file (`file:///…`, `s3://…`, `https://…`).
    pub url: String,
    /// Size of the object in bytes, when known.
    pub size: Option<u64>,
    /// Entity tag of the object version described, when the store reported one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The root group (path `""`).
    pub root: Group,
    /// Arrays the granule holds that cannot be referenced, with the reason (the per-array
    /// policy `skip` lists them here instead of failing the granule).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedArray>,
}

/// An array left out of a granule's references, and why.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct SkippedArray {
    /// Path from the root without leading slash.
    pub path: String,
    pub reason: String,
}

/// What to do with an array granary cannot reference (an unsupported type, a filter no
/// reader decodes, ...). The one definition: pipeline files read it by serde
/// (`unreferenceable = "error"`), the CLI by clap (`--unreferenceable error`, feature `clap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ArrayPolicy {
    /// Leave the array out and list it (granule, array, reason) in the summary and the errors
    /// table; the granule's other arrays are referenced.
    #[default]
    Skip,
    /// Fail the granule (scan, inventory) or refuse the combine.
    Error,
}

/// A group: dimensions defined here, attributes, arrays and sub-groups.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Group {
    /// Path from the root without leading slash (`""` for the root, `"left"`, `"a/b"`).
    pub path: String,
    pub attrs: Vec<Attribute>,
    pub dims: Vec<Dimension>,
    pub arrays: Vec<ArrayMeta>,
    pub groups: Vec<Group>,
}

impl Group {
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            attrs: Vec::new(),
            dims: Vec::new(),
            arrays: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// This group and every group below it, depth first, parents before children.
    pub fn walk(&self) -> Vec<&Group> {
        let mut out = vec![self];
        for g in &self.groups {
            out.extend(g.walk());
        }
        out
    }

    /// The last component of the path.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or("")
    }
}

/// A named dimension.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Dimension {
    pub name: String,
    pub size: u64,
    pub unlimited: bool,
}

/// How the array's bytes are stored in the source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum StorageLayout {
    Chunked,
    Contiguous,
    Compact,
}

impl StorageLayout {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageLayout::Chunked => "chunked",
            StorageLayout::Contiguous => "contiguous",
            StorageLayout::Compact => "compact",
        }
    }
}

/// Reference to one stored chunk.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ChunkRef {
    /// Position in the chunk grid (element offset divided by chunk shape), one per axis.
    pub index: Vec<u64>,
    /// Absolute byte offset in the object.
    pub offset: u64,
    /// Stored (compressed) length in bytes.
    pub size: u64,
    /// HDF5 filter mask: bit i set means filter i of the pipeline was skipped for this chunk.
    pub filter_mask: u32,
    /// Data URL of this chunk when it differs from the granule URL (DMR++ per-chunk href).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Where the array's values come from.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub enum ArrayData {
    /// Byte ranges of stored chunks (only allocated chunks are listed).
    Chunks(Vec<ChunkRef>),
    /// The whole array's raw, unfiltered bytes (compact storage), in C order.
    Inline(Vec<u8>),
    /// The values of a variable-length string array, in C order (`None` = null string).
    Strings(Vec<Option<String>>),
    /// Not read: a metadata-only scan skipped the chunk index (or the string values). Such an
    /// array has no references and cannot be written to a reference set.
    Unread,
}

/// One array (a netCDF variable, an HDF5 dataset).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ArrayMeta {
    /// Name within its group.
    pub name: String,
    /// Path from the root without leading slash (`"ssha_karin"`, `"left/ssh"`).
    pub path: String,
    /// Dimension names, one per axis (netCDF names; phony names for axes without a scale).
    pub dims: Vec<String>,
    pub shape: Vec<u64>,
    pub dtype: DType,
    pub layout: StorageLayout,
    /// Chunk shape (equal to `shape` for contiguous and compact storage).
    pub chunk_shape: Vec<u64>,
    /// Codec pipeline in encode order.
    pub codecs: Vec<Codec>,
    /// The fill value readers should use: `_FillValue` for netCDF variables, the HDF5 fill
    /// value otherwise, `None` when there is none.
    pub fill_value: Option<AttrValue>,
    /// What the HDF5 library returns for the elements of chunks never written: one element's
    /// stored bytes (the dataset's own fill value, or zeros when it defines none). It differs
    /// from `fill_value` when a file's CF `_FillValue` is not its HDF5 fill value (h5py writes
    /// such files). `None`: not known; readers assume `fill_value`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_fill: Option<Vec<u8>>,
    /// Attributes as stored, minus the bookkeeping ones (`DIMENSION_LIST`, `_Netcdf4Dimid`, ...).
    pub attrs: Vec<Attribute>,
    pub data: ArrayData,
}

impl ArrayMeta {
    /// Number of chunks along each axis of the grid.
    pub fn chunk_grid(&self) -> Vec<u64> {
        self.shape
            .iter()
            .zip(&self.chunk_shape)
            .map(|(s, c)| if *c == 0 { 0 } else { s.div_ceil(*c) })
            .collect()
    }

    /// Stored chunk references, empty for inline data.
    pub fn chunks(&self) -> &[ChunkRef] {
        match &self.data {
            ArrayData::Chunks(c) => c,
            _ => &[],
        }
    }

    /// Sum of stored chunk sizes.
    pub fn stored_bytes(&self) -> u64 {
        match &self.data {
            ArrayData::Chunks(c) => c.iter().map(|c| c.size).sum(),
            ArrayData::Inline(b) => b.len() as u64,
            ArrayData::Strings(s) => s.iter().flatten().map(|s| s.len() as u64).sum(),
            ArrayData::Unread => 0,
        }
    }

    pub fn attr(&self, name: &str) -> Option<&AttrValue> {
        self.attrs.iter().find(|a| a.name == name).map(|a| &a.value)
    }
}

impl GranuleManifest {
    /// Every array of every group.
    pub fn arrays(&self) -> impl Iterator<Item = &ArrayMeta> {
        self.root.walk().into_iter().flat_map(|g| g.arrays.iter())
    }

    /// Looks an array up by its path.
    pub fn array(&self, path: &str) -> Option<&ArrayMeta> {
        self.arrays().find(|a| a.path == path)
    }
}
