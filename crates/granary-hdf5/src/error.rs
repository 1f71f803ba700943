//! Errors of the scanner. Internally a parse step either succeeds, needs more bytes
//! ([`Fail::Need`]) or fails ([`Fail::Bad`]); the public [`Hdf5Error`] names the granule URL,
//! the object path and the byte address.

use std::ops::Range;

/// Why a granule could not be scanned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Hdf5Error {
    #[error("{url}: not an HDF5 file (no HDF5 signature at 0, 512, 1024, ...)")]
    NotHdf5 { url: String },
    #[error("{url}: object {object:?}: malformed HDF5 at byte {address}: {message}")]
    Format {
        url: String,
        object: String,
        address: u64,
        message: String,
    },
    #[error("{url}: object {object:?}: not supported: {feature}")]
    Unsupported {
        url: String,
        object: String,
        feature: String,
    },
    #[error(
        "{url}: scan needed more than {limit} sequential reads; giving up (cyclic or absurd structure?)"
    )]
    TooManyWaves { url: String, limit: usize },
}

impl Hdf5Error {
    /// The object path the error is about, if any.
    pub fn object(&self) -> Option<&str> {
        match self {
            Hdf5Error::Format { object, .. } | Hdf5Error::Unsupported { object, .. } => {
                Some(object)
            }
            _ => None,
        }
    }
}

/// A parse failure without URL context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bad {
    NotHdf5,
    Format { address: u64, message: String },
    Unsupported { feature: String },
}

/// Result of a parse step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fail {
    /// These byte ranges (absolute in the object) must be fetched before retrying.
    Need(Vec<Range<u64>>),
    Bad(Bad, String),
}

pub(crate) type PResult<T> = Result<T, Fail>;

pub(crate) fn malformed(address: u64, message: impl Into<String>) -> Fail {
    Fail::Bad(
        Bad::Format {
            address,
            message: message.into(),
        },
        String::new(),
    )
}

pub(crate) fn unsupported(feature: impl Into<String>) -> Fail {
    Fail::Bad(
        Bad::Unsupported {
            feature: feature.into(),
        },
        String::new(),
    )
}

impl Fail {
    /// Attaches the object path to a failure that has none yet.
    pub(crate) fn at(self, object: &str) -> Fail {
        match self {
            Fail::Bad(b, o) if o.is_empty() => Fail::Bad(b, object.to_string()),
            other => other,
        }
    }

    pub(crate) fn into_error(self, url: &str) -> Hdf5Error {
        let url = url.to_string();
        match self {
            Fail::Need(r) => Hdf5Error::Format {
                url,
                object: String::new(),
                address: r.first().map_or(0, |r| r.start),
                message: "bytes still missing after fetch".into(),
            },
            Fail::Bad(Bad::NotHdf5, _) => Hdf5Error::NotHdf5 { url },
            Fail::Bad(Bad::Format { address, message }, object) => Hdf5Error::Format {
                url,
                object: display_path(&object),
                address,
                message,
            },
            Fail::Bad(Bad::Unsupported { feature }, object) => Hdf5Error::Unsupported {
                url,
                object: display_path(&object),
                feature,
            },
        }
    }
}

fn display_path(p: &str) -> String {
    format!("/{p}")
}

/// Accumulates the byte ranges needed by several independent parse steps, so that siblings are
/// fetched together in one wave.
#[derive(Debug, Default)]
pub(crate) struct Needs(Vec<Range<u64>>);

impl Needs {
    /// Records a `Need` and returns `None`; passes successes through; propagates real errors.
    pub(crate) fn take<T>(&mut self, r: PResult<T>) -> PResult<Option<T>> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(Fail::Need(n)) => {
                self.0.extend(n);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// `Err(Need)` if anything was needed.
    pub(crate) fn check(&mut self) -> PResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Fail::Need(std::mem::take(&mut self.0)))
        }
    }
}
