//! Reads: what the engine reads back (sync states, full-sync progress,
//! horizons, attachment references) and what readers use (mailboxes,
//! calendars, items, occurrences in a window, attachments, changes).

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::open::db;
use super::{damaged, one};
use crate::TaskId;
use crate::address::EmailAddress;
use crate::calendar::{CalendarId, CalendarItem, ItemId, Occurrence};
use crate::mailbox::SyncState;
use crate::replica::{
    ChangeSet, ReplicaCalendar, ReplicaError, ReplicaMailbox, ReplicaOccurrence, StoredState,
    SyncKey,
};

pub(super) fn sync_state(
    conn: &Connection,
    path: &Path,
    key: &SyncKey,
) -> Result<StoredState, ReplicaError> {
    let row: Option<(Option<String>, Option<i64>)> = one(
        conn,
        "SELECT s.state, s.full_sync_gen FROM sync_states s JOIN mailboxes m ON m.id = s.mailbox_id
             WHERE s.site = ?1 AND s.task = ?2 AND m.address = ?3 AND s.calendar = ?4",
        params![
            key.site.as_str(),
            key.task.as_str(),
            key.mailbox.key(),
            key.calendar.as_str()
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(db(path))?;
    Ok(
        row.map_or_else(StoredState::default, |(state, generation)| StoredState {
            state: state.map(SyncState::new),
            full_sync: generation.and_then(|g| u64::try_from(g).ok()),
        }),
    )
}

pub(super) fn full_sync_progress(
    conn: &Connection,
    path: &Path,
    key: &SyncKey,
    generation: u64,
) -> Result<(u64, u64), ReplicaError> {
    let (seen, unseen): (i64, i64) = one(conn,
            "SELECT coalesce(sum(i.generation = ?3), 0), coalesce(sum(i.generation < ?3), 0)
             FROM items i JOIN calendars c ON c.id = i.calendar_id JOIN mailboxes m ON m.id = c.mailbox_id
             WHERE m.address = ?1 AND c.source_id = ?2",
            params![key.mailbox.key(), key.calendar.as_str(), i64::try_from(generation).unwrap_or(i64::MAX)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(db(path))?;
    Ok((
        u64::try_from(seen).unwrap_or(0),
        u64::try_from(unseen).unwrap_or(0),
    ))
}

pub(super) fn task_mailboxes(
    conn: &Connection,
    path: &Path,
    site: &crate::SiteId,
    task: &TaskId,
) -> Result<Vec<String>, ReplicaError> {
    let mut stmt = conn
        .prepare(
            "SELECT DISTINCT m.address FROM sync_states s JOIN mailboxes m ON m.id = s.mailbox_id
             WHERE s.site = ?1 AND s.task = ?2 ORDER BY m.address",
        )
        .map_err(db(path))?;
    let rows = stmt
        .query_map(params![site.as_str(), task.as_str()], |r| r.get(0))
        .map_err(db(path))?;
    rows.collect::<Result<_, _>>().map_err(db(path))
}

pub(super) fn site_states(
    conn: &Connection,
    path: &Path,
    site: &crate::SiteId,
) -> Result<Vec<(String, Option<crate::mailbox::SyncState>)>, ReplicaError> {
    let mut stmt = conn
        .prepare(
            "SELECT m.address, s.state FROM sync_states s JOIN mailboxes m ON m.id = s.mailbox_id
             WHERE s.site = ?1 ORDER BY m.address",
        )
        .map_err(db(path))?;
    let rows = stmt
        .query_map([site.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?
                    .map(crate::mailbox::SyncState::new),
            ))
        })
        .map_err(db(path))?;
    rows.collect::<Result<_, _>>().map_err(db(path))
}

pub(super) fn calendar_ids(
    conn: &Connection,
    path: &Path,
    mailbox: &EmailAddress,
) -> Result<Vec<CalendarId>, ReplicaError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT c.source_id FROM calendars c JOIN mailboxes m ON m.id = c.mailbox_id WHERE m.address = ?1",
        )
        .map_err(db(path))?;
    let rows = stmt
        .query_map([mailbox.key()], |r| {
            Ok(CalendarId::new(r.get::<_, String>(0)?))
        })
        .map_err(db(path))?;
    rows.collect::<Result<_, _>>().map_err(db(path))
}

fn mailbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReplicaMailbox> {
    Ok(ReplicaMailbox {
        address: r.get(0)?,
        frozen: r.get(1)?,
        last_synced: r
            .get::<_, Option<i64>>(2)?
            .and_then(|t| DateTime::from_timestamp(t, 0)),
    })
}

pub(super) fn mailboxes(
    conn: &Connection,
    path: &Path,
) -> Result<Vec<ReplicaMailbox>, ReplicaError> {
    let mut stmt = conn
        .prepare("SELECT display, frozen_reason, last_synced_at FROM mailboxes ORDER BY address")
        .map_err(db(path))?;
    let rows = stmt.query_map([], mailbox_row).map_err(db(path))?;
    rows.collect::<Result<_, _>>().map_err(db(path))
}

pub(super) fn mailbox(
    conn: &Connection,
    path: &Path,
    mailbox: &EmailAddress,
) -> Result<Option<ReplicaMailbox>, ReplicaError> {
    conn.prepare_cached(
        "SELECT display, frozen_reason, last_synced_at FROM mailboxes WHERE address = ?1",
    )
    .and_then(|mut stmt| stmt.query_row([mailbox.key()], mailbox_row).optional())
    .map_err(db(path))
}

pub(super) fn calendar_names(
    conn: &Connection,
    path: &Path,
    mailbox: &EmailAddress,
) -> Result<Vec<(CalendarId, String)>, ReplicaError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT c.source_id, c.name FROM calendars c JOIN mailboxes m ON m.id = c.mailbox_id
             WHERE m.address = ?1 ORDER BY c.is_default DESC, c.name",
        )
        .map_err(db(path))?;
    let rows = stmt
        .query_map([mailbox.key()], |r| {
            Ok((CalendarId::new(r.get::<_, String>(0)?), r.get(1)?))
        })
        .map_err(db(path))?;
    rows.collect::<Result<_, _>>().map_err(db(path))
}

pub(super) fn calendars(
    conn: &Connection,
    path: &Path,
    mailbox: &EmailAddress,
) -> Result<Vec<ReplicaCalendar>, ReplicaError> {
    let mut stmt = conn
        .prepare(
            "SELECT c.source_id, c.name, c.is_default, (SELECT count(*) FROM items i WHERE i.calendar_id = c.id)
             FROM calendars c JOIN mailboxes m ON m.id = c.mailbox_id WHERE m.address = ?1 ORDER BY c.is_default DESC, c.name",
        )
        .map_err(db(path))?;
    let rows = stmt
        .query_map([mailbox.key()], |r| {
            Ok(ReplicaCalendar {
                id: CalendarId::new(r.get::<_, String>(0)?),
                name: r.get(1)?,
                is_default: r.get(2)?,
                items: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
            })
        })
        .map_err(db(path))?;
    rows.collect::<Result<_, _>>().map_err(db(path))
}

pub(super) fn items(
    conn: &Connection,
    path: &Path,
    mailbox: &EmailAddress,
    calendar: &CalendarId,
) -> Result<Vec<CalendarItem>, ReplicaError> {
    let mut stmt = conn
        .prepare(
            "SELECT i.body FROM items i JOIN calendars c ON c.id = i.calendar_id JOIN mailboxes m ON m.id = c.mailbox_id
             WHERE m.address = ?1 AND c.source_id = ?2 ORDER BY i.source_id",
        )
        .map_err(db(path))?;
    let bodies: Vec<String> = stmt
        .query_map(params![mailbox.key(), calendar.as_str()], |r| r.get(0))
        .map_err(db(path))?
        .collect::<Result<_, _>>()
        .map_err(db(path))?;
    bodies
        .iter()
        .map(|b| serde_json::from_str(b).map_err(|e| damaged(path, format!("item body: {e}"))))
        .collect()
}

pub(super) fn occurrences(
    conn: &Connection,
    path: &Path,
    mailbox: &EmailAddress,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ReplicaOccurrence>, ReplicaError> {
    let longest: i64 = one(
        conn,
        "SELECT coalesce(max(value), 0) FROM meta WHERE key = 'longest_occurrence'",
        [],
        |r| r.get(0),
    )
    .map_err(db(path))?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT c.source_id, i.source_id, i.body, o.original_start, o.start_at, o.end_at, o.is_exception
             FROM occurrences o JOIN items i ON i.id = o.item_id JOIN calendars c ON c.id = i.calendar_id
             WHERE o.mailbox_id = (SELECT id FROM mailboxes WHERE address = ?1)
               AND o.start_at >= ?2 AND o.start_at < ?3 AND o.end_at > ?4
             ORDER BY o.start_at, i.source_id",
        )
        .map_err(db(path))?;
    let rows = stmt
        .query_map(
            params![
                mailbox.key(),
                from.timestamp() - longest,
                to.timestamp(),
                from.timestamp()
            ],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, bool>(6)?,
                ))
            },
        )
        .map_err(db(path))?;
    let mut out = Vec::new();
    for row in rows {
        let (calendar, item, body, original, start, end, is_exception) = row.map_err(db(path))?;
        let parsed: CalendarItem =
            serde_json::from_str(&body).map_err(|e| damaged(path, format!("item body: {e}")))?;
        let time = |t: i64| {
            DateTime::from_timestamp(t, 0)
                .ok_or_else(|| damaged(path, "occurrence time out of range"))
        };
        let original_start = time(original)?;
        let subject = parsed
            .recurrence
            .as_ref()
            .and_then(|r| {
                r.modified
                    .iter()
                    .find(|m| m.original_start == original_start)
            })
            .and_then(|m| m.subject.clone())
            .unwrap_or(parsed.subject);
        out.push(ReplicaOccurrence {
            calendar: CalendarId::new(calendar),
            item: ItemId::new(item),
            subject,
            occurrence: Occurrence {
                original_start,
                start: time(start)?,
                end: time(end)?,
                is_exception,
            },
        });
    }
    Ok(out)
}

pub(super) fn horizon_until(
    conn: &Connection,
    path: &Path,
    mailbox: &EmailAddress,
    calendar: &CalendarId,
) -> Result<Option<DateTime<Utc>>, ReplicaError> {
    let until: Option<Option<i64>> = one(
        conn,
        "SELECT c.horizon_until FROM calendars c JOIN mailboxes m ON m.id = c.mailbox_id
             WHERE m.address = ?1 AND c.source_id = ?2",
        params![mailbox.key(), calendar.as_str()],
        |r| r.get(0),
    )
    .optional()
    .map_err(db(path))?;
    Ok(until.flatten().and_then(|t| DateTime::from_timestamp(t, 0)))
}

pub(super) fn attachment_refs(
    conn: &Connection,
    path: &Path,
    mailbox: &EmailAddress,
    calendar: &CalendarId,
) -> Result<Vec<(ItemId, String, Option<String>)>, ReplicaError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT i.source_id, a.attachment_id, a.sha256 FROM item_attachments a
             JOIN items i ON i.id = a.item_id JOIN calendars c ON c.id = i.calendar_id
             JOIN mailboxes m ON m.id = c.mailbox_id
             WHERE m.address = ?1 AND c.source_id = ?2",
        )
        .map_err(db(path))?;
    let rows = stmt
        .query_map(params![mailbox.key(), calendar.as_str()], |r| {
            Ok((ItemId::new(r.get::<_, String>(0)?), r.get(1)?, r.get(2)?))
        })
        .map_err(db(path))?;
    rows.collect::<Result<_, _>>().map_err(db(path))
}

pub(super) fn attachment(
    conn: &Connection,
    path: &Path,
    sha256: &str,
) -> Result<Option<Vec<u8>>, ReplicaError> {
    one(
        conn,
        "SELECT content FROM blobs WHERE sha256 = ?1",
        [sha256],
        |r| r.get(0),
    )
    .optional()
    .map_err(db(path))
}

/// A calendar's changes after `since`, read in one snapshot.
pub(super) fn changes(
    conn: &Connection,
    path: &Path,
    mailbox: &EmailAddress,
    calendar: &CalendarId,
    since: u64,
) -> Result<Option<ChangeSet>, ReplicaError> {
    let err = db(path);
    let tx = conn.unchecked_transaction().map_err(&err)?;
    let found: Option<(i64, i64)> = one(
        &tx,
        "SELECT c.id, c.changed_seq FROM calendars c JOIN mailboxes m ON m.id = c.mailbox_id
         WHERE m.address = ?1 AND c.source_id = ?2",
        params![mailbox.key(), calendar.as_str()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(&err)?;
    let Some((calendar_row, version)) = found else {
        return Ok(None);
    };
    let since = i64::try_from(since).unwrap_or(i64::MAX);
    let number = |n: i64| u64::try_from(n).unwrap_or(0);
    let changed = tx
        .prepare_cached(
            "SELECT source_id, changed_seq FROM items WHERE calendar_id = ?1 AND changed_seq > ?2 ORDER BY source_id",
        )
        .and_then(|mut st| {
            st.query_map(params![calendar_row, since], |r| {
                Ok((ItemId::new(r.get::<_, String>(0)?), number(r.get(1)?)))
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(&err)?;
    let removed = tx
        .prepare_cached(
            "SELECT source_id FROM removed_items WHERE calendar_id = ?1 AND removed_seq > ?2 ORDER BY source_id",
        )
        .and_then(|mut st| {
            st.query_map(params![calendar_row, since], |r| {
                Ok(ItemId::new(r.get::<_, String>(0)?))
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(&err)?;
    let removed_uids = tx
        .prepare_cached(
            "SELECT DISTINCT r.uid FROM removed_items r WHERE r.calendar_id = ?1 AND r.removed_seq > ?2
             AND r.uid IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM items i WHERE i.calendar_id = ?1 AND i.uid = r.uid)
             ORDER BY r.uid",
        )
        .and_then(|mut st| {
            st.query_map(params![calendar_row, since], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(&err)?;
    // Only reads happened: ending the snapshot cannot lose anything.
    let _ = tx.rollback();
    Ok(Some(ChangeSet {
        version: number(version),
        changed,
        removed,
        removed_uids,
    }))
}

/// Whether the replica holds the mailbox.
pub(super) fn has_mailbox(
    conn: &Connection,
    path: &Path,
    mailbox: &EmailAddress,
) -> Result<bool, ReplicaError> {
    one(
        conn,
        "SELECT EXISTS (SELECT 1 FROM mailboxes WHERE address = ?1)",
        [mailbox.key()],
        |r| r.get(0),
    )
    .map_err(db(path))
}
