//! Opening a replica file: creating it, checking that it is a calrep
//! replica of a version this calrep reads, and migrating it — safely when
//! several processes open one new file at once.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::one;
use crate::replica::ReplicaError;
use crate::replica::schema::{APPLICATION_ID, MIGRATIONS, current_version};

/// How long a writer waits for another process's transaction. Batches are
/// small and commit in milliseconds; a migration or a checkpoint of a big
/// replica can take seconds.
pub(super) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Prepares a writable connection. Several processes may open one new
/// file at once: the schema is checked before anything is changed (a
/// foreign or newer file stays untouched), then checked again and
/// migrated inside one IMMEDIATE transaction, which only one process
/// at a time can hold.
pub(super) fn init(mut conn: Connection, path: &Path) -> Result<Connection, ReplicaError> {
    let err = db(path);
    conn.busy_timeout(BUSY_TIMEOUT).map_err(&err)?;
    check_schema(inspect_once(&conn, path)?, path, true)?;
    // Every write transaction starts IMMEDIATE: a deferred one that
    // reads first and then writes gets SQLITE_BUSY at once, without the
    // busy wait, when another process writes meanwhile.
    conn.set_transaction_behavior(TransactionBehavior::Immediate);
    // An 8 MiB page cache: large enough for batch writes, small enough
    // that memory stays flat whatever the replica's size. Checkpoints
    // (which sync the file) every 10,000 WAL pages rather than 1,000:
    // a run commits thousands of small transactions.
    // Switching a new file to WAL and migrating it take locks that
    // SQLite refuses at once (no busy wait) when another connection
    // switched first; both steps are retried, bounded.
    retry_busy(|| {
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
             PRAGMA cache_size = -8192; PRAGMA wal_autocheckpoint = 10000;",
        )
        .map_err(&err)
    })?;
    retry_busy(|| migrate(&mut conn, path))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Flags of every read-only connection.
fn read_only_flags() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX
}

/// Opens one more read-only connection by `uri` (the file checked already).
pub(super) fn reader(uri: &str, path: &Path) -> Result<Connection, ReplicaError> {
    let conn = Connection::open_with_flags(uri, read_only_flags()).map_err(db(path))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db(path))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Opens an existing replica read-only, checking it: the URI that works
/// for further readers, and a first connection.
pub(super) fn read_only(path: &Path) -> Result<(String, Connection), ReplicaError> {
    let name = path.display().to_string();
    if !path.is_file() {
        return Err(ReplicaError::Missing { path: name });
    }
    let checked = |uri: String| -> Result<(String, Connection), ReplicaError> {
        let conn = reader(&uri, path)?;
        check_schema(inspect_once(&conn, path)?, path, false)?;
        Ok((uri, conn))
    };
    match checked(format!("file:{}?mode=ro", uri_path(path))) {
        Err(ReplicaError::Database { source, .. }) if cannot_open_shm(&source) => {
            let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
            if wal.metadata().is_ok_and(|m| m.len() > 0) {
                return Err(ReplicaError::NeedsWriteAccess {
                    path: name,
                    reason: format!(
                        "its write-ahead log {} holds changes and the folder allows no -shm file; \
                         copy the replica after `calrep status` on a writable copy, or make the folder writable",
                        wal.display()
                    ),
                });
            }
            checked(format!("file:{}?immutable=1", uri_path(path)))
        }
        other => other,
    }
}

/// Brings the schema up to date in one (IMMEDIATE) transaction, checking
/// it again inside the lock (another process may have migrated meanwhile).
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), ReplicaError> {
    let err = db(path);
    let tx = conn.transaction().map_err(&err)?;
    let found = inspect(&tx, path)?;
    check_schema(found, path, true)?;
    let from = usize::try_from(found.version).unwrap_or(0);
    if from < MIGRATIONS.len() {
        for migration in &MIGRATIONS[from..] {
            tx.execute_batch(migration).map_err(&err)?;
        }
        tx.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {};",
            MIGRATIONS.len()
        ))
        .map_err(&err)?;
    }
    tx.commit().map_err(&err)
}

/// Whether SQLite answered "busy" (another connection holds the lock).
pub(super) fn is_busy(e: &ReplicaError) -> bool {
    matches!(
        e,
        ReplicaError::Database {
            source: rusqlite::Error::SqliteFailure(f, _),
            ..
        } if f.code == rusqlite::ErrorCode::DatabaseBusy
    )
}

/// Runs `step` again while SQLite answers "busy" without waiting, for at
/// most [`BUSY_TIMEOUT`].
fn retry_busy<T>(mut step: impl FnMut() -> Result<T, ReplicaError>) -> Result<T, ReplicaError> {
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(2);
    loop {
        match step() {
            Err(ReplicaError::Database {
                source: rusqlite::Error::SqliteFailure(f, _),
                ..
            }) if f.code == rusqlite::ErrorCode::DatabaseBusy
                && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(std::time::Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

/// [`inspect`] in one read transaction: three separate reads could see
/// another process's migration commit between them (no id, but tables).
pub(super) fn inspect_once(conn: &Connection, path: &Path) -> Result<Schema, ReplicaError> {
    let tx = conn.unchecked_transaction().map_err(db(path))?;
    let found = inspect(&tx, path);
    // Only reads happened: ending the transaction cannot lose anything.
    let _ = tx.rollback();
    found
}

/// What a file says of itself: enough to tell a replica (of which
/// version) from anything else.
#[derive(Debug, Clone, Copy)]
pub(super) struct Schema {
    app_id: i64,
    version: i64,
    tables: i64,
}

/// A file's application id, schema version and number of tables.
fn inspect(conn: &Connection, path: &Path) -> Result<Schema, ReplicaError> {
    let name = path.display().to_string();
    // A file that is not SQLite fails on its first read.
    let app_id: i64 =
        one(conn, "PRAGMA application_id", [], |r| r.get(0)).map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
                ReplicaError::Foreign {
                    path: name.clone(),
                    reason: "not an SQLite database".into(),
                }
            }
            other => ReplicaError::Database {
                path: name.clone(),
                source: other,
            },
        })?;
    let version: i64 = one(conn, "PRAGMA user_version", [], |r| r.get(0)).map_err(db(path))?;
    let tables: i64 = one(
        conn,
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
        [],
        |r| r.get(0),
    )
    .map_err(db(path))?;
    Ok(Schema {
        app_id,
        version,
        tables,
    })
}

/// Refuses a file calrep must not touch: not a replica, a schema version
/// that is negative or newer than ours, or (for a reader, which cannot
/// migrate) older than ours.
pub(super) fn check_schema(
    Schema {
        app_id,
        version,
        tables,
    }: Schema,
    path: &Path,
    writable: bool,
) -> Result<(), ReplicaError> {
    let name = path.display().to_string();
    if app_id != APPLICATION_ID && (app_id != 0 || tables > 0) {
        return Err(ReplicaError::Foreign {
            path: name,
            reason: format!("application id {app_id:#x}, {tables} tables"),
        });
    }
    if version < 0 {
        return Err(ReplicaError::Foreign {
            path: name,
            reason: format!("schema version {version}"),
        });
    }
    if version > current_version() {
        return Err(ReplicaError::TooNew {
            path: name,
            found: version,
            supported: current_version(),
        });
    }
    if !writable && version < current_version() {
        return Err(ReplicaError::NeedsWriteAccess {
            path: name,
            reason: format!(
                "its schema version {version} must first be migrated to {} by a writer (calrep run)",
                current_version()
            ),
        });
    }
    Ok(())
}

/// Whether SQLite failed for want of a `-shm` file it may not create.
pub(super) fn cannot_open_shm(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly)
    )
}

/// A path as the path part of a `file:` URI.
pub(super) fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.display().to_string().chars() {
        match c {
            '?' | '#' | '%' => out.push_str(&format!("%{:02X}", u32::from(c))),
            _ => out.push(c),
        }
    }
    out
}

pub(super) fn db(path: &Path) -> impl Fn(rusqlite::Error) -> ReplicaError + '_ {
    move |source| ReplicaError::Database {
        path: path.display().to_string(),
        source,
    }
}
