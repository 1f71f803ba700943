//! The client side of a cluster scan: [`ClusterScanner`] sends granule URLs to the scheduler
//! as jobs of at most `granules_per_job` granules (two jobs at a time), each split into tasks
//! of `granules_per_task`, and hands the granules back to the inventory build as each job
//! completes. The build commits them in parts exactly as an embedded build does, so a killed
//! client loses at most the jobs in flight (Ballista returns a job's results when the whole
//! job is done).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ballista::extension::SessionContextExt;
use ballista_core::extension::SessionConfigExt;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use futures::stream::BoxStream;
use granary_inventory::{GranuleScanner, ScanFailure, Scanned};
use url::Url;

use crate::codec::{GranaryLogicalCodec, GranaryPhysicalCodec};
use crate::wire::read_scanned;
use crate::{ClusterError, GranuleScanTable, ScanRecipe};

/// Jobs submitted at the same time: the next job's tasks keep executors busy while the
/// last tasks of the previous one finish. Results still come back in job order.
const JOBS_IN_FLIGHT: usize = 2;

/// Where and how a cluster scan runs.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The scheduler, `df://HOST:PORT`.
    pub scheduler: String,
    /// Granules per task: the unit an executor runs, and reruns when another executor is lost.
    pub granules_per_task: usize,
    /// Granules per job: results come back, and are committed, job by job.
    pub granules_per_job: usize,
}

impl ClusterOptions {
    pub const DEFAULT_GRANULES_PER_TASK: usize = 64;
    pub const DEFAULT_GRANULES_PER_JOB: usize = 1024;

    pub fn new(scheduler: impl Into<String>) -> Self {
        Self {
            scheduler: scheduler.into(),
            granules_per_task: Self::DEFAULT_GRANULES_PER_TASK,
            granules_per_job: Self::DEFAULT_GRANULES_PER_JOB,
        }
    }
}

/// Scans granules on a Ballista cluster of granary executors.
#[derive(Clone)]
pub struct ClusterScanner {
    opts: ClusterOptions,
    recipe: ScanRecipe,
    ctx: SessionContext,
}

impl std::fmt::Debug for ClusterScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterScanner")
            .field("opts", &self.opts)
            .field("recipe", &self.recipe)
            .finish()
    }
}

/// `HOST:PORT` of a `df://HOST:PORT` address.
fn host_port(url: &str) -> Result<&str, ClusterError> {
    url.strip_prefix("df://")
        .map(|a| a.trim_end_matches('/'))
        .filter(|a| split_host_port(a).is_some())
        .ok_or_else(|| ClusterError::Address {
            url: url.to_string(),
        })
}

/// The host and port of `HOST:PORT`.
pub fn split_host_port(address: &str) -> Option<(&str, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    Some((host, port.parse().ok()?)).filter(|(h, _)| !h.is_empty())
}

/// A DataFusion session whose queries run on the cluster at `scheduler` (`df://HOST:PORT`),
/// with granary's codecs, checked reachable now. `job` names its jobs in the scheduler's log.
pub async fn remote_context(scheduler: &str, job: &str) -> Result<SessionContext, ClusterError> {
    let address = host_port(scheduler)?;
    let unreachable =
        |source: Box<dyn std::error::Error + Send + Sync>| ClusterError::Unreachable {
            url: scheduler.to_string(),
            source,
        };
    match tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect(address),
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(unreachable(Box::new(e))),
        Err(e) => return Err(unreachable(Box::new(e))),
    }
    let config = SessionConfig::new_with_ballista()
        .with_ballista_logical_extension_codec(Arc::new(GranaryLogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(GranaryPhysicalCodec::default()))
        .with_ballista_job_name(job);
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    SessionContext::remote_with_state(scheduler, state)
        .await
        .map_err(|e| unreachable(Box::new(e)))
}

impl ClusterScanner {
    /// A scanner for `opts.scheduler`, checked reachable now (a clear error before any work).
    pub async fn connect(opts: ClusterOptions, recipe: ScanRecipe) -> Result<Self, ClusterError> {
        let ctx = remote_context(&opts.scheduler, "granary scan").await?;
        Ok(Self { opts, recipe, ctx })
    }

    /// Scans one job's granules.
    async fn job(&self, urls: Vec<Url>) -> Result<Vec<Scanned>, ClusterError> {
        let partitions: Vec<Vec<String>> = urls
            .chunks(self.opts.granules_per_task.max(1))
            .map(|c| c.iter().map(|u| u.to_string()).collect())
            .collect();
        let failed = |source| ClusterError::Job {
            url: self.opts.scheduler.clone(),
            granules: urls.len(),
            first: urls.first().map(Url::to_string).unwrap_or_default(),
            source,
        };
        let table = GranuleScanTable {
            recipe: self.recipe.clone(),
            partitions,
        };
        let batches = self
            .ctx
            .read_table(Arc::new(table))
            .map_err(failed)?
            .collect()
            .await
            .map_err(failed)?;
        let mut out = Vec::with_capacity(urls.len());
        for b in &batches {
            out.extend(read_scanned(b)?);
        }
        // One outcome per granule asked for, no more, no less.
        let asked: HashSet<&str> = urls.iter().map(Url::as_str).collect();
        let got: HashSet<&str> = out.iter().map(|(u, _)| u.as_str()).collect();
        if out.len() != urls.len() || got != asked {
            let mut seen = HashSet::new();
            let example = out
                .iter()
                .map(|(u, _)| u.as_str())
                .find(|u| !asked.contains(u) || !seen.insert(*u))
                .or_else(|| asked.difference(&got).next().copied())
                .unwrap_or_default()
                .to_string();
            return Err(ClusterError::Incomplete {
                url: self.opts.scheduler.clone(),
                expected: urls.len(),
                got: out.len(),
                example,
            });
        }
        Ok(out)
    }
}

impl GranuleScanner for ClusterScanner {
    fn scan(&self, urls: Vec<Url>) -> BoxStream<'static, Result<Scanned, ScanFailure>> {
        let jobs: Vec<Vec<Url>> = urls
            .chunks(self.opts.granules_per_job.max(1))
            .map(<[Url]>::to_vec)
            .collect();
        let this = self.clone();
        futures::stream::iter(jobs)
            .map(move |job| {
                let this = this.clone();
                async move { this.job(job).await }
            })
            .buffered(JOBS_IN_FLIGHT)
            .flat_map(|r| {
                let items: Vec<Result<Scanned, ScanFailure>> = match r {
                    Ok(rows) => rows.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(Box::new(e) as ScanFailure)],
                };
                futures::stream::iter(items)
            })
            .boxed()
    }
}
