//! `granary inventory build`: scan a collection into an inventory directory, incrementally.
//!
//! Granules already committed with the same URL, size and entity tag are not scanned again;
//! granules whose object changed or vanished are retired first; the error rows of earlier builds
//! are dropped (their granules are retried). Results are committed in parts of at most
//! `part_size` granules and `part_bytes` of manifests (whichever comes first, so the memory a
//! part holds does not grow with the granules' size), so a killed build loses at most one part
//! of work and never leaves a half-written inventory (`store.rs`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use futures::StreamExt;
use granary_core::{GranuleManifest, HeapSize};
use granary_extract::{Extractor, Listed};

use crate::committer::Committer;
use crate::scanner::{GranuleScanner, Scanned};
use crate::versions::{head_granules, stamp};
use crate::{ErrorRow, InventoryDir, InventoryError};
use url::Url;

/// Build settings.
#[derive(Debug, Clone, Copy)]
pub struct BuildOptions<'a> {
    /// Granules per committed part, at most.
    pub part_size: usize,
    /// Memory per committed part, at most (bytes, as [`part_cost`] estimates it).
    pub part_bytes: usize,
    /// What the inventory records as its sources, when not the sources themselves (a CMR
    /// search: its query, while the sources are the granule URLs it found this time).
    pub identity: Option<&'a [String]>,
    /// Granules scanned again even when their object is unchanged (CMR revised them).
    pub rescan: &'a [String],
    /// Where the granules are scanned (`None`: by the build's extractor, in this process).
    pub scanner: Option<&'a dyn GranuleScanner>,
}

impl Default for BuildOptions<'_> {
    fn default() -> Self {
        Self {
            part_size: 512,
            part_bytes: part_bytes_of_mib(DEFAULT_PART_MIB),
            identity: None,
            rescan: &[],
            scanner: None,
        }
    }
}

/// The default bound of a part's manifest memory (MiB).
pub const DEFAULT_PART_MIB: usize = 16;

/// `mib` MiB in bytes (at least 1 MiB): the `part_bytes` of a `part_mib` setting.
pub fn part_bytes_of_mib(mib: usize) -> usize {
    mib.max(1).saturating_mul(1 << 20)
}

/// What a build did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildReport {
    /// Granules the sources named.
    pub listed: usize,
    /// Already in the inventory, unchanged: not scanned.
    pub unchanged: usize,
    /// Scanned and committed by this build.
    pub scanned: usize,
    /// Failed (rows of the `errors` table).
    pub failed: usize,
    /// Removed because their object changed or is no longer listed.
    pub retired: usize,
}

/// What a granule costs the part that holds it: its manifest's heap ([`HeapSize`]) and the
/// table rows it becomes (one per dimension, array, attribute and chunk reference, plus a few
/// per array), each of which repeats the granule's URL in the Arrow tables.
pub fn part_cost(m: &GranuleManifest) -> usize {
    let rows: usize = m
        .root
        .walk()
        .iter()
        .map(|g| {
            let arrays: usize = g
                .arrays
                .iter()
                .map(|a| 3 + a.attrs.len() + a.chunks().len())
                .sum();
            1 + g.dims.len() + g.attrs.len() + arrays
        })
        .sum();
    m.heap_size() + rows * m.url.len()
}

/// The granules of the part being filled, and what they cost it.
#[derive(Default)]
struct Part {
    manifests: Vec<GranuleManifest>,
    bytes: usize,
}

impl Part {
    /// Adds a scanned granule: its manifest (stamped with the version listed), or its error row.
    fn add(
        &mut self,
        (url, r): Scanned,
        listed: &HashMap<String, Listed>,
        errors: &mut Vec<ErrorRow>,
        report: &mut BuildReport,
    ) {
        match r {
            Ok(mut m) => {
                if let Some(l) = listed.get(url.as_str()) {
                    stamp(&mut m, l);
                }
                report.scanned += 1;
                self.bytes += part_cost(&m);
                self.manifests.push(m);
            }
            Err(row) => errors.push(row),
        }
    }
}

/// Local sources are recorded as absolute paths, so the inventory does not depend on the
/// directory the build ran from.
fn canonical_sources(sources: &[String]) -> Vec<String> {
    sources
        .iter()
        .map(|s| {
            if s.contains("://") {
                s.clone()
            } else {
                std::path::absolute(s)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| s.clone())
            }
        })
        .collect()
}

/// Builds or updates the inventory at `out` from `sources`; `progress(done, total)` is called
/// after each granule.
pub async fn build_inventory(
    ex: &Extractor,
    sources: &[String],
    out: &Path,
    opts: &BuildOptions<'_>,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<BuildReport, InventoryError> {
    let sources = canonical_sources(sources);
    let urls = ex.expand(&sources).await.map_err(InventoryError::Source)?;
    let mut dir = InventoryDir::create_or_open(out, opts.identity.unwrap_or(&sources))?;
    let (known, twice) = dir.known_granules()?;
    let twice: HashSet<String> = twice.into_iter().collect();
    let mut report = BuildReport {
        listed: urls.len(),
        ..Default::default()
    };

    let (listed, mut errors) = head_granules(ex, &urls).await;
    let rescan: HashSet<&str> = opts.rescan.iter().map(String::as_str).collect();
    let unchanged = |url: &str, l: &Listed| {
        !twice.contains(url)
            && !rescan.contains(url)
            && known
                .get(url)
                .is_some_and(|(size, etag)| *size == Some(l.size) && *etag == l.etag)
    };
    // Retired: no longer named by the sources, or changed. A granule whose head request
    // failed this time stays as it was (with an error row), never silently dropped.
    let named: HashSet<&str> = urls.iter().map(|u| u.as_str()).collect();
    if !twice.is_empty() {
        tracing::warn!(
            granules = twice.len(),
            "Granules committed more than once; retiring every copy and scanning them again."
        );
    }
    let stale: HashSet<String> = known
        .keys()
        .filter(|u| match listed.get(*u) {
            _ if twice.contains(*u) => true,
            Some(l) => !unchanged(u, l),
            None => !named.contains(u.as_str()),
        })
        .cloned()
        .collect();
    report.retired = stale.len();
    let mut todo: Vec<_> = listed
        .iter()
        .filter(|(u, l)| !unchanged(u, l))
        .map(|(_, l)| l.url.clone())
        .collect();
    todo.sort();
    report.unchanged = listed.len() - todo.len();
    dir = {
        let stale = stale.clone();
        let path = dir.root().display().to_string();
        tokio::task::spawn_blocking(move || dir.retire(&stale).map(|()| dir))
            .await
            .map_err(|e| InventoryError::Task {
                path,
                reason: e.to_string(),
            })??
    };
    if !stale.is_empty() {
        tracing::info!(
            granules = stale.len(),
            "Retired granules whose object changed or vanished."
        );
    }

    let committer = Committer::start(dir)?;
    let total = todo.len();
    let mut done = 0;
    let mut part = Part::default();
    // Granules join parts in URL order whatever order their scans finish in (so the same
    // sources give the same parts, embedded or on a cluster), unless the granules waiting
    // for a slower one would hold too much memory.
    let position: HashMap<Url, usize> = todo.iter().cloned().zip(0..).collect();
    let mut waiting: BTreeMap<usize, Scanned> = BTreeMap::new();
    let mut next = 0usize;
    let max_waiting = opts.part_size.max(1).saturating_mul(4);
    let scanner: &dyn GranuleScanner = opts.scanner.unwrap_or(ex);
    let mut results = scanner.scan(todo);
    while let Some(scanned) = results.next().await {
        let scanned = scanned.map_err(|source| InventoryError::Scan {
            path: out.display().to_string(),
            source,
        })?;
        done += 1;
        progress(done, total);
        match position.get(&scanned.0) {
            Some(i) => {
                waiting.insert(*i, scanned);
            }
            None => part.add(scanned, &listed, &mut errors, &mut report),
        }
        loop {
            let ready = match waiting.first_key_value() {
                Some((i, _)) if *i == next || waiting.len() > max_waiting => waiting.pop_first(),
                _ => None,
            };
            let Some((i, scanned)) = ready else { break };
            next = next.max(i + 1);
            part.add(scanned, &listed, &mut errors, &mut report);
            if part.manifests.len() >= opts.part_size.max(1) || part.bytes >= opts.part_bytes {
                report.failed += errors.len();
                let manifests = std::mem::take(&mut part).manifests;
                committer
                    .commit(manifests, std::mem::take(&mut errors))
                    .await?;
            }
        }
    }
    for (_, scanned) in std::mem::take(&mut waiting) {
        part.add(scanned, &listed, &mut errors, &mut report);
    }
    if !part.manifests.is_empty() || !errors.is_empty() {
        report.failed += errors.len();
        committer.commit(part.manifests, errors).await?;
    }
    Ok(report)
}
