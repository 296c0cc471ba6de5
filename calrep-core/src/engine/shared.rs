//! Running a task's mailboxes as one part of a run several hosts share
//! (see [`RunCoordinator`]): claim a few, replicate them, file their
//! reports, and go on until no mailbox is left — taking over those whose
//! host died — then assemble the whole run's report.

use std::collections::HashMap;
use std::time::Duration;

use chrono::TimeDelta;
use sha2::{Digest, Sha256};

use super::{Engine, MailboxOutcome, MailboxReport, RunContext};
use crate::address::EmailAddress;
use crate::replica::RunCoordinator;

/// A shared run's outcome on this host.
pub(super) struct SharedOutcome {
    /// Every host's mailbox reports.
    pub(super) mailboxes: Vec<MailboxReport>,
    /// Whether this host closed the run (so it records the report).
    pub(super) closed_here: bool,
}

impl Engine {
    /// Replicates `addresses` as part of the task's shared run.
    pub(super) async fn run_shared(
        &self,
        ctx: &RunContext,
        coordinator: &dyn RunCoordinator,
        addresses: Vec<EmailAddress>,
    ) -> Result<SharedOutcome, String> {
        let digest = self.config_digest(ctx);
        let keys: Vec<String> = addresses.iter().map(|a| a.key().to_owned()).collect();
        let ttl = self.options.lease_ttl;
        let abandoned_after = (ttl * 4).max(TimeDelta::minutes(1));
        let run = coordinator
            .join_run(
                &ctx.task.id,
                &digest,
                ctx.due.map(|t| t.timestamp()),
                &keys,
                abandoned_after,
            )
            .await
            .map_err(|e| e.to_string())?
            .map_err(|refused| refused.to_string())?;
        // Another host already ran this due instant: only its report is left.
        let mine = match run.finished {
            true => Vec::new(),
            false => {
                self.work_on(ctx, coordinator, run.id, &keys, &addresses)
                    .await?
            }
        };
        let progress = coordinator
            .progress(run.id)
            .await
            .map_err(|e| e.to_string())?;
        if progress.pending > 0 {
            // Stopped with mailboxes left: the run stays open for the
            // others; this host reports what it did.
            return Ok(SharedOutcome {
                mailboxes: mine,
                closed_here: false,
            });
        }
        let (closed_here, reports) = coordinator
            .close(run.id, &ctx.owner)
            .await
            .map_err(|e| e.to_string())?;
        let mut mailboxes = Vec::with_capacity(reports.len());
        for json in &reports {
            match serde_json::from_str::<MailboxReport>(json) {
                Ok(m) => mailboxes.push(m),
                Err(e) => return Err(format!("a host filed an unreadable mailbox report: {e}")),
            }
        }
        Ok(SharedOutcome {
            mailboxes,
            closed_here,
        })
    }

    /// This host's part of run `run`: as many workers as its concurrency,
    /// each claiming one mailbox at a time, replicating it and filing its
    /// report, until nothing is left to claim or wait for, or a stop is
    /// requested; returns the reports it filed.
    ///
    /// Each worker makes its own calls to the store. (One loop that claimed
    /// for all while holding the others' unfinished futures would stop
    /// polling them while it waited, and could wait for a connection that
    /// only they would give back.)
    async fn work_on(
        &self,
        ctx: &RunContext,
        coordinator: &dyn RunCoordinator,
        run: i64,
        keys: &[String],
        addresses: &[EmailAddress],
    ) -> Result<Vec<MailboxReport>, String> {
        let by_key: HashMap<&str, &EmailAddress> =
            keys.iter().map(String::as_str).zip(addresses).collect();
        let workers = (0..self.options.concurrency.max(1))
            .map(|_| self.worker(ctx, coordinator, run, &by_key));
        let mut mine = Vec::new();
        for filed in futures_util::future::join_all(workers).await {
            mine.extend(filed?);
        }
        Ok(mine)
    }

    /// One worker of [`work_on`](Self::work_on).
    async fn worker(
        &self,
        ctx: &RunContext,
        coordinator: &dyn RunCoordinator,
        run: i64,
        by_key: &HashMap<&str, &EmailAddress>,
    ) -> Result<Vec<MailboxReport>, String> {
        let ttl = self.options.lease_ttl;
        // A mailbox another run holds is tried again after this.
        let retry_locked = ttl.min(TimeDelta::seconds(5));
        let mut mine = Vec::new();
        loop {
            if self.shutdown.is_requested() || ctx.cancel.is_requested() {
                return Ok(mine);
            }
            let claimed = coordinator
                .claim(run, &ctx.owner, 1, ttl)
                .await
                .map_err(|e| e.to_string())?;
            let Some(key) = claimed.into_iter().next() else {
                let progress = coordinator.progress(run).await.map_err(|e| e.to_string())?;
                let Some(next_free) = progress.next_free else {
                    return Ok(mine);
                };
                // Others hold what is left: wait for them to finish, or
                // for a dead host's claim to end.
                tokio::time::sleep(
                    next_free.clamp(Duration::from_millis(50), Duration::from_secs(1)),
                )
                .await;
                continue;
            };
            // A mailbox another host added to the run is parsed here; one
            // that does not parse is reported as such.
            let address = match by_key.get(key.as_str()) {
                Some(a) => (*a).clone(),
                None => match key.parse::<EmailAddress>() {
                    Ok(a) => a,
                    Err(e) => {
                        let error = e.to_string();
                        let report =
                            MailboxReport::new(key.clone(), MailboxOutcome::Failed { error });
                        self.file(coordinator, run, &key, &report).await?;
                        continue;
                    }
                },
            };
            let report = self.sync_mailbox(ctx, address).await;
            let stopping = self.shutdown.is_requested() || ctx.cancel.is_requested();
            match &report.outcome {
                MailboxOutcome::Locked { .. } => coordinator
                    .release(run, &key, retry_locked)
                    .await
                    .map_err(|e| e.to_string())?,
                // Stopped: another host (or the next run) goes on.
                MailboxOutcome::Skipped { .. } if stopping => coordinator
                    .release(run, &key, TimeDelta::zero())
                    .await
                    .map_err(|e| e.to_string())?,
                _ => {
                    self.file(coordinator, run, &key, &report).await?;
                    mine.push(report);
                }
            }
        }
    }

    /// Files a finished mailbox's report with the run.
    async fn file(
        &self,
        coordinator: &dyn RunCoordinator,
        run: i64,
        key: &str,
        report: &MailboxReport,
    ) -> Result<(), String> {
        let json = serde_json::to_string(report).map_err(|e| e.to_string())?;
        coordinator
            .finish(run, key, &json)
            .await
            .map_err(|e| e.to_string())
    }

    /// What must be equal on every host that joins a run of this task: the
    /// task, its definition and its site, as configured (secrets are only
    /// references), hashed.
    fn config_digest(&self, ctx: &RunContext) -> String {
        let site = self.config.site(&ctx.task.site);
        let text = serde_json::to_string(&(&ctx.task, &ctx.definition, site)).unwrap_or_default();
        crate::encoding::hex(&Sha256::digest(text.as_bytes()))[..16].to_owned()
    }
}
