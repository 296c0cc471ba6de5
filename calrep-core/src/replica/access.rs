//! Who may read which replicated calendars: accounts the administrator
//! issues (`calrep access grant`), kept in the store beside the replica so
//! that checking them needs neither the directory nor Exchange, and so
//! that every host serving a shared store sees the same ones.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ReplicaError;

/// One person's (or one service's) access to the replica.
///
/// ```
/// use calrep_core::replica::AccessAccount;
///
/// let mut ann = AccessAccount::new("ann", "$argon2id$…", "2026-11-29T00:00:00Z".parse()?);
/// ann.mailboxes.push("ann@example.com".into());
/// ann.delegated.push("ceo@example.com".into());
/// assert!(ann.may_read("CEO@example.com"));
/// assert!(!ann.may_read("bob@example.com"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AccessAccount {
    /// The sign-in name.
    pub name: String,
    /// The app password's Argon2id hash (PHC string); never the password.
    #[serde(skip_serializing)]
    pub password_hash: String,
    /// Reads every replicated mailbox, private items included.
    pub admin: bool,
    /// Mailboxes that are the account's own (lower-case addresses).
    pub mailboxes: Vec<String>,
    /// Mailboxes delegated to it: readable, with others' private items
    /// masked.
    pub delegated: Vec<String>,
    /// After this instant the account no longer signs in.
    pub expires: Option<DateTime<Utc>>,
    /// When it was issued (or its password last replaced).
    pub created: DateTime<Utc>,
    /// The SHA-256 (hex) of its feed token, if it has one: subscription
    /// URLs carry the token, the store only its hash.
    #[serde(skip_serializing)]
    pub feed_token_hash: Option<String>,
}

impl AccessAccount {
    /// An account with no grants yet.
    pub fn new(
        name: impl Into<String>,
        password_hash: impl Into<String>,
        created: DateTime<Utc>,
    ) -> Self {
        Self {
            name: name.into(),
            password_hash: password_hash.into(),
            admin: false,
            mailboxes: Vec::new(),
            delegated: Vec::new(),
            expires: None,
            created,
            feed_token_hash: None,
        }
    }

    /// Whether it may read `mailbox` at all (own, delegated or admin).
    pub fn may_read(&self, mailbox: &str) -> bool {
        self.admin || self.grant(mailbox).is_some()
    }

    /// How it may read `mailbox`: `Some(true)` as its own, `Some(false)`
    /// as a delegate, `None` not at all (admins aside).
    pub fn grant(&self, mailbox: &str) -> Option<bool> {
        let is = |list: &[String]| list.iter().any(|m| m.eq_ignore_ascii_case(mailbox));
        if is(&self.mailboxes) {
            Some(true)
        } else if is(&self.delegated) {
            Some(false)
        } else {
            None
        }
    }

    /// Whether it has expired at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }
}

/// Where access accounts are kept: the store the replica is in.
#[async_trait]
pub trait AccessStore: Send + Sync + std::fmt::Debug {
    /// Adds or replaces an account.
    async fn put_account(&self, account: &AccessAccount) -> Result<(), ReplicaError>;

    /// The account with this name (names compare without regard to case).
    async fn account(&self, name: &str) -> Result<Option<AccessAccount>, ReplicaError>;

    /// Every account, by name.
    async fn accounts(&self) -> Result<Vec<AccessAccount>, ReplicaError>;

    /// The account whose feed token hashes to `hash` (SHA-256, hex).
    async fn account_by_feed(&self, hash: &str) -> Result<Option<AccessAccount>, ReplicaError>;

    /// Removes an account; whether there was one.
    async fn remove_account(&self, name: &str) -> Result<bool, ReplicaError>;
}
