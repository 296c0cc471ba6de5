//! Groups of mailboxes: how a task names them ([`Group`]), where their
//! members come from ([`Directory`]), and how they become a sorted list of
//! mailboxes ([`GroupResolver`]).

mod directory;
mod resolver;
mod snapshot;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::address::{DistinguishedName, EmailAddress};

pub use directory::{Directory, DirectoryEntry, DirectoryError, EntryKind, GroupMembers, GroupRef};
pub(crate) use directory::{expand_at_server, server_group_address};
pub use resolver::{GroupResolver, Resolution, ResolvedMailbox, SkipReason, Skipped};
pub use snapshot::SnapshotDirectory;

/// The mailboxes a task applies to (MSE's task "Group").
///
/// ```
/// use calrep_core::group::Group;
/// let g: Group = serde_json::from_str(r#"{"mailboxes": ["a@example.com", "b@example.com"]}"#)?;
/// assert!(!g.needs_directory());
/// let g: Group = serde_json::from_str(r#"{"ad_group": "Sales"}"#)?;
/// assert!(g.needs_directory());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Group {
    /// An Active Directory group picked from the synchronised list, by name.
    AdGroup(String),
    /// An Active Directory group by its full distinguished name.
    AdDn(DistinguishedName),
    /// A distribution group by its e-mail address.
    DistributionGroup(EmailAddress),
    /// A Microsoft 365 group by its e-mail address.
    M365Group(EmailAddress),
    /// One mailbox.
    Mailbox(EmailAddress),
    /// A list of mailboxes.
    Mailboxes(Vec<EmailAddress>),
}

impl Group {
    /// Whether resolving this group needs a [`Directory`].
    pub fn needs_directory(&self) -> bool {
        self.directory_ref().is_some()
    }

    /// The directory lookup for this group, or `None` for mailbox targets.
    pub fn directory_ref(&self) -> Option<GroupRef> {
        match self {
            Self::AdGroup(name) => Some(GroupRef::Name(name.clone())),
            Self::AdDn(dn) => Some(GroupRef::Dn(dn.clone())),
            Self::DistributionGroup(a) => Some(GroupRef::Address(a.clone())),
            Self::M365Group(a) => Some(GroupRef::M365(a.clone())),
            Self::Mailbox(_) | Self::Mailboxes(_) => None,
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AdGroup(name) => write!(f, "AD group {name:?}"),
            Self::AdDn(dn) => write!(f, "AD group {dn}"),
            Self::DistributionGroup(a) => write!(f, "distribution group {a}"),
            Self::M365Group(a) => write!(f, "Microsoft 365 group {a}"),
            Self::Mailbox(a) => write!(f, "mailbox {a}"),
            Self::Mailboxes(list) => write!(f, "{} listed mailboxes", list.len()),
        }
    }
}
