//! Leases (one run per mailbox at a time) and the run history.
//!
//! A lease row is read `FOR UPDATE`, so two hosts asking for one mailbox at
//! once are served one after the other and exactly one of them gets it.

use chrono::{DateTime, TimeDelta, Utc};
use deadpool_postgres::GenericClient;

use super::write::{find_mailbox, mailbox_id};
use super::{exec, row, secs, server};
use crate::TaskId;
use crate::address::EmailAddress;
use crate::replica::{Lease, ReplicaError};

pub(super) async fn acquire_lease(
    client: &mut deadpool_postgres::Client,
    name: &str,
    mailbox: &EmailAddress,
    task: &TaskId,
    owner: &str,
    now: DateTime<Utc>,
    ttl: TimeDelta,
) -> Result<Lease, ReplicaError> {
    let err = server(name);
    let tx = client.transaction().await.map_err(&err)?;
    let mailbox = mailbox_id(&tx, mailbox).await.map_err(&err)?;
    // Leases are timed by the database's clock, which every host shares;
    // the caller's `now` is one host's.
    let _ = now;
    let now = row(&tx, "SELECT extract(epoch FROM now())::int8", &[])
        .await
        .map_err(&err)?
        .and_then(|r| DateTime::from_timestamp(r.get(0), 0))
        .ok_or_else(|| super::damaged(name, "the database's clock"))?;
    // Lock the row, or (when there is none) the mailbox, so that a second
    // host asking now waits for this answer instead of racing it.
    let held = row(
        &tx,
        "SELECT task, owner, expires_at FROM leases WHERE mailbox_id = $1 FOR UPDATE",
        &[&mailbox],
    )
    .await
    .map_err(&err)?;
    if held.is_none() {
        exec(
            &tx,
            "SELECT 1 FROM mailboxes WHERE id = $1 FOR UPDATE",
            &[&mailbox],
        )
        .await
        .map_err(&err)?;
    }
    let held = held.map(|r| (r.get(0), r.get(1), r.get(2)));
    let outcome = match crate::replica::owner::lease_outcome(held, owner, now) {
        Ok(outcome) => outcome,
        Err(held) => return Ok(held),
    };
    exec(
        &tx,
        "INSERT INTO leases (mailbox_id, task, owner, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (mailbox_id) DO UPDATE SET task = excluded.task, owner = excluded.owner, expires_at = excluded.expires_at",
        &[&mailbox, &task.as_str(), &owner, &secs(now + ttl)],
    )
    .await
    .map_err(&err)?;
    tx.commit().await.map_err(&err)?;
    Ok(outcome)
}

pub(super) async fn release_lease(
    client: &mut deadpool_postgres::Client,
    name: &str,
    mailbox: &EmailAddress,
    owner: &str,
    synced_at: Option<DateTime<Utc>>,
) -> Result<(), ReplicaError> {
    let err = server(name);
    let tx = client.transaction().await.map_err(&err)?;
    if let Some(id) = find_mailbox(&tx, mailbox).await.map_err(&err)? {
        exec(
            &tx,
            "DELETE FROM leases WHERE mailbox_id = $1 AND owner = $2",
            &[&id, &owner],
        )
        .await
        .map_err(&err)?;
        if let Some(at) = synced_at {
            exec(
                &tx,
                "UPDATE mailboxes SET last_synced_at = $2, frozen_reason = NULL WHERE id = $1",
                &[&id, &secs(at)],
            )
            .await
            .map_err(&err)?;
        }
    }
    tx.commit().await.map_err(&err)
}

pub(super) async fn freeze(
    c: &impl GenericClient,
    name: &str,
    mailbox: &EmailAddress,
    reason: &str,
) -> Result<(), ReplicaError> {
    exec(
        c,
        "UPDATE mailboxes SET frozen_reason = $2 WHERE address = $1",
        &[&mailbox.key(), &reason],
    )
    .await
    .map_err(server(name))?;
    Ok(())
}

pub(super) async fn record_run(
    c: &impl GenericClient,
    name: &str,
    task: &TaskId,
    status: &str,
    report_json: &str,
    finished: DateTime<Utc>,
) -> Result<(), ReplicaError> {
    exec(
        c,
        "INSERT INTO runs (task, finished_at, status, report) VALUES ($1, $2, $3, $4)",
        &[&task.as_str(), &secs(finished), &status, &report_json],
    )
    .await
    .map_err(server(name))?;
    Ok(())
}
