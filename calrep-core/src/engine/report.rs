//! What a run reports: per mailbox and for the task, in MSE's terms.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::replica::Counts;

/// How one mailbox fared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum MailboxOutcome {
    /// Replicated.
    Healthy,
    /// Not processed, for a reason (disabled, unlicensed, …).
    Skipped {
        /// Why.
        reason: String,
    },
    /// Another task was processing it.
    Locked {
        /// That task.
        task: String,
    },
    /// Replicated as far as was safe; an operator should look.
    NeedsAttention {
        /// Why.
        reason: String,
    },
    /// Failed; the replica keeps what the last successful batch wrote.
    Failed {
        /// What went wrong.
        error: String,
    },
}

impl MailboxOutcome {
    /// A short label for tables.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Skipped { .. } => "skipped",
            Self::Locked { .. } => "locked",
            Self::NeedsAttention { .. } => "attention",
            Self::Failed { .. } => "failed",
        }
    }
}

impl fmt::Display for MailboxOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Healthy => f.write_str("healthy"),
            Self::Skipped { reason } => write!(f, "skipped: {reason}"),
            Self::Locked { task } => write!(f, "locked by task {task}"),
            Self::NeedsAttention { reason } => write!(f, "needs attention: {reason}"),
            Self::Failed { error } => write!(f, "failed: {error}"),
        }
    }
}

/// One mailbox's part of a run (hosts sharing a run file it as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MailboxReport {
    /// The mailbox.
    pub address: String,
    /// How it fared.
    #[serde(flatten)]
    pub outcome: MailboxOutcome,
    /// What changed in its replica.
    pub counts: Counts,
    /// Calendars replicated.
    pub calendars: u32,
    /// Requests sent to the source.
    pub requests: u64,
    /// Requests repeated after a retryable error.
    pub retries: u64,
    /// Time spent waiting because the source throttled, in milliseconds.
    pub throttled_ms: u64,
    /// Wall time, in milliseconds.
    pub duration_ms: u64,
    /// Things worth knowing that did not stop the mailbox.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl MailboxReport {
    pub(crate) fn new(address: impl Into<String>, outcome: MailboxOutcome) -> Self {
        Self {
            address: address.into(),
            outcome,
            counts: Counts::default(),
            calendars: 0,
            requests: 0,
            retries: 0,
            throttled_ms: 0,
            duration_ms: 0,
            warnings: Vec::new(),
        }
    }
}

/// The task's status, as MSE names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum TaskStatus {
    /// Every mailbox healthy.
    #[serde(rename = "Enabled")]
    Enabled,
    /// At least one warning (a locked, skipped or attention mailbox).
    #[serde(rename = "Enabled With Warning")]
    EnabledWithWarning,
    /// At least one mailbox failed.
    #[serde(rename = "Enabled With Errors")]
    EnabledWithErrors,
    /// Every mailbox failed, or the group could not be resolved.
    #[serde(rename = "Failed")]
    Failed,
}

impl TaskStatus {
    /// Folds mailbox outcomes into a task status.
    ///
    /// ```
    /// use calrep_core::engine::{MailboxOutcome, TaskStatus};
    /// let ok = MailboxOutcome::Healthy;
    /// let bad = MailboxOutcome::Failed { error: "x".into() };
    /// assert_eq!(TaskStatus::fold([&ok, &ok]), TaskStatus::Enabled);
    /// assert_eq!(TaskStatus::fold([&ok, &bad]), TaskStatus::EnabledWithErrors);
    /// assert_eq!(TaskStatus::fold([&bad]), TaskStatus::Failed);
    /// ```
    pub fn fold<'a>(outcomes: impl IntoIterator<Item = &'a MailboxOutcome>) -> Self {
        let (mut total, mut failed, mut warned) = (0, 0, 0);
        for outcome in outcomes {
            total += 1;
            match outcome {
                MailboxOutcome::Healthy => {}
                MailboxOutcome::Failed { .. } => failed += 1,
                _ => warned += 1,
            }
        }
        match (failed, warned) {
            (f, _) if f > 0 && f == total => Self::Failed,
            (f, _) if f > 0 => Self::EnabledWithErrors,
            (_, w) if w > 0 => Self::EnabledWithWarning,
            _ => Self::Enabled,
        }
    }

    /// The name MSE uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "Enabled",
            Self::EnabledWithWarning => "Enabled With Warning",
            Self::EnabledWithErrors => "Enabled With Errors",
            Self::Failed => "Failed",
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The report of one run of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RunReport {
    /// The task.
    pub task: String,
    /// The site.
    pub site: String,
    /// Whether nothing was written (a plan).
    pub dry_run: bool,
    /// When it started.
    pub started: DateTime<Utc>,
    /// When it finished.
    pub finished: DateTime<Utc>,
    /// The task's status.
    pub status: TaskStatus,
    /// Why the whole run failed, if it did before reaching mailboxes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Per mailbox, sorted by address.
    pub mailboxes: Vec<MailboxReport>,
    /// Mailboxes whose replica is kept but no longer updated by this task.
    pub frozen: Vec<String>,
    /// Of the skipped entries in `mailboxes`, those that are not mailboxes
    /// at all (a contact, a group cut from a cycle, one not found).
    pub not_mailboxes: u64,
    /// Totals over all mailboxes.
    pub totals: Counts,
    /// Requests over all mailboxes.
    pub requests: u64,
    /// Retries over all mailboxes.
    pub retries: u64,
    /// Time throttled summed over all mailboxes, in milliseconds (mailboxes
    /// wait at the same time, so this can exceed the run's duration).
    pub throttled_ms: u64,
    /// Wall-clock time during which at least one mailbox waited on the
    /// server's throttling, in milliseconds.
    pub throttled_wall_ms: u64,
    /// Wall time, in milliseconds.
    pub duration_ms: u64,
}

impl RunReport {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"report not serialisable: {e}\"}}"))
    }
}
