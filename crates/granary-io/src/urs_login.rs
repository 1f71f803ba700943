//! HTTPS reads behind Earthdata Login's OAuth redirects (TEA/URS): a request to the data host
//! is redirected to the login host, which (given the user's basic auth) redirects back with a
//! code; the data host then sets a session cookie. [`UrsLogin::login`] walks that chain once per
//! data host by hand, sending the netrc password only to the login host, and keeps the cookies
//! in a jar that every later request of the host's object store carries ([`UrsLogin::connector`]).
//! The password never reaches another host; neither it nor the cookies are logged.

use std::sync::Arc;
use std::time::Duration;

use object_store::ClientOptions;
use object_store::client::{HttpClient, HttpConnector};
use reqwest::cookie::Jar;
use url::Url;

use crate::IoError;

/// The netrc user, the login origin, and the cookie jar shared by every HTTPS store.
pub struct UrsLogin {
    /// Scheme, host and port of the login: the password goes to this origin only.
    login: url::Origin,
    login_host: String,
    user: String,
    password: String,
    jar: Arc<Jar>,
    timeout: Duration,
}

impl std::fmt::Debug for UrsLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrsLogin")
            .field("login_host", &self.login_host)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Builds the HTTPS stores' client around the shared cookie jar (object_store's own options
/// cannot carry one).
#[derive(Debug)]
pub struct CookieConnector {
    jar: Arc<Jar>,
    timeout: Duration,
}

impl HttpConnector for CookieConnector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        let client = reqwest::Client::builder()
            .cookie_provider(self.jar.clone())
            .timeout(self.timeout)
            .build()
            .map_err(|e| object_store::Error::Generic {
                store: "HTTP",
                source: Box::new(e),
            })?;
        Ok(HttpClient::new(client))
    }
}

impl UrsLogin {
    /// The login of `user` at `login_url`'s host (the netrc entry of that host).
    pub fn new(
        login_url: &str,
        user: String,
        password: String,
        timeout: Duration,
    ) -> Result<Self, IoError> {
        let url = Url::parse(login_url)
            .ok()
            .filter(|u| u.host_str().is_some())
            .ok_or_else(|| IoError::Credentials {
                endpoint: login_url.to_string(),
                reason: "no host in the login URL".into(),
            })?;
        Ok(Self {
            login: url.origin(),
            login_host: url.host_str().unwrap_or_default().to_string(),
            user,
            password,
            jar: Arc::new(Jar::default()),
            timeout,
        })
    }

    /// The connector whose clients carry this login's cookies.
    pub fn connector(&self) -> CookieConnector {
        CookieConnector {
            jar: self.jar.clone(),
            timeout: self.timeout,
        }
    }

    /// Logs in for the host of `url` (an object on it): follows the redirects by hand, with the
    /// basic auth only on requests to the login host, until the object answers.
    pub async fn login(&self, url: &Url) -> Result<(), IoError> {
        let err = |reason: String| IoError::Credentials {
            endpoint: format!("{}://{}", url.scheme(), url.authority()),
            reason,
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_provider(self.jar.clone())
            .timeout(self.timeout)
            .build()
            .map_err(|e| err(format!("cannot build the HTTP client: {e}")))?;
        let mut next = url.clone();
        for _ in 0..10 {
            // Same scheme, host and port: another port of the same host is another server.
            let to_login = next.origin() == self.login;
            let mut req = client.get(next.clone()).header("Range", "bytes=0-0");
            if to_login {
                req = req.basic_auth(&self.user, Some(&self.password));
            }
            let r = req
                .send()
                .await
                .map_err(|e| err(format!("netrc login as {}: {e}", self.user)))?;
            let status = r.status();
            if status.is_success() {
                return Ok(());
            }
            if !status.is_redirection() {
                let at = next.host_str().unwrap_or_default().to_string();
                return Err(err(format!(
                    "netrc login as {} (Earthdata Login redirects): HTTP {status} from {at}",
                    self.user
                )));
            }
            let location = r
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| err("a redirect without a Location".into()))?;
            next = next
                .join(location)
                .map_err(|e| err(format!("bad redirect: {e}")))?;
        }
        Err(err("more than 10 redirects while logging in".into()))
    }
}
