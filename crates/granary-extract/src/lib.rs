//! granary-extract: the manifest of one granule from its DMR++ sidecar or from the HDF5 file
//! itself, and of many granules concurrently, one failure never stopping the others.
//!
//! Routing (`MetadataRoute::Auto`): the `<granule>.dmrpp` sidecar when it exists, parses and
//! passes its check, else the HDF5 scan (also when the sidecar leaves out arrays the HDF5 scan
//! can read). A `.dmrpp` URL given directly is parsed with the data URL it names. Arrays that
//! cannot be referenced follow the per-array policy ([`ArrayPolicy`]).

mod concurrency;
mod error;
pub mod hdf5_waves;
pub mod inputs;
mod sidecar_check;

use std::future::Future;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use granary_core::{ArrayPolicy, GranuleManifest};
use granary_dmrpp::DmrppOptions;
use granary_hdf5::{ReadOptions, ScanOptions};
use granary_io::{IoStats, ObjectSource, ReadScope, StoreRegistry};
use object_store::ObjectStoreExt;
use url::Url;

pub use concurrency::{
    HEAD_CONCURRENCY, REMOTE_PER_CORE, auto_concurrency, local_concurrency, remote_concurrency,
};
pub use error::ExtractError;
pub use sidecar_check::{SAMPLED_ARRAYS, SidecarCheck};

/// Where a granule's metadata comes from: the one definition, read by serde in pipeline files
/// (`type = "auto" | "dmrpp" | "hdf5"` of an extractor) and by clap on the command line
/// (`--metadata`, feature `clap`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum MetadataRoute {
    /// The `<granule>.dmrpp` sidecar when it exists and parses, else the HDF5 file.
    #[default]
    Auto,
    /// Only the DMR++ sidecar (an error when there is none).
    Dmrpp,
    /// Only the HDF5 file.
    Hdf5,
}

/// Extraction settings.
#[derive(Clone, Copy, Debug)]
pub struct ExtractOptions {
    pub metadata: MetadataRoute,
    /// Skip chunk indexes where the format allows it (HDF5 scans): for questions about
    /// dims, dtypes and attributes only.
    pub metadata_only: bool,
    /// Granules extracted at the same time; `None`: [`auto_concurrency`] of the URLs at hand.
    pub concurrency: Option<usize>,
    /// How a DMR++ sidecar is checked against its object before it is trusted.
    pub sidecar_check: SidecarCheck,
    /// What happens to an array granary cannot reference: left out and listed in the
    /// manifest's `skipped` (default), or the granule fails.
    pub arrays: ArrayPolicy,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        Self {
            metadata: MetadataRoute::Auto,
            metadata_only: false,
            concurrency: None,
            sidecar_check: SidecarCheck::default(),
            arrays: ArrayPolicy::default(),
        }
    }
}

/// An object found by a listing: its URL, size and entity tag (the version seen).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub url: Url,
    pub size: u64,
    pub etag: Option<String>,
}

/// Extracts manifests through a store registry, counting I/O in one [`IoStats`].
#[derive(Clone, Debug)]
pub struct Extractor {
    registry: Arc<StoreRegistry>,
    /// Where references may point besides each granule's own store.
    scope: Arc<ReadScope>,
    stats: Arc<IoStats>,
    /// The same counters per store (`scheme://bucket-or-host`).
    per_store: Arc<std::sync::Mutex<std::collections::BTreeMap<String, Arc<IoStats>>>>,
    opts: ExtractOptions,
    /// Sidecars named elsewhere than `<granule>.dmrpp` (a CMR record's DMR++ link): data URL →
    /// sidecar URL, each in its granule's store.
    sidecars: Arc<std::collections::HashMap<String, Url>>,
}

impl Extractor {
    pub fn new(registry: Arc<StoreRegistry>, opts: ExtractOptions) -> Self {
        Self {
            registry,
            scope: Arc::default(),
            stats: Arc::new(IoStats::default()),
            per_store: Arc::default(),
            opts,
            sidecars: Arc::default(),
        }
    }

    /// The same extractor, taking each granule's DMR++ sidecar from `sidecars` (data URL →
    /// sidecar URL) instead of `<granule>.dmrpp`. A sidecar in another store than its granule
    /// is ignored (with a warning): reads stay in the store the user named.
    pub fn with_sidecars(mut self, sidecars: impl IntoIterator<Item = (String, Url)>) -> Self {
        let store = |u: &Url| format!("{}://{}", u.scheme(), u.authority());
        let kept = sidecars
            .into_iter()
            .filter(|(data, sidecar)| {
                let same = Url::parse(data).is_ok_and(|d| store(&d) == store(sidecar));
                if !same {
                    tracing::warn!(granule = %data, sidecar = %sidecar, "The DMR++ link is in another store than its granule; not used.");
                }
                same
            })
            .collect();
        self.sidecars = Arc::new(kept);
        self
    }

    /// The same extractor, allowing references to also name `scope`'s locations.
    pub fn with_scope(mut self, scope: ReadScope) -> Self {
        self.scope = Arc::new(scope);
        self
    }

    pub fn scope(&self) -> &ReadScope {
        &self.scope
    }

    /// Refuses a manifest whose data URL or chunk references leave the store of `reference`
    /// (the granule, or the DMR++ document given directly) unless allowed.
    fn confine(&self, reference: &Url, m: &GranuleManifest) -> Result<(), ExtractError> {
        let refused = |array: &str, source| ExtractError::Href {
            url: reference.to_string(),
            array: array.to_string(),
            source: Box::new(source),
        };
        let reference = reference.as_str();
        if m.url != reference {
            self.scope
                .check(reference, &m.url)
                .map_err(|e| refused("", e))?;
        }
        for a in m.arrays() {
            for c in a.chunks() {
                if let Some(target) = &c.url {
                    self.scope
                        .check(reference, target)
                        .map_err(|e| refused(&a.path, e))?;
                }
            }
        }
        Ok(())
    }

    pub fn stats(&self) -> &Arc<IoStats> {
        &self.stats
    }

    pub fn registry(&self) -> &Arc<StoreRegistry> {
        &self.registry
    }

    pub fn options(&self) -> &ExtractOptions {
        &self.opts
    }

    async fn open(&self, url: &Url) -> Result<ObjectSource, ExtractError> {
        let (store, path) = self.registry.resolve(url)?;
        Ok(ObjectSource::open(store, path, url.to_string())
            .await?
            .with_stats(self.stats.clone())
            .with_store_stats(self.store_stats(url)))
    }

    /// Opens `url` with its first read (`len` bytes, `None`: the whole object) in one request.
    async fn open_reading(
        &self,
        url: &Url,
        len: Option<u64>,
    ) -> Result<(ObjectSource, bytes::Bytes), ExtractError> {
        let (stats, store_stats) = (self.stats.clone(), Some(self.store_stats(url)));
        #[cfg(unix)]
        if let Some(file) = self.registry.local_path(url) {
            let opened =
                ObjectSource::open_local_reading(file, url.to_string(), len, stats, store_stats);
            return Ok(opened.await?);
        }
        let (store, path) = self.registry.resolve(url)?;
        let opened =
            ObjectSource::open_reading(store, path, url.to_string(), len, stats, store_stats);
        Ok(opened.await?)
    }

    fn store_stats(&self, url: &Url) -> Arc<IoStats> {
        let key = format!("{}://{}", url.scheme(), url.authority());
        match self.per_store.lock() {
            Ok(mut m) => m.entry(key).or_default().clone(),
            Err(_) => Arc::new(IoStats::default()),
        }
    }

    /// I/O counters per store (`scheme://bucket-or-host`), in name order.
    pub fn stats_per_store(&self) -> Vec<(String, granary_io::IoStatsSnapshot)> {
        self.per_store
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.snapshot())).collect())
            .unwrap_or_default()
    }

    /// The granule URLs named by `inputs`: local ones as [`inputs::expand`] does; remote
    /// directories (`s3://bucket/prefix/`) are listed for granule files and remote globs
    /// (`s3://bucket/prefix/*_001_*.nc`) listed and matched, through the object store.
    pub async fn expand(&self, inputs_: &[String]) -> Result<Vec<Url>, ExtractError> {
        let (remote, local): (Vec<String>, Vec<String>) = inputs_
            .iter()
            .cloned()
            .partition(|i| inputs::remote_listing(i).is_some());
        let mut out = inputs::expand(&local)?;
        for i in remote {
            out.extend(self.list_remote(&i).await?);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn list_remote(&self, input: &str) -> Result<Vec<Url>, ExtractError> {
        let (base, prefix, pattern) =
            inputs::remote_listing(input).ok_or_else(|| ExtractError::Listing {
                input: input.to_string(),
                reason: "not a remote directory or glob".into(),
            })?;
        let (store, _) = self.registry.resolve(&base)?;
        let prefix_path = object_store::path::Path::from(prefix.trim_matches('/'));
        let mut stream = store.list(Some(&prefix_path));
        let mut out = Vec::new();
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(|source| granary_io::IoError::List {
                url: input.to_string(),
                source,
            })?;
            let key = meta.location.as_ref();
            let keep = match &pattern {
                Some(p) => p.matches(key),
                None => inputs::GRANULE_SUFFIXES.iter().any(|s| key.ends_with(s)),
            };
            if keep {
                let url = base.join(&format!("/{key}")).map_err(|e| {
                    granary_io::IoError::BadLocation {
                        location: format!("{base}{key}"),
                        reason: e.to_string(),
                    }
                })?;
                out.push(url);
            }
        }
        Ok(out)
    }

    /// Size and entity tag of the object at `url`.
    pub async fn head(&self, url: &Url) -> Result<Listed, ExtractError> {
        let (store, path) = self.registry.resolve(url)?;
        let meta = store
            .head(&path)
            .await
            .map_err(|source| granary_io::IoError::Head {
                url: url.to_string(),
                source,
            })?;
        Ok(Listed {
            url: url.clone(),
            size: meta.size,
            etag: meta.e_tag,
        })
    }

    /// Granules in flight for `urls`: the configured number, else [`auto_concurrency`].
    pub fn concurrency_for(&self, urls: &[Url]) -> usize {
        self.opts
            .concurrency
            .unwrap_or_else(|| auto_concurrency(urls))
            .max(1)
    }

    /// Heads every URL, the configured concurrency (else [`HEAD_CONCURRENCY`]) at a time, in
    /// input order.
    pub async fn head_all(&self, urls: &[Url]) -> Vec<Result<Listed, ExtractError>> {
        // Owned URLs and a cloned extractor per request: the futures borrow nothing (callers
        // inside `Send` async trait methods need that).
        let heads = urls.iter().cloned().map(|u| {
            let ex = self.clone();
            async move { ex.head(&u).await }
        });
        futures::stream::iter(heads)
            .buffered(self.opts.concurrency.unwrap_or(HEAD_CONCURRENCY).max(1))
            .collect()
            .await
    }

    /// Scans the HDF5 file at `url`.
    pub async fn hdf5(&self, url: &Url) -> Result<GranuleManifest, ExtractError> {
        let local = self.registry.local_path(url).is_some();
        let opts = ScanOptions {
            metadata_only: self.opts.metadata_only,
            // Local waves cost microseconds: read what the parser asks for, in more waves.
            read: if local {
                ReadOptions::local()
            } else {
                ReadOptions::default()
            },
            max_waves: if local { 256 } else { 64 },
        };
        let len = granary_hdf5::first_read_len(&opts);
        let (source, first) = self.open_reading(url, Some(len)).await?;
        if granary_dmrpp::looks_like_dmrpp(&first) {
            // A DMR++ document under another name: parse it as one.
            let whole = if first.len() as u64 >= source.size() {
                first
            } else {
                source.read_range(0..source.size()).await?
            };
            return self.dmrpp_document(url, None, &whole).await;
        }
        hdf5_waves::scan_from(&source, first, &opts).await
    }

    /// Parses the DMR++ document at `dmrpp`; `data` overrides its data URL.
    pub async fn dmrpp(
        &self,
        dmrpp: &Url,
        data: Option<&Url>,
    ) -> Result<GranuleManifest, ExtractError> {
        let (_, bytes) = self.open_reading(dmrpp, None).await?;
        self.dmrpp_document(dmrpp, data, &bytes).await
    }

    /// The manifest a DMR++ document (the bytes of the object at `dmrpp`) describes, confined
    /// to the granule's store and checked against its object.
    async fn dmrpp_document(
        &self,
        dmrpp: &Url,
        data: Option<&Url>,
        bytes: &[u8],
    ) -> Result<GranuleManifest, ExtractError> {
        let opts = DmrppOptions {
            skip_unsupported: true,
            dmrpp_url: dmrpp.to_string(),
            data_url: data.map(Url::to_string),
            ..Default::default()
        };
        let (m, report) = granary_dmrpp::parse(bytes, &opts)?;
        self.confine(data.unwrap_or(dmrpp), &m)?;
        self.check_sidecar(&m).await?;
        if !report.inferred_filter_order.is_empty() {
            tracing::warn!(url = %dmrpp, variables = report.inferred_filter_order.len(), "Unversioned DMR++: filter order inferred as bes does.");
        }
        Ok(m)
    }

    async fn sidecar_exists(&self, sidecar: &Url) -> bool {
        match self.registry.resolve(sidecar) {
            Ok((store, path)) => store.head(&path).await.is_ok(),
            Err(_) => false,
        }
    }

    /// The manifest of the granule at `url` (a data file, or a `.dmrpp` document), with the
    /// arrays that cannot be referenced moved to its `skipped` list (policy `skip`) or failing
    /// the granule (policy `error`).
    pub async fn extract(&self, url: &Url) -> Result<GranuleManifest, ExtractError> {
        let mut m = self.extract_route(url).await?;
        if !self.opts.metadata_only {
            granary_refs::apply_array_policy(&mut m, self.opts.arrays)?;
        }
        Ok(m)
    }

    /// Moves the arrays of `m` that cannot be referenced to its `skipped` list; whether none
    /// had to be (always true for metadata-only scans, which reference nothing).
    fn referenceable(&self, m: &mut GranuleManifest) -> bool {
        if self.opts.metadata_only {
            return true;
        }
        // Policy `skip` never fails.
        let _ = granary_refs::apply_array_policy(m, ArrayPolicy::Skip);
        m.skipped.is_empty()
    }

    /// The manifest as the metadata route gives it.
    async fn extract_route(&self, url: &Url) -> Result<GranuleManifest, ExtractError> {
        if url.path().ends_with(".dmrpp") {
            return self.dmrpp(url, None).await;
        }
        let sidecar = match self.sidecars.get(url.as_str()) {
            Some(s) => s.clone(),
            None => Url::parse(&format!("{url}.dmrpp")).map_err(|e| {
                granary_io::IoError::BadLocation {
                    location: format!("{url}.dmrpp"),
                    reason: e.to_string(),
                }
            })?,
        };
        match self.opts.metadata {
            MetadataRoute::Hdf5 => self.hdf5(url).await,
            MetadataRoute::Dmrpp => {
                self.dmrpp(&sidecar, Some(url))
                    .await
                    .map_err(|e| ExtractError::NoSidecar {
                        url: url.to_string(),
                        source: Box::new(e),
                    })
            }
            MetadataRoute::Auto => {
                if !self.sidecar_exists(&sidecar).await {
                    return self.hdf5(url).await;
                }
                match self.dmrpp(&sidecar, Some(url)).await {
                    // The sidecar cannot express some arrays (DAP4 structures, strings of
                    // pre-3.21 builders): the HDF5 scan may, and is used when it leaves out
                    // fewer.
                    Ok(mut m) => {
                        if self.referenceable(&mut m) {
                            return Ok(m);
                        }
                        match self.hdf5(url).await {
                            Ok(mut h) => {
                                let all = self.referenceable(&mut h);
                                if all || h.skipped.len() < m.skipped.len() {
                                    tracing::info!(url = %url, sidecar = m.skipped.len(), hdf5 = h.skipped.len(), "The DMR++ sidecar leaves out arrays the HDF5 scan can read; using the HDF5 scan.");
                                    return Ok(h);
                                }
                                Ok(m)
                            }
                            Err(_) => Ok(m),
                        }
                    }
                    Err(e) => {
                        tracing::warn!(url = %url, error = %e, "DMR++ sidecar unusable; scanning the HDF5 file instead.");
                        self.hdf5(url).await
                    }
                }
            }
        }
    }

    /// Extracts every URL, `concurrency` at a time on the runtime's worker threads; results
    /// arrive in completion order, each with its URL.
    pub fn extract_many(
        &self,
        urls: Vec<Url>,
    ) -> impl Stream<Item = (Url, Result<GranuleManifest, ExtractError>)> + Send + 'static {
        self.map_many(urls, |ex, url| async move { ex.extract(&url).await })
    }

    /// Runs `task(extractor, url)` for every URL, `concurrency` at a time, each on its own
    /// runtime task (a panic or cancellation becomes [`ExtractError::Task`] for that URL
    /// only); results arrive in completion order, each with its URL. The one loop behind
    /// every per-granule job (extraction, `granary scan`'s extract-and-write).
    pub fn map_many<T, E, F, Fut>(
        &self,
        urls: Vec<Url>,
        task: F,
    ) -> impl Stream<Item = (Url, Result<T, E>)> + Send + 'static
    where
        T: Send + 'static,
        E: From<ExtractError> + Send + 'static,
        F: Fn(Extractor, Url) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let this = self.clone();
        let concurrency = self.concurrency_for(&urls);
        let task = Arc::new(task);
        futures::stream::iter(urls)
            .map(move |url| {
                let (this, task) = (this.clone(), task.clone());
                async move {
                    let run = task(this, url.clone());
                    let r = tokio::spawn(run).await.unwrap_or_else(|e| {
                        Err(E::from(ExtractError::Task {
                            url: url.to_string(),
                            reason: e.to_string(),
                        }))
                    });
                    (url, r)
                }
            })
            .buffer_unordered(concurrency)
    }

    /// Reads byte ranges `(url, offset, length)` of possibly several objects (for inlining
    /// small chunks), grouped per object into one wave each.
    pub async fn read_ranges(
        &self,
        wanted: &[(String, u64, u64)],
    ) -> Result<Vec<((String, u64, u64), Vec<u8>)>, ExtractError> {
        let mut by_url: std::collections::BTreeMap<&str, Vec<(u64, u64)>> = Default::default();
        for (u, o, l) in wanted {
            by_url.entry(u.as_str()).or_default().push((*o, *l));
        }
        let mut out = Vec::with_capacity(wanted.len());
        for (u, ranges) in by_url {
            let url = Url::parse(u).map_err(|e| granary_io::IoError::BadLocation {
                location: u.to_string(),
                reason: e.to_string(),
            })?;
            let source = self.open(&url).await?;
            let data = source
                .read_ranges(&ranges.iter().map(|(o, l)| *o..*o + *l).collect::<Vec<_>>())
                .await?;
            for ((o, l), b) in ranges.into_iter().zip(data) {
                out.push(((u.to_string(), o, l), b.to_vec()));
            }
        }
        Ok(out)
    }
}
