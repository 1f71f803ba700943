//! Rewriting the URLs of a reference set as it is published (`url_map` of a sink, `--url-map`
//! of `granary combine`): one run can publish an in-region flavour (`s3://bucket/...`) and an
//! external one (`https://host/path/...`) of the same references. Prefixes end with `/`, so a
//! mapping never splits a path component; the longest matching prefix wins; a URL no prefix
//! matches is an error (publishing it unmapped would mix flavours silently).

use crate::PublishError;

/// Prefix → prefix rewrites.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlMap {
    /// Longest prefix first.
    pairs: Vec<(String, String)>,
}

impl UrlMap {
    /// A map from (from, to) prefixes; both must be non-empty and end with `/`.
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, PublishError> {
        let mut out = Vec::new();
        for (from, to) in pairs {
            if from.is_empty() || to.is_empty() || !from.ends_with('/') || !to.ends_with('/') {
                return Err(PublishError::BadUrlMap {
                    from,
                    to,
                    reason: "both prefixes must be non-empty and end with `/`".into(),
                });
            }
            if !to.contains("://") {
                return Err(PublishError::BadUrlMap {
                    from,
                    to,
                    reason: "the new prefix must be a URL (scheme://...)".into(),
                });
            }
            out.push((from, to));
        }
        out.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        if let Some(w) = out.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(PublishError::BadUrlMap {
                from: w[0].0.clone(),
                to: w[1].1.clone(),
                reason: "the prefix is mapped twice".into(),
            });
        }
        Ok(Self { pairs: out })
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// `url` rewritten, or `None` when no prefix matches.
    pub fn map(&self, url: &str) -> Option<String> {
        self.pairs
            .iter()
            .find(|(from, _)| url.starts_with(from.as_str()))
            .map(|(from, to)| format!("{to}{}", &url[from.len()..]))
    }

    /// Every URL rewritten; the first URL no prefix matches is the error.
    pub fn apply(&self, urls: &[String]) -> Result<Vec<String>, PublishError> {
        urls.iter()
            .map(|u| {
                self.map(u).ok_or_else(|| PublishError::UnmappedUrl {
                    url: u.clone(),
                    prefixes: self
                        .pairs
                        .iter()
                        .map(|(f, _)| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> Result<UrlMap, PublishError> {
        UrlMap::new(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())))
    }

    #[test]
    fn the_longest_prefix_wins_and_unmapped_urls_are_errors() {
        let m = map(&[
            ("s3://b/", "https://h/all/"),
            ("s3://b/swot/", "https://h/swot/"),
        ])
        .unwrap();
        assert_eq!(
            m.map("s3://b/swot/g.nc").as_deref(),
            Some("https://h/swot/g.nc")
        );
        assert_eq!(m.map("s3://b/x.nc").as_deref(), Some("https://h/all/x.nc"));
        let e = m.apply(&["s3://other/g.nc".to_string()]).unwrap_err();
        assert!(e.to_string().contains("s3://other/g.nc"), "{e}");
    }

    #[test]
    fn prefixes_must_end_on_a_path_boundary() {
        assert!(map(&[("s3://b", "https://h/")]).is_err());
        assert!(map(&[("s3://b/", "h/")]).is_err());
        assert!(map(&[("s3://b/", "https://a/"), ("s3://b/", "https://c/")]).is_err());
    }
}
