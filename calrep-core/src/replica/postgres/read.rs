//! Reads: what the engine reads back and what readers use, each in one
//! statement (one snapshot) except [`changes`], which reads three in one
//! repeatable-read transaction.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::IsolationLevel;

use super::{damaged, row, rows, secs, server, signed, unsigned};
use crate::TaskId;
use crate::address::EmailAddress;
use crate::calendar::{CalendarId, CalendarItem, ItemId, Occurrence};
use crate::mailbox::SyncState;
use crate::replica::{
    ChangeSet, ReplicaCalendar, ReplicaError, ReplicaMailbox, ReplicaOccurrence, StoredState,
    SyncKey,
};

pub(super) async fn sync_state(
    c: &impl GenericClient,
    name: &str,
    key: &SyncKey,
) -> Result<StoredState, ReplicaError> {
    let found = row(
        c,
        "SELECT s.state, s.full_sync_gen FROM sync_states s JOIN mailboxes m ON m.id = s.mailbox_id
         WHERE s.site = $1 AND s.task = $2 AND m.address = $3 AND s.calendar = $4",
        &[
            &key.site.as_str(),
            &key.task.as_str(),
            &key.mailbox.key(),
            &key.calendar.as_str(),
        ],
    )
    .await
    .map_err(server(name))?;
    Ok(found.map_or_else(StoredState::default, |r| StoredState {
        state: r.get::<_, Option<String>>(0).map(SyncState::new),
        full_sync: r
            .get::<_, Option<i64>>(1)
            .and_then(|g| u64::try_from(g).ok()),
    }))
}

pub(super) async fn full_sync_progress(
    c: &impl GenericClient,
    name: &str,
    key: &SyncKey,
    generation: u64,
) -> Result<(u64, u64), ReplicaError> {
    let found = row(
        c,
        "SELECT count(*) FILTER (WHERE i.generation = $3), count(*) FILTER (WHERE i.generation < $3)
         FROM items i JOIN calendars c ON c.id = i.calendar_id JOIN mailboxes m ON m.id = c.mailbox_id
         WHERE m.address = $1 AND c.source_id = $2",
        &[&key.mailbox.key(), &key.calendar.as_str(), &signed(generation)],
    )
    .await
    .map_err(server(name))?;
    Ok(found.map_or((0, 0), |r| (unsigned(r.get(0)), unsigned(r.get(1)))))
}

pub(super) async fn task_mailboxes(
    c: &impl GenericClient,
    name: &str,
    site: &crate::SiteId,
    task: &TaskId,
) -> Result<Vec<String>, ReplicaError> {
    let found = rows(
        c,
        "SELECT DISTINCT m.address COLLATE \"C\" FROM sync_states s JOIN mailboxes m ON m.id = s.mailbox_id
         WHERE s.site = $1 AND s.task = $2 ORDER BY 1",
        &[&site.as_str(), &task.as_str()],
    )
    .await
    .map_err(server(name))?;
    Ok(found.iter().map(|r| r.get(0)).collect())
}

pub(super) async fn site_states(
    c: &impl GenericClient,
    name: &str,
    site: &crate::SiteId,
) -> Result<Vec<(String, Option<SyncState>)>, ReplicaError> {
    let found = rows(
        c,
        "SELECT m.address, s.state FROM sync_states s JOIN mailboxes m ON m.id = s.mailbox_id
         WHERE s.site = $1 ORDER BY m.address COLLATE \"C\"",
        &[&site.as_str()],
    )
    .await
    .map_err(server(name))?;
    Ok(found
        .iter()
        .map(|r| (r.get(0), r.get::<_, Option<String>>(1).map(SyncState::new)))
        .collect())
}

/// Every mailbox, or the one given.
pub(super) async fn mailboxes(
    c: &impl GenericClient,
    name: &str,
    only: Option<&EmailAddress>,
) -> Result<Vec<ReplicaMailbox>, ReplicaError> {
    let found = match only {
        Some(mailbox) => {
            rows(
                c,
                "SELECT display, frozen_reason, last_synced_at FROM mailboxes WHERE address = $1",
                &[&mailbox.key()],
            )
            .await
        }
        None => {
            rows(
                c,
                "SELECT display, frozen_reason, last_synced_at FROM mailboxes ORDER BY address COLLATE \"C\"",
                &[],
            )
            .await
        }
    }
    .map_err(server(name))?;
    Ok(found
        .iter()
        .map(|r| ReplicaMailbox {
            address: r.get(0),
            frozen: r.get(1),
            last_synced: r
                .get::<_, Option<i64>>(2)
                .and_then(|t| DateTime::from_timestamp(t, 0)),
        })
        .collect())
}

pub(super) async fn calendar_names(
    c: &impl GenericClient,
    name: &str,
    mailbox: &EmailAddress,
) -> Result<Vec<(CalendarId, String)>, ReplicaError> {
    let found = rows(
        c,
        "SELECT c.source_id, c.name FROM calendars c JOIN mailboxes m ON m.id = c.mailbox_id
         WHERE m.address = $1 ORDER BY c.is_default DESC, c.name COLLATE \"C\"",
        &[&mailbox.key()],
    )
    .await
    .map_err(server(name))?;
    Ok(found
        .iter()
        .map(|r| (CalendarId::new(r.get::<_, String>(0)), r.get(1)))
        .collect())
}

pub(super) async fn calendars(
    c: &impl GenericClient,
    name: &str,
    mailbox: &EmailAddress,
) -> Result<Vec<ReplicaCalendar>, ReplicaError> {
    let found = rows(
        c,
        "SELECT c.source_id, c.name, c.is_default, (SELECT count(*) FROM items i WHERE i.calendar_id = c.id)
         FROM calendars c JOIN mailboxes m ON m.id = c.mailbox_id WHERE m.address = $1
         ORDER BY c.is_default DESC, c.name COLLATE \"C\"",
        &[&mailbox.key()],
    )
    .await
    .map_err(server(name))?;
    Ok(found
        .iter()
        .map(|r| ReplicaCalendar {
            id: CalendarId::new(r.get::<_, String>(0)),
            name: r.get(1),
            is_default: r.get(2),
            items: unsigned(r.get(3)),
        })
        .collect())
}

pub(super) async fn items(
    c: &impl GenericClient,
    name: &str,
    mailbox: &EmailAddress,
    calendar: &CalendarId,
) -> Result<Vec<CalendarItem>, ReplicaError> {
    let found = rows(
        c,
        "SELECT i.body FROM items i JOIN calendars c ON c.id = i.calendar_id JOIN mailboxes m ON m.id = c.mailbox_id
         WHERE m.address = $1 AND c.source_id = $2 ORDER BY i.source_id COLLATE \"C\"",
        &[&mailbox.key(), &calendar.as_str()],
    )
    .await
    .map_err(server(name))?;
    found
        .iter()
        .map(|r| {
            serde_json::from_str(r.get(0)).map_err(|e| damaged(name, format!("item body: {e}")))
        })
        .collect()
}

pub(super) async fn occurrences(
    c: &impl GenericClient,
    name: &str,
    mailbox: &EmailAddress,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ReplicaOccurrence>, ReplicaError> {
    let found = rows(
        c,
        "SELECT c.source_id, i.source_id, i.body, o.original_start, o.start_at, o.end_at, o.is_exception
         FROM occurrences o JOIN items i ON i.id = o.item_id JOIN calendars c ON c.id = i.calendar_id
         WHERE o.mailbox_id = (SELECT id FROM mailboxes WHERE address = $1)
           AND o.start_at >= $2 - (SELECT value FROM meta WHERE key = 'longest_occurrence')
           AND o.start_at < $3 AND o.end_at > $2
         ORDER BY o.start_at, i.source_id COLLATE \"C\"",
        &[&mailbox.key(), &secs(from), &secs(to)],
    )
    .await
    .map_err(server(name))?;
    let time = |t: i64| {
        DateTime::from_timestamp(t, 0).ok_or_else(|| damaged(name, "occurrence time out of range"))
    };
    let mut out = Vec::with_capacity(found.len());
    for r in &found {
        let parsed: CalendarItem =
            serde_json::from_str(r.get(2)).map_err(|e| damaged(name, format!("item body: {e}")))?;
        let original_start = time(r.get(3))?;
        let subject = parsed
            .modified_occurrence(original_start)
            .and_then(|m| m.subject.clone())
            .unwrap_or(parsed.subject);
        out.push(ReplicaOccurrence {
            calendar: CalendarId::new(r.get::<_, String>(0)),
            item: ItemId::new(r.get::<_, String>(1)),
            subject,
            occurrence: Occurrence {
                original_start,
                start: time(r.get(4))?,
                end: time(r.get(5))?,
                is_exception: r.get(6),
            },
        });
    }
    Ok(out)
}

pub(super) async fn horizon_until(
    c: &impl GenericClient,
    name: &str,
    mailbox: &EmailAddress,
    calendar: &CalendarId,
) -> Result<Option<DateTime<Utc>>, ReplicaError> {
    let found = row(
        c,
        "SELECT c.horizon_until FROM calendars c JOIN mailboxes m ON m.id = c.mailbox_id
         WHERE m.address = $1 AND c.source_id = $2",
        &[&mailbox.key(), &calendar.as_str()],
    )
    .await
    .map_err(server(name))?;
    Ok(found
        .and_then(|r| r.get::<_, Option<i64>>(0))
        .and_then(|t| DateTime::from_timestamp(t, 0)))
}

pub(super) async fn attachment_refs(
    c: &impl GenericClient,
    name: &str,
    mailbox: &EmailAddress,
    calendar: &CalendarId,
) -> Result<Vec<(ItemId, String, Option<String>)>, ReplicaError> {
    let found = rows(
        c,
        "SELECT i.source_id, a.attachment_id, a.sha256 FROM item_attachments a
         JOIN items i ON i.id = a.item_id JOIN calendars c ON c.id = i.calendar_id
         JOIN mailboxes m ON m.id = c.mailbox_id
         WHERE m.address = $1 AND c.source_id = $2",
        &[&mailbox.key(), &calendar.as_str()],
    )
    .await
    .map_err(server(name))?;
    Ok(found
        .iter()
        .map(|r| (ItemId::new(r.get::<_, String>(0)), r.get(1), r.get(2)))
        .collect())
}

pub(super) async fn attachment(
    c: &impl GenericClient,
    name: &str,
    sha256: &str,
) -> Result<Option<Vec<u8>>, ReplicaError> {
    let found = row(c, "SELECT content FROM blobs WHERE sha256 = $1", &[&sha256])
        .await
        .map_err(server(name))?;
    Ok(found.map(|r| r.get(0)))
}

/// A calendar's changes after `since`, read in one snapshot.
pub(super) async fn changes(
    client: &mut deadpool_postgres::Client,
    name: &str,
    mailbox: &EmailAddress,
    calendar: &CalendarId,
    since: u64,
) -> Result<Option<ChangeSet>, ReplicaError> {
    let err = server(name);
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(&err)?;
    let found = row(
        &tx,
        "SELECT c.id, c.changed_seq FROM calendars c JOIN mailboxes m ON m.id = c.mailbox_id
         WHERE m.address = $1 AND c.source_id = $2",
        &[&mailbox.key(), &calendar.as_str()],
    )
    .await
    .map_err(&err)?;
    let Some(found) = found else {
        return Ok(None);
    };
    let (calendar_row, version): (i64, i64) = (found.get(0), found.get(1));
    let since = signed(since);
    let changed = rows(
        &tx,
        "SELECT source_id, changed_seq FROM items WHERE calendar_id = $1 AND changed_seq > $2
         ORDER BY source_id COLLATE \"C\"",
        &[&calendar_row, &since],
    )
    .await
    .map_err(&err)?
    .iter()
    .map(|r| (ItemId::new(r.get::<_, String>(0)), unsigned(r.get(1))))
    .collect();
    let removed = rows(
        &tx,
        "SELECT source_id FROM removed_items WHERE calendar_id = $1 AND removed_seq > $2
         ORDER BY source_id COLLATE \"C\"",
        &[&calendar_row, &since],
    )
    .await
    .map_err(&err)?
    .iter()
    .map(|r| ItemId::new(r.get::<_, String>(0)))
    .collect();
    let removed_uids = rows(
        &tx,
        "SELECT DISTINCT r.uid COLLATE \"C\" FROM removed_items r WHERE r.calendar_id = $1 AND r.removed_seq > $2
         AND r.uid IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM items i WHERE i.calendar_id = $1 AND i.uid = r.uid)
         ORDER BY 1",
        &[&calendar_row, &since],
    )
    .await
    .map_err(&err)?
    .iter()
    .map(|r| r.get(0))
    .collect();
    // Only reads happened: ending the snapshot cannot lose anything.
    tx.commit().await.map_err(&err)?;
    Ok(Some(ChangeSet {
        version: unsigned(version),
        changed,
        removed,
        removed_uids,
    }))
}
