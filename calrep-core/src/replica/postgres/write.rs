//! Writes of replicated content, each in one transaction: batches with
//! their sync state, full-sync generations, removed calendars and
//! refreshed occurrences.
//!
//! Round trips, not rows, are what a networked database charges for, so a
//! batch looks its items up in one query and inserts new items and their
//! occurrences in one statement each (`unnest` of arrays).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};

use super::{damaged, exec, row, rows, secs, server, signed};
use crate::address::EmailAddress;
use crate::calendar::{CalendarId, CalendarInfo, ItemId, Occurrence, occurrence_delta};
use crate::mailbox::SyncState;
use crate::replica::{Batch, Counts, FullSync, ItemWrite, ReplicaError, SyncKey};

type PgResult<T> = Result<T, tokio_postgres::Error>;

pub(super) async fn begin_full_sync(
    client: &mut deadpool_postgres::Client,
    name: &str,
    key: &SyncKey,
) -> Result<u64, ReplicaError> {
    let err = server(name);
    let tx = client.transaction().await.map_err(&err)?;
    let mailbox = mailbox_id(&tx, &key.mailbox).await.map_err(&err)?;
    let generation = next_generation(&tx, name).await?;
    save_state(&tx, key, mailbox, None, Some(generation))
        .await
        .map_err(&err)?;
    tx.commit().await.map_err(&err)?;
    Ok(generation)
}

/// A fresh full-sync generation, from the database's sequence.
async fn next_generation(tx: &Transaction<'_>, name: &str) -> Result<u64, ReplicaError> {
    let next: i64 = row(tx, "SELECT nextval('full_sync_generation')", &[])
        .await
        .map_err(server(name))?
        .map_or(0, |r| r.get(0));
    u64::try_from(next).map_err(|_| damaged(name, "negative generation"))
}

pub(super) async fn apply(
    client: &mut deadpool_postgres::Client,
    name: &str,
    batch: &Batch,
) -> Result<Counts, ReplicaError> {
    let err = server(name);
    let tx = client.transaction().await.map_err(&err)?;
    let mut counts = Counts::default();
    let mut change = ChangeNumbers::default();
    let mailbox = mailbox_id(&tx, &batch.key.mailbox).await.map_err(&err)?;
    if let Some(owner) = &batch.owner {
        // The renewal, where asked, is the fence: it finds the row only
        // while the lease is this run's, and locks it, so a takeover
        // waits until this batch is committed (leases are timed by the
        // database's clock, as `acquire_lease` times them).
        let renewed = match batch.renew_lease {
            Some((_, ttl)) => row(
                &tx,
                "UPDATE leases SET expires_at = extract(epoch FROM now())::int8 + $3
                 WHERE mailbox_id = $1 AND owner = $2 RETURNING 1",
                &[&mailbox, &owner.as_str(), &ttl.num_seconds()],
            )
            .await
            .map_err(&err)?
            .is_some(),
            None => false,
        };
        if !renewed {
            // FOR SHARE: a takeover (which updates the row) waits until
            // this batch is committed, so the fence holds to the end of it.
            let held = row(
                &tx,
                "SELECT task, owner FROM leases WHERE mailbox_id = $1 FOR SHARE",
                &[&mailbox],
            )
            .await
            .map_err(&err)?
            .map(|r| (r.get(0), r.get(1)));
            crate::replica::owner::fence(held, owner, &batch.key.mailbox)?;
        }
    }
    let calendar = calendar_id(&tx, mailbox, &batch.calendar)
        .await
        .map_err(&err)?;
    // The full sync's generation, which stamps every item the batch sees,
    // and whether the batch ends it (a whole one is numbered here).
    let (generation, ends) = match batch.full_sync {
        FullSync::No => (None, false),
        FullSync::Part(g) => (Some(g), false),
        FullSync::Last(g) => (Some(g), true),
        FullSync::Whole => (Some(next_generation(&tx, name).await?), true),
    };
    let stamp = generation.map(signed);
    if !batch.deletes.is_empty() {
        let ids: Vec<&str> = batch.deletes.iter().map(ItemId::as_str).collect();
        let found: Vec<i64> = rows(
            &tx,
            "SELECT id FROM items WHERE calendar_id = $1 AND source_id = ANY($2)",
            &[&calendar, &ids],
        )
        .await
        .map_err(&err)?
        .iter()
        .map(|r| r.get(0))
        .collect();
        if !found.is_empty() {
            let seq = change.get(&tx, calendar).await.map_err(&err)?;
            delete_items(&tx, &found, seq, &mut counts)
                .await
                .map_err(&err)?;
        }
    }
    // The last write of an item in a batch is the one that counts.
    let mut upserts: Vec<&ItemWrite> = Vec::with_capacity(batch.upserts.len());
    let mut seen = HashSet::new();
    for write in batch.upserts.iter().rev() {
        if seen.insert(write.item.id.as_str()) {
            upserts.push(write);
        }
    }
    upserts.reverse();
    let ids: Vec<&str> = upserts.iter().map(|w| w.item.id.as_str()).collect();
    let existing: HashMap<String, (i64, String)> = rows(
        &tx,
        "SELECT source_id, id, body FROM items WHERE calendar_id = $1 AND source_id = ANY($2)",
        &[&calendar, &ids],
    )
    .await
    .map_err(&err)?
    .into_iter()
    .map(|r| (r.get(0), (r.get(1), r.get(2))))
    .collect();
    let mut longest = 0i64;
    let mut unchanged = Vec::new();
    let mut new_items: Vec<(&ItemWrite, String)> = Vec::new();
    let mut written: Vec<(i64, &ItemWrite)> = Vec::new();
    for write in upserts {
        let body = serde_json::to_string(&write.item).map_err(|e| damaged(name, e.to_string()))?;
        match existing.get(write.item.id.as_str()) {
            // Unchanged: equal JSON is equal content (tests/diff_props);
            // a full sync only marks it seen.
            Some((item, old)) if *old == body => unchanged.push(*item),
            Some((item, _)) => {
                let seq = change.get(&tx, calendar).await.map_err(&err)?;
                exec(
                    &tx,
                    "UPDATE items SET uid = $2, change_key = $3, body = $4, generation = coalesce($5, generation), changed_seq = $6 WHERE id = $1",
                    &[item, &write.item.uid, &write.item.change_key, &body, &stamp, &seq],
                )
                .await
                .map_err(&err)?;
                counts.items_updated += 1;
                longest = longest.max(
                    write_occurrences(&tx, *item, mailbox, &write.occurrences, &mut counts)
                        .await
                        .map_err(&err)?,
                );
                exec(
                    &tx,
                    "DELETE FROM item_attachments WHERE item_id = $1",
                    &[item],
                )
                .await
                .map_err(&err)?;
                written.push((*item, write));
            }
            None => new_items.push((write, body)),
        }
    }
    if let (Some(g), false) = (stamp, unchanged.is_empty()) {
        exec(
            &tx,
            "UPDATE items SET generation = $2 WHERE id = ANY($1) AND generation <> $2",
            &[&unchanged, &g],
        )
        .await
        .map_err(&err)?;
    }
    if !new_items.is_empty() {
        let seq = change.get(&tx, calendar).await.map_err(&err)?;
        let inserted = insert_items(&tx, calendar, &new_items, stamp, seq)
            .await
            .map_err(&err)?;
        counts.items_created += new_items.len() as u64;
        // Back after a removal: no longer reported removed.
        let ids: Vec<&str> = new_items.iter().map(|(w, _)| w.item.id.as_str()).collect();
        exec(
            &tx,
            "DELETE FROM removed_items WHERE calendar_id = $1 AND source_id = ANY($2)",
            &[&calendar, &ids],
        )
        .await
        .map_err(&err)?;
        let mut occurrences = OccurrenceRows::default();
        for ((write, _), item) in new_items.iter().zip(&inserted) {
            for o in &write.occurrences {
                longest = longest.max(occurrences.push(*item, mailbox, o));
            }
            counts.occurrences_created += write.occurrences.len() as u64;
            written.push((*item, write));
        }
        occurrences.insert(&tx).await.map_err(&err)?;
    }
    for (item, write) in written {
        write_attachments(&tx, item, write, &mut counts)
            .await
            .map_err(&err)?;
    }
    record_longest(&tx, longest).await.map_err(&err)?;
    let open = match (stamp, ends) {
        (Some(g), true) => {
            // Items the full sync did not see are gone at the source;
            // those a newer full sync saw (another task's, which ran while
            // this one was left open) are not this one's to judge.
            let unseen: Vec<i64> = rows(
                &tx,
                "SELECT id FROM items WHERE calendar_id = $1 AND generation < $2",
                &[&calendar, &g],
            )
            .await
            .map_err(&err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
            if !unseen.is_empty() {
                let seq = change.get(&tx, calendar).await.map_err(&err)?;
                delete_items(&tx, &unseen, seq, &mut counts)
                    .await
                    .map_err(&err)?;
            }
            if let Some(until) = batch.horizon_until {
                exec(
                    &tx,
                    "UPDATE calendars SET horizon_until = $2 WHERE id = $1",
                    &[&calendar, &secs(until)],
                )
                .await
                .map_err(&err)?;
            }
            None
        }
        _ => generation,
    };
    save_state(&tx, &batch.key, mailbox, batch.state.as_ref(), open)
        .await
        .map_err(&err)?;
    tx.commit().await.map_err(&err)?;
    Ok(counts)
}

/// Inserts new items in one statement; their row ids, in order.
async fn insert_items(
    tx: &Transaction<'_>,
    calendar: i64,
    items: &[(&ItemWrite, String)],
    generation: Option<i64>,
    seq: i64,
) -> PgResult<Vec<i64>> {
    let column =
        |f: fn(&ItemWrite) -> &str| -> Vec<&str> { items.iter().map(|(w, _)| f(w)).collect() };
    let source_ids = column(|w| w.item.id.as_str());
    let uids = column(|w| &w.item.uid);
    let keys = column(|w| &w.item.change_key);
    let bodies: Vec<&str> = items.iter().map(|(_, b)| b.as_str()).collect();
    let generation = generation.unwrap_or(0);
    let inserted = rows(
        tx,
        "INSERT INTO items (calendar_id, source_id, uid, change_key, body, generation, changed_seq)
         SELECT $1, s, u, k, b, $6, $7 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS t(s, u, k, b, n)
         ORDER BY n
         RETURNING id, source_id",
        &[&calendar, &source_ids, &uids, &keys, &bodies, &generation, &seq],
    )
    .await?;
    // RETURNING's order is not promised: match by source id.
    let by_source: HashMap<String, i64> = inserted.iter().map(|r| (r.get(1), r.get(0))).collect();
    Ok(source_ids
        .iter()
        .map(|s| by_source.get(*s).copied().unwrap_or_default())
        .collect())
}

async fn write_attachments(
    tx: &Transaction<'_>,
    item: i64,
    write: &ItemWrite,
    counts: &mut Counts,
) -> PgResult<()> {
    for (attachment_id, content) in &write.attachments {
        let sha = match content {
            Some(bytes) => {
                let sha = crate::replica::sha256_hex(bytes);
                let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
                let added = exec(
                    tx,
                    "INSERT INTO blobs (sha256, size, content) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[&sha, &size, bytes],
                )
                .await?;
                if added > 0 {
                    counts.attachment_bytes += bytes.len() as u64;
                }
                Some(sha)
            }
            None => None,
        };
        exec(
            tx,
            "INSERT INTO item_attachments (item_id, attachment_id, sha256) VALUES ($1, $2, $3)
             ON CONFLICT (item_id, attachment_id) DO UPDATE SET sha256 = excluded.sha256",
            &[&item, attachment_id, &sha],
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn remove_calendar(
    client: &mut deadpool_postgres::Client,
    name: &str,
    mailbox: &EmailAddress,
    calendar: &CalendarId,
) -> Result<Counts, ReplicaError> {
    let err = server(name);
    let tx = client.transaction().await.map_err(&err)?;
    let mut counts = Counts::default();
    let Some((mailbox_row, calendar_row)) =
        find_calendar(&tx, mailbox, calendar).await.map_err(&err)?
    else {
        return Ok(counts);
    };
    counts.occurrences_deleted = exec(
        &tx,
        "DELETE FROM occurrences WHERE item_id IN (SELECT id FROM items WHERE calendar_id = $1)",
        &[&calendar_row],
    )
    .await
    .map_err(&err)?;
    // Attachments and removed-item records go with their rows (ON DELETE CASCADE).
    counts.items_deleted = exec(
        &tx,
        "DELETE FROM items WHERE calendar_id = $1",
        &[&calendar_row],
    )
    .await
    .map_err(&err)?;
    exec(&tx, "DELETE FROM calendars WHERE id = $1", &[&calendar_row])
        .await
        .map_err(&err)?;
    exec(
        &tx,
        "DELETE FROM sync_states WHERE mailbox_id = $1 AND calendar = $2",
        &[&mailbox_row, &calendar.as_str()],
    )
    .await
    .map_err(&err)?;
    tx.commit().await.map_err(&err)?;
    Ok(counts)
}

pub(super) async fn refresh_occurrences(
    client: &mut deadpool_postgres::Client,
    name: &str,
    mailbox: &EmailAddress,
    calendar: &CalendarId,
    occurrences: &[(ItemId, Vec<Occurrence>)],
    horizon_from: DateTime<Utc>,
    horizon_until: DateTime<Utc>,
) -> Result<Counts, ReplicaError> {
    let err = server(name);
    let tx = client.transaction().await.map_err(&err)?;
    let mut counts = Counts::default();
    let Some((mailbox_row, calendar_row)) =
        find_calendar(&tx, mailbox, calendar).await.map_err(&err)?
    else {
        return Ok(counts);
    };
    let mut longest = 0;
    for (id, list) in occurrences {
        let item = row(
            &tx,
            "SELECT id FROM items WHERE calendar_id = $1 AND source_id = $2",
            &[&calendar_row, &id.as_str()],
        )
        .await
        .map_err(&err)?;
        if let Some(item) = item {
            longest = longest.max(
                write_occurrences(&tx, item.get(0), mailbox_row, list, &mut counts)
                    .await
                    .map_err(&err)?,
            );
        }
    }
    record_longest(&tx, longest).await.map_err(&err)?;
    counts.occurrences_deleted += exec(
        &tx,
        "DELETE FROM occurrences WHERE end_at < $2 AND item_id IN (SELECT id FROM items WHERE calendar_id = $1)",
        &[&calendar_row, &secs(horizon_from)],
    )
    .await
    .map_err(&err)?;
    exec(
        &tx,
        "UPDATE calendars SET horizon_until = $2 WHERE id = $1",
        &[&calendar_row, &secs(horizon_until)],
    )
    .await
    .map_err(&err)?;
    tx.commit().await.map_err(&err)?;
    Ok(counts)
}

/// The mailbox's row id, added if new. Two hosts adding it at once both
/// get the one row: the second insert waits for the first and does nothing.
pub(super) async fn mailbox_id(c: &impl GenericClient, mailbox: &EmailAddress) -> PgResult<i64> {
    if let Some(id) = find_mailbox(c, mailbox).await? {
        return Ok(id);
    }
    exec(
        c,
        "INSERT INTO mailboxes (address, display) VALUES ($1, $2) ON CONFLICT (address) DO NOTHING",
        &[&mailbox.key(), &mailbox.as_str()],
    )
    .await?;
    let found = find_mailbox(c, mailbox).await?;
    Ok(found.unwrap_or_default())
}

pub(super) async fn find_mailbox(
    c: &impl GenericClient,
    mailbox: &EmailAddress,
) -> PgResult<Option<i64>> {
    let found = row(
        c,
        "SELECT id FROM mailboxes WHERE address = $1",
        &[&mailbox.key()],
    )
    .await?;
    Ok(found.map(|r| r.get(0)))
}

/// The (mailbox, calendar) rows of a replicated calendar, if it exists.
pub(super) async fn find_calendar(
    c: &impl GenericClient,
    mailbox: &EmailAddress,
    calendar: &CalendarId,
) -> PgResult<Option<(i64, i64)>> {
    let found = row(
        c,
        "SELECT c.mailbox_id, c.id FROM calendars c JOIN mailboxes m ON m.id = c.mailbox_id
         WHERE m.address = $1 AND c.source_id = $2",
        &[&mailbox.key(), &calendar.as_str()],
    )
    .await?;
    Ok(found.map(|r| (r.get(0), r.get(1))))
}

/// The calendar's row id, added or renamed as the source lists it; an
/// unchanged calendar's row is not rewritten.
async fn calendar_id(tx: &Transaction<'_>, mailbox: i64, info: &CalendarInfo) -> PgResult<i64> {
    let found = row(
        tx,
        "INSERT INTO calendars (mailbox_id, source_id, name, is_default) VALUES ($1, $2, $3, $4)
         ON CONFLICT (mailbox_id, source_id) DO UPDATE SET name = excluded.name, is_default = excluded.is_default
         WHERE calendars.name <> excluded.name OR calendars.is_default <> excluded.is_default
         RETURNING id",
        &[&mailbox, &info.id.as_str(), &info.name, &info.is_default],
    )
    .await?;
    if let Some(r) = found {
        return Ok(r.get(0));
    }
    let r = row(
        tx,
        "SELECT id FROM calendars WHERE mailbox_id = $1 AND source_id = $2",
        &[&mailbox, &info.id.as_str()],
    )
    .await?;
    Ok(r.map(|r| r.get(0)).unwrap_or_default())
}

pub(super) async fn save_state(
    tx: &Transaction<'_>,
    key: &SyncKey,
    mailbox: i64,
    state: Option<&SyncState>,
    full_sync: Option<u64>,
) -> PgResult<()> {
    let generation = full_sync.map(signed);
    exec(
        tx,
        "INSERT INTO sync_states (site, task, mailbox_id, calendar, state, full_sync_gen) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (site, task, mailbox_id, calendar) DO UPDATE SET state = excluded.state, full_sync_gen = excluded.full_sync_gen",
        &[
            &key.site.as_str(),
            &key.task.as_str(),
            &mailbox,
            &key.calendar.as_str(),
            &state.map(SyncState::as_str),
            &generation,
        ],
    )
    .await?;
    Ok(())
}

/// Deletes items, remembering them as removed at change number `seq`.
async fn delete_items(
    tx: &Transaction<'_>,
    items: &[i64],
    seq: i64,
    counts: &mut Counts,
) -> PgResult<()> {
    exec(
        tx,
        "INSERT INTO removed_items (calendar_id, source_id, removed_seq, uid)
         SELECT calendar_id, source_id, $2, uid FROM items WHERE id = ANY($1)
         ON CONFLICT (calendar_id, source_id) DO UPDATE SET removed_seq = excluded.removed_seq, uid = excluded.uid",
        &[&items, &seq],
    )
    .await?;
    counts.occurrences_deleted += exec(
        tx,
        "DELETE FROM occurrences WHERE item_id = ANY($1)",
        &[&items],
    )
    .await?;
    counts.items_deleted += exec(tx, "DELETE FROM items WHERE id = ANY($1)", &[&items]).await?;
    Ok(())
}

/// Brings an item's stored occurrences to `occurrences`, writing only what
/// differs (so counts say what changed). Returns the longest duration.
async fn write_occurrences(
    tx: &Transaction<'_>,
    item: i64,
    mailbox: i64,
    occurrences: &[Occurrence],
    counts: &mut Counts,
) -> PgResult<i64> {
    let at = |t: i64| DateTime::from_timestamp(t, 0).unwrap_or_default();
    let existing: Vec<Occurrence> = rows(
        tx,
        "SELECT original_start, start_at, end_at, is_exception FROM occurrences WHERE item_id = $1",
        &[&item],
    )
    .await?
    .iter()
    .map(|r| Occurrence {
        original_start: at(r.get(0)),
        start: at(r.get(1)),
        end: at(r.get(2)),
        is_exception: r.get(3),
    })
    .collect();
    // The calendar diff's comparison decides what to write.
    let delta = occurrence_delta(&existing, occurrences);
    let mut upserts = OccurrenceRows::default();
    for o in delta.added.iter().chain(&delta.changed) {
        upserts.push(item, mailbox, o);
    }
    upserts.insert(tx).await?;
    counts.occurrences_created += delta.added.len() as u64;
    counts.occurrences_updated += delta.changed.len() as u64;
    if !delta.removed.is_empty() {
        let keys: Vec<i64> = delta.removed.iter().map(|k| k.timestamp()).collect();
        counts.occurrences_deleted += exec(
            tx,
            "DELETE FROM occurrences WHERE item_id = $1 AND original_start = ANY($2)",
            &[&item, &keys],
        )
        .await?;
    }
    Ok(occurrences
        .iter()
        .map(|o| (o.end - o.start).num_seconds())
        .max()
        .unwrap_or(0))
}

/// Occurrence rows to write in one statement, column by column.
#[derive(Default)]
struct OccurrenceRows {
    item: Vec<i64>,
    mailbox: Vec<i64>,
    original: Vec<i64>,
    start: Vec<i64>,
    end: Vec<i64>,
    exception: Vec<bool>,
}

impl OccurrenceRows {
    /// Adds a row; its duration in seconds.
    fn push(&mut self, item: i64, mailbox: i64, o: &Occurrence) -> i64 {
        self.item.push(item);
        self.mailbox.push(mailbox);
        self.original.push(o.original_start.timestamp());
        self.start.push(o.start.timestamp());
        self.end.push(o.end.timestamp());
        self.exception.push(o.is_exception);
        o.end.timestamp() - o.start.timestamp()
    }

    async fn insert(&self, tx: &Transaction<'_>) -> PgResult<()> {
        if self.item.is_empty() {
            return Ok(());
        }
        exec(
            tx,
            "INSERT INTO occurrences (item_id, mailbox_id, original_start, start_at, end_at, is_exception)
             SELECT * FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::bool[])
             ON CONFLICT (item_id, original_start) DO UPDATE SET start_at = excluded.start_at, end_at = excluded.end_at, is_exception = excluded.is_exception",
            &[&self.item, &self.mailbox, &self.original, &self.start, &self.end, &self.exception],
        )
        .await?;
        Ok(())
    }
}

/// Readers bound their index scan by the longest occurrence stored. The
/// row is written only when the longest grows, so hosts do not queue on it.
async fn record_longest(tx: &Transaction<'_>, longest: i64) -> PgResult<()> {
    if longest > 0 {
        exec(
            tx,
            "UPDATE meta SET value = $1 WHERE key = 'longest_occurrence' AND value < $1",
            &[&longest],
        )
        .await?;
    }
    Ok(())
}

/// The change numbers of one transaction's item writes, one per calendar.
///
/// Taking a number updates the calendar's row, which stays locked until
/// the transaction ends: writers of one calendar take and commit their
/// numbers in the same order, so a reader that has seen number `n` has
/// seen every write numbered `n` or less. The shared sequence keeps a
/// calendar removed and added again from reusing its old numbers.
#[derive(Debug, Default)]
pub(super) struct ChangeNumbers(HashMap<i64, i64>);

impl ChangeNumbers {
    pub(super) async fn get(&mut self, tx: &Transaction<'_>, calendar: i64) -> PgResult<i64> {
        if let Some(seq) = self.0.get(&calendar) {
            return Ok(*seq);
        }
        let seq: i64 = row(
            tx,
            "UPDATE calendars SET changed_seq = greatest(changed_seq + 1, nextval('change_seq'))
             WHERE id = $1 RETURNING changed_seq",
            &[&calendar],
        )
        .await?
        .map_or(0, |r| r.get(0));
        self.0.insert(calendar, seq);
        Ok(seq)
    }
}
