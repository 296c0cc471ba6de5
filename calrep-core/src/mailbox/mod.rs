//! The source seam: a [`Mailbox`] is one mailbox's calendars as a server
//! (EWS, Microsoft Graph) or a test double presents them, and a
//! [`MailboxSource`] opens mailboxes by address.
//!
//! The shape follows incremental sync: list calendars, pull the changes of
//! one calendar since an opaque [`SyncState`] page by page, then fetch the
//! changed items in batches. EWS `SyncFolderItems` and Graph
//! `calendarView/delta` both fit it.

mod memory;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::address::EmailAddress;
use crate::calendar::{CalendarId, CalendarInfo, CalendarItem, ItemId};

pub use memory::{MemoryMailbox, MemoryOrganisation};

/// An opaque position in a calendar's change stream, as the source issued it.
///
/// ```
/// let state = calrep_core::mailbox::SyncState::new("H4sIAAA…");
/// assert_eq!(state.as_str(), "H4sIAAA…");
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SyncState(String);

impl SyncState {
    /// Wraps a source's sync state.
    pub fn new(state: impl Into<String>) -> Self {
        Self(state.into())
    }

    /// The state as the source issued it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SyncState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // States can be long base64 blobs; show their size only.
        write!(f, "SyncState({} bytes)", self.0.len())
    }
}

/// The span of time a run replicates: a windowed source (Graph's
/// `calendarView/delta`) reads only series with an occurrence in it; a
/// source that sees whole folders (EWS, memory) ignores it.
///
/// ```
/// let w = calrep_core::mailbox::Window::new("2026-01-01T00:00:00Z".parse()?, "2027-01-01T00:00:00Z".parse()?);
/// assert!(w.start < w.end);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Window {
    /// Its first instant.
    pub start: chrono::DateTime<chrono::Utc>,
    /// The instant after it.
    pub end: chrono::DateTime<chrono::Utc>,
}

impl Window {
    /// All of time: what a source that sees whole folders reads anyway.
    pub const ALL: Self = Self {
        start: chrono::DateTime::<chrono::Utc>::MIN_UTC,
        end: chrono::DateTime::<chrono::Utc>::MAX_UTC,
    };

    /// A window from `start` up to `end`.
    pub fn new(start: chrono::DateTime<chrono::Utc>, end: chrono::DateTime<chrono::Utc>) -> Self {
        Self { start, end }
    }
}

impl From<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> for Window {
    fn from((start, end): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)) -> Self {
        Self::new(start, end)
    }
}

/// One page of a calendar's changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ChangePage {
    /// Items created or updated since the state the page was asked from.
    pub changed: Vec<ItemId>,
    /// Items deleted since then.
    pub deleted: Vec<ItemId>,
    /// The state to ask from next (and to save with this page's changes).
    pub state: Option<SyncState>,
    /// Whether more changes wait beyond this page.
    pub more: bool,
}

/// What a mailbox source can fail with. Each kind tells the engine what to
/// do: wait, start over, give up on this mailbox, or retry later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MailboxError {
    /// The server asks to slow down and to wait this long.
    #[error("throttled by the server; retry after {} ms", retry_after.as_millis())]
    Throttled {
        /// How long to wait before the next request.
        retry_after: Duration,
    },
    /// The server asked for a longer wait than calrep accepts (the
    /// engine's `max_wait_seconds`), or throttled one call for longer than
    /// its total budget: the mailbox fails now and a later run tries again.
    #[error(
        "throttled by the server for {asked_seconds} s{}, longer than the {cap_seconds} s calrep waits; a later run tries again",
        until.map(|t| format!(" (until {})", t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))).unwrap_or_default()
    )]
    ThrottledTooLong {
        /// The wait the server asked for, in seconds.
        asked_seconds: u64,
        /// The longest wait calrep accepts, in seconds.
        cap_seconds: u64,
        /// When the asked wait would end (`None`: beyond any date).
        until: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// The saved sync state is no longer valid: read the calendar in full.
    #[error("the sync state is no longer valid; a full resync is required")]
    ResyncRequired,
    /// The calendar no longer exists at the source.
    #[error("calendar {0} no longer exists")]
    CalendarGone(CalendarId),
    /// The mailbox does not exist.
    #[error("mailbox {0} does not exist")]
    MailboxNotFound(String),
    /// The service account may not read this mailbox.
    #[error("access to mailbox {0} denied")]
    AccessDenied(String),
    /// The server refused the service account's credentials (HTTP 401, a
    /// token that could not be obtained). The text says which and why.
    #[error("not signed in: {0}")]
    Unauthorized(String),
    /// The connection failed.
    #[error("transport error: {0}")]
    Transport(String),
    /// The server answered something calrep cannot use.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl MailboxError {
    /// Whether the same request may succeed later (throttling, a dropped
    /// connection), as opposed to needing a different request or a fix.
    ///
    /// ```
    /// use calrep_core::mailbox::MailboxError;
    /// assert!(MailboxError::Transport("reset".into()).is_retryable());
    /// assert!(!MailboxError::AccessDenied("a@x.com".into()).is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Transport(_))
    }

    /// The error with every known secret removed from its text.
    pub(crate) fn redacted(self, redactor: &crate::secret::Redactor) -> Self {
        match self {
            Self::MailboxNotFound(t) => Self::MailboxNotFound(redactor.clean(&t)),
            Self::AccessDenied(t) => Self::AccessDenied(redactor.clean(&t)),
            Self::Unauthorized(t) => Self::Unauthorized(redactor.clean(&t)),
            Self::Transport(t) => Self::Transport(redactor.clean(&t)),
            Self::Protocol(t) => Self::Protocol(redactor.clean(&t)),
            other => other,
        }
    }
}

/// One mailbox's calendars at the source.
#[async_trait]
pub trait Mailbox: Send + Sync + fmt::Debug {
    /// The mailbox's primary SMTP address.
    fn address(&self) -> &EmailAddress;

    /// Requests sent to the server for this mailbox so far, where the
    /// source counts them (a call can take several: a batch that shrinks,
    /// occurrence details). `None`: the engine counts calls instead.
    fn requests_sent(&self) -> Option<u64> {
        None
    }

    /// The calendar folders (the default one marked).
    async fn calendars(&self) -> Result<Vec<CalendarInfo>, MailboxError>;

    /// The default calendar folder alone, `None` if the mailbox shows none.
    ///
    /// The engine asks this, not [`Self::calendars`], for a definition that
    /// takes only the default calendar. The default implementation filters
    /// the full list; a source that can name the default folder in fewer
    /// requests overrides it (EWS: one `GetFolder`, no folder hierarchy).
    ///
    /// ```
    /// # use calrep_core::mailbox::{Mailbox, MemoryMailbox};
    /// # use calrep_core::calendar::CalendarInfo;
    /// let mailbox = MemoryMailbox::new("alice@example.com".parse()?);
    /// mailbox.add_calendar(CalendarInfo::new("team", "Team", false));
    /// mailbox.add_calendar(CalendarInfo::new("cal", "Calendar", true));
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let default = mailbox.default_calendar().await?.expect("one is marked");
    /// assert_eq!(default.id.as_str(), "cal");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    async fn default_calendar(&self) -> Result<Option<CalendarInfo>, MailboxError> {
        Ok(self.calendars().await?.into_iter().find(|c| c.is_default))
    }

    /// Whether the source reads only a [`Window`] of time, fixed in its sync
    /// states (Graph): the engine then reads a calendar in full again once
    /// the window has moved on by a day.
    fn windowed(&self) -> bool {
        false
    }

    /// Up to `max` changes of `calendar` since `state` (`None`: from the
    /// beginning, listing every item as changed); a windowed source lists
    /// the series with an occurrence in `window`.
    async fn changes(
        &self,
        calendar: &CalendarId,
        state: Option<&SyncState>,
        window: Window,
        max: usize,
    ) -> Result<ChangePage, MailboxError>;

    /// Full items by id; ids that no longer exist are left out.
    async fn items(
        &self,
        calendar: &CalendarId,
        ids: &[ItemId],
    ) -> Result<Vec<CalendarItem>, MailboxError>;

    /// An attachment's content, or `None` if it is larger than `max_bytes`.
    async fn attachment(
        &self,
        item: &ItemId,
        attachment_id: &str,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, MailboxError>;

    /// Several attachments' contents, in the order of `wanted`: each as
    /// [`Self::attachment`] gives it (`None` if larger than `max_bytes`).
    ///
    /// The engine asks this once for the attachments of a chunk of fetched
    /// items. The default asks [`Self::attachment`] for each in turn; a
    /// source that can send several in one answer overrides it (EWS: one
    /// `GetAttachment` for many ids, within a bound on the answer's size).
    ///
    /// ```
    /// # use calrep_core::mailbox::{Mailbox, MemoryMailbox, WantedAttachment};
    /// # use calrep_core::calendar::ItemId;
    /// let mailbox = MemoryMailbox::new("alice@example.com".parse()?);
    /// let item = ItemId::new("item-1");
    /// mailbox.put_attachment(&item, "a1", b"agenda".to_vec());
    /// mailbox.put_attachment(&item, "a2", vec![0; 4096]);
    /// let wanted = [
    ///     WantedAttachment { item: &item, id: "a1", declared_size: 6 },
    ///     WantedAttachment { item: &item, id: "a2", declared_size: 4096 },
    /// ];
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let contents = mailbox.attachments(&wanted, 1024).await?;
    /// assert_eq!(contents, [Some(b"agenda".to_vec()), None]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    async fn attachments(
        &self,
        wanted: &[WantedAttachment<'_>],
        max_bytes: u64,
    ) -> Result<Vec<Option<Vec<u8>>>, MailboxError> {
        let mut contents = Vec::with_capacity(wanted.len());
        for attachment in wanted {
            contents.push(
                self.attachment(attachment.item, attachment.id, max_bytes)
                    .await?,
            );
        }
        Ok(contents)
    }
}

/// An attachment the engine wants downloaded, as its item lists it.
///
/// ```
/// # use calrep_core::calendar::ItemId;
/// # use calrep_core::mailbox::WantedAttachment;
/// let item = ItemId::new("item-1");
/// let wanted = WantedAttachment { item: &item, id: "a1", declared_size: 64 };
/// assert_eq!(wanted.id, "a1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WantedAttachment<'a> {
    /// The item that carries it.
    pub item: &'a ItemId,
    /// Its id at the source.
    pub id: &'a str,
    /// The size the item declares for it, in bytes: a hint for grouping
    /// requests, never trusted as a bound (a server may understate it).
    pub declared_size: u64,
}

/// Opens mailboxes by address (one per site: an EWS endpoint, a Graph
/// tenant, an in-memory organisation, a host's own).
#[async_trait]
pub trait MailboxSource: Send + Sync + fmt::Debug {
    /// The mailbox with this primary address.
    async fn open(&self, address: &EmailAddress) -> Result<Arc<dyn Mailbox>, MailboxError>;
}
