//! granary-icechunk: the Icechunk sink. A combined reference set (granary-refs) becomes a
//! commit in an Icechunk repository (spec version 1, the format of the Rust crate 0.3 and of
//! Python icechunk 1.x): Zarr v3 metadata ([`metadata`]), virtual chunk references carrying each
//! granule's ETag, inline chunks for the values granary computes, one virtual chunk container
//! per URL prefix ([`containers`]), and per run one commit holding only what changed ([`sync`],
//! [`commit`]). `docs/icechunk.md` describes the mapping and how readers open the repository.

pub mod commit;
pub mod containers;
pub mod error;
pub mod fingerprint;
pub mod location;
pub mod metadata;
pub mod repo;
pub mod source;
pub mod sync;

pub use commit::{CommitOutcome, CommitTarget, commit_combined};
pub use error::IcechunkError;
pub use location::{RepoLocation, RepoStorage};
