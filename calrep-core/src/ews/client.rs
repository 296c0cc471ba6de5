//! [`EwsSource`] and [`EwsMailbox`]: the [`Mailbox`] seam over Exchange Web
//! Services. Hierarchy and item sync with ids only, `GetItem` in batches with
//! an explicit property set, the modified occurrences' own fields fetched by
//! their ids, attachments by `GetAttachment`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use super::directory::EwsDirectory;
use super::item::{collect, read_item};
use super::request::{self, Folder};
use super::response::{self, Message};
use super::transport::{Answer, CallOptions, Transport, USER_AGENT};
use super::xml::{Document, Element, TYPES};
use crate::address::EmailAddress;
use crate::auth::{Auth, ClientCredentials, ClientProof, TokenProvider};
use crate::calendar::{CalendarId, CalendarInfo, CalendarItem, ItemId};
use crate::http::http_client;
use crate::mailbox::{
    ChangePage, Mailbox, MailboxError, MailboxSource, SyncState, WantedAttachment,
};
use crate::secret::{Redactor, Secret};
use crate::site::{EwsEndpoint, Site};

/// Batches never shrink below this after `ErrorTimeoutExpired`.
const MIN_BATCH: usize = 1;
/// Microsoft's advice for a server that timed out: at most ten per batch.
const TIMEOUT_BATCH: usize = 10;
/// A hierarchy of more pages than this is not a mailbox calrep can trust.
const MAX_HIERARCHY_PAGES: usize = 1000;

/// A site's EWS endpoint could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("EWS for site {site}: {message}")]
pub struct EwsSetupError {
    /// The site.
    pub site: String,
    /// What is wrong (never a secret).
    pub message: String,
}

/// How the service account signs in.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// HTTP Basic (Exchange on-premises).
    Basic {
        /// The service account (UPN or `DOMAIN\user`).
        username: String,
        /// Its password.
        password: Secret,
    },
    /// OAuth client credentials with this client secret; the app
    /// registration comes from the endpoint's `oauth` section.
    ClientSecret(Secret),
    /// OAuth tokens from the host.
    Tokens(Arc<dyn TokenProvider>),
}

/// Opens EWS mailboxes of one site. Every mailbox shares one HTTP
/// connection pool, one concurrency limit and one throttling pause.
///
/// ```no_run
/// use std::sync::Arc;
/// use calrep_core::ews::{Credentials, EwsSource};
/// use calrep_core::{EwsEndpoint, Secret};
/// let endpoint: EwsEndpoint = toml::from_str(r#"
///     url = "https://mail.example.com/EWS/Exchange.asmx"
///     username = "svc-calrep@example.com"
///     password_env = "CALREP_EWS_PASSWORD"
/// "#)?;
/// let source = EwsSource::new("hq", &endpoint, None, Credentials::Basic {
///     username: endpoint.username.clone(),
///     password: Secret::new(std::env::var("CALREP_EWS_PASSWORD")?),
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct EwsSource {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    transport: Transport,
    impersonation: bool,
    max_changes: usize,
    /// The `GetItem` batch size now: shrinks after `ErrorTimeoutExpired`.
    batch: AtomicUsize,
    /// The site's secrets, removed from errors that leave the module.
    redactor: Redactor,
}

impl EwsSource {
    /// A source for `endpoint`, through `proxy` if given.
    pub fn new(
        site: &str,
        endpoint: &EwsEndpoint,
        proxy: Option<&crate::site::Proxy>,
        credentials: Credentials,
    ) -> Result<Self, EwsSetupError> {
        let error = |message: String| EwsSetupError {
            site: site.to_owned(),
            message,
        };
        let timeout = Duration::from_secs(endpoint.timeout_seconds.max(1));
        let token_url = endpoint.oauth.as_ref().map(|app| app.token_url());
        let other: Vec<&str> = token_url.iter().map(String::as_str).collect();
        let http = http_client(USER_AGENT, &endpoint.url, &other, timeout, proxy).map_err(error)?;
        let redactor = match &credentials {
            Credentials::Basic { username, password } => {
                Redactor::default().basic(username, password)
            }
            Credentials::ClientSecret(secret) => Redactor::default().secret(secret),
            Credentials::Tokens(_) => Redactor::default(),
        };
        let auth = match credentials {
            Credentials::Basic { username, password } => Auth::Basic { username, password },
            Credentials::Tokens(provider) => Auth::Bearer(provider),
            Credentials::ClientSecret(secret) => {
                let app = endpoint.oauth.as_ref().ok_or_else(|| {
                    error("a client secret needs the endpoint's oauth section".into())
                })?;
                Auth::Bearer(Arc::new(ClientCredentials::new(
                    http.clone(),
                    app.token_url(),
                    app.client_id.clone(),
                    ClientProof::Secret(secret),
                    app.scope().to_owned(),
                )))
            }
        };
        let transport = Transport::new(
            http,
            endpoint.url.clone(),
            auth,
            endpoint.server_version.as_str(),
            endpoint.impersonation,
            endpoint.concurrency,
        );
        Ok(Self {
            shared: Arc::new(Shared {
                transport,
                impersonation: endpoint.impersonation,
                max_changes: endpoint.max_changes.clamp(1, request::MAX_CHANGES_LIMIT),
                redactor,
                batch: AtomicUsize::new(endpoint.batch_size.clamp(MIN_BATCH, 100)),
            }),
        })
    }

    /// The source a configured site describes, its secret read now
    /// (relative secret files start at `base`).
    pub fn from_site(site: &Site, base: &Path) -> Result<Self, EwsSetupError> {
        let error = |message: String| EwsSetupError {
            site: site.id.to_string(),
            message,
        };
        let endpoint = site
            .ews
            .as_ref()
            .ok_or_else(|| error("the site has no [ews] section".into()))?;
        if endpoint.host_tokens {
            return Err(error(crate::auth::NO_HOST_TOKENS.into()));
        }
        let credentials = match &endpoint.oauth {
            Some(app) => {
                let secret = app.secret().map_err(|e| error(e.to_owned()))?;
                Credentials::ClientSecret(secret.load(base).map_err(|e| error(e.to_string()))?)
            }
            None => {
                let password = endpoint.password().map_err(|e| error(e.to_owned()))?;
                Credentials::Basic {
                    username: endpoint.username.clone(),
                    password: password.load(base).map_err(|e| error(e.to_string()))?,
                }
            }
        };
        Self::new(site.id.as_str(), endpoint, site.proxy.as_ref(), credentials)
    }

    /// The mailbox with this address (no request is sent yet).
    pub fn mailbox(&self, address: &EmailAddress) -> EwsMailbox {
        EwsMailbox {
            address: address.clone(),
            shared: Arc::clone(&self.shared),
            sent: Arc::default(),
            default: Arc::default(),
        }
    }

    /// Group expansion through `ExpandDL`, as `account` (the mailbox whose
    /// view of the address book is used; usually the service account's).
    pub fn directory(&self, account: &EmailAddress) -> EwsDirectory {
        EwsDirectory::new(self.mailbox(account))
    }
}

#[async_trait]
impl MailboxSource for EwsSource {
    async fn open(&self, address: &EmailAddress) -> Result<Arc<dyn Mailbox>, MailboxError> {
        Ok(Arc::new(self.mailbox(address)))
    }
}

/// A folder's id and display name.
type IdAndName = (String, String);

/// One mailbox read through EWS.
#[derive(Debug, Clone)]
pub struct EwsMailbox {
    address: EmailAddress,
    shared: Arc<Shared>,
    /// HTTP requests sent for this mailbox.
    sent: Arc<AtomicU64>,
    /// The default calendar's id and name as the trait's `default_calendar`
    /// last found them, taken by the next folder listing: a run that needs
    /// the hierarchy after the default alone sends GetFolder once, and an
    /// answer is never reused beyond that.
    default: Arc<Mutex<Option<Option<IdAndName>>>>,
}

impl EwsMailbox {
    fn delegate(&self) -> Option<&EmailAddress> {
        (!self.shared.impersonation).then_some(&self.address)
    }

    /// The options of this mailbox's requests: counted as its own.
    fn options(&self) -> CallOptions<'_> {
        CallOptions {
            sent: Some(&self.sent),
            ..CallOptions::default()
        }
    }

    /// Sends an operation and returns the answer (see [`Self::read`]).
    pub(crate) async fn call(&self, body: &str) -> Result<Answer, MailboxError> {
        let options = self.options();
        self.shared
            .transport
            .call(&self.address, body, options)
            .await
    }

    /// Sends an operation as the service account itself, never
    /// impersonating (`ExpandDL`: a service account need not have a
    /// mailbox, and impersonating one it does not have fails).
    pub(crate) async fn call_as_service(&self, body: &str) -> Result<Answer, MailboxError> {
        let options = CallOptions {
            act_as_mailbox: false,
            ..self.options()
        };
        self.shared
            .transport
            .call(&self.address, body, options)
            .await
    }

    /// An answer's element tree, borrowing its text.
    pub(crate) fn read<'a>(&self, answer: &'a Answer) -> Result<Document<'a>, MailboxError> {
        self.shared.transport.read(answer, &self.address)
    }

    /// The site's secrets, removed from every error that leaves the EWS
    /// module (errors may quote the server, which may quote the request).
    pub(crate) fn redactor(&self) -> &Redactor {
        &self.shared.redactor
    }

    fn messages<'a>(&self, root: Element<'a>) -> Result<Vec<Message<'a>>, MailboxError> {
        response::messages(root, self.address.as_str())
    }

    /// The first message, checked.
    fn first_ok<'a>(
        &self,
        root: Element<'a>,
        calendar: Option<&CalendarId>,
    ) -> Result<Message<'a>, MailboxError> {
        let messages = self.messages(root)?;
        let first = messages
            .into_iter()
            .next()
            .ok_or_else(|| MailboxError::Protocol("no response message".into()))?;
        first.check(self.address.as_str(), calendar)?;
        Ok(first)
    }

    /// Checks the messages of an answer to `asked` ids, which Exchange
    /// answers one message per id, in the order asked. An error comes
    /// first: a whole request refused (ErrorServerBusy) is one message,
    /// however many ids it carried. Errors that `per_id` accepts belong to
    /// their id alone and are left to the caller.
    fn check_one_per_id(
        &self,
        messages: &[Message<'_>],
        operation: &str,
        asked: usize,
        per_id: impl Fn(&Message<'_>) -> bool,
    ) -> Result<(), MailboxError> {
        for message in messages.iter().filter(|m| !per_id(m)) {
            message.check(self.address.as_str(), None)?;
        }
        match messages.len() == asked {
            true => Ok(()),
            false => Err(MailboxError::Protocol(format!(
                "{operation} of {asked} ids answered with {} messages",
                messages.len()
            ))),
        }
    }

    /// The default calendar folder's id and name, from GetFolder.
    async fn default_folder(&self) -> Result<Option<IdAndName>, MailboxError> {
        let answer = self
            .call(&request::get_default_calendar(self.delegate()))
            .await?;
        let doc = self.read(&answer)?;
        let root = doc.root();
        let message = self.first_ok(root, None)?;
        let folder = message
            .element
            .message_child("Folders")
            .and_then(|f| f.first_child());
        Ok(folder.and_then(|f| {
            let id = f.child("FolderId")?.attribute("Id")?.to_owned();
            let name = f.text_of("DisplayName").unwrap_or("Calendar").to_owned();
            Some((id, name))
        }))
    }

    /// Fetches `ids` in batches, shrinking them while the server times out,
    /// and hands each found item's message to `read` (which takes what it
    /// needs: the message borrows the batch's answer).
    async fn fetch(
        &self,
        ids: &[ItemId],
        mut read: impl FnMut(&ItemId, Element<'_>) -> Result<(), MailboxError> + Send,
    ) -> Result<(), MailboxError> {
        let mut rest = ids;
        while !rest.is_empty() {
            let size = self.shared.batch.load(Ordering::Relaxed).min(rest.len());
            let (chunk, tail) = rest.split_at(size);
            let refs: Vec<&str> = chunk.iter().map(ItemId::as_str).collect();
            let answer = self.call(&request::get_item(&refs)).await?;
            let doc = self.read(&answer)?;
            let root = doc.root();
            let messages = self.messages(root)?;
            if messages.iter().any(|m| m.code == "ErrorTimeoutExpired") {
                let smaller = (size / 2).clamp(MIN_BATCH, TIMEOUT_BATCH);
                if size <= MIN_BATCH {
                    return Err(MailboxError::Throttled {
                        retry_after: Duration::from_secs(5),
                    });
                }
                self.shared.batch.store(smaller, Ordering::Relaxed);
                continue;
            }
            self.check_one_per_id(&messages, "GetItem", chunk.len(), |m| {
                m.code == "ErrorItemNotFound"
            })?;
            for (id, message) in chunk.iter().zip(&messages) {
                if message.code == "ErrorItemNotFound" {
                    continue;
                }
                read(id, message.element)?;
            }
            rest = tail;
        }
        Ok(())
    }

    /// Fills each modified occurrence's own subject, location and body from
    /// the occurrence item, where they differ from the series'.
    async fn occurrence_details(&self, items: &mut [CalendarItem]) -> Result<(), MailboxError> {
        let ids: Vec<ItemId> = items
            .iter()
            .filter_map(|i| i.recurrence.as_ref())
            .flat_map(|r| r.modified.iter().filter_map(|m| m.item.clone()))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let mut own = std::collections::HashMap::new();
        self.fetch(&ids, |id, message| {
            let mut found = Vec::new();
            collect(message_items(message), &mut found);
            if let Some(e) = found.first() {
                let body = e.child("Body").map(|b| b.text().to_owned());
                let fields = (
                    e.text_of("Subject").map(str::to_owned),
                    e.text_of("Location").map(str::to_owned),
                    body,
                );
                own.insert(id.clone(), fields);
            }
            Ok(())
        })
        .await?;
        for item in items.iter_mut() {
            let (subject, location, body) = (
                item.subject.clone(),
                item.location.clone(),
                item.body.clone(),
            );
            let Some(recurrence) = item.recurrence.as_mut() else {
                continue;
            };
            for m in &mut recurrence.modified {
                let Some((s, l, b)) = m.item.as_ref().and_then(|id| own.get(id)) else {
                    continue;
                };
                m.subject = s.clone().filter(|s| *s != subject);
                m.location = l.clone().filter(|l| *l != location);
                m.body = b.clone().filter(|b| *b != body);
            }
        }
        Ok(())
    }
}

/// The `m:Items` of a `GetItem` message (or the message itself).
fn message_items(message: Element<'_>) -> Element<'_> {
    message.message_child("Items").unwrap_or(message)
}

// Every answer's errors may quote the server, which may quote the request:
// each goes through the site's redactor before it leaves.
#[async_trait]
impl Mailbox for EwsMailbox {
    fn address(&self) -> &EmailAddress {
        &self.address
    }

    fn requests_sent(&self) -> Option<u64> {
        Some(self.sent.load(Ordering::Relaxed))
    }

    async fn calendars(&self) -> Result<Vec<CalendarInfo>, MailboxError> {
        self.read_calendars()
            .await
            .map_err(|e| e.redacted(self.redactor()))
    }

    async fn default_calendar(&self) -> Result<Option<CalendarInfo>, MailboxError> {
        let found = self
            .default_folder()
            .await
            .map_err(|e| e.redacted(self.redactor()))?;
        *self.default.lock().unwrap_or_else(PoisonError::into_inner) = Some(found.clone());
        Ok(found.map(|(id, name)| CalendarInfo::new(id.as_str(), name.as_str(), true)))
    }

    async fn changes(
        &self,
        calendar: &CalendarId,
        state: Option<&SyncState>,
        _window: crate::mailbox::Window,
        max: usize,
    ) -> Result<ChangePage, MailboxError> {
        self.read_changes(calendar, state, max)
            .await
            .map_err(|e| e.redacted(self.redactor()))
    }

    async fn items(
        &self,
        _calendar: &CalendarId,
        ids: &[ItemId],
    ) -> Result<Vec<CalendarItem>, MailboxError> {
        self.read_items(ids)
            .await
            .map_err(|e| e.redacted(self.redactor()))
    }

    async fn attachment(
        &self,
        _item: &ItemId,
        attachment_id: &str,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, MailboxError> {
        self.read_attachment(attachment_id, max_bytes)
            .await
            .map_err(|e| e.redacted(self.redactor()))
    }

    async fn attachments(
        &self,
        wanted: &[WantedAttachment<'_>],
        max_bytes: u64,
    ) -> Result<Vec<Option<Vec<u8>>>, MailboxError> {
        self.read_attachments(wanted, max_bytes)
            .await
            .map_err(|e| e.redacted(self.redactor()))
    }
}

impl EwsMailbox {
    async fn read_calendars(&self) -> Result<Vec<CalendarInfo>, MailboxError> {
        let known = self
            .default
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let default = match known {
            Some(default) => default,
            None => self.default_folder().await?,
        };
        let mut calendars = Vec::new();
        let mut state: Option<String> = None;
        for _ in 0..MAX_HIERARCHY_PAGES {
            let answer = self
                .call(&request::sync_folder_hierarchy(
                    state.as_deref(),
                    self.delegate(),
                ))
                .await?;
            let doc = self.read(&answer)?;
            let root = doc.root();
            let message = self.first_ok(root, None)?;
            calendars.extend(response::calendar_folders(
                &message,
                default.as_ref().map(|(id, _)| id.as_str()),
            ));
            let last = message
                .element
                .message_child("IncludesLastFolderInRange")
                .is_none_or(|e| e.text().trim() != "false");
            let next = message
                .element
                .message_child("SyncState")
                .map(|s| s.text().trim().to_owned());
            if last || next.is_none() || next == state {
                if let Some((id, name)) = &default
                    && !calendars.iter().any(|c| c.id.as_str() == id)
                {
                    calendars.insert(0, CalendarInfo::new(id.as_str(), name.as_str(), true));
                }
                return Ok(calendars);
            }
            state = next;
        }
        Err(MailboxError::Protocol(format!(
            "the folder hierarchy did not end after {MAX_HIERARCHY_PAGES} pages"
        )))
    }

    async fn read_changes(
        &self,
        calendar: &CalendarId,
        state: Option<&SyncState>,
        max: usize,
    ) -> Result<ChangePage, MailboxError> {
        let body = request::sync_folder_items(
            Folder::Id(calendar.as_str()),
            state.map(SyncState::as_str),
            max.min(self.shared.max_changes),
        );
        let answer = self.call(&body).await?;
        let doc = self.read(&answer)?;
        let root = doc.root();
        let message = self.first_ok(root, Some(calendar))?;
        let page = response::items_page(&message)?;
        Ok(ChangePage {
            changed: page.changed,
            deleted: page.deleted,
            state: Some(SyncState::new(page.state)),
            more: !page.last,
        })
    }

    async fn read_items(&self, ids: &[ItemId]) -> Result<Vec<CalendarItem>, MailboxError> {
        let mut items = Vec::with_capacity(ids.len());
        self.fetch(ids, |_, message| {
            let mut found = Vec::new();
            collect(message_items(message), &mut found);
            for e in found {
                items.push(read_item(e).map_err(|e| MailboxError::Protocol(e.to_string()))?);
            }
            Ok(())
        })
        .await?;
        self.occurrence_details(&mut items).await?;
        Ok(items)
    }

    async fn read_attachment(
        &self,
        attachment_id: &str,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, MailboxError> {
        let cap = answer_cap(max_bytes, 1);
        Ok(self
            .read_attachment_group(&[attachment_id], cap, max_bytes)
            .await?
            .and_then(|mut one| one.pop().flatten()))
    }

    /// Attachments in as few `GetAttachment` requests as [`attachment_groups`]
    /// allows. A group whose answer outgrows what its declared sizes allow
    /// (a server that understated them) is asked again one at a time, each
    /// under the definition's cap, as a single attachment always is.
    async fn read_attachments(
        &self,
        wanted: &[WantedAttachment<'_>],
        max_bytes: u64,
    ) -> Result<Vec<Option<Vec<u8>>>, MailboxError> {
        let mut contents = Vec::with_capacity(wanted.len());
        for group in attachment_groups(wanted, max_bytes) {
            // (`attachment_groups` makes no empty group.)
            let found = match group {
                [one] => Some(vec![self.read_attachment(one.id, max_bytes).await?]),
                several => {
                    let ids: Vec<&str> = several.iter().map(|a| a.id).collect();
                    // (Within the cap each: one above it goes alone.)
                    let declared = several
                        .iter()
                        .map(|a| a.declared_size)
                        .fold(0u64, u64::saturating_add);
                    let cap = answer_cap(declared, several.len());
                    self.read_attachment_group(&ids, cap, max_bytes).await?
                }
            };
            match found {
                Some(found) => contents.extend(found),
                None => {
                    for attachment in group {
                        contents.push(self.read_attachment(attachment.id, max_bytes).await?);
                    }
                }
            }
        }
        Ok(contents)
    }

    /// One `GetAttachment` for `ids`: their contents in order (`None`: an
    /// item attachment, or larger than `max_bytes`), or `None` if the answer
    /// is larger than `cap` bytes.
    async fn read_attachment_group(
        &self,
        ids: &[&str],
        cap: u64,
        max_bytes: u64,
    ) -> Result<Option<Vec<Option<Vec<u8>>>>, MailboxError> {
        let options = CallOptions {
            max_body: cap,
            ..self.options()
        };
        let body = request::get_attachment(ids);
        let Some(answer) = self
            .shared
            .transport
            .call_capped(&self.address, &body, options)
            .await?
        else {
            return Ok(None);
        };
        let doc = self.read(&answer)?;
        let messages = self.messages(doc.root())?;
        self.check_one_per_id(&messages, "GetAttachment", ids.len(), |_| false)?;
        let mut contents = Vec::with_capacity(ids.len());
        for (message, id) in messages.iter().zip(ids) {
            contents.push(file_content(message, id, max_bytes)?);
        }
        Ok(Some(contents))
    }
}

/// At most this many attachments in one `GetAttachment`.
const ATTACHMENTS_PER_REQUEST: usize = 32;
/// At most this many declared bytes of attachments in one `GetAttachment`
/// (a larger attachment goes alone, under the definition's cap).
const ATTACHMENT_BYTES_PER_REQUEST: u64 = 4 << 20;

/// `wanted` cut into runs for one request each: in order, each run at most
/// [`ATTACHMENTS_PER_REQUEST`] long and [`ATTACHMENT_BYTES_PER_REQUEST`]
/// declared bytes (an attachment declared larger, or above `max_bytes`, is
/// a run of its own).
fn attachment_groups<'w, 'a>(
    wanted: &'w [WantedAttachment<'a>],
    max_bytes: u64,
) -> Vec<&'w [WantedAttachment<'a>]> {
    let mut groups = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, attachment) in wanted.iter().enumerate() {
        let size = attachment.declared_size;
        let alone = size > ATTACHMENT_BYTES_PER_REQUEST || size > max_bytes;
        let full = i - start == ATTACHMENTS_PER_REQUEST
            || bytes.saturating_add(size) > ATTACHMENT_BYTES_PER_REQUEST;
        if i > start && (alone || full) {
            groups.push(&wanted[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes = bytes.saturating_add(size);
        if alone {
            groups.push(&wanted[i..=i]);
            (start, bytes) = (i + 1, 0);
        }
    }
    if start < wanted.len() {
        groups.push(&wanted[start..]);
    }
    groups
}

/// The most bytes read for a `GetAttachment` answer carrying `count`
/// attachments of `bytes` in all: base64 makes four characters of three
/// bytes; each attachment's other fields and the envelope need a little
/// more.
fn answer_cap(bytes: u64, count: usize) -> u64 {
    (bytes / 3 + 1)
        .saturating_mul(4)
        .saturating_add(
            u64::try_from(count)
                .unwrap_or(u64::MAX)
                .saturating_mul(4 * 1024),
        )
        .saturating_add(64 * 1024)
}

/// A `GetAttachment` message's file content: `None` for an item attachment
/// (an embedded message has no file content) or one larger than
/// `max_bytes`.
fn file_content(
    message: &Message<'_>,
    attachment_id: &str,
    max_bytes: u64,
) -> Result<Option<Vec<u8>>, MailboxError> {
    let Some(file) = message
        .element
        .message_child("Attachments")
        .and_then(|a| a.children().find(|c| c.is(TYPES, "FileAttachment")))
    else {
        return Ok(None);
    };
    let content = file.text_of("Content").unwrap_or_default();
    // Four base64 characters carry three bytes: refuse before decoding.
    if (content.len() as u64 / 4).saturating_mul(3) > max_bytes.saturating_add(3) {
        return Ok(None);
    }
    let bytes = crate::base64::decode(content).ok_or_else(|| {
        MailboxError::Protocol(format!(
            "attachment {attachment_id}: the content is not base64"
        ))
    })?;
    Ok((bytes.len() as u64 <= max_bytes).then_some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lengths of the groups `attachment_groups` makes of attachments
    /// declared `sizes` bytes, under a cap of `max_bytes`.
    fn group_lengths(sizes: &[u64], max_bytes: u64) -> Vec<usize> {
        let item = ItemId::new("item");
        let ids: Vec<String> = (0..sizes.len()).map(|i| format!("a{i}")).collect();
        let wanted: Vec<WantedAttachment<'_>> = sizes
            .iter()
            .zip(&ids)
            .map(|(&declared_size, id)| WantedAttachment {
                item: &item,
                id,
                declared_size,
            })
            .collect();
        let groups = attachment_groups(&wanted, max_bytes);
        // In order, every attachment once.
        let flat: Vec<&str> = groups.iter().flat_map(|g| g.iter().map(|a| a.id)).collect();
        assert_eq!(flat, ids.iter().map(String::as_str).collect::<Vec<_>>());
        groups.iter().map(|g| g.len()).collect()
    }

    #[test]
    fn attachments_are_grouped_by_count_and_declared_bytes() {
        const MIB: u64 = 1 << 20;
        assert!(group_lengths(&[], MIB).is_empty());
        assert_eq!(group_lengths(&[64; 3], MIB), [3]);
        // At most 32 ids a request.
        assert_eq!(group_lengths(&[64; 70], MIB), [32, 32, 6]);
        // At most 4 MiB declared a request.
        assert_eq!(group_lengths(&[MIB; 9], 10 * MIB), [4, 4, 1]);
        // Larger than 4 MiB, or than the cap: alone, between its neighbours.
        assert_eq!(group_lengths(&[64, 64, 5 * MIB, 64], 10 * MIB), [2, 1, 1]);
        assert_eq!(group_lengths(&[64, 2 * MIB, 64, 64], MIB), [1, 1, 2]);
        assert_eq!(group_lengths(&[u64::MAX, u64::MAX], u64::MAX), [1, 1]);
    }

    /// A `GetAttachment` answer as Exchange writes it, for file
    /// attachments of these sizes, with ids as long as Exchange Online's.
    fn answer_for(sizes: &[usize]) -> String {
        let messages: String = sizes
            .iter()
            .enumerate()
            .map(|(n, &size)| {
                let id = format!("AAMkAGI2TG93AAA{n:0>140}");
                let content = crate::base64::encode(&vec![0x5a; size]);
                format!(
                    "<m:GetAttachmentResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode>\
                     <m:Attachments><t:FileAttachment><t:AttachmentId Id=\"{id}\"/><t:Name>minutes of the meeting.docx</t:Name>\
                     <t:ContentType>application/vnd.openxmlformats-officedocument.wordprocessingml.document</t:ContentType>\
                     <t:Size>{size}</t:Size><t:LastModifiedTime>2026-11-30T08:00:00</t:LastModifiedTime><t:IsInline>false</t:IsInline>\
                     <t:Content>{content}</t:Content></t:FileAttachment></m:Attachments></m:GetAttachmentResponseMessage>"
                )
            })
            .collect();
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">\
             <s:Header><h:ServerVersionInfo xmlns:h=\"{TYPES}\" MajorVersion=\"15\" MinorVersion=\"20\"/></s:Header><s:Body>\
             <m:GetAttachmentResponse xmlns:m=\"m\" xmlns:t=\"t\"><m:ResponseMessages>{messages}</m:ResponseMessages>\
             </m:GetAttachmentResponse></s:Body></s:Envelope>"
        )
    }

    #[test]
    fn an_answer_fits_its_cap_when_the_sizes_were_declared_truly_and_not_when_understated() {
        for sizes in [
            vec![0],
            vec![1, 2, 3],
            vec![64; 32],
            vec![1 << 20; 4],
            vec![3_000_000],
        ] {
            let declared: usize = sizes.iter().sum();
            let cap = answer_cap(declared as u64, sizes.len());
            let truthful = answer_for(&sizes).len() as u64;
            assert!(truthful <= cap, "{sizes:?}: {truthful} bytes, cap {cap}");
            // Contents twice their declared size (and at least a few KiB
            // more) are caught: the bound follows the declared sizes.
            let doubled: Vec<usize> = sizes.iter().map(|s| 2 * s + 96 * 1024).collect();
            let understated = answer_for(&doubled).len() as u64;
            assert!(
                understated > cap,
                "{sizes:?}: {understated} bytes, cap {cap}"
            );
        }
        // Absurd declarations saturate instead of overflowing.
        assert_eq!(answer_cap(u64::MAX, usize::MAX), u64::MAX);
    }

    #[test]
    fn debug_output_never_shows_credentials() {
        let endpoint: EwsEndpoint = toml::from_str(
            r#"
            url = "http://127.0.0.1:9/EWS/Exchange.asmx"
            username = "svc@example.com"
            password_env = "UNUSED"
            "#,
        )
        .unwrap();
        let source = EwsSource::new(
            "hq",
            &endpoint,
            None,
            Credentials::Basic {
                username: "svc@example.com".into(),
                password: Secret::new("correct horse battery staple"),
            },
        )
        .unwrap();
        let debug = format!(
            "{source:?} {:?}",
            source.mailbox(&"a@example.com".parse().unwrap())
        );
        assert!(debug.contains("svc@example.com"), "{debug}");
        assert!(!debug.contains("battery"), "{debug}");
    }
}
