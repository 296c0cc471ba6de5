//! One site's HTTP connection to EWS: SOAP over reqwest (rustls with the
//! ring provider; no OpenSSL), credentials, `X-AnchorMailbox`, the site-wide
//! concurrency limit, and the site-wide pause a throttling server asks for.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::request;
use super::response;
use super::xml::Document;
use crate::address::EmailAddress;
use crate::auth::Auth;
use crate::http::{read_capped, refused_redirect, retry_after, transport_error};
use crate::mailbox::MailboxError;

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

/// Sends SOAP requests to one EWS endpoint for every mailbox of a site.
#[derive(Debug)]
pub(crate) struct Transport {
    http: reqwest::Client,
    url: String,
    /// `url` parsed once (parsing it per request was 1.7 % of a run's CPU
    /// in a profile).
    /// `None` when it does not parse; each request then reports why.
    parsed: Option<reqwest::Url>,
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
            parsed: reqwest::Url::parse(&url).ok(),
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
    /// answer, after HTTP-level failures are turned into errors; read it
    /// with [`Transport::read`]. A SOAP fault or a response message's error
    /// code is the caller's to read (with [`response::messages`]), because
    /// only it knows the context.
    pub(crate) async fn call(
        &self,
        mailbox: &EmailAddress,
        body: &str,
        options: CallOptions<'_>,
    ) -> Result<Answer, MailboxError> {
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
    ) -> Result<Option<Answer>, MailboxError> {
        let impersonated = (self.impersonation && options.act_as_mailbox).then_some(mailbox);
        let envelope = request::envelope(self.version, impersonated, body);
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| MailboxError::Transport("the site's connection is closed".into()))?;
        self.check_turn()?;
        let request = match &self.parsed {
            Some(url) => self.http.post(url.clone()),
            None => self.http.post(&self.url),
        };
        let mut request = request
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
            // Exchange Online's answer since October 2026 to an app that
            // is not on the tenant's EWSAllowedAppIDs (or to any app once
            // EWS is off, from April 2027). On premises, a 403 here is a
            // front end refusing the account.
            403 => {
                return Err(MailboxError::Unauthorized(format!(
                    "{} refused EWS (HTTP 403). If this is Exchange Online: EWS is blocked by \
                     default since 1 October 2026 unless the tenant allows this app in \
                     EWSAllowedAppIDs, and is switched off for everyone on 1 April 2027 — \
                     configure the site with a [graph] app registration instead (see the \
                     README's Microsoft Graph section)",
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
        Ok(Some(Answer { status, text }))
    }

    /// Parses an answer (the tree borrows its text) and honours a
    /// whole-site throttling message in it: ErrorServerBusy and its kind
    /// make the whole site wait exactly as long as asked.
    /// (ErrorTimeoutExpired is about one batch's size; the mailbox shrinks
    /// its batch instead.)
    pub(crate) fn read<'a>(
        &self,
        answer: &'a Answer,
        mailbox: &EmailAddress,
    ) -> Result<Document<'a>, MailboxError> {
        let doc = response::parse_body(answer.status, &answer.text)?;
        let throttled = response::messages(doc.root(), mailbox.as_str()).and_then(|messages| {
            messages
                .iter()
                .filter(|m| m.code != "ErrorTimeoutExpired")
                .try_for_each(|m| m.check(mailbox.as_str(), None))
        });
        if let Err(MailboxError::Throttled { retry_after }) = throttled {
            self.pause(retry_after);
        }
        Ok(doc)
    }
}

/// A response body as the server sent it, past the HTTP-level checks.
/// Kept whole so the element tree read from it can borrow its text.
pub(crate) struct Answer {
    status: u16,
    text: String,
}

impl std::fmt::Debug for Answer {
    /// The status and the size: a body holds people's calendars, which
    /// have no place in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("bytes", &self.text.len())
            .finish()
    }
}
