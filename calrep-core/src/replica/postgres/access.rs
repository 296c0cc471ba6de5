//! Access accounts in the database (see
//! [`AccessStore`](crate::replica::AccessStore)): every host serving the
//! replica checks the same ones.

use chrono::DateTime;
use tokio_postgres::Row;

use super::{PgReplica, damaged, exec, rows, server};
use crate::replica::{AccessAccount, AccessStore, ReplicaError};

const COLUMNS: &str =
    "name, password_hash, admin, mailboxes, delegated, expires_at, created_at, feed_token";

fn account(name: &str, r: &Row) -> Result<AccessAccount, ReplicaError> {
    let list = |text: &str| -> Result<Vec<String>, ReplicaError> {
        serde_json::from_str(text)
            .map_err(|e| damaged(name, format!("an access account's list: {e}")))
    };
    let at = |secs: i64| {
        DateTime::from_timestamp(secs, 0).ok_or_else(|| damaged(name, "an access account's time"))
    };
    let mut account =
        AccessAccount::new(r.get::<_, String>(0), r.get::<_, String>(1), at(r.get(6))?);
    account.admin = r.get(2);
    account.mailboxes = list(r.get(3))?;
    account.delegated = list(r.get(4))?;
    account.expires = r.get::<_, Option<i64>>(5).map(at).transpose()?;
    account.feed_token_hash = r.get(7);
    Ok(account)
}

impl PgReplica {
    /// The accounts a filter selects (`$1` its value), by name.
    async fn select(
        &self,
        filter: &str,
        value: Option<&str>,
    ) -> Result<Vec<AccessAccount>, ReplicaError> {
        let client = self.client().await?;
        let sql =
            format!("SELECT {COLUMNS} FROM access_accounts {filter} ORDER BY key COLLATE \"C\"");
        let found = match value {
            Some(v) => rows(&client, &sql, &[&v]).await,
            None => rows(&client, &sql, &[]).await,
        }
        .map_err(server(&self.name))?;
        found.iter().map(|r| account(&self.name, r)).collect()
    }
}

#[async_trait::async_trait]
impl AccessStore for PgReplica {
    async fn put_account(&self, a: &AccessAccount) -> Result<(), ReplicaError> {
        self.patiently(|| async {
            let json = |list: &[String]| serde_json::to_string(list).unwrap_or_else(|_| "[]".into());
            let client = self.client().await?;
            exec(
                &client,
                &format!(
                    "INSERT INTO access_accounts (key, {COLUMNS}) VALUES (lower($1), $1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (key) DO UPDATE SET name = excluded.name, password_hash = excluded.password_hash,
                     admin = excluded.admin, mailboxes = excluded.mailboxes, delegated = excluded.delegated,
                     expires_at = excluded.expires_at, created_at = excluded.created_at, feed_token = excluded.feed_token"
                ),
                &[
                    &a.name,
                    &a.password_hash,
                    &a.admin,
                    &json(&a.mailboxes),
                    &json(&a.delegated),
                    &a.expires.map(|t| t.timestamp()),
                    &a.created.timestamp(),
                    &a.feed_token_hash,
                ],
            )
            .await
            .map_err(server(&self.name))?;
            Ok(())
        })
        .await
    }

    async fn account(&self, name: &str) -> Result<Option<AccessAccount>, ReplicaError> {
        self.patiently(|| async {
            let found = self.select("WHERE key = lower($1)", Some(name)).await?;
            Ok(found.into_iter().next())
        })
        .await
    }

    async fn accounts(&self) -> Result<Vec<AccessAccount>, ReplicaError> {
        self.patiently(|| async { self.select("", None).await })
            .await
    }

    async fn account_by_feed(&self, hash: &str) -> Result<Option<AccessAccount>, ReplicaError> {
        self.patiently(|| async {
            let found = self.select("WHERE feed_token = $1", Some(hash)).await?;
            Ok(found.into_iter().next())
        })
        .await
    }

    async fn remove_account(&self, name: &str) -> Result<bool, ReplicaError> {
        self.patiently(|| async {
            let client = self.client().await?;
            let removed = exec(
                &client,
                "DELETE FROM access_accounts WHERE key = lower($1)",
                &[&name],
            )
            .await
            .map_err(server(&self.name))?;
            Ok(removed > 0)
        })
        .await
    }
}
