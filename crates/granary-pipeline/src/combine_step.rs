//! Combine and publish: the selection drives the combiner (granary-sql), and every resulting
//! reference set is published by granary-refs' one publish path, to every target. `granary run`
//! (each sink a target) and `granary combine` (its `-o` the one target) both come here.

use std::collections::HashMap;
use std::path::PathBuf;

use datafusion::arrow::array::AsArray;

use datafusion::prelude::SessionContext;
use granary_icechunk::{CommitOutcome, CommitTarget, RepoLocation, RepoStorage, commit_combined};
use granary_refs::combine::{CombineReport, SkippedInCombine};
use granary_refs::{
    Overwrite, RefFormat, UrlMap, check_output_path, check_replaceable, output_path, publish,
};
use granary_sql::{CombineOptions, Partition, combine};

use crate::error::PipelineError;

/// Where and how a reference set is written.
#[derive(Debug, Clone)]
pub struct Target {
    /// The sink id (`granary combine`: "output").
    pub sink: String,
    /// The output path; `{}` or `{COLUMN}` takes the partition value.
    pub template: PathBuf,
    pub format: RefFormat,
    pub record_size: u64,
    pub overwrite: Overwrite,
    /// URL prefixes rewritten in this target's references (empty: as inventoried).
    pub url_map: UrlMap,
    /// Settings of an Icechunk target (`format` Icechunk).
    pub icechunk: Option<IcechunkSink>,
}

/// Where an Icechunk target commits, and what its commits say.
#[derive(Debug, Clone, Default)]
pub struct IcechunkSink {
    pub branch: String,
    pub storage: RepoStorage,
    /// What runs, first words of each commit message (`pipeline swot.toml, sink refs`).
    pub title: String,
    /// The selection as the user wrote it, recorded in each commit.
    pub selection: String,
}

/// One reference set written (or, in a dry run, that would be written).
#[derive(Debug, Clone)]
pub struct Output {
    pub sink: String,
    pub path: PathBuf,
    pub bytes: u64,
    /// Arrays in the reference set.
    pub arrays: usize,
    pub report: CombineReport,
    /// What an Icechunk target committed.
    pub commit: Option<CommitOutcome>,
}

/// url → ETag of every inventoried granule (an Icechunk reference's checksum).
async fn etags(ctx: &SessionContext) -> Result<HashMap<String, String>, PipelineError> {
    let err = |e: datafusion::error::DataFusionError| PipelineError::Sql {
        component: "icechunk".into(),
        source: Box::new(e.into()),
    };
    let batches = ctx
        .sql("SELECT url, etag FROM granules WHERE etag IS NOT NULL")
        .await
        .map_err(err)?
        .collect()
        .await
        .map_err(err)?;
    let mut out = HashMap::new();
    for b in &batches {
        let text = |i: usize| arrow::compute::cast(b.column(i), &arrow::datatypes::DataType::Utf8);
        let (urls, tags) = (
            text(0).map_err(|e| err(e.into()))?,
            text(1).map_err(|e| err(e.into()))?,
        );
        let (urls, tags) = (urls.as_string::<i32>(), tags.as_string::<i32>());
        for i in 0..b.num_rows() {
            out.insert(urls.value(i).to_string(), tags.value(i).to_string());
        }
    }
    Ok(out)
}

/// Commits one partition to an Icechunk target (references already mapped by `url_map`;
/// `etags` in the order of the set's URLs).
async fn commit_icechunk(
    t: &Target,
    sink: &IcechunkSink,
    path: &std::path::Path,
    part: &mut Partition,
    etags: Vec<Option<String>>,
    policy: granary_core::ArrayPolicy,
) -> Result<CommitOutcome, PipelineError> {
    let err = |source| PipelineError::Icechunk {
        sink: t.sink.clone(),
        source: Box::new(source),
    };
    let location = RepoLocation::parse(&path.to_string_lossy()).map_err(err)?;
    let target = CommitTarget {
        location,
        storage: sink.storage.clone(),
        branch: sink.branch.clone(),
        title: sink.title.clone(),
        selection: sink.selection.clone(),
        policy,
    };
    let outcome = commit_combined(&part.combined, &etags, &target)
        .await
        .map_err(err)?;
    let granules = part.combined.report.granules;
    for (p, reason) in &outcome.skipped {
        part.combined.report.skipped_arrays.push(SkippedInCombine {
            path: p.clone(),
            granules,
            example: target.location.display(),
            reason: format!("Zarr v3: {reason}"),
        });
    }
    Ok(outcome)
}

/// Combines the granules `selection` returns and publishes the result to every target; a
/// dry run publishes nothing but still refuses outputs that exist and may not be replaced.
/// No output may overlap a `protected` path (the state and inventory directories).
pub async fn combine_and_publish(
    ctx: &SessionContext,
    component: &str,
    selection: &str,
    opts: &CombineOptions,
    targets: &[Target],
    protected: &[PathBuf],
    dry_run: bool,
) -> Result<Vec<Output>, PipelineError> {
    for t in targets {
        if is_remote(t) {
            continue;
        }
        let err = |source| PipelineError::Publish {
            sink: t.sink.clone(),
            source: Box::new(source),
        };
        // The template itself, before any partition value is put in.
        check_output_path(&t.template, protected).map_err(err)?;
        // An output that may not be replaced is refused now, not after the combine (checked
        // again when it is published). A partitioned path is known only then.
        if opts.partition_by.is_none() && t.format != RefFormat::Icechunk {
            check_replaceable(&t.template, t.overwrite).map_err(err)?;
        }
    }
    let mut parts = combine(ctx, selection, opts)
        .await
        .map_err(|source| PipelineError::Sql {
            component: component.to_string(),
            source: Box::new(source),
        })?;
    let etags = if targets.iter().any(|t| t.format == RefFormat::Icechunk) {
        etags(ctx).await?
    } else {
        HashMap::new()
    };
    let mut outputs = Vec::new();
    for t in targets {
        let err = |source| PipelineError::Publish {
            sink: t.sink.clone(),
            source: Box::new(source),
        };
        for part in &mut parts {
            // This target's URLs, checked before anything is written (dry runs too).
            let mapped = if t.url_map.is_empty() {
                None
            } else {
                Some(t.url_map.apply(&part.combined.urls).map_err(err)?)
            };
            let path = output_path(
                &t.template,
                part.key.as_deref(),
                opts.partition_by.as_deref(),
            )
            .map_err(err)?;
            if !is_remote(t) {
                check_output_path(&path, protected).map_err(err)?;
            }
            if let (RefFormat::Icechunk, Some(sink)) = (t.format, &t.icechunk) {
                let commit = if dry_run {
                    RepoLocation::parse(&path.to_string_lossy()).map_err(|source| {
                        PipelineError::Icechunk {
                            sink: t.sink.clone(),
                            source: Box::new(source),
                        }
                    })?;
                    None
                } else {
                    let tags = part
                        .combined
                        .urls
                        .iter()
                        .map(|u| etags.get(u).cloned())
                        .collect();
                    let mut urls = mapped.clone().unwrap_or_else(|| part.combined.urls.clone());
                    std::mem::swap(&mut part.combined.urls, &mut urls);
                    let done =
                        commit_icechunk(t, sink, &path, part, tags, opts.unreferenceable).await;
                    std::mem::swap(&mut part.combined.urls, &mut urls);
                    Some(done?)
                };
                outputs.push(Output {
                    sink: t.sink.clone(),
                    path,
                    bytes: 0,
                    arrays: part.combined.arrays.len(),
                    report: part.combined.report.clone(),
                    commit,
                });
                continue;
            }
            let bytes = if dry_run {
                check_replaceable(&path, t.overwrite).map_err(err)?;
                0
            } else if let Some(mut urls) = mapped {
                std::mem::swap(&mut part.combined.urls, &mut urls);
                let written = publish(&part.combined, &path, t.format, t.record_size, t.overwrite);
                std::mem::swap(&mut part.combined.urls, &mut urls);
                written.map_err(err)?
            } else {
                let started = std::time::Instant::now();
                let n = publish(&part.combined, &path, t.format, t.record_size, t.overwrite)
                    .map_err(err)?;
                tracing::debug!(path = %path.display(), bytes = n, ms = started.elapsed().as_secs_f64() * 1e3, "published");
                n
            };
            outputs.push(Output {
                sink: t.sink.clone(),
                path,
                bytes,
                arrays: part.combined.arrays.len(),
                report: part.combined.report.clone(),
                commit: None,
            });
        }
    }
    Ok(outputs)
}

/// A target outside the local file system (an `s3://` Icechunk repository).
fn is_remote(t: &Target) -> bool {
    t.template.to_string_lossy().contains("://")
}
