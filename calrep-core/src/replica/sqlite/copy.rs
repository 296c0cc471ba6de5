//! The SQLite end of `calrep store copy` (see [`crate::replica::copy`]).

use rusqlite::types::{Value, ValueRef};

use super::open::db;
use super::{SqliteReplica, exec};
use crate::replica::ReplicaError;
use crate::replica::copy::{CHUNK, Cell, CopyRows, Counters, Kind, Rows, Table};

#[async_trait::async_trait]
impl CopyRows for SqliteReplica {
    async fn row_count(&self, table: &'static str) -> Result<u64, ReplicaError> {
        self.read(move |conn, path| {
            let n: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .map_err(db(path))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn read_rows(
        &self,
        table: &'static Table,
        sender: tokio::sync::mpsc::Sender<Rows>,
    ) -> Result<(), ReplicaError> {
        self.read(move |conn, path| {
            let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
            let sql = format!("SELECT {} FROM {}", columns.join(", "), table.name);
            let mut stmt = conn.prepare(&sql).map_err(db(path))?;
            let mut rows = stmt.query([]).map_err(db(path))?;
            let mut chunk = Vec::with_capacity(CHUNK);
            while let Some(row) = rows.next().map_err(db(path))? {
                let mut cells = Vec::with_capacity(columns.len());
                for i in 0..columns.len() {
                    cells.push(match row.get_ref(i).map_err(db(path))? {
                        ValueRef::Null => Cell::Null,
                        ValueRef::Integer(n) => Cell::Int(n),
                        ValueRef::Real(f) => Cell::Int(f as i64),
                        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
                    });
                }
                chunk.push(cells);
                if chunk.len() == CHUNK {
                    // The writer stopped (it failed): its error is the one.
                    if sender.blocking_send(std::mem::take(&mut chunk)).is_err() {
                        return Ok(());
                    }
                }
            }
            if !chunk.is_empty() {
                let _ = sender.blocking_send(chunk);
            }
            Ok(())
        })
        .await
    }

    async fn write_rows(
        &self,
        table: &'static Table,
        mut receiver: tokio::sync::mpsc::Receiver<Rows>,
    ) -> Result<u64, ReplicaError> {
        self.write(move |conn, path| {
            let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
            let marks = vec!["?"; columns.len()].join(", ");
            let sql = format!(
                "INSERT INTO {} ({}) VALUES ({marks})",
                table.name,
                columns.join(", ")
            );
            let tx = conn.transaction().map_err(db(path))?;
            let mut written = 0u64;
            {
                let mut stmt = tx.prepare(&sql).map_err(db(path))?;
                while let Some(chunk) = receiver.blocking_recv() {
                    for row in chunk {
                        let values: Vec<Value> = row
                            .into_iter()
                            .zip(table.columns)
                            .map(|(cell, (_, kind))| match (cell, kind) {
                                (Cell::Null, _) => Value::Null,
                                (Cell::Int(n), _) => Value::Integer(n),
                                (Cell::Text(t), Kind::Blob) => Value::Blob(t.into_bytes()),
                                (Cell::Text(t), _) => Value::Text(t),
                                (Cell::Blob(b), _) => Value::Blob(b),
                            })
                            .collect();
                        stmt.execute(rusqlite::params_from_iter(values))
                            .map_err(db(path))?;
                        written += 1;
                    }
                }
            }
            tx.commit().map_err(db(path))?;
            Ok(written)
        })
        .await
    }

    async fn counters(&self) -> Result<Counters, ReplicaError> {
        self.read(|conn, path| {
            let get = |key: &str| -> Result<i64, ReplicaError> {
                conn.query_row(
                    "SELECT coalesce(max(value), 0) FROM meta WHERE key = ?1",
                    [key],
                    |r| r.get(0),
                )
                .map_err(db(path))
            };
            Ok(Counters {
                change_seq: get("change_seq")?,
                generation: get("generation")?,
                longest: get("longest_occurrence")?,
            })
        })
        .await
    }

    async fn set_counters(&self, counters: Counters) -> Result<(), ReplicaError> {
        self.write(move |conn, path| {
            for (key, value) in [
                ("change_seq", counters.change_seq),
                ("generation", counters.generation),
                ("longest_occurrence", counters.longest),
            ] {
                exec(
                    conn,
                    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
                    rusqlite::params![key, value],
                )
                .map_err(db(path))?;
            }
            Ok(())
        })
        .await
    }
}
