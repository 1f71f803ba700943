//! Bringing a writable session to a combined reference set, changing only what differs from the
//! branch's tip (Icechunk spec: nodes, chunk manifests):
//!
//! - nodes absent from the set are deleted; groups and arrays are added, or updated when their
//!   `zarr.json` (shape, codecs, attributes) changed;
//! - per array, each chunk's payload is compared with the one the tip holds: a virtual reference
//!   (URL, offset, length, and the object's ETag as Icechunk's checksum) or inline bytes; only
//!   differing chunks are set, and chunks the set no longer has are deleted (before a resize, so
//!   that their coordinates are still valid).
//!
//! The granules (URLs) referenced before and after are tallied for the commit message.

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use futures::StreamExt;
use icechunk::format::manifest::{Checksum, ChunkPayload, VirtualChunkLocation, VirtualChunkRef};
use icechunk::format::snapshot::{ArrayShape, DimensionName, NodeData, NodeSnapshot};
use icechunk::format::{ChunkIndices, Path};
use icechunk::session::Session;
use icechunk::storage::ETag;

use crate::error::IcechunkError;
use crate::metadata::V3Array;

/// (coordinates, payload) of every written chunk position of an array.
pub type Chunks = Vec<(ChunkIndices, ChunkPayload)>;

/// One array to write: its path (no leading `/`), v3 metadata, and what makes its payload per
/// chunk position (called once, when the array's turn comes).
pub struct ArrayWrite<'a> {
    pub path: String,
    pub meta: V3Array,
    pub chunks: Box<dyn FnOnce() -> Result<Chunks, IcechunkError> + Send + 'a>,
}

/// What syncing changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncStats {
    pub nodes_added: usize,
    pub nodes_updated: usize,
    pub nodes_deleted: usize,
    pub chunks_set: usize,
    pub chunks_deleted: usize,
    /// URL → checksum referenced at the tip (filled by `sync`), and in the new set (filled by
    /// the caller, which knows the set's URLs).
    pub before: HashMap<String, Option<Checksum>>,
    pub after: HashMap<String, Option<Checksum>>,
}

/// Coordinates of C-order linear position `index` in `grid` (a scalar: none).
pub fn coords(grid: &[u64], index: u64) -> ChunkIndices {
    let mut out = vec![0u32; grid.len()];
    let mut rest = index;
    for d in (0..grid.len()).rev() {
        let n = grid[d].max(1);
        out[d] = u32::try_from(rest % n).unwrap_or(u32::MAX);
        rest /= n;
    }
    ChunkIndices(out)
}

/// Where a granule's references point: its location (URL checked once) and checksum (the
/// object's ETag when the inventory saw one).
#[derive(Debug, Clone)]
pub struct Target {
    location: VirtualChunkLocation,
    checksum: Option<Checksum>,
}

impl Target {
    pub fn new(url: &str, etag: Option<&str>) -> Result<Self, String> {
        Ok(Self {
            location: VirtualChunkLocation::from_absolute_path(url).map_err(|e| e.to_string())?,
            checksum: etag.map(|e| Checksum::ETag(ETag(e.to_string()))),
        })
    }

    pub fn url(&self) -> &str {
        self.location.url()
    }

    pub fn checksum(&self) -> Option<&Checksum> {
        self.checksum.as_ref()
    }

    /// A virtual reference to bytes `offset..offset + length` of this object.
    pub fn chunk(&self, offset: u64, length: u64) -> ChunkPayload {
        ChunkPayload::Virtual(VirtualChunkRef {
            location: self.location.clone(),
            offset,
            length,
            checksum: self.checksum.clone(),
        })
    }
}

/// Inline chunk bytes.
pub fn inline(bytes: &[u8]) -> ChunkPayload {
    ChunkPayload::Inline(Bytes::copy_from_slice(bytes))
}

fn node_path(location: &str, path: &str) -> Result<Path, IcechunkError> {
    Path::new(&format!("/{path}")).map_err(|e| IcechunkError::Path {
        location: location.to_string(),
        path: path.to_string(),
        reason: format!("{e:?}"),
    })
}

fn tally(map: &mut HashMap<String, Option<Checksum>>, p: &ChunkPayload) {
    if let ChunkPayload::Virtual(v) = p
        && !map.contains_key(v.location.url())
    {
        map.insert(v.location.url().to_string(), v.checksum.clone());
    }
}

fn shape_of(m: &V3Array) -> Option<ArrayShape> {
    ArrayShape::new(m.shape.iter().copied().zip(m.chunks.iter().copied()))
}

fn dims_of(m: &V3Array) -> Option<Vec<DimensionName>> {
    (!m.dims.is_empty()).then(|| m.dims.iter().map(|d| Some(d.as_str()).into()).collect())
}

/// Brings `session` to `groups` (path, zarr.json) and `arrays`.
pub async fn sync(
    session: &mut Session,
    location: &str,
    groups: &[(String, Vec<u8>)],
    arrays: Vec<ArrayWrite<'_>>,
) -> Result<SyncStats, IcechunkError> {
    let mut stats = SyncStats::default();
    let serr = |path: &Path| {
        let path = path.to_string();
        move |source| IcechunkError::Session {
            location: location.to_string(),
            path: path.clone(),
            source: Box::new(source),
        }
    };
    let root = Path::root();
    let existing: HashMap<Path, NodeSnapshot> = session
        .list_nodes(&root)
        .await
        .map_err(serr(&root))?
        .map(|n| n.map(|n| (n.path.clone(), n)))
        .collect::<Result<_, _>>()
        .map_err(serr(&root))?;
    let mut wanted: BTreeSet<Path> = BTreeSet::new();
    for (p, _) in groups {
        wanted.insert(node_path(location, p)?);
    }
    for a in &arrays {
        wanted.insert(node_path(location, &a.path)?);
    }
    // Deleted nodes: deepest first (a group's deletion takes its children).
    let mut gone: Vec<&NodeSnapshot> = existing
        .values()
        .filter(|n| !wanted.contains(&n.path))
        .collect();
    gone.sort_by_key(|n| std::cmp::Reverse(n.path.to_string().len()));
    for n in gone {
        if session.get_node(&n.path).await.is_ok() {
            session
                .delete_node(n.clone())
                .await
                .map_err(serr(&n.path))?;
            stats.nodes_deleted += 1;
        }
    }
    for (p, json) in groups {
        let path = node_path(location, p)?;
        match existing.get(&path) {
            Some(n) if matches!(n.node_data, NodeData::Group) => {
                if n.user_data.as_ref() != json.as_slice() {
                    session
                        .update_group(&path, Bytes::copy_from_slice(json))
                        .await
                        .map_err(serr(&path))?;
                    stats.nodes_updated += 1;
                }
            }
            other => {
                if other.is_some() {
                    session
                        .delete_array(path.clone())
                        .await
                        .map_err(serr(&path))?;
                }
                session
                    .add_group(path.clone(), Bytes::copy_from_slice(json))
                    .await
                    .map_err(serr(&path))?;
                stats.nodes_added += 1;
            }
        }
    }
    for a in arrays {
        let path = node_path(location, &a.path)?;
        let shape = shape_of(&a.meta).ok_or_else(|| IcechunkError::Unrepresentable {
            location: location.to_string(),
            path: a.path.clone(),
            reason: "a chunk length of zero".into(),
        })?;
        let dims = dims_of(&a.meta);
        let user_data = Bytes::from(a.meta.json.clone());
        let chunks = (a.chunks)()?;
        let mut old: HashMap<ChunkIndices, ChunkPayload> = HashMap::new();
        match existing.get(&path) {
            Some(n) if matches!(n.node_data, NodeData::Array { .. }) => {
                {
                    let it = session.array_chunk_iterator(&path).await;
                    let mut it = std::pin::pin!(it);
                    while let Some(c) = it.next().await {
                        let c = c.map_err(serr(&path))?;
                        tally(&mut stats.before, &c.payload);
                        old.insert(c.coord, c.payload);
                    }
                }
                let keep: std::collections::HashSet<&ChunkIndices> =
                    chunks.iter().map(|(c, _)| c).collect();
                let obsolete: Vec<ChunkIndices> =
                    old.keys().filter(|c| !keep.contains(c)).cloned().collect();
                stats.chunks_deleted += obsolete.len();
                if !obsolete.is_empty() {
                    session
                        .delete_chunks(&path, obsolete)
                        .await
                        .map_err(serr(&path))?;
                }
                let same_node = matches!(&n.node_data, NodeData::Array { shape: s, dimension_names: d, .. } if *s == shape && *d == dims);
                if !same_node || n.user_data != user_data {
                    session
                        .update_array(&path, shape, dims, user_data)
                        .await
                        .map_err(serr(&path))?;
                    stats.nodes_updated += 1;
                }
            }
            other => {
                if other.is_some() {
                    session
                        .delete_group(path.clone())
                        .await
                        .map_err(serr(&path))?;
                }
                session
                    .add_array(path.clone(), shape, dims, user_data)
                    .await
                    .map_err(serr(&path))?;
                stats.nodes_added += 1;
            }
        }
        for (coord, payload) in chunks {
            if old.get(&coord) == Some(&payload) {
                continue;
            }
            session
                .set_chunk_ref(path.clone(), coord, Some(payload))
                .await
                .map_err(serr(&path))?;
            stats.chunks_set += 1;
        }
    }
    Ok(stats)
}
