//! Leases (one run per mailbox at a time) and the run history.

use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::open::db;
use super::write::{find_mailbox, mailbox_id};
use super::{exec, one};
use crate::TaskId;
use crate::address::EmailAddress;
use crate::replica::{Lease, ReplicaError};

pub(super) fn acquire_lease(
    conn: &mut Connection,
    path: &Path,
    mailbox: &EmailAddress,
    task: &TaskId,
    owner: &str,
    now: DateTime<Utc>,
    ttl: TimeDelta,
) -> Result<Lease, ReplicaError> {
    let err = db(path);
    let tx = conn.transaction().map_err(&err)?;
    let mailbox = mailbox_id(&tx, mailbox).map_err(&err)?;
    let held: Option<(String, String, i64)> = one(
        &tx,
        "SELECT task, owner, expires_at FROM leases WHERE mailbox_id = ?1",
        [mailbox],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()
    .map_err(&err)?;
    let outcome = match crate::replica::owner::lease_outcome(held, owner, now) {
        Ok(outcome) => outcome,
        Err(held) => return Ok(held),
    };
    exec(&tx,
        "INSERT INTO leases (mailbox_id, task, owner, expires_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (mailbox_id) DO UPDATE SET task = excluded.task, owner = excluded.owner, expires_at = excluded.expires_at",
        params![mailbox, task.as_str(), owner, (now + ttl).timestamp()],
    )
    .map_err(&err)?;
    tx.commit().map_err(&err)?;
    Ok(outcome)
}

pub(super) fn release_lease(
    conn: &mut Connection,
    path: &Path,
    mailbox: &EmailAddress,
    owner: &str,
    synced_at: Option<DateTime<Utc>>,
) -> Result<(), ReplicaError> {
    let err = db(path);
    let tx = conn.transaction().map_err(&err)?;
    if let Some(id) = find_mailbox(&tx, mailbox).map_err(&err)? {
        exec(
            &tx,
            "DELETE FROM leases WHERE mailbox_id = ?1 AND owner = ?2",
            params![id, owner],
        )
        .map_err(&err)?;
        if let Some(at) = synced_at {
            exec(
                &tx,
                "UPDATE mailboxes SET last_synced_at = ?2, frozen_reason = NULL WHERE id = ?1",
                params![id, at.timestamp()],
            )
            .map_err(&err)?;
        }
    }
    tx.commit().map_err(&err)
}

pub(super) fn freeze(
    conn: &Connection,
    path: &Path,
    mailbox: &EmailAddress,
    reason: &str,
) -> Result<(), ReplicaError> {
    exec(
        conn,
        "UPDATE mailboxes SET frozen_reason = ?2 WHERE address = ?1",
        params![mailbox.key(), reason],
    )
    .map_err(db(path))?;
    Ok(())
}

pub(super) fn record_run(
    conn: &Connection,
    path: &Path,
    task: &TaskId,
    status: &str,
    report_json: &str,
    finished: DateTime<Utc>,
) -> Result<(), ReplicaError> {
    exec(
        conn,
        "INSERT INTO runs (task, finished_at, status, report) VALUES (?1, ?2, ?3, ?4)",
        params![task.as_str(), finished.timestamp(), status, report_json],
    )
    .map_err(db(path))?;
    Ok(())
}
