//! The inventory tables of granules scanned now, held in memory: what `granary sql` and
//! `granary combine` use when they are given granules instead of an inventory directory, and
//! what a pipeline's dry run uses instead of its state directory. One failing granule never
//! stops the others: it becomes an [`ErrorRow`].

use futures::StreamExt;
use granary_core::GranuleManifest;
use granary_extract::Extractor;

use crate::versions::{head_granules, stamp};
use crate::{ErrorRow, Inventory, InventoryError, NamePattern};

/// The tables of the granules that were scanned, and the rows of those that failed.
#[derive(Debug, Clone)]
pub struct InMemory {
    pub inventory: Inventory,
    /// Granules the sources named.
    pub listed: usize,
    /// Granules that failed, in URL order.
    pub errors: Vec<ErrorRow>,
}

/// Lists `sources`, extracts every granule concurrently and builds the tables (rows in URL
/// order, with the captures of `pattern`); `progress(done, total)` is called after each granule.
pub async fn inventory_in_memory(
    ex: &Extractor,
    sources: &[String],
    pattern: Option<&NamePattern>,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<InMemory, InventoryError> {
    let urls = ex.expand(sources).await.map_err(InventoryError::Source)?;
    let listed = urls.len();
    let mut manifests: Vec<GranuleManifest> = Vec::with_capacity(listed);
    // The object versions scanned (size and ETag), as a persisted inventory records them.
    let (versions, mut errors) = head_granules(ex, &urls).await;
    let todo: Vec<_> = urls
        .iter()
        .filter(|u| versions.contains_key(u.as_str()))
        .cloned()
        .collect();
    let mut done = errors.len();
    let mut results = std::pin::pin!(ex.extract_many(todo));
    while let Some((url, r)) = results.next().await {
        done += 1;
        progress(done, listed);
        match r {
            Ok(mut m) => {
                if let Some(l) = versions.get(url.as_str()) {
                    stamp(&mut m, l);
                }
                manifests.push(m)
            }
            Err(e) => {
                tracing::warn!(url = %url, error = %e, "Granule failed; it is not in the tables.");
                errors.push(ErrorRow::from_extract(url.as_str(), &e));
            }
        }
    }
    manifests.sort_by(|a, b| a.url.cmp(&b.url));
    errors.sort_by(|a, b| a.url.cmp(&b.url));
    Ok(InMemory {
        inventory: Inventory::build(&manifests, pattern)?,
        listed,
        errors,
    })
}
