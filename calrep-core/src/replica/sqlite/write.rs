//! Writes of replicated content: batches with their sync state, full-sync
//! generations, removed calendars and refreshed occurrences — each in one
//! transaction, each advancing the calendar's change number when items
//! change.

use std::path::Path;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::open::db;
use super::{damaged, exec, one};
use crate::address::EmailAddress;
use crate::calendar::{CalendarId, ItemId, Occurrence, occurrence_delta};
use crate::mailbox::SyncState;
use crate::replica::{Batch, Counts, FullSync, ReplicaError, SyncKey};

pub(super) fn begin_full_sync(
    conn: &mut Connection,
    path: &Path,
    key: &SyncKey,
) -> Result<u64, ReplicaError> {
    let tx = conn.transaction().map_err(db(path))?;
    let mailbox = mailbox_id(&tx, &key.mailbox).map_err(db(path))?;
    let generation = next_generation(&tx, path)?;
    save_state(&tx, key, mailbox, None, Some(generation)).map_err(db(path))?;
    tx.commit().map_err(db(path))?;
    Ok(generation)
}

/// A fresh full-sync generation, counted in `meta` (the replica's own).
fn next_generation(tx: &Transaction<'_>, path: &Path) -> Result<u64, ReplicaError> {
    let next: i64 = one(
        tx,
        "SELECT coalesce(max(value), 0) + 1 FROM meta WHERE key = 'generation'",
        [],
        |r| r.get(0),
    )
    .map_err(db(path))?;
    exec(tx,
        "INSERT INTO meta (key, value) VALUES ('generation', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [next],
    )
    .map_err(db(path))?;
    u64::try_from(next).map_err(|_| damaged(path, "negative generation"))
}

pub(super) fn apply(
    conn: &mut Connection,
    path: &Path,
    batch: &Batch,
) -> Result<Counts, ReplicaError> {
    let err = db(path);
    let tx = conn.transaction().map_err(&err)?;
    let mut counts = Counts::default();
    let mut change = ChangeNumber::default();
    let mailbox = mailbox_id(&tx, &batch.key.mailbox).map_err(&err)?;
    if let Some(owner) = &batch.owner {
        let held: Option<(String, String)> = one(
            &tx,
            "SELECT task, owner FROM leases WHERE mailbox_id = ?1",
            [mailbox],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(&err)?;
        crate::replica::owner::fence(held, owner, &batch.key.mailbox)?;
        if let Some((now, ttl)) = batch.renew_lease {
            exec(
                &tx,
                "UPDATE leases SET expires_at = ?2 WHERE mailbox_id = ?1",
                params![mailbox, (now + ttl).timestamp()],
            )
            .map_err(&err)?;
        }
    }
    let calendar = calendar_id(&tx, mailbox, &batch.calendar).map_err(&err)?;
    // The full sync's generation, which stamps every item the batch sees,
    // and whether the batch ends it (a whole one is numbered here).
    let (generation, ends) = match batch.full_sync {
        FullSync::No => (None, false),
        FullSync::Part(g) => (Some(g), false),
        FullSync::Last(g) => (Some(g), true),
        FullSync::Whole => (Some(next_generation(&tx, path)?), true),
    };
    let stamp = generation.map(|g| i64::try_from(g).unwrap_or(i64::MAX));
    let mut find = tx
        .prepare_cached("SELECT id, body FROM items WHERE calendar_id = ?1 AND source_id = ?2")
        .map_err(&err)?;
    for id in &batch.deletes {
        let item: Option<i64> = find
            .query_row(params![calendar, id.as_str()], |r| r.get(0))
            .optional()
            .map_err(&err)?;
        if let Some(item) = item {
            let seq = change.get(&tx).map_err(&err)?;
            delete_item(&tx, item, seq, &mut counts).map_err(&err)?;
        }
    }
    let mut longest = 0i64;
    let mut new_occurrences: Vec<OccurrenceRow> = Vec::new();
    // A calendar's first full sync finds nothing to compare with: skip
    // the per-item lookups.
    let empty: bool = one(
        &tx,
        "SELECT NOT EXISTS (SELECT 1 FROM items WHERE calendar_id = ?1)",
        [calendar],
        |r| r.get(0),
    )
    .map_err(&err)?;
    for write in &batch.upserts {
        let body = serde_json::to_string(&write.item).map_err(|e| damaged(path, e.to_string()))?;
        let existing: Option<(i64, String)> = if empty {
            None
        } else {
            find.query_row(params![calendar, write.item.id.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(&err)?
        };
        let is_new = existing.is_none();
        let item = match existing {
            Some((item, old)) if old == body => {
                // Unchanged: the stored JSON is equal exactly when
                // `changed_fields` finds no difference (tests/diff_props),
                // and comparing strings avoids decoding the old item.
                // Only mark it seen by a full sync.
                if let Some(g) = stamp {
                    tx.prepare_cached("UPDATE items SET generation = ?2 WHERE id = ?1")
                        .and_then(|mut st| st.execute(params![item, g]))
                        .map_err(&err)?;
                }
                continue;
            }
            Some((item, _)) => {
                let seq = change.get(&tx).map_err(&err)?;
                tx.prepare_cached(
                    "UPDATE items SET uid = ?2, change_key = ?3, body = ?4, generation = coalesce(?5, generation), changed_seq = ?6 WHERE id = ?1",
                )
                .and_then(|mut st| {
                    st.execute(params![item, write.item.uid, write.item.change_key, body, stamp, seq])
                })
                .map_err(&err)?;
                counts.items_updated += 1;
                item
            }
            None => {
                let seq = change.get(&tx).map_err(&err)?;
                tx.prepare_cached(
                    "INSERT INTO items (calendar_id, source_id, uid, change_key, body, generation, changed_seq) VALUES (?1, ?2, ?3, ?4, ?5, coalesce(?6, 0), ?7)",
                )
                .and_then(|mut st| {
                    st.execute(params![calendar, write.item.id.as_str(), write.item.uid, write.item.change_key, body, stamp, seq])
                })
                .map_err(&err)?;
                if !empty {
                    // Back after a removal: no longer reported removed.
                    exec(
                        &tx,
                        "DELETE FROM removed_items WHERE calendar_id = ?1 AND source_id = ?2",
                        params![calendar, write.item.id.as_str()],
                    )
                    .map_err(&err)?;
                }
                counts.items_created += 1;
                tx.last_insert_rowid()
            }
        };
        if is_new {
            // New items' occurrences are inserted together at the end.
            for o in &write.occurrences {
                let row = OccurrenceRow::new(item, mailbox, o);
                longest = longest.max(row.end - row.start);
                new_occurrences.push(row);
            }
            counts.occurrences_created += write.occurrences.len() as u64;
        } else {
            let item_longest =
                write_occurrences(&tx, item, mailbox, &write.occurrences, &mut counts)
                    .map_err(&err)?;
            longest = longest.max(item_longest);
        }
        if !is_new {
            tx.prepare_cached("DELETE FROM item_attachments WHERE item_id = ?1")
                .and_then(|mut st| st.execute([item]))
                .map_err(&err)?;
        }
        for (attachment_id, content) in &write.attachments {
            let sha = match content {
                Some(bytes) => {
                    let sha = crate::replica::sha256_hex(bytes);
                    let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
                    let added = tx
                        .prepare_cached("INSERT INTO blobs (sha256, size, content) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")
                        .and_then(|mut st| st.execute(params![sha, size, bytes]))
                        .map_err(&err)?;
                    if added > 0 {
                        counts.attachment_bytes += bytes.len() as u64;
                    }
                    Some(sha)
                }
                None => None,
            };
            tx.prepare_cached(
                "INSERT OR REPLACE INTO item_attachments (item_id, attachment_id, sha256) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut st| st.execute(params![item, attachment_id, sha]))
            .map_err(&err)?;
        }
    }
    drop(find);
    insert_occurrences(&tx, &new_occurrences).map_err(&err)?;
    if longest > 0 {
        record_longest(&tx, longest).map_err(&err)?;
    }
    let open = match (stamp, ends) {
        (Some(g), true) => {
            // Items the full sync did not see are gone at the source;
            // those a newer full sync saw (another task's, which ran while
            // this one was left open) are not this one's to judge.
            let unseen: Vec<i64> = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT id FROM items WHERE calendar_id = ?1 AND generation < ?2",
                    )
                    .map_err(&err)?;
                let rows = stmt
                    .query_map(params![calendar, g], |r| r.get(0))
                    .map_err(&err)?;
                rows.collect::<Result<_, _>>().map_err(&err)?
            };
            for item in unseen {
                let seq = change.get(&tx).map_err(&err)?;
                delete_item(&tx, item, seq, &mut counts).map_err(&err)?;
            }
            None
        }
        _ => generation,
    };
    if let (true, Some(until)) = (ends, batch.horizon_until) {
        exec(
            &tx,
            "UPDATE calendars SET horizon_until = ?2 WHERE id = ?1",
            params![calendar, until.timestamp()],
        )
        .map_err(&err)?;
    }
    save_state(&tx, &batch.key, mailbox, batch.state.as_ref(), open).map_err(&err)?;
    change.stamp(&tx, calendar).map_err(&err)?;
    tx.commit().map_err(&err)?;
    Ok(counts)
}

pub(super) fn remove_calendar(
    conn: &mut Connection,
    path: &Path,
    mailbox: &EmailAddress,
    calendar: &CalendarId,
) -> Result<Counts, ReplicaError> {
    let err = db(path);
    let tx = conn.transaction().map_err(&err)?;
    let mut counts = Counts::default();
    let Some((mailbox_row, calendar_row)) = find_calendar(&tx, mailbox, calendar).map_err(&err)?
    else {
        return Ok(counts);
    };
    counts.occurrences_deleted = exec(
        &tx,
        "DELETE FROM occurrences WHERE item_id IN (SELECT id FROM items WHERE calendar_id = ?1)",
        [calendar_row],
    )
    .map_err(&err)? as u64;
    // Items go with their calendar (ON DELETE CASCADE), attachments with their items.
    counts.items_deleted = exec(
        &tx,
        "DELETE FROM items WHERE calendar_id = ?1",
        [calendar_row],
    )
    .map_err(&err)? as u64;
    exec(&tx, "DELETE FROM calendars WHERE id = ?1", [calendar_row]).map_err(&err)?;
    exec(
        &tx,
        "DELETE FROM sync_states WHERE mailbox_id = ?1 AND calendar = ?2",
        params![mailbox_row, calendar.as_str()],
    )
    .map_err(&err)?;
    tx.commit().map_err(&err)?;
    Ok(counts)
}

pub(super) fn refresh_occurrences(
    conn: &mut Connection,
    path: &Path,
    mailbox: &EmailAddress,
    calendar: &CalendarId,
    occurrences: &[(ItemId, Vec<Occurrence>)],
    horizon_from: DateTime<Utc>,
    horizon_until: DateTime<Utc>,
) -> Result<Counts, ReplicaError> {
    let err = db(path);
    let tx = conn.transaction().map_err(&err)?;
    let mut counts = Counts::default();
    let Some((mailbox_row, calendar_row)) = find_calendar(&tx, mailbox, calendar).map_err(&err)?
    else {
        return Ok(counts);
    };
    for (id, list) in occurrences {
        let item: Option<i64> = one(
            &tx,
            "SELECT id FROM items WHERE calendar_id = ?1 AND source_id = ?2",
            params![calendar_row, id.as_str()],
            |r| r.get(0),
        )
        .optional()
        .map_err(&err)?;
        if let Some(item) = item {
            let longest =
                write_occurrences(&tx, item, mailbox_row, list, &mut counts).map_err(&err)?;
            record_longest(&tx, longest).map_err(&err)?;
        }
    }
    counts.occurrences_deleted += exec(&tx,
            "DELETE FROM occurrences WHERE end_at < ?2 AND item_id IN (SELECT id FROM items WHERE calendar_id = ?1)",
            params![calendar_row, horizon_from.timestamp()],
        )
        .map_err(&err)? as u64;
    exec(
        &tx,
        "UPDATE calendars SET horizon_until = ?2 WHERE id = ?1",
        params![calendar_row, horizon_until.timestamp()],
    )
    .map_err(&err)?;
    tx.commit().map_err(&err)?;
    Ok(counts)
}

pub(super) fn mailbox_id(tx: &Connection, mailbox: &EmailAddress) -> rusqlite::Result<i64> {
    if let Some(id) = find_mailbox(tx, mailbox)? {
        return Ok(id);
    }
    exec(
        tx,
        "INSERT INTO mailboxes (address, display) VALUES (?1, ?2)",
        params![mailbox.key(), mailbox.as_str()],
    )?;
    Ok(tx.last_insert_rowid())
}

pub(super) fn find_mailbox(
    conn: &Connection,
    mailbox: &EmailAddress,
) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT id FROM mailboxes WHERE address = ?1")?
        .query_row([mailbox.key()], |r| r.get(0))
        .optional()
}

/// The (mailbox, calendar) rows of a replicated calendar, if it exists.
pub(super) fn find_calendar(
    conn: &Connection,
    mailbox: &EmailAddress,
    calendar: &CalendarId,
) -> rusqlite::Result<Option<(i64, i64)>> {
    one(
        conn,
        "SELECT c.mailbox_id, c.id FROM calendars c JOIN mailboxes m ON m.id = c.mailbox_id
         WHERE m.address = ?1 AND c.source_id = ?2",
        params![mailbox.key(), calendar.as_str()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

pub(super) fn calendar_id(
    tx: &Transaction<'_>,
    mailbox: i64,
    info: &crate::calendar::CalendarInfo,
) -> rusqlite::Result<i64> {
    exec(tx,
        "INSERT INTO calendars (mailbox_id, source_id, name, is_default) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (mailbox_id, source_id) DO UPDATE SET name = excluded.name, is_default = excluded.is_default",
        params![mailbox, info.id.as_str(), info.name, info.is_default],
    )?;
    one(
        tx,
        "SELECT id FROM calendars WHERE mailbox_id = ?1 AND source_id = ?2",
        params![mailbox, info.id.as_str()],
        |r| r.get(0),
    )
}

pub(super) fn save_state(
    tx: &Transaction<'_>,
    key: &SyncKey,
    mailbox: i64,
    state: Option<&SyncState>,
    full_sync: Option<u64>,
) -> rusqlite::Result<()> {
    let generation = full_sync.map(|g| i64::try_from(g).unwrap_or(i64::MAX));
    exec(tx,
        "INSERT INTO sync_states (site, task, mailbox_id, calendar, state, full_sync_gen) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (site, task, mailbox_id, calendar) DO UPDATE SET state = excluded.state, full_sync_gen = excluded.full_sync_gen",
        params![key.site.as_str(), key.task.as_str(), mailbox, key.calendar.as_str(), state.map(SyncState::as_str), generation],
    )?;
    Ok(())
}

/// Deletes an item, remembering it as removed at change number `seq`.
pub(super) fn delete_item(
    tx: &Transaction<'_>,
    item: i64,
    seq: i64,
    counts: &mut Counts,
) -> rusqlite::Result<()> {
    exec(
        tx,
        "INSERT INTO removed_items (calendar_id, source_id, removed_seq, uid) SELECT calendar_id, source_id, ?2, uid FROM items WHERE id = ?1
         ON CONFLICT (calendar_id, source_id) DO UPDATE SET removed_seq = excluded.removed_seq, uid = excluded.uid",
        params![item, seq],
    )?;
    counts.occurrences_deleted +=
        exec(tx, "DELETE FROM occurrences WHERE item_id = ?1", [item])? as u64;
    exec(
        tx,
        "DELETE FROM item_attachments WHERE item_id = ?1",
        [item],
    )?;
    counts.items_deleted += exec(tx, "DELETE FROM items WHERE id = ?1", [item])? as u64;
    Ok(())
}

/// Brings an item's stored occurrences to `occurrences`, writing only what
/// differs (so counts say what changed). Returns the longest duration.
pub(super) fn write_occurrences(
    tx: &Transaction<'_>,
    item: i64,
    mailbox: i64,
    occurrences: &[Occurrence],
    counts: &mut Counts,
) -> rusqlite::Result<i64> {
    let existing: Vec<Occurrence> = {
        let mut stmt = tx.prepare_cached(
        "SELECT original_start, start_at, end_at, is_exception FROM occurrences WHERE item_id = ?1",
    )?;
        let rows = stmt.query_map([item], |r| {
            let at = |i: usize| -> rusqlite::Result<DateTime<Utc>> {
                DateTime::from_timestamp(r.get(i)?, 0).ok_or_else(|| {
                    rusqlite::Error::IntegralValueOutOfRange(i, r.get(i).unwrap_or_default())
                })
            };
            Ok(Occurrence {
                original_start: at(0)?,
                start: at(1)?,
                end: at(2)?,
                is_exception: r.get(3)?,
            })
        })?;
        rows.collect::<Result<_, _>>()?
    };
    // The calendar diff's comparison decides what to write.
    let delta = occurrence_delta(&existing, occurrences);
    let mut upsert = tx.prepare_cached(
        "INSERT OR REPLACE INTO occurrences (item_id, mailbox_id, original_start, start_at, end_at, is_exception) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for o in delta.added.iter().chain(&delta.changed) {
        upsert.execute(params![
            item,
            mailbox,
            o.original_start.timestamp(),
            o.start.timestamp(),
            o.end.timestamp(),
            o.is_exception
        ])?;
    }
    counts.occurrences_created += delta.added.len() as u64;
    counts.occurrences_updated += delta.changed.len() as u64;
    if !delta.removed.is_empty() {
        let mut delete = tx
            .prepare_cached("DELETE FROM occurrences WHERE item_id = ?1 AND original_start = ?2")?;
        for key in &delta.removed {
            counts.occurrences_deleted += delete.execute(params![item, key.timestamp()])? as u64;
        }
    }
    let longest = occurrences
        .iter()
        .map(|o| (o.end - o.start).num_seconds())
        .max()
        .unwrap_or(0);
    Ok(longest)
}

/// One row of the occurrences table.
pub(super) struct OccurrenceRow {
    item: i64,
    mailbox: i64,
    original: i64,
    start: i64,
    end: i64,
    exception: bool,
}

impl OccurrenceRow {
    fn new(item: i64, mailbox: i64, o: &Occurrence) -> Self {
        Self {
            item,
            mailbox,
            original: o.original_start.timestamp(),
            start: o.start.timestamp(),
            end: o.end.timestamp(),
            exception: o.is_exception,
        }
    }
}

/// Inserts rows many per statement: SQLite's per-statement cost dominates
/// single-row inserts.
pub(super) fn insert_occurrences(
    tx: &Transaction<'_>,
    rows: &[OccurrenceRow],
) -> rusqlite::Result<()> {
    // Rows go in statements of 64, then 8, then 1: three texts, written
    // once per process and parsed once per connection. A statement sized
    // to each batch's remainder was parsed anew nearly every batch: most
    // of the 4.5 % of a run's CPU a profile found in SQLite's parser.
    static INSERTS: LazyLock<[(usize, String); 3]> = LazyLock::new(|| {
        [64, 8, 1].map(|n| {
            let values = vec!["(?, ?, ?, ?, ?, ?)"; n].join(", ");
            (n, format!(
                "INSERT OR REPLACE INTO occurrences (item_id, mailbox_id, original_start, start_at, end_at, is_exception) VALUES {values}"
            ))
        })
    });
    let mut rest = rows;
    for &(size, ref sql) in INSERTS.iter() {
        let whole = rest.len() - rest.len() % size;
        if whole == 0 {
            continue;
        }
        let mut insert = tx.prepare_cached(sql)?;
        for chunk in rest[..whole].chunks_exact(size) {
            let params: Vec<&dyn rusqlite::ToSql> = chunk
                .iter()
                .flat_map(|r| -> [&dyn rusqlite::ToSql; 6] {
                    [
                        &r.item,
                        &r.mailbox,
                        &r.original,
                        &r.start,
                        &r.end,
                        &r.exception,
                    ]
                })
                .collect();
            insert.execute(params.as_slice())?;
        }
        rest = &rest[whole..];
    }
    Ok(())
}

/// Readers bound their index scan by the longest occurrence stored.
pub(super) fn record_longest(tx: &Transaction<'_>, longest: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('longest_occurrence', ?1) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
    )?
    .execute([longest])?;
    Ok(())
}

/// The change number of one transaction's item writes: taken from the
/// replica-wide sequence on the first write, stamped on the calendar at
/// the end. A transaction that changes no item takes none.
#[derive(Debug, Default)]
pub(super) struct ChangeNumber(Option<i64>);

impl ChangeNumber {
    pub(super) fn get(&mut self, tx: &Transaction<'_>) -> rusqlite::Result<i64> {
        if let Some(seq) = self.0 {
            return Ok(seq);
        }
        let seq = one(
            tx,
            "INSERT INTO meta (key, value) VALUES ('change_seq', 1)
             ON CONFLICT (key) DO UPDATE SET value = value + 1 RETURNING value",
            [],
            |r| r.get(0),
        )?;
        self.0 = Some(seq);
        Ok(seq)
    }

    /// Records the calendar as changed at this number, if anything changed.
    pub(super) fn stamp(&self, tx: &Transaction<'_>, calendar: i64) -> rusqlite::Result<()> {
        if let Some(seq) = self.0 {
            exec(
                tx,
                "UPDATE calendars SET changed_seq = ?2 WHERE id = ?1",
                params![calendar, seq],
            )?;
        }
        Ok(())
    }
}
