//! Read confinement: where a granule's references may point (`docs/security.md`).
//!
//! A granule's chunk references, and the data URL of its DMR++ sidecar, may name only the
//! granule's own store: the same scheme and bucket or host (and port) for remote objects, the
//! granule's own directory (or below) for local files. Anything else must be allowed explicitly
//! by a URL prefix (`--allow-location`, a pipeline's `allow_locations`). A hostile or careless
//! sidecar can then neither make granary read a local file nor call a host the user never named.

use url::Url;

use crate::IoError;

/// The locations references may name besides the granule's own store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadScope {
    allowed: Vec<String>,
}

/// Whether `target` lies in the granule's own store.
fn same_store(granule: &Url, target: &Url) -> bool {
    if granule.scheme() != target.scheme() {
        return false;
    }
    if granule.scheme() != "file" {
        return granule.host_str() == target.host_str()
            && granule.port_or_known_default() == target.port_or_known_default();
    }
    // Local files: the granule's directory or below, compared on normalised paths.
    let (Ok(g), Ok(t)) = (granule.to_file_path(), target.to_file_path()) else {
        return false;
    };
    let normal = granary_core::path::normalize_lexically;
    match normal(&g).parent() {
        Some(dir) => normal(&t).starts_with(dir),
        None => false,
    }
}

impl ReadScope {
    /// The granule's own store plus every location starting with one of `allowed` (URL
    /// prefixes such as `s3://other-bucket/` or `https://host/path/`).
    pub fn new(allowed: Vec<String>) -> Self {
        Self { allowed }
    }

    /// The URL prefixes allowed besides each granule's own store.
    pub fn prefixes(&self) -> &[String] {
        &self.allowed
    }

    /// Checks that `target` may be read for the granule at `granule`.
    pub fn check(&self, granule: &str, target: &str) -> Result<(), IoError> {
        let refused = |reason: &str| IoError::OutsideScope {
            granule: granule.to_string(),
            target: target.chars().take(512).collect(),
            reason: reason.to_string(),
        };
        let g = Url::parse(granule).map_err(|_| refused("the granule URL does not parse"))?;
        let t = Url::parse(target).map_err(|_| refused("not an absolute URL"))?;
        if same_store(&g, &t) {
            return Ok(());
        }
        // Compare allow-list prefixes on the parsed (normalised) URL, so `..` cannot walk out.
        let t = t.as_str();
        if self.allowed.iter().any(|a| t.starts_with(a.as_str())) {
            return Ok(());
        }
        Err(refused(
            "outside the granule's own store; allow it explicitly with --allow-location (allow_locations in a pipeline) if it is trusted",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_granules_own_store_is_allowed() {
        let s = ReadScope::default();
        s.check("s3://b/x/g.nc", "s3://b/y/other.h5").unwrap();
        s.check("https://h/d/g.nc", "https://h:443/d/g.nc_mvs.h5")
            .unwrap();
        s.check("file:///data/c/g.nc", "file:///data/c/sub/g.nc_mvs.h5")
            .unwrap();
    }

    #[test]
    fn other_stores_and_local_escapes_are_refused() {
        let s = ReadScope::default();
        for (g, t) in [
            ("file:///data/c/g.nc", "file:///etc/passwd"),
            ("file:///data/c/g.nc", "file:///data/c/../../etc/passwd"),
            ("https://h/d/g.nc", "file:///etc/passwd"),
            ("https://h/d/g.nc", "http://127.0.0.1:9/x"),
            ("https://h/d/g.nc", "https://h:8443/d/g.nc"),
            ("s3://b/g.nc", "s3://other/g.nc"),
            ("s3://b/g.nc", "relative/path.h5"),
        ] {
            let e = s.check(g, t).unwrap_err();
            assert!(e.to_string().contains(g), "{e}");
        }
    }

    #[test]
    fn an_allow_list_opens_named_prefixes_only() {
        let s = ReadScope::new(vec!["s3://aux-bucket/aux/".into()]);
        s.check("s3://b/g.nc", "s3://aux-bucket/aux/x.h5").unwrap();
        assert!(
            s.check("s3://b/g.nc", "s3://aux-bucket/other/x.h5")
                .is_err()
        );
        assert!(
            s.check("s3://b/g.nc", "s3://aux-bucket/aux/../other/x.h5")
                .is_err()
        );
    }
}
