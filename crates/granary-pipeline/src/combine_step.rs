//! Combine and publish: the selection drives the combiner (granary-sql), and every resulting
//! reference set is published by granary-refs' one publish path, to every target. `granary run`
//! (each sink a target) and `granary combine` (its `-o` the one target) both come here.

use std::path::PathBuf;

use datafusion::prelude::SessionContext;
use granary_refs::combine::CombineReport;
use granary_refs::{
    Overwrite, PublishError, RefFormat, UrlMap, check_output_path, is_granary_output, output_path,
    publish,
};
use granary_sql::{CombineOptions, combine};

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
        // The template itself, before any partition value is put in.
        check_output_path(&t.template, protected).map_err(|source| PipelineError::Publish {
            sink: t.sink.clone(),
            source: Box::new(source),
        })?;
    }
    let mut parts = combine(ctx, selection, opts)
        .await
        .map_err(|source| PipelineError::Sql {
            component: component.to_string(),
            source: Box::new(source),
        })?;
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
            check_output_path(&path, protected).map_err(err)?;
            let bytes = if dry_run {
                let exists = std::fs::symlink_metadata(&path).is_ok();
                if exists && t.overwrite == Overwrite::Refuse {
                    return Err(err(PublishError::Exists {
                        path: path.display().to_string(),
                    }));
                }
                if exists && !is_granary_output(&path) {
                    return Err(err(PublishError::NotOurs {
                        path: path.display().to_string(),
                    }));
                }
                0
            } else if let Some(mut urls) = mapped {
                std::mem::swap(&mut part.combined.urls, &mut urls);
                let written = publish(&part.combined, &path, t.format, t.record_size, t.overwrite);
                std::mem::swap(&mut part.combined.urls, &mut urls);
                written.map_err(err)?
            } else {
                publish(&part.combined, &path, t.format, t.record_size, t.overwrite).map_err(err)?
            };
            outputs.push(Output {
                sink: t.sink.clone(),
                path,
                bytes,
                arrays: part.combined.arrays.len(),
                report: part.combined.report.clone(),
            });
        }
    }
    Ok(outputs)
}
