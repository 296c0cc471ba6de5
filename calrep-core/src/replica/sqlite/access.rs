//! Access accounts in the SQLite file (see
//! [`AccessStore`](crate::replica::AccessStore)).

use std::path::Path;

use chrono::DateTime;
use rusqlite::{Connection, params};

use super::open::db;
use super::{SqliteReplica, damaged, exec};
use crate::replica::{AccessAccount, AccessStore, ReplicaError};

const COLUMNS: &str =
    "name, password_hash, admin, mailboxes, delegated, expires_at, created_at, feed_token";

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
    account.feed_token_hash = r.get(7).map_err(get)?;
    Ok(account)
}

fn put(conn: &mut Connection, path: &Path, a: &AccessAccount) -> Result<(), ReplicaError> {
    let json = |list: &[String]| serde_json::to_string(list).unwrap_or_else(|_| "[]".into());
    exec(
        conn,
        &format!(
            "INSERT OR REPLACE INTO access_accounts ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ),
        params![
            a.name,
            a.password_hash,
            a.admin,
            json(&a.mailboxes),
            json(&a.delegated),
            a.expires.map(|t| t.timestamp()),
            a.created.timestamp(),
            a.feed_token_hash
        ],
    )
    .map_err(db(path))?;
    Ok(())
}

/// Which accounts a query selects.
enum Which<'a> {
    All,
    Named(&'a str),
    Feed(&'a str),
}

/// The accounts `which` selects, by name.
fn select(
    conn: &Connection,
    path: &Path,
    which: &Which<'_>,
) -> Result<Vec<AccessAccount>, ReplicaError> {
    let (filter, value) = match which {
        Which::All => ("", None),
        Which::Named(name) => ("WHERE name = ?1", Some(*name)),
        Which::Feed(hash) => ("WHERE feed_token = ?1", Some(*hash)),
    };
    let sql = format!("SELECT {COLUMNS} FROM access_accounts {filter} ORDER BY name");
    let mut stmt = conn.prepare_cached(&sql).map_err(db(path))?;
    let mut rows = match value {
        Some(v) => stmt.query([v]),
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
        self.read(move |conn, path| {
            Ok(select(conn, path, &Which::Named(&name))?.into_iter().next())
        })
        .await
    }

    async fn accounts(&self) -> Result<Vec<AccessAccount>, ReplicaError> {
        self.read(|conn, path| select(conn, path, &Which::All))
            .await
    }

    async fn account_by_feed(&self, hash: &str) -> Result<Option<AccessAccount>, ReplicaError> {
        let hash = hash.to_owned();
        self.read(move |conn, path| Ok(select(conn, path, &Which::Feed(&hash))?.into_iter().next()))
            .await
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
