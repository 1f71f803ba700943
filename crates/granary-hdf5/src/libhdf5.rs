//! Chunk tables read by libhdf5 itself (through `hdf5-metno`, feature `libhdf5`): a local-file
//! backend and the oracle of the differential test. libhdf5 serialises every call behind one
//! process-wide lock, so this is for tests and one-off local use, not for scanning collections.

use std::collections::BTreeMap;
use std::path::Path;

use hdf5_metno as hdf5;

use crate::Hdf5Error;

/// One chunk as libhdf5 reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibChunk {
    /// Element offset of the chunk's first element, per axis.
    pub offset: Vec<u64>,
    /// Absolute byte address.
    pub addr: u64,
    /// Stored size in bytes.
    pub size: u64,
    pub filter_mask: u32,
}

/// Storage of one dataset as libhdf5 reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibDataset {
    pub shape: Vec<u64>,
    /// `None` for contiguous and compact datasets.
    pub chunk_shape: Option<Vec<u64>>,
    /// Chunks (chunked), or the one contiguous extent; empty for compact or unallocated data.
    pub chunks: Vec<LibChunk>,
}

fn err(path: &Path, object: &str, e: impl std::fmt::Display) -> Hdf5Error {
    Hdf5Error::Format {
        url: path.display().to_string(),
        object: object.to_string(),
        address: 0,
        message: format!("libhdf5: {e}"),
    }
}

/// Every dataset of the file (path without leading slash) with its chunk table.
pub fn chunk_tables(path: &Path) -> Result<BTreeMap<String, LibDataset>, Hdf5Error> {
    let file = hdf5::File::open(path).map_err(|e| err(path, "/", e))?;
    // libhdf5 1.10's H5Dget_chunk_info reports chunk addresses relative to the base address
    // (after a user block); newer releases report absolute ones, as granary does.
    let (major, minor, _) = hdf5::library_version();
    let chunk_base = if (major, minor) < (1, 12) {
        file.userblock()
    } else {
        0
    };
    let mut out = BTreeMap::new();
    let mut groups = vec![(
        String::new(),
        file.as_group().map_err(|e| err(path, "/", e))?,
    )];
    while let Some((prefix, g)) = groups.pop() {
        for name in g.member_names().map_err(|e| err(path, &prefix, e))? {
            let full = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            if let Ok(sub) = g.group(&name) {
                groups.push((full, sub));
                continue;
            }
            let Ok(ds) = g.dataset(&name) else { continue };
            let shape: Vec<u64> = ds.shape().iter().map(|d| *d as u64).collect();
            let chunk_shape = ds
                .chunk()
                .map(|c| c.iter().map(|d| *d as u64).collect::<Vec<u64>>());
            let mut chunks = Vec::new();
            if chunk_shape.is_some() {
                for i in 0..ds.num_chunks().unwrap_or(0) {
                    if let Some(c) = ds.chunk_info(i) {
                        chunks.push(LibChunk {
                            offset: c.offset.clone(),
                            addr: c.addr + chunk_base,
                            size: c.size,
                            filter_mask: c.filter_mask,
                        });
                    }
                }
            } else if let Some(addr) = ds.offset() {
                let size = ds.storage_size();
                if size > 0 {
                    chunks.push(LibChunk {
                        offset: vec![0; shape.len()],
                        addr,
                        size,
                        filter_mask: 0,
                    });
                }
            }
            chunks.sort_by(|a, b| a.offset.cmp(&b.offset));
            out.insert(
                full,
                LibDataset {
                    shape,
                    chunk_shape,
                    chunks,
                },
            );
        }
    }
    Ok(out)
}
