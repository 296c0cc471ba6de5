//! Runs that several hosts share: the part of the storage seam a store
//! shared by hosts provides ([`ReplicaWriter::coordinator`]).
//!
//! A task's run is one row that every host running the task joins. The
//! mailboxes to replicate are rows under it; a host claims a few at a time
//! (each exactly once: the store hands a row to one claimant), replicates
//! them and files each one's report. A claim lasts a time-to-live in the
//! store's own clock, so a host that dies loses its claims and the others
//! take them over. The host that finds nothing left closes the run and
//! records the one report, assembled from every host's parts.
//!
//! [`ReplicaWriter::coordinator`]: super::ReplicaWriter::coordinator

use async_trait::async_trait;
use chrono::TimeDelta;

use super::ReplicaError;
use crate::TaskId;

/// A shared run a host has joined.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharedRun {
    /// Its id in the store.
    pub id: i64,
    /// Whether this host opened it (else it joined one under way).
    pub opened: bool,
    /// Whether it had already finished: another host ran this due instant
    /// of the schedule, and this host has nothing to do but read its
    /// report.
    pub finished: bool,
}

/// Where a shared run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunProgress {
    /// Mailboxes without a report yet (claimed by someone or not).
    pub pending: u64,
    /// How long until the soonest claim on a pending mailbox ends (zero:
    /// one is free now; `None`: nothing is pending).
    pub next_free: Option<std::time::Duration>,
}

/// A store that shares runs between hosts.
#[async_trait]
pub trait RunCoordinator: Send + Sync + std::fmt::Debug {
    /// Joins the open run of `task`, or opens one holding `mailboxes`
    /// (lower-case addresses). A run whose configuration digest differs
    /// from `digest` is refused with [`RunRefused`]: hosts must replicate
    /// under the same rules. A run nobody has touched for `abandoned_after`
    /// (every host that worked on it died) is closed and a new one opened.
    ///
    /// With `due` (a schedule's instant, Unix seconds), the run fulfils
    /// that instant once: a host that comes late to a due instant another
    /// host's run already finished gets that run, marked finished.
    async fn join_run(
        &self,
        task: &TaskId,
        digest: &str,
        due: Option<i64>,
        mailboxes: &[String],
        abandoned_after: TimeDelta,
    ) -> Result<Result<SharedRun, RunRefused>, ReplicaError>;

    /// Claims up to `n` pending mailboxes no live claim holds, for `host`,
    /// for `ttl` in the store's clock.
    async fn claim(
        &self,
        run: i64,
        host: &str,
        n: usize,
        ttl: TimeDelta,
    ) -> Result<Vec<String>, ReplicaError>;

    /// Files a mailbox's report (JSON): it is done.
    async fn finish(&self, run: i64, mailbox: &str, report_json: &str) -> Result<(), ReplicaError>;

    /// Gives a claimed mailbox back, to be claimed again after `after`
    /// (zero: at once).
    async fn release(&self, run: i64, mailbox: &str, after: TimeDelta) -> Result<(), ReplicaError>;

    /// Where the run stands.
    async fn progress(&self, run: i64) -> Result<RunProgress, ReplicaError>;

    /// Closes the run for `host` if it is still open; whether `host` closed
    /// it (exactly one host did: asking again, after a lost answer, gets
    /// the same yes), and every mailbox's report so far.
    async fn close(&self, run: i64, host: &str) -> Result<(bool, Vec<String>), ReplicaError>;
}

/// Why a host may not join a task's run.
///
/// ```
/// use calrep_core::replica::RunRefused;
/// let refused = RunRefused::new("sales", "a1", "b2");
/// assert!(refused.to_string().contains("digest a1, ours b2"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "another host is running task {task} under a different configuration (its digest {theirs}, ours {ours}): give every host the same configuration, then run again"
)]
#[non_exhaustive]
pub struct RunRefused {
    /// The task.
    pub task: String,
    /// The open run's configuration digest.
    pub theirs: String,
    /// This host's.
    pub ours: String,
}

impl RunRefused {
    /// A refusal to join `task`'s run, whose digest is `theirs`, for a
    /// host whose digest is `ours`.
    pub fn new(
        task: impl Into<String>,
        theirs: impl Into<String>,
        ours: impl Into<String>,
    ) -> Self {
        Self {
            task: task.into(),
            theirs: theirs.into(),
            ours: ours.into(),
        }
    }
}
