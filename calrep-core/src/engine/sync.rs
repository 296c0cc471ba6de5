//! Replicating one mailbox: lease, calendars, pages of changes, batches.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::events::Event;
use super::report::{MailboxOutcome, MailboxReport};
use super::{Engine, RunContext};
use crate::address::EmailAddress;
use crate::calendar::{CalendarInfo, CalendarItem, ItemId, Occurrence, occurrence_delta};
use crate::definition::{IncludeCalendars, PrivatePolicy};
use crate::mailbox::{Mailbox, MailboxError, WantedAttachment, Window};
use crate::replica::{Batch, FullSync, ItemWrite, Lease, ReplicaError, SyncKey};
use crate::retry::CallStats;

/// Why a mailbox stopped.
enum Stop {
    Source(MailboxError),
    Replica(ReplicaError),
    Attention(String),
    Cancelled,
}

impl From<MailboxError> for Stop {
    fn from(e: MailboxError) -> Self {
        Self::Source(e)
    }
}

impl From<ReplicaError> for Stop {
    fn from(e: ReplicaError) -> Self {
        Self::Replica(e)
    }
}

impl Engine {
    pub(super) async fn sync_mailbox(
        &self,
        ctx: &RunContext,
        address: EmailAddress,
    ) -> MailboxReport {
        let started = Instant::now();
        self.emit(&Event::MailboxStarted {
            address: address.to_string(),
        });
        let mut report = MailboxReport::new(address.to_string(), MailboxOutcome::Healthy);
        let mut stats = CallStats::default();
        let outcome = if ctx.dry_run {
            self.replicate(ctx, &address, &mut report, &mut stats).await
        } else {
            match self
                .replica
                .acquire_lease(
                    &address,
                    &ctx.task.id,
                    &ctx.owner,
                    self.clock.now(),
                    self.options.lease_ttl,
                )
                .await
            {
                Err(e) => Err(Stop::Replica(e)),
                Ok(Lease::HeldBy { task, until }) => {
                    report.warnings.push(format!(
                        "locked by a run of task {task} until {} (renewed after each batch while it lives; a run that died elsewhere leaves it until then)",
                        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ));
                    report.outcome = MailboxOutcome::Locked {
                        task: task.to_string(),
                    };
                    Ok(())
                }
                Ok(lease @ (Lease::Acquired | Lease::TakenOver { .. })) => {
                    if let Lease::TakenOver { task, owner } = &lease {
                        report.warnings.push(format!(
                            "took over the stale lease of a run of task {task} that died (process {} on this machine)",
                            crate::replica::owner::pid_of(owner).map_or_else(|| "?".into(), |p| p.to_string())
                        ));
                    }
                    let result = self.replicate(ctx, &address, &mut report, &mut stats).await;
                    let synced = result.is_ok().then(|| self.clock.now());
                    if let Err(e) = self
                        .replica
                        .release_lease(&address, &ctx.owner, synced)
                        .await
                    {
                        report
                            .warnings
                            .push(format!("lease not released (it will expire): {e}"));
                    }
                    result
                }
            }
        };
        // A source error that ended a wait cut short by a stop is the stop.
        let stopping = self.shutdown.is_requested() || ctx.cancel.is_requested();
        let outcome = match outcome {
            Err(Stop::Source(_)) if stopping => Err(Stop::Cancelled),
            other => other,
        };
        match outcome {
            Ok(()) => {}
            Err(Stop::Attention(reason)) => {
                report.outcome = MailboxOutcome::NeedsAttention { reason }
            }
            Err(Stop::Cancelled) => {
                report.outcome = MailboxOutcome::Skipped {
                    reason:
                        "stopped (shutdown or cancel); the next run resumes from the last batch"
                            .into(),
                }
            }
            Err(Stop::Source(e)) => {
                report.outcome = MailboxOutcome::Failed {
                    error: e.to_string(),
                }
            }
            // Another run took the mailbox over while this one paused:
            // it is that run's now.
            Err(Stop::Replica(ReplicaError::LeaseLost { holder, task, .. })) => {
                report.warnings.push(format!(
                    "the lease passed to {holder} (a run of task {task}) while this run paused; that run goes on from the last batch written"
                ));
                report.outcome = MailboxOutcome::Locked { task };
            }
            Err(Stop::Replica(e)) => {
                report.outcome = MailboxOutcome::Failed {
                    error: e.to_string(),
                }
            }
        }
        // Where the source counts its HTTP requests, those; else calls.
        report.requests = stats.http.unwrap_or(stats.calls);
        report.retries = stats.retries;
        report.throttled_ms = u64::try_from(stats.throttled.as_millis()).unwrap_or(u64::MAX);
        report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.emit(&Event::MailboxFinished {
            address: address.to_string(),
            outcome: report.outcome.clone(),
        });
        report
    }

    async fn replicate(
        &self,
        ctx: &RunContext,
        address: &EmailAddress,
        report: &mut MailboxReport,
        stats: &mut CallStats,
    ) -> Result<(), Stop> {
        if self.shutdown.is_requested() || ctx.cancel.is_requested() {
            return Err(Stop::Cancelled);
        }
        let retry = self.run_retry(ctx);
        let mailbox = retry.run(stats, || ctx.source.open(address)).await?;
        let result = self
            .replicate_calendars(ctx, &mailbox, address, report, stats)
            .await;
        stats.http = mailbox.requests_sent();
        result
    }

    async fn replicate_calendars(
        &self,
        ctx: &RunContext,
        mailbox: &Arc<dyn Mailbox>,
        address: &EmailAddress,
        report: &mut MailboxReport,
        stats: &mut CallStats,
    ) -> Result<(), Stop> {
        let stored = self.replica.calendar_ids(address).await?;
        let calendars = self.source_calendars(ctx, mailbox, &stored, stats).await?;
        // Calendars removed at the source leave the replica (a plan counts
        // what that would delete).
        for stored in stored {
            if !calendars.iter().any(|c| c.id == stored) {
                let counts = self.remove_calendar(ctx, address, &stored).await?;
                report.counts.add(counts);
            }
        }
        let selected = calendars
            .into_iter()
            .filter(|c| ctx.definition.include == IncludeCalendars::All || c.is_default);
        let mut attention = Vec::new();
        for calendar in selected {
            report.calendars += 1;
            let key = SyncKey::new(
                ctx.task.site.clone(),
                ctx.task.id.clone(),
                address.clone(),
                calendar.id.clone(),
            );
            match self
                .sync_calendar(ctx, mailbox, &key, &calendar, report, stats)
                .await
            {
                Ok(()) if !ctx.dry_run => {
                    let counts = self
                        .roll_horizon(ctx, address, &calendar.id, report)
                        .await?;
                    report.counts.add(counts);
                }
                Ok(()) => {}
                Err(Stop::Attention(reason)) => attention.push(reason),
                Err(Stop::Source(MailboxError::CalendarGone(_))) => {
                    let counts = self.remove_calendar(ctx, address, &calendar.id).await?;
                    report.counts.add(counts);
                }
                Err(other) => return Err(other),
            }
        }
        match attention.is_empty() {
            true => Ok(()),
            false => Err(Stop::Attention(attention.join("; "))),
        }
    }

    /// The calendars at the source this run must know of. Under a "Default"
    /// definition that is the default calendar alone — one request on EWS
    /// instead of two — unless the replica holds another calendar of this
    /// mailbox: only the full list shows whether it is gone at the source.
    /// Either way the run removes and syncs exactly what the full list
    /// would have made it.
    async fn source_calendars(
        &self,
        ctx: &RunContext,
        mailbox: &Arc<dyn Mailbox>,
        stored: &[crate::calendar::CalendarId],
        stats: &mut CallStats,
    ) -> Result<Vec<CalendarInfo>, Stop> {
        let retry = self.run_retry(ctx);
        if ctx.definition.include == IncludeCalendars::Default
            && let Some(default) = retry.run(stats, || mailbox.default_calendar()).await?
            && stored.iter().all(|id| *id == default.id)
        {
            return Ok(vec![default]);
        }
        Ok(retry.run(stats, || mailbox.calendars()).await?)
    }

    async fn sync_calendar(
        &self,
        ctx: &RunContext,
        mailbox: &Arc<dyn Mailbox>,
        key: &SyncKey,
        calendar: &CalendarInfo,
        report: &mut MailboxReport,
        stats: &mut CallStats,
    ) -> Result<(), Stop> {
        let retry = self.run_retry(ctx);
        let stored = self.replica.sync_state(key).await?;
        let mut state = stored.state;
        // A state from no task or another task (none stored under this key)
        // means a full replication.
        let mut full = match (stored.full_sync, &state) {
            (Some(g), _) => FullRead::Open(g),
            (None, None) => FullRead::due(ctx),
            (None, Some(_)) => FullRead::No,
        };
        // Items enter a definition's window by the passage of time, without
        // changing at the source (so without appearing in the change
        // stream): once the window has moved by a day since the last full
        // read, the calendar is read in full again, which also removes what
        // left the window. A windowed source (Graph) fixes its window in its
        // states, so it is read again in full on the same terms.
        let window = Window::from(ctx.window.unwrap_or(ctx.horizon));
        let moves = ctx.window.is_some() || mailbox.windowed();
        if let (true, Some(_), FullRead::No) = (moves, &state, full) {
            let read_for = self
                .replica
                .horizon_until(&key.mailbox, &calendar.id)
                .await?;
            if read_for.is_none_or(|until| until + chrono::TimeDelta::days(1) <= ctx.horizon.1) {
                full = FullRead::due(ctx);
                state = None;
            }
        }
        // Attachments already in the replica, looked up once per calendar
        // and only when an item has any.
        let mut stored = StoredAttachments::new(key);
        // A dry run compares with the replica instead of writing to it.
        let mut plan = match ctx.dry_run {
            true => Some(Plan::new(
                self.replica.items(&key.mailbox, &calendar.id).await?,
            )),
            false => None,
        };
        // A server that never says "last page", or refuses every state it
        // issued, must not hold the run: pages are bounded, and a calendar
        // is read again in full at most once per run.
        let mut pages = PageBound::new(calendar, self.options.max_pages_per_calendar);
        let mut resynced = false;
        loop {
            pages.next()?;
            let page = match retry
                .run(stats, || {
                    mailbox.changes(&calendar.id, state.as_ref(), window, self.options.page_size)
                })
                .await
            {
                Ok(page) => page,
                Err(MailboxError::ResyncRequired) if state.is_some() && resynced => {
                    return Err(Stop::Source(MailboxError::Protocol(format!(
                        "calendar {:?}: the server refused a sync state it had just issued \
                         (ErrorInvalidSyncStateData twice in one run)",
                        calendar.name
                    ))));
                }
                Err(MailboxError::ResyncRequired) if state.is_some() => {
                    resynced = true;
                    self.emit(&Event::Warning {
                        address: Some(key.mailbox.to_string()),
                        message: format!(
                            "calendar {:?}: sync state no longer valid; reading it again in full",
                            calendar.name
                        ),
                    });
                    report.warnings.push(format!(
                        "calendar {:?} was resynchronised in full",
                        calendar.name
                    ));
                    full = FullRead::due(ctx);
                    state = None;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            pages.check(&page, state.as_ref())?;
            // A source may list an item twice in one page (created, then
            // updated): fetch and write it once.
            let mut seen = std::collections::HashSet::new();
            let changed: Vec<ItemId> = page
                .changed
                .iter()
                .filter(|id| seen.insert(*id))
                .cloned()
                .collect();
            let mut upserts = Vec::with_capacity(changed.len());
            let mut deletes = page.deleted.clone();
            for chunk in changed.chunks(self.options.fetch_batch.max(1)) {
                let items = retry
                    .run(stats, || mailbox.items(&calendar.id, chunk))
                    .await?;
                // Items that vanished between the change list and the fetch are deletions.
                for id in chunk {
                    if !items.iter().any(|i| &i.id == id) {
                        deletes.push(id.clone());
                    }
                }
                let shaped = upserts.len();
                for item in items {
                    match self.shape(ctx, item, &mut stored, report).await? {
                        Shaped::Write(write) => upserts.push(*write),
                        Shaped::Drop(id) => deletes.push(id),
                    }
                }
                self.download_attachments(ctx, mailbox, &mut upserts[shaped..], report, stats)
                    .await?;
            }
            let last = !page.more;
            let whole = last && !upserts.is_empty();
            if full == FullRead::Due && !whole {
                // Several batches (or nothing to write, which the guard
                // below may keep open): the generation first.
                full = FullRead::Open(self.replica.begin_full_sync(key).await?);
            }
            let full_sync = match (full, last) {
                (FullRead::No, _) => FullSync::No,
                (FullRead::Due, _) => FullSync::Whole,
                (FullRead::Open(g), false) => FullSync::Part(g),
                (FullRead::Open(g), true) => FullSync::Last(g),
            };
            let mut batch = Batch {
                key: key.clone(),
                calendar: calendar.clone(),
                upserts,
                deletes,
                state: page.state.clone(),
                full_sync,
                horizon_until: Some(ctx.horizon.1),
                owner: Some(ctx.owner.clone()),
                // Renew the lease with the batch: a live run keeps it, a
                // dead one loses it within one time-to-live.
                renew_lease: Some((self.clock.now(), self.options.lease_ttl)),
            };
            let mut guard = None;
            if let (FullSync::Last(g), false) = (full_sync, ctx.dry_run) {
                guard = self.mass_delete_guard(ctx, key, g, &batch).await?;
                if guard.is_some() {
                    // Keep the full sync open: nothing is deleted, and the next
                    // run looks again.
                    batch.full_sync = FullSync::Part(g);
                }
            }
            // Nothing changed and the state did not move: no write at all.
            let idle = batch.upserts.is_empty()
                && batch.deletes.is_empty()
                && batch.full_sync == FullSync::No
                && batch.state == state;
            if let Some(plan) = &mut plan {
                plan.count(&batch, &mut report.counts, ctx.horizon);
            } else if !idle {
                let counts = self.replica.apply(batch).await?;
                report.counts.add(counts);
                self.emit(&Event::BatchApplied {
                    address: key.mailbox.to_string(),
                    calendar: calendar.name.clone(),
                    counts,
                });
            }
            if let Some(reason) = guard {
                return Err(Stop::Attention(reason));
            }
            if (self.shutdown.is_requested() || ctx.cancel.is_requested()) && page.more {
                return Err(Stop::Cancelled);
            }
            state = page.state;
            if last {
                return Ok(());
            }
        }
    }

    /// The retry policy of a run's calls: interrupted by a shutdown or the
    /// run's cancel, its throttling waits recorded for the report.
    fn run_retry(&self, ctx: &RunContext) -> crate::retry::RetryPolicy {
        let mut retry = self.options.retry(&[&self.shutdown, &ctx.cancel]);
        retry.log = Some(Arc::clone(&ctx.throttling));
        retry
    }

    /// Removes a calendar the source no longer has from the replica — or,
    /// in a plan, counts what removing it would delete.
    async fn remove_calendar(
        &self,
        ctx: &RunContext,
        address: &EmailAddress,
        calendar: &crate::calendar::CalendarId,
    ) -> Result<crate::replica::Counts, Stop> {
        if !ctx.dry_run {
            return Ok(self.replica.remove_calendar(address, calendar).await?);
        }
        let mut counts = crate::replica::Counts::default();
        for item in self.replica.items(address, calendar).await? {
            count_deletion(&mut counts, &item, ctx.horizon);
        }
        Ok(counts)
    }

    /// Extends a calendar's materialised occurrences when the rolling
    /// horizon has moved on by more than a week since they were computed
    /// (and drops those that fell out of it behind).
    async fn roll_horizon(
        &self,
        ctx: &RunContext,
        address: &EmailAddress,
        calendar: &crate::calendar::CalendarId,
        report: &mut MailboxReport,
    ) -> Result<crate::replica::Counts, Stop> {
        let (from, until) = ctx.horizon;
        let fresh = self
            .replica
            .horizon_until(address, calendar)
            .await?
            .is_some_and(|stored| stored + chrono::TimeDelta::days(7) >= until);
        if fresh {
            return Ok(crate::replica::Counts::default());
        }
        let mut refreshed = Vec::new();
        for item in self.replica.items(address, calendar).await? {
            if item.recurrence.is_none() {
                continue;
            }
            match self.occurrences(&item, ctx.horizon) {
                Ok(list) => refreshed.push((item.id.clone(), list)),
                Err(message) => report.warnings.push(format!("item {}: {message}", item.id)),
            }
        }
        Ok(self
            .replica
            .refresh_occurrences(address, calendar, refreshed, from, until)
            .await?)
    }

    /// The mass-delete guard: a source that suddenly returns an empty
    /// calendar while the replica holds many items is more likely broken
    /// than emptied, so nothing is deleted unless the run is forced.
    async fn mass_delete_guard(
        &self,
        ctx: &RunContext,
        key: &SyncKey,
        generation: u64,
        batch: &Batch,
    ) -> Result<Option<String>, Stop> {
        if ctx.force || !batch.upserts.is_empty() {
            return Ok(None);
        }
        let (seen, unseen) = self.replica.full_sync_progress(key, generation).await?;
        if seen == 0 && unseen > self.options.mass_delete_threshold {
            return Ok(Some(format!(
                "the source returned calendar {:?} empty while the replica holds {unseen} items; nothing was deleted (run with --force to accept)",
                batch.calendar.name
            )));
        }
        Ok(None)
    }

    /// Applies the definition to an item: the private policy, attachments
    /// within the cap, and occurrences within the horizon.
    async fn shape(
        &self,
        ctx: &RunContext,
        item: CalendarItem,
        stored: &mut StoredAttachments,
        report: &mut MailboxReport,
    ) -> Result<Shaped, Stop> {
        let id = item.id.clone();
        let Some(item) = apply_privacy(ctx.definition.private_items, item) else {
            return Ok(Shaped::Drop(id));
        };
        if !in_window(&item, ctx.window) {
            return Ok(Shaped::Drop(id));
        }
        let occurrences = match self.occurrences(&item, ctx.horizon) {
            Ok(o) => o,
            Err(message) => {
                report.warnings.push(format!("item {}: {message}", item.id));
                Vec::new()
            }
        };
        let mut attachments = Vec::with_capacity(item.attachments.len());
        let policy = ctx.definition.attachments;
        for attachment in &item.attachments {
            let wanted = policy.takes(attachment.size) && !ctx.dry_run;
            // An attachment keeps its id while its content is unchanged:
            // one already stored is taken from the replica, not downloaded.
            // The others are downloaded with the rest of the chunk's
            // (`download_attachments`).
            let known = match wanted {
                true => {
                    stored
                        .content(self.replica.as_ref(), &item.id, &attachment.id)
                        .await?
                }
                false => None,
            };
            attachments.push((attachment.id.clone(), known));
        }
        Ok(Shaped::Write(Box::new(ItemWrite::new(
            item,
            occurrences,
            attachments,
        ))))
    }

    /// Downloads what `writes` lack of the attachments the definition
    /// takes (those the replica did not hold), in one call for the whole
    /// chunk: a source that can send several in one answer (EWS) then needs
    /// one request where it needed one per attachment.
    async fn download_attachments(
        &self,
        ctx: &RunContext,
        mailbox: &Arc<dyn Mailbox>,
        writes: &mut [ItemWrite],
        report: &mut MailboxReport,
        stats: &mut CallStats,
    ) -> Result<(), Stop> {
        let policy = ctx.definition.attachments;
        if !policy.enabled || ctx.dry_run {
            return Ok(());
        }
        // (write, attachment) of each content to download. `shape` keeps
        // a write's contents in the order of its item's attachments.
        let mut slots = Vec::new();
        for (w, write) in writes.iter().enumerate() {
            let listed = write.item.attachments.iter().zip(&write.attachments);
            for (a, (attachment, (_, content))) in listed.enumerate() {
                if content.is_none() && policy.takes(attachment.size) {
                    slots.push((w, a));
                }
            }
        }
        if slots.is_empty() {
            return Ok(());
        }
        let contents = {
            let wanted: Vec<WantedAttachment<'_>> = slots
                .iter()
                .map(|&(w, a)| {
                    let attachment = &writes[w].item.attachments[a];
                    WantedAttachment {
                        item: &writes[w].item.id,
                        id: &attachment.id,
                        declared_size: attachment.size,
                    }
                })
                .collect();
            let retry = self.run_retry(ctx);
            retry
                .run(stats, || mailbox.attachments(&wanted, policy.max_bytes))
                .await?
        };
        if contents.len() != slots.len() {
            return Err(Stop::Source(MailboxError::Protocol(format!(
                "the source gave {} attachment contents for {} asked",
                contents.len(),
                slots.len()
            ))));
        }
        for ((w, a), content) in slots.into_iter().zip(contents) {
            let write = &mut writes[w];
            if content.is_none() {
                let attachment = &write.item.attachments[a];
                report.warnings.push(format!(
                    "item {}: attachment {:?} is larger than the definition's cap of {} bytes \
                     (the item said {} bytes); stored without its content",
                    write.item.id, attachment.name, policy.max_bytes, attachment.size
                ));
            }
            write.attachments[a].1 = content;
        }
        Ok(())
    }

    /// An item's occurrences overlapping the horizon.
    pub(crate) fn occurrences(
        &self,
        item: &CalendarItem,
        horizon: (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<Vec<Occurrence>, String> {
        item.occurrences(horizon.0, horizon.1)
            .map_err(|e| format!("{e}; occurrences not materialised"))
    }
}

/// Where a calendar's full read stands in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FullRead {
    /// None: the batches are incremental.
    No,
    /// To begin. A calendar in one page is read whole in one batch
    /// ([`FullSync::Whole`]: one transaction); otherwise the generation is
    /// taken just before the first batch is written.
    Due,
    /// Under way with this generation.
    Open(u64),
}

impl FullRead {
    /// A full read about to begin: due, or in a dry run (which writes
    /// nothing) open with a generation of 0.
    fn due(ctx: &RunContext) -> Self {
        match ctx.dry_run {
            true => Self::Open(0),
            false => Self::Due,
        }
    }
}

/// The bounds on one calendar's stream of pages, shared by runs and
/// `verify`: at most `max` pages, and never "more" without a new state
/// (asking again would return the same page for ever).
pub(super) struct PageBound<'a> {
    calendar: &'a CalendarInfo,
    read: u32,
    max: u32,
}

impl<'a> PageBound<'a> {
    pub(super) fn new(calendar: &'a CalendarInfo, max: u32) -> Self {
        Self {
            calendar,
            read: 0,
            max,
        }
    }

    /// Before asking for the next page.
    pub(super) fn next(&mut self) -> Result<(), MailboxError> {
        self.read += 1;
        match self.read > self.max {
            true => Err(MailboxError::Protocol(format!(
                "calendar {:?}: the server sent {} pages of changes without a last one \
                 (engine.max_pages_per_calendar)",
                self.calendar.name, self.max
            ))),
            false => Ok(()),
        }
    }

    /// A page, against the state it was asked from.
    pub(super) fn check(
        &self,
        page: &crate::mailbox::ChangePage,
        asked_from: Option<&crate::mailbox::SyncState>,
    ) -> Result<(), MailboxError> {
        match page.more && page.state.is_some() && page.state.as_ref() == asked_from {
            true => Err(MailboxError::Protocol(format!(
                "calendar {:?}: the server said more changes wait but did not advance the \
                 sync state, so asking again would return the same page for ever",
                self.calendar.name
            ))),
            false => Ok(()),
        }
    }
}

/// The attachment contents a calendar's replica already holds, by item
/// and attachment id: loaded on first use.
struct StoredAttachments {
    mailbox: EmailAddress,
    calendar: crate::calendar::CalendarId,
    refs: Option<std::collections::HashMap<(ItemId, String), String>>,
}

impl StoredAttachments {
    fn new(key: &SyncKey) -> Self {
        Self {
            mailbox: key.mailbox.clone(),
            calendar: key.calendar.clone(),
            refs: None,
        }
    }

    /// The stored content of `item`'s attachment `id`, if the replica has it.
    async fn content(
        &mut self,
        replica: &dyn crate::replica::Replica,
        item: &ItemId,
        id: &str,
    ) -> Result<Option<Vec<u8>>, ReplicaError> {
        if self.refs.is_none() {
            let refs = replica
                .attachment_refs(&self.mailbox, &self.calendar)
                .await?;
            self.refs = Some(
                refs.into_iter()
                    .filter_map(|(item, id, sha)| Some(((item, id), sha?)))
                    .collect(),
            );
        }
        let sha = self
            .refs
            .as_ref()
            .and_then(|refs| refs.get(&(item.clone(), id.to_owned())));
        match sha {
            Some(sha) => replica.attachment(sha).await,
            None => Ok(None),
        }
    }
}

/// What a dry run would change in one calendar.
struct Plan {
    stored: std::collections::BTreeMap<ItemId, CalendarItem>,
    seen: std::collections::BTreeSet<ItemId>,
}

impl Plan {
    fn new(items: Vec<CalendarItem>) -> Self {
        Self {
            stored: items.into_iter().map(|i| (i.id.clone(), i)).collect(),
            seen: Default::default(),
        }
    }

    /// Counts what writing `batch` would change, occurrences included: the
    /// stored version's occurrences in the horizon against the new ones,
    /// compared as the replica compares them when it writes.
    fn count(
        &mut self,
        batch: &Batch,
        counts: &mut crate::replica::Counts,
        horizon: (DateTime<Utc>, DateTime<Utc>),
    ) {
        let stored_occurrences =
            |item: &CalendarItem| item.occurrences(horizon.0, horizon.1).unwrap_or_default();
        for write in &batch.upserts {
            self.seen.insert(write.item.id.clone());
            match self.stored.get(&write.item.id) {
                None => {
                    counts.items_created += 1;
                    counts.occurrences_created += write.occurrences.len() as u64;
                }
                Some(stored) if stored != &write.item => {
                    counts.items_updated += 1;
                    let delta = occurrence_delta(&stored_occurrences(stored), &write.occurrences);
                    counts.occurrences_created += delta.added.len() as u64;
                    counts.occurrences_updated += delta.changed.len() as u64;
                    counts.occurrences_deleted += delta.removed.len() as u64;
                }
                Some(_) => {}
            }
        }
        for id in &batch.deletes {
            if let Some(stored) = self.stored.remove(id) {
                count_deletion(counts, &stored, horizon);
            }
        }
        if let FullSync::Last(_) | FullSync::Whole = batch.full_sync {
            for (id, stored) in &self.stored {
                if !self.seen.contains(id) {
                    count_deletion(counts, stored, horizon);
                }
            }
        }
    }
}

/// Counts a stored item's deletion as the replica would: the item and its
/// occurrences in the horizon.
fn count_deletion(
    counts: &mut crate::replica::Counts,
    item: &CalendarItem,
    horizon: (DateTime<Utc>, DateTime<Utc>),
) {
    counts.items_deleted += 1;
    counts.occurrences_deleted += item
        .occurrences(horizon.0, horizon.1)
        .map_or(0, |o| o.len() as u64);
}

/// Whether an item has an occurrence in the definition's window (always,
/// without a window; and when its occurrences cannot be computed, so that
/// nothing is dropped for a reason calrep cannot show).
pub(super) fn in_window(
    item: &CalendarItem,
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> bool {
    window.is_none_or(|(from, to)| item.occurrences(from, to).map_or(true, |o| !o.is_empty()))
}

/// An item as a definition's private-item policy lets it into the replica.
pub(super) fn apply_privacy(policy: PrivatePolicy, item: CalendarItem) -> Option<CalendarItem> {
    match (item.sensitivity.is_private(), policy) {
        (true, PrivatePolicy::Skip) => None,
        (true, PrivatePolicy::Mask) => Some(item.masked()),
        _ => Some(item),
    }
}

enum Shaped {
    Write(Box<ItemWrite>),
    Drop(ItemId),
}
