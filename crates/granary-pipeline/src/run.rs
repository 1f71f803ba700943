//! Running a pipeline: the source's granules are inventoried incrementally into the state
//! directory (so a killed run resumes where it stopped), the sql transforms run over the
//! inventory, and the combine step builds the reference sets and publishes them to every sink.

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::prelude::SessionContext;
use granary_cluster::{ClusterOptions, ClusterScanner, ScanRecipe};
use granary_extract::{ExtractOptions, Extractor};
use granary_icechunk::RepoStorage;
use granary_inventory::zarr_table::unreferenced_rows;
use granary_inventory::{
    BuildOptions, ErrorRow, GranuleScanner, InventoryDir, build_inventory, inventory_in_memory,
};
use granary_io::store_settings::{EarthdataSettings, HttpsLogin};
use granary_io::{EarthdataCredentials, ReadScope, StoreRegistry, StoreSettings};
use granary_refs::{RefFormat, UrlMap};
use granary_sql::{ArraySelection, CombineOptions, in_memory_session, session_for_dir};

use crate::combine_step::{IcechunkSink, Output, Target, combine_and_publish};
use crate::error::PipelineError;
use crate::load::Pipeline;
use crate::spec::{Credentials, EngineType};

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
    /// Scan on this cluster (`df://HOST:PORT`), whatever the pipeline's `[engine]` says.
    pub cluster: Option<String>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("dry_run", &self.dry_run)
            .field("prune", &self.prune)
            .field("target", &self.target)
            .field("cluster", &self.cluster)
            .finish()
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub listed: usize,
    pub unchanged: usize,
    pub scanned: usize,
    pub failed: usize,
    pub outputs: Vec<Output>,
    /// Failed granules (at most 20), in URL order.
    pub failures: Vec<ErrorRow>,
    /// Arrays left out of the inventoried granules (per-array policy `skip`), in URL order.
    pub skipped: Vec<ErrorRow>,
    /// Requests, bytes and round trips of the extraction (and of the byte checks of combine).
    pub io: granary_io::IoStatsSnapshot,
    /// The same per store (`scheme://bucket-or-host`).
    pub io_per_store: Vec<(String, granary_io::IoStatsSnapshot)>,
    /// Temporary credentials fetched from Earthdata.
    pub credential_fetches: usize,
}

/// How many failures a report lists.
const LISTED_FAILURES: usize = 20;

/// The run's extractor, with what it was built from.
struct Extraction {
    ex: Extractor,
    /// Temporary S3 keys' provider (its fetches are reported).
    earthdata: Option<Arc<EarthdataCredentials>>,
    urs_login: Option<Arc<granary_io::urs_login::UrsLogin>>,
    /// Which credentials were used, named in errors when every granule fails.
    credential: String,
    /// The stores' settings, as executors of a cluster run rebuild them.
    stores: StoreSettings,
}

/// The source's storage settings, resolved: a CMR source reading in region takes the
/// credentials endpoint (and region) from the collection's UMM-C when the pipeline does not
/// name them (nothing hard-coded per DAAC).
async fn store_settings(p: &Pipeline) -> Result<StoreSettings, PipelineError> {
    let (id, source) = &p.source;
    let st = &source.storage;
    let mut earthdata_url = st.earthdata_url.clone();
    let mut region = st.region.clone();
    if source.kind == crate::spec::SourceType::Cmr
        && source.access == granary_io::cmr::Access::Direct
        && st.credentials == Credentials::Earthdata
        && earthdata_url.is_none()
    {
        let direct = granary_io::cmr::direct_access(&source.cmr_query())
            .await
            .map_err(|source| PipelineError::Storage {
                component: id.clone(),
                source: Box::new(source),
            })?
            .unwrap_or_default();
        earthdata_url = direct.s3_credentials_endpoint;
        if region.is_none() {
            region = direct.region;
        }
        if earthdata_url.is_none() {
            return Err(PipelineError::File {
                file: p.file.display().to_string(),
                message: format!(
                    "sources.{id}: the collection's CMR record names no S3 credentials endpoint (UMM-C DirectDistributionInformation); give storage.earthdata_url"
                ),
            });
        }
        tracing::info!(endpoint = ?earthdata_url, region = ?region, "S3 credentials endpoint from the collection's CMR record.");
    }
    // Earthdata Login: the bearer token also authorizes HTTPS reads of granules; without
    // EARTHDATA_TOKEN, a source that reads over HTTPS gets one for its netrc user.
    let reads_https = match source.kind {
        crate::spec::SourceType::Cmr => source.access == granary_io::cmr::Access::External,
        crate::spec::SourceType::Files => source
            .paths
            .iter()
            .any(|p| p.starts_with("https://") || p.starts_with("http://")),
    };
    let earthdata = (st.credentials == Credentials::Earthdata).then(|| EarthdataSettings {
        s3_credentials_url: earthdata_url,
        refresh_before_secs: st.refresh_before_secs,
        https_login: reads_https.then(|| HttpsLogin {
            login_url: st
                .earthdata_login_url
                .clone()
                .unwrap_or_else(|| granary_io::login_token::EARTHDATA_LOGIN.to_string()),
            redirects: st.https_login == crate::spec::HttpsLogin::Redirects,
        }),
    });
    Ok(StoreSettings {
        region,
        endpoint: st.endpoint.clone(),
        anonymous: st.anonymous,
        max_retries: st.max_retries,
        timeout_secs: st.timeout_secs,
        max_concurrent_requests: st.max_concurrent_requests,
        earthdata,
    })
}

async fn extractor(p: &Pipeline) -> Result<Extraction, PipelineError> {
    let (_, e) = &p.extractor;
    let (id, _) = &p.source;
    let stores = store_settings(p).await?;
    let connected = stores
        .connect()
        .await
        .map_err(|source| PipelineError::Storage {
            component: id.clone(),
            source: Box::new(source),
        })?;
    let remote = &connected.remote;
    // Named in errors when every granule fails (a wrong token, an expired session).
    let credential = match &stores.earthdata {
        None => "the environment's credentials".to_string(),
        Some(ed) => {
            let https = if std::env::var("EARTHDATA_TOKEN").is_ok_and(|t| !t.trim().is_empty()) {
                "HTTPS: the bearer token in EARTHDATA_TOKEN"
            } else if remote.urs_login.is_some() {
                "HTTPS: the Earthdata Login session of the netrc user"
            } else if remote.bearer_token.is_some() {
                "HTTPS: a bearer token the netrc user got from Earthdata Login"
            } else {
                "HTTPS: none"
            };
            match &ed.s3_credentials_url {
                Some(u) => format!("{https}; S3: temporary keys from {u}"),
                None => https.to_string(),
            }
        }
    };
    // HTTPS only: the token (or login session) is the credential.
    if let Some(ed) = &stores.earthdata
        && ed.s3_credentials_url.is_none()
        && remote.bearer_token.is_none()
        && remote.urs_login.is_none()
    {
        return Err(PipelineError::File {
            file: p.file.display().to_string(),
            message: format!(
                "sources.{id}.storage: credentials = \"earthdata\" needs earthdata_url (temporary S3 keys) or, for HTTPS reads, a token in EARTHDATA_TOKEN or a netrc login"
            ),
        });
    }
    let ex = Extractor::new(
        Arc::new(StoreRegistry::with_remote(connected.remote.clone())),
        ExtractOptions {
            metadata: e.route,
            metadata_only: false,
            concurrency: e.concurrency,
            sidecar_check: e.sidecar_check,
            arrays: e.unreferenceable,
        },
    )
    .with_scope(ReadScope::new(e.allow_locations.clone()));
    Ok(Extraction {
        ex,
        earthdata: connected.earthdata,
        urs_login: connected.urs_login,
        credential,
        stores,
    })
}

/// Holds the state directory's lock for the run: a second `granary run` of the same pipeline
/// (same state directory) fails at once instead of racing on the inventory and the outputs.
fn lock_state(p: &Pipeline) -> Result<std::fs::File, PipelineError> {
    let err = |source: std::io::Error| PipelineError::State {
        path: p.state_dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(&p.state_dir).map_err(err)?;
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(p.state_dir.join("_run.lock"))
        .map_err(err)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(PipelineError::Busy {
            path: p.state_dir.display().to_string(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(err(e)),
    }
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
                .map_err(|source| PipelineError::Extract {
                    component: id.clone(),
                    source: Box::new(source),
                })?;
            Ok(urls.into_iter().take(n).map(|u| u.to_string()).collect())
        }
    }
}

/// The inventory session: persisted and incremental, or in memory for a dry run.
/// The cluster scanner of a run on `ballista` (or with `--cluster`), connected now: an
/// unreachable scheduler is an error before any work. Dry runs scan here.
async fn cluster_scanner(
    p: &Pipeline,
    opts: &RunOptions,
    ex: &Extractor,
    stores: StoreSettings,
) -> Result<Option<ClusterScanner>, PipelineError> {
    let e = &p.engine;
    let scheduler = match (&opts.cluster, e.kind) {
        (Some(url), _) => url.clone(),
        (None, EngineType::Embedded) => return Ok(None),
        (None, EngineType::Ballista) => e.scheduler.clone().ok_or_else(|| PipelineError::File {
            file: p.file.display().to_string(),
            message: "engine: type = \"ballista\" needs scheduler = \"df://HOST:PORT\" (or run with --cluster)".to_string(),
        })?,
    };
    if opts.dry_run {
        return Ok(None);
    }
    let cluster = ClusterOptions {
        scheduler,
        granules_per_task: e
            .granules_per_task
            .unwrap_or(ClusterOptions::DEFAULT_GRANULES_PER_TASK),
        granules_per_job: e
            .granules_per_job
            .unwrap_or(ClusterOptions::DEFAULT_GRANULES_PER_JOB),
    };
    ClusterScanner::connect(cluster, ScanRecipe::of(ex, stores))
        .await
        .map(Some)
        .map_err(|source| PipelineError::Cluster {
            component: p.extractor.0.clone(),
            source: Box::new(source),
        })
}

async fn inventory(
    p: &Pipeline,
    opts: &RunOptions,
    ex: &Extractor,
    scanner: Option<&ClusterScanner>,
    urs_login: Option<&granary_io::urs_login::UrsLogin>,
    report: &mut RunReport,
) -> Result<SessionContext, PipelineError> {
    let (sid, s) = &p.source;
    let (eid, e) = &p.extractor;
    let inv_err = |component: &str| {
        let component = component.to_string();
        move |source| PipelineError::Inventory {
            component,
            source: Box::new(source),
        }
    };
    let sql_err = |source| PipelineError::Sql {
        component: eid.clone(),
        source: Box::new(source),
    };
    let pattern = s.pattern().map_err(inv_err(sid))?;
    let cmr = if s.kind == crate::spec::SourceType::Cmr {
        // The search is kept in the inventory directory (a pruned or dry run keeps nothing).
        let inventory_dir = p.state_dir.join("inventory");
        let state = (!opts.dry_run && opts.prune.is_none()).then_some(inventory_dir.as_path());
        Some(crate::cmr_source::search(sid, s, state).await?)
    } else {
        None
    };
    let srcs = match &cmr {
        Some(c) => c
            .urls
            .iter()
            .take(opts.prune.unwrap_or(usize::MAX))
            .cloned()
            .collect(),
        None => sources(p, ex, opts.prune).await?,
    };
    // DMR++ links a CMR record names (elsewhere than `<granule>.dmrpp`).
    let with_sidecars;
    let ex = match &cmr {
        Some(c) => {
            let links = granary_inventory::cmr_table::sidecar_links(&c.table)
                .into_iter()
                .filter_map(|(d, s)| url::Url::parse(&s).ok().map(|s| (d, s)));
            with_sidecars = ex.clone().with_sidecars(links);
            &with_sidecars
        }
        None => ex,
    };
    // Earthdata Login by redirects: one login per granule host before anything is read.
    if let Some(login) = urs_login {
        let mut hosts = std::collections::BTreeSet::new();
        for u in &srcs {
            if let Ok(url) = url::Url::parse(u)
                && matches!(url.scheme(), "http" | "https")
                && hosts.insert(format!("{}://{}", url.scheme(), url.authority()))
            {
                login
                    .login(&url)
                    .await
                    .map_err(|source| PipelineError::Storage {
                        component: sid.clone(),
                        source: Box::new(source),
                    })?;
            }
        }
    }
    let with_cmr = |ctx: SessionContext| -> Result<SessionContext, PipelineError> {
        if let Some(c) = &cmr {
            ctx.register_batch("cmr_granules", c.table.clone())
                .map_err(|e| PipelineError::Sql {
                    component: sid.clone(),
                    source: Box::new(e.into()),
                })?;
        }
        Ok(ctx)
    };
    let mut progress = |done: usize, total: usize| {
        tracing::debug!(done, total, "inventory");
        if let Some(p) = &opts.progress {
            p("extract", done, total);
        }
    };
    if opts.dry_run {
        let mem = inventory_in_memory(ex, &srcs, pattern.as_ref(), &mut progress)
            .await
            .map_err(inv_err(eid))?;
        report.listed = mem.listed;
        report.failed = mem.errors.len();
        report.scanned = mem.listed - mem.errors.len();
        report.failures = mem.errors.iter().take(LISTED_FAILURES).cloned().collect();
        report.skipped = unreferenced_rows(&mem.inventory.zarr, "zarr").map_err(inv_err(eid))?;
        return with_cmr(in_memory_session(&mem).map_err(sql_err)?);
    }
    let dir = match opts.prune {
        None => p.state_dir.join("inventory"),
        Some(n) => p.state_dir.join(format!("inventory-prune-{n}")),
    };
    // A CMR source records its search, not this run's granule list, as the inventory's source.
    let identity = cmr.as_ref().map(|c| vec![c.identity.clone()]);
    let built = build_inventory(
        ex,
        &srcs,
        &dir,
        &BuildOptions {
            part_size: e.part_size.max(1),
            part_bytes: granary_inventory::part_bytes_of_mib(e.part_mib),
            identity: identity.as_deref(),
            rescan: cmr.as_ref().map_or(&[], |c| c.rescan.as_slice()),
            scanner: scanner.map(|s| s as &dyn GranuleScanner),
        },
        &mut progress,
    )
    .await
    .map_err(inv_err(eid))?;
    report.listed = built.listed;
    report.unchanged = built.unchanged;
    report.scanned = built.scanned;
    report.failed = built.failed;
    let inv = InventoryDir::open(&dir).map_err(inv_err(eid))?;
    let (skipped, failures): (Vec<ErrorRow>, Vec<ErrorRow>) = inv
        .errors()
        .map_err(inv_err(eid))?
        .into_iter()
        .partition(|e| e.array.is_some());
    report.failures = failures.into_iter().take(LISTED_FAILURES).collect();
    report.skipped = skipped;
    if let Some(c) = &cmr
        && opts.prune.is_none()
    {
        crate::cmr_source::commit(sid, c, &dir)?;
        // session_for_dir registers the table it now holds.
        return session_for_dir(&inv, pattern.as_ref()).map_err(sql_err);
    }
    with_cmr(session_for_dir(&inv, pattern.as_ref()).map_err(sql_err)?)
}

/// An Icechunk sink's settings: branch, bucket settings, and what its commits say.
fn icechunk_sink(p: &Pipeline, id: &str, s: &crate::spec::SinkSpec) -> IcechunkSink {
    let st = s.storage.clone().unwrap_or_default();
    let file = p.file.file_name().map_or_else(
        || p.file.display().to_string(),
        |f| f.to_string_lossy().to_string(),
    );
    IcechunkSink {
        branch: s.branch.clone().unwrap_or_else(|| "main".into()),
        storage: RepoStorage {
            region: st.region,
            endpoint: st.endpoint,
            anonymous: st.anonymous,
        },
        title: format!("granary run {file}, sink {id}"),
        selection: p.sql.last().map(|(_, q)| q.clone()).unwrap_or_default(),
    }
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
    let mut targets = Vec::new();
    for (id, s) in &p.sinks {
        let path = opts
            .target
            .clone()
            .or_else(|| s.path.clone())
            .ok_or_else(|| PipelineError::File {
                file: p.file.display().to_string(),
                message: format!("sinks.{id}: no `path`; give one or run with --target"),
            })?;
        targets.push(Target {
            sink: id.clone(),
            template: PathBuf::from(path),
            format: s.format,
            record_size: s.record_size,
            overwrite: s.overwrite.into(),
            url_map: UrlMap::new(s.url_map.clone()).map_err(|source| PipelineError::Publish {
                sink: id.clone(),
                source: Box::new(source),
            })?,
            icechunk: (s.format == RefFormat::Icechunk).then(|| icechunk_sink(p, id, s)),
        });
    }
    let Extraction {
        ex,
        earthdata: credentials,
        urs_login,
        credential,
        stores,
    } = extractor(p).await?;
    let scanner = cluster_scanner(p, opts, &ex, stores).await?;
    let _state_lock = if opts.dry_run {
        None
    } else {
        Some(lock_state(p)?)
    };
    let mut report = RunReport::default();
    let ctx = inventory(
        p,
        opts,
        &ex,
        scanner.as_ref(),
        urs_login.as_deref(),
        &mut report,
    )
    .await?;
    // Every granule failed (a wrong token, an unreachable host): say why, not "empty selection".
    if report.listed > 0
        && report.scanned == 0
        && report.unchanged == 0
        && let Some(f) = report.failures.first()
    {
        return Err(PipelineError::AllFailed {
            component: p.extractor.0.clone(),
            count: report.failed,
            example: format!("{} [{}]: {}", f.url, f.stage, f.message),
            credential,
        });
    }
    for (id, q) in &p.sql {
        let err = |e: datafusion::error::DataFusionError| PipelineError::Sql {
            component: id.clone(),
            source: Box::new(e.into()),
        };
        let df = ctx.sql(q).await.map_err(err)?;
        ctx.register_table(id.as_str(), df.into_view())
            .map_err(err)?;
    }
    let (cid, c) = &p.combine;
    let last = p
        .sql
        .last()
        .map(|(id, _)| id.clone())
        .ok_or_else(|| PipelineError::File {
            file: p.file.display().to_string(),
            message: format!("transforms.{cid}: no sql transform before the combine"),
        })?;
    let copts = CombineOptions {
        identical: c.identical.clone(),
        on_duplicate: c.on_duplicate,
        attrs: c.attrs,
        partition_by: c.partition_by.clone(),
        arrays: ArraySelection {
            keep: c.arrays.clone(),
            drop: c.drop_arrays.clone(),
            condition: c.arrays_where.clone(),
        },
        reader: Some(ex.clone()),
        unreferenceable: c.unreferenceable,
    };
    let selection = format!("SELECT * FROM \"{last}\"");
    let protected = [p.state_dir.clone()];
    report.outputs = combine_and_publish(
        &ctx,
        cid,
        &selection,
        &copts,
        &targets,
        &protected,
        opts.dry_run,
    )
    .await?;
    report.io = ex.stats().snapshot();
    report.io_per_store = ex.stats_per_store();
    report.credential_fetches = credentials.map_or(0, |c| c.fetches());
    Ok(report)
}
