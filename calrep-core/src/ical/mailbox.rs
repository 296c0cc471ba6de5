//! A mailbox's replica as one iCalendar document: the calendars chosen,
//! their items, and attachments by content hash or inline.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{AttachmentStyle, StoredAttachment, export};
use crate::address::EmailAddress;
use crate::replica::{ReplicaError, ReplicaReader};

/// Why a mailbox could not be exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The replica holds nothing for the mailbox.
    #[error("the replica holds no calendars for {0}")]
    NoCalendars(EmailAddress),
    /// No calendar has that name or id.
    #[error("{address} has no calendar named {name:?}; its calendars are: {}", known.join(", "))]
    NoSuchCalendar {
        /// The mailbox.
        address: EmailAddress,
        /// The name asked for.
        name: String,
        /// The names it has.
        known: Vec<String>,
    },
    /// The replica could not be read.
    #[error(transparent)]
    Replica(#[from] ReplicaError),
}

/// What [`export_mailbox`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailboxExport {
    /// The iCalendar text.
    pub text: String,
    /// How many items it holds.
    pub items: usize,
    /// From how many calendars.
    pub calendars: usize,
}

/// Exports `address`'s calendars from `replica` (only the one whose name or
/// id is `calendar`, if given) as RFC 5545 text, stamped `now`.
///
/// ```
/// use calrep_core::ical::{AttachmentStyle, ExportError, export_mailbox};
/// use calrep_core::replica::SqliteReplica;
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let replica = SqliteReplica::open_in_memory()?;
/// let nobody = "nobody@example.com".parse()?;
/// let err = export_mailbox(&replica, &nobody, None, AttachmentStyle::HashUri, chrono::Utc::now())
///     .await
///     .unwrap_err();
/// assert!(matches!(err, ExportError::NoCalendars(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn export_mailbox(
    replica: &dyn ReplicaReader,
    address: &EmailAddress,
    calendar: Option<&str>,
    style: AttachmentStyle,
    now: DateTime<Utc>,
) -> Result<MailboxExport, ExportError> {
    let calendars = replica.calendars(address).await?;
    if calendars.is_empty() {
        return Err(ExportError::NoCalendars(address.clone()));
    }
    let known: Vec<String> = calendars.iter().map(|c| format!("{:?}", c.name)).collect();
    let chosen: Vec<_> = match calendar {
        None => calendars,
        Some(name) => calendars
            .into_iter()
            .filter(|c| c.name == name || c.id.as_str() == name)
            .collect(),
    };
    if chosen.is_empty() {
        return Err(ExportError::NoSuchCalendar {
            address: address.clone(),
            name: calendar.unwrap_or_default().to_owned(),
            known,
        });
    }
    let mut items = Vec::new();
    let mut refs: HashMap<(String, String), Option<String>> = HashMap::new();
    for c in &chosen {
        items.extend(replica.items(address, &c.id).await?);
        refs.extend(
            replica
                .attachment_refs(address, &c.id)
                .await?
                .into_iter()
                .map(|(item, id, sha)| ((item.as_str().to_owned(), id), sha)),
        );
    }
    let name = match chosen.as_slice() {
        [one] => format!("{} ({address})", one.name),
        _ => address.to_string(),
    };
    // Inline attachments are read first: the export itself is synchronous.
    let mut contents: HashMap<String, Vec<u8>> = HashMap::new();
    if matches!(style, AttachmentStyle::Inline) {
        for sha in refs.values().flatten() {
            if !contents.contains_key(sha)
                && let Ok(Some(content)) = replica.attachment(sha).await
            {
                contents.insert(sha.clone(), content);
            }
        }
    }
    let lookup = |item: &str, attachment: &str| {
        let sha = refs.get(&(item.to_owned(), attachment.to_owned()))?.clone();
        let content = sha.as_ref().and_then(|sha| contents.get(sha).cloned());
        Some(StoredAttachment::new(sha, content))
    };
    let text = export(&name, &items, lookup, style, now);
    Ok(MailboxExport {
        text,
        items: items.len(),
        calendars: chosen.len(),
    })
}
