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
//! The granules (URLs) referenced before and after are tallied for the commit message. The
//! tip's fingerprints (`fingerprint.rs`) spare reading blocks whose references did not change.

use std::collections::{BTreeSet, HashMap, HashSet};

use bytes::Bytes;
use futures::StreamExt;
use icechunk::format::manifest::{Checksum, ChunkPayload};
use icechunk::format::snapshot::{ArrayShape, DimensionName, NodeData, NodeSnapshot};
use icechunk::format::{ChunkIndices, Path};
use icechunk::session::Session;

use crate::error::IcechunkError;
use crate::fingerprint::{self, Fingerprints};
use crate::metadata::V3Array;
use crate::source::{Chunks, Source, Target, positions};

/// One array to write: its path (no leading `/`), v3 metadata, and what makes its payload per
/// chunk position (called once, when the array's turn comes).
pub struct ArrayWrite<'a> {
    pub path: String,
    pub meta: V3Array,
    pub chunks: Box<dyn FnOnce() -> Result<Chunks<'a>, IcechunkError> + Send + 'a>,
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
    /// The new set's fingerprints, for the commit's properties.
    pub fingerprints: Fingerprints,
    /// Chunk positions read from the tip to compare (fingerprints spare the others).
    pub chunks_read: usize,
}

fn node_path(location: &str, path: &str) -> Result<Path, IcechunkError> {
    Path::new(&format!("/{path}")).map_err(|e| IcechunkError::Path {
        location: location.to_string(),
        path: path.to_string(),
        reason: format!("{e:?}"),
    })
}

/// Records a granule (URL → checksum) once.
fn record(map: &mut HashMap<String, Option<Checksum>>, url: &str, checksum: Option<&Checksum>) {
    if !map.contains_key(url) {
        map.insert(url.to_string(), checksum.cloned());
    }
}

/// Records the granule a payload references, if any.
fn tally(map: &mut HashMap<String, Option<Checksum>>, p: &ChunkPayload) {
    if let ChunkPayload::Virtual(v) = p {
        record(map, v.location.url(), v.checksum.as_ref());
    }
}

fn shape_of(m: &V3Array) -> Option<ArrayShape> {
    ArrayShape::new(m.shape.iter().copied().zip(m.chunks.iter().copied()))
}

fn dims_of(m: &V3Array) -> Option<Vec<DimensionName>> {
    (!m.dims.is_empty()).then(|| m.dims.iter().map(|d| Some(d.as_str()).into()).collect())
}

/// Whether block `b` is unchanged (blocks beyond the list are not).
fn same(unchanged: &[bool], b: usize) -> bool {
    unchanged.get(b).copied().unwrap_or(false)
}

/// Brings `session` to `groups` (path, zarr.json) and `arrays`; `tip` holds the fingerprints
/// the tip snapshot recorded (empty: every existing array is read whole).
pub async fn sync(
    session: &mut Session,
    location: &str,
    groups: &[(String, Vec<u8>)],
    arrays: Vec<ArrayWrite<'_>>,
    tip: &Fingerprints,
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
        let new_fp = fingerprint::blocks(chunks.iter().map(|(c, d, _)| (c, *d)));
        let mut old: HashMap<ChunkIndices, ChunkPayload> = HashMap::new();
        // Per first-axis block: whether its fingerprint equals the tip's.
        let mut unchanged: Vec<bool> = Vec::new();
        match existing.get(&path) {
            Some(n) if matches!(n.node_data, NodeData::Array { .. }) => {
                let old_grid: Vec<u32> = match &n.node_data {
                    NodeData::Array { shape, .. } => shape.num_chunks().collect(),
                    NodeData::Group => Vec::new(),
                };
                if let Some(old_fp) = tip.get(&a.path) {
                    unchanged = (0..old_fp.len().min(new_fp.len()))
                        .map(|b| old_fp[b] == new_fp[b])
                        .collect();
                    // Only the blocks whose fingerprint differs are read.
                    let blocks = old_grid.first().copied().unwrap_or(1);
                    for b in (0..blocks).filter(|b| !same(&unchanged, *b as usize)) {
                        for pos in positions(&old_grid, b) {
                            stats.chunks_read += 1;
                            let p = session
                                .get_chunk_ref(&path, &pos)
                                .await
                                .map_err(serr(&path))?;
                            if let Some(p) = p {
                                tally(&mut stats.before, &p);
                                old.insert(pos, p);
                            }
                        }
                    }
                    // Granules of unchanged blocks are the same on both sides: counted once
                    // per granule (by address), not hashed per chunk.
                    let mut seen: HashMap<*const Target, &Target> = HashMap::new();
                    for (c, _, source) in &chunks {
                        if let Source::Range { target, .. } = source
                            && same(&unchanged, fingerprint::block(c))
                        {
                            seen.entry(std::ptr::from_ref(*target)).or_insert(target);
                        }
                    }
                    for target in seen.into_values() {
                        record(&mut stats.before, target.url(), target.checksum());
                    }
                } else {
                    let it = session.array_chunk_iterator(&path).await;
                    let mut it = std::pin::pin!(it);
                    while let Some(c) = it.next().await {
                        let c = c.map_err(serr(&path))?;
                        stats.chunks_read += 1;
                        tally(&mut stats.before, &c.payload);
                        old.insert(c.coord, c.payload);
                    }
                }
                let keep: HashSet<&ChunkIndices> = chunks
                    .iter()
                    .map(|(c, _, _)| c)
                    .filter(|c| !same(&unchanged, fingerprint::block(c)))
                    .collect();
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
        stats.fingerprints.insert(a.path.clone(), new_fp);
        for (coord, _, source) in chunks {
            if same(&unchanged, fingerprint::block(&coord)) {
                continue;
            }
            let payload = source.payload();
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
