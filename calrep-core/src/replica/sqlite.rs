//! The embedded replica: one SQLite file in WAL mode.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use sha2::{Digest, Sha256};

use super::schema::{APPLICATION_ID, MIGRATIONS, current_version};
use super::{
    Batch, Counts, FullSync, Lease, Replica, ReplicaCalendar, ReplicaError, ReplicaMailbox,
    ReplicaOccurrence, StoredState, SyncKey,
};
use crate::TaskId;
use crate::address::EmailAddress;
use crate::calendar::{CalendarId, CalendarItem, ItemId, Occurrence, occurrence_delta};
use crate::mailbox::SyncState;

/// The default replica: a SQLite database (bundled SQLite, WAL journal,
/// foreign keys on), versioned with migrations.
///
/// ```
/// use calrep_core::replica::{Replica, SqliteReplica};
/// let replica = SqliteReplica::open_in_memory()?;
/// assert!(replica.mailboxes()?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SqliteReplica {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteReplica {
    /// Opens (creating if needed) the replica at `path`, migrating an older
    /// schema. A file that is not a calrep replica, or that a newer calrep
    /// wrote, is refused untouched.
    pub fn open(path: &Path) -> Result<Self, ReplicaError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| ReplicaError::Database {
                path: path.display().to_string(),
                source: rusqlite::Error::InvalidPath(PathBuf::from(format!(
                    "{}: {e}",
                    parent.display()
                ))),
            })?;
        }
        let conn = Connection::open(path).map_err(db(path))?;
        Self::init(conn, path)
    }

    /// Opens an existing replica for reading only: it never creates,
    /// migrates or changes anything, so a user who may only read the file
    /// (or its folder) can read it.
    ///
    /// A replica in WAL mode needs a `-shm` file beside it; where the
    /// folder is read-only and none exists, the file is opened as immutable
    /// instead, provided no write-ahead log holds data the file lacks.
    ///
    /// ```
    /// # use calrep_core::replica::{Replica, SqliteReplica, ReplicaError};
    /// let dir = std::env::temp_dir().join(format!("calrep-ro-doc-{}", std::process::id()));
    /// let missing = SqliteReplica::open_read_only(&dir.join("replica.db")).unwrap_err();
    /// assert!(matches!(missing, ReplicaError::Missing { .. }));
    /// assert!(!dir.exists(), "a reader creates nothing");
    /// ```
    pub fn open_read_only(path: &Path) -> Result<Self, ReplicaError> {
        let name = path.display().to_string();
        if !path.is_file() {
            return Err(ReplicaError::Missing { path: name });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let uri = |query: &str| format!("file:{}?{query}", uri_path(path));
        let read = |conn: Connection| -> Result<Self, ReplicaError> {
            conn.busy_timeout(BUSY_TIMEOUT).map_err(db(path))?;
            let found = inspect_once(&conn, path)?;
            check_schema(found, path, false)?;
            Ok(Self {
                path: path.to_path_buf(),
                conn: Mutex::new(conn),
            })
        };
        let plain = Connection::open_with_flags(uri("mode=ro"), flags)
            .map_err(db(path))
            .and_then(read);
        match plain {
            Ok(replica) => Ok(replica),
            Err(ReplicaError::Database { source, .. }) if cannot_open_shm(&source) => {
                let wal = PathBuf::from(format!("{}-wal", path.display()));
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
                let conn =
                    Connection::open_with_flags(uri("immutable=1"), flags).map_err(db(path))?;
                read(conn)
            }
            Err(e) => Err(e),
        }
    }

    /// A replica that lives in memory only (tests, dry runs).
    pub fn open_in_memory() -> Result<Self, ReplicaError> {
        let path = Path::new(":memory:");
        let conn = Connection::open_in_memory().map_err(db(path))?;
        Self::init(conn, path)
    }

    /// Prepares a writable connection. Several processes may open one new
    /// file at once: the schema is checked before anything is changed (a
    /// foreign or newer file stays untouched), then checked again and
    /// migrated inside one IMMEDIATE transaction, which only one process
    /// at a time can hold.
    fn init(mut conn: Connection, path: &Path) -> Result<Self, ReplicaError> {
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
        Ok(Self {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> ReplicaError + '_ {
        move |source| ReplicaError::Database {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn damaged(&self, detail: impl Into<String>) -> ReplicaError {
        ReplicaError::Damaged {
            path: self.path.display().to_string(),
            detail: detail.into(),
        }
    }

    /// Deletes attachment contents no item refers to any more.
    pub fn collect_garbage(&self) -> Result<u64, ReplicaError> {
        let conn = self.lock();
        let n = exec(&conn, "DELETE FROM blobs WHERE sha256 NOT IN (SELECT sha256 FROM item_attachments WHERE sha256 IS NOT NULL)", [])
            .map_err(self.err())?;
        Ok(n as u64)
    }
}

/// How long a writer waits for another process's transaction. Batches are
/// small and commit in milliseconds; a migration or a checkpoint of a big
/// replica can take seconds.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Brings the schema up to date in one (IMMEDIATE) transaction, checking
/// it again inside the lock (another process may have migrated meanwhile).
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), ReplicaError> {
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
fn inspect_once(conn: &Connection, path: &Path) -> Result<Schema, ReplicaError> {
    let tx = conn.unchecked_transaction().map_err(db(path))?;
    let found = inspect(&tx, path);
    // Only reads happened: ending the transaction cannot lose anything.
    let _ = tx.rollback();
    found
}

/// What a file says of itself: enough to tell a replica (of which
/// version) from anything else.
#[derive(Debug, Clone, Copy)]
struct Schema {
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
fn check_schema(
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
fn cannot_open_shm(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly)
    )
}

/// A path as the path part of a `file:` URI.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.display().to_string().chars() {
        match c {
            '?' | '#' | '%' => out.push_str(&format!("%{:02X}", u32::from(c))),
            _ => out.push(c),
        }
    }
    out
}

fn db(path: &Path) -> impl Fn(rusqlite::Error) -> ReplicaError + '_ {
    move |source| ReplicaError::Database {
        path: path.display().to_string(),
        source,
    }
}

/// Runs a statement through the connection's statement cache.
fn exec<P: rusqlite::Params>(conn: &Connection, sql: &str, params: P) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// Reads one row through the connection's statement cache.
fn one<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

fn mailbox_id(tx: &Connection, mailbox: &EmailAddress) -> rusqlite::Result<i64> {
    if let Some(id) = find_mailbox(tx, mailbox)? {
        return Ok(id);
    }
    exec(
        tx,
        "INSERT INTO mailboxes (address, display) VALUES (?1, ?2)",
        params![mailbox.key(), mailbox.as_str()],
    )?;
    Ok(tx.last_insert_rowid())
}

fn find_mailbox(conn: &Connection, mailbox: &EmailAddress) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT id FROM mailboxes WHERE address = ?1")?
        .query_row([mailbox.key()], |r| r.get(0))
        .optional()
}

/// The (mailbox, calendar) rows of a replicated calendar, if it exists.
fn find_calendar(
    conn: &Connection,
    mailbox: &EmailAddress,
    calendar: &CalendarId,
) -> rusqlite::Result<Option<(i64, i64)>> {
    one(
        conn,
        "SELECT c.mailbox_id, c.id FROM calendars c JOIN mailboxes m ON m.id = c.mailbox_id
         WHERE m.address = ?1 AND c.source_id = ?2",
        params![mailbox.key(), calendar.as_str()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

fn calendar_id(
    tx: &Transaction<'_>,
    mailbox: i64,
    info: &crate::calendar::CalendarInfo,
) -> rusqlite::Result<i64> {
    exec(tx,
        "INSERT INTO calendars (mailbox_id, source_id, name, is_default) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (mailbox_id, source_id) DO UPDATE SET name = excluded.name, is_default = excluded.is_default",
        params![mailbox, info.id.as_str(), info.name, info.is_default],
    )?;
    one(
        tx,
        "SELECT id FROM calendars WHERE mailbox_id = ?1 AND source_id = ?2",
        params![mailbox, info.id.as_str()],
        |r| r.get(0),
    )
}

fn save_state(
    tx: &Transaction<'_>,
    key: &SyncKey,
    mailbox: i64,
    state: Option<&SyncState>,
    full_sync: Option<u64>,
) -> rusqlite::Result<()> {
    let generation = full_sync.map(|g| i64::try_from(g).unwrap_or(i64::MAX));
    exec(tx,
        "INSERT INTO sync_states (site, task, mailbox_id, calendar, state, full_sync_gen) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (site, task, mailbox_id, calendar) DO UPDATE SET state = excluded.state, full_sync_gen = excluded.full_sync_gen",
        params![key.site.as_str(), key.task.as_str(), mailbox, key.calendar.as_str(), state.map(SyncState::as_str), generation],
    )?;
    Ok(())
}

fn delete_item(tx: &Transaction<'_>, item: i64, counts: &mut Counts) -> rusqlite::Result<()> {
    counts.occurrences_deleted +=
        exec(tx, "DELETE FROM occurrences WHERE item_id = ?1", [item])? as u64;
    exec(
        tx,
        "DELETE FROM item_attachments WHERE item_id = ?1",
        [item],
    )?;
    counts.items_deleted += exec(tx, "DELETE FROM items WHERE id = ?1", [item])? as u64;
    Ok(())
}

/// Brings an item's stored occurrences to `occurrences`, writing only what
/// differs (so counts say what changed). Returns the longest duration.
fn write_occurrences(
    tx: &Transaction<'_>,
    item: i64,
    mailbox: i64,
    occurrences: &[Occurrence],
    is_new: bool,
    counts: &mut Counts,
) -> rusqlite::Result<i64> {
    let existing: Vec<Occurrence> = if is_new {
        Vec::new()
    } else {
        let mut stmt = tx.prepare_cached(
            "SELECT original_start, start_at, end_at, is_exception FROM occurrences WHERE item_id = ?1",
        )?;
        let rows = stmt.query_map([item], |r| {
            let at = |i: usize| -> rusqlite::Result<DateTime<Utc>> {
                DateTime::from_timestamp(r.get(i)?, 0).ok_or_else(|| {
                    rusqlite::Error::IntegralValueOutOfRange(i, r.get(i).unwrap_or_default())
                })
            };
            Ok(Occurrence {
                original_start: at(0)?,
                start: at(1)?,
                end: at(2)?,
                is_exception: r.get(3)?,
            })
        })?;
        rows.collect::<Result<_, _>>()?
    };
    // The calendar diff's comparison decides what to write.
    let delta = occurrence_delta(&existing, occurrences);
    let mut upsert = tx.prepare_cached(
        "INSERT OR REPLACE INTO occurrences (item_id, mailbox_id, original_start, start_at, end_at, is_exception) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for o in delta.added.iter().chain(&delta.changed) {
        upsert.execute(params![
            item,
            mailbox,
            o.original_start.timestamp(),
            o.start.timestamp(),
            o.end.timestamp(),
            o.is_exception
        ])?;
    }
    counts.occurrences_created += delta.added.len() as u64;
    counts.occurrences_updated += delta.changed.len() as u64;
    if !delta.removed.is_empty() {
        let mut delete = tx
            .prepare_cached("DELETE FROM occurrences WHERE item_id = ?1 AND original_start = ?2")?;
        for key in &delta.removed {
            counts.occurrences_deleted += delete.execute(params![item, key.timestamp()])? as u64;
        }
    }
    let longest = occurrences
        .iter()
        .map(|o| (o.end - o.start).num_seconds())
        .max()
        .unwrap_or(0);
    Ok(longest)
}

/// One row of the occurrences table.
struct OccurrenceRow {
    item: i64,
    mailbox: i64,
    original: i64,
    start: i64,
    end: i64,
    exception: bool,
}

impl OccurrenceRow {
    fn new(item: i64, mailbox: i64, o: &Occurrence) -> Self {
        Self {
            item,
            mailbox,
            original: o.original_start.timestamp(),
            start: o.start.timestamp(),
            end: o.end.timestamp(),
            exception: o.is_exception,
        }
    }
}

/// Inserts rows many per statement: SQLite's per-statement cost dominates
/// single-row inserts. Only the full-size statement is cached; the odd
/// remainder would crowd the statement cache out.
fn insert_occurrences(tx: &Transaction<'_>, rows: &[OccurrenceRow]) -> rusqlite::Result<()> {
    const CHUNK: usize = 64;
    let sql = |n: usize| {
        let values = vec!["(?, ?, ?, ?, ?, ?)"; n].join(", ");
        format!(
            "INSERT OR REPLACE INTO occurrences (item_id, mailbox_id, original_start, start_at, end_at, is_exception) VALUES {values}"
        )
    };
    let full = sql(CHUNK);
    for chunk in rows.chunks(CHUNK) {
        let params: Vec<&dyn rusqlite::ToSql> = chunk
            .iter()
            .flat_map(|r| -> [&dyn rusqlite::ToSql; 6] {
                [
                    &r.item,
                    &r.mailbox,
                    &r.original,
                    &r.start,
                    &r.end,
                    &r.exception,
                ]
            })
            .collect();
        if chunk.len() == CHUNK {
            tx.prepare_cached(&full)?.execute(params.as_slice())?;
        } else {
            tx.prepare(&sql(chunk.len()))?.execute(params.as_slice())?;
        }
    }
    Ok(())
}

/// Readers bound their index scan by the longest occurrence stored.
fn record_longest(tx: &Transaction<'_>, longest: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('longest_occurrence', ?1) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
    )?
    .execute([longest])?;
    Ok(())
}

fn sha256_hex(content: &[u8]) -> String {
    Sha256::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Replica for SqliteReplica {
    fn sync_state(&self, key: &SyncKey) -> Result<StoredState, ReplicaError> {
        let conn = self.lock();
        let row: Option<(Option<String>, Option<i64>)> = one(&conn,
                "SELECT s.state, s.full_sync_gen FROM sync_states s JOIN mailboxes m ON m.id = s.mailbox_id
                 WHERE s.site = ?1 AND s.task = ?2 AND m.address = ?3 AND s.calendar = ?4",
                params![key.site.as_str(), key.task.as_str(), key.mailbox.key(), key.calendar.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())?;
        Ok(
            row.map_or_else(StoredState::default, |(state, generation)| StoredState {
                state: state.map(SyncState::new),
                full_sync: generation.and_then(|g| u64::try_from(g).ok()),
            }),
        )
    }

    fn begin_full_sync(&self, key: &SyncKey) -> Result<u64, ReplicaError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(self.err())?;
        let mailbox = mailbox_id(&tx, &key.mailbox).map_err(self.err())?;
        let next: i64 = one(
            &tx,
            "SELECT coalesce(max(value), 0) + 1 FROM meta WHERE key = 'generation'",
            [],
            |r| r.get(0),
        )
        .map_err(self.err())?;
        exec(&tx,
            "INSERT INTO meta (key, value) VALUES ('generation', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [next],
        )
        .map_err(self.err())?;
        let generation = u64::try_from(next).map_err(|_| self.damaged("negative generation"))?;
        save_state(&tx, key, mailbox, None, Some(generation)).map_err(self.err())?;
        tx.commit().map_err(self.err())?;
        Ok(generation)
    }

    fn apply(&self, batch: &Batch) -> Result<Counts, ReplicaError> {
        let mut conn = self.lock();
        let err = self.err();
        let tx = conn.transaction().map_err(&err)?;
        let mut counts = Counts::default();
        let mailbox = mailbox_id(&tx, &batch.key.mailbox).map_err(&err)?;
        let calendar = calendar_id(&tx, mailbox, &batch.calendar).map_err(&err)?;
        let generation = match batch.full_sync {
            FullSync::No => None,
            FullSync::Part(g) | FullSync::Last(g) => Some(i64::try_from(g).unwrap_or(i64::MAX)),
        };
        let mut find = tx
            .prepare_cached("SELECT id, body FROM items WHERE calendar_id = ?1 AND source_id = ?2")
            .map_err(&err)?;
        for id in &batch.deletes {
            let item: Option<i64> = find
                .query_row(params![calendar, id.as_str()], |r| r.get(0))
                .optional()
                .map_err(&err)?;
            if let Some(item) = item {
                delete_item(&tx, item, &mut counts).map_err(&err)?;
            }
        }
        let mut longest = 0i64;
        let mut new_occurrences: Vec<OccurrenceRow> = Vec::new();
        // A calendar's first full sync finds nothing to compare with: skip
        // the per-item lookups.
        let empty: bool = one(
            &tx,
            "SELECT NOT EXISTS (SELECT 1 FROM items WHERE calendar_id = ?1)",
            [calendar],
            |r| r.get(0),
        )
        .map_err(&err)?;
        for write in &batch.upserts {
            let body =
                serde_json::to_string(&write.item).map_err(|e| self.damaged(e.to_string()))?;
            let existing: Option<(i64, String)> = if empty {
                None
            } else {
                find.query_row(params![calendar, write.item.id.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(&err)?
            };
            let is_new = existing.is_none();
            let item = match existing {
                Some((item, old)) if old == body => {
                    // Unchanged: the stored JSON is equal exactly when
                    // `changed_fields` finds no difference (tests/diff_props),
                    // and comparing strings avoids decoding the old item.
                    // Only mark it seen by a full sync.
                    if let Some(g) = generation {
                        tx.prepare_cached("UPDATE items SET generation = ?2 WHERE id = ?1")
                            .and_then(|mut st| st.execute(params![item, g]))
                            .map_err(&err)?;
                    }
                    continue;
                }
                Some((item, _)) => {
                    tx.prepare_cached(
                        "UPDATE items SET uid = ?2, change_key = ?3, body = ?4, generation = coalesce(?5, generation) WHERE id = ?1",
                    )
                    .and_then(|mut st| {
                        st.execute(params![item, write.item.uid, write.item.change_key, body, generation])
                    })
                    .map_err(&err)?;
                    counts.items_updated += 1;
                    item
                }
                None => {
                    tx.prepare_cached(
                        "INSERT INTO items (calendar_id, source_id, uid, change_key, body, generation) VALUES (?1, ?2, ?3, ?4, ?5, coalesce(?6, 0))",
                    )
                    .and_then(|mut st| {
                        st.execute(params![calendar, write.item.id.as_str(), write.item.uid, write.item.change_key, body, generation])
                    })
                    .map_err(&err)?;
                    counts.items_created += 1;
                    tx.last_insert_rowid()
                }
            };
            if is_new {
                // New items' occurrences are inserted together at the end.
                for o in &write.occurrences {
                    let row = OccurrenceRow::new(item, mailbox, o);
                    longest = longest.max(row.end - row.start);
                    new_occurrences.push(row);
                }
                counts.occurrences_created += write.occurrences.len() as u64;
            } else {
                let item_longest =
                    write_occurrences(&tx, item, mailbox, &write.occurrences, false, &mut counts)
                        .map_err(&err)?;
                longest = longest.max(item_longest);
            }
            if !is_new {
                tx.prepare_cached("DELETE FROM item_attachments WHERE item_id = ?1")
                    .and_then(|mut st| st.execute([item]))
                    .map_err(&err)?;
            }
            for (attachment_id, content) in &write.attachments {
                let sha = match content {
                    Some(bytes) => {
                        let sha = sha256_hex(bytes);
                        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
                        let added = tx
                            .prepare_cached("INSERT INTO blobs (sha256, size, content) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")
                            .and_then(|mut st| st.execute(params![sha, size, bytes]))
                            .map_err(&err)?;
                        if added > 0 {
                            counts.attachment_bytes += bytes.len() as u64;
                        }
                        Some(sha)
                    }
                    None => None,
                };
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO item_attachments (item_id, attachment_id, sha256) VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut st| st.execute(params![item, attachment_id, sha]))
                .map_err(&err)?;
            }
        }
        drop(find);
        insert_occurrences(&tx, &new_occurrences).map_err(&err)?;
        if longest > 0 {
            record_longest(&tx, longest).map_err(&err)?;
        }
        let full_sync = match batch.full_sync {
            FullSync::Last(g) => {
                // Items the full sync did not see are gone at the source.
                let g = i64::try_from(g).unwrap_or(i64::MAX);
                let unseen: Vec<i64> = {
                    let mut stmt = tx
                        .prepare("SELECT id FROM items WHERE calendar_id = ?1 AND generation != ?2")
                        .map_err(&err)?;
                    let rows = stmt
                        .query_map(params![calendar, g], |r| r.get(0))
                        .map_err(&err)?;
                    rows.collect::<Result<_, _>>().map_err(&err)?
                };
                for item in unseen {
                    delete_item(&tx, item, &mut counts).map_err(&err)?;
                }
                None
            }
            FullSync::Part(g) => Some(g),
            FullSync::No => None,
        };
        if let (FullSync::Last(_), Some(until)) = (batch.full_sync, batch.horizon_until) {
            exec(
                &tx,
                "UPDATE calendars SET horizon_until = ?2 WHERE id = ?1",
                params![calendar, until.timestamp()],
            )
            .map_err(&err)?;
        }
        save_state(&tx, &batch.key, mailbox, batch.state.as_ref(), full_sync).map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(counts)
    }

    fn full_sync_progress(
        &self,
        key: &SyncKey,
        generation: u64,
    ) -> Result<(u64, u64), ReplicaError> {
        let conn = self.lock();
        let (seen, unseen): (i64, i64) = one(&conn,
                "SELECT coalesce(sum(i.generation = ?3), 0), coalesce(sum(i.generation != ?3), 0)
                 FROM items i JOIN calendars c ON c.id = i.calendar_id JOIN mailboxes m ON m.id = c.mailbox_id
                 WHERE m.address = ?1 AND c.source_id = ?2",
                params![key.mailbox.key(), key.calendar.as_str(), i64::try_from(generation).unwrap_or(i64::MAX)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.err())?;
        Ok((
            u64::try_from(seen).unwrap_or(0),
            u64::try_from(unseen).unwrap_or(0),
        ))
    }

    fn task_mailboxes(
        &self,
        site: &crate::SiteId,
        task: &TaskId,
    ) -> Result<Vec<String>, ReplicaError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT DISTINCT m.address FROM sync_states s JOIN mailboxes m ON m.id = s.mailbox_id
                 WHERE s.site = ?1 AND s.task = ?2 ORDER BY m.address",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![site.as_str(), task.as_str()], |r| r.get(0))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    fn remove_calendar(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
    ) -> Result<Counts, ReplicaError> {
        let mut conn = self.lock();
        let err = self.err();
        let tx = conn.transaction().map_err(&err)?;
        let mut counts = Counts::default();
        let Some((mailbox_row, calendar_row)) =
            find_calendar(&tx, mailbox, calendar).map_err(&err)?
        else {
            return Ok(counts);
        };
        counts.occurrences_deleted = exec(
            &tx,
            "DELETE FROM occurrences WHERE item_id IN (SELECT id FROM items WHERE calendar_id = ?1)",
            [calendar_row],
        )
        .map_err(&err)? as u64;
        // Items go with their calendar (ON DELETE CASCADE), attachments with their items.
        counts.items_deleted = exec(
            &tx,
            "DELETE FROM items WHERE calendar_id = ?1",
            [calendar_row],
        )
        .map_err(&err)? as u64;
        exec(&tx, "DELETE FROM calendars WHERE id = ?1", [calendar_row]).map_err(&err)?;
        exec(
            &tx,
            "DELETE FROM sync_states WHERE mailbox_id = ?1 AND calendar = ?2",
            params![mailbox_row, calendar.as_str()],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(counts)
    }

    fn acquire_lease(
        &self,
        mailbox: &EmailAddress,
        task: &TaskId,
        owner: &str,
        now: DateTime<Utc>,
        ttl: TimeDelta,
    ) -> Result<Lease, ReplicaError> {
        let mut conn = self.lock();
        let err = self.err();
        let tx = conn.transaction().map_err(&err)?;
        let mailbox = mailbox_id(&tx, mailbox).map_err(&err)?;
        let held: Option<(String, String, i64)> = one(
            &tx,
            "SELECT task, owner, expires_at FROM leases WHERE mailbox_id = ?1",
            [mailbox],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(&err)?;
        let mut outcome = Lease::Acquired;
        if let Some((other_task, other_owner, expires)) = held
            && other_owner != owner
            && expires > now.timestamp()
        {
            // A run that died on this machine frees its mailboxes at once;
            // one that may be alive keeps them until its lease expires.
            if !super::owner::is_provably_dead(&other_owner) {
                return Ok(Lease::HeldBy {
                    task: TaskId::new(other_task),
                    until: DateTime::from_timestamp(expires, 0).unwrap_or(now),
                });
            }
            outcome = Lease::TakenOver {
                task: TaskId::new(other_task),
                owner: other_owner,
            };
        }
        exec(&tx,
            "INSERT INTO leases (mailbox_id, task, owner, expires_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (mailbox_id) DO UPDATE SET task = excluded.task, owner = excluded.owner, expires_at = excluded.expires_at",
            params![mailbox, task.as_str(), owner, (now + ttl).timestamp()],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(outcome)
    }

    fn release_lease(
        &self,
        mailbox: &EmailAddress,
        owner: &str,
        synced_at: Option<DateTime<Utc>>,
    ) -> Result<(), ReplicaError> {
        let mut conn = self.lock();
        let err = self.err();
        let tx = conn.transaction().map_err(&err)?;
        if let Some(id) = find_mailbox(&tx, mailbox).map_err(&err)? {
            exec(
                &tx,
                "DELETE FROM leases WHERE mailbox_id = ?1 AND owner = ?2",
                params![id, owner],
            )
            .map_err(&err)?;
            if let Some(at) = synced_at {
                exec(
                    &tx,
                    "UPDATE mailboxes SET last_synced_at = ?2, frozen_reason = NULL WHERE id = ?1",
                    params![id, at.timestamp()],
                )
                .map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)
    }

    fn calendar_ids(&self, mailbox: &EmailAddress) -> Result<Vec<CalendarId>, ReplicaError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT c.source_id FROM calendars c JOIN mailboxes m ON m.id = c.mailbox_id WHERE m.address = ?1",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([mailbox.key()], |r| {
                Ok(CalendarId::new(r.get::<_, String>(0)?))
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    fn freeze(&self, mailbox: &EmailAddress, reason: &str) -> Result<(), ReplicaError> {
        let conn = self.lock();
        exec(
            &conn,
            "UPDATE mailboxes SET frozen_reason = ?2 WHERE address = ?1",
            params![mailbox.key(), reason],
        )
        .map_err(self.err())?;
        Ok(())
    }

    fn record_run(
        &self,
        task: &TaskId,
        status: &str,
        report_json: &str,
        finished: DateTime<Utc>,
    ) -> Result<(), ReplicaError> {
        let conn = self.lock();
        exec(
            &conn,
            "INSERT INTO runs (task, finished_at, status, report) VALUES (?1, ?2, ?3, ?4)",
            params![task.as_str(), finished.timestamp(), status, report_json],
        )
        .map_err(self.err())?;
        Ok(())
    }

    fn mailboxes(&self) -> Result<Vec<ReplicaMailbox>, ReplicaError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT display, frozen_reason, last_synced_at FROM mailboxes ORDER BY address",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ReplicaMailbox {
                    address: r.get(0)?,
                    frozen: r.get(1)?,
                    last_synced: r
                        .get::<_, Option<i64>>(2)?
                        .and_then(|t| DateTime::from_timestamp(t, 0)),
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    fn calendars(&self, mailbox: &EmailAddress) -> Result<Vec<ReplicaCalendar>, ReplicaError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT c.source_id, c.name, c.is_default, (SELECT count(*) FROM items i WHERE i.calendar_id = c.id)
                 FROM calendars c JOIN mailboxes m ON m.id = c.mailbox_id WHERE m.address = ?1 ORDER BY c.is_default DESC, c.name",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([mailbox.key()], |r| {
                Ok(ReplicaCalendar {
                    id: CalendarId::new(r.get::<_, String>(0)?),
                    name: r.get(1)?,
                    is_default: r.get(2)?,
                    items: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    fn items(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
    ) -> Result<Vec<CalendarItem>, ReplicaError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT i.body FROM items i JOIN calendars c ON c.id = i.calendar_id JOIN mailboxes m ON m.id = c.mailbox_id
                 WHERE m.address = ?1 AND c.source_id = ?2 ORDER BY i.source_id",
            )
            .map_err(self.err())?;
        let bodies: Vec<String> = stmt
            .query_map(params![mailbox.key(), calendar.as_str()], |r| r.get(0))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        bodies
            .iter()
            .map(|b| serde_json::from_str(b).map_err(|e| self.damaged(format!("item body: {e}"))))
            .collect()
    }

    fn occurrences(
        &self,
        mailbox: &EmailAddress,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ReplicaOccurrence>, ReplicaError> {
        let conn = self.lock();
        let longest: i64 = one(
            &conn,
            "SELECT coalesce(max(value), 0) FROM meta WHERE key = 'longest_occurrence'",
            [],
            |r| r.get(0),
        )
        .map_err(self.err())?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT c.source_id, i.source_id, i.body, o.original_start, o.start_at, o.end_at, o.is_exception
                 FROM occurrences o JOIN items i ON i.id = o.item_id JOIN calendars c ON c.id = i.calendar_id
                 WHERE o.mailbox_id = (SELECT id FROM mailboxes WHERE address = ?1)
                   AND o.start_at >= ?2 AND o.start_at < ?3 AND o.end_at > ?4
                 ORDER BY o.start_at, i.source_id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(
                params![
                    mailbox.key(),
                    from.timestamp() - longest,
                    to.timestamp(),
                    from.timestamp()
                ],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, bool>(6)?,
                    ))
                },
            )
            .map_err(self.err())?;
        let mut out = Vec::new();
        for row in rows {
            let (calendar, item, body, original, start, end, is_exception) =
                row.map_err(self.err())?;
            let parsed: CalendarItem =
                serde_json::from_str(&body).map_err(|e| self.damaged(format!("item body: {e}")))?;
            let time = |t: i64| {
                DateTime::from_timestamp(t, 0)
                    .ok_or_else(|| self.damaged("occurrence time out of range"))
            };
            let original_start = time(original)?;
            let subject = parsed
                .recurrence
                .as_ref()
                .and_then(|r| {
                    r.modified
                        .iter()
                        .find(|m| m.original_start == original_start)
                })
                .and_then(|m| m.subject.clone())
                .unwrap_or(parsed.subject);
            out.push(ReplicaOccurrence {
                calendar: CalendarId::new(calendar),
                item: ItemId::new(item),
                subject,
                occurrence: Occurrence {
                    original_start,
                    start: time(start)?,
                    end: time(end)?,
                    is_exception,
                },
            });
        }
        Ok(out)
    }

    fn horizon_until(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
    ) -> Result<Option<DateTime<Utc>>, ReplicaError> {
        let conn = self.lock();
        let until: Option<Option<i64>> = one(
            &conn,
            "SELECT c.horizon_until FROM calendars c JOIN mailboxes m ON m.id = c.mailbox_id
                 WHERE m.address = ?1 AND c.source_id = ?2",
            params![mailbox.key(), calendar.as_str()],
            |r| r.get(0),
        )
        .optional()
        .map_err(self.err())?;
        Ok(until.flatten().and_then(|t| DateTime::from_timestamp(t, 0)))
    }

    fn refresh_occurrences(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
        occurrences: &[(ItemId, Vec<Occurrence>)],
        horizon_from: DateTime<Utc>,
        horizon_until: DateTime<Utc>,
    ) -> Result<Counts, ReplicaError> {
        let mut conn = self.lock();
        let err = self.err();
        let tx = conn.transaction().map_err(&err)?;
        let mut counts = Counts::default();
        let Some((mailbox_row, calendar_row)) =
            find_calendar(&tx, mailbox, calendar).map_err(&err)?
        else {
            return Ok(counts);
        };
        for (id, list) in occurrences {
            let item: Option<i64> = one(
                &tx,
                "SELECT id FROM items WHERE calendar_id = ?1 AND source_id = ?2",
                params![calendar_row, id.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(&err)?;
            if let Some(item) = item {
                let longest = write_occurrences(&tx, item, mailbox_row, list, false, &mut counts)
                    .map_err(&err)?;
                record_longest(&tx, longest).map_err(&err)?;
            }
        }
        counts.occurrences_deleted += exec(&tx,
                "DELETE FROM occurrences WHERE end_at < ?2 AND item_id IN (SELECT id FROM items WHERE calendar_id = ?1)",
                params![calendar_row, horizon_from.timestamp()],
            )
            .map_err(&err)? as u64;
        exec(
            &tx,
            "UPDATE calendars SET horizon_until = ?2 WHERE id = ?1",
            params![calendar_row, horizon_until.timestamp()],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(counts)
    }

    fn attachment_refs(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
    ) -> Result<Vec<(ItemId, String, Option<String>)>, ReplicaError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT i.source_id, a.attachment_id, a.sha256 FROM item_attachments a
                 JOIN items i ON i.id = a.item_id JOIN calendars c ON c.id = i.calendar_id
                 JOIN mailboxes m ON m.id = c.mailbox_id
                 WHERE m.address = ?1 AND c.source_id = ?2",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![mailbox.key(), calendar.as_str()], |r| {
                Ok((ItemId::new(r.get::<_, String>(0)?), r.get(1)?, r.get(2)?))
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    fn attachment(&self, sha256: &str) -> Result<Option<Vec<u8>>, ReplicaError> {
        let conn = self.lock();
        one(
            &conn,
            "SELECT content FROM blobs WHERE sha256 = ?1",
            [sha256],
            |r| r.get(0),
        )
        .optional()
        .map_err(self.err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("calrep-sqlite-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("replica.db")
    }

    #[test]
    fn a_negative_schema_version_is_refused_before_anything_changes() {
        let path = temp("negative");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("CREATE TABLE t (x); PRAGMA user_version = -1;")
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let refused = SqliteReplica::open(&path).unwrap_err();
        assert!(matches!(refused, ReplicaError::Foreign { .. }), "{refused}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the file was changed"
        );
        // Header bytes 18 and 19 are 2 in WAL mode, 1 in rollback mode.
        assert_eq!(before[18], 1);
    }

    #[test]
    fn many_connections_creating_one_replica_at_once_all_succeed() {
        for round in 0..10 {
            let path = temp(&format!("race{round}"));
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
            let openers: Vec<_> = (0..4)
                .map(|_| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        SqliteReplica::open(&path).map(|r| r.mailboxes().map(|m| m.len()))
                    })
                })
                .collect();
            for opener in openers {
                let result = opener.join().unwrap();
                assert!(matches!(result, Ok(Ok(0))), "round {round}: {result:?}");
            }
        }
    }

    #[test]
    fn a_reader_never_creates_or_changes_anything() {
        let path = temp("reader");
        let dir = path.parent().unwrap().join("not-there");
        let missing = SqliteReplica::open_read_only(&dir.join("replica.db")).unwrap_err();
        assert!(matches!(missing, ReplicaError::Missing { .. }), "{missing}");
        assert!(!dir.exists());
        // A replica written, closed (checkpointed), then read: unchanged.
        {
            let replica = SqliteReplica::open(&path).unwrap();
            let now = Utc::now();
            replica
                .acquire_lease(
                    &"a@x.com".parse().unwrap(),
                    &TaskId::new("t"),
                    "o",
                    now,
                    TimeDelta::seconds(1),
                )
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let reader = SqliteReplica::open_read_only(&path).unwrap();
        assert_eq!(reader.mailboxes().unwrap().len(), 1);
        drop(reader);
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_reader_opens_paths_with_non_ascii_and_uri_characters() {
        let path = temp("reader-names").with_file_name("Café ?#% été.db");
        drop(SqliteReplica::open(&path).unwrap());
        let reader = SqliteReplica::open_read_only(&path).unwrap();
        assert!(reader.mailboxes().unwrap().is_empty());
    }

    #[test]
    fn an_older_schema_is_migrated_and_keeps_its_data() {
        let path = temp("migrate");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(&format!(
                "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 1;"
            ))
            .unwrap();
            exec(
                &conn,
                "INSERT INTO mailboxes (address, display) VALUES ('a@x.com', 'A@x.com')",
                [],
            )
            .unwrap();
        }
        let replica = SqliteReplica::open(&path).unwrap();
        assert_eq!(replica.mailboxes().unwrap()[0].address, "A@x.com");
        let version: i64 = replica
            .lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, current_version());
        assert_eq!(
            replica
                .horizon_until(&"a@x.com".parse().unwrap(), &CalendarId::new("c"))
                .unwrap(),
            None
        );
    }

    #[test]
    fn a_newer_schema_is_refused_untouched() {
        let path = temp("newer");
        drop(SqliteReplica::open(&path).unwrap());
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("PRAGMA user_version = 99;").unwrap();
        }
        let err = SqliteReplica::open(&path).unwrap_err();
        assert!(
            matches!(err, ReplicaError::TooNew { found: 99, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("schema version 99"));
    }

    #[test]
    fn an_unwritable_location_is_a_typed_error() {
        let err = SqliteReplica::open(Path::new("/proc/calrep/replica.db")).unwrap_err();
        assert!(err.to_string().contains("/proc/calrep"), "{err}");
    }
}
