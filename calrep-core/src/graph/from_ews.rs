//! Moving a site's replica from EWS to Graph without reading it again.
//!
//! A replica read over EWS keys calendars, items and modified occurrences
//! by EWS ids, and attachments by EWS attachment ids. Graph names the same
//! things differently. For each mailbox the site has EWS sync state for,
//! [`move_from_ews`] asks Graph's `translateExchangeIds` for the immutable
//! ids of every stored id (1,000 per call), reads the Graph attachment ids
//! of the items that have attachments (the call does not translate those;
//! they are matched by name and size), and rewrites the keys in one
//! transaction ([`ReplicaWriter::rekey`](crate::replica::ReplicaWriter::rekey)),
//! dropping the EWS sync states. The site's first Graph run is then a full
//! sync that finds every unchanged item already stored under its Graph id
//! and writes nothing for it.
//!
//! Each mailbox moves under its lease, so a run replicating it meanwhile
//! is waited for, never raced; a mailbox that fails keeps its EWS keys and
//! states untouched (a Graph run would then read it whole).

use std::collections::HashMap;

use chrono::{TimeDelta, Utc};
use futures_util::StreamExt;
use serde::Serialize;

use super::GraphSource;
use super::mailbox::{GraphMailbox, STATE_PREFIX, TRANSLATE_MAX};
use crate::address::EmailAddress;
use crate::calendar::{CalendarId, CalendarItem, ItemId};
use crate::mailbox::Mailbox;
use crate::replica::{Lease, Rekey, Rekeyed, Replica, ReplicaError};
use crate::retry::{CallStats, RetryPolicy};
use crate::{SiteId, TaskId};

/// The task name a move holds mailbox leases under.
const TASK: &str = "move-to-graph";

/// How long a move may hold one mailbox's lease if it dies.
const LEASE: TimeDelta = TimeDelta::minutes(15);

/// Items whose attachments are read in one call.
const ATTACHMENT_CHUNK: usize = 20;

/// What moving a site's replica to Graph did, mailbox by mailbox.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct MoveReport {
    /// The site.
    pub site: SiteId,
    /// Each mailbox the site had EWS sync state for.
    pub mailboxes: Vec<MailboxMove>,
}

impl MoveReport {
    /// How many mailboxes could not be moved.
    pub fn failed(&self) -> usize {
        self.mailboxes.iter().filter(|m| m.error.is_some()).count()
    }
}

/// One mailbox's move.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct MailboxMove {
    /// The mailbox (lower-case).
    pub mailbox: String,
    /// What was renamed (all zero when it failed).
    pub rekeyed: Rekeyed,
    /// Stored items and modified occurrences Graph had no id for (deleted
    /// at the source since the last run): they keep their EWS ids and the
    /// first Graph run removes them.
    pub untranslated: u64,
    /// Why it could not be moved; its replica is then unchanged.
    pub error: Option<String>,
}

/// Moves the replica of every mailbox `site` has EWS sync state for to
/// the Graph ids `source` reads, `concurrency` mailboxes at a time.
///
/// Only the replica's own failures end the move early; a mailbox Graph
/// refuses is reported and left as it was.
///
/// ```no_run
/// # async fn f(source: calrep_core::graph::GraphSource, replica: &dyn calrep_core::replica::Replica) -> Result<(), Box<dyn std::error::Error>> {
/// let report = calrep_core::graph::move_from_ews(&source, replica, &"online".into(), 8).await?;
/// for mailbox in &report.mailboxes {
///     println!("{}: {} items renamed", mailbox.mailbox, mailbox.rekeyed.items);
/// }
/// # Ok(()) }
/// ```
pub async fn move_from_ews(
    source: &GraphSource,
    replica: &dyn Replica,
    site: &SiteId,
    concurrency: usize,
) -> Result<MoveReport, ReplicaError> {
    let mut addresses: Vec<String> = replica
        .site_states(site)
        .await?
        .into_iter()
        .filter(|(_, state)| {
            state
                .as_ref()
                .is_none_or(|s| !s.as_str().starts_with(STATE_PREFIX))
        })
        .map(|(mailbox, _)| mailbox)
        .collect();
    addresses.dedup();
    let owner = crate::replica::owner::this_process(
        &TaskId::new(TASK),
        Utc::now().timestamp_nanos_opt().unwrap_or_default(),
    );
    let moves = futures_util::stream::iter(addresses)
        .map(|address| move_one(source, replica, site, address, &owner))
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    let mut mailboxes = moves.into_iter().collect::<Result<Vec<_>, _>>()?;
    mailboxes.sort_by(|a, b| a.mailbox.cmp(&b.mailbox));
    Ok(MoveReport {
        site: site.clone(),
        mailboxes,
    })
}

async fn move_one(
    source: &GraphSource,
    replica: &dyn Replica,
    site: &SiteId,
    address: String,
    owner: &str,
) -> Result<MailboxMove, ReplicaError> {
    let mut report = MailboxMove {
        mailbox: address.clone(),
        rekeyed: Rekeyed::default(),
        untranslated: 0,
        error: None,
    };
    let Ok(mailbox) = address.parse::<EmailAddress>() else {
        report.error = Some("the replica holds this address, but it is not one".into());
        return Ok(report);
    };
    let task = TaskId::new(TASK);
    if let Lease::HeldBy { task, until } = replica
        .acquire_lease(&mailbox, &task, owner, Utc::now(), LEASE)
        .await?
    {
        report.error = Some(format!(
            "task {task} is replicating it (lease until {until}); move it again after that"
        ));
        return Ok(report);
    }
    let planned = plan(&source.mailbox(&mailbox), replica, site).await;
    let outcome = match planned {
        Ok((plan, untranslated)) => {
            report.untranslated = untranslated;
            replica.rekey(plan).await.map(|r| report.rekeyed = r)
        }
        Err(Failure::Graph(message)) => {
            report.error = Some(message);
            Ok(())
        }
        Err(Failure::Replica(e)) => Err(e),
    };
    replica.release_lease(&mailbox, owner, None).await?;
    outcome.map(|()| report)
}

/// Why a mailbox's plan could not be made.
enum Failure {
    /// Graph refused or could not answer: this mailbox fails alone.
    Graph(String),
    /// The replica failed: the move stops.
    Replica(ReplicaError),
}

impl From<ReplicaError> for Failure {
    fn from(e: ReplicaError) -> Self {
        Self::Replica(e)
    }
}

/// The new keys of one mailbox's replica, and how many stored ids Graph
/// did not know.
async fn plan(
    graph: &GraphMailbox,
    replica: &dyn Replica,
    site: &SiteId,
) -> Result<(Rekey, u64), Failure> {
    let address = graph.address().clone();
    let mut stored: Vec<(CalendarId, Vec<CalendarItem>)> = Vec::new();
    for calendar in replica.calendar_ids(&address).await? {
        let items = replica.items(&address, &calendar).await?;
        stored.push((calendar, items));
    }
    let mut ids: Vec<String> = Vec::new();
    for (calendar, items) in &stored {
        ids.push(calendar.as_str().to_owned());
        for item in items {
            ids.push(item.id.as_str().to_owned());
            if let Some(rec) = &item.recurrence {
                ids.extend(
                    rec.modified
                        .iter()
                        .filter_map(|m| m.item.as_ref())
                        .map(|i| i.as_str().to_owned()),
                );
            }
        }
    }
    ids.sort();
    ids.dedup();
    let retry = RetryPolicy::default();
    let mut stats = CallStats::default();
    let graph_error = |e: crate::mailbox::MailboxError| Failure::Graph(e.to_string());
    let mut translated: HashMap<String, String> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(TRANSLATE_MAX) {
        let pairs = retry
            .run(&mut stats, || graph.translate_ids(chunk))
            .await
            .map_err(graph_error)?;
        translated.extend(pairs);
    }
    let mut plan = Rekey::new(site.clone(), address.clone());
    let mut untranslated = 0u64;
    for (calendar, items) in &stored {
        let Some(new) = translated.get(calendar.as_str()) else {
            return Err(Failure::Graph(format!(
                "Graph has no id for calendar {calendar}; nothing of this mailbox was changed"
            )));
        };
        plan.calendars
            .insert(calendar.clone(), CalendarId::new(new.clone()));
        let mut with_attachments = Vec::new();
        for item in items {
            let mut own = vec![&item.id];
            if let Some(rec) = &item.recurrence {
                own.extend(rec.modified.iter().filter_map(|m| m.item.as_ref()));
            }
            for id in own {
                match translated.get(id.as_str()) {
                    Some(new) => {
                        plan.items.insert(id.clone(), ItemId::new(new.clone()));
                    }
                    None => untranslated += 1,
                }
            }
            if let (false, Some(new)) = (item.attachments.is_empty(), plan.items.get(&item.id)) {
                with_attachments.push((item, new.clone()));
            }
        }
        let new_calendar = CalendarId::new(new.clone());
        for chunk in with_attachments.chunks(ATTACHMENT_CHUNK) {
            let new_ids: Vec<ItemId> = chunk.iter().map(|(_, new)| new.clone()).collect();
            let fresh = retry
                .run(&mut stats, || graph.items(&new_calendar, &new_ids))
                .await
                .map_err(graph_error)?;
            for (old, new) in chunk {
                if let Some(now) = fresh.iter().find(|f| f.id == *new) {
                    match_attachments(old, now, &mut plan);
                }
            }
        }
    }
    Ok((plan, untranslated))
}

/// Pairs `old`'s attachments with the Graph item's by name and size, in
/// order (Graph does not translate attachment ids).
fn match_attachments(old: &CalendarItem, now: &CalendarItem, plan: &mut Rekey) {
    let mut taken = vec![false; now.attachments.len()];
    for attachment in &old.attachments {
        let found =
            now.attachments.iter().enumerate().find(|(n, a)| {
                !taken[*n] && a.name == attachment.name && a.size == attachment.size
            });
        if let Some((n, a)) = found {
            taken[n] = true;
            plan.attachments
                .insert((old.id.clone(), attachment.id.clone()), a.id.clone());
        }
    }
}
