//! The store a configuration names, opened: the SQLite file or the shared
//! PostgreSQL database, behind one type the command line and hosts use.

use std::sync::Arc;

use super::{Replica, ReplicaError, SqliteReplica};
use crate::config::Config;

/// The configured replica store, open.
///
/// ```
/// use calrep_core::replica::{ConfiguredStore, ReplicaReader};
/// let dir = std::env::temp_dir().join(format!("calrep-store-doc-{}", std::process::id()));
/// let config = calrep_core::Config::parse(
///     &format!("[replica]\npath = {:?}\n", dir.join("r.db").display().to_string()),
///     "calrep.toml",
/// )?;
/// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let store = ConfiguredStore::open(&config).await?;
/// assert!(store.replica().mailboxes().await?.is_empty());
/// assert!(store.describe().ends_with("r.db"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConfiguredStore {
    /// One host's SQLite file.
    Sqlite(SqliteReplica),
    /// A PostgreSQL database several hosts share.
    #[cfg(feature = "postgres")]
    Postgres(super::PgReplica),
}

impl ConfiguredStore {
    /// Opens (creating or migrating) the store `config` names. A
    /// PostgreSQL store is connected to in the current tokio runtime,
    /// whose tasks carry its connections: use it in that runtime.
    pub async fn open(config: &Config) -> Result<Self, ReplicaError> {
        match &config.replica.postgres {
            None => Ok(Self::Sqlite(SqliteReplica::open(
                &config.resolve_path(&config.replica.path),
            )?)),
            Some(_) => Self::postgres(config, false).await,
        }
    }

    /// Opens the store for reading only: nothing is created, migrated or
    /// changed, and writes fail.
    pub async fn open_read_only(config: &Config) -> Result<Self, ReplicaError> {
        match &config.replica.postgres {
            None => Ok(Self::Sqlite(SqliteReplica::open_read_only(
                &config.resolve_path(&config.replica.path),
            )?)),
            Some(_) => Self::postgres(config, true).await,
        }
    }

    #[cfg(feature = "postgres")]
    async fn postgres(config: &Config, read_only: bool) -> Result<Self, ReplicaError> {
        let options = pg_options(config)?;
        let replica = if read_only {
            super::PgReplica::connect_read_only(options).await?
        } else {
            super::PgReplica::connect(options).await?
        };
        Ok(Self::Postgres(replica))
    }

    #[cfg(not(feature = "postgres"))]
    async fn postgres(_: &Config, _: bool) -> Result<Self, ReplicaError> {
        Err(ReplicaError::Server {
            store: "postgres".into(),
            detail: "this calrep was built without PostgreSQL support (the `postgres` feature)"
                .into(),
            transient: false,
        })
    }

    /// The store with its calls on the caller's thread where that is a
    /// choice: see [`SqliteReplica::on_callers_thread`] (a PostgreSQL
    /// store's calls are socket I/O on the runtime already).
    ///
    /// ```
    /// use calrep_core::replica::{ConfiguredStore, ReplicaReader};
    /// let dir = std::env::temp_dir().join(format!("calrep-one-job-doc-{}", std::process::id()));
    /// let config = calrep_core::Config::parse(
    ///     &format!("[replica]\npath = {:?}\n", dir.join("r.db").display().to_string()),
    ///     "calrep.toml",
    /// )?;
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// let store = ConfiguredStore::open(&config).await?.on_callers_thread();
    /// assert!(store.replica().mailboxes().await?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn on_callers_thread(self) -> Self {
        match self {
            Self::Sqlite(r) => Self::Sqlite(r.on_callers_thread()),
            #[cfg(feature = "postgres")]
            other @ Self::Postgres(_) => other,
        }
    }

    /// The store as the engine uses it.
    pub fn replica(&self) -> Arc<dyn Replica> {
        match self {
            Self::Sqlite(r) => Arc::new(r.clone()),
            #[cfg(feature = "postgres")]
            Self::Postgres(r) => Arc::new(r.clone()),
        }
    }

    /// The store as the continuity-access front end reads it.
    #[cfg(feature = "access")]
    pub fn reader(&self) -> Arc<dyn crate::access::AccessReplica> {
        match self {
            Self::Sqlite(r) => Arc::new(r.clone()),
            #[cfg(feature = "postgres")]
            Self::Postgres(r) => Arc::new(r.clone()),
        }
    }

    /// Where it is, for people: the file's path, or the database's URL
    /// without a password.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(r) => r.path().display().to_string(),
            #[cfg(feature = "postgres")]
            Self::Postgres(r) => r.name().to_owned(),
        }
    }

    /// Deletes attachment contents no item refers to any more; how many.
    pub async fn collect_garbage(&self) -> Result<u64, ReplicaError> {
        match self {
            Self::Sqlite(r) => r.collect_garbage().await,
            #[cfg(feature = "postgres")]
            Self::Postgres(r) => r.collect_garbage().await,
        }
    }
}

/// The connection options `[replica.postgres]` gives, with the password
/// read from its reference and TLS as configured.
#[cfg(feature = "postgres")]
pub fn pg_options(config: &Config) -> Result<super::PgOptions, ReplicaError> {
    let Some(pg) = &config.replica.postgres else {
        return Err(ReplicaError::Server {
            store: "postgres".into(),
            detail: "the configuration has no [replica.postgres] section".into(),
            transient: false,
        });
    };
    let mut options = super::PgOptions::new(&pg.url)?;
    let refused = |detail: String| ReplicaError::Server {
        store: options_name(&pg.url),
        detail,
        transient: false,
    };
    if let Some(reference) = pg.password() {
        let reference =
            reference.map_err(|e| refused(format!("replica.postgres.password: {e}")))?;
        let secret = reference
            .load(&config.base_dir)
            .map_err(|e| refused(format!("replica.postgres.password: {e}")))?;
        options = options.password(secret);
    }
    if let Some(size) = pg.pool_size {
        options = options.pool_size(size);
    }
    // On unless every host is this machine: the driver's own parse of the
    // connection string decides which hosts those are.
    if pg.tls.unwrap_or_else(|| !options.is_local()) {
        let ca = pg.ca_file.as_ref().map(|f| config.resolve_path(f));
        options = options.tls(super::PgOptions::tls_roots(ca.as_deref())?);
    }
    Ok(options)
}

#[cfg(feature = "postgres")]
fn options_name(url: &str) -> String {
    super::PgOptions::new(url).map_or_else(|_| "postgres".into(), |o| o.name())
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn options(section: &str) -> super::super::PgOptions {
        let config =
            Config::parse(&format!("[replica.postgres]\n{section}\n"), "calrep.toml").unwrap();
        pg_options(&config).unwrap()
    }

    #[test]
    fn tls_is_on_unless_every_host_is_this_machine_or_configured_off() {
        let remote = r#"url = "postgres://calrep@db.example.com/calrep""#;
        assert!(options(remote).tls.is_some(), "a host on the network");
        let mixed = r#"url = "host=localhost,db.example.com user=calrep""#;
        assert!(options(mixed).tls.is_some(), "one host on the network");
        let local = r#"url = "postgres://calrep@[::1]:5432/calrep""#;
        assert!(options(local).tls.is_none(), "loopback only");
        let off = format!("{remote}\ntls = false");
        assert!(options(&off).tls.is_none(), "configured off");
        let on = format!("{local}\ntls = true");
        assert!(options(&on).tls.is_some(), "configured on");
    }
}
