//! The storage seam: what the engine writes ([`ReplicaWriter`]) and what
//! readers use ([`ReplicaReader`]), both async; a [`Replica`] is a store
//! that does both. [`SqliteReplica`] is the embedded default.
//!
//! Every write the engine makes goes through [`ReplicaWriter::apply`]: one
//! batch of item changes **and** the sync state that follows them, in one
//! transaction, so a crash at any point loses nothing and duplicates
//! nothing. Every item write also advances its calendar's change number,
//! which readers turn into sync tokens and ETags ([`ReplicaReader::changes`]).

mod access;
#[cfg(feature = "postgres")]
mod copy;
pub(crate) mod owner;
#[cfg(feature = "postgres")]
mod postgres;
mod rekey;
mod runs;
mod schema;
mod sqlite;
mod store;

use std::fmt;

use async_trait::async_trait;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::address::EmailAddress;
use crate::calendar::{CalendarId, CalendarInfo, CalendarItem, ItemId, Occurrence};
use crate::mailbox::SyncState;
use crate::{SiteId, TaskId};

pub use access::{AccessAccount, AccessStore};
#[cfg(feature = "postgres")]
pub use copy::{CopyReport, copy_store};
#[cfg(feature = "postgres")]
pub use postgres::{PgOptions, PgReplica};
pub use rekey::{Rekey, Rekeyed};
pub use runs::{RunCoordinator, RunProgress, RunRefused, SharedRun};
pub use sqlite::SqliteReplica;
pub use store::ConfiguredStore;
#[cfg(feature = "postgres")]
pub use store::pg_options;

/// Whose sync state: MSE ties a state to (site, task, mailbox), so another
/// task means a full replication; calrep keeps one per calendar.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SyncKey {
    /// The site.
    pub site: SiteId,
    /// The task.
    pub task: TaskId,
    /// The mailbox.
    pub mailbox: EmailAddress,
    /// The calendar.
    pub calendar: CalendarId,
}

impl SyncKey {
    /// A key.
    pub fn new(site: SiteId, task: TaskId, mailbox: EmailAddress, calendar: CalendarId) -> Self {
        Self {
            site,
            task,
            mailbox,
            calendar,
        }
    }
}

/// A saved sync position.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StoredState {
    /// The source's state after the last committed batch.
    pub state: Option<SyncState>,
    /// Set while a full sync is under way: items it has seen carry this
    /// generation, and when it ends the others are deleted.
    pub full_sync: Option<u64>,
}

/// What a batch does to a full sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FullSync {
    /// An incremental batch.
    No,
    /// Part of the full sync with this generation.
    Part(u64),
    /// The last batch of the full sync with this generation: afterwards, the
    /// calendar's items this sync did not see are deleted, except those a
    /// newer full sync (a larger generation: another task's) saw.
    Last(u64),
    /// A whole full sync in one batch (a calendar in one page): the store
    /// numbers its generation as [`ReplicaWriter::begin_full_sync`] would,
    /// in the batch's own transaction, then acts as for [`Self::Last`]. It
    /// saves the transaction a separate start would take.
    Whole,
}

/// One item to store, with its occurrences and attachment contents.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ItemWrite {
    /// The item as the definition shapes it.
    pub item: CalendarItem,
    /// Its occurrences within the replica's horizon.
    pub occurrences: Vec<Occurrence>,
    /// Attachment contents by attachment id (`None`: not downloaded).
    pub attachments: Vec<(String, Option<Vec<u8>>)>,
}

impl ItemWrite {
    /// An item to write.
    pub fn new(
        item: CalendarItem,
        occurrences: Vec<Occurrence>,
        attachments: Vec<(String, Option<Vec<u8>>)>,
    ) -> Self {
        Self {
            item,
            occurrences,
            attachments,
        }
    }
}

/// Changes to one calendar, applied atomically with the state that follows.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Batch {
    /// Whose state.
    pub key: SyncKey,
    /// The calendar as the source lists it now.
    pub calendar: CalendarInfo,
    /// Items created or updated.
    pub upserts: Vec<ItemWrite>,
    /// Items deleted at the source.
    pub deletes: Vec<ItemId>,
    /// The state to save with these changes.
    pub state: Option<SyncState>,
    /// Whether this is part of a full sync.
    pub full_sync: FullSync,
    /// The end of the horizon the batch's occurrences were computed for;
    /// recorded for the calendar when a full sync completes.
    pub horizon_until: Option<DateTime<Utc>>,
    /// The run writing it, which holds the mailbox's lease: with it, the
    /// store writes the batch only while that lease is still this run's
    /// (checked in the batch's transaction), so a run that paused past its
    /// lease and woke after another took the mailbox over writes nothing.
    pub owner: Option<String>,
    /// With [`owner`](Self::owner): the caller's now and a time-to-live.
    /// The batch's transaction renews the owner's lease to end then (as
    /// [`ReplicaWriter::acquire_lease`] renews it, from the store's own
    /// clock where it [keeps lease time](ReplicaWriter::keeps_lease_time)),
    /// so a live run keeps its lease without a write of its own per batch.
    pub renew_lease: Option<(DateTime<Utc>, TimeDelta)>,
}

impl Batch {
    /// An empty batch for `key`'s calendar that saves `state`; fill
    /// [`upserts`](Self::upserts) and [`deletes`](Self::deletes).
    ///
    /// ```
    /// use calrep_core::calendar::CalendarInfo;
    /// use calrep_core::replica::{Batch, FullSync, SyncKey};
    /// let key = SyncKey::new("hq".into(), "t".into(), "a@example.com".parse()?, "cal".into());
    /// let batch = Batch::new(key, CalendarInfo::new("cal", "Calendar", true), None, FullSync::No);
    /// assert!(batch.upserts.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(
        key: SyncKey,
        calendar: CalendarInfo,
        state: Option<SyncState>,
        full_sync: FullSync,
    ) -> Self {
        Self {
            key,
            calendar,
            upserts: Vec::new(),
            deletes: Vec::new(),
            state,
            full_sync,
            horizon_until: None,
            owner: None,
            renew_lease: None,
        }
    }
}

/// What a batch changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Counts {
    /// Items new to the replica.
    pub items_created: u64,
    /// Items whose content changed.
    pub items_updated: u64,
    /// Items removed.
    pub items_deleted: u64,
    /// Occurrences new to the replica.
    pub occurrences_created: u64,
    /// Occurrences whose times changed (moved, or now an exception).
    pub occurrences_updated: u64,
    /// Occurrences removed.
    pub occurrences_deleted: u64,
    /// Attachment bytes newly stored (content already held is not counted).
    pub attachment_bytes: u64,
}

impl Counts {
    /// Adds another batch's counts.
    pub fn add(&mut self, other: Counts) {
        self.items_created += other.items_created;
        self.items_updated += other.items_updated;
        self.items_deleted += other.items_deleted;
        self.occurrences_created += other.occurrences_created;
        self.occurrences_updated += other.occurrences_updated;
        self.occurrences_deleted += other.occurrences_deleted;
        self.attachment_bytes += other.attachment_bytes;
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The outcome of asking for a mailbox's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lease {
    /// The lease is ours until it expires or is released.
    Acquired,
    /// The lease is ours, taken over from a run that provably died (on
    /// this machine: its process is gone, or the machine restarted).
    TakenOver {
        /// The task of the dead run.
        task: TaskId,
        /// The dead run's owner string.
        owner: String,
    },
    /// Another task holds it.
    HeldBy {
        /// That task.
        task: TaskId,
        /// Until when.
        until: DateTime<Utc>,
    },
}

/// A replicated mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReplicaMailbox {
    /// Its address.
    pub address: String,
    /// Why it is frozen (no longer in any group that replicated it), if it is.
    pub frozen: Option<String>,
    /// When it was last replicated.
    pub last_synced: Option<DateTime<Utc>>,
}

/// A replicated calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReplicaCalendar {
    /// Its id at the source.
    pub id: CalendarId,
    /// Its name.
    pub name: String,
    /// Whether it is the default calendar.
    pub is_default: bool,
    /// How many items it holds.
    pub items: u64,
}

/// An occurrence as a reader sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReplicaOccurrence {
    /// The calendar.
    pub calendar: CalendarId,
    /// The item.
    pub item: ItemId,
    /// The item's subject (an exception's own subject where it has one).
    pub subject: String,
    /// The occurrence.
    pub occurrence: Occurrence,
}

/// A replica could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplicaError {
    /// The file is not a calrep replica.
    #[error("{path} is not a calrep replica ({reason})")]
    Foreign {
        /// The file.
        path: String,
        /// What gave it away.
        reason: String,
    },
    /// The file was written by a newer calrep.
    #[error("{path} has schema version {found}; this calrep reads up to {supported}")]
    TooNew {
        /// The file.
        path: String,
        /// Its version.
        found: i64,
        /// Ours.
        supported: i64,
    },
    /// The database failed (disk full, unwritable, corrupt, …).
    #[error("replica {path}: {source}")]
    Database {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// There is no replica at the path (a reader never creates one).
    #[error("no replica at {path}: nothing has been replicated there yet (calrep run creates it)")]
    Missing {
        /// The file.
        path: String,
    },
    /// A read-only open cannot read this replica as it is.
    #[error("replica {path} cannot be read without write access: {reason}")]
    NeedsWriteAccess {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The thread doing the store's blocking work failed or was stopped
    /// (the runtime shutting down); nothing was half-written.
    #[error("replica {path}: its worker thread ended before answering: {reason}")]
    Worker {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A database server (PostgreSQL) refused, failed or could not be
    /// reached; `transient` says whether trying again may succeed (the
    /// connection broke, the server is restarting, a deadlock was broken).
    /// Nothing was half-written: the transaction rolled back, or (a lost
    /// COMMIT answer) committed whole.
    #[error("replica {store}: {detail}")]
    Server {
        /// The database, named without its password.
        store: String,
        /// What went wrong, in the server's or driver's words.
        detail: String,
        /// Whether another attempt may succeed.
        transient: bool,
    },
    /// A batch's run no longer holds its mailbox's lease (it paused past
    /// the lease, and another run took the mailbox over): nothing of the
    /// batch was written.
    #[error(
        "{mailbox}: the lease passed to {holder} (a run of task {task}); this run's batch was not written"
    )]
    LeaseLost {
        /// The mailbox.
        mailbox: String,
        /// The lease's holder now ("nobody" when it was released).
        holder: String,
        /// The holder's task.
        task: String,
    },
    /// Stored data could not be decoded.
    #[error("replica {path}: stored data is damaged: {detail}")]
    Damaged {
        /// The file.
        path: String,
        /// What.
        detail: String,
    },
}

/// The key attachment contents are stored under: their SHA-256, in
/// lower-case hex.
pub(crate) fn sha256_hex(content: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    crate::encoding::hex(&Sha256::digest(content))
}

impl ReplicaError {
    /// Whether trying the same call again may succeed: the store's server
    /// was briefly unreachable or restarting. Everything else (a damaged
    /// or foreign store, a full disk) stays wrong until someone acts.
    ///
    /// ```
    /// use calrep_core::replica::ReplicaError;
    /// let gone = ReplicaError::Missing { path: "r.db".into() };
    /// assert!(!gone.is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Server {
                transient: true,
                ..
            }
        )
    }
}

/// What the engine writes — each batch with the sync state that follows
/// it, full-sync generations, leases, runs — and the little it reads back
/// to decide what to write next.
///
/// Implementations must make [`apply`](Self::apply) atomic: either the whole
/// batch and its state are stored, or nothing is. Methods are async so that
/// a store on the network is a second implementation, not a rewrite; an
/// embedded store does its blocking work off the async workers.
#[async_trait]
pub trait ReplicaWriter: Send + Sync + fmt::Debug {
    /// The saved state for `key`.
    async fn sync_state(&self, key: &SyncKey) -> Result<StoredState, ReplicaError>;

    /// Applies a batch and saves its state, atomically.
    async fn apply(&self, batch: Batch) -> Result<Counts, ReplicaError>;

    /// Starts a full sync of `key`'s calendar: a fresh generation, saved with
    /// an empty state.
    async fn begin_full_sync(&self, key: &SyncKey) -> Result<u64, ReplicaError>;

    /// How many items of `key`'s calendar the full sync with `generation` has
    /// seen so far, and how many older ones it has not (what finishing it
    /// would delete: items a newer full sync saw are kept).
    async fn full_sync_progress(
        &self,
        key: &SyncKey,
        generation: u64,
    ) -> Result<(u64, u64), ReplicaError>;

    /// The mailboxes `task` of `site` has sync state for (lower-case
    /// addresses).
    async fn task_mailboxes(
        &self,
        site: &SiteId,
        task: &TaskId,
    ) -> Result<Vec<String>, ReplicaError>;

    /// Every mailbox `site` has sync state for, with each state (lower-case
    /// addresses; `None` while a full sync has saved no position yet).
    async fn site_states(
        &self,
        site: &SiteId,
    ) -> Result<Vec<(String, Option<SyncState>)>, ReplicaError>;

    /// Renames a mailbox's calendars, items and attachments as `plan` says
    /// and drops the site's sync states for it, in one transaction.
    /// Renamed items count as changed for readers (their old ids as
    /// removed), since a reader's address for them changes.
    async fn rekey(&self, plan: Rekey) -> Result<Rekeyed, ReplicaError>;

    /// Removes a calendar (gone at the source) with its items and states.
    async fn remove_calendar(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
    ) -> Result<Counts, ReplicaError>;

    /// Takes the mailbox's lease for `task` until `now + ttl`, unless another
    /// owner holds an unexpired one.
    async fn acquire_lease(
        &self,
        mailbox: &EmailAddress,
        task: &TaskId,
        owner: &str,
        now: DateTime<Utc>,
        ttl: chrono::TimeDelta,
    ) -> Result<Lease, ReplicaError>;

    /// Releases a lease this owner holds; with `synced_at`, also records the
    /// mailbox as replicated then (and no longer frozen), in one write.
    async fn release_lease(
        &self,
        mailbox: &EmailAddress,
        owner: &str,
        synced_at: Option<DateTime<Utc>>,
    ) -> Result<(), ReplicaError>;

    /// Freezes a mailbox's replica (kept, no longer updated) with a reason.
    async fn freeze(&self, mailbox: &EmailAddress, reason: &str) -> Result<(), ReplicaError>;

    /// The store's coordinator of runs shared by several hosts, if it is
    /// shared (PostgreSQL); `None` for a store only one host writes.
    fn coordinator(&self) -> Option<&dyn RunCoordinator> {
        None
    }

    /// Whether leases are timed by the store's own clock, which every host
    /// shares, rather than by the `now` callers pass (which a store of one
    /// host trusts).
    fn keeps_lease_time(&self) -> bool {
        false
    }

    /// Records a finished run's report (JSON).
    async fn record_run(
        &self,
        task: &TaskId,
        status: &str,
        report_json: &str,
        finished: DateTime<Utc>,
    ) -> Result<(), ReplicaError>;

    /// How far ahead a calendar's occurrences are materialised (`None`:
    /// unknown, e.g. before its first full sync completed).
    async fn horizon_until(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
    ) -> Result<Option<DateTime<Utc>>, ReplicaError>;

    /// Replaces the occurrences of the given items (recomputed for a moved
    /// horizon), drops the calendar's occurrences that ended before
    /// `horizon_from`, and records `horizon_until`, in one transaction.
    async fn refresh_occurrences(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
        occurrences: Vec<(ItemId, Vec<Occurrence>)>,
        horizon_from: DateTime<Utc>,
        horizon_until: DateTime<Utc>,
    ) -> Result<Counts, ReplicaError>;
}

/// What readers use: mailboxes, calendars, items, occurrences in a window,
/// attachments, and each calendar's change sequence (from which a server
/// makes sync tokens and ETags). Reads never wait for a writer's
/// transaction.
#[async_trait]
pub trait ReplicaReader: Send + Sync + fmt::Debug {
    /// The replicated mailboxes.
    async fn mailboxes(&self) -> Result<Vec<ReplicaMailbox>, ReplicaError>;

    /// Whether the replica holds the mailbox (addresses compare without
    /// regard to case), so that readers can tell "unknown" from "empty".
    async fn has_mailbox(&self, mailbox: &EmailAddress) -> Result<bool, ReplicaError> {
        Ok(self
            .mailboxes()
            .await?
            .iter()
            .any(|m| m.address.eq_ignore_ascii_case(mailbox.as_str())))
    }

    /// One replicated mailbox (addresses compare without regard to case),
    /// or `None`; a store should answer without listing every mailbox.
    async fn mailbox(
        &self,
        mailbox: &EmailAddress,
    ) -> Result<Option<ReplicaMailbox>, ReplicaError> {
        Ok(self
            .mailboxes()
            .await?
            .into_iter()
            .find(|m| m.address.eq_ignore_ascii_case(mailbox.as_str())))
    }

    /// The ids and names of a mailbox's calendars, in the order of
    /// [`calendars`](Self::calendars), without counting their items (what a
    /// server that only looks a calendar up needs); a store should answer
    /// without counting.
    async fn calendar_names(
        &self,
        mailbox: &EmailAddress,
    ) -> Result<Vec<(CalendarId, String)>, ReplicaError> {
        Ok(self
            .calendars(mailbox)
            .await?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect())
    }

    /// The ids of a mailbox's calendars (cheaper than [`calendars`](Self::calendars)).
    async fn calendar_ids(&self, mailbox: &EmailAddress) -> Result<Vec<CalendarId>, ReplicaError>;

    /// A mailbox's calendars.
    async fn calendars(&self, mailbox: &EmailAddress)
    -> Result<Vec<ReplicaCalendar>, ReplicaError>;

    /// A calendar's items.
    async fn items(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
    ) -> Result<Vec<CalendarItem>, ReplicaError>;

    /// A mailbox's occurrences overlapping `from..to`, in order of start.
    async fn occurrences(
        &self,
        mailbox: &EmailAddress,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ReplicaOccurrence>, ReplicaError>;

    /// A calendar's attachments: (item, attachment id, SHA-256 of the
    /// stored content or `None` if it was not downloaded).
    async fn attachment_refs(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
    ) -> Result<Vec<(ItemId, String, Option<String>)>, ReplicaError>;

    /// Attachment content by SHA-256 (lower-case hex).
    async fn attachment(&self, sha256: &str) -> Result<Option<Vec<u8>>, ReplicaError>;

    /// What changed in a calendar after change number `since` (0: every
    /// item), and the calendar's change number now; `None` if the replica
    /// has no such calendar.
    async fn changes(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
        since: u64,
    ) -> Result<Option<ChangeSet>, ReplicaError>;
}

/// A store that both writes and reads, and keeps who may read it: what an
/// [`Engine`](crate::engine::Engine) runs over.
pub trait Replica: ReplicaWriter + ReplicaReader + AccessStore {}

impl<T: ReplicaWriter + ReplicaReader + AccessStore + ?Sized> Replica for T {}

/// A calendar's changes since a change number: what a CalDAV
/// `sync-collection` report or a feed's conditional GET needs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[non_exhaustive]
pub struct ChangeSet {
    /// The calendar's change number now (a sync token or collection tag).
    pub version: u64,
    /// Items written after `since`, each with the change number that last
    /// wrote it (an ETag), in order of id.
    pub changed: Vec<(ItemId, u64)>,
    /// Items removed after `since`, in order of id.
    pub removed: Vec<ItemId>,
    /// The iCalendar UIDs that left the calendar after `since` (no item
    /// there has them now), in order: what a reader that names resources
    /// by UID reports as removed.
    pub removed_uids: Vec<String>,
}
