//! Remote object stores built on demand from a URL: `s3://bucket/...` (AWS credentials from the
//! environment or profile, or a credential provider such as Earthdata's; region, endpoint
//! override, anonymous access), `http(s)://host/...` (range reads), and with the `gcp` / `azure`
//! features `gs://` and `az://`. Every store retries transient failures with backoff.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AwsCredential};
use object_store::http::HttpBuilder;
use object_store::{ClientOptions, CredentialProvider, ObjectStore, RetryConfig};
use url::Url;

use crate::IoError;

/// Settings of remote stores.
#[derive(Clone, Default)]
pub struct RemoteOptions {
    /// S3 region (default: `AWS_REGION` / `AWS_DEFAULT_REGION`, else us-east-1).
    pub region: Option<String>,
    /// S3-compatible endpoint (e.g. a local test server), instead of AWS.
    pub endpoint: Option<String>,
    /// Unsigned requests (public buckets).
    pub anonymous: bool,
    /// Allow `http://` endpoints.
    pub allow_http: bool,
    /// Retries of a failed request (exponential backoff); default 10.
    pub max_retries: Option<usize>,
    /// Per-request timeout; default 30 s.
    pub timeout: Option<Duration>,
    /// At most this many requests in flight per store (bucket or host); default unlimited.
    pub max_concurrent_requests: Option<usize>,
    /// Temporary S3 credentials (e.g. Earthdata's s3credentials); default: environment/profile.
    pub s3_credentials: Option<Arc<dyn CredentialProvider<Credential = AwsCredential>>>,
    /// A bearer token (Earthdata Login) sent to the `http(s)` hosts granules are read from.
    /// Never forwarded when a server redirects to another host (the HTTP client drops
    /// `Authorization` across origins), never printed.
    pub bearer_token: Option<String>,
    /// An Earthdata Login session (OAuth redirects, cookies) for `http(s)` granule hosts.
    pub urs_login: Option<Arc<crate::urs_login::UrsLogin>>,
}

impl std::fmt::Debug for RemoteOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print credentials.
        f.debug_struct("RemoteOptions")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("anonymous", &self.anonymous)
            .field("allow_http", &self.allow_http)
            .field("max_retries", &self.max_retries)
            .field("timeout", &self.timeout)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("urs_login", &self.urs_login)
            .field(
                "s3_credentials",
                &self.s3_credentials.as_ref().map(|_| "provider"),
            )
            .finish()
    }
}

impl RemoteOptions {
    fn retry(&self) -> RetryConfig {
        RetryConfig {
            max_retries: self.max_retries.unwrap_or(10),
            ..RetryConfig::default()
        }
    }

    fn client(&self) -> ClientOptions {
        ClientOptions::new()
            .with_allow_http(self.allow_http)
            .with_timeout(self.timeout.unwrap_or(Duration::from_secs(30)))
    }
}

fn build_err(url: &Url, e: object_store::Error) -> IoError {
    IoError::BadLocation {
        location: url.to_string(),
        reason: format!("cannot set up the object store: {e}"),
    }
}

/// A store for the bucket/host of `url`, or None for schemes this build does not know.
pub(crate) fn store_for(
    url: &Url,
    opts: &RemoteOptions,
) -> Option<Result<Arc<dyn ObjectStore>, IoError>> {
    let host = url.host_str().unwrap_or_default();
    let built: Result<Arc<dyn ObjectStore>, object_store::Error> = match url.scheme() {
        "s3" => {
            let mut b = AmazonS3Builder::from_env()
                .with_bucket_name(host)
                .with_retry(opts.retry())
                .with_client_options(opts.client());
            if let Some(r) = &opts.region {
                b = b.with_region(r);
            }
            if let Some(e) = &opts.endpoint {
                b = b
                    .with_endpoint(e)
                    .with_virtual_hosted_style_request(false)
                    .with_allow_http(e.starts_with("http://"));
            }
            if opts.anonymous {
                b = b.with_skip_signature(true);
            }
            if let Some(c) = &opts.s3_credentials {
                b = b.with_credentials(c.clone());
            }
            b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        "http" | "https" => {
            let base = format!("{}://{}", url.scheme(), url.authority());
            let mut client = opts.client().with_allow_http(url.scheme() == "http");
            if let Some(token) = &opts.bearer_token {
                let mut value =
                    match reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")) {
                        Ok(v) => v,
                        Err(_) => {
                            return Some(Err(IoError::Credentials {
                                endpoint: base,
                                reason: "the bearer token holds characters an HTTP header cannot"
                                    .into(),
                            }));
                        }
                    };
                value.set_sensitive(true);
                let mut headers = reqwest::header::HeaderMap::new();
                headers.insert(reqwest::header::AUTHORIZATION, value);
                client = client.with_default_headers(headers);
            }
            let mut b = HttpBuilder::new()
                .with_url(base)
                .with_retry(opts.retry())
                .with_client_options(client);
            if let Some(login) = &opts.urs_login {
                b = b.with_http_connector(login.connector());
            }
            b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        #[cfg(feature = "gcp")]
        "gs" => object_store::gcp::GoogleCloudStorageBuilder::from_env()
            .with_bucket_name(host)
            .with_retry(opts.retry())
            .with_client_options(opts.client())
            .build()
            .map(|s| Arc::new(s) as Arc<dyn ObjectStore>),
        #[cfg(feature = "azure")]
        "az" | "abfs" => object_store::azure::MicrosoftAzureBuilder::from_env()
            .with_container_name(host)
            .with_retry(opts.retry())
            .with_client_options(opts.client())
            .build()
            .map(|s| Arc::new(s) as Arc<dyn ObjectStore>),
        _ => return None,
    };
    Some(
        built
            .map_err(|e| build_err(url, e))
            .map(|store| match opts.max_concurrent_requests {
                Some(n) => Arc::new(object_store::limit::LimitStore::new(store, n.max(1)))
                    as Arc<dyn ObjectStore>,
                None => store,
            }),
    )
}
