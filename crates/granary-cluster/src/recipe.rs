//! What an executor needs to scan granules: the extraction settings of the run, without any
//! secret. Executors build their own stores from it, with the credentials of their own
//! environment (AWS variables, profile, instance role; `EARTHDATA_TOKEN`, netrc), so no key
//! travels in a serialized plan.

use std::collections::HashMap;
use std::sync::Arc;

use granary_core::ArrayPolicy;
use granary_extract::{ExtractOptions, Extractor, MetadataRoute, SidecarCheck};
use granary_io::{ReadScope, StoreRegistry, StoreSettings};
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
    /// The remote stores' settings (a pipeline's storage), connected on each executor with
    /// its own credentials.
    pub storage: StoreSettings,
}

impl ScanRecipe {
    /// The recipe of an extractor's settings over stores with `storage`'s settings.
    pub fn of(ex: &Extractor, storage: StoreSettings) -> Self {
        let o = ex.options();
        Self {
            metadata: o.metadata,
            concurrency: o.concurrency,
            sidecar_check: o.sidecar_check,
            arrays: o.arrays,
            allow_locations: ex.scope().prefixes().to_vec(),
            storage,
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
#[async_trait::async_trait]
pub trait ExtractorFactory: Send + Sync + std::fmt::Debug {
    async fn extractor(&self, recipe: &ScanRecipe) -> Result<Extractor, ClusterError>;
}

/// Extractors over stores connected with the executor's own credentials, one per distinct
/// recipe, reused by every task of every job (connections and credentials stay warm;
/// temporary keys are refreshed by their provider before they expire).
#[derive(Debug, Default)]
pub struct EnvironmentStores {
    built: tokio::sync::Mutex<HashMap<String, Extractor>>,
}

#[async_trait::async_trait]
impl ExtractorFactory for EnvironmentStores {
    async fn extractor(&self, recipe: &ScanRecipe) -> Result<Extractor, ClusterError> {
        let key = serde_json::to_string(recipe).map_err(ClusterError::Recipe)?;
        let mut built = self.built.lock().await;
        if let Some(ex) = built.get(&key) {
            return Ok(ex.clone());
        }
        let connected = recipe
            .storage
            .connect()
            .await
            .map_err(ClusterError::Stores)?;
        let ex = Extractor::new(
            Arc::new(StoreRegistry::with_remote(connected.remote)),
            recipe.options(),
        )
        .with_scope(ReadScope::new(recipe.allow_locations.clone()));
        built.insert(key, ex.clone());
        Ok(ex)
    }
}
