//! Feeding a manifest to the combiner directly (without an inventory): the same rows an
//! inventory's `zarr` and `chunks` tables hold.

use granary_core::GranuleManifest;

use super::Combiner;
use crate::zarr::{attr_texts, zarr_array};

impl Combiner {
    /// Adds every group, array and chunk of one granule (ignored when it is not selected).
    pub fn add_manifest(&mut self, m: &GranuleManifest) {
        if self.granule(&m.url).is_none() {
            return;
        }
        for g in m.root.walk() {
            self.add_group(&m.url, &g.path, attr_texts(&g.attrs));
            for a in &g.arrays {
                match zarr_array(&m.url, a) {
                    Ok(z) => self.add_array(&m.url, &a.path, &z),
                    Err(e) => self.add_unrepresentable(&m.url, &a.path, &e.to_string()),
                }
            }
        }
        for a in m.arrays() {
            for c in a.chunks() {
                self.add_chunk(
                    &m.url,
                    &a.path,
                    &c.index,
                    c.offset,
                    c.size,
                    c.url.as_deref(),
                );
            }
        }
    }
}
