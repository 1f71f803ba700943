//! The settings of a run's remote stores, as data: what a pipeline's
//! `[sources.<id>.storage]` resolves to, and what a cluster run sends to its executors.
//!
//! No secret is part of it. Each process that reads granules turns it into stores with its
//! own credentials ([`StoreSettings::connect`]): the AWS environment, profile or instance
//! role; or, for Earthdata, the token in `EARTHDATA_TOKEN` or the netrc login for HTTPS reads
//! and temporary S3 keys fetched from the `s3credentials` endpoint (refreshed before they
//! expire).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::urs_login::UrsLogin;
use crate::{EarthdataCredentials, IoError, RemoteOptions};

/// Remote store settings, resolved (no CMR lookups left), without secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreSettings {
    /// S3 region (default: from the environment, else us-east-1).
    pub region: Option<String>,
    /// S3-compatible endpoint instead of AWS; `http://` endpoints are allowed.
    pub endpoint: Option<String>,
    /// Unsigned requests.
    pub anonymous: bool,
    pub max_retries: Option<usize>,
    pub timeout_secs: Option<u64>,
    pub max_concurrent_requests: Option<usize>,
    /// Earthdata credentials; `None`: the environment's.
    pub earthdata: Option<EarthdataSettings>,
}

/// Where Earthdata credentials come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarthdataSettings {
    /// The `s3credentials` endpoint of temporary S3 keys (`None`: HTTPS reads only).
    pub s3_credentials_url: Option<String>,
    /// Fetch new keys this long before they expire.
    pub refresh_before_secs: u64,
    /// How HTTPS reads authenticate when `EARTHDATA_TOKEN` is not set (`None`: the source
    /// reads nothing over HTTPS).
    pub https_login: Option<HttpsLogin>,
}

/// An Earthdata Login for HTTPS reads, by the netrc user of `login_url`'s host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpsLogin {
    pub login_url: String,
    /// OAuth redirects with a cookie jar instead of a bearer token from the token API.
    pub redirects: bool,
}

/// Remote store options with this process's credentials.
#[derive(Debug, Clone, Default)]
pub struct Connected {
    pub remote: RemoteOptions,
    /// The temporary S3 keys' provider (its fetch count is reported).
    pub earthdata: Option<Arc<EarthdataCredentials>>,
    pub urs_login: Option<Arc<UrsLogin>>,
}

impl StoreSettings {
    /// The options of stores built with this process's credentials.
    pub async fn connect(&self) -> Result<Connected, IoError> {
        let mut bearer_token = None;
        let mut urs_login = None;
        let mut earthdata = None;
        if let Some(ed) = &self.earthdata {
            bearer_token = std::env::var("EARTHDATA_TOKEN")
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty());
            if let (None, Some(login)) = (&bearer_token, &ed.https_login) {
                if login.redirects {
                    let (user, password) = crate::login_token::netrc_user(&login.login_url)?;
                    let timeout = Duration::from_secs(self.timeout_secs.unwrap_or(30));
                    let session = UrsLogin::new(&login.login_url, user, password, timeout)?;
                    urs_login = Some(Arc::new(session));
                } else {
                    let token = crate::login_token::token_from_netrc(&login.login_url).await?;
                    bearer_token = Some(token);
                }
            }
            if let Some(url) = &ed.s3_credentials_url {
                let refresh = Duration::from_secs(ed.refresh_before_secs);
                earthdata = Some(Arc::new(EarthdataCredentials::from_env(url, refresh)?));
            }
        }
        let remote = RemoteOptions {
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
            anonymous: self.anonymous,
            allow_http: self
                .endpoint
                .as_deref()
                .is_some_and(|e| e.starts_with("http://")),
            max_retries: self.max_retries,
            timeout: self.timeout_secs.map(Duration::from_secs),
            max_concurrent_requests: self.max_concurrent_requests,
            s3_credentials: earthdata.clone().map(|c| c as _),
            bearer_token,
            urs_login: urs_login.clone(),
        };
        Ok(Connected {
            remote,
            earthdata,
            urs_login,
        })
    }
}
