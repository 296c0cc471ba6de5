//! Renaming a mailbox's keys in one transaction (see
//! [`Rekey`](crate::replica::Rekey)).

use std::path::Path;

use rusqlite::{Connection, params};

use super::open::db;
use super::write::{ChangeNumber, find_mailbox};
use super::{damaged, exec};
use crate::calendar::CalendarItem;
use crate::replica::{Rekey, Rekeyed, ReplicaError};

pub(super) fn rekey(
    conn: &mut Connection,
    path: &Path,
    plan: &Rekey,
) -> Result<Rekeyed, ReplicaError> {
    let err = db(path);
    let tx = conn.transaction().map_err(&err)?;
    let mut done = Rekeyed::default();
    let Some(mailbox) = find_mailbox(&tx, &plan.mailbox).map_err(&err)? else {
        return Ok(done);
    };
    for (old, new) in &plan.calendars {
        done.calendars += exec(
            &tx,
            "UPDATE calendars SET source_id = ?3 WHERE mailbox_id = ?1 AND source_id = ?2",
            params![mailbox, old.as_str(), new.as_str()],
        )
        .map_err(&err)? as u64;
    }
    let rows: Vec<(i64, i64, String, String)> = {
        let mut stmt = tx
            .prepare(
                "SELECT i.id, i.calendar_id, i.source_id, i.body FROM items i
                 JOIN calendars c ON c.id = i.calendar_id WHERE c.mailbox_id = ?1",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([mailbox], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(&err)?;
        rows.collect::<Result<_, _>>().map_err(&err)?
    };
    let mut change = ChangeNumber::default();
    let mut touched = std::collections::BTreeSet::new();
    for (row, calendar, old_id, body) in rows {
        let item: CalendarItem = serde_json::from_str(&body)
            .map_err(|e| damaged(path, format!("item {old_id}: {e}")))?;
        let Some(renamed) = plan.apply_to(&item) else {
            continue;
        };
        let body = serde_json::to_string(&renamed).map_err(|e| damaged(path, e.to_string()))?;
        let seq = change.get(&tx).map_err(&err)?;
        exec(
            &tx,
            "UPDATE items SET source_id = ?2, body = ?3, changed_seq = ?4 WHERE id = ?1",
            params![row, renamed.id.as_str(), body, seq],
        )
        .map_err(&err)?;
        if renamed.id != item.id {
            // Readers addressed it by its old id: to them it is removed
            // there and written under the new one.
            exec(
                &tx,
                "INSERT OR REPLACE INTO removed_items (calendar_id, source_id, removed_seq, uid) VALUES (?1, ?2, ?3, ?4)",
                params![calendar, old_id, seq, item.uid],
            )
            .map_err(&err)?;
        }
        for (old, new) in item.attachments.iter().zip(&renamed.attachments) {
            if old.id != new.id {
                done.attachments += exec(
                    &tx,
                    "UPDATE item_attachments SET attachment_id = ?3 WHERE item_id = ?1 AND attachment_id = ?2",
                    params![row, old.id, new.id],
                )
                .map_err(&err)? as u64;
            }
        }
        done.items += 1;
        touched.insert(calendar);
    }
    for calendar in touched {
        change.stamp(&tx, calendar).map_err(&err)?;
    }
    done.states_dropped = exec(
        &tx,
        "DELETE FROM sync_states WHERE site = ?1 AND mailbox_id = ?2",
        params![plan.site.as_str(), mailbox],
    )
    .map_err(&err)? as u64;
    tx.commit().map_err(&err)?;
    Ok(done)
}
