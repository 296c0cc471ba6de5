//! The shared replica: one PostgreSQL database that several calrep hosts
//! write and read at once (feature `postgres`).
//!
//! It keeps the same tables as the SQLite store, in PostgreSQL's types, and
//! keeps the same promises (the conformance suite checks both). What sharing
//! changes:
//!
//! - **Change numbers in commit order.** A calendar's change number is taken
//!   by updating its row (`greatest(changed_seq + 1, nextval(...))`), which
//!   locks the row until the transaction ends. Two writers of one calendar
//!   therefore commit their numbers in order, and a reader that has seen
//!   number `n` has seen every write numbered `n` or less. A bare sequence
//!   would not do: its numbers are handed out in call order, not commit
//!   order, so a sync token could skip a write still in flight.
//! - **Nothing global is written on the hot path.** Generations come from a
//!   sequence; the longest occurrence is only written when it grows.
//! - **Every wait is bounded.** The pool waits at most [`PgOptions`]'s
//!   timeouts for a connection; each session has a lock timeout and an
//!   idle-in-transaction timeout (so a host cut off mid-transaction releases
//!   its locks), and TCP keepalives on both sides.
//!
//! [`schema`] creates and migrates, [`write`] writes batches, [`read`] reads,
//! [`lease`] keeps leases and runs, [`access`] the access accounts.

mod access;
mod copy;
mod lease;
mod read;
mod rekey;
mod runs;
mod schema;
mod write;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime,
};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::{
    Batch, ChangeSet, Counts, Lease, ReplicaCalendar, ReplicaError, ReplicaMailbox,
    ReplicaOccurrence, ReplicaReader, ReplicaWriter, StoredState, SyncKey,
};
use crate::address::EmailAddress;
use crate::calendar::{CalendarId, CalendarItem, ItemId, Occurrence};
use crate::secret::Secret;
use crate::{SiteId, TaskId};

/// How to reach the database, and the bounds on waiting for it.
///
/// ```
/// use calrep_core::replica::PgOptions;
/// let options = PgOptions::new("postgres://calrep@db.example.com/calrep")?
///     .password(calrep_core::Secret::new("s3cret"))
///     .pool_size(8);
/// assert_eq!(options.name(), "postgres://calrep@db.example.com:5432/calrep");
/// assert!(!format!("{options:?}").contains("s3cret"));
/// # Ok::<(), calrep_core::replica::ReplicaError>(())
/// ```
#[derive(Clone)]
pub struct PgOptions {
    config: tokio_postgres::Config,
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    pool_size: usize,
    wait: Duration,
    lock_timeout: Duration,
    idle_in_transaction: Duration,
    /// Every transaction read-only (the server refuses writes).
    read_only: bool,
}

impl fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgOptions")
            .field("database", &self.name())
            .field("tls", &self.tls.is_some())
            .field("pool_size", &self.pool_size)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl PgOptions {
    /// Options for the database a connection string names (a
    /// `postgres://` URL or `key=value` pairs). A password in it is
    /// refused: give it with [`password`](Self::password), from a secret
    /// reference, so the string itself can be shown and logged.
    pub fn new(url: &str) -> Result<Self, ReplicaError> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| ReplicaError::Server {
            store: "postgres".into(),
            detail: format!("the connection string does not parse: {e}"),
            transient: false,
        })?;
        let mut options = Self {
            config,
            tls: None,
            pool_size: 16,
            wait: Duration::from_secs(30),
            lock_timeout: Duration::from_secs(60),
            idle_in_transaction: Duration::from_secs(60),
            read_only: false,
        };
        if options.config.get_password().is_some() {
            return Err(ReplicaError::Server {
                store: options.name(),
                detail: "the connection string holds a password: give it by reference (password_env or password_file) instead".into(),
                transient: false,
            });
        }
        if options.config.get_hosts().is_empty() {
            options.config.host("localhost");
        }
        Ok(options)
    }

    /// The password to sign in with.
    pub fn password(mut self, password: Secret) -> Self {
        self.config.password(password.expose());
        self
    }

    /// Encrypts the connection with TLS, verifying the server with
    /// `config` (see [`PgOptions::tls_roots`] for a configuration from a CA
    /// file or the system's roots). TLS is then required: a server (or
    /// someone in between) that answers "no TLS" is refused, never used in
    /// clear text.
    pub fn tls(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self.config
            .ssl_mode(tokio_postgres::config::SslMode::Require);
        self
    }

    /// At most this many connections (16 by default).
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How long a call waits for a free connection, or for a new one to be
    /// made (30 s by default), before it fails as transient.
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Whether every host the connection string names is this machine (a
    /// loopback address, `localhost` or a socket): where TLS is off unless
    /// configured.
    ///
    /// ```
    /// use calrep_core::replica::PgOptions;
    /// assert!(PgOptions::new("postgres://calrep@127.0.0.1:5432/calrep")?.is_local());
    /// assert!(PgOptions::new("host=localhost,::1 user=calrep")?.is_local());
    /// assert!(!PgOptions::new("postgres://calrep@db.example.com/calrep")?.is_local());
    /// assert!(!PgOptions::new("postgres://calrep@localhost,db.example.com/calrep")?.is_local());
    /// # Ok::<(), calrep_core::replica::ReplicaError>(())
    /// ```
    pub fn is_local(&self) -> bool {
        self.config.get_hosts().iter().all(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => {
                name == "localhost"
                    || name
                        .trim_matches(['[', ']'])
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(_) => true,
        })
    }

    /// The database as the connection string names it, without a password:
    /// what errors and logs show.
    pub fn name(&self) -> String {
        let c = &self.config;
        let host = match c.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let port = c.get_ports().first().copied().unwrap_or(5432);
        let user = c.get_user().map(|u| format!("{u}@")).unwrap_or_default();
        let db = c.get_dbname().or(c.get_user()).unwrap_or("postgres");
        format!("postgres://{user}{host}:{port}/{db}")
    }

    /// A TLS configuration that trusts the certificates in the PEM file
    /// `ca_file`, or the system's roots when it is `None`.
    pub fn tls_roots(
        ca_file: Option<&std::path::Path>,
    ) -> Result<Arc<rustls::ClientConfig>, ReplicaError> {
        let fail = |detail: String| ReplicaError::Server {
            store: "postgres".into(),
            detail,
            transient: false,
        };
        crate::http::install_crypto_provider();
        let builder = rustls::ClientConfig::builder();
        let config = match ca_file {
            Some(path) => {
                use rustls::pki_types::pem::PemObject;
                let mut roots = rustls::RootCertStore::empty();
                let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
                    .map_err(|e| fail(format!("CA file {}: {e}", path.display())))?;
                for cert in certs {
                    let cert =
                        cert.map_err(|e| fail(format!("CA file {}: {e}", path.display())))?;
                    roots
                        .add(cert)
                        .map_err(|e| fail(format!("CA file {}: {e}", path.display())))?;
                }
                if roots.is_empty() {
                    return Err(fail(format!(
                        "CA file {} holds no certificate",
                        path.display()
                    )));
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            None => {
                use rustls_platform_verifier::BuilderVerifierExt;
                builder
                    .with_platform_verifier()
                    .map_err(|e| fail(format!("the system's certificate roots: {e}")))?
                    .with_no_client_auth()
            }
        };
        Ok(Arc::new(config))
    }
}

/// The shared replica in PostgreSQL: a pool of connections to one
/// database, whose schema it creates and migrates.
///
/// ```no_run
/// use calrep_core::replica::{PgOptions, PgReplica, ReplicaReader};
/// # async fn f() -> Result<(), calrep_core::replica::ReplicaError> {
/// let options = PgOptions::new("postgres://calrep@127.0.0.1/calrep")?;
/// let replica = PgReplica::connect(options).await?;
/// println!("{} mailboxes", replica.mailboxes().await?.len());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PgReplica {
    pool: Pool,
    name: Arc<str>,
}

impl fmt::Debug for PgReplica {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgReplica")
            .field("database", &self.name)
            .finish_non_exhaustive()
    }
}

impl PgReplica {
    /// Connects, creating the schema in an empty database or migrating an
    /// older one (one host at a time: the migration holds an advisory
    /// lock). A database that holds other tables, or a newer calrep's
    /// schema, is refused untouched.
    pub async fn connect(options: PgOptions) -> Result<Self, ReplicaError> {
        let replica = Self::pool(options)?;
        let mut client = replica.client().await?;
        schema::migrate(&mut client, &replica.name).await?;
        Ok(replica)
    }

    /// Connects to a replica for reading only: nothing is created or
    /// migrated, and a schema other than this calrep's is refused.
    pub async fn connect_read_only(options: PgOptions) -> Result<Self, ReplicaError> {
        let mut options = options;
        options.read_only = true;
        let replica = Self::pool(options)?;
        let client = replica.client().await?;
        schema::check(&client, &replica.name).await?;
        Ok(replica)
    }

    /// The database, named without its password.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn pool(options: PgOptions) -> Result<Self, ReplicaError> {
        let name: Arc<str> = options.name().into();
        let mut config = options.config.clone();
        // A host that vanishes must not hold rows locked for hours: the
        // server ends a session idle inside a transaction, and both ends
        // probe a silent connection.
        //
        // Commits do not wait for the disk (`synchronous_commit=off`): the
        // promise of the SQLite file in WAL mode with `synchronous=NORMAL`.
        // A server crash may forget the last fraction of a second of
        // commits, never half of one; a forgotten batch and its state are
        // simply read again from the source. Options in the connection
        // string come after these, so an operator's own settings win.
        let ms = |d: Duration| d.as_millis().max(1);
        let session = format!(
            "-c synchronous_commit=off -c idle_in_transaction_session_timeout={} -c lock_timeout={} -c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3",
            ms(options.idle_in_transaction),
            ms(options.lock_timeout),
        );
        // A reader's sessions cannot write, whatever calls them.
        let session = if options.read_only {
            format!("{session} -c default_transaction_read_only=on")
        } else {
            session
        };
        let joined = match config.get_options() {
            Some(theirs) if !theirs.trim().is_empty() => format!("{session} {theirs}"),
            _ => session,
        };
        config
            .options(joined)
            .application_name("calrep")
            .connect_timeout(Duration::from_secs(10))
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3);
        #[cfg(target_os = "linux")]
        config.tcp_user_timeout(Duration::from_secs(30));
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match options.tls {
            Some(tls) => Manager::from_config(
                config,
                tokio_postgres_rustls::MakeRustlsConnect::new((*tls).clone()),
                manager_config,
            ),
            None => Manager::from_config(config, tokio_postgres::NoTls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.wait))
            .create_timeout(Some(options.wait))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| ReplicaError::Server {
                store: name.to_string(),
                detail: format!("connection pool: {e}"),
                transient: false,
            })?;
        Ok(Self { pool, name })
    }

    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Client, ReplicaError> {
        self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => server(&self.name)(e),
            other => ReplicaError::Server {
                store: self.name.to_string(),
                detail: format!("no database connection: {other}"),
                transient: true,
            },
        })
    }

    /// Deletes attachment contents no item refers to any more; returns how
    /// many.
    pub async fn collect_garbage(&self) -> Result<u64, ReplicaError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM item_attachments a WHERE a.sha256 = b.sha256)",
                &[],
            )
            .await
            .map_err(server(&self.name))
    }
}

/// The longest a call keeps trying a database that answers "try again"
/// (restarting, or the connection broke) before it fails.
const PATIENCE: Duration = Duration::from_secs(60);

impl PgReplica {
    /// Runs `call` (one whole operation: a transaction, or a read) again
    /// while it fails transiently, for at most [`PATIENCE`], with growing
    /// pauses. Every operation is safe to repeat: a batch and its state are
    /// written idempotently, and a COMMIT whose answer was lost may have
    /// committed, so it must be.
    async fn patiently<T, F, Fut>(&self, mut call: F) -> Result<T, ReplicaError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ReplicaError>>,
    {
        let deadline = std::time::Instant::now() + PATIENCE;
        let mut pause = Duration::from_millis(100);
        loop {
            match call().await {
                Err(e) if e.is_transient() && std::time::Instant::now() + pause < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }
}

/// Turns a driver error into a [`ReplicaError::Server`] that names the
/// database and says whether trying again may help.
pub(super) fn server(name: &str) -> impl Fn(tokio_postgres::Error) -> ReplicaError + '_ {
    move |e| {
        let transient = is_transient(&e);
        let detail = match e.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => {
                let mut text = e.to_string();
                let mut cause = std::error::Error::source(&e);
                while let Some(c) = cause {
                    text.push_str(": ");
                    text.push_str(&c.to_string());
                    cause = c.source();
                }
                text
            }
        };
        ReplicaError::Server {
            store: name.to_owned(),
            detail,
            transient,
        }
    }
}

/// Whether the failed call may succeed if made again: the connection
/// broke or could not be made, the server is shutting down or starting,
/// or it broke a deadlock or a serialization conflict.
fn is_transient(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            code.code().starts_with("08")
                || [
                    SqlState::T_R_SERIALIZATION_FAILURE,
                    SqlState::T_R_DEADLOCK_DETECTED,
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                    SqlState::LOCK_NOT_AVAILABLE,
                    SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT,
                ]
                .contains(code)
        }
        // No answer from the server at all: the network or the socket
        // (refused, reset, timed out) may come back; a certificate or
        // protocol that does not check out will not.
        None => {
            use std::io::ErrorKind::{
                BrokenPipe, ConnectionAborted, ConnectionRefused, ConnectionReset, NotConnected,
                TimedOut, UnexpectedEof,
            };
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                if let Some(io) = c.downcast_ref::<std::io::Error>() {
                    return matches!(
                        io.kind(),
                        BrokenPipe
                            | ConnectionAborted
                            | ConnectionRefused
                            | ConnectionReset
                            | NotConnected
                            | TimedOut
                            | UnexpectedEof
                    );
                }
                cause = c.source();
            }
            false
        }
    }
}

/// The rows a statement returns, through the connection's statement cache
/// (a statement is parsed and planned once per connection).
pub(super) async fn rows(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let statement = c.prepare_cached(sql).await?;
    c.query(&statement, params).await
}

/// The one row, or none, a statement returns (see [`rows`]).
pub(super) async fn row(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, tokio_postgres::Error> {
    let statement = c.prepare_cached(sql).await?;
    c.query_opt(&statement, params).await
}

/// Runs a statement (see [`rows`]); how many rows it changed.
pub(super) async fn exec(
    c: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, tokio_postgres::Error> {
    let statement = c.prepare_cached(sql).await?;
    c.execute(&statement, params).await
}

/// Seconds since the epoch, as stored.
fn secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// A stored number that cannot be negative.
fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A number to store.
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn damaged(name: &str, detail: impl Into<String>) -> ReplicaError {
    ReplicaError::Damaged {
        path: name.to_owned(),
        detail: detail.into(),
    }
}

#[async_trait]
impl ReplicaWriter for PgReplica {
    async fn sync_state(&self, key: &SyncKey) -> Result<StoredState, ReplicaError> {
        self.patiently(|| async { read::sync_state(&self.client().await?, &self.name, key).await })
            .await
    }

    async fn apply(&self, batch: Batch) -> Result<Counts, ReplicaError> {
        self.patiently(|| async {
            write::apply(&mut self.client().await?, &self.name, &batch).await
        })
        .await
    }

    async fn begin_full_sync(&self, key: &SyncKey) -> Result<u64, ReplicaError> {
        self.patiently(|| async {
            write::begin_full_sync(&mut self.client().await?, &self.name, key).await
        })
        .await
    }

    async fn full_sync_progress(
        &self,
        key: &SyncKey,
        generation: u64,
    ) -> Result<(u64, u64), ReplicaError> {
        self.patiently(|| async {
            read::full_sync_progress(&self.client().await?, &self.name, key, generation).await
        })
        .await
    }

    async fn task_mailboxes(
        &self,
        site: &SiteId,
        task: &TaskId,
    ) -> Result<Vec<String>, ReplicaError> {
        self.patiently(|| async {
            read::task_mailboxes(&self.client().await?, &self.name, site, task).await
        })
        .await
    }

    async fn site_states(
        &self,
        site: &SiteId,
    ) -> Result<Vec<(String, Option<crate::mailbox::SyncState>)>, ReplicaError> {
        self.patiently(|| async {
            read::site_states(&self.client().await?, &self.name, site).await
        })
        .await
    }

    async fn rekey(
        &self,
        plan: crate::replica::Rekey,
    ) -> Result<crate::replica::Rekeyed, ReplicaError> {
        self.patiently(|| async {
            rekey::rekey(&mut self.client().await?, &self.name, &plan).await
        })
        .await
    }

    async fn remove_calendar(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
    ) -> Result<Counts, ReplicaError> {
        self.patiently(|| async {
            write::remove_calendar(&mut self.client().await?, &self.name, mailbox, calendar).await
        })
        .await
    }

    async fn acquire_lease(
        &self,
        mailbox: &EmailAddress,
        task: &TaskId,
        owner: &str,
        now: DateTime<Utc>,
        ttl: TimeDelta,
    ) -> Result<Lease, ReplicaError> {
        self.patiently(|| async {
            let mut client = self.client().await?;
            lease::acquire_lease(&mut client, &self.name, mailbox, task, owner, now, ttl).await
        })
        .await
    }

    async fn release_lease(
        &self,
        mailbox: &EmailAddress,
        owner: &str,
        synced_at: Option<DateTime<Utc>>,
    ) -> Result<(), ReplicaError> {
        self.patiently(|| async {
            let mut client = self.client().await?;
            lease::release_lease(&mut client, &self.name, mailbox, owner, synced_at).await
        })
        .await
    }

    async fn freeze(&self, mailbox: &EmailAddress, reason: &str) -> Result<(), ReplicaError> {
        self.patiently(|| async {
            lease::freeze(&self.client().await?, &self.name, mailbox, reason).await
        })
        .await
    }

    fn coordinator(&self) -> Option<&dyn super::RunCoordinator> {
        Some(self)
    }

    fn keeps_lease_time(&self) -> bool {
        true
    }

    async fn record_run(
        &self,
        task: &TaskId,
        status: &str,
        report_json: &str,
        finished: DateTime<Utc>,
    ) -> Result<(), ReplicaError> {
        self.patiently(|| async {
            let client = self.client().await?;
            lease::record_run(&client, &self.name, task, status, report_json, finished).await
        })
        .await
    }

    async fn horizon_until(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
    ) -> Result<Option<DateTime<Utc>>, ReplicaError> {
        self.patiently(|| async {
            read::horizon_until(&self.client().await?, &self.name, mailbox, calendar).await
        })
        .await
    }

    async fn refresh_occurrences(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
        occurrences: Vec<(ItemId, Vec<Occurrence>)>,
        horizon_from: DateTime<Utc>,
        horizon_until: DateTime<Utc>,
    ) -> Result<Counts, ReplicaError> {
        self.patiently(|| async {
            write::refresh_occurrences(
                &mut self.client().await?,
                &self.name,
                mailbox,
                calendar,
                &occurrences,
                horizon_from,
                horizon_until,
            )
            .await
        })
        .await
    }
}

#[async_trait]
impl ReplicaReader for PgReplica {
    async fn mailboxes(&self) -> Result<Vec<ReplicaMailbox>, ReplicaError> {
        self.patiently(|| async { read::mailboxes(&self.client().await?, &self.name, None).await })
            .await
    }

    async fn has_mailbox(&self, mailbox: &EmailAddress) -> Result<bool, ReplicaError> {
        Ok(self.mailbox(mailbox).await?.is_some())
    }

    async fn mailbox(
        &self,
        mailbox: &EmailAddress,
    ) -> Result<Option<ReplicaMailbox>, ReplicaError> {
        self.patiently(|| async {
            let found = read::mailboxes(&self.client().await?, &self.name, Some(mailbox)).await?;
            Ok(found.into_iter().next())
        })
        .await
    }

    async fn calendar_names(
        &self,
        mailbox: &EmailAddress,
    ) -> Result<Vec<(CalendarId, String)>, ReplicaError> {
        self.patiently(|| async {
            read::calendar_names(&self.client().await?, &self.name, mailbox).await
        })
        .await
    }

    async fn calendar_ids(&self, mailbox: &EmailAddress) -> Result<Vec<CalendarId>, ReplicaError> {
        let names = self.calendar_names(mailbox).await?;
        Ok(names.into_iter().map(|(id, _)| id).collect())
    }

    async fn calendars(
        &self,
        mailbox: &EmailAddress,
    ) -> Result<Vec<ReplicaCalendar>, ReplicaError> {
        self.patiently(|| async {
            read::calendars(&self.client().await?, &self.name, mailbox).await
        })
        .await
    }

    async fn items(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
    ) -> Result<Vec<CalendarItem>, ReplicaError> {
        self.patiently(|| async {
            read::items(&self.client().await?, &self.name, mailbox, calendar).await
        })
        .await
    }

    async fn occurrences(
        &self,
        mailbox: &EmailAddress,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ReplicaOccurrence>, ReplicaError> {
        self.patiently(|| async {
            read::occurrences(&self.client().await?, &self.name, mailbox, from, to).await
        })
        .await
    }

    async fn attachment_refs(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
    ) -> Result<Vec<(ItemId, String, Option<String>)>, ReplicaError> {
        self.patiently(|| async {
            read::attachment_refs(&self.client().await?, &self.name, mailbox, calendar).await
        })
        .await
    }

    async fn attachment(&self, sha256: &str) -> Result<Option<Vec<u8>>, ReplicaError> {
        self.patiently(|| async {
            read::attachment(&self.client().await?, &self.name, sha256).await
        })
        .await
    }

    async fn changes(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
        since: u64,
    ) -> Result<Option<ChangeSet>, ReplicaError> {
        self.patiently(|| async {
            read::changes(
                &mut self.client().await?,
                &self.name,
                mailbox,
                calendar,
                since,
            )
            .await
        })
        .await
    }
}
