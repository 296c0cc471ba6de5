//! The PostgreSQL end of `calrep store copy` (see [`crate::replica::copy`]).
//! Rows are written with one prepared statement, many in flight at once
//! (the driver pipelines them), in one transaction per table.

use futures_util::{StreamExt, TryStreamExt, pin_mut};
use tokio_postgres::types::ToSql;

use super::{PgReplica, row, server};
use crate::replica::ReplicaError;
use crate::replica::copy::{CHUNK, Cell, CopyRows, Counters, Kind, Rows, Table};

/// A cell as a parameter of its column's type.
fn param(cell: Cell, kind: Kind) -> Box<dyn ToSql + Sync + Send> {
    match (cell, kind) {
        (Cell::Null, Kind::Int) => Box::new(None::<i64>),
        (Cell::Null, Kind::Bool) => Box::new(None::<bool>),
        (Cell::Null, Kind::Text) => Box::new(None::<String>),
        (Cell::Null, Kind::Blob) => Box::new(None::<Vec<u8>>),
        (Cell::Int(n), Kind::Bool) => Box::new(n != 0),
        (Cell::Int(n), Kind::Text) => Box::new(n.to_string()),
        (Cell::Int(n), _) => Box::new(n),
        (Cell::Text(t), Kind::Blob) => Box::new(t.into_bytes()),
        (Cell::Text(t), _) => Box::new(t),
        (Cell::Blob(b), Kind::Text) => Box::new(String::from_utf8_lossy(&b).into_owned()),
        (Cell::Blob(b), _) => Box::new(b),
    }
}

/// One row's insert (a named future, so the copy's future is `Send` for
/// every lifetime the trait asks).
async fn insert(
    tx: &tokio_postgres::Transaction<'_>,
    statement: &tokio_postgres::Statement,
    params: &[Box<dyn ToSql + Sync + Send>],
) -> Result<u64, tokio_postgres::Error> {
    let params: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    tx.execute(statement, &params).await
}

#[async_trait::async_trait]
impl CopyRows for PgReplica {
    async fn row_count(&self, table: &'static str) -> Result<u64, ReplicaError> {
        let client = self.client().await?;
        let n: i64 = row(&client, &format!("SELECT count(*) FROM {table}"), &[])
            .await
            .map_err(server(&self.name))?
            .map_or(0, |r| r.get(0));
        Ok(super::unsigned(n))
    }

    async fn read_rows(
        &self,
        table: &'static Table,
        sender: tokio::sync::mpsc::Sender<Rows>,
    ) -> Result<(), ReplicaError> {
        let err = server(&self.name);
        let client = self.client().await?;
        let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
        let sql = format!("SELECT {} FROM {}", columns.join(", "), table.name);
        let stream = client
            .query_raw(&sql, std::iter::empty::<i64>())
            .await
            .map_err(&err)?;
        pin_mut!(stream);
        let mut chunk = Vec::with_capacity(CHUNK);
        while let Some(r) = stream.try_next().await.map_err(&err)? {
            let cells = table
                .columns
                .iter()
                .enumerate()
                .map(|(i, (_, kind))| match kind {
                    Kind::Int => r.get::<_, Option<i64>>(i).map_or(Cell::Null, Cell::Int),
                    Kind::Bool => r
                        .get::<_, Option<bool>>(i)
                        .map_or(Cell::Null, |b| Cell::Int(i64::from(b))),
                    Kind::Text => r.get::<_, Option<String>>(i).map_or(Cell::Null, Cell::Text),
                    Kind::Blob => r
                        .get::<_, Option<Vec<u8>>>(i)
                        .map_or(Cell::Null, Cell::Blob),
                })
                .collect();
            chunk.push(cells);
            if chunk.len() == CHUNK && sender.send(std::mem::take(&mut chunk)).await.is_err() {
                // The writer stopped (it failed): its error is the one.
                return Ok(());
            }
        }
        if !chunk.is_empty() {
            let _ = sender.send(chunk).await;
        }
        Ok(())
    }

    async fn write_rows(
        &self,
        table: &'static Table,
        mut receiver: tokio::sync::mpsc::Receiver<Rows>,
    ) -> Result<u64, ReplicaError> {
        let err = server(&self.name);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(&err)?;
        let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
        let marks: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        let (extra_column, extra_value) = match table.name {
            // PostgreSQL keys accounts by the lower-case name.
            "access_accounts" => ("key, ", "lower($1), "),
            _ => ("", ""),
        };
        let overriding = if table.identity {
            " OVERRIDING SYSTEM VALUE"
        } else {
            ""
        };
        let sql = format!(
            "INSERT INTO {} ({extra_column}{}){overriding} VALUES ({extra_value}{})",
            table.name,
            columns.join(", "),
            marks.join(", ")
        );
        let statement = tx.prepare(&sql).await.map_err(&err)?;
        let mut written = 0u64;
        while let Some(chunk) = receiver.recv().await {
            let rows: Vec<Vec<Box<dyn ToSql + Sync + Send>>> = chunk
                .into_iter()
                .map(|r| {
                    r.into_iter()
                        .zip(table.columns)
                        .map(|(cell, (_, kind))| param(cell, *kind))
                        .collect()
                })
                .collect();
            // Many statements in flight on one connection: pipelined.
            let mut pending = Vec::with_capacity(rows.len());
            for params in &rows {
                pending.push(insert(&tx, &statement, params));
            }
            let inserts = futures_util::stream::iter(pending).buffer_unordered(64);
            pin_mut!(inserts);
            while let Some(done) = inserts.next().await {
                written += done.map_err(&err)?;
            }
        }
        if table.identity {
            // Ids were copied: the identity goes on after the largest.
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{0}', 'id'), coalesce((SELECT max(id) FROM {0}), 0) + 1, false)",
                    table.name
                ),
                &[],
            )
            .await
            .map_err(&err)?;
        }
        tx.commit().await.map_err(&err)?;
        Ok(written)
    }

    async fn counters(&self) -> Result<Counters, ReplicaError> {
        let client = self.client().await?;
        let found = row(
            &client,
            "SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM change_seq),
                    (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM full_sync_generation),
                    (SELECT value FROM meta WHERE key = 'longest_occurrence')",
            &[],
        )
        .await
        .map_err(server(&self.name))?;
        Ok(found.map_or_else(Counters::default, |r| Counters {
            change_seq: r.get(0),
            generation: r.get(1),
            longest: r.get::<_, Option<i64>>(2).unwrap_or(0),
        }))
    }

    async fn set_counters(&self, counters: Counters) -> Result<(), ReplicaError> {
        let client = self.client().await?;
        let err = server(&self.name);
        for (sequence, value) in [
            ("change_seq", counters.change_seq),
            ("full_sync_generation", counters.generation),
        ] {
            if value > 0 {
                client
                    .execute(&format!("SELECT setval('{sequence}', $1)"), &[&value])
                    .await
                    .map_err(&err)?;
            }
        }
        client
            .execute(
                "UPDATE meta SET value = greatest(value, $1) WHERE key = 'longest_occurrence'",
                &[&counters.longest],
            )
            .await
            .map_err(&err)?;
        Ok(())
    }
}
