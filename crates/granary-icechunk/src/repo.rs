//! Opening (or creating) the repository with the virtual chunk containers the references need,
//! and a writable session on the sink's branch (Icechunk spec: repository config, branches).
//!
//! Nothing here deletes or overwrites: a location that holds something else than an Icechunk
//! repository is refused by Icechunk's own "root not clean" check.

use std::collections::HashMap;

use futures::StreamExt;
use icechunk::config::{
    ManifestConfig, ManifestSplitCondition, ManifestSplitDim, ManifestSplitDimCondition,
    ManifestSplittingConfig,
};
use icechunk::format::snapshot::SnapshotProperties;
use icechunk::repository::{RepositoryErrorKind, VersionInfo};
use icechunk::session::Session;
use icechunk::{Repository, RepositoryConfig};

use crate::containers::containers;
use crate::error::IcechunkError;
use crate::location::{RepoLocation, RepoStorage};

/// The repository at `location`, created when absent (with `manifest` settings), its config
/// declaring a container for every prefix of `urls` (added to the saved config when missing).
pub async fn open_repository(
    location: &RepoLocation,
    storage: &RepoStorage,
    urls: &[String],
    manifest: Option<ManifestConfig>,
) -> Result<Repository, IcechunkError> {
    let wanted = containers(urls, storage)?;
    let store = location.storage(storage).await?;
    let err = |source| IcechunkError::Repository {
        location: location.display(),
        source: Box::new(source),
    };
    let exists = Repository::exists(store.as_ref()).await.map_err(err)?;
    if !exists {
        let mut config = RepositoryConfig {
            manifest,
            ..RepositoryConfig::default()
        };
        for c in wanted.into_values() {
            config.set_virtual_chunk_container(c);
        }
        return Repository::create(Some(config), store, HashMap::new())
            .await
            .map_err(|source| match source.kind {
                RepositoryErrorKind::ParentDirectoryNotClean => IcechunkError::Location {
                    location: location.display(),
                    reason: "it exists and is not an Icechunk repository (nothing was changed); choose another location".into(),
                },
                _ => err(source),
            });
    }
    let repo = Repository::open(None, store, HashMap::new())
        .await
        .map_err(err)?;
    let have: Vec<String> = repo
        .config()
        .virtual_chunk_containers()
        .map(|c| c.url_prefix().to_string())
        .collect();
    let missing: Vec<_> = wanted
        .into_iter()
        .filter(|(p, _)| !have.contains(p))
        .collect();
    if missing.is_empty() {
        return Ok(repo);
    }
    let mut config = repo.config().clone();
    for (_, c) in missing {
        config.set_virtual_chunk_container(c);
    }
    let repo = repo.reopen(Some(config), None).map_err(err)?;
    repo.save_config().await.map_err(err)?;
    Ok(repo)
}

/// A writable session on `branch`, which is created from `main`'s tip when missing.
pub async fn writable_session(
    repo: &Repository,
    location: &RepoLocation,
    branch: &str,
) -> Result<Session, IcechunkError> {
    let err = |source| IcechunkError::Repository {
        location: location.display(),
        source: Box::new(source),
    };
    let branches = repo.list_branches().await.map_err(err)?;
    if !branches.contains(branch) {
        let tip = repo.lookup_branch("main").await.map_err(err)?;
        repo.create_branch(branch, &tip).await.map_err(err)?;
    }
    repo.writable_session(branch).await.map_err(err)
}

/// The properties of the snapshot `session` started from (its branch's tip).
pub async fn tip_properties(
    repo: &Repository,
    session: &Session,
    location: &RepoLocation,
) -> Result<SnapshotProperties, IcechunkError> {
    let err = |source| IcechunkError::Repository {
        location: location.display(),
        source: Box::new(source),
    };
    let version = VersionInfo::SnapshotId(session.snapshot_id().clone());
    let ancestry = repo.ancestry(&version).await.map_err(err)?;
    let mut ancestry = std::pin::pin!(ancestry);
    match ancestry.next().await {
        Some(info) => Ok(info.map_err(err)?.metadata),
        None => Ok(SnapshotProperties::new()),
    }
}

/// The manifest splitting of a new repository: along each array's first axis, `chunks` chunk
/// indices per manifest, so that an append rewrites the manifests of the last blocks only.
pub fn splitting(chunks: u32) -> ManifestConfig {
    ManifestConfig {
        preload: None,
        splitting: Some(ManifestSplittingConfig {
            split_sizes: Some(vec![(
                ManifestSplitCondition::AnyArray,
                vec![ManifestSplitDim {
                    condition: ManifestSplitDimCondition::Axis(0),
                    num_chunks: chunks.max(1),
                }],
            )]),
        }),
    }
}
