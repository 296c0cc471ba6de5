//! Continuity access: people read their replicated calendars while Exchange
//! is down — in CalDAV clients, feeds and a web page — as accounts the
//! administrator issues allow.
//!
//! Accounts: app passwords (random, shown once, kept only as Argon2id
//! hashes) and the grants that say whose calendars an account may read
//! ([`grant`], [`revoke`], [`sign_in`]). They live in the store beside the
//! replica ([`AccessStore`]), so signing in needs neither the directory nor
//! Exchange. [`AccessServer`] serves the replica over HTTP: read-only
//! CalDAV, subscription feeds and a web page.

mod caldav;
mod dav;
mod feed;
mod password;
mod resources;
mod server;
mod throttle;
mod tls;
mod web;

use chrono::{DateTime, Utc};

use crate::address::EmailAddress;
use crate::error::{Classify, ErrorKind};
use crate::replica::{AccessAccount, AccessStore, ReplicaError, ReplicaReader};
use crate::secret::Secret;

pub use password::{PasswordHasher, new_app_password};
pub use server::{AccessLog, AccessOptions, AccessRecord, AccessServer};
pub use tls::tls_config;

/// A TLS server configuration, as [`tls_config`] makes it and
/// [`AccessOptions::tls`] takes it (rustls's, re-exported so that hosts
/// need not name the crate).
pub type TlsConfig = std::sync::Arc<rustls::ServerConfig>;

/// What the front end reads: the replica and its accounts. Any store that
/// is both (an `SqliteReplica` opened read-only, say) is one.
pub trait AccessReplica: ReplicaReader + AccessStore {}

impl<T: ReplicaReader + AccessStore + ?Sized> AccessReplica for T {}

/// An HTTP answer before it is written.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Answer {
    pub(crate) fn text(status: u16, text: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: text.as_bytes().to_vec(),
            headers: Vec::new(),
        }
    }

    /// A redirect: 301 (moved for good) or 303 (see other) to `location`.
    pub(crate) fn redirect(status: u16, location: &str) -> Self {
        let reason = if status == 301 {
            "Moved Permanently"
        } else {
            "See Other"
        };
        let mut answer = Self::text(status, reason);
        answer.headers.push(("location", location.to_owned()));
        answer
    }
}

/// Why an access operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// The request itself is wrong (a bad name, no grant at all).
    #[error("{0}")]
    Invalid(String),
    /// No account by that name.
    #[error("no access account named {0:?}")]
    Unknown(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] ReplicaError),
    /// The system could not make a password (no randomness, no hash).
    #[error("cannot make an app password: {0}")]
    Password(String),
}

impl Classify for AccessError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(_) | Self::Password(_) => ErrorKind::InvalidArgument,
            Self::Unknown(_) => ErrorKind::UnknownMailbox,
            Self::Store(e) => e.kind(),
        }
    }
}

/// What an account may read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Grants {
    /// Its own mailboxes.
    pub mailboxes: Vec<EmailAddress>,
    /// Mailboxes delegated to it (others' private items masked).
    pub delegated: Vec<EmailAddress>,
    /// Every mailbox, private items included.
    pub admin: bool,
    /// No sign-in after this instant.
    pub expires: Option<DateTime<Utc>>,
}

/// Account names: what a person types into a client's user field.
fn check_name(name: &str) -> Result<(), AccessError> {
    let fine = |c: char| c.is_ascii_alphanumeric() || "._@-+".contains(c);
    if name.is_empty() || name.len() > 128 || !name.chars().all(fine) {
        return Err(AccessError::Invalid(format!(
            "an account name is 1 to 128 letters, digits and . _ @ - +, got {name:?}"
        )));
    }
    Ok(())
}

/// Issues `name` a new app password with `grants` (replacing its password
/// and grants if it exists) and returns the password: the only time it is
/// ever seen, since only its hash is kept.
///
/// # Errors
///
/// A bad name, no grant at all, or the store failing.
///
/// ```
/// use calrep_core::access::{Grants, PasswordHasher, grant, sign_in};
/// use calrep_core::replica::SqliteReplica;
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let store = SqliteReplica::open_in_memory()?;
/// let hasher = PasswordHasher::fast_for_tests();
/// let mut grants = Grants::default();
/// grants.mailboxes.push("ann@example.com".parse()?);
/// let now = "2026-11-29T00:00:00Z".parse()?;
/// let password = grant(&store, &hasher, "ann", &grants, now).await?;
/// let account = sign_in(&store, &hasher, "ann", password.expose(), now).await?;
/// assert!(account.is_some_and(|a| a.may_read("ann@example.com")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn grant(
    store: &dyn AccessStore,
    hasher: &PasswordHasher,
    name: &str,
    grants: &Grants,
    now: DateTime<Utc>,
) -> Result<Secret, AccessError> {
    check_name(name)?;
    if !grants.admin && grants.mailboxes.is_empty() && grants.delegated.is_empty() {
        return Err(AccessError::Invalid(format!(
            "account {name} would read nothing: grant a mailbox, a delegation or admin"
        )));
    }
    let password = new_app_password()?;
    let hash = hasher.hash(&password).await?;
    let mut account = AccessAccount::new(name, hash, now);
    // A new password and new grants keep the account's feed token.
    account.feed_token_hash = store.account(name).await?.and_then(|a| a.feed_token_hash);
    let keys = |list: &[EmailAddress]| list.iter().map(|a| a.key().to_owned()).collect();
    account.mailboxes = keys(&grants.mailboxes);
    account.delegated = keys(&grants.delegated);
    account.admin = grants.admin;
    account.expires = grants.expires;
    store.put_account(&account).await?;
    Ok(password)
}

/// Removes `name`'s account: its password stops working at once.
///
/// # Errors
///
/// No such account, or the store failing.
pub async fn revoke(store: &dyn AccessStore, name: &str) -> Result<(), AccessError> {
    if store.remove_account(name).await? {
        Ok(())
    } else {
        Err(AccessError::Unknown(name.to_owned()))
    }
}

/// Issues `name` a new feed token (its subscription URLs'), replacing the
/// old one, which stops working at once; returns it: the only time it is
/// seen, since only its SHA-256 is kept.
///
/// # Errors
///
/// No such account, no randomness, or the store failing.
pub async fn issue_feed_token(store: &dyn AccessStore, name: &str) -> Result<Secret, AccessError> {
    let mut account = store
        .account(name)
        .await?
        .ok_or_else(|| AccessError::Unknown(name.to_owned()))?;
    let token = new_app_password()?;
    account.feed_token_hash = Some(feed_token_hash(token.expose()));
    store.put_account(&account).await?;
    Ok(token)
}

/// The subscription URL of every calendar `name` may read, under `base`
/// (e.g. `http://127.0.0.1:8008`), for `token`: (calendar, URL) pairs.
///
/// # Errors
///
/// No such account, or the store failing.
pub async fn feed_urls(
    replica: &dyn AccessReplica,
    name: &str,
    token: &Secret,
    base: &str,
) -> Result<Vec<(String, String)>, AccessError> {
    let account = replica
        .account(name)
        .await?
        .ok_or_else(|| AccessError::Unknown(name.to_owned()))?;
    let all = caldav::collections(replica, &account)
        .await
        .map_err(|_| AccessError::Invalid("the replica cannot be read".into()))?;
    Ok(all
        .into_iter()
        .map(|c| {
            (
                format!("{} — {}", c.mailbox, c.calendar.name),
                format!(
                    "{}/feeds/{}/{}.ics",
                    base.trim_end_matches('/'),
                    token.expose(),
                    c.segment.replace('@', "%40")
                ),
            )
        })
        .collect())
}

/// The stored form of a feed token.
pub(crate) fn feed_token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    crate::encoding::hex(&Sha256::digest(token.as_bytes()))
}

/// The account `name` signs into with `password` at `now`, or `None`: a
/// wrong password, an unknown or expired account all look the same to the
/// caller, and take the same time (an unknown name is checked against a
/// dummy hash).
///
/// # Errors
///
/// Only the store failing.
pub async fn sign_in(
    store: &dyn AccessStore,
    hasher: &PasswordHasher,
    name: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<Option<AccessAccount>, AccessError> {
    let account = if check_name(name).is_ok() {
        store.account(name).await?
    } else {
        None
    };
    let hash = account.as_ref().map(|a| a.password_hash.clone());
    let matches = hasher.verify(password, hash.as_deref()).await;
    Ok(account.filter(|a| matches && !a.expired(now)))
}
