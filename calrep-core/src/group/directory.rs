//! The directory seam: where group members come from.

use std::fmt;

use async_trait::async_trait;

use crate::address::{DistinguishedName, EmailAddress};
use crate::document::Problems;

/// How a group is looked up in a directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupRef {
    /// By display name, as in the synchronised group list.
    Name(String),
    /// By distinguished name.
    Dn(DistinguishedName),
    /// By the group's e-mail address.
    Address(EmailAddress),
    /// A Microsoft 365 group by its e-mail address.
    M365(EmailAddress),
}

impl GroupRef {
    /// A key that is equal for two references to the same group written the
    /// same way (case-insensitive).
    pub(crate) fn key(&self) -> String {
        match self {
            Self::Name(n) => format!("name:{}", n.to_lowercase()),
            Self::Dn(dn) => format!("dn:{}", dn.key()),
            Self::Address(a) | Self::M365(a) => format!("smtp:{}", a.key()),
        }
    }
}

impl fmt::Display for GroupRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => write!(f, "group {n:?}"),
            Self::Dn(dn) => write!(f, "group {dn}"),
            Self::Address(a) => write!(f, "group {a}"),
            Self::M365(a) => write!(f, "Microsoft 365 group {a}"),
        }
    }
}

/// What a directory entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EntryKind {
    /// A user with (possibly) a mailbox.
    User,
    /// A nested group.
    Group,
    /// A mail contact: an outside address with no mailbox here.
    Contact,
}

/// One member of a group as the directory reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DirectoryEntry {
    /// What the entry is.
    pub kind: EntryKind,
    /// A name for people.
    pub display_name: String,
    /// The entry's DN, if the directory has one.
    pub dn: Option<DistinguishedName>,
    /// The primary SMTP address, if any.
    pub primary_smtp: Option<EmailAddress>,
    /// Whether the account is enabled.
    pub enabled: bool,
    /// Whether the account has a licensed mailbox.
    pub licensed: bool,
}

impl DirectoryEntry {
    /// A user entry, enabled and licensed.
    ///
    /// ```
    /// use calrep_core::group::{DirectoryEntry, EntryKind};
    /// let e = DirectoryEntry::user("Alice", "alice@example.com".parse()?);
    /// assert_eq!(e.kind, EntryKind::User);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn user(display_name: impl Into<String>, primary_smtp: EmailAddress) -> Self {
        Self {
            kind: EntryKind::User,
            display_name: display_name.into(),
            dn: None,
            primary_smtp: Some(primary_smtp),
            enabled: true,
            licensed: true,
        }
    }

    /// A group entry known by its name only; set `dn` or `primary_smtp` when
    /// the directory has them.
    ///
    /// ```
    /// use calrep_core::group::{DirectoryEntry, GroupRef};
    /// let g = DirectoryEntry::group("Sales");
    /// assert_eq!(g.as_group_ref(), Some(GroupRef::Name("Sales".into())));
    /// ```
    pub fn group(display_name: impl Into<String>) -> Self {
        Self {
            kind: EntryKind::Group,
            display_name: display_name.into(),
            dn: None,
            primary_smtp: None,
            enabled: true,
            licensed: true,
        }
    }

    /// How to look this entry up as a group: by DN when it has one, else by
    /// address, else by name.
    pub fn as_group_ref(&self) -> Option<GroupRef> {
        self.dn
            .clone()
            .map(GroupRef::Dn)
            .or_else(|| self.primary_smtp.clone().map(GroupRef::Address))
            .or_else(|| {
                let name = self.display_name.trim();
                (!name.is_empty()).then(|| GroupRef::Name(name.to_owned()))
            })
    }

    /// A short way to name the entry in a report.
    pub fn label(&self) -> String {
        match (&self.primary_smtp, &self.dn) {
            (Some(a), _) => a.to_string(),
            (None, Some(dn)) => dn.to_string(),
            (None, None) => self.display_name.clone(),
        }
    }
}

/// A group as the directory knows it, with its direct members.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupMembers {
    /// The group itself (kind [`EntryKind::Group`]): its name, DN and address.
    pub group: DirectoryEntry,
    /// Its direct members, in directory order.
    pub members: Vec<DirectoryEntry>,
}

impl GroupMembers {
    /// A group and its direct members, for [`Directory`] implementations.
    ///
    /// ```
    /// use calrep_core::group::{DirectoryEntry, GroupMembers};
    /// let sales = GroupMembers::new(
    ///     DirectoryEntry::group("Sales"),
    ///     vec![DirectoryEntry::user("Alice", "alice@example.com".parse()?)],
    /// );
    /// assert_eq!(sales.members.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(group: DirectoryEntry, members: Vec<DirectoryEntry>) -> Self {
        Self { group, members }
    }
}

/// A directory could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// The group does not exist in the directory.
    #[error("{0} is not in the directory")]
    GroupNotFound(String),
    /// The directory is configured for another kind of lookup.
    #[error("this directory cannot look up {0}")]
    Unsupported(String),
    /// The directory could not be reached or read.
    #[error("directory unavailable: {0}")]
    Unavailable(String),
    /// A directory snapshot file is malformed.
    #[error("{0}")]
    InvalidSnapshot(Problems),
}

/// A source of group membership: Active Directory, Microsoft 365, a snapshot
/// file, or a host's own implementation.
///
/// Implementations return the *direct* members of one group; nesting, cycles
/// and de-duplication are the [`GroupResolver`](super::GroupResolver)'s job.
#[async_trait]
pub trait Directory: Send + Sync + fmt::Debug {
    /// The group named by `group` and its direct members, or
    /// [`DirectoryError::GroupNotFound`].
    async fn members(&self, group: &GroupRef) -> Result<GroupMembers, DirectoryError>;
}

/// The address of a group a mail server expands (EWS `ExpandDL`, Graph
/// `transitiveMembers`): servers find groups by address only.
pub(crate) fn server_group_address<'g>(
    group: &'g GroupRef,
    server: &str,
) -> Result<&'g EmailAddress, DirectoryError> {
    match group {
        GroupRef::Address(a) | GroupRef::M365(a) => Ok(a),
        GroupRef::Name(_) | GroupRef::Dn(_) => Err(DirectoryError::Unsupported(format!(
            "{group}: {server} finds groups by e-mail address; name the task's group as \
             distribution_group = \"…@…\" or m365_group = \"…@…\", or use a directory snapshot"
        ))),
    }
}

/// A mail server's expansion of `address`: `expand` is retried under
/// `retry` (throttling and dropped connections are waited out); an outer
/// error ends it as `Unavailable`, named by `server` and cleaned of the
/// site's secrets.
pub(crate) async fn expand_at_server<F, Fut>(
    address: &EmailAddress,
    server: &str,
    retry: &crate::retry::RetryPolicy,
    redactor: &crate::secret::Redactor,
    expand: F,
) -> Result<GroupMembers, DirectoryError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<
            Output = Result<Result<GroupMembers, DirectoryError>, crate::mailbox::MailboxError>,
        >,
{
    let mut stats = crate::retry::CallStats::default();
    match retry.run(&mut stats, expand).await {
        Ok(members) => members,
        Err(e) => Err(DirectoryError::Unavailable(format!(
            "{server} expansion of {address}: {}",
            e.redacted(redactor)
        ))),
    }
}
