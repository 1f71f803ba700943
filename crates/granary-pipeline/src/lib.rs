//! granary-pipeline: declarative pipelines (`docs/pipeline-spec.md`). A pipeline file names a
//! source of granules, an extractor, SQL transforms, a combine and sinks; [`load`] checks it
//! against the [`components`] registry (errors at `file:line:col`), [`plan`] describes it and
//! [`run`] executes it with incremental, resumable state. [`combine_and_publish`] is the
//! combine-and-publish step that `granary run` and `granary combine` share.

mod cmr_source;
mod combine_step;
pub mod components;
pub mod error;
mod load;
pub mod plan;
mod run;
pub mod spec;

pub use combine_step::{IcechunkSink, Output, Target, combine_and_publish};
pub use error::{Location, PipelineError};
pub use load::{Pipeline, load};
pub use run::{Progress, RunOptions, RunReport, run};
