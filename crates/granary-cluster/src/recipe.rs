//! What an executor needs to scan granules: the extraction settings of the run, without any
//! secret. Executors build their own stores from it, with the credentials of their own
//! environment (AWS variables, profile, instance role; `EARTHDATA_TOKEN`, netrc), so no key
//! travels in a serialized plan.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use granary_core::ArrayPolicy;
use granary_extract::{ExtractOptions, Extractor, MetadataRoute, SidecarCheck};
use granary_io::{ReadScope, StoreRegistry};
use serde::{Deserialize, Serialize};

use crate::ClusterError;

/// The extraction settings of a cluster scan, as they travel in its plan (JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScanRecipe {
    pub metadata: MetadataRoute,
    /// Granules one task scans at the same time (`None`: granary's default for the URLs).
    pub concurrency: Option<usize>,
    pub sidecar_check: SidecarCheck,
    pub arrays: ArrayPolicy,
    /// URL prefixes references may name besides each granule's own store.
    pub allow_locations: Vec<String>,
}

impl ScanRecipe {
    /// The recipe of an extractor's settings.
    pub fn of(ex: &Extractor) -> Self {
        let o = ex.options();
        Self {
            metadata: o.metadata,
            concurrency: o.concurrency,
            sidecar_check: o.sidecar_check,
            arrays: o.arrays,
            allow_locations: ex.scope().prefixes().to_vec(),
        }
    }

    fn options(&self) -> ExtractOptions {
        ExtractOptions {
            metadata: self.metadata,
            metadata_only: false,
            concurrency: self.concurrency,
            sidecar_check: self.sidecar_check,
            arrays: self.arrays,
        }
    }
}

/// Builds the extractor of a recipe on an executor.
pub trait ExtractorFactory: Send + Sync + std::fmt::Debug {
    fn extractor(&self, recipe: &ScanRecipe) -> Result<Extractor, ClusterError>;
}

/// Extractors over stores built from the executor's environment, one per distinct recipe,
/// reused by every task of every job (connections and credentials stay warm).
#[derive(Debug, Default)]
pub struct EnvironmentStores {
    built: Mutex<HashMap<String, Extractor>>,
}

impl ExtractorFactory for EnvironmentStores {
    fn extractor(&self, recipe: &ScanRecipe) -> Result<Extractor, ClusterError> {
        let key = serde_json::to_string(recipe).map_err(ClusterError::Recipe)?;
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        let ex = built.entry(key).or_insert_with(|| {
            Extractor::new(Arc::new(StoreRegistry::new()), recipe.options())
                .with_scope(ReadScope::new(recipe.allow_locations.clone()))
        });
        Ok(ex.clone())
    }
}
