//! granary-pipeline: declarative pipelines (`docs/pipeline-spec.md`). A pipeline file names a
//! source of granules, an extractor, SQL transforms, a combine and sinks; [`load`] checks it
//! against the component [`registry`] (errors at `file:line:col`), [`plan`] describes it and
//! [`run`] executes it with incremental, resumable state and atomically published outputs.

pub mod error;
mod load;
pub mod plan;
pub mod registry;
mod run;
pub mod sink;
pub mod spec;

pub use error::{Location, PipelineError};
pub use load::{Pipeline, load};
pub use run::{Output, Progress, RunOptions, RunReport, run};
