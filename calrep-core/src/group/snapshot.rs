//! A directory read from a snapshot file: the form a host exports from Active
//! Directory or Microsoft 365 and hands to calrep.
//!
//! ```json
//! {
//!   "users": [
//!     { "dn": "CN=Alice Archer,OU=Staff,DC=example,DC=com", "display_name": "Alice Archer",
//!       "primary_smtp": "alice@example.com", "addresses": ["a.archer@example.com"],
//!       "enabled": true, "licensed": true },
//!     { "display_name": "Partner", "primary_smtp": "p@partner.example", "kind": "contact" }
//!   ],
//!   "groups": [
//!     { "name": "Sales", "dn": "CN=Sales,OU=Groups,DC=example,DC=com", "address": "sales@example.com",
//!       "kind": "security", "members": ["CN=Alice Archer,OU=Staff,DC=example,DC=com", "sales-emea@example.com"] }
//!   ]
//! }
//! ```
//!
//! A member is named by DN (any string with `=`) or by SMTP address (primary
//! or secondary) and must be a user, contact or group of the same file.

use std::collections::HashMap;
use std::path::Path;

use async_trait::async_trait;
use serde::Deserialize;

use super::directory::{
    Directory, DirectoryEntry, DirectoryError, EntryKind, GroupMembers, GroupRef,
};
use crate::address::{DistinguishedName, EmailAddress, NameError};
use crate::document::{self, Format, Problem, Problems, Report};

#[derive(Debug, Deserialize)]
struct UserRecord {
    #[serde(default)]
    dn: Option<DistinguishedName>,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    primary_smtp: Option<EmailAddress>,
    #[serde(default)]
    addresses: Vec<EmailAddress>,
    #[serde(default)]
    kind: UserKind,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default = "yes")]
    licensed: bool,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum UserKind {
    #[default]
    User,
    Contact,
}

#[derive(Debug, Deserialize)]
struct GroupRecord {
    name: String,
    #[serde(default)]
    dn: Option<DistinguishedName>,
    #[serde(default)]
    address: Option<EmailAddress>,
    // Recorded for people reading the file; resolution treats all kinds alike.
    #[serde(default, rename = "kind")]
    _kind: GroupKind,
    #[serde(default)]
    members: Vec<MemberRef>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum GroupKind {
    #[default]
    Security,
    Distribution,
    M365,
}

#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
enum MemberRef {
    Dn(DistinguishedName),
    Address(EmailAddress),
}

impl TryFrom<String> for MemberRef {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s.contains('=') {
            s.parse().map(Self::Dn)
        } else {
            s.parse().map(Self::Address)
        }
    }
}

const SECTIONS: &[&str] = &["users", "groups"];

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    User(usize),
    Group(usize),
}

/// A [`Directory`] backed by a snapshot file (JSON; schema in the module
/// documentation above).
///
/// ```
/// use calrep_core::group::{Directory, GroupRef, SnapshotDirectory};
/// let dir = SnapshotDirectory::from_json_str(r#"{
///   "users": [{"primary_smtp": "alice@example.com"}],
///   "groups": [{"name": "Sales", "members": ["alice@example.com"]}]
/// }"#, "directory.json")?;
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let sales = dir.members(&GroupRef::Name("sales".into())).await?;
/// assert_eq!(sales.group.display_name, "Sales");
/// assert_eq!(sales.members.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SnapshotDirectory {
    users: Vec<UserRecord>,
    groups: Vec<GroupRecord>,
    /// Member lists resolved at load time.
    members: Vec<Vec<Target>>,
    by_dn: HashMap<String, Target>,
    by_address: HashMap<String, Target>,
    by_name: HashMap<String, usize>,
}

impl SnapshotDirectory {
    /// Reads and checks a snapshot file.
    pub fn load(path: &Path) -> Result<Self, DirectoryError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            DirectoryError::InvalidSnapshot(Problems(vec![Problem::new(
                path.display().to_string(),
                "",
                format!("cannot read the file: {e}"),
            )]))
        })?;
        Self::from_json_str(&text, &path.display().to_string())
    }

    /// Parses and checks snapshot text; `file` names it in problems. Every
    /// problem is reported at once.
    pub fn from_json_str(text: &str, file: &str) -> Result<Self, DirectoryError> {
        let mut report = Report::new(file, SECTIONS);
        let Some(mut root) = document::parse_root(text, Format::Json, &mut report) else {
            return Err(invalid(report));
        };
        document::check_keys(&root, SECTIONS, &mut report);
        let (users, _) = document::section::<UserRecord>(&mut root, "users", &mut report);
        let (groups, _) = document::section::<GroupRecord>(&mut root, "groups", &mut report);
        let mut dir = Self {
            users: Vec::with_capacity(users.len()),
            groups: Vec::with_capacity(groups.len()),
            members: Vec::new(),
            by_dn: HashMap::new(),
            by_address: HashMap::new(),
            by_name: HashMap::new(),
        };
        // Record positions in the file so problems point at the right element.
        let mut user_paths = Vec::new();
        for (i, user) in users {
            let path = format!("users[{i}]");
            if user.primary_smtp.is_none() && user.dn.is_none() {
                report.add(&path, "a user needs a dn or a primary_smtp");
            }
            let target = Target::User(dir.users.len());
            dir.index(target, user.dn.as_ref(), &path, &mut report);
            for (a, address) in user.primary_smtp.iter().chain(&user.addresses).enumerate() {
                let at = if a == 0 && user.primary_smtp.is_some() {
                    format!("{path}.primary_smtp")
                } else {
                    format!("{path}.addresses")
                };
                dir.index_address(target, address, &at, &mut report);
            }
            user_paths.push(path);
            dir.users.push(user);
        }
        let mut group_paths = Vec::new();
        for (i, group) in groups {
            let path = format!("groups[{i}]");
            let target = Target::Group(dir.groups.len());
            if group.name.trim().is_empty() {
                report.add(format!("{path}.name"), "a group needs a name");
            } else if dir
                .by_name
                .insert(group.name.to_lowercase(), dir.groups.len())
                .is_some()
            {
                report.add(
                    format!("{path}.name"),
                    format!("another group is also named {:?}", group.name),
                );
            }
            dir.index(target, group.dn.as_ref(), &path, &mut report);
            if let Some(address) = &group.address {
                dir.index_address(target, address, &format!("{path}.address"), &mut report);
            }
            group_paths.push(path);
            dir.groups.push(group);
        }
        for (g, group) in dir.groups.iter().enumerate() {
            let mut resolved = Vec::with_capacity(group.members.len());
            for (m, member) in group.members.iter().enumerate() {
                let (found, what) = match member {
                    MemberRef::Dn(dn) => (dir.by_dn.get(dn.key()), dn.to_string()),
                    MemberRef::Address(a) => (dir.by_address.get(a.key()), a.to_string()),
                };
                match found {
                    Some(t) => resolved.push(*t),
                    None => report.add(
                        format!(
                            "{}.members[{m}]",
                            group_paths.get(g).map_or("groups", String::as_str)
                        ),
                        format!("no user, contact or group {what} in this file"),
                    ),
                }
            }
            dir.members.push(resolved);
        }
        report.finish().map_err(DirectoryError::InvalidSnapshot)?;
        Ok(dir)
    }

    fn index(
        &mut self,
        target: Target,
        dn: Option<&DistinguishedName>,
        path: &str,
        report: &mut Report,
    ) {
        if let Some(dn) = dn
            && self.by_dn.insert(dn.key().to_owned(), target).is_some()
        {
            report.add(
                format!("{path}.dn"),
                format!("{dn} appears twice in the file"),
            );
        }
    }

    fn index_address(
        &mut self,
        target: Target,
        address: &EmailAddress,
        path: &str,
        report: &mut Report,
    ) {
        let previous = self.by_address.insert(address.key().to_owned(), target);
        if previous.is_some_and(|p| p != target) {
            report.add(path, format!("{address} belongs to two entries"));
        }
    }

    /// How many users (and contacts) and groups the snapshot holds.
    pub fn counts(&self) -> (usize, usize) {
        (self.users.len(), self.groups.len())
    }

    fn group_index(&self, group: &GroupRef) -> Option<usize> {
        match group {
            GroupRef::Name(name) => self.by_name.get(&name.to_lowercase()).copied(),
            GroupRef::Dn(dn) => match self.by_dn.get(dn.key()) {
                Some(Target::Group(g)) => Some(*g),
                _ => None,
            },
            GroupRef::Address(a) | GroupRef::M365(a) => match self.by_address.get(a.key()) {
                Some(Target::Group(g)) => Some(*g),
                _ => None,
            },
        }
    }

    fn entry(&self, target: Target) -> Option<DirectoryEntry> {
        Some(match target {
            Target::User(u) => {
                let user = self.users.get(u)?;
                DirectoryEntry {
                    kind: match user.kind {
                        UserKind::User => EntryKind::User,
                        UserKind::Contact => EntryKind::Contact,
                    },
                    display_name: user.display_name.clone(),
                    dn: user.dn.clone(),
                    primary_smtp: user.primary_smtp.clone(),
                    enabled: user.enabled,
                    licensed: user.licensed,
                }
            }
            Target::Group(g) => {
                let group = self.groups.get(g)?;
                DirectoryEntry {
                    kind: EntryKind::Group,
                    display_name: group.name.clone(),
                    dn: group.dn.clone(),
                    primary_smtp: group.address.clone(),
                    enabled: true,
                    licensed: true,
                }
            }
        })
    }
}

fn invalid(report: Report) -> DirectoryError {
    match report.finish() {
        Err(problems) => DirectoryError::InvalidSnapshot(problems),
        Ok(()) => DirectoryError::Unavailable("the snapshot could not be read".into()),
    }
}

#[async_trait]
impl Directory for SnapshotDirectory {
    async fn members(&self, group: &GroupRef) -> Result<GroupMembers, DirectoryError> {
        let not_found = || DirectoryError::GroupNotFound(group.to_string());
        let g = self.group_index(group).ok_or_else(not_found)?;
        let members = self.members.get(g).map(Vec::as_slice).unwrap_or_default();
        Ok(GroupMembers {
            group: self.entry(Target::Group(g)).ok_or_else(not_found)?,
            members: members.iter().filter_map(|t| self.entry(*t)).collect(),
        })
    }
}
