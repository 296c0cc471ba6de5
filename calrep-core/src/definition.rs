//! Definitions: *how* a replication runs.

use serde::{Deserialize, Serialize};

use crate::DefinitionId;

/// How replication runs: which calendars, and (beyond MSE) attachments,
/// private appointments and an optional time window.
///
/// ```
/// use calrep_core::{Definition, IncludeCalendars, PrivatePolicy};
/// let d: Definition = toml::from_str(r#"
///     id = "all"
///     include = "all"
///     private_items = "mask"
///     attachments = { enabled = true, max_bytes = 10_000_000 }
///     window = { days_back = 30, days_ahead = 365 }
/// "#)?;
/// assert_eq!(d.include, IncludeCalendars::All);
/// assert_eq!(d.private_items, PrivatePolicy::Mask);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Definition {
    /// The definition's id.
    pub id: DefinitionId,
    /// Free text for operators.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Which calendars of a mailbox are replicated.
    #[serde(default)]
    pub include: IncludeCalendars,
    /// Whether attachments are replicated, and up to what size.
    #[serde(default)]
    pub attachments: AttachmentPolicy,
    /// What happens to appointments marked private or personal.
    #[serde(default)]
    pub private_items: PrivatePolicy,
    /// Replicate only occurrences inside this window around the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
}

impl Definition {
    /// A definition with MSE's defaults: the default calendar, attachments up
    /// to the default cap, private items included, no window.
    ///
    /// ```
    /// let d = calrep_core::Definition::new("default");
    /// assert_eq!(d.include, calrep_core::IncludeCalendars::Default);
    /// ```
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: DefinitionId::new(id),
            description: String::new(),
            include: IncludeCalendars::default(),
            attachments: AttachmentPolicy::default(),
            private_items: PrivatePolicy::default(),
            window: None,
        }
    }
}

/// MSE's "Include Calendars".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IncludeCalendars {
    /// Only the mailbox's default calendar.
    #[default]
    Default,
    /// Every calendar folder in the mailbox.
    All,
}

/// Attachment handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AttachmentPolicy {
    /// Whether attachments are replicated at all.
    #[serde(default = "AttachmentPolicy::default_enabled")]
    pub enabled: bool,
    /// Attachments larger than this many bytes are listed but not downloaded.
    #[serde(default = "AttachmentPolicy::default_max_bytes")]
    pub max_bytes: u64,
}

impl AttachmentPolicy {
    /// The default cap: 25 MiB, a little above Exchange Online's default
    /// message size limit for attachments.
    pub const DEFAULT_MAX_BYTES: u64 = 25 * 1024 * 1024;

    /// Whether an attachment of `size` bytes (as its item declares) is
    /// replicated with its content.
    pub(crate) fn takes(&self, size: u64) -> bool {
        self.enabled && size <= self.max_bytes
    }

    fn default_enabled() -> bool {
        true
    }

    fn default_max_bytes() -> u64 {
        Self::DEFAULT_MAX_BYTES
    }
}

impl Default for AttachmentPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            max_bytes: Self::DEFAULT_MAX_BYTES,
        }
    }
}

/// What happens to appointments whose sensitivity is Private or Personal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PrivatePolicy {
    /// Replicate them like any other (MSE's behaviour).
    #[default]
    Include,
    /// Keep the busy block and times; drop subject, body, location,
    /// attendees and attachments.
    Mask,
    /// Do not replicate them.
    Skip,
}

/// A window of days around each run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Window {
    /// Days before the run.
    pub days_back: u32,
    /// Days after the run.
    pub days_ahead: u32,
}

impl Window {
    /// The longest window side accepted: one hundred years.
    pub const MAX_DAYS: u32 = 36_525;

    /// The window's instants around `now`.
    ///
    /// ```
    /// use calrep_core::Window;
    /// let w: Window = toml::from_str("days_back = 1\ndays_ahead = 2")?;
    /// let (from, to) = w.around("2026-06-10T12:00:00Z".parse()?);
    /// assert_eq!(from.to_rfc3339(), "2026-06-09T12:00:00+00:00");
    /// assert_eq!(to.to_rfc3339(), "2026-06-12T12:00:00+00:00");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn around(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
        let days = |n: u32| chrono::TimeDelta::days(i64::from(n.min(Self::MAX_DAYS)));
        (
            now.checked_sub_signed(days(self.days_back)).unwrap_or(now),
            now.checked_add_signed(days(self.days_ahead)).unwrap_or(now),
        )
    }
}
