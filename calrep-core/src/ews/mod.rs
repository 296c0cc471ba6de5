//! Exchange Web Services: [`EwsSource`] reads mailboxes over HTTP (SOAP,
//! impersonation, Basic or OAuth), [`EwsDirectory`] expands groups, and the
//! EWS XML is read into calrep's model (and written from it for the
//! simulator).

mod client;
mod directory;
mod item;
mod names;
pub(crate) mod request;
pub(crate) mod response;
mod transport;
#[cfg(feature = "sim")]
pub(crate) mod write;
pub(crate) mod xml;
mod zone;

pub use crate::auth::{BlockingTokens, TokenAnswer, TokenProvider};
pub use client::{Credentials, EwsMailbox, EwsSetupError, EwsSource};
pub use directory::EwsDirectory;
pub use item::{EwsItemError, read_calendar_items};
