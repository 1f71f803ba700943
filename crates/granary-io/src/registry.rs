//! URL → object store resolution.
//!
//! Local paths and `file://` URLs map to a `LocalFileSystem`; `s3://`, `http(s)://` (and `gs://`,
//! `az://` with the `gcp`/`azure` features) get a store built on first use from
//! [`RemoteOptions`] (`remote.rs`), one per bucket or host; any scheme can also be registered
//! explicitly (`memory://` stores in tests). URLs written into references are always absolute
//! (`file:///abs/path`), docs/kerchunk-reference.md section 1.4.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use url::Url;

use crate::IoError;
use crate::remote::RemoteOptions;

/// Maps URL scheme + authority to stores.
#[derive(Debug, Default)]
pub struct StoreRegistry {
    stores: RwLock<HashMap<String, Arc<dyn ObjectStore>>>,
    remote: RemoteOptions,
}

impl StoreRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry whose remote stores use `remote`.
    pub fn with_remote(remote: RemoteOptions) -> Self {
        Self {
            stores: RwLock::default(),
            remote,
        }
    }

    /// Registers a store for every URL starting with `scheme://authority`.
    pub fn register(&self, base: &Url, store: Arc<dyn ObjectStore>) {
        if let Ok(mut m) = self.stores.write() {
            m.insert(key(base), store);
        }
    }

    /// Normalises a local path or URL into an absolute URL.
    pub fn normalize(location: &str) -> Result<Url, IoError> {
        if location.contains("://") {
            return Url::parse(location).map_err(|e| IoError::BadLocation {
                location: location.into(),
                reason: e.to_string(),
            });
        }
        Self::normalize_path(std::path::Path::new(location))
    }

    /// A local path (whose name need not be UTF-8: other bytes are percent-encoded) as an
    /// absolute `file://` URL.
    pub fn normalize_path(local: &std::path::Path) -> Result<Url, IoError> {
        let location = local.display().to_string();
        let path = std::path::absolute(local).map_err(|e| IoError::BadLocation {
            location: location.clone(),
            reason: e.to_string(),
        })?;
        // URLs and object paths have no `..`: `a/../b` becomes `b`.
        let clean = granary_core::path::normalize_lexically(&path);
        Url::from_file_path(&clean).map_err(|()| IoError::BadLocation {
            location,
            reason: "not an absolute path".into(),
        })
    }

    /// Resolves a URL into a store and the object's path in it.
    /// The filesystem path of a `file://` URL read by the default local store (none registered
    /// in its place), for positioned reads that bypass object_store's per-range opens.
    pub fn local_path(&self, url: &Url) -> Option<std::path::PathBuf> {
        if !cfg!(unix) || url.scheme() != "file" {
            return None;
        }
        let overridden = self
            .stores
            .read()
            .map_or(true, |m| m.contains_key(&key(url)));
        if overridden {
            return None;
        }
        url.to_file_path().ok()
    }

    pub fn resolve(&self, url: &Url) -> Result<(Arc<dyn ObjectStore>, Path), IoError> {
        if let Some(store) = self
            .stores
            .read()
            .ok()
            .and_then(|m| m.get(&key(url)).cloned())
        {
            let path = Path::from_url_path(url.path()).map_err(|e| IoError::BadLocation {
                location: url.to_string(),
                reason: e.to_string(),
            })?;
            return Ok((store, path));
        }
        match url.scheme() {
            "file" => {
                let fs_path = url.to_file_path().map_err(|()| IoError::BadLocation {
                    location: url.to_string(),
                    reason: "not a local file URL".into(),
                })?;
                let path =
                    Path::from_absolute_path(&fs_path).map_err(|e| IoError::BadLocation {
                        location: url.to_string(),
                        reason: e.to_string(),
                    })?;
                Ok((Arc::new(LocalFileSystem::new()), path))
            }
            other => match crate::remote::store_for(url, &self.remote) {
                Some(store) => {
                    let store = store?;
                    if let Ok(mut m) = self.stores.write() {
                        m.insert(key(url), store.clone());
                    }
                    let path =
                        Path::from_url_path(url.path()).map_err(|e| IoError::BadLocation {
                            location: url.to_string(),
                            reason: e.to_string(),
                        })?;
                    Ok((store, path))
                }
                None => Err(IoError::UnsupportedScheme {
                    url: url.to_string(),
                    scheme: other.into(),
                }),
            },
        }
    }
}

fn key(url: &Url) -> String {
    format!("{}://{}", url.scheme(), url.authority())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_become_file_urls() {
        let u = StoreRegistry::normalize("/tmp/x.nc").unwrap();
        assert_eq!(u.as_str(), "file:///tmp/x.nc");
        let (_, p) = StoreRegistry::new().resolve(&u).unwrap();
        assert_eq!(p.as_ref(), "tmp/x.nc");
    }

    #[test]
    fn dot_dot_is_resolved() {
        let u = StoreRegistry::normalize("/tmp/a/../b/./x.nc").unwrap();
        assert_eq!(u.as_str(), "file:///tmp/b/x.nc");
    }

    #[test]
    fn unknown_scheme_is_an_error() {
        let u = Url::parse("gopher://x/y").unwrap();
        assert!(matches!(
            StoreRegistry::new().resolve(&u),
            Err(IoError::UnsupportedScheme { .. })
        ));
    }
}
