//! One site's HTTP connection to EWS: SOAP over reqwest (rustls with the
//! ring provider; no OpenSSL), credentials, `X-AnchorMailbox`, the site-wide
//! concurrency limit, and the site-wide pause a throttling server asks for.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::auth::Auth;
use super::request;
use super::response;
use super::xml::Element;
use crate::address::EmailAddress;
use crate::mailbox::MailboxError;
use crate::site::Proxy;

/// The `User-Agent` of every request, so Exchange administrators can find
/// calrep in their logs and throttling policies.
pub(crate) const USER_AGENT: &str = concat!("calrep/", env!("CARGO_PKG_VERSION"), " (EWS)");

/// How long to wait after HTTP 503/429 without a usable `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

/// The largest response calrep reads for any operation but `GetAttachment`
/// (whose cap follows the definition's attachment cap). A `GetItem` batch
/// of 100 items with long bodies stays far below it; anything larger is a
/// broken or hostile server, refused before it costs memory.
pub(crate) const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// What one request may cost and whom it acts for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallOptions<'a> {
    /// Impersonate the mailbox (when the site impersonates at all).
    /// Directory calls act as the service account itself.
    pub(crate) act_as_mailbox: bool,
    /// The most bytes of response read; a larger one is `Ok(None)`.
    pub(crate) max_body: u64,
    /// Counts the HTTP requests sent for the caller.
    pub(crate) sent: Option<&'a AtomicU64>,
}

impl Default for CallOptions<'_> {
    fn default() -> Self {
        Self {
            act_as_mailbox: true,
            max_body: MAX_RESPONSE_BYTES,
            sent: None,
        }
    }
}

/// Installs rustls's ring provider once per process: reqwest is built
/// without a default provider, to keep aws-lc's C build out of the workspace.
///
/// Without a configured proxy the `HTTP(S)_PROXY` environment variables
/// apply, except to a loopback `url` (a simulator, a local relay), which a
/// proxy could not reach.
pub(crate) fn http_client(
    url: &str,
    timeout: Duration,
    proxy: Option<&Proxy>,
) -> Result<reqwest::Client, String> {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // Fails only when a host installed a provider first; theirs is kept.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(30)))
        .pool_idle_timeout(Duration::from_secs(60))
        // A redirect would re-send the credentials, the mailbox address
        // and the body to wherever the server points: never followed (a 3xx
        // is reported), and no Referer tells the other origin anything.
        .redirect(reqwest::redirect::Policy::none())
        .referer(false);
    if proxy.is_none() && is_loopback(url) {
        builder = builder.no_proxy();
    }
    if let Some(proxy) = proxy {
        let mut p =
            reqwest::Proxy::all(&proxy.url).map_err(|e| format!("proxy {:?}: {e}", proxy.url))?;
        if !proxy.no_proxy.is_empty() {
            p = p.no_proxy(reqwest::NoProxy::from_string(&proxy.no_proxy.join(",")));
        }
        builder = builder.proxy(p);
    }
    builder.build().map_err(|e| format!("HTTP client: {e}"))
}

/// Whether `url`'s host is this machine.
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Sends SOAP requests to one EWS endpoint for every mailbox of a site.
#[derive(Debug)]
pub(crate) struct Transport {
    http: reqwest::Client,
    url: String,
    auth: Auth,
    version: &'static str,
    impersonation: bool,
    permits: Semaphore,
    /// No request leaves before this instant: set when the server throttles,
    /// shared by every mailbox of the site.
    not_before: Mutex<Option<Instant>>,
}

impl Transport {
    pub(crate) fn new(
        http: reqwest::Client,
        url: String,
        auth: Auth,
        version: &'static str,
        impersonation: bool,
        concurrency: usize,
    ) -> Self {
        Self {
            http,
            url,
            auth,
            version,
            impersonation,
            permits: Semaphore::new(concurrency.max(1)),
            not_before: Mutex::new(None),
        }
    }

    /// Holds every later request of the site until `wait` has passed. A
    /// wait too long for the clock (`Retry-After: 18446744073709551615`)
    /// holds for a billion seconds instead of overflowing.
    pub(crate) fn pause(&self, wait: Duration) {
        let now = Instant::now();
        let Some(until) = now
            .checked_add(wait)
            .or_else(|| now.checked_add(Duration::from_secs(1 << 30)))
        else {
            return;
        };
        let mut slot = self
            .not_before
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if slot.is_none_or(|t| t < until) {
            *slot = Some(until);
        }
    }

    /// Whether the site may send now. During a pause the answer is the
    /// time left, as a throttling error: the caller's retry policy waits
    /// (bounded, and interrupted by a shutdown) and asks again, so a pause
    /// made longer while it waited is seen before anything is sent.
    fn check_turn(&self) -> Result<(), MailboxError> {
        let until = *self
            .not_before
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match until.map(|t| t.saturating_duration_since(Instant::now())) {
            Some(left) if !left.is_zero() => Err(MailboxError::Throttled { retry_after: left }),
            _ => Ok(()),
        }
    }

    /// Sends `body` (an operation element) for `mailbox` and returns the
    /// parsed response, after HTTP-level failures are turned into errors. A
    /// SOAP fault or a response message's error code is the caller's to read
    /// (with [`response::messages`]), because only it knows the context.
    pub(crate) async fn call(
        &self,
        mailbox: &EmailAddress,
        body: &str,
        options: CallOptions<'_>,
    ) -> Result<Element, MailboxError> {
        self.call_capped(mailbox, body, options)
            .await?
            .ok_or_else(|| {
                MailboxError::Protocol(format!(
                    "{} answered with more than {} bytes, more than calrep reads for one request",
                    self.url, options.max_body
                ))
            })
    }

    /// As [`call`](Self::call), but a response larger than
    /// `options.max_body` is `Ok(None)` (read no further than the cap).
    /// Errors may quote the server: the caller redacts them where they
    /// leave the EWS module.
    pub(crate) async fn call_capped(
        &self,
        mailbox: &EmailAddress,
        body: &str,
        options: CallOptions<'_>,
    ) -> Result<Option<Element>, MailboxError> {
        let impersonated = (self.impersonation && options.act_as_mailbox).then_some(mailbox);
        let envelope = request::envelope(self.version, impersonated, body);
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| MailboxError::Transport("the site's connection is closed".into()))?;
        self.check_turn()?;
        let mut request = self
            .http
            .post(&self.url)
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("X-PreferServerAffinity", "true")
            .body(envelope);
        if options.act_as_mailbox {
            // Routes the request to the mailbox's server in Exchange Online
            // and on-premises alike; required with impersonation.
            request = request.header("X-AnchorMailbox", mailbox.as_str());
        }
        let request = self.auth.apply(request).await?;
        if let Some(sent) = options.sent {
            sent.fetch_add(1, Ordering::Relaxed);
        }
        let response = request.send().await.map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        if let Some(refused) = refused_redirect(&response, &self.url) {
            return Err(MailboxError::Protocol(refused));
        }
        match status {
            401 => {
                return Err(MailboxError::Unauthorized(format!(
                    "{} refused the service account's credentials (HTTP 401)",
                    self.url
                )));
            }
            429 | 503 => {
                let wait = retry_after(response.headers()).unwrap_or(DEFAULT_RETRY_AFTER);
                self.pause(wait);
                return Err(MailboxError::Throttled { retry_after: wait });
            }
            _ => {}
        }
        let Some(bytes) = read_capped(response, options.max_body).await? else {
            return Ok(None);
        };
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        let root = response::parse_body(status, &text)?;
        // ErrorServerBusy and its kind: the whole site waits exactly as long
        // as asked. (ErrorTimeoutExpired is about one batch's size; the
        // mailbox shrinks its batch instead.)
        let throttled = response::messages(&root, mailbox.as_str()).and_then(|messages| {
            messages
                .iter()
                .filter(|m| m.code != "ErrorTimeoutExpired")
                .try_for_each(|m| m.check(mailbox.as_str(), None))
        });
        if let Err(MailboxError::Throttled { retry_after }) = throttled {
            self.pause(retry_after);
        }
        Ok(Some(root))
    }
}

/// What calrep says of a redirect (the clients follow none), or `None`
/// when `response` is not one.
pub(crate) fn refused_redirect(response: &reqwest::Response, url: &str) -> Option<String> {
    let status = response.status();
    if !status.is_redirection() {
        return None;
    }
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .unwrap_or("nowhere");
    Some(format!(
        "{url} answered HTTP {}, redirected to {location}; calrep does not follow redirects \
         (configure the final URL)",
        status.as_u16()
    ))
}

/// A response body, read as a stream and abandoned as soon as it passes
/// `cap` bytes (`None`); a `Content-Length` over the cap is refused before
/// anything is read.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    cap: u64,
) -> Result<Option<Vec<u8>>, MailboxError> {
    if response.content_length().is_some_and(|n| n > cap) {
        return Ok(None);
    }
    let mut body = Vec::with_capacity(
        usize::try_from(response.content_length().unwrap_or(0).min(cap)).unwrap_or(0),
    );
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(&e))? {
        if (body.len() as u64).saturating_add(chunk.len() as u64) > cap {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// A transport failure in words, without the request (which could carry
/// credentials in a proxy URL).
fn transport_error(e: &reqwest::Error) -> MailboxError {
    let what = if e.is_timeout() {
        "the request timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "the response broke off"
    } else {
        "the connection failed"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        MailboxError::Transport(what.to_owned())
    } else {
        MailboxError::Transport(format!("{what}: {detail}"))
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare from Exchange and
/// falls back to the default).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        assert!(is_loopback("http://127.0.0.1:8765/EWS/Exchange.asmx"));
        assert!(is_loopback("http://localhost/EWS"));
        assert!(is_loopback("http://[::1]:80/"));
        assert!(!is_loopback("https://mail.example.com/EWS/Exchange.asmx"));
        assert!(!is_loopback("https://127.0.0.1.example.com/"));
    }

    #[test]
    fn a_bad_proxy_url_is_an_error_not_a_panic() {
        let proxy = Proxy {
            url: "::not a url".into(),
            no_proxy: vec![],
        };
        assert!(http_client("https://x/", Duration::from_secs(5), Some(&proxy)).is_err());
    }
}
