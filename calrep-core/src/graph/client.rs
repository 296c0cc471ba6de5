//! One site's HTTP connection to Microsoft Graph: JSON over reqwest
//! (rustls, no redirects, bodies read under a cap), the bearer token on
//! every request, `Prefer: IdType="ImmutableId"` and text bodies, the
//! site-wide concurrency limit, and Graph's error answers turned into
//! [`MailboxError`]s that say what to do.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::auth::Auth;
use crate::http::{read_capped, refused_redirect, retry_after, transport_error};
use crate::mailbox::MailboxError;

/// The `User-Agent` of every request.
pub(crate) const USER_AGENT: &str = concat!("calrep/", env!("CARGO_PKG_VERSION"), " (Graph)");

/// The largest JSON answer read (a delta page, a `$batch` of masters).
pub(crate) const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// How long to wait after 429/503 without a usable `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// What one request is.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    /// `GET` or `POST`.
    pub(crate) post: Option<&'a serde_json::Value>,
    /// The absolute URL (vetted to be the site's Graph origin).
    pub(crate) url: &'a str,
    /// `Prefer: odata.maxpagesize=N`.
    pub(crate) page_size: Option<usize>,
    /// The most bytes of answer read; a larger one is `Ok(None)`.
    pub(crate) cap: u64,
    /// Counts the requests sent for the caller.
    pub(crate) sent: Option<&'a AtomicU64>,
}

impl<'a> Call<'a> {
    pub(crate) fn get(url: &'a str) -> Self {
        Self {
            post: None,
            url,
            page_size: None,
            cap: MAX_RESPONSE_BYTES,
            sent: None,
        }
    }
}

/// The codes of a 404 about the mailbox itself, not about what was asked
/// of it: the mailbox's error, not the caller's to interpret.
const MAILBOX_GONE: [&str; 3] = [
    "ErrorInvalidUser",
    "MailboxNotEnabledForRESTAPI",
    "MailboxNotSupportedForRESTAPI",
];

/// What a request got, short of an error: the body (`None`: larger than
/// the call's cap), or a 404 about the thing asked for (an event, a
/// calendar, a group), which only the caller can name.
pub(crate) type Reply = Result<Option<Vec<u8>>, Refusal>;

/// The body of a reply, or `None` for a 404; `what` names the answer
/// when it is larger than calrep reads.
pub(crate) fn body(reply: Reply, what: &str) -> Result<Option<Vec<u8>>, MailboxError> {
    match reply {
        Ok(Some(body)) => Ok(Some(body)),
        Ok(None) => Err(MailboxError::Protocol(format!(
            "{what} is larger than calrep reads for one request"
        ))),
        Err(_) => Ok(None),
    }
}

/// The JSON of a reply, or `None` for a 404 (see [`body`]).
pub(crate) fn json(reply: Reply, what: &str) -> Result<Option<serde_json::Value>, MailboxError> {
    body(reply, what)?.map(|b| parse(&b)).transpose()
}

/// A Graph error answer: the status and `error.code` / `error.message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) code: String,
    pub(crate) message: String,
}

impl Refusal {
    /// Reads `{"error": {"code": …, "message": …}}` (or nothing usable)
    /// from an answer's body or a `$batch` part's.
    pub(crate) fn read(status: u16, body: &[u8]) -> Self {
        let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let field = |name: &str| {
            json.get("error")
                .and_then(|e| e.get(name))
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect::<String>()
        };
        Self {
            status,
            code: field("code"),
            message: field("message"),
        }
    }

    /// The refusal as the error of a request about `mailbox`.
    pub(crate) fn into_error(self, mailbox: &str, retry: Option<Duration>) -> MailboxError {
        let said = if self.code.is_empty() {
            format!("HTTP {}", self.status)
        } else {
            format!("HTTP {} {}: {}", self.status, self.code, self.message)
        };
        match (self.status, self.code.as_str()) {
            (410, _) | (_, "SyncStateNotFound" | "syncStateNotFound" | "SyncStateInvalid") => {
                MailboxError::ResyncRequired
            }
            (429 | 503 | 504, _) => MailboxError::Throttled {
                retry_after: retry.unwrap_or(DEFAULT_RETRY_AFTER),
            },
            (401, _) => MailboxError::Unauthorized(format!(
                "Graph refused the app's token ({said}); check the app registration and its credentials"
            )),
            (403, _) => MailboxError::AccessDenied(format!(
                "{mailbox} ({said}): the app may not read this mailbox — grant the application \
                 permission Calendars.Read and include the mailbox in the app's RBAC for \
                 Applications scope or application access policy"
            )),
            (404, "ErrorInvalidUser") => {
                MailboxError::MailboxNotFound(format!("{mailbox} ({said})"))
            }
            (404, code) if MAILBOX_GONE.contains(&code) => MailboxError::MailboxNotFound(format!(
                "{mailbox} ({said}): it has no Exchange Online mailbox (on premises, \
                 inactive or unlicensed); an on-premises mailbox replicates through an [ews] site"
            )),
            _ => MailboxError::Protocol(format!("Graph answered {said}")),
        }
    }
}

/// Sends requests to one Graph endpoint for every mailbox of a site.
#[derive(Debug)]
pub(crate) struct GraphClient {
    http: reqwest::Client,
    /// The endpoint with its version, no trailing slash.
    base: String,
    /// `scheme://host[:port]` of `base`: links must stay on it.
    origin: String,
    auth: Auth,
    permits: Semaphore,
}

impl GraphClient {
    pub(crate) fn new(http: reqwest::Client, base: &str, auth: Auth, concurrency: usize) -> Self {
        let base = base.trim_end_matches('/').to_owned();
        let origin = origin_of(&base).to_owned();
        Self {
            http,
            base,
            origin,
            auth,
            permits: Semaphore::new(concurrency.max(1)),
        }
    }

    /// `base` + `path` (a path starting with `/`).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The endpoint with its version.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Whether `link` (a nextLink, a deltaLink) points at this site's Graph
    /// endpoint: a link elsewhere would receive the token.
    pub(crate) fn owns(&self, link: &str) -> bool {
        link.strip_prefix(&self.origin)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// Sends `call` about `mailbox`; a Graph error answer is the error it
    /// means (see [`Refusal::into_error`]), except a 404 about what was
    /// asked for (see [`Reply`]).
    pub(crate) async fn send(&self, mailbox: &str, call: Call<'_>) -> Result<Reply, MailboxError> {
        if !self.owns(call.url) {
            return Err(MailboxError::Protocol(format!(
                "Graph pointed a link at {}, outside {}; calrep sends its token nowhere else",
                origin_of(call.url),
                self.origin
            )));
        }
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| MailboxError::Transport("the site's connection is closed".into()))?;
        let mut request = match call.post {
            Some(body) => self
                .http
                .post(call.url)
                .header("Content-Type", "application/json")
                .body(body.to_string()),
            None => self.http.get(call.url),
        };
        let mut prefer = String::from("IdType=\"ImmutableId\", outlook.body-content-type=\"text\"");
        if let Some(n) = call.page_size {
            prefer.push_str(&format!(", odata.maxpagesize={n}"));
        }
        request = request
            .header("Prefer", prefer)
            .header("Accept", "application/json");
        let request = self.auth.apply(request).await?;
        if let Some(sent) = call.sent {
            sent.fetch_add(1, Ordering::Relaxed);
        }
        let response = request.send().await.map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        if let Some(refused) = refused_redirect(&response, call.url) {
            return Err(MailboxError::Protocol(refused));
        }
        let wait = retry_after(response.headers());
        if (200..300).contains(&status) {
            return Ok(Ok(read_capped(response, call.cap).await?));
        }
        let body = read_capped(response, 1024 * 1024)
            .await?
            .unwrap_or_default();
        let refusal = Refusal::read(status, &body);
        if status == 404 && !MAILBOX_GONE.contains(&refusal.code.as_str()) {
            return Ok(Err(refusal));
        }
        Err(refusal.into_error(mailbox, wait))
    }
}

/// A JSON body.
fn parse(body: &[u8]) -> Result<serde_json::Value, MailboxError> {
    serde_json::from_slice(body)
        .map_err(|e| MailboxError::Protocol(format!("Graph answered JSON calrep cannot read: {e}")))
}

/// `scheme://authority` of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url
        .get(after_scheme..)
        .and_then(|rest| rest.find(['/', '?', '#']))
        .map_or(url.len(), |i| after_scheme + i);
    url.get(..end).unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_must_stay_on_the_endpoints_origin() {
        assert_eq!(
            origin_of("https://graph.microsoft.com/v1.0"),
            "https://graph.microsoft.com"
        );
        assert_eq!(
            origin_of("http://127.0.0.1:9/v1.0/x?y"),
            "http://127.0.0.1:9"
        );
        // Run alone, no other test has installed rustls's provider.
        crate::http::install_crypto_provider();
        let client = GraphClient::new(
            reqwest::Client::new(),
            "https://graph.microsoft.com/v1.0/",
            Auth::Basic {
                username: String::new(),
                password: crate::Secret::new(""),
            },
            1,
        );
        assert!(
            client
                .owns("https://graph.microsoft.com/v1.0/users/a/calendarView/delta?$deltatoken=x")
        );
        assert!(!client.owns("https://graph.microsoft.com.evil.example/v1.0/users"));
        assert!(!client.owns("http://graph.microsoft.com/v1.0/users"));
    }

    #[test]
    fn refusals_become_the_errors_they_mean() {
        let error =
            |status, body: &str| Refusal::read(status, body.as_bytes()).into_error("a@x.com", None);
        assert_eq!(
            error(
                410,
                r#"{"error":{"code":"SyncStateNotFound","message":"The sync state generation is not found."}}"#
            ),
            MailboxError::ResyncRequired
        );
        assert!(matches!(error(429, ""), MailboxError::Throttled { .. }));
        let denied = error(
            403,
            r#"{"error":{"code":"ErrorAccessDenied","message":"Access to OData is disabled."}}"#,
        );
        assert!(
            denied.to_string().contains("RBAC for Applications"),
            "{denied}"
        );
        let no_rest = error(
            404,
            r#"{"error":{"code":"MailboxNotEnabledForRESTAPI","message":"The mailbox is either inactive, soft-deleted, or is hosted on-premise."}}"#,
        );
        assert!(
            matches!(no_rest, MailboxError::MailboxNotFound(_)),
            "{no_rest}"
        );
        assert!(matches!(
            error(401, "not json"),
            MailboxError::Unauthorized(_)
        ));
        assert!(matches!(error(500, "{}"), MailboxError::Protocol(_)));
    }
}
