//! Verification: a mailbox's replica compared with what its source holds now.

use std::collections::BTreeMap;

use serde::Serialize;

use super::sync::{PageBound, apply_privacy, in_window};
use super::{Engine, EngineError};
use crate::TaskId;
use crate::address::EmailAddress;
use crate::calendar::{CalendarDiff, CalendarItem, ItemId};
use crate::definition::IncludeCalendars;
use crate::mailbox::{Mailbox, MailboxError, Window};

/// One mailbox's verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MailboxVerification {
    /// The mailbox.
    pub address: String,
    /// Each difference, in words (items added, removed or changed and in
    /// which fields, and the occurrences in the horizon this touches, from
    /// [`CalendarDiff`]); empty when the replica equals the source.
    pub differences: Vec<String>,
    /// Why the source could not be read, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a verification found, overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum VerifyResult {
    /// Every mailbox was read and its replica equals its source.
    Equal,
    /// At least one replica differs from its source.
    Differences,
    /// No differences where mailboxes could be read, but some could not:
    /// their replicas are unverified, not wrong.
    Incomplete,
}

impl VerifyResult {
    /// The `calrep verify` exit code: 0 equal, 5 differences, 6 incomplete.
    ///
    /// ```
    /// use calrep_core::engine::VerifyResult;
    /// assert_eq!(VerifyResult::Incomplete.exit_code(), 6);
    /// ```
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Equal => 0,
            Self::Differences => 5,
            Self::Incomplete => 6,
        }
    }
}

/// The verification of a task's mailboxes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct VerifyReport {
    /// The task.
    pub task: String,
    /// The overall result.
    pub result: VerifyResult,
    /// Mailboxes whose source could not be read.
    pub unverified: usize,
    /// Per mailbox, sorted by address.
    pub mailboxes: Vec<MailboxVerification>,
}

impl VerifyReport {
    fn new(task: String, mailboxes: Vec<MailboxVerification>) -> Self {
        let unverified = mailboxes.iter().filter(|m| m.error.is_some()).count();
        let differing = mailboxes.iter().any(|m| !m.differences.is_empty());
        let result = match (differing, unverified) {
            (true, _) => VerifyResult::Differences,
            (false, 0) => VerifyResult::Equal,
            (false, _) => VerifyResult::Incomplete,
        };
        Self {
            task,
            result,
            unverified,
            mailboxes,
        }
    }

    /// Whether every mailbox's replica equals its source.
    pub fn is_equal(&self) -> bool {
        self.mailboxes
            .iter()
            .all(|m| m.differences.is_empty() && m.error.is_none())
    }

    /// How many differences there are in all.
    pub fn difference_count(&self) -> usize {
        self.mailboxes.iter().map(|m| m.differences.len()).sum()
    }
}

impl Engine {
    /// Compares each mailbox's replica with a full read of its source, as the
    /// task's definition shapes it, through the recurrence-aware
    /// [`CalendarDiff`] over the replication horizon. Writes nothing.
    pub async fn verify(&self, task: &TaskId) -> Result<VerifyReport, EngineError> {
        let (task, definition, source) = self.task_setup(task)?;
        let resolution = self.resolve(&task).await?;
        let mut mailboxes = Vec::new();
        // The same progress events as a run, so a verify of thousands of
        // mailboxes can show how far it is.
        self.emit(&super::Event::RunStarted {
            task: task.id.to_string(),
            mailboxes: resolution.mailboxes.len(),
        });
        for member in &resolution.mailboxes {
            let address = &member.address;
            let mut result = MailboxVerification {
                address: address.to_string(),
                differences: Vec::new(),
                error: None,
            };
            let compared = async {
                let mailbox = source.open(address).await?;
                self.compare_mailbox(&mailbox, address, &definition, &mut result.differences)
                    .await
            };
            if let Err(e) = compared.await {
                result.error = Some(e.to_string());
            }
            self.emit(&super::Event::MailboxFinished {
                address: result.address.clone(),
                outcome: match (&result.error, result.differences.len()) {
                    (Some(error), _) => super::MailboxOutcome::Failed {
                        error: error.clone(),
                    },
                    (None, 0) => super::MailboxOutcome::Healthy,
                    (None, n) => super::MailboxOutcome::NeedsAttention {
                        reason: format!("{n} difference{}", if n == 1 { "" } else { "s" }),
                    },
                },
            });
            mailboxes.push(result);
        }
        Ok(VerifyReport::new(task.id.to_string(), mailboxes))
    }

    async fn compare_mailbox(
        &self,
        mailbox: &std::sync::Arc<dyn Mailbox>,
        address: &EmailAddress,
        definition: &crate::definition::Definition,
        differences: &mut Vec<String>,
    ) -> Result<(), VerifyError> {
        let (include, privacy) = (definition.include, definition.private_items);
        let now = self.clock.now();
        let window = definition.window.map(|w| w.around(now));
        let horizon = (
            now - self.options.horizon_back,
            now + self.options.horizon_ahead,
        );
        let read_window = Window::from(window.unwrap_or(horizon));
        // The same bounds and retries as a run: a server that never ends
        // its pages or throttles must not hold verify either.
        let retry = self.options.retry(&[&self.shutdown]);
        let mut stats = crate::retry::CallStats::default();
        let calendars: Vec<_> = retry
            .run(&mut stats, || mailbox.calendars())
            .await?
            .into_iter()
            .filter(|c| include == IncludeCalendars::All || c.is_default)
            .collect();
        for stored in self.replica.calendars(address).await? {
            if !calendars.iter().any(|c| c.id == stored.id) {
                differences.push(format!(
                    "calendar {:?} is in the replica but not at the source",
                    stored.name
                ));
            }
        }
        for calendar in calendars {
            let mut source_items: BTreeMap<ItemId, CalendarItem> = BTreeMap::new();
            let mut state = None;
            let mut pages = PageBound::new(&calendar, self.options.max_pages_per_calendar);
            loop {
                pages.next()?;
                let page = retry
                    .run(&mut stats, || {
                        mailbox.changes(
                            &calendar.id,
                            state.as_ref(),
                            read_window,
                            self.options.page_size,
                        )
                    })
                    .await?;
                pages.check(&page, state.as_ref())?;
                for chunk in page.changed.chunks(self.options.fetch_batch.max(1)) {
                    let items = retry
                        .run(&mut stats, || mailbox.items(&calendar.id, chunk))
                        .await?;
                    for item in items {
                        if let Some(item) =
                            apply_privacy(privacy, item).filter(|item| in_window(item, window))
                        {
                            source_items.insert(item.id.clone(), item);
                        }
                    }
                }
                for id in &page.deleted {
                    source_items.remove(id);
                }
                state = page.state;
                if !page.more {
                    break;
                }
            }
            let replica_items = self.replica.items(address, &calendar.id).await?;
            let source_items: Vec<CalendarItem> = source_items.into_values().collect();
            // The replica is the first version, the source the second: an
            // "added" item is one the replica lacks.
            let diff = CalendarDiff::between(&replica_items, &source_items, horizon.0, horizon.1)?;
            differences.extend(
                diff.describe()
                    .into_iter()
                    .map(|line| format!("{:?}: {line}", calendar.name)),
            );
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
enum VerifyError {
    #[error(transparent)]
    Source(#[from] MailboxError),
    #[error(transparent)]
    Replica(#[from] crate::replica::ReplicaError),
    #[error(transparent)]
    Diff(#[from] crate::calendar::DiffError),
}
