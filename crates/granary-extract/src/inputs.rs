//! Expansion of user inputs into granule URLs: URLs are kept as given, local files are made
//! absolute, local directories are listed recursively for HDF5/netCDF-4 files, and local glob
//! patterns (`*`, `?`, `[...]`, `**`) are expanded. Results are sorted and free of duplicates.
//!
//! Only regular files are granules: a FIFO, socket or device named like one is left out of a
//! listing (reading it could block forever) and refused when named directly; a symbolic link
//! to a directory is followed once (no loops). A file name that is not UTF-8 is kept, its bytes
//! percent-encoded in the URL, so that it fails visibly (an error row) instead of vanishing.

use std::path::{Path, PathBuf};

use granary_io::StoreRegistry;
use url::Url;

use crate::ExtractError;

/// File name endings treated as HDF5/netCDF-4 granules when a directory is given.
pub const GRANULE_SUFFIXES: &[&str] = &[".nc", ".nc4", ".h5", ".hdf5", ".he5", ".hdf"];

fn is_granule(p: &Path) -> bool {
    p.file_name().is_some_and(|n| {
        let bytes = n.as_encoded_bytes();
        GRANULE_SUFFIXES
            .iter()
            .any(|s| bytes.ends_with(s.as_bytes()))
    })
}

fn listing(input: &str, e: impl std::fmt::Display) -> ExtractError {
    ExtractError::Listing {
        input: input.to_string(),
        reason: e.to_string(),
    }
}

/// The granule URLs named by `inputs`.
pub fn expand(inputs: &[String]) -> Result<Vec<Url>, ExtractError> {
    let mut out = Vec::new();
    for i in inputs {
        let local = !i.contains("://");
        let p = Path::new(i);
        if local && p.is_dir() {
            let mut files = Vec::new();
            let mut seen = std::collections::HashSet::new();
            walk(p, &mut files, &mut seen).map_err(|e| listing(i, e))?;
            for f in files {
                out.push(StoreRegistry::normalize_path(&f)?);
            }
        } else if local && i.contains(['*', '?', '[']) {
            let paths = glob::glob(i).map_err(|e| listing(i, e))?;
            for p in paths {
                let p = p.map_err(|e| listing(i, e))?;
                if p.is_file() {
                    out.push(StoreRegistry::normalize_path(&p)?);
                }
            }
        } else if local && p.exists() && !p.is_file() {
            return Err(listing(
                i,
                "not a regular file (a FIFO, socket or device cannot be a granule)",
            ));
        } else {
            out.push(StoreRegistry::normalize(i)?);
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    seen: &mut std::collections::HashSet<PathBuf>,
) -> std::io::Result<()> {
    if !seen.insert(std::fs::canonicalize(dir)?) {
        return Ok(()); // a link back to a directory already listed
    }
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        // Follows links: a link to a granule or a directory counts as what it points to.
        let Ok(meta) = std::fs::metadata(&p) else {
            tracing::warn!(path = %p.display(), "Skipping an entry that cannot be read (dangling link?).");
            continue;
        };
        if meta.is_dir() {
            walk(&p, out, seen)?;
        } else if is_granule(&p) {
            if meta.is_file() {
                out.push(p);
            } else {
                tracing::warn!(path = %p.display(), "Skipping a granule-named entry that is not a regular file.");
            }
        }
    }
    Ok(())
}

/// For a remote directory (`scheme://host/prefix/`) or glob (`scheme://host/a/*_1.nc`): the
/// store's base URL, the key prefix to list, and the pattern keys must match (None: any granule
/// file under the prefix). None for local inputs and plain object URLs.
pub fn remote_listing(input: &str) -> Option<(Url, String, Option<glob::Pattern>)> {
    if !input.contains("://") || input.starts_with("file://") {
        return None;
    }
    let url = Url::parse(input).ok()?;
    let base = Url::parse(&format!("{}://{}/", url.scheme(), url.authority())).ok()?;
    let key = url.path().trim_start_matches('/').to_string();
    if let Some(star) = key.find(['*', '?', '[']) {
        let prefix = key[..star]
            .rsplit_once('/')
            .map_or("", |(p, _)| p)
            .to_string();
        let pattern = glob::Pattern::new(&key).ok()?;
        return Some((base, prefix, Some(pattern)));
    }
    input
        .ends_with('/')
        .then(|| (base, key.trim_end_matches('/').to_string(), None))
}

/// The last path segment of a URL (the granule's file name).
pub fn basename(url: &Url) -> String {
    url.path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("granule")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_globs_and_urls() {
        let dir = std::env::temp_dir().join(format!("granary-inputs-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for f in ["a.nc", "b.h5", "notes.txt", "sub/c.nc"] {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        let d = dir.to_string_lossy().to_string();
        let all = expand(std::slice::from_ref(&d)).unwrap();
        assert_eq!(all.len(), 3);
        let globbed = expand(&[format!("{d}/*.nc")]).unwrap();
        assert_eq!(globbed.len(), 1);
        assert!(globbed[0].as_str().ends_with("/a.nc"));
        let deep = expand(&[format!("{d}/**/*.nc"), format!("{d}/a.nc")]).unwrap();
        assert_eq!(deep.len(), 2, "{deep:?}");
        let url = expand(&["s3://bucket/k.nc".to_string()]).unwrap();
        assert!(remote_listing("s3://bucket/k.nc").is_none());
        let (base, prefix, pat) = remote_listing("s3://b/SWOT/c001/*_001_*.nc").unwrap();
        assert_eq!((base.as_str(), prefix.as_str()), ("s3://b/", "SWOT/c001"));
        assert!(pat.unwrap().matches("SWOT/c001/x_001_y.nc"));
        let (_, prefix, pat) = remote_listing("https://h/data/").unwrap();
        assert_eq!((prefix.as_str(), pat.is_none()), ("data", true));
        assert_eq!(url[0].as_str(), "s3://bucket/k.nc");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn fifos_are_never_granules_and_odd_names_are_kept() {
        use std::os::unix::ffi::OsStrExt;
        let dir = std::env::temp_dir().join(format!("granary-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("pipe.nc");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let odd = dir.join(std::ffi::OsStr::from_bytes(b"caf\xe9.nc"));
        std::fs::write(&odd, b"x").unwrap();
        std::os::unix::fs::symlink(&dir, dir.join("loop")).unwrap();
        let d = dir.to_string_lossy().to_string();
        let all = expand(std::slice::from_ref(&d)).unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        assert!(all[0].as_str().ends_with("/caf%E9.nc"), "{}", all[0]);
        let e = expand(&[fifo.to_string_lossy().to_string()]).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
