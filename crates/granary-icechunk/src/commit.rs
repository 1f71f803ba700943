//! The sink's one entry point: a combined reference set becomes one commit on a branch of an
//! Icechunk repository, holding only what changed since the branch's tip; when nothing changed,
//! nothing is committed. Arrays Zarr v3 cannot describe follow the array policy (left out and
//! listed, or the whole commit refused). A concurrent commit to the branch makes this one fail
//! with [`IcechunkError::Conflict`]; Icechunk moves the branch only after every new object is
//! written, so a failed commit leaves the repository as it was.

use std::collections::HashMap;

use granary_core::ArrayPolicy;
use granary_refs::Combined;
use icechunk::config::ManifestConfig;
use icechunk::format::manifest::Checksum;
use icechunk::format::snapshot::SnapshotProperties;
use icechunk::session::{Session, SessionErrorKind};
use serde_json::json;

use crate::error::IcechunkError;
use crate::fingerprint;
use crate::location::{RepoLocation, RepoStorage};
use crate::metadata::{array_metadata, group_metadata};
use crate::repo::{open_repository, splitting, tip_properties, writable_session};
use crate::source::{Source, Target, coords};
use crate::sync::{ArrayWrite, SyncStats, sync};

/// Granule names listed in a commit's properties, at most (counts are always exact).
const LISTED: usize = 1000;

/// Where and how to commit.
#[derive(Debug, Clone)]
pub struct CommitTarget {
    pub location: RepoLocation,
    pub storage: RepoStorage,
    /// Branch (created from `main` when missing).
    pub branch: String,
    /// What ran: e.g. `pipeline swot.toml, sink refs`; first words of the commit message.
    pub title: String,
    /// The selection SQL, recorded in the message and properties.
    pub selection: String,
    pub policy: ArrayPolicy,
}

/// What a commit did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommitOutcome {
    /// The new snapshot id, `None` when the branch already held this set.
    pub snapshot: Option<String>,
    pub message: String,
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    pub stats: SyncStats,
    /// Seconds spent bringing the session to the set (reading the tip's chunks, setting the
    /// differing ones), and committing (writing manifests, snapshot, moving the branch).
    pub sync_seconds: f64,
    pub commit_seconds: f64,
    /// Arrays left out: (path, why Zarr v3 cannot describe them).
    pub skipped: Vec<Skipped>,
}

fn granule_changes(s: &SyncStats) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut added = Vec::new();
    let mut changed = Vec::new();
    for (url, sum) in &s.after {
        match s.before.get(url) {
            None => added.push(url.clone()),
            Some(old) if old != sum => changed.push(url.clone()),
            Some(_) => {}
        }
    }
    let mut removed: Vec<String> = s
        .before
        .keys()
        .filter(|u| !s.after.contains_key(*u))
        .cloned()
        .collect();
    added.sort();
    changed.sort();
    removed.sort();
    (added, changed, removed)
}

fn names(urls: &[String]) -> String {
    let short: Vec<&str> = urls
        .iter()
        .take(5)
        .map(|u| u.rsplit('/').next().unwrap_or(u))
        .collect();
    let more = urls.len().saturating_sub(short.len());
    if more > 0 {
        format!(" ({} and {more} more)", short.join(", "))
    } else if short.is_empty() {
        String::new()
    } else {
        format!(" ({})", short.join(", "))
    }
}

/// An array left out: (path, why Zarr v3 cannot describe it).
type Skipped = (String, String);

/// The arrays to write, those left out, and the granules (URL → checksum) the written ones
/// reference.
type Mapped<'a> = (
    Vec<ArrayWrite<'a>>,
    Vec<Skipped>,
    HashMap<String, Option<Checksum>>,
);

/// The set's arrays mapped to v3 (those Zarr v3 cannot describe left out, or refused, by the
/// policy), each with a function making its chunk payloads: called by `sync` one array at a
/// time, so that only one array's payloads exist besides Icechunk's change set.
fn arrays<'a>(
    c: &'a Combined,
    targets: &'a [Target],
    t: &CommitTarget,
) -> Result<Mapped<'a>, IcechunkError> {
    let mut used = vec![false; targets.len()];
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for a in &c.arrays {
        let meta = match array_metadata(&a.meta) {
            Ok(m) => m,
            Err(reason) if t.policy == ArrayPolicy::Skip => {
                skipped.push((a.path.clone(), reason));
                continue;
            }
            Err(reason) => {
                return Err(IcechunkError::Unrepresentable {
                    location: t.location.display(),
                    path: a.path.clone(),
                    reason,
                });
            }
        };
        for r in &a.refs {
            if let Some(u) = used.get_mut(r.url as usize) {
                *u = true;
            }
        }
        let chunks = move || {
            let grid = a.grid();
            let mut chunks = Vec::with_capacity(a.refs.len() + a.inline.len());
            for r in &a.refs {
                let target =
                    targets
                        .get(r.url as usize)
                        .ok_or_else(|| IcechunkError::Container {
                            url: format!("#{}", r.url),
                            reason: format!(
                                "array {:?} references a URL the set does not hold",
                                a.path
                            ),
                        })?;
                let source = Source::Range {
                    target,
                    offset: r.offset,
                    length: r.length,
                };
                chunks.push((coords(&grid, r.index), source.digest(), source));
            }
            for (index, bytes) in &a.inline {
                let source = Source::Inline(bytes);
                chunks.push((coords(&grid, *index), source.digest(), source));
            }
            Ok(chunks)
        };
        out.push(ArrayWrite {
            path: a.path.clone(),
            meta,
            chunks: Box::new(chunks),
        });
    }
    let granules = targets
        .iter()
        .zip(used)
        .filter(|(_, u)| *u)
        .map(|(t, _)| (t.url().to_string(), t.checksum().cloned()))
        .collect();
    Ok((out, skipped, granules))
}

/// References per manifest a new repository aims at: small enough that an append rewrites
/// little, large enough that a reader fetches few manifests.
const REFS_PER_MANIFEST: u64 = 5_000;

/// First-axis chunks per manifest for the set `c`: the densest array's references per
/// first-axis index decide.
fn split_for(c: &Combined) -> ManifestConfig {
    let densest = c
        .arrays
        .iter()
        .filter_map(|a| {
            let first = *a.grid().first()?;
            (first > 0).then(|| (a.refs.len() + a.inline.len()) as u64 / first)
        })
        .max()
        .unwrap_or(0)
        .max(1);
    let chunks = (REFS_PER_MANIFEST / densest).clamp(1, u64::from(u32::MAX));
    splitting(u32::try_from(chunks).unwrap_or(u32::MAX))
}

/// Commits `c` (whose `urls[i]` had ETag `etags[i]` when inventoried) to the target.
pub async fn commit_combined(
    c: &Combined,
    etags: &[Option<String>],
    t: &CommitTarget,
) -> Result<CommitOutcome, IcechunkError> {
    let location = t.location.display();
    let mut targets = Vec::with_capacity(c.urls.len());
    for (i, url) in c.urls.iter().enumerate() {
        let etag = etags.get(i).and_then(Option::as_deref);
        targets.push(
            Target::new(url, etag).map_err(|reason| IcechunkError::Container {
                url: url.clone(),
                reason,
            })?,
        );
    }
    let (arrays, skipped, granules) = arrays(c, &targets, t)?;
    let mut groups = Vec::new();
    for g in &c.groups {
        let json = group_metadata(&g.attrs).map_err(|reason| IcechunkError::Unrepresentable {
            location: location.clone(),
            path: g.path.clone(),
            reason,
        })?;
        groups.push((g.path.clone(), json));
    }
    if !groups.iter().any(|(p, _)| p.is_empty()) {
        groups.push((String::new(), group_metadata(&[]).unwrap_or_default()));
    }
    let repo = open_repository(&t.location, &t.storage, &c.urls, Some(split_for(c))).await?;
    let mut session = writable_session(&repo, &t.location, &t.branch).await?;
    let tip = fingerprint::from_properties(&tip_properties(&repo, &session, &t.location).await?);
    let started = std::time::Instant::now();
    let mut stats = sync(&mut session, &location, &groups, arrays, &tip).await?;
    stats.after = granules;
    let sync_seconds = started.elapsed().as_secs_f64();
    let (added, changed, removed) = granule_changes(&stats);
    let message = format!(
        "{}: {} granule(s) added{}, {} changed{}, {} removed{}; selection: {}",
        t.title,
        added.len(),
        names(&added),
        changed.len(),
        names(&changed),
        removed.len(),
        names(&removed),
        t.selection.trim()
    );
    let mut outcome = CommitOutcome {
        snapshot: None,
        message: message.clone(),
        added,
        changed,
        removed,
        stats,
        skipped,
        sync_seconds,
        commit_seconds: 0.0,
    };
    if !session.has_uncommitted_changes() {
        return Ok(outcome);
    }
    let list = |v: &[String]| json!(v.iter().take(LISTED).collect::<Vec<_>>());
    let mut props = SnapshotProperties::new();
    props.insert("granary_version".into(), json!(env!("CARGO_PKG_VERSION")));
    props.insert("granary_run".into(), json!(t.title));
    props.insert("granary_selection".into(), json!(t.selection));
    props.insert(
        fingerprint::PROPERTY.into(),
        fingerprint::to_property(&outcome.stats.fingerprints),
    );
    for (k, v) in [
        ("added", &outcome.added),
        ("changed", &outcome.changed),
        ("removed", &outcome.removed),
    ] {
        props.insert(format!("granary_granules_{k}"), list(v));
        props.insert(format!("granary_granules_{k}_count"), json!(v.len()));
    }
    let started = std::time::Instant::now();
    let id = commit_session(&mut session, &message, props, &t.location, &t.branch).await?;
    outcome.commit_seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        sync_seconds,
        commit_seconds = outcome.commit_seconds,
        chunks_set = outcome.stats.chunks_set,
        "Icechunk commit {id}"
    );
    outcome.snapshot = Some(id);
    Ok(outcome)
}

/// Commits `session`; a branch another writer moved since the session began is
/// [`IcechunkError::Conflict`] (and nothing of this session becomes visible).
pub async fn commit_session(
    session: &mut Session,
    message: &str,
    props: SnapshotProperties,
    location: &RepoLocation,
    branch: &str,
) -> Result<String, IcechunkError> {
    let id = session
        .commit(message, Some(props))
        .await
        .map_err(|source| match source.kind {
            SessionErrorKind::Conflict { .. } | SessionErrorKind::RebaseFailed { .. } => {
                IcechunkError::Conflict {
                    location: location.display(),
                    branch: branch.to_string(),
                }
            }
            _ => IcechunkError::Session {
                location: location.display(),
                path: "/".into(),
                source: Box::new(source),
            },
        })?;
    Ok(id.to_string())
}
