//! Renaming a mailbox's keys in one transaction (see
//! [`Rekey`](crate::replica::Rekey)).

use super::write::{ChangeNumbers, find_mailbox};
use super::{damaged, exec, rows, server};
use crate::calendar::CalendarItem;
use crate::replica::{Rekey, Rekeyed, ReplicaError};

pub(super) async fn rekey(
    client: &mut deadpool_postgres::Client,
    name: &str,
    plan: &Rekey,
) -> Result<Rekeyed, ReplicaError> {
    let err = server(name);
    let tx = client.transaction().await.map_err(&err)?;
    let mut done = Rekeyed::default();
    let Some(mailbox) = find_mailbox(&tx, &plan.mailbox).await.map_err(&err)? else {
        return Ok(done);
    };
    for (old, new) in &plan.calendars {
        done.calendars += exec(
            &tx,
            "UPDATE calendars SET source_id = $3 WHERE mailbox_id = $1 AND source_id = $2",
            &[&mailbox, &old.as_str(), &new.as_str()],
        )
        .await
        .map_err(&err)?;
    }
    let items = rows(
        &tx,
        "SELECT i.id, i.calendar_id, i.source_id, i.body FROM items i
         JOIN calendars c ON c.id = i.calendar_id WHERE c.mailbox_id = $1",
        &[&mailbox],
    )
    .await
    .map_err(&err)?;
    let mut change = ChangeNumbers::default();
    for r in &items {
        let (row, calendar, old_id, body): (i64, i64, &str, &str) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        let item: CalendarItem =
            serde_json::from_str(body).map_err(|e| damaged(name, format!("item {old_id}: {e}")))?;
        let Some(renamed) = plan.apply_to(&item) else {
            continue;
        };
        let body = serde_json::to_string(&renamed).map_err(|e| damaged(name, e.to_string()))?;
        let seq = change.get(&tx, calendar).await.map_err(&err)?;
        exec(
            &tx,
            "UPDATE items SET source_id = $2, body = $3, changed_seq = $4 WHERE id = $1",
            &[&row, &renamed.id.as_str(), &body, &seq],
        )
        .await
        .map_err(&err)?;
        if renamed.id != item.id {
            // Readers addressed it by its old id: to them it is removed
            // there and written under the new one.
            exec(
                &tx,
                "INSERT INTO removed_items (calendar_id, source_id, removed_seq, uid) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (calendar_id, source_id) DO UPDATE SET removed_seq = excluded.removed_seq, uid = excluded.uid",
                &[&calendar, &old_id, &seq, &item.uid],
            )
            .await
            .map_err(&err)?;
        }
        for (old, new) in item.attachments.iter().zip(&renamed.attachments) {
            if old.id != new.id {
                done.attachments += exec(
                    &tx,
                    "UPDATE item_attachments SET attachment_id = $3 WHERE item_id = $1 AND attachment_id = $2",
                    &[&row, &old.id, &new.id],
                )
                .await
                .map_err(&err)?;
            }
        }
        done.items += 1;
    }
    done.states_dropped = exec(
        &tx,
        "DELETE FROM sync_states WHERE site = $1 AND mailbox_id = $2",
        &[&plan.site.as_str(), &mailbox],
    )
    .await
    .map_err(&err)?;
    tx.commit().await.map_err(&err)?;
    Ok(done)
}
