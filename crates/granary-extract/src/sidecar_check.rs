//! Before references from a DMR++ sidecar are trusted, a cheap check that the sidecar describes
//! the object it names (`docs/dmrpp-support.md`, "Stale sidecars"): sidecars go stale when a
//! granule is reprocessed or rewritten and its sidecar is not, and then every offset points at
//! the wrong bytes: compressed arrays fail to decode, uncompressed ones read wrong values.
//!
//! - `size`: the object must hold every byte range the sidecar references (one HEAD).
//! - `sample` (default): also, the first chunk of up to [`SAMPLED_ARRAYS`] deflate-compressed
//!   arrays must start a zlib stream, read with 2-byte range GETs in flight together with the
//!   HEAD: one round trip, at most 1 + [`SAMPLED_ARRAYS`] small requests per granule.
//!
//! A sidecar that fails is an error (`--metadata dmrpp`) or falls back to the HDF5 scan (`auto`).

use std::ops::Range;

use granary_core::{Codec, GranuleManifest};
use object_store::ObjectStoreExt;
use url::Url;

use crate::{ExtractError, Extractor};

/// How much of a sidecar's description is checked against its object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum SidecarCheck {
    /// Trust the sidecar.
    Off,
    /// The object holds every referenced byte range.
    Size,
    /// Also: sampled deflate chunks start a zlib stream.
    #[default]
    Sample,
}

/// How many arrays' first chunks `sample` reads.
pub const SAMPLED_ARRAYS: usize = 4;

/// Whether two bytes start a zlib stream (RFC 1950: deflate, window ≤ 32 KiB, valid FCHECK).
fn zlib_header(b: &[u8]) -> bool {
    matches!(b, [cmf, flg, ..] if cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0)
}

/// Whether an array's stored chunks start with a zlib stream: deflate is the last filter
/// applied when writing (a trailing Fletcher-32 checksum leaves the start alone).
fn starts_deflated(codecs: &[Codec]) -> bool {
    let mut outer = codecs.iter().rev();
    match outer.next() {
        Some(Codec::Deflate { .. }) => true,
        Some(Codec::Fletcher32) => matches!(outer.next(), Some(Codec::Deflate { .. })),
        _ => false,
    }
}

/// The sampled reads of [`Extractor::size_and_samples`], each its own result.
type Samples = Vec<Result<bytes::Bytes, granary_io::IoError>>;

impl Extractor {
    /// The size of the object at `url` (named `name`) and its bytes at `ranges`. A remote
    /// object: a HEAD and the range GETs in flight together, one round trip; a local file:
    /// opened once and read with positioned reads (the reads then fail together).
    async fn size_and_samples(
        &self,
        url: &Url,
        name: &str,
        ranges: &[Range<u64>],
    ) -> Result<(u64, Samples), ExtractError> {
        #[cfg(unix)]
        if self.registry().local_path(url).is_some() {
            // The caller examines the reads only once the size check passed: a range past
            // the end of a truncated file fails the whole wave, and is never looked at.
            let (source, _) = self.open_reading(url, Some(0)).await?;
            let reads = match source.read_ranges(ranges).await {
                Ok(all) => all.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            return Ok((source.size(), reads));
        }
        let (stats, store_stats) = (self.stats().clone(), self.store_stats(url));
        let (store, path) = self.registry().resolve(url)?;
        let head = store.head(&path);
        let reads =
            futures::future::join_all(ranges.iter().map(|r| store.get_range(&path, r.clone())));
        let started = std::time::Instant::now();
        let (head, reads) = tokio::join!(head, reads);
        let (requests, bytes) = (1 + ranges.len() as u64, 2 * ranges.len() as u64);
        for s in [stats, store_stats] {
            s.record_timed_wave(requests, bytes, started.elapsed());
        }
        let size = head
            .map_err(|source| granary_io::IoError::Head {
                url: name.to_string(),
                source,
            })?
            .size;
        let reads = reads
            .into_iter()
            .zip(ranges)
            .map(|(got, range)| {
                got.map_err(|source| granary_io::IoError::Read {
                    url: name.to_string(),
                    range: range.clone(),
                    source,
                })
            })
            .collect();
        Ok((size, reads))
    }

    /// Checks the manifest a sidecar gave against the object at `m.url`.
    pub(crate) async fn check_sidecar(&self, m: &GranuleManifest) -> Result<(), ExtractError> {
        let mode = self.options().sidecar_check;
        if mode == SidecarCheck::Off {
            return Ok(());
        }
        let stale = |array: &str, reason: String| ExtractError::StaleSidecar {
            url: m.url.clone(),
            array: array.to_string(),
            reason,
        };
        // The furthest byte referenced in the data object itself (per-chunk hrefs elsewhere
        // are other objects).
        let end = m
            .arrays()
            .flat_map(|a| a.chunks().iter().map(move |c| (a, c)))
            .filter(|(_, c)| c.url.is_none())
            .map(|(a, c)| (c.offset.saturating_add(c.size), a.path.as_str()))
            .max();
        let Some((end, end_array)) = end else {
            return Ok(());
        };
        let mut samples: Vec<(&str, Range<u64>)> = Vec::new();
        if mode == SidecarCheck::Sample {
            let candidates: Vec<_> = m
                .arrays()
                .filter(|a| starts_deflated(&a.codecs))
                .filter_map(|a| {
                    a.chunks()
                        .iter()
                        .find(|c| c.url.is_none() && c.size >= 2)
                        .map(|c| (a.path.as_str(), c.offset..c.offset + 2))
                })
                .collect();
            let step = candidates.len().div_ceil(SAMPLED_ARRAYS).max(1);
            samples.extend(candidates.into_iter().step_by(step).take(SAMPLED_ARRAYS));
        }
        let url = Url::parse(&m.url).map_err(|e| granary_io::IoError::BadLocation {
            location: m.url.clone(),
            reason: e.to_string(),
        })?;
        let ranges: Vec<Range<u64>> = samples.iter().map(|(_, r)| r.clone()).collect();
        let (size, reads) = self.size_and_samples(&url, &m.url, &ranges).await?;
        if end > size {
            return Err(stale(
                end_array,
                format!("references bytes up to {end}, but the object holds {size}"),
            ));
        }
        for ((array, range), got) in samples.iter().zip(reads) {
            let bytes = got?;
            if !zlib_header(&bytes) {
                return Err(stale(
                    array,
                    format!(
                        "its chunk at byte {} does not start a deflate stream (the sidecar describes another version of the object?)",
                        range.start
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zlib_headers_are_recognised() {
        for h in [
            [0x78, 0x01],
            [0x78, 0x5e],
            [0x78, 0x9c],
            [0x78, 0xda],
            [0x58, 0x85],
        ] {
            assert!(zlib_header(&h), "{h:?}");
        }
        for h in [[0x00, 0x00], [0x78, 0x00], [0x89, 0x48], [0x1f, 0x8b]] {
            assert!(!zlib_header(&h), "{h:?}");
        }
    }

    #[test]
    fn only_outer_deflate_is_sampled() {
        let shuffle = Codec::Shuffle { element_size: 4 };
        let deflate = Codec::Deflate { level: 4 };
        assert!(starts_deflated(&[shuffle.clone(), deflate.clone()]));
        assert!(starts_deflated(&[deflate.clone(), Codec::Fletcher32]));
        assert!(!starts_deflated(&[deflate, shuffle]));
        assert!(!starts_deflated(&[]));
    }
}
