//! The object versions granules are scanned at: one HEAD per granule gives its size and entity
//! tag, which both the persisted and the in-memory inventory record in the `granules` table
//! (the persisted build compares them to decide what to rescan; Icechunk references carry the
//! ETag as checksum). A granule whose HEAD fails becomes an error row.

use std::collections::HashMap;

use granary_core::GranuleManifest;
use granary_extract::{Extractor, Listed};
use url::Url;

use crate::ErrorRow;

/// url → version of every granule whose HEAD succeeded, and the error rows of the others.
pub(crate) async fn head_granules(
    ex: &Extractor,
    urls: &[Url],
) -> (HashMap<String, Listed>, Vec<ErrorRow>) {
    let mut listed = HashMap::new();
    let mut errors = Vec::new();
    for (url, r) in urls.iter().zip(ex.head_all(urls).await) {
        match r {
            Ok(l) => {
                listed.insert(url.to_string(), l);
            }
            Err(e) => errors.push(ErrorRow::from_extract(url.as_str(), &e)),
        }
    }
    (listed, errors)
}

/// Records in `m` the version its granule was found at.
pub(crate) fn stamp(m: &mut GranuleManifest, l: &Listed) {
    m.size = Some(l.size);
    m.etag = l.etag.clone();
}
