//! Running a pipeline: the source's granules are inventoried incrementally into the state
//! directory (so a killed run resumes where it stopped), the sql transforms run over the
//! inventory, the combine transform builds the reference sets, and every sink publishes them.

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::prelude::SessionContext;
use futures::StreamExt;
use granary_extract::{ExtractOptions, Extractor, Metadata};
use granary_io::{EarthdataCredentials, RemoteOptions, StoreRegistry};
use granary_refs::combine::CombineReport;
use granary_sql::{
    BuildOptions, CombineOptions, Inventory, InventoryDir, SWOT_NAME_PATTERN, build_inventory,
    combine, pattern, session, session_for_dir,
};

use crate::error::PipelineError;
use crate::load::Pipeline;
use crate::sink::{RefFormat, output_path, publish};
use crate::spec::{Attrs, Credentials, OnDuplicate};

/// Called with (stage, done, total) as a run progresses (e.g. to draw a progress bar).
pub type Progress = Arc<dyn Fn(&str, usize, usize) + Send + Sync>;

/// How to run.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Inventory in memory, run everything, write nothing; report what would be written.
    pub dry_run: bool,
    /// Only the first N granules of the source (sorted by URL); state kept apart.
    pub prune: Option<usize>,
    /// Output path for the (single) sink, replacing its `path`.
    pub target: Option<String>,
    pub progress: Option<Progress>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("dry_run", &self.dry_run)
            .field("prune", &self.prune)
            .field("target", &self.target)
            .finish()
    }
}

/// One reference set written (or, in a dry run, that would be written).
#[derive(Debug, Clone)]
pub struct Output {
    pub sink: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub report: CombineReport,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub listed: usize,
    pub unchanged: usize,
    pub scanned: usize,
    pub failed: usize,
    pub outputs: Vec<Output>,
    /// (url, stage, message) of failed granules (at most 20).
    pub failures: Vec<(String, String, String)>,
    /// Requests, bytes and round trips of the extraction (and of the byte checks of combine).
    pub io: granary_io::IoStatsSnapshot,
    /// The same per store (`scheme://bucket-or-host`).
    pub io_per_store: Vec<(String, granary_io::IoStatsSnapshot)>,
    /// Temporary credentials fetched from Earthdata.
    pub credential_fetches: usize,
}

fn run_err(component: &str, message: impl Into<String>) -> PipelineError {
    PipelineError::Run {
        component: component.to_string(),
        message: message.into(),
    }
}

fn sql_err(component: &str) -> impl Fn(granary_sql::SqlError) -> PipelineError + '_ {
    move |source| PipelineError::Sql {
        component: component.to_string(),
        source,
    }
}

fn extractor(
    p: &Pipeline,
) -> Result<(Extractor, Option<Arc<EarthdataCredentials>>), PipelineError> {
    let (_, e) = &p.extractor;
    let metadata = match e.kind.as_str() {
        "dmrpp" => Metadata::Dmrpp,
        "hdf5" => Metadata::Hdf5,
        _ => Metadata::Auto,
    };
    let st = &p.source.1.storage;
    let earthdata = match st.credentials {
        Credentials::Environment => None,
        Credentials::Earthdata => {
            let (id, _) = &p.source;
            let url = st
                .earthdata_url
                .as_deref()
                .ok_or_else(|| PipelineError::File {
                    file: p.file.display().to_string(),
                    message: format!(
                        "sources.{id}.storage: credentials = \"earthdata\" needs earthdata_url"
                    ),
                })?;
            let provider = EarthdataCredentials::from_env(
                url,
                std::time::Duration::from_secs(st.refresh_before_secs),
            )
            .map_err(|m| run_err(id, m))?;
            Some(Arc::new(provider))
        }
    };
    let remote = RemoteOptions {
        region: st.region.clone(),
        endpoint: st.endpoint.clone(),
        anonymous: st.anonymous,
        allow_http: st
            .endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://")),
        max_retries: st.max_retries,
        timeout: st.timeout_secs.map(std::time::Duration::from_secs),
        max_concurrent_requests: st.max_concurrent_requests,
        s3_credentials: earthdata.clone().map(|c| c as _),
    };
    let ex = Extractor::new(
        Arc::new(StoreRegistry::with_remote(remote)),
        ExtractOptions {
            metadata,
            metadata_only: false,
            concurrency: e.concurrency,
        },
    );
    Ok((ex, earthdata))
}

/// The source's granules, or the first `prune` of them.
async fn sources(
    p: &Pipeline,
    ex: &Extractor,
    prune: Option<usize>,
) -> Result<Vec<String>, PipelineError> {
    let (id, s) = &p.source;
    match prune {
        None => Ok(s.paths.clone()),
        Some(n) => {
            let urls = ex
                .expand(&s.paths)
                .await
                .map_err(|e| run_err(id, e.to_string()))?;
            Ok(urls.into_iter().take(n).map(|u| u.to_string()).collect())
        }
    }
}

/// The inventory session: persisted and incremental, or in memory for a dry run.
async fn inventory(
    p: &Pipeline,
    opts: &RunOptions,
    ex: &Extractor,
    report: &mut RunReport,
) -> Result<SessionContext, PipelineError> {
    let (sid, s) = &p.source;
    let (eid, e) = &p.extractor;
    let re =
        pattern(s.name_pattern.as_deref().unwrap_or(SWOT_NAME_PATTERN)).map_err(sql_err(sid))?;
    let srcs = sources(p, ex, opts.prune).await?;
    if opts.dry_run {
        let urls = ex
            .expand(&srcs)
            .await
            .map_err(|e| run_err(sid, e.to_string()))?;
        report.listed = urls.len();
        let mut manifests = Vec::new();
        let total = urls.len();
        let mut done = 0;
        let mut results = std::pin::pin!(ex.extract_many(urls));
        while let Some((url, r)) = results.next().await {
            done += 1;
            if let Some(p) = &opts.progress {
                p("extract", done, total);
            }
            match r {
                Ok(m) => manifests.push(m),
                Err(err) => {
                    report.failed += 1;
                    if report.failures.len() < 20 {
                        report.failures.push((
                            url.to_string(),
                            err.stage().to_string(),
                            err.to_string(),
                        ));
                    }
                }
            }
        }
        report.scanned = manifests.len();
        manifests.sort_by(|a, b| a.url.cmp(&b.url));
        let inv = Inventory::build(&manifests, Some(&re)).map_err(sql_err(eid))?;
        return session(&inv).map_err(sql_err(eid));
    }
    let dir = match opts.prune {
        None => p.state_dir.join("inventory"),
        Some(n) => p.state_dir.join(format!("inventory-prune-{n}")),
    };
    let built = build_inventory(
        ex,
        &srcs,
        &dir,
        &BuildOptions {
            part_size: e.part_size.max(1),
        },
        &mut |done, total| {
            tracing::debug!(done, total, "inventory");
            if let Some(p) = &opts.progress {
                p("extract", done, total);
            }
        },
    )
    .await
    .map_err(sql_err(eid))?;
    report.listed = built.listed;
    report.unchanged = built.unchanged;
    report.scanned = built.scanned;
    report.failed = built.failed;
    let inv = InventoryDir::open(&dir).map_err(sql_err(eid))?;
    let ctx = session_for_dir(&inv, Some(&re)).map_err(sql_err(eid))?;
    if built.failed > 0 {
        let rows = granary_sql::query(
            &ctx,
            "SELECT url, stage, message FROM errors ORDER BY url LIMIT 20",
        )
        .await
        .map_err(sql_err(eid))?;
        for b in rows {
            let col = |i: usize| {
                datafusion::arrow::compute::cast(
                    b.column(i),
                    &datafusion::arrow::datatypes::DataType::Utf8,
                )
            };
            let (Ok(u), Ok(s), Ok(m)) = (col(0), col(1), col(2)) else {
                continue;
            };
            let (u, s, m) = (
                datafusion::arrow::array::AsArray::as_string::<i32>(&u),
                datafusion::arrow::array::AsArray::as_string::<i32>(&s),
                datafusion::arrow::array::AsArray::as_string::<i32>(&m),
            );
            for i in 0..b.num_rows() {
                report.failures.push((
                    u.value(i).to_string(),
                    s.value(i).to_string(),
                    m.value(i).to_string(),
                ));
            }
        }
    }
    Ok(ctx)
}

/// Runs the pipeline.
pub async fn run(p: &Pipeline, opts: &RunOptions) -> Result<RunReport, PipelineError> {
    if opts.target.is_some() && p.sinks.len() != 1 {
        return Err(PipelineError::File {
            file: p.file.display().to_string(),
            message: format!(
                "--target needs exactly one sink; this pipeline has {}",
                p.sinks.len()
            ),
        });
    }
    for (id, s) in &p.sinks {
        if s.path.is_none() && opts.target.is_none() {
            return Err(PipelineError::File {
                file: p.file.display().to_string(),
                message: format!("sinks.{id}: no `path`; give one or run with --target"),
            });
        }
    }
    let (ex, credentials) = extractor(p)?;
    let mut report = RunReport::default();
    let ctx = inventory(p, opts, &ex, &mut report).await?;
    for (id, q) in &p.sql {
        let df = ctx.sql(q).await.map_err(|e| sql_err(id)(e.into()))?;
        ctx.register_table(id.as_str(), df.into_view())
            .map_err(|e| sql_err(id)(e.into()))?;
    }
    let (cid, c) = &p.combine;
    let last = p
        .sql
        .last()
        .map(|(id, _)| id.clone())
        .ok_or_else(|| run_err(cid, "no sql input"))?;
    let copts = CombineOptions {
        identical: c.identical.clone(),
        on_duplicate: match c.on_duplicate {
            OnDuplicate::Error => granary_refs::OnDuplicate::Error,
            OnDuplicate::First => granary_refs::OnDuplicate::First,
            OnDuplicate::Last => granary_refs::OnDuplicate::Last,
        },
        attrs: match c.attrs {
            Attrs::Drop => granary_refs::AttrPolicy::Drop,
            Attrs::Array => granary_refs::AttrPolicy::Array,
        },
        partition_by: c.partition_by.clone(),
        reader: Some(ex.clone()),
    };
    let parts = combine(&ctx, &format!("SELECT * FROM \"{last}\""), &copts)
        .await
        .map_err(sql_err(cid))?;
    for (sid, s) in &p.sinks {
        let template = PathBuf::from(
            opts.target
                .clone()
                .or_else(|| s.path.clone())
                .unwrap_or_default(),
        );
        let format = match s.kind.as_str() {
            "kerchunk_json" => RefFormat::Json,
            _ => RefFormat::Parquet,
        };
        for part in &parts {
            let path = output_path(&template, part.key.as_deref(), c.partition_by.as_deref())
                .map_err(|m| run_err(sid, m))?;
            let bytes = if opts.dry_run {
                if path.exists() && !s.overwrite {
                    return Err(run_err(
                        sid,
                        format!("{} exists (overwrite = false)", path.display()),
                    ));
                }
                0
            } else {
                publish(&part.combined, &path, format, s.record_size, s.overwrite)
                    .map_err(|m| run_err(sid, m))?
            };
            report.outputs.push(Output {
                sink: sid.clone(),
                path,
                bytes,
                report: part.combined.report.clone(),
            });
        }
    }
    report.io = ex.stats().snapshot();
    report.io_per_store = ex.stats_per_store();
    report.credential_fetches = credentials.map_or(0, |c| c.fetches());
    Ok(report)
}
