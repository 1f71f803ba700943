//! Temporary S3 credentials from a NASA Earthdata `s3credentials` endpoint (e.g. PO.DAAC's),
//! for object_store's S3 client. Authentication: a bearer token (`EARTHDATA_TOKEN`), else the
//! Earthdata Login user of `~/.netrc` (`NETRC` overrides the path), sent only to the host the
//! netrc names while following the login redirects. Credentials are cached and fetched again
//! `refresh_before` ahead of their expiry (they last one hour), so runs can outlast them.
//! Secrets never appear in `Debug` output, logs or errors.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use object_store::CredentialProvider;
use object_store::aws::AwsCredential;
use tokio::sync::Mutex;
use url::Url;

use crate::IoError;

/// How to log in.
#[derive(Clone)]
enum Auth {
    Token(String),
    Netrc(PathBuf),
}

/// An Earthdata credential provider; see the module documentation.
pub struct EarthdataCredentials {
    endpoint: Url,
    auth: Auth,
    refresh_before: Duration,
    client: reqwest::Client,
    cache: Mutex<Option<(Arc<AwsCredential>, SystemTime)>>,
    fetches: AtomicUsize,
}

impl std::fmt::Debug for EarthdataCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = match &self.auth {
            Auth::Token(_) => "bearer token (redacted)".to_string(),
            Auth::Netrc(p) => format!("netrc {}", p.display()),
        };
        f.debug_struct("EarthdataCredentials")
            .field("endpoint", &self.endpoint.as_str())
            .field("auth", &auth)
            .field("refresh_before", &self.refresh_before)
            .finish()
    }
}

fn generic(message: String) -> object_store::Error {
    object_store::Error::Generic {
        store: "Earthdata",
        source: message.into(),
    }
}

/// The (login, password) of `host` in a netrc file.
pub(crate) fn netrc_entry(text: &str, host: &str) -> Option<(String, String)> {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == "machine" && tokens.get(i + 1) == Some(&host) {
            let (mut login, mut password) = (None, None);
            let mut j = i + 2;
            while j + 1 < tokens.len() && tokens[j] != "machine" {
                match tokens[j] {
                    "login" => login = Some(tokens[j + 1].to_string()),
                    "password" => password = Some(tokens[j + 1].to_string()),
                    _ => {}
                }
                j += 2;
            }
            return login.zip(password);
        }
        i += 1;
    }
    None
}

/// `2026-11-24 04:40:00+00:00` (PO.DAAC) or RFC 3339.
fn parse_expiration(s: &str) -> Option<SystemTime> {
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .or_else(|_| chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%:z"))
        .ok()?;
    let secs = u64::try_from(t.timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    expiration: String,
}

impl EarthdataCredentials {
    /// A provider for `endpoint`, logging in with `EARTHDATA_TOKEN` when set, else `~/.netrc`.
    pub fn from_env(endpoint: &str, refresh_before: Duration) -> Result<Self, IoError> {
        let cred_err = |reason: String| IoError::Credentials {
            endpoint: endpoint.to_string(),
            reason,
        };
        let endpoint = Url::parse(endpoint).map_err(|e| cred_err(format!("bad URL: {e}")))?;
        let auth = match std::env::var("EARTHDATA_TOKEN") {
            Ok(t) if !t.trim().is_empty() => Auth::Token(t.trim().to_string()),
            _ => Auth::Netrc(match std::env::var_os("NETRC") {
                Some(p) => PathBuf::from(p),
                None => std::env::home_dir()
                    .ok_or_else(|| {
                        cred_err("no EARTHDATA_TOKEN and no home directory for ~/.netrc".into())
                    })?
                    .join(".netrc"),
            }),
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| cred_err(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            endpoint,
            auth,
            refresh_before,
            client,
            cache: Mutex::new(None),
            fetches: AtomicUsize::new(0),
        })
    }

    /// How many times credentials were fetched (for tests and `--io-stats`).
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::Relaxed)
    }

    async fn fetch(&self) -> object_store::Result<(Arc<AwsCredential>, SystemTime)> {
        let netrc = match &self.auth {
            Auth::Netrc(p) => Some(std::fs::read_to_string(p).map_err(|e| {
                generic(format!(
                    "no EARTHDATA_TOKEN, and cannot read {}: {e}",
                    p.display()
                ))
            })?),
            Auth::Token(_) => None,
        };
        let mut url = self.endpoint.clone();
        for _ in 0..10 {
            let mut req = self.client.get(url.clone());
            match (&self.auth, &netrc) {
                (Auth::Token(t), _) if url.host_str() == self.endpoint.host_str() => {
                    req = req.bearer_auth(t);
                }
                (_, Some(text)) => {
                    if let Some((user, pass)) = url.host_str().and_then(|h| netrc_entry(text, h)) {
                        req = req.basic_auth(user, Some(pass));
                    }
                }
                _ => {}
            }
            let resp = req.send().await.map_err(|e| {
                generic(format!(
                    "cannot reach {}: {}",
                    url.host_str().unwrap_or("?"),
                    e.without_url()
                ))
            })?;
            let status = resp.status();
            if status.is_redirection() {
                let next = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok())
                    .ok_or_else(|| {
                        generic(format!(
                            "redirect without a location from {}",
                            url.host_str().unwrap_or("?")
                        ))
                    })?;
                url = next;
                continue;
            }
            if !status.is_success() {
                return Err(generic(format!(
                    "{} answered {status} for the credentials (check the Earthdata login)",
                    url.host_str().unwrap_or("?")
                )));
            }
            let r: Response = resp.json().await.map_err(|e| {
                generic(format!(
                    "unexpected credentials response: {}",
                    e.without_url()
                ))
            })?;
            let expiry = parse_expiration(&r.expiration)
                .ok_or_else(|| generic(format!("unreadable expiration {:?}", r.expiration)))?;
            self.fetches.fetch_add(1, Ordering::Relaxed);
            tracing::info!(endpoint = %self.endpoint, "Fetched temporary S3 credentials.");
            let cred = AwsCredential {
                key_id: r.access_key_id,
                secret_key: r.secret_access_key,
                token: r.session_token,
            };
            return Ok((Arc::new(cred), expiry));
        }
        Err(generic("too many redirects while logging in".into()))
    }
}

#[async_trait]
impl CredentialProvider for EarthdataCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let mut cache = self.cache.lock().await;
        let fresh = cache.as_ref().is_some_and(|(_, expiry)| {
            expiry
                .duration_since(SystemTime::now())
                .is_ok_and(|left| left > self.refresh_before)
        });
        if !fresh {
            *cache = Some(self.fetch().await?);
        }
        cache
            .as_ref()
            .map(|(c, _)| c.clone())
            .ok_or_else(|| generic("no credentials".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netrc_entries_by_host() {
        let text = "machine a.example login u1 password p1\nmachine urs.earthdata.nasa.gov\n  login me\n  password secret\n";
        assert_eq!(
            netrc_entry(text, "urs.earthdata.nasa.gov"),
            Some(("me".into(), "secret".into()))
        );
        assert_eq!(netrc_entry(text, "other"), None);
    }

    #[test]
    fn expirations_in_both_spellings() {
        let a = parse_expiration("2026-11-24 04:40:00+00:00").unwrap();
        let b = parse_expiration("2026-11-24T04:40:00Z").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn debug_output_has_no_token() {
        let p = EarthdataCredentials {
            endpoint: Url::parse("https://x/s3credentials").unwrap(),
            auth: Auth::Token("very-secret-token".into()),
            refresh_before: Duration::from_secs(1),
            client: reqwest::Client::new(),
            cache: Mutex::new(None),
            fetches: AtomicUsize::new(0),
        };
        assert!(!format!("{p:?}").contains("very-secret-token"));
    }
}
