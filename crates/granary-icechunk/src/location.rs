//! Where an Icechunk repository lives: a local directory or `s3://bucket/prefix`, and the
//! storage settings (region, endpoint, anonymous) the sink shares with sources. S3 credentials
//! come from the environment (the AWS chain), as Icechunk reads them; none are stored.

use std::path::PathBuf;
use std::sync::Arc;

use icechunk::Storage;
use icechunk::config::{S3Credentials, S3Options};

use crate::error::IcechunkError;

/// Settings of an `s3://` repository and of the S3 virtual chunk containers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoStorage {
    pub region: Option<String>,
    /// An S3-compatible endpoint instead of AWS (path-style requests).
    pub endpoint: Option<String>,
    /// Unsigned requests.
    pub anonymous: bool,
}

impl RepoStorage {
    /// `http://` endpoints are allowed when the endpoint itself is one.
    pub fn allow_http(&self) -> bool {
        self.endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"))
    }
}

/// A repository location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoLocation {
    Local(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl RepoLocation {
    /// `s3://bucket/prefix` or a local path; other URL schemes are refused.
    pub fn parse(s: &str) -> Result<Self, IcechunkError> {
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let prefix = prefix.trim_end_matches('/');
            if bucket.is_empty() || prefix.split('/').any(|p| p == "..") {
                return Err(IcechunkError::Location {
                    location: s.to_string(),
                    reason: "expected s3://bucket/prefix (no `..`)".into(),
                });
            }
            return Ok(RepoLocation::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            });
        }
        if s.contains("://") {
            return Err(IcechunkError::Location {
                location: s.to_string(),
                reason: "an Icechunk repository is a local directory or s3://bucket/prefix".into(),
            });
        }
        Ok(RepoLocation::Local(PathBuf::from(s)))
    }

    /// The location as the user wrote it (for messages).
    pub fn display(&self) -> String {
        match self {
            RepoLocation::Local(p) => p.display().to_string(),
            RepoLocation::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
        }
    }

    /// Icechunk storage for this location. A local directory is created if missing.
    pub async fn storage(&self, settings: &RepoStorage) -> Result<Arc<dyn Storage>, IcechunkError> {
        let err = |reason: String| IcechunkError::Location {
            location: self.display(),
            reason,
        };
        match self {
            RepoLocation::Local(p) => {
                std::fs::create_dir_all(p).map_err(|e| err(e.to_string()))?;
                icechunk::storage::new_local_filesystem_storage(p)
                    .await
                    .map_err(|e| err(e.to_string()))
            }
            RepoLocation::S3 { bucket, prefix } => {
                let opts = S3Options {
                    region: settings.region.clone(),
                    endpoint_url: settings.endpoint.clone(),
                    anonymous: settings.anonymous,
                    allow_http: settings.allow_http(),
                    force_path_style: settings.endpoint.is_some(),
                    network_stream_timeout_seconds: None,
                    requester_pays: false,
                };
                let credentials = if settings.anonymous {
                    S3Credentials::Anonymous
                } else {
                    S3Credentials::FromEnv
                };
                icechunk::storage::new_s3_storage(
                    opts,
                    bucket.clone(),
                    (!prefix.is_empty()).then(|| prefix.clone()),
                    Some(credentials),
                )
                .map_err(|e| err(e.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            RepoLocation::parse("s3://b/p/q/").ok(),
            Some(RepoLocation::S3 {
                bucket: "b".into(),
                prefix: "p/q".into()
            })
        );
        assert_eq!(
            RepoLocation::parse("out/x.icechunk").ok(),
            Some(RepoLocation::Local("out/x.icechunk".into()))
        );
        assert!(RepoLocation::parse("gs://b/p").is_err());
        assert!(RepoLocation::parse("s3://b/../p").is_err());
        assert!(RepoLocation::parse("s3:///p").is_err());
    }
}
