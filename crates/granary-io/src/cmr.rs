//! NASA's Common Metadata Repository (CMR) granule search, as NASA users find data: a
//! collection (short name and version, or concept id), a provider, a time range and a bounding
//! box. Results are UMM-G JSON (`/search/granules.umm_json`), paged with the `CMR-Search-After`
//! header (docs/cmr.md). Transient failures (connection errors, 429, 5xx) are retried.

use std::time::Duration;

use serde::Deserialize;

use crate::IoError;

/// Bounds on what a CMR search may return (a misbehaving or hostile server must not exhaust
/// memory or loop forever): bytes of one page, pages of one search.
const MAX_PAGE_BYTES: usize = 256 << 20;
const MAX_PAGES: usize = 100_000;

/// Which granules to ask CMR for.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CmrQuery {
    /// CMR's root, e.g. `https://cmr.earthdata.nasa.gov` (no trailing path).
    pub cmr_url: String,
    pub short_name: Option<String>,
    pub version: Option<String>,
    /// The collection's concept id (`C1234-PROVIDER`), instead of short name and version.
    pub concept_id: Option<String>,
    pub provider: Option<String>,
    /// `[start, end]`, ISO 8601 (either may be empty: open range).
    pub temporal: Option<[String; 2]>,
    /// `[west, south, east, north]` in degrees.
    pub bounding_box: Option<[f64; 4]>,
    /// A GranuleUR pattern (`*` and `?` wildcards).
    pub granule_ur: Option<String>,
    /// Granules per page (CMR allows up to 2000).
    pub page_size: Option<u32>,
}

/// One granule as CMR describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmrGranule {
    pub concept_id: String,
    pub revision_id: Option<i64>,
    pub revision_date: Option<String>,
    /// The GranuleUR (native id).
    pub native_id: String,
    pub begin: Option<String>,
    pub end: Option<String>,
    /// The bounding rectangle(s) or polygon(s), as CMR gives them (JSON text).
    pub spatial: Option<String>,
    pub size_bytes: Option<u64>,
    pub checksum: Option<String>,
    pub checksum_algorithm: Option<String>,
    /// Every related URL: (type, subtype, url).
    pub related_urls: Vec<(String, Option<String>, String)>,
}

/// Which of a granule's links is the data: in-region S3 or HTTPS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// `GET DATA VIA DIRECT ACCESS` (`s3://`).
    #[default]
    Direct,
    /// `GET DATA` over HTTPS.
    External,
}

impl CmrGranule {
    /// The DMR++ sidecar link CMR lists for the data link of `access`, if any (a URL ending in
    /// `.dmrpp`, over the same scheme as the data).
    pub fn dmrpp_url(&self, access: Access) -> Option<&str> {
        let data = self.data_url(access)?;
        let scheme = data.split("://").next().unwrap_or_default();
        self.related_urls
            .iter()
            .map(|(_, _, u)| u.as_str())
            .find(|u| u.ends_with(".dmrpp") && u.starts_with(scheme))
    }

    /// The data URL for `access`: the first link of that type that is not a DMR++ sidecar or a
    /// checksum/metadata file.
    pub fn data_url(&self, access: Access) -> Option<&str> {
        let want = match access {
            Access::Direct => "GET DATA VIA DIRECT ACCESS",
            Access::External => "GET DATA",
        };
        self.related_urls
            .iter()
            .filter(|(t, _, _)| t == want)
            .map(|(_, _, u)| u.as_str())
            .find(|u| {
                let scheme_ok = match access {
                    Access::Direct => u.starts_with("s3://"),
                    Access::External => u.starts_with("https://") || u.starts_with("http://"),
                };
                scheme_ok && !u.ends_with(".dmrpp") && !u.ends_with(".md5") && !u.ends_with(".xml")
            })
    }
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    meta: Meta,
    umm: serde_json::Value,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "concept-id")]
    concept_id: String,
    #[serde(rename = "revision-id")]
    revision_id: Option<i64>,
    #[serde(rename = "revision-date")]
    revision_date: Option<String>,
    #[serde(rename = "native-id")]
    native_id: Option<String>,
}

fn text(v: &serde_json::Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn granule(item: Item) -> CmrGranule {
    let u = &item.umm;
    let range = &u["TemporalExtent"]["RangeDateTime"];
    let archive = u["DataGranule"]["ArchiveAndDistributionInformation"]
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .unwrap_or_default();
    let size_bytes = archive["SizeInBytes"].as_u64().or_else(|| {
        let size = archive["Size"].as_f64()?;
        let unit = match archive["SizeUnit"].as_str()? {
            "B" => 1.0,
            "KB" => 1024.0,
            "MB" => 1024.0 * 1024.0,
            "GB" => 1024.0 * 1024.0 * 1024.0,
            _ => return None,
        };
        Some((size * unit).round() as u64)
    });
    let spatial = u["SpatialExtent"]["HorizontalSpatialDomain"]["Geometry"].clone();
    CmrGranule {
        concept_id: item.meta.concept_id,
        revision_id: item.meta.revision_id,
        revision_date: item.meta.revision_date,
        native_id: text(&u["GranuleUR"])
            .or(item.meta.native_id)
            .unwrap_or_default(),
        begin: text(&range["BeginningDateTime"]),
        end: text(&range["EndingDateTime"]),
        spatial: (!spatial.is_null()).then(|| spatial.to_string()),
        size_bytes,
        checksum: text(&archive["Checksum"]["Value"]),
        checksum_algorithm: text(&archive["Checksum"]["Algorithm"]),
        related_urls: u["RelatedUrls"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| {
                        Some((
                            text(&r["Type"]).unwrap_or_default(),
                            text(&r["Subtype"]),
                            text(&r["URL"])?,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

impl CmrQuery {
    /// The search parameters, `updated_since` (ISO 8601) added for incremental runs.
    fn params(&self, updated_since: Option<&str>) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        let mut add = |k: &'static str, v: &Option<String>| {
            if let Some(v) = v {
                p.push((k, v.clone()));
            }
        };
        add("short_name", &self.short_name);
        add("version", &self.version);
        add("collection_concept_id", &self.concept_id);
        add("provider", &self.provider);
        add("granule_ur", &self.granule_ur);
        if self
            .granule_ur
            .as_deref()
            .is_some_and(|g| g.contains(['*', '?']))
        {
            p.push(("options[granule_ur][pattern]", "true".into()));
        }
        if let Some([a, b]) = &self.temporal {
            p.push(("temporal", format!("{a},{b}")));
        }
        if let Some([w, s, e, n]) = self.bounding_box {
            p.push(("bounding_box", format!("{w},{s},{e},{n}")));
        }
        if let Some(t) = updated_since {
            p.push(("updated_since", t.to_string()));
        }
        p.push((
            "page_size",
            self.page_size.unwrap_or(2000).clamp(1, 2000).to_string(),
        ));
        p.push(("sort_key", "start_date".into()));
        p
    }

    /// A stable text naming this search (what an inventory built from it records as its
    /// source): CMR's root and the search parameters.
    pub fn identity(&self) -> String {
        let params: Vec<String> = self
            .params(None)
            .into_iter()
            .filter(|(k, _)| *k != "page_size" && *k != "sort_key")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "cmr:{}/search/granules?{}",
            self.cmr_url.trim_end_matches('/'),
            params.join("&")
        )
    }

    /// Checks that the query names one collection.
    pub fn check(&self) -> Result<(), String> {
        if self.cmr_url.is_empty() {
            return Err("cmr_url is empty".into());
        }
        if self.concept_id.is_none() && self.short_name.is_none() {
            return Err("name the collection: short_name (+ version) or concept_id".into());
        }
        Ok(())
    }
}

/// Every granule CMR returns for `query` (all pages), optionally only those revised since
/// `updated_since`.
pub async fn search_granules(
    query: &CmrQuery,
    updated_since: Option<&str>,
) -> Result<Vec<CmrGranule>, IoError> {
    let url = format!(
        "{}/search/granules.umm_json",
        query.cmr_url.trim_end_matches('/')
    );
    let err = |reason: String| IoError::Cmr {
        url: url.clone(),
        reason,
    };
    query.check().map_err(err)?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| err(e.to_string()))?;
    let params = query.params(updated_since);
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    for page in 0.. {
        if page >= MAX_PAGES {
            return Err(err(format!(
                "more than {MAX_PAGES} pages: CMR-Search-After never ends"
            )));
        }
        let mut attempt = 0u32;
        let response = loop {
            let mut req = client.get(&url).query(&params);
            if let Some(a) = &after {
                req = req.header("CMR-Search-After", a);
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => break r,
                Ok(r)
                    if attempt < 3
                        && (r.status().is_server_error() || r.status().as_u16() == 429) =>
                {
                    tracing::debug!(status = %r.status(), page, "CMR answered with an error; retrying.");
                }
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    let body: String = body.chars().take(500).collect();
                    return Err(err(format!("page {page}: HTTP {status}: {body}")));
                }
                Err(e) if attempt < 3 => {
                    tracing::debug!(error = %e, page, "CMR request failed; retrying.");
                }
                Err(e) => return Err(err(format!("page {page}: {e}"))),
            }
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        };
        let next = response
            .headers()
            .get("CMR-Search-After")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if response
            .content_length()
            .is_some_and(|n| n > MAX_PAGE_BYTES as u64)
        {
            return Err(err(format!(
                "page {page}: more than {MAX_PAGE_BYTES} bytes"
            )));
        }
        let mut body = Vec::new();
        let mut response = response;
        while let Some(piece) = response
            .chunk()
            .await
            .map_err(|e| err(format!("page {page}: {e}")))?
        {
            if body.len() + piece.len() > MAX_PAGE_BYTES {
                return Err(err(format!(
                    "page {page}: more than {MAX_PAGE_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&piece);
        }
        let page_items: Page = serde_json::from_slice(&body)
            .map_err(|e| err(format!("page {page}: not UMM-G JSON: {e}")))?;
        let n = page_items.items.len();
        out.extend(page_items.items.into_iter().map(granule));
        match next {
            Some(n_after) if n > 0 && after.as_deref() == Some(&n_after) => {
                return Err(err(format!(
                    "page {page}: CMR sent the same CMR-Search-After again; the search would never end"
                )));
            }
            Some(n_after) if n > 0 => after = Some(n_after),
            _ => break,
        }
    }
    Ok(out)
}

/// How a collection is read in region, from its UMM-C `DirectDistributionInformation`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectAccess {
    pub region: Option<String>,
    /// The Earthdata `s3credentials` endpoint for temporary keys.
    pub s3_credentials_endpoint: Option<String>,
    pub buckets: Vec<String>,
}

/// The collection's direct-access settings (`None`: CMR lists no such collection, or it has
/// no `DirectDistributionInformation`).
pub async fn direct_access(query: &CmrQuery) -> Result<Option<DirectAccess>, IoError> {
    let url = format!(
        "{}/search/collections.umm_json",
        query.cmr_url.trim_end_matches('/')
    );
    let err = |reason: String| IoError::Cmr {
        url: url.clone(),
        reason,
    };
    query.check().map_err(err)?;
    let mut params: Vec<(&str, String)> = Vec::new();
    if let Some(c) = &query.concept_id {
        params.push(("concept_id", c.clone()));
    }
    for (k, v) in [
        ("short_name", &query.short_name),
        ("version", &query.version),
        ("provider", &query.provider),
    ] {
        if let (None, Some(v)) = (&query.concept_id, v) {
            params.push((k, v.clone()));
        }
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| err(e.to_string()))?;
    let r = client
        .get(&url)
        .query(&params)
        .send()
        .await
        .map_err(|e| err(e.to_string()))?;
    if !r.status().is_success() {
        return Err(err(format!("HTTP {}", r.status())));
    }
    let body: serde_json::Value = r
        .json()
        .await
        .map_err(|e| err(format!("not UMM-C JSON: {e}")))?;
    let Some(d) = body["items"]
        .as_array()
        .and_then(|a| a.first())
        .map(|i| &i["umm"]["DirectDistributionInformation"])
        .filter(|d| d.is_object())
    else {
        return Ok(None);
    };
    Ok(Some(DirectAccess {
        region: text(&d["Region"]),
        s3_credentials_endpoint: text(&d["S3CredentialsAPIEndpoint"]),
        buckets: d["S3BucketAndObjectPrefixNames"]
            .as_array()
            .map(|a| a.iter().filter_map(text).collect())
            .unwrap_or_default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umm_g_items_become_granules_with_their_links() {
        let item: Item = serde_json::from_value(serde_json::json!({
            "meta": {"concept-id": "G1-POCLOUD", "revision-id": 2, "revision-date": "2024-05-01T00:00:00Z"},
            "umm": {
                "GranuleUR": "SWOT_L2_LR_SSH_Expert_001_001_x_PIC0_01",
                "TemporalExtent": {"RangeDateTime": {"BeginningDateTime": "2024-01-01T00:00:00Z", "EndingDateTime": "2024-01-01T01:00:00Z"}},
                "DataGranule": {"ArchiveAndDistributionInformation": [{"Name": "g.nc", "Size": 2.5, "SizeUnit": "MB", "Checksum": {"Value": "abc", "Algorithm": "MD5"}}]},
                "RelatedUrls": [
                    {"URL": "https://h/g.nc", "Type": "GET DATA"},
                    {"URL": "https://h/g.nc.dmrpp", "Type": "EXTENDED METADATA", "Subtype": "DMR++"},
                    {"URL": "s3://b/g.nc", "Type": "GET DATA VIA DIRECT ACCESS"}
                ]
            }
        }))
        .unwrap();
        let g = granule(item);
        assert_eq!(g.data_url(Access::Direct), Some("s3://b/g.nc"));
        assert_eq!(g.data_url(Access::External), Some("https://h/g.nc"));
        assert_eq!(g.size_bytes, Some(2_621_440));
        assert_eq!(g.checksum_algorithm.as_deref(), Some("MD5"));
        assert_eq!(g.related_urls.len(), 3);
    }

    #[test]
    fn a_query_must_name_a_collection() {
        let q = CmrQuery {
            cmr_url: "http://127.0.0.1:1".into(),
            ..Default::default()
        };
        assert!(q.check().is_err());
        let q = CmrQuery {
            short_name: Some("SWOT_L2_LR_SSH_2.0".into()),
            ..q
        };
        assert!(q.check().is_ok());
        let p = q.params(Some("2024-01-01T00:00:00Z"));
        assert!(p.contains(&("updated_since", "2024-01-01T00:00:00Z".into())));
    }
}
