//! A bearer token for HTTPS reads, from the Earthdata Login user of `~/.netrc` (`NETRC`
//! overrides the path) when no `EARTHDATA_TOKEN` is given: the login's user-token API
//! (`POST {login}/api/users/find_or_create_token` with basic auth, what earthaccess does). The
//! password goes only to the login host (no redirects are followed); the token then authorizes
//! granule reads like a given one. Neither appears in logs or errors.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::IoError;
use crate::earthdata::netrc_entry;

/// The default Earthdata Login host.
pub const EARTHDATA_LOGIN: &str = "https://urs.earthdata.nasa.gov";

/// The (user, password) of `login_url`'s host in the netrc file (`NETRC`, else `~/.netrc`).
pub fn netrc_user(login_url: &str) -> Result<(String, String), IoError> {
    let err = |reason: String| IoError::Credentials {
        endpoint: login_url.to_string(),
        reason,
    };
    let url = Url::parse(login_url).map_err(|e| err(format!("bad URL: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| err("no host in the login URL".into()))?
        .to_string();
    let path = match std::env::var_os("NETRC") {
        Some(p) => PathBuf::from(p),
        None => std::env::home_dir()
            .ok_or_else(|| err("no EARTHDATA_TOKEN and no home directory for ~/.netrc".into()))?
            .join(".netrc"),
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        err(format!(
            "no EARTHDATA_TOKEN, and cannot read netrc {}: {e}",
            path.display()
        ))
    })?;
    netrc_entry(&text, &host).ok_or_else(|| {
        err(format!(
            "no EARTHDATA_TOKEN, and netrc {} has no entry for {host}",
            path.display()
        ))
    })
}

/// A user token from `login_url` for the netrc user of its host.
pub async fn token_from_netrc(login_url: &str) -> Result<String, IoError> {
    let err = |reason: String| IoError::Credentials {
        endpoint: login_url.to_string(),
        reason,
    };
    let (user, password) = netrc_user(login_url)?;
    let host = Url::parse(login_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| err(format!("cannot build the HTTP client: {e}")))?;
    let api = format!(
        "{}/api/users/find_or_create_token",
        login_url.trim_end_matches('/')
    );
    let r = client
        .post(&api)
        .basic_auth(&user, Some(&password))
        .send()
        .await
        .map_err(|e| err(format!("netrc login as {user}: {e}")))?;
    if !r.status().is_success() {
        return Err(err(format!(
            "netrc login as {user} at {host}: HTTP {}",
            r.status()
        )));
    }
    let body: serde_json::Value = r
        .json()
        .await
        .map_err(|e| err(format!("netrc login as {user}: not a token answer: {e}")))?;
    body["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            err(format!(
                "netrc login as {user}: no access_token in the answer"
            ))
        })
}
