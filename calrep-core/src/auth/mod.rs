//! How requests to Microsoft's servers (EWS, Graph) authenticate: Basic with the service account's
//! password, or an OAuth bearer token — from the client-credentials flow of
//! an Entra app registration (cached, refreshed before it expires) or from a
//! host's own [`TokenProvider`].

mod certificate;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::mailbox::MailboxError;
use crate::secret::Secret;

pub use certificate::CertificateCredential;
#[cfg(feature = "access")]
pub(crate) use certificate::pem_blocks;
#[cfg(feature = "sim")]
pub(crate) use certificate::verify_assertion;

/// How an app proves itself at the token endpoint.
#[derive(Clone)]
pub(crate) enum ClientProof {
    /// A client secret.
    Secret(Secret),
    /// A certificate's signed assertion.
    Certificate(Arc<CertificateCredential>),
}

/// Supplies OAuth access tokens for EWS requests. A host implements it to
/// sign in with its own identity library (MSAL, a managed identity); calrep
/// asks before every request, so the provider caches.
///
/// ```
/// use calrep_core::Secret;
/// use calrep_core::ews::TokenProvider;
/// use calrep_core::mailbox::MailboxError;
/// #[derive(Debug)]
/// struct Fixed;
/// #[async_trait::async_trait]
/// impl TokenProvider for Fixed {
///     async fn token(&self) -> Result<Secret, MailboxError> {
///         Ok(Secret::new("eyJ0eXAiOiJKV1Qi…"))
///     }
/// }
/// ```
#[async_trait]
pub trait TokenProvider: Send + Sync + fmt::Debug {
    /// A token valid for at least the next request.
    async fn token(&self) -> Result<Secret, MailboxError>;
}

/// Why a site with `host_tokens = true` has no source until the host
/// registers its token supply.
pub(crate) const NO_HOST_TOKENS: &str = "takes its access tokens from the host application, \
     and none is registered (register a token callback before the first run)";

/// What a blocking token supply answers: the token, or why there is none
/// (said after "the host's token supply for site S", e.g. "failed: …").
pub type TokenAnswer = Result<Secret, String>;

/// A [`TokenProvider`] over a blocking function of the site id — a host's
/// identity library behind a C callback or a Python callable. Each token is
/// asked for on tokio's blocking pool, never on a worker, because such a
/// function may wait on the network.
///
/// ```
/// use std::sync::Arc;
/// use calrep_core::Secret;
/// use calrep_core::ews::{BlockingTokens, TokenProvider};
/// let tokens = BlockingTokens::new("online", Arc::new(|site: &str| Err(format!("failed: no account for {site}"))));
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let refused = tokens.token().await.map(|_| ()).unwrap_err();
/// assert_eq!(refused.to_string(), "not signed in: the host's token supply for site online failed: no account for online");
/// # });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct BlockingTokens {
    site: String,
    ask: Arc<dyn Fn(&str) -> TokenAnswer + Send + Sync>,
}

impl BlockingTokens {
    /// Tokens for `site` from `ask(site)`.
    pub fn new(
        site: impl Into<String>,
        ask: Arc<dyn Fn(&str) -> TokenAnswer + Send + Sync>,
    ) -> Self {
        Self {
            site: site.into(),
            ask,
        }
    }
}

impl fmt::Debug for BlockingTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingTokens")
            .field("site", &self.site)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TokenProvider for BlockingTokens {
    async fn token(&self) -> Result<Secret, MailboxError> {
        let (ask, site) = (Arc::clone(&self.ask), self.site.clone());
        let answer = tokio::task::spawn_blocking(move || ask(&site))
            .await
            .unwrap_or_else(|e| Err(format!("did not return: {e}")));
        answer.map_err(|why| {
            MailboxError::Unauthorized(format!(
                "the host's token supply for site {} {why}",
                self.site
            ))
        })
    }
}

/// The credentials of one site.
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    /// HTTP Basic with the service account.
    Basic { username: String, password: Secret },
    /// `Authorization: Bearer` with the provider's token.
    Bearer(Arc<dyn TokenProvider>),
}

impl Auth {
    /// Adds the credentials to a request.
    pub(crate) async fn apply(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, MailboxError> {
        Ok(match self {
            Self::Basic { username, password } => {
                request.basic_auth(username, Some(password.expose()))
            }
            Self::Bearer(provider) => request.bearer_auth(provider.token().await?.expose()),
        })
    }
}

/// Tokens are renewed this long before they expire, so that no request
/// leaves with a token that dies on the way.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// The OAuth 2.0 client-credentials flow against a token endpoint (Entra's
/// `…/oauth2/v2.0/token`), with the token cached until shortly before it
/// expires.
pub(crate) struct ClientCredentials {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    proof: ClientProof,
    scope: String,
    cached: tokio::sync::Mutex<Option<(Secret, Instant)>>,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl ClientCredentials {
    pub(crate) fn new(
        http: reqwest::Client,
        token_url: String,
        client_id: String,
        proof: ClientProof,
        scope: String,
    ) -> Self {
        Self {
            http,
            token_url,
            client_id,
            proof,
            scope,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    async fn fetch(&self) -> Result<(Secret, Duration), MailboxError> {
        let mut fields = vec![
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("scope", self.scope.as_str()),
        ];
        let assertion;
        match &self.proof {
            ClientProof::Secret(secret) => fields.push(("client_secret", secret.expose())),
            ClientProof::Certificate(certificate) => {
                let now = chrono::Utc::now().timestamp();
                assertion = certificate
                    .assertion(&self.client_id, &self.token_url, now)
                    .map_err(MailboxError::Unauthorized)?;
                fields.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ));
                fields.push(("client_assertion", assertion.as_str()));
            }
        }
        let form = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::encoding::form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let response = self
            .http
            .post(&self.token_url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|e| {
                let what = if e.is_timeout() {
                    "timed out"
                } else {
                    "cannot be reached"
                };
                MailboxError::Transport(format!("token endpoint {} {what}", self.token_url))
            })?;
        let status = response.status().as_u16();
        if let Some(refused) = crate::http::refused_redirect(&response, &self.token_url) {
            return Err(MailboxError::Unauthorized(refused));
        }
        let bytes = crate::http::read_capped(response, MAX_TOKEN_RESPONSE)
            .await?
            .ok_or_else(|| {
                MailboxError::Unauthorized(format!(
                    "the token endpoint answered with more than {MAX_TOKEN_RESPONSE} bytes"
                ))
            })?;
        let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| {
            MailboxError::Unauthorized(format!(
                "the token endpoint answered HTTP {status} without JSON"
            ))
        })?;
        let field = |name: &str| json.get(name).and_then(serde_json::Value::as_str);
        match field("access_token") {
            Some(token) if status == 200 => {
                // A lifetime is the server's word: clamped, so that no
                // number it sends can overflow the clock.
                let lifetime = json
                    .get("expires_in")
                    .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                    .unwrap_or(3600)
                    .min(MAX_TOKEN_LIFETIME);
                Ok((Secret::new(token), Duration::from_secs(lifetime)))
            }
            // The server's words may echo the request, secret and all: the
            // site's redactor cleans them where the error leaves `ews`.
            _ => Err(MailboxError::Unauthorized(format!(
                "the token endpoint refused the app (HTTP {status}): {} {}",
                field("error").unwrap_or("no error code"),
                field("error_description")
                    .and_then(|d| d.lines().next())
                    .unwrap_or("")
            ))),
        }
    }
}

/// The most of a token endpoint's answer calrep reads.
const MAX_TOKEN_RESPONSE: u64 = 1024 * 1024;
/// Tokens are kept at most this long (seconds), whatever `expires_in` says.
const MAX_TOKEN_LIFETIME: u64 = 24 * 3600;

#[async_trait]
impl TokenProvider for ClientCredentials {
    async fn token(&self) -> Result<Secret, MailboxError> {
        // One refresh at a time: the lock is held across the request, so a
        // burst of mailboxes waits for one token instead of asking for many.
        let mut cached = self.cached.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && Instant::now()
                .checked_add(RENEW_BEFORE)
                .is_some_and(|t| t < *expires)
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = self.fetch().await?;
        let now = Instant::now();
        *cached = Some((token.clone(), now.checked_add(lifetime).unwrap_or(now)));
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let c = ClientCredentials::new(
            crate::http::http_client(
                "calrep-test",
                "http://127.0.0.1:9/",
                &[],
                Duration::from_secs(1),
                None,
            )
            .unwrap(),
            "http://127.0.0.1:9/token".into(),
            "id".into(),
            ClientProof::Secret(Secret::new("s3cret-value")),
            "scope".into(),
        );
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
