//! [`GraphSource`] and [`GraphMailbox`]: the [`Mailbox`] seam over
//! Microsoft Graph v1.0.
//!
//! Per calendar, `calendarView/delta` over the run's window lists what
//! changed; its rows are only hints. Every row names a series (a single's
//! or master's own id, an occurrence's `seriesMasterId`), and each series
//! is then fetched whole — its master with `cancelledOccurrences` and
//! `exceptionOccurrences` — so the master, not delta, decides which
//! occurrences are deleted and modified. `@removed` rows are deletions for
//! the replica: the item is gone or has left the window the replica holds.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::SecondsFormat;
use tokio::sync::Semaphore;

use super::client::{Call, GraphClient, Refusal, Reply, USER_AGENT, body, json};
use super::event::{EXPAND, GraphEventError, SELECT, read_event_json};
use crate::address::EmailAddress;
use crate::auth::{Auth, CertificateCredential, ClientCredentials, ClientProof, TokenProvider};
use crate::calendar::{CalendarId, CalendarInfo, CalendarItem, ItemId};
use crate::encoding::path_segment;
use crate::http::http_client;
use crate::mailbox::{ChangePage, Mailbox, MailboxError, MailboxSource, SyncState, Window};
use crate::secret::{Redactor, Secret};
use crate::site::{GraphApp, Site};

/// Exchange Online runs at most this many requests of one app for one
/// mailbox at a time ("MailboxConcurrency"); more are refused with 429.
pub const MAILBOX_CONCURRENCY: usize = 4;

/// The most ids one `translateExchangeIds` call takes.
pub(crate) const TRANSLATE_MAX: usize = 1000;

/// Sync states calrep issues for Graph start with this, so that an EWS
/// state is never sent to Graph (nor a Graph one to EWS).
pub(crate) const STATE_PREFIX: &str = "graph:";

/// A calendar list longer than this many pages is not one calrep trusts.
const MAX_CALENDAR_PAGES: usize = 100;

/// A site's Graph app could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Graph for site {site}: {message}")]
pub struct GraphSetupError {
    /// The site.
    pub site: String,
    /// What is wrong (never a secret).
    pub message: String,
}

/// How the app signs in.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum GraphCredentials {
    /// A client secret.
    Secret(Secret),
    /// A certificate and its key.
    Certificate(Arc<CertificateCredential>),
    /// Tokens from the host.
    Tokens(Arc<dyn TokenProvider>),
}

/// Opens the Graph mailboxes of one site. Every mailbox shares one
/// connection pool, one token and one site-wide concurrency limit; each
/// has its own limit of [`MAILBOX_CONCURRENCY`].
///
/// ```no_run
/// use calrep_core::graph::{GraphCredentials, GraphSource};
/// use calrep_core::{GraphApp, Secret};
/// let app: GraphApp = toml::from_str(r#"
///     tenant = "contoso.onmicrosoft.com"
///     client_id = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
///     secret_env = "CALREP_GRAPH_SECRET"
/// "#)?;
/// let secret = Secret::new(std::env::var("CALREP_GRAPH_SECRET")?);
/// let source = GraphSource::new("m365", &app, None, GraphCredentials::Secret(secret))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct GraphSource {
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) client: GraphClient,
    page_size: usize,
    batch: usize,
    /// The site's secrets, removed from errors that leave the module.
    pub(crate) redactor: Redactor,
}

impl GraphSource {
    /// A source for `app`, through `proxy` if given.
    pub fn new(
        site: &str,
        app: &GraphApp,
        proxy: Option<&crate::site::Proxy>,
        credentials: GraphCredentials,
    ) -> Result<Self, GraphSetupError> {
        let error = |message: String| GraphSetupError {
            site: site.to_owned(),
            message,
        };
        let timeout = Duration::from_secs(app.timeout_seconds.max(1));
        let http = http_client(USER_AGENT, app.url(), &[&app.token_url()], timeout, proxy)
            .map_err(error)?;
        let redactor = match &credentials {
            GraphCredentials::Secret(secret) => Redactor::default().secret(secret),
            _ => Redactor::default(),
        };
        let token = |proof| {
            Arc::new(ClientCredentials::new(
                http.clone(),
                app.token_url(),
                app.client_id.clone(),
                proof,
                app.scope(),
            )) as Arc<dyn TokenProvider>
        };
        let provider = match credentials {
            GraphCredentials::Secret(secret) => token(ClientProof::Secret(secret)),
            GraphCredentials::Certificate(c) => token(ClientProof::Certificate(c)),
            GraphCredentials::Tokens(provider) => provider,
        };
        let client = GraphClient::new(http, app.url(), Auth::Bearer(provider), app.concurrency);
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                page_size: app.page_size.clamp(1, 1000),
                batch: app.batch.clamp(1, MAILBOX_CONCURRENCY),
                redactor,
            }),
        })
    }

    /// The source a configured site describes, its secret or key read now
    /// (relative files start at `base`).
    pub fn from_site(site: &Site, base: &Path) -> Result<Self, GraphSetupError> {
        let error = |message: String| GraphSetupError {
            site: site.id.to_string(),
            message,
        };
        let app = site
            .graph
            .as_ref()
            .ok_or_else(|| error("the site has no [graph] section".into()))?;
        if app.host_tokens {
            return Err(error(crate::auth::NO_HOST_TOKENS.into()));
        }
        let credentials = match (&app.certificate_file, &app.private_key_file) {
            (Some(cert), Some(key)) => {
                let (cert, key) = (base.join(cert), base.join(key));
                GraphCredentials::Certificate(Arc::new(
                    CertificateCredential::load(&cert, &key).map_err(error)?,
                ))
            }
            _ => {
                let secret = app.secret().map_err(|e| error(e.to_owned()))?;
                GraphCredentials::Secret(secret.load(base).map_err(|e| error(e.to_string()))?)
            }
        };
        Self::new(site.id.as_str(), app, site.proxy.as_ref(), credentials)
    }

    /// The mailbox with this address (no request is sent yet).
    pub fn mailbox(&self, address: &EmailAddress) -> GraphMailbox {
        GraphMailbox {
            address: address.clone(),
            user: path_segment(address.as_str()),
            shared: Arc::clone(&self.shared),
            permits: Arc::new(Semaphore::new(MAILBOX_CONCURRENCY)),
            sent: Arc::default(),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

#[async_trait]
impl MailboxSource for GraphSource {
    async fn open(&self, address: &EmailAddress) -> Result<Arc<dyn Mailbox>, MailboxError> {
        Ok(Arc::new(self.mailbox(address)))
    }
}

/// One mailbox read through Graph.
#[derive(Debug, Clone)]
pub struct GraphMailbox {
    address: EmailAddress,
    /// The address as a path segment.
    user: String,
    shared: Arc<Shared>,
    /// This mailbox's requests in flight (a `$batch` takes one per part).
    permits: Arc<Semaphore>,
    /// HTTP requests sent for this mailbox.
    sent: Arc<AtomicU64>,
}

/// What one delta row says.
enum Row {
    /// The series (or single) with this id changed.
    Series(ItemId),
    /// This id is gone from the window.
    Removed(ItemId),
}

/// A delta page as calrep reads it: the rows' ids and links, the rest of
/// each row (a whole event on Exchange Online) skipped unread rather than
/// built into a JSON tree.
#[derive(serde::Deserialize)]
struct DeltaPage<'a> {
    #[serde(default, borrow)]
    value: Vec<DeltaRow<'a>>,
    #[serde(rename = "@odata.nextLink", default, borrow)]
    next: Option<Cow<'a, str>>,
    #[serde(rename = "@odata.deltaLink", default, borrow)]
    delta: Option<Cow<'a, str>>,
}

/// The fields of a delta row that say which series it touches.
#[derive(serde::Deserialize)]
struct DeltaRow<'a> {
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(rename = "type", default, borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(rename = "seriesMasterId", default, borrow)]
    series_master_id: Option<Cow<'a, str>>,
    /// `@removed` is there, whatever its value says.
    #[serde(rename = "@removed", default, deserialize_with = "present")]
    removed: bool,
}

/// `true` for a field that is there, its value skipped.
fn present<'de, D: serde::Deserializer<'de>>(field: D) -> Result<bool, D::Error> {
    <serde::de::IgnoredAny as serde::Deserialize>::deserialize(field).map(|_| true)
}

/// A `$batch` answer, each part's body left as JSON text.
#[derive(serde::Deserialize)]
struct BatchAnswer<'a> {
    #[serde(default, borrow)]
    responses: Option<Vec<BatchPart<'a>>>,
}

/// One part of a `$batch` answer. `status` and `headers` stay loose (a
/// number or a string, any header spelling) as Graph's are read.
#[derive(serde::Deserialize)]
struct BatchPart<'a> {
    #[serde(default)]
    status: Option<serde_json::Value>,
    #[serde(default)]
    headers: Option<serde_json::Value>,
    #[serde(default, borrow)]
    body: Option<&'a serde_json::value::RawValue>,
}

/// An event that cannot be read, as the mailbox's error.
fn unreadable(e: GraphEventError) -> MailboxError {
    MailboxError::Protocol(e.to_string())
}

impl GraphMailbox {
    /// Sends `call` holding `parts` of this mailbox's concurrency.
    async fn send(&self, parts: usize, mut call: Call<'_>) -> Result<Reply, MailboxError> {
        let parts = u32::try_from(parts.clamp(1, MAILBOX_CONCURRENCY)).unwrap_or(1);
        let _permits = self
            .permits
            .acquire_many(parts)
            .await
            .map_err(|_| MailboxError::Transport("the mailbox is closed".into()))?;
        call.sent = Some(&self.sent);
        self.shared.client.send(self.address.as_str(), call).await
    }

    fn path(&self, rest: &str) -> String {
        self.shared
            .client
            .url(&format!("/users/{}{rest}", self.user))
    }

    async fn read_calendars(&self) -> Result<Vec<CalendarInfo>, MailboxError> {
        let mut url = self.path("/calendars?$select=id,name,isDefaultCalendar&$top=100");
        let mut calendars = Vec::new();
        for _ in 0..MAX_CALENDAR_PAGES {
            let page = json(self.send(1, Call::get(&url)).await?, "a calendar page")?.ok_or_else(
                || {
                    MailboxError::Protocol(format!(
                        "the calendars of {} were not found",
                        self.address
                    ))
                },
            )?;
            for c in page
                .get("value")
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
            {
                let id = c.get("id").and_then(serde_json::Value::as_str);
                let Some(id) = id else {
                    return Err(MailboxError::Protocol("a calendar without an id".into()));
                };
                let name = c.get("name").and_then(serde_json::Value::as_str);
                let default = c
                    .get("isDefaultCalendar")
                    .and_then(serde_json::Value::as_bool);
                calendars.push(CalendarInfo::new(
                    id,
                    name.unwrap_or("Calendar"),
                    default.unwrap_or(false),
                ));
            }
            match page
                .get("@odata.nextLink")
                .and_then(serde_json::Value::as_str)
            {
                Some(next) => url = next.to_owned(),
                None => return Ok(calendars),
            }
        }
        Err(MailboxError::Protocol(format!(
            "the calendar list did not end after {MAX_CALENDAR_PAGES} pages"
        )))
    }

    async fn read_changes(
        &self,
        calendar: &CalendarId,
        state: Option<&SyncState>,
        window: Window,
        max: usize,
    ) -> Result<ChangePage, MailboxError> {
        let url = match state {
            Some(state) => match state.as_str().strip_prefix(STATE_PREFIX) {
                Some(link) => link.to_owned(),
                // Another backend's state (EWS before the switch): start over.
                None => return Err(MailboxError::ResyncRequired),
            },
            None => {
                let at =
                    |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
                self.path(&format!(
                    "/calendars/{}/calendarView/delta?startDateTime={}&endDateTime={}",
                    path_segment(calendar.as_str()),
                    at(window.start),
                    at(window.end)
                ))
            }
        };
        let mut call = Call::get(&url);
        call.page_size = Some(max.clamp(1, self.shared.page_size));
        // Not found: the calendar itself is gone.
        let text = body(self.send(1, call).await?, "a delta page")?
            .ok_or_else(|| MailboxError::CalendarGone(calendar.clone()))?;
        let page: DeltaPage<'_> = serde_json::from_slice(&text).map_err(|e| {
            MailboxError::Protocol(format!(
                "Graph answered a delta page calrep cannot read: {e}"
            ))
        })?;
        let mut rows: BTreeMap<ItemId, bool> = BTreeMap::new();
        // A page may list an entity twice: the last row about it wins.
        for row in &page.value {
            match read_row(row)? {
                Row::Series(id) => rows.insert(id, true),
                Row::Removed(id) => rows.insert(id, false),
            };
        }
        let (link, more) = match (page.next.as_deref(), page.delta.as_deref()) {
            (Some(next), _) => (next, true),
            (None, Some(delta)) => (delta, false),
            (None, None) => {
                return Err(MailboxError::Protocol(
                    "a delta page with neither @odata.nextLink nor @odata.deltaLink".into(),
                ));
            }
        };
        if !self.shared.client.owns(link) {
            return Err(MailboxError::Protocol(format!(
                "the delta page links outside {}; calrep sends its token nowhere else",
                self.shared.client.base()
            )));
        }
        let mut out = ChangePage {
            state: Some(SyncState::new(format!("{STATE_PREFIX}{link}"))),
            more,
            ..ChangePage::default()
        };
        for (id, changed) in rows {
            match changed {
                true => out.changed.push(id),
                false => out.deleted.push(id),
            }
        }
        Ok(out)
    }

    /// The event `id` with everything calrep replicates, as a relative
    /// URL (for `$batch`).
    fn event_path(&self, id: &ItemId) -> String {
        format!(
            "/users/{}/events/{}?$select={SELECT}&$expand={EXPAND}",
            self.user,
            path_segment(id.as_str())
        )
    }

    async fn read_items(&self, ids: &[ItemId]) -> Result<Vec<CalendarItem>, MailboxError> {
        let mut items = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(self.shared.batch) {
            match chunk {
                [one] => items.extend(self.fetch_one(one).await?),
                _ => self.fetch_batch(chunk, &mut items).await?,
            }
        }
        Ok(items)
    }

    /// One event, or `None` when it no longer exists.
    async fn fetch_one(&self, id: &ItemId) -> Result<Option<CalendarItem>, MailboxError> {
        let url = self.shared.client.url(&self.event_path(id));
        match body(self.send(1, Call::get(&url)).await?, "an event")? {
            Some(text) => read_event_json(&text).map(Some).map_err(unreadable),
            None => Ok(None),
        }
    }

    /// Several events in one JSON `$batch` (at most four: Graph runs four
    /// of one mailbox at a time), added to `items`; missing ones are left
    /// out.
    async fn fetch_batch(
        &self,
        ids: &[ItemId],
        items: &mut Vec<CalendarItem>,
    ) -> Result<(), MailboxError> {
        let requests: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(n, id)| serde_json::json!({"id": n.to_string(), "method": "GET", "url": self.event_path(id)}))
            .collect();
        let batch = serde_json::json!({ "requests": requests });
        let url = self.shared.client.url("/$batch");
        let call = Call {
            post: Some(&batch),
            ..Call::get(&url)
        };
        let text = body(self.send(ids.len(), call).await?, "a $batch answer")?
            .ok_or_else(|| MailboxError::Protocol("Graph has no $batch endpoint here".into()))?;
        // Each part's body stays text until it is read as an event.
        let answer: BatchAnswer<'_> = serde_json::from_slice(&text).map_err(|e| {
            MailboxError::Protocol(format!("Graph answered a $batch calrep cannot read: {e}"))
        })?;
        let responses = answer
            .responses
            .ok_or_else(|| MailboxError::Protocol("a $batch answer without responses".into()))?;
        if responses.len() != ids.len() {
            return Err(MailboxError::Protocol(format!(
                "a $batch of {} answered {} responses",
                ids.len(),
                responses.len()
            )));
        }
        for response in responses {
            let status = response
                .status
                .as_ref()
                .and_then(serde_json::Value::as_u64)
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(0);
            let part = response
                .body
                .map_or("null", serde_json::value::RawValue::get);
            match status {
                200..=299 => items.push(read_event_json(part.as_bytes()).map_err(unreadable)?),
                404 => {}
                _ => {
                    let wait = response
                        .headers
                        .as_ref()
                        .and_then(|h| h.get("Retry-After").or_else(|| h.get("retry-after")))
                        .and_then(|v| {
                            v.as_str()
                                .and_then(|s| s.trim().parse().ok())
                                .or_else(|| v.as_u64())
                        })
                        .map(Duration::from_secs);
                    let refusal = Refusal::read(status, part.as_bytes());
                    return Err(refusal.into_error(self.address.as_str(), wait));
                }
            }
        }
        Ok(())
    }

    async fn read_attachment(
        &self,
        item: &ItemId,
        attachment_id: &str,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, MailboxError> {
        let url = self.path(&format!(
            "/events/{}/attachments/{}/$value",
            path_segment(item.as_str()),
            path_segment(attachment_id)
        ));
        let call = Call {
            cap: max_bytes,
            ..Call::get(&url)
        };
        match self.send(1, call).await? {
            Ok(body) => Ok(body),
            Err(refusal) => Err(MailboxError::Protocol(format!(
                "attachment {attachment_id} of event {item}: HTTP {} {}",
                refusal.status, refusal.code
            ))),
        }
    }

    /// The Graph (REST immutable) ids of EWS ids, by `translateExchangeIds`
    /// (at most [`TRANSLATE_MAX`] per call): `(EWS id, Graph id)` for
    /// each id Graph knows; ids it cannot translate are left out.
    pub(crate) async fn translate_ids(
        &self,
        ews_ids: &[String],
    ) -> Result<Vec<(String, String)>, MailboxError> {
        if ews_ids.len() > TRANSLATE_MAX {
            return Err(MailboxError::Protocol(format!(
                "translateExchangeIds takes at most {TRANSLATE_MAX} ids, not {}",
                ews_ids.len()
            )));
        }
        let body = serde_json::json!({
            "inputIds": ews_ids,
            "sourceIdType": "ewsId",
            "targetIdType": "restImmutableEntryId",
        });
        let url = self.path("/translateExchangeIds");
        let call = Call {
            post: Some(&body),
            ..Call::get(&url)
        };
        let answer =
            json(self.send(1, call).await?, "a translateExchangeIds answer")?.ok_or_else(|| {
                MailboxError::Protocol(format!(
                    "Graph has no translateExchangeIds for {}",
                    self.address
                ))
            })?;
        let rows = answer
            .get("value")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| {
                MailboxError::Protocol("a translateExchangeIds answer without a value".into())
            })?;
        let text = |row: &serde_json::Value, name: &str| {
            row.get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        Ok(rows
            .iter()
            .filter_map(|row| Some((text(row, "sourceId")?, text(row, "targetId")?)))
            .collect())
    }
}

/// A delta row as the series it touches, or a removal.
fn read_row(row: &DeltaRow<'_>) -> Result<Row, MailboxError> {
    let id = row
        .id
        .as_deref()
        .ok_or_else(|| MailboxError::Protocol("a delta row without an id".into()))?;
    if row.removed {
        return Ok(Row::Removed(ItemId::new(id)));
    }
    Ok(match row.kind.as_deref() {
        Some("occurrence" | "exception") => {
            let master = row.series_master_id.as_deref().ok_or_else(|| {
                MailboxError::Protocol(format!("occurrence {id} has no seriesMasterId"))
            })?;
            Row::Series(ItemId::new(master))
        }
        _ => Row::Series(ItemId::new(id)),
    })
}

// Every answer's errors may quote the server, which may quote the request:
// each goes through the site's redactor before it leaves.
#[async_trait]
impl Mailbox for GraphMailbox {
    fn address(&self) -> &EmailAddress {
        &self.address
    }

    fn requests_sent(&self) -> Option<u64> {
        Some(self.sent.load(Ordering::Relaxed))
    }

    fn windowed(&self) -> bool {
        true
    }

    async fn calendars(&self) -> Result<Vec<CalendarInfo>, MailboxError> {
        self.read_calendars()
            .await
            .map_err(|e| e.redacted(&self.shared.redactor))
    }

    async fn changes(
        &self,
        calendar: &CalendarId,
        state: Option<&SyncState>,
        window: Window,
        max: usize,
    ) -> Result<ChangePage, MailboxError> {
        self.read_changes(calendar, state, window, max)
            .await
            .map_err(|e| e.redacted(&self.shared.redactor))
    }

    async fn items(
        &self,
        _calendar: &CalendarId,
        ids: &[ItemId],
    ) -> Result<Vec<CalendarItem>, MailboxError> {
        self.read_items(ids)
            .await
            .map_err(|e| e.redacted(&self.shared.redactor))
    }

    async fn attachment(
        &self,
        item: &ItemId,
        attachment_id: &str,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, MailboxError> {
        self.read_attachment(item, attachment_id, max_bytes)
            .await
            .map_err(|e| e.redacted(&self.shared.redactor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page shaped as Exchange Online sends one (rows carry whole events,
    /// links escape their slashes): each row's series or removal is read,
    /// the rest skipped.
    #[test]
    fn a_delta_page_reads_as_series_and_removals() {
        let body = br#"{
          "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(event)",
          "@odata.nextLink": "https:\/\/graph.microsoft.com\/v1.0\/me\/calendarView\/delta?$skiptoken=R0usmci39",
          "value": [
            {"@odata.etag": "W/\"EZ9r3czxY0m2jz8c45czkwAAFXcvIw==\"", "id": "AAMkADM1", "type": "singleInstance",
             "subject": "Plan \"Q3\"", "start": {"dateTime": "2026-12-01T09:00:00.0000000", "timeZone": "UTC"},
             "attendees": [{"emailAddress": {"name": "Bob", "address": "bob@example.com"}}], "isAllDay": false},
            {"id": "AAMkADM2", "type": "occurrence", "seriesMasterId": "AAMkSERIES", "start": {"dateTime": "2026-12-02T09:00:00.0000000", "timeZone": "UTC"}},
            {"id": "AAMkADM3", "type": "exception", "seriesMasterId": "AAMkSERIES"},
            {"id": "AAMkGONE", "@removed": {"reason": "deleted"}}
          ]
        }"#;
        let page: DeltaPage<'_> = serde_json::from_slice(body).unwrap();
        let rows: Vec<_> = page
            .value
            .iter()
            .map(|r| match read_row(r).unwrap() {
                Row::Series(id) => format!("series {}", id.as_str()),
                Row::Removed(id) => format!("removed {}", id.as_str()),
            })
            .collect();
        assert_eq!(
            rows,
            [
                "series AAMkADM1",
                "series AAMkSERIES",
                "series AAMkSERIES",
                "removed AAMkGONE"
            ]
        );
        assert_eq!(
            page.next.as_deref(),
            Some("https://graph.microsoft.com/v1.0/me/calendarView/delta?$skiptoken=R0usmci39")
        );
        assert!(page.delta.is_none());
    }

    #[test]
    fn rows_that_name_no_series_are_errors() {
        let read = |body: &str| {
            let page: DeltaPage<'_> = serde_json::from_str(body).unwrap();
            read_row(&page.value[0])
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        assert!(read(r#"{"value": [{"type": "occurrence"}]}"#).contains("without an id"));
        assert!(
            read(r#"{"value": [{"id": "o1", "type": "occurrence"}]}"#)
                .contains("o1 has no seriesMasterId")
        );
        // A value of the wrong kind fails the page, not the process.
        assert!(serde_json::from_str::<DeltaPage<'_>>(r#"{"value": [{"id": 7}]}"#).is_err());
    }
}
