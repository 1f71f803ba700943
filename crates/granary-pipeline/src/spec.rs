//! The pipeline file (`docs/pipeline-spec.md`): TOML with `version`, `name`, `description`,
//! `state_dir` and component tables `sources`, `extractors`, `transforms`, `sinks`, each keyed by
//! the component's id and holding its `type` and (except sources) `inputs`. Unknown keys are
//! errors.

use std::collections::BTreeMap;

use granary_extract::MetadataRoute;
use granary_refs::{AttrPolicy, OnDuplicate, RefFormat};
use serde::Deserialize;
use toml::Spanned;

/// The file as written: component tables still untyped (typed per `type` in `load`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPipeline {
    pub version: Spanned<u32>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Where run state (the inventory) is kept; default `.granary/<name>`.
    pub state_dir: Option<String>,
    #[serde(default)]
    pub sources: BTreeMap<String, Spanned<toml::Table>>,
    #[serde(default)]
    pub extractors: BTreeMap<String, Spanned<toml::Table>>,
    #[serde(default)]
    pub transforms: BTreeMap<String, Spanned<toml::Table>>,
    #[serde(default)]
    pub sinks: BTreeMap<String, Spanned<toml::Table>>,
    /// Where granules are scanned (default: in this process).
    #[serde(default)]
    pub engine: Option<Spanned<EngineSpec>>,
}

/// `[engine]`: where the extraction runs.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EngineSpec {
    #[serde(rename = "type", default)]
    pub kind: EngineType,
    /// The Ballista scheduler of granary executors, `df://HOST:PORT` (`type = "ballista"`;
    /// `granary run --cluster` gives or replaces it).
    pub scheduler: Option<String>,
    /// Granules per cluster task (default 64).
    pub granules_per_task: Option<usize>,
    /// Granules per cluster job: results come back, and are committed, job by job (default
    /// 1024).
    pub granules_per_job: Option<usize>,
}

/// The engines a pipeline runs on.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EngineType {
    /// This process scans every granule (the default).
    #[default]
    Embedded,
    /// Executors of a Ballista cluster scan them (`granary cluster`, `docs/scale-out.md`).
    Ballista,
}

/// The registered source types.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SourceType {
    Files,
    /// Granules found by a NASA CMR search.
    Cmr,
}

/// The registered transform types.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TransformType {
    Sql,
    Combine,
}

/// `type = "files"` (`paths`) or `type = "cmr"` (a CMR search: `docs/cmr.md`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FilesSource {
    #[serde(rename = "type")]
    pub kind: SourceType,
    /// Files, directories (searched recursively), globs or URLs (`files`).
    #[serde(default)]
    pub paths: Vec<String>,
    /// The CMR search (`cmr`): CMR's root URL.
    pub cmr_url: Option<String>,
    pub short_name: Option<String>,
    pub version: Option<String>,
    pub concept_id: Option<String>,
    pub provider: Option<String>,
    /// `[start, end]`, ISO 8601.
    pub temporal: Option<[String; 2]>,
    /// `[west, south, east, north]`.
    pub bounding_box: Option<[f64; 4]>,
    /// A GranuleUR pattern (`*`, `?`).
    pub granule_ur: Option<String>,
    pub page_size: Option<u32>,
    /// Which link of each granule is its data: `direct` (s3://) or `external` (https://).
    #[serde(default)]
    pub access: granary_io::cmr::Access,
    /// A preset name (`"swot"`) or a regex matched against file names; named groups become
    /// `granules` columns. None: no captures.
    pub name_pattern: Option<String>,
    /// Object store settings for remote paths.
    #[serde(default)]
    pub storage: StorageSpec,
}

impl FilesSource {
    /// The CMR search of a `cmr` source.
    pub fn cmr_query(&self) -> granary_io::cmr::CmrQuery {
        granary_io::cmr::CmrQuery {
            cmr_url: self
                .cmr_url
                .clone()
                .unwrap_or_else(|| "https://cmr.earthdata.nasa.gov".to_string()),
            short_name: self.short_name.clone(),
            version: self.version.clone(),
            concept_id: self.concept_id.clone(),
            provider: self.provider.clone(),
            temporal: self.temporal.clone(),
            bounding_box: self.bounding_box,
            granule_ur: self.granule_ur.clone(),
            page_size: self.page_size,
        }
    }

    /// Whether the keys fit the type: `files` needs `paths` and no search keys; `cmr` a
    /// collection and no `paths`.
    pub fn check(&self) -> Result<(), String> {
        let search = self.cmr_url.is_some()
            || self.short_name.is_some()
            || self.version.is_some()
            || self.concept_id.is_some()
            || self.provider.is_some()
            || self.temporal.is_some()
            || self.bounding_box.is_some()
            || self.granule_ur.is_some()
            || self.page_size.is_some();
        match self.kind {
            SourceType::Files if self.paths.is_empty() => Err("`paths` is empty".into()),
            SourceType::Files if search => {
                Err("CMR search keys (short_name, temporal, ...) need type = \"cmr\"".into())
            }
            SourceType::Cmr if !self.paths.is_empty() => {
                Err("a cmr source finds its granules: remove `paths`".into())
            }
            SourceType::Cmr => self.cmr_query().check(),
            SourceType::Files => Ok(()),
        }
    }

    /// The compiled `name_pattern` (a preset or a regex), if any.
    pub fn pattern(
        &self,
    ) -> Result<Option<granary_inventory::NamePattern>, granary_inventory::InventoryError> {
        self.name_pattern
            .as_deref()
            .map(granary_inventory::NamePattern::parse)
            .transpose()
    }
}

/// `[sources.<id>.storage]`: settings of the remote stores the source's URLs live in.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StorageSpec {
    /// S3 region (default: from the environment, else us-east-1).
    pub region: Option<String>,
    /// S3-compatible endpoint instead of AWS (e.g. `http://127.0.0.1:9000`).
    pub endpoint: Option<String>,
    /// Unsigned requests (public buckets).
    #[serde(default)]
    pub anonymous: bool,
    /// Retries of a failed request, with exponential backoff (default 10).
    pub max_retries: Option<usize>,
    /// Per-request timeout in seconds (default 30).
    pub timeout_secs: Option<u64>,
    /// At most this many requests in flight per bucket or host (default unlimited).
    pub max_concurrent_requests: Option<usize>,
    /// Where S3 credentials come from.
    #[serde(default)]
    pub credentials: Credentials,
    /// The `s3credentials` endpoint (`credentials = "earthdata"`).
    pub earthdata_url: Option<String>,
    /// Fetch new temporary credentials this many seconds before they expire (default 300).
    #[serde(default = "default_refresh")]
    pub refresh_before_secs: u64,
    /// Earthdata Login, where a netrc user gets a bearer token for HTTPS reads when
    /// `EARTHDATA_TOKEN` is not set (default `https://urs.earthdata.nasa.gov`).
    pub earthdata_login_url: Option<String>,
    /// How a netrc user reads HTTPS granules: a bearer token from the login's token API
    /// (`token`, default) or Earthdata Login's OAuth redirects with a cookie jar (`redirects`).
    #[serde(default)]
    pub https_login: HttpsLogin,
}

/// How a netrc user authenticates HTTPS reads (`https_login`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HttpsLogin {
    #[default]
    Token,
    Redirects,
}

fn default_refresh() -> u64 {
    300
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self {
            region: None,
            endpoint: None,
            anonymous: false,
            max_retries: None,
            timeout_secs: None,
            max_concurrent_requests: None,
            credentials: Credentials::Environment,
            earthdata_url: None,
            refresh_before_secs: default_refresh(),
            earthdata_login_url: None,
            https_login: HttpsLogin::Token,
        }
    }
}

/// S3 credential source.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Credentials {
    /// AWS environment variables, profile, web identity or instance metadata.
    #[default]
    Environment,
    /// Temporary keys from a NASA Earthdata `s3credentials` endpoint (token or ~/.netrc).
    Earthdata,
}

/// `type = "auto" | "dmrpp" | "hdf5"`: the metadata route.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExtractorSpec {
    #[serde(rename = "type")]
    pub route: MetadataRoute,
    pub inputs: Vec<String>,
    /// Granules extracted at the same time (absent: 4 per core for local files, 16 per core
    /// (16 to 256) when any granule is remote).
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// Granules committed to the inventory together, at most.
    #[serde(default = "default_part_size")]
    pub part_size: usize,
    /// Manifest memory committed to the inventory together, at most (MiB).
    #[serde(default = "default_part_mib")]
    pub part_mib: usize,
    /// URL prefixes references (DMR++ hrefs) may also name besides each granule's own store.
    #[serde(default)]
    pub allow_locations: Vec<String>,
    /// How a DMR++ sidecar is checked against its object before it is trusted.
    #[serde(default)]
    pub sidecar_check: granary_extract::SidecarCheck,
    /// An array granary cannot reference: `skip` (listed in the errors table) or `error`
    /// (the granule fails).
    #[serde(default)]
    pub unreferenceable: granary_core::ArrayPolicy,
}

fn default_part_size() -> usize {
    512
}

fn default_part_mib() -> usize {
    granary_inventory::DEFAULT_PART_MIB
}

/// `type = "sql"`: exactly one of `query` and `query_file`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SqlSpec {
    #[serde(rename = "type")]
    pub kind: TransformType,
    pub inputs: Vec<String>,
    pub query: Option<String>,
    /// Relative to the pipeline file.
    pub query_file: Option<String>,
}

/// `type = "combine"`: the pipeline component (granary-refs' `CombineSpec` is what the
/// combiner is given).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CombineTransformSpec {
    #[serde(rename = "type")]
    pub kind: TransformType,
    pub inputs: Vec<String>,
    #[serde(default)]
    pub on_duplicate: OnDuplicate,
    #[serde(default)]
    pub attrs: AttrPolicy,
    /// Arrays copied once after checking that they are identical.
    #[serde(default)]
    pub identical: Vec<String>,
    /// A selection column: one reference set per value (`{}` in the sink path).
    pub partition_by: Option<String>,
    /// Keep only these arrays (with the coordinates they need).
    #[serde(default)]
    pub arrays: Vec<String>,
    /// Leave these arrays out.
    #[serde(default)]
    pub drop_arrays: Vec<String>,
    /// Keep the arrays matching this SQL condition over the `zarr` table.
    pub arrays_where: Option<String>,
    /// Arrays some selected granule cannot reference: `skip` (left out, listed) or `error`.
    #[serde(default)]
    pub unreferenceable: granary_core::ArrayPolicy,
}

/// `type = "kerchunk_json" | "kerchunk_parquet" | "icechunk"`: the output format.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SinkSpec {
    #[serde(rename = "type")]
    pub format: RefFormat,
    pub inputs: Vec<String>,
    /// Output path (`{}` is replaced by the partition value); `--target` overrides it.
    pub path: Option<String>,
    #[serde(default = "default_record_size")]
    pub record_size: u64,
    /// Replace an existing output.
    #[serde(default)]
    pub overwrite: bool,
    /// URL prefix → prefix rewrites of this sink's references (`"s3://bucket/" =
    /// "https://host/path/"`); every URL must match one.
    #[serde(default)]
    pub url_map: BTreeMap<String, String>,
    /// `icechunk` sinks: the branch each run commits to (default `main`, created when missing).
    pub branch: Option<String>,
    /// `icechunk` sinks in `s3://`: region, endpoint and anonymous access of the repository's
    /// bucket (and of the S3 virtual chunk containers it declares).
    pub storage: Option<StorageSpec>,
}

fn default_record_size() -> u64 {
    granary_refs::DEFAULT_RECORD_SIZE
}
