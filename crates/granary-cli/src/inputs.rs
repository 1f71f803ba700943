//! Expansion of command-line inputs into granule URLs: URLs are kept, local files are made
//! absolute, local directories are listed recursively for HDF5/netCDF-4 files.

use anyhow::{Context, Result};
use granary_io::StoreRegistry;
use url::Url;

/// File name endings treated as HDF5/netCDF-4 granules when a directory is given.
pub const GRANULE_SUFFIXES: &[&str] = &[".nc", ".nc4", ".h5", ".hdf5", ".he5", ".hdf"];

pub fn expand(inputs: &[String]) -> Result<Vec<Url>> {
    let mut out = Vec::new();
    for i in inputs {
        let p = std::path::Path::new(i);
        if !i.contains("://") && p.is_dir() {
            let mut files = Vec::new();
            walk(p, &mut files).with_context(|| format!("cannot list directory {i}"))?;
            files.sort();
            for f in files {
                out.push(StoreRegistry::normalize(&f.to_string_lossy())?);
            }
        } else {
            out.push(StoreRegistry::normalize(i)?);
        }
    }
    Ok(out)
}

fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| GRANULE_SUFFIXES.iter().any(|s| n.ends_with(s)))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// The last path segment of a URL (the granule's file name).
pub fn basename(url: &Url) -> String {
    url.path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("granule")
        .to_string()
}
