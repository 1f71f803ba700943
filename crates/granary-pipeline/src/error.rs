//! Pipeline errors. Configuration errors carry `file:line:col`; run errors name the component.

use std::fmt;

/// A position in a pipeline file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

impl Location {
    /// The 1-based line and column of byte `offset` in `text`.
    pub fn at(file: &str, text: &str, offset: usize) -> Self {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Self {
            file: file.to_string(),
            line,
            col,
        }
    }
}

/// Why a pipeline cannot be loaded or run. Configuration errors carry `file:line:col`; run
/// errors name the component and keep the typed cause of the layer that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    #[error(
        "component {component:?}: every one of the {count} granules failed, nothing to combine; e.g. {example} (credentials tried: {credential})"
    )]
    AllFailed {
        component: String,
        count: usize,
        /// `URL [stage]: message` of the first failure.
        example: String,
        credential: String,
    },
    #[error("{location}: {message}")]
    Config { location: Location, message: String },
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("component {component:?}")]
    Sql {
        component: String,
        #[source]
        source: Box<granary_sql::SqlError>,
    },
    #[error("component {component:?}")]
    Inventory {
        component: String,
        #[source]
        source: Box<granary_inventory::InventoryError>,
    },
    #[error("component {component:?}: cannot list the granules")]
    Extract {
        component: String,
        #[source]
        source: Box<granary_extract::ExtractError>,
    },
    #[error("component {component:?}: cannot scan on the cluster")]
    Cluster {
        component: String,
        #[source]
        source: Box<granary_cluster::ClusterError>,
    },
    #[error("component {component:?}: cannot set up storage")]
    Storage {
        component: String,
        #[source]
        source: Box<granary_io::IoError>,
    },
    #[error("state directory {path}")]
    State {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "state directory {path} is in use by another run of this pipeline; wait for it to finish"
    )]
    Busy { path: String },
    #[error("sink {sink:?}")]
    Publish {
        sink: String,
        #[source]
        source: Box<granary_refs::PublishError>,
    },
    #[error("sink {sink:?}")]
    Icechunk {
        sink: String,
        #[source]
        source: Box<granary_icechunk::IcechunkError>,
    },
}

impl PipelineError {
    /// Whether the pipeline file (or an override) is at fault, rather than the run.
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            PipelineError::Config { .. } | PipelineError::File { .. }
        )
    }
}
