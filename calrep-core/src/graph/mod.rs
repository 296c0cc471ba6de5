//! Microsoft Graph (v1.0 only, no SDK): [`GraphSource`] reads Microsoft
//! 365 mailboxes with an app registration's client credentials (secret,
//! certificate, or the host's tokens), `calendarView/delta` over the run's
//! window, and each touched series fetched whole from its master (in JSON
//! `$batch`es of at most four, Exchange Online's per-mailbox limit).
//!
//! Events are read into the same [`CalendarItem`](crate::calendar::CalendarItem)
//! model as EWS items, with immutable ids (`Prefer: IdType="ImmutableId"`):
//! the ids `translateExchangeIds` gives for EWS ids, so a replica read
//! over EWS moves to Graph without being read again ([`move_from_ews`]).

mod client;
mod directory;
mod event;
mod from_ews;
mod mailbox;
#[cfg(feature = "sim")]
pub(crate) mod write;

pub use crate::auth::CertificateCredential;
pub use directory::GraphDirectory;
pub use event::{GraphEventError, read_event};
pub use from_ews::{MailboxMove, MoveReport, move_from_ews};
pub use mailbox::{
    GraphCredentials, GraphMailbox, GraphSetupError, GraphSource, MAILBOX_CONCURRENCY,
};
