//! Expanding a group into a sorted, de-duplicated list of mailboxes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::Group;
use super::directory::{
    Directory, DirectoryEntry, DirectoryError, EntryKind, GroupMembers, GroupRef,
};
use crate::address::EmailAddress;
use crate::clock::Clock;

/// A mailbox a task will process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ResolvedMailbox {
    /// Its primary SMTP address.
    pub address: EmailAddress,
    /// A name for people (the address when the directory has none).
    pub display_name: String,
}

/// Why a directory entry was not turned into a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// The account is disabled (its replica is kept).
    Disabled,
    /// The account has no licensed mailbox (its replica is kept).
    Unlicensed,
    /// A mail contact has no mailbox to read.
    Contact,
    /// The entry has no primary SMTP address (and, for a group, no DN).
    NoAddress,
    /// A nested group is not in the directory.
    GroupNotFound,
    /// The group contains itself through this chain of groups; the loop was
    /// cut here.
    Cycle {
        /// The groups from the outermost down to the repeated one.
        path: Vec<String>,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Disabled => f.write_str("account disabled"),
            Self::Unlicensed => f.write_str("no licensed mailbox"),
            Self::Contact => f.write_str("mail contact, not a mailbox"),
            Self::NoAddress => f.write_str("no primary SMTP address"),
            Self::GroupNotFound => f.write_str("nested group not found in the directory"),
            Self::Cycle { path } => write!(f, "group cycle: {}", path.join(" -> ")),
        }
    }
}

/// A directory entry that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[non_exhaustive]
pub struct Skipped {
    /// The entry: its address, DN or name.
    pub entry: String,
    /// Why it was left out.
    #[serde(flatten)]
    pub reason: SkipReason,
}

/// The outcome of resolving a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Resolution {
    /// The mailboxes, sorted by address, each once.
    pub mailboxes: Vec<ResolvedMailbox>,
    /// What was left out, sorted, each once.
    pub skipped: Vec<Skipped>,
    /// When the directory was read.
    pub resolved_at: DateTime<Utc>,
}

/// Resolves [`Group`]s through a [`Directory`], caching each group's result
/// for a time to live (one hour by default, as MSE does).
///
/// ```
/// use std::sync::Arc;
/// use calrep_core::group::{Group, GroupResolver};
/// use calrep_core::SystemClock;
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let resolver = GroupResolver::new(None, Arc::new(SystemClock));
/// let group: Group = serde_json::from_str(r#"{"mailboxes": ["B@x.com", "a@x.com", "b@X.com"]}"#)?;
/// let res = resolver.resolve(&group).await?;
/// let names: Vec<_> = res.mailboxes.iter().map(|m| m.address.to_string()).collect();
/// assert_eq!(names, ["a@x.com", "B@x.com"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct GroupResolver {
    directory: Option<Arc<dyn Directory>>,
    clock: Arc<dyn Clock>,
    ttl: TimeDelta,
    cache: Mutex<HashMap<Group, Arc<Resolution>>>,
}

impl GroupResolver {
    /// How long a resolved group is reused by default.
    pub const DEFAULT_TTL: TimeDelta = TimeDelta::hours(1);

    /// A resolver over `directory` (or none, for mailbox and mailbox-list
    /// groups only).
    pub fn new(directory: Option<Arc<dyn Directory>>, clock: Arc<dyn Clock>) -> Self {
        Self {
            directory,
            clock,
            ttl: Self::DEFAULT_TTL,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Sets how long a result is reused.
    pub fn with_ttl(mut self, ttl: TimeDelta) -> Self {
        self.ttl = ttl;
        self
    }

    /// The group's mailboxes, from the cache when the cached result is younger
    /// than the time to live.
    pub async fn resolve(&self, group: &Group) -> Result<Arc<Resolution>, DirectoryError> {
        let now = self.clock.now();
        let cached = self.lock_cache().get(group).cloned();
        if let Some(hit) = cached.filter(|r| now - r.resolved_at < self.ttl) {
            return Ok(hit);
        }
        self.refresh(group).await
    }

    /// Reads the directory again for `group`, whatever the cache holds.
    pub async fn refresh(&self, group: &Group) -> Result<Arc<Resolution>, DirectoryError> {
        let resolution = Arc::new(self.expand(group).await?);
        self.lock_cache()
            .insert(group.clone(), Arc::clone(&resolution));
        Ok(resolution)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<Group, Arc<Resolution>>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn expand(&self, group: &Group) -> Result<Resolution, DirectoryError> {
        let mut acc = Accumulator::default();
        match group {
            Group::Mailbox(address) => acc.add_mailbox(address, ""),
            Group::Mailboxes(list) => list.iter().for_each(|a| acc.add_mailbox(a, "")),
            _ => {
                let root = group
                    .directory_ref()
                    .ok_or_else(|| DirectoryError::Unsupported(group.to_string()))?;
                let directory = self.directory.as_ref().ok_or_else(|| {
                    DirectoryError::Unsupported(format!(
                        "{group}: no directory is configured for this site"
                    ))
                })?;
                expand_nested(directory.as_ref(), root, &mut acc).await?;
            }
        }
        Ok(acc.finish(self.clock.now()))
    }
}

/// Depth-first expansion with the chain of open groups kept, so that a cycle
/// is cut where it closes and reported with its path, while a group reached
/// twice through different branches is simply expanded once.
async fn expand_nested(
    directory: &dyn Directory,
    root: GroupRef,
    acc: &mut Accumulator,
) -> Result<(), DirectoryError> {
    struct Frame {
        keys: Vec<String>,
        label: String,
        members: std::vec::IntoIter<DirectoryEntry>,
    }
    // A group may be reached by name, DN or address; each frame remembers
    // every key it is known by, so any of them closes a cycle.
    let open_frame = |requested: &GroupRef, found: GroupMembers| {
        let mut keys = vec![requested.key()];
        keys.extend(found.group.as_group_ref().map(|r| r.key()));
        keys.dedup();
        let label = match found.group.display_name.trim() {
            "" => found.group.label(),
            name => name.to_owned(),
        };
        Frame {
            keys,
            label,
            members: found.members.into_iter(),
        }
    };
    let mut done: HashSet<String> = HashSet::new();
    let mut open: HashSet<String> = HashSet::new();
    let first = open_frame(&root, directory.members(&root).await?);
    open.extend(first.keys.iter().cloned());
    let mut stack = vec![first];
    while let Some(frame) = stack.last_mut() {
        let Some(entry) = frame.members.next() else {
            if let Some(finished) = stack.pop() {
                for key in finished.keys {
                    open.remove(&key);
                    done.insert(key);
                }
            }
            continue;
        };
        match entry.kind {
            EntryKind::Contact => acc.skip(&entry, SkipReason::Contact),
            EntryKind::User => {
                if !entry.enabled {
                    acc.skip(&entry, SkipReason::Disabled);
                } else if !entry.licensed {
                    acc.skip(&entry, SkipReason::Unlicensed);
                } else if let Some(address) = &entry.primary_smtp {
                    acc.add_mailbox(address, &entry.display_name);
                } else {
                    acc.skip(&entry, SkipReason::NoAddress);
                }
            }
            EntryKind::Group => {
                let Some(nested) = entry.as_group_ref() else {
                    acc.skip(&entry, SkipReason::NoAddress);
                    continue;
                };
                let key = nested.key();
                if open.contains(&key) {
                    let mut path: Vec<String> = stack.iter().map(|f| f.label.clone()).collect();
                    path.push(match entry.display_name.trim() {
                        "" => entry.label(),
                        name => name.to_owned(),
                    });
                    acc.skip(&entry, SkipReason::Cycle { path });
                    continue;
                }
                if done.contains(&key) {
                    continue;
                }
                match directory.members(&nested).await {
                    Ok(found) => {
                        let frame = open_frame(&nested, found);
                        open.extend(frame.keys.iter().cloned());
                        stack.push(frame);
                    }
                    Err(DirectoryError::GroupNotFound(_)) => {
                        done.insert(key);
                        acc.skip(&entry, SkipReason::GroupNotFound);
                    }
                    Err(other) => return Err(other),
                }
            }
        }
    }
    Ok(())
}

#[derive(Default)]
struct Accumulator {
    mailboxes: BTreeMap<EmailAddress, String>,
    skipped: BTreeSet<Skipped>,
}

impl Accumulator {
    fn add_mailbox(&mut self, address: &EmailAddress, display_name: &str) {
        self.mailboxes
            .entry(address.clone())
            .or_insert_with(|| display_name.to_owned());
    }

    fn skip(&mut self, entry: &DirectoryEntry, reason: SkipReason) {
        self.skipped.insert(Skipped {
            entry: entry.label(),
            reason,
        });
    }

    fn finish(self, now: DateTime<Utc>) -> Resolution {
        Resolution {
            mailboxes: self
                .mailboxes
                .into_iter()
                .map(|(address, name)| ResolvedMailbox {
                    display_name: if name.is_empty() {
                        address.to_string()
                    } else {
                        name
                    },
                    address,
                })
                .collect(),
            skipped: self.skipped.into_iter().collect(),
            resolved_at: now,
        }
    }
}
