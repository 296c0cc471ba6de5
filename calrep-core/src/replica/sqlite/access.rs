//! Access accounts in the SQLite file (see
//! [`AccessStore`](crate::replica::AccessStore)).

use std::path::Path;

use chrono::DateTime;
use rusqlite::{Connection, params};

use super::open::db;
use super::{SqliteReplica, damaged, exec};
use crate::replica::{AccessAccount, AccessStore, ReplicaError};

const COLUMNS: &str = "name, password_hash, admin, mailboxes, delegated, expires_at, created_at";

fn row(path: &Path, r: &rusqlite::Row<'_>) -> Result<AccessAccount, ReplicaError> {
    let get = |e: rusqlite::Error| db(path)(e);
    let list = |text: String| -> Result<Vec<String>, ReplicaError> {
        serde_json::from_str(&text)
            .map_err(|e| damaged(path, format!("an access account's list: {e}")))
    };
    let at = |secs: i64| {
        DateTime::from_timestamp(secs, 0).ok_or_else(|| damaged(path, "an access account's time"))
    };
    let mut account = AccessAccount::new(
        r.get::<_, String>(0).map_err(get)?,
        r.get::<_, String>(1).map_err(get)?,
        at(r.get(6).map_err(get)?)?,
    );
    account.admin = r.get(2).map_err(get)?;
    account.mailboxes = list(r.get(3).map_err(get)?)?;
    account.delegated = list(r.get(4).map_err(get)?)?;
    account.expires = r
        .get::<_, Option<i64>>(5)
        .map_err(get)?
        .map(at)
        .transpose()?;
    Ok(account)
}

fn put(conn: &mut Connection, path: &Path, a: &AccessAccount) -> Result<(), ReplicaError> {
    let json = |list: &[String]| serde_json::to_string(list).unwrap_or_else(|_| "[]".into());
    exec(
        conn,
        &format!(
            "INSERT OR REPLACE INTO access_accounts ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        ),
        params![
            a.name,
            a.password_hash,
            a.admin,
            json(&a.mailboxes),
            json(&a.delegated),
            a.expires.map(|t| t.timestamp()),
            a.created.timestamp()
        ],
    )
    .map_err(db(path))?;
    Ok(())
}

/// The account named `name`, or every account (by name) for `None`.
fn select(
    conn: &Connection,
    path: &Path,
    name: Option<&str>,
) -> Result<Vec<AccessAccount>, ReplicaError> {
    let all = format!("SELECT {COLUMNS} FROM access_accounts ORDER BY name");
    let one = format!("SELECT {COLUMNS} FROM access_accounts WHERE name = ?1");
    let mut stmt = conn
        .prepare_cached(if name.is_some() { &one } else { &all })
        .map_err(db(path))?;
    let mut rows = match name {
        Some(n) => stmt.query([n]),
        None => stmt.query([]),
    }
    .map_err(db(path))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db(path))? {
        out.push(row(path, r)?);
    }
    Ok(out)
}

#[async_trait::async_trait]
impl AccessStore for SqliteReplica {
    async fn put_account(&self, account: &AccessAccount) -> Result<(), ReplicaError> {
        let account = account.clone();
        self.write(move |conn, path| put(conn, path, &account))
            .await
    }

    async fn account(&self, name: &str) -> Result<Option<AccessAccount>, ReplicaError> {
        let name = name.to_owned();
        self.read(move |conn, path| Ok(select(conn, path, Some(&name))?.into_iter().next()))
            .await
    }

    async fn accounts(&self) -> Result<Vec<AccessAccount>, ReplicaError> {
        self.read(|conn, path| select(conn, path, None)).await
    }

    async fn remove_account(&self, name: &str) -> Result<bool, ReplicaError> {
        let name = name.to_owned();
        self.write(move |conn, path| {
            let removed = exec(conn, "DELETE FROM access_accounts WHERE name = ?1", [&name])
                .map_err(db(path))?;
            Ok(removed > 0)
        })
        .await
    }
}
