//! Metadata extraction for one granule: from its DMR++ sidecar, from the HDF5 file itself, or
//! automatically (the sidecar when there is one and it describes every variable, the HDF5 scan
//! otherwise).

use std::sync::Arc;

use anyhow::{Context, Result};
use granary_core::GranuleManifest;
use granary_dmrpp::DmrppOptions;
use granary_hdf5::ScanOptions;
use granary_io::{IoStats, ObjectSource, StoreRegistry};
use object_store::ObjectStoreExt;
use url::Url;

/// Where metadata comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Metadata {
    /// The `<granule>.dmrpp` sidecar when it exists and parses, else the HDF5 file.
    Auto,
    /// Only the DMR++ sidecar (an error when there is none).
    Dmrpp,
    /// Only the HDF5 file.
    Hdf5,
}

async fn open(registry: &StoreRegistry, url: &Url, stats: &Arc<IoStats>) -> Result<ObjectSource> {
    let (store, path) = registry.resolve(url)?;
    Ok(ObjectSource::open(store, path, url.to_string())
        .await?
        .with_stats(stats.clone()))
}

/// Scans the HDF5 file at `url`.
pub async fn hdf5(
    registry: &StoreRegistry,
    url: &Url,
    stats: &Arc<IoStats>,
) -> Result<GranuleManifest> {
    let source = open(registry, url, stats).await?;
    Ok(granary_hdf5::scan(&source, &ScanOptions::default()).await?)
}

/// Parses the DMR++ document at `dmrpp`; `data` overrides its data URL (the granule it sits
/// next to).
pub async fn dmrpp(
    registry: &StoreRegistry,
    dmrpp: &Url,
    data: Option<&Url>,
    stats: &Arc<IoStats>,
) -> Result<GranuleManifest> {
    let source = open(registry, dmrpp, stats).await?;
    let bytes = source.read_range(0..source.size()).await?;
    let opts = DmrppOptions {
        dmrpp_url: dmrpp.to_string(),
        data_url: data.map(Url::to_string),
        ..Default::default()
    };
    let (m, report) = granary_dmrpp::parse(&bytes, &opts)?;
    if !report.inferred_filter_order.is_empty() {
        tracing::warn!(url = %dmrpp, variables = report.inferred_filter_order.len(), "Unversioned DMR++: filter order inferred as bes does.");
    }
    Ok(m)
}

/// The manifest of the granule at `url` (a data file, or a `.dmrpp` document).
pub async fn extract(
    registry: &StoreRegistry,
    url: &Url,
    metadata: Metadata,
    stats: &Arc<IoStats>,
) -> Result<GranuleManifest> {
    if url.path().ends_with(".dmrpp") {
        return dmrpp(registry, url, None, stats).await;
    }
    let sidecar = Url::parse(&format!("{url}.dmrpp")).context("sidecar URL")?;
    match metadata {
        Metadata::Hdf5 => hdf5(registry, url, stats).await,
        Metadata::Dmrpp => dmrpp(registry, &sidecar, Some(url), stats)
            .await
            .with_context(|| format!("no usable DMR++ sidecar for {url}")),
        Metadata::Auto => {
            let exists = match registry.resolve(&sidecar) {
                Ok((store, path)) => store.head(&path).await.is_ok(),
                Err(_) => false,
            };
            if !exists {
                return hdf5(registry, url, stats).await;
            }
            match dmrpp(registry, &sidecar, Some(url), stats).await {
                Ok(m) => Ok(m),
                Err(e) => {
                    tracing::warn!(url = %url, error = %format!("{e:#}"), "DMR++ sidecar unusable; scanning the HDF5 file instead.");
                    hdf5(registry, url, stats).await
                }
            }
        }
    }
}

/// Reads byte ranges of possibly several objects (for inlining small chunks).
pub async fn read_ranges(
    registry: &StoreRegistry,
    wanted: &[(String, u64, u64)],
    stats: &Arc<IoStats>,
) -> Result<granary_refs::InlineChunks> {
    let mut by_url: std::collections::BTreeMap<&str, Vec<(u64, u64)>> = Default::default();
    for (u, o, l) in wanted {
        by_url.entry(u.as_str()).or_default().push((*o, *l));
    }
    let mut out = granary_refs::InlineChunks::new();
    for (u, ranges) in by_url {
        let url = Url::parse(u).with_context(|| format!("chunk URL {u}"))?;
        let source = open(registry, &url, stats).await?;
        let data = source
            .read_ranges(&ranges.iter().map(|(o, l)| *o..*o + *l).collect::<Vec<_>>())
            .await?;
        for ((o, l), b) in ranges.into_iter().zip(data) {
            out.insert((u.to_string(), o, l), b.to_vec());
        }
    }
    Ok(out)
}
