//! Virtual chunk containers (Icechunk repository config, `virtual_chunk_containers`): one URL
//! prefix per place the references point to, so that a reader can authorize exactly those and
//! nothing else:
//!
//! - `s3://bucket/` for S3 objects (with the region/endpoint the sink was given);
//! - `https://host[:port]/` (or `http://`) for HTTP servers;
//! - `file:///common/dir/` for local files: the deepest directory holding all of them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use icechunk::ObjectStoreConfig;
use icechunk::config::S3Options;
use icechunk::virtual_chunks::VirtualChunkContainer;
use url::Url;

use crate::error::IcechunkError;
use crate::location::RepoStorage;

/// The container prefix a reference URL falls under (local files: `None`, gathered by
/// [`containers`] into their common directory).
fn remote_prefix(url: &Url) -> Result<Option<String>, IcechunkError> {
    match url.scheme() {
        "file" => Ok(None),
        "s3" | "http" | "https" => {
            let host = url.host_str().ok_or_else(|| IcechunkError::Container {
                url: url.to_string(),
                reason: "no bucket or host".into(),
            })?;
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            Ok(Some(format!("{}://{host}{port}/", url.scheme())))
        }
        other => Err(IcechunkError::Container {
            url: url.to_string(),
            reason: format!("Icechunk has no virtual chunk container for {other}:// URLs here"),
        }),
    }
}

/// The deepest common directory of local file URLs, as a `file:///…/` prefix.
fn common_directory(paths: &[Vec<String>]) -> String {
    let Some(first) = paths.first() else {
        return "file:///".into();
    };
    // Directories only: the last segment is the file name.
    let mut common: Vec<String> = first[..first.len().saturating_sub(1)].to_vec();
    for p in &paths[1..] {
        let dirs = &p[..p.len().saturating_sub(1)];
        let same = common.iter().zip(dirs).take_while(|(a, b)| a == b).count();
        common.truncate(same);
    }
    let mut out = String::from("file:///");
    for seg in common {
        out.push_str(&seg);
        out.push('/');
    }
    out
}

/// The containers covering `urls`, keyed by prefix.
pub fn containers(
    urls: &[String],
    storage: &RepoStorage,
) -> Result<BTreeMap<String, VirtualChunkContainer>, IcechunkError> {
    let mut prefixes = BTreeMap::new();
    let mut files = Vec::new();
    for u in urls {
        let url = Url::parse(u).map_err(|e| IcechunkError::Container {
            url: u.clone(),
            reason: e.to_string(),
        })?;
        match remote_prefix(&url)? {
            Some(p) => {
                prefixes.insert(p, url.scheme().to_string());
            }
            None => files.push(
                url.path_segments()
                    .map(|s| s.map(str::to_string).collect::<Vec<_>>())
                    .unwrap_or_default(),
            ),
        }
    }
    if !files.is_empty() {
        prefixes.insert(common_directory(&files), "file".into());
    }
    let mut out = BTreeMap::new();
    for (prefix, scheme) in prefixes {
        let store = match scheme.as_str() {
            "file" => {
                let dir = Url::parse(&prefix)
                    .ok()
                    .and_then(|u| u.to_file_path().ok())
                    .unwrap_or_else(|| PathBuf::from("/"));
                ObjectStoreConfig::LocalFileSystem(dir)
            }
            "s3" => {
                let opts = S3Options {
                    region: storage.region.clone(),
                    endpoint_url: storage.endpoint.clone(),
                    anonymous: storage.anonymous,
                    allow_http: storage.allow_http(),
                    force_path_style: storage.endpoint.is_some(),
                    network_stream_timeout_seconds: None,
                    requester_pays: false,
                };
                if storage.endpoint.is_some() {
                    ObjectStoreConfig::S3Compatible(opts)
                } else {
                    ObjectStoreConfig::S3(opts)
                }
            }
            _ => ObjectStoreConfig::Http(Default::default()),
        };
        let c = VirtualChunkContainer::new(prefix.clone(), store).map_err(|reason| {
            IcechunkError::Container {
                url: prefix.clone(),
                reason,
            }
        })?;
        out.insert(prefix, c);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_prefix_per_bucket_host_and_local_directory() {
        let urls = [
            "s3://bucket/a/x.nc",
            "s3://bucket/b/y.nc",
            "https://host.example:8443/data/z.nc",
            "file:///data/swot/c1/a.nc",
            "file:///data/swot/c2/b.nc",
        ]
        .map(String::from);
        let c = containers(&urls, &RepoStorage::default()).unwrap_or_default();
        let keys: Vec<&str> = c.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "file:///data/swot/",
                "https://host.example:8443/",
                "s3://bucket/"
            ]
        );
    }

    #[test]
    fn unknown_schemes_are_refused() {
        let err = containers(&["ftp://h/x.nc".to_string()], &RepoStorage::default());
        assert!(matches!(err, Err(IcechunkError::Container { .. })));
    }
}
