//! The embedded replica: one SQLite file in WAL mode, one writer connection
//! and a small pool of read-only connections.
//!
//! SQLite's calls block, so every call runs on tokio's blocking threads,
//! never on an async worker — unless the host asks for calls on its own
//! thread ([`SqliteReplica::on_callers_thread`]), as a one-job command on
//! a single-thread runtime does. In WAL mode a reader sees the last committed
//! state and never waits for the writer's transaction: readers have their
//! own connections, so a server answering people during a full run is not
//! held up by it. (An in-memory replica has one connection; its readers
//! share the writer's.)
//!
//! The work is split by concern: [`open`] (creating, checking, migrating),
//! [`write`] (batches and their state, full syncs, horizons, the change
//! number), [`lease`] (leases and run history), [`read`] (everything read).

mod access;
#[cfg(feature = "postgres")]
mod copy;
mod lease;
mod open;
mod read;
mod rekey;
#[cfg(test)]
mod tests;
mod write;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::Connection;

use self::open::db;
use super::{
    Batch, ChangeSet, Counts, Lease, ReplicaCalendar, ReplicaError, ReplicaMailbox,
    ReplicaOccurrence, ReplicaReader, ReplicaWriter, StoredState, SyncKey,
};
use crate::address::EmailAddress;
use crate::calendar::{CalendarId, CalendarItem, ItemId, Occurrence};
use crate::{SiteId, TaskId};

/// Read-only connections at most, opened as readers need them and kept:
/// opening one costs milliseconds (the schema is read), so a reader that
/// finds none idle waits for one rather than open an eighth-plus.
const READERS: usize = 8;

/// The default replica: a SQLite database (bundled SQLite, WAL journal,
/// foreign keys on), versioned with migrations.
///
/// ```
/// use calrep_core::replica::{ReplicaReader, SqliteReplica};
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let replica = SqliteReplica::open_in_memory()?;
/// assert!(replica.mailboxes().await?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SqliteReplica {
    store: Arc<Store>,
    /// Calls run on the caller's thread, not tokio's blocking pool.
    on_callers_thread: bool,
}

#[derive(Debug)]
struct Store {
    path: PathBuf,
    /// Declared (so dropped) before the writer: the last connection to
    /// close checkpoints the write-ahead log into the file and removes it,
    /// and only the writer can. Were a reader last, the log would stay, and
    /// a user who may only read the folder could not read the replica.
    readers: Readers,
    /// The one writer (`None`: opened for reading only).
    writer: Option<Mutex<Connection>>,
}

/// Where reads run.
#[derive(Debug)]
enum Readers {
    /// On the writer's connection (an in-memory database has no other).
    Writer,
    /// On up to `max` read-only connections to the file, opened by `uri`.
    Pool {
        uri: String,
        max: usize,
        state: Mutex<Pool>,
        returned: Condvar,
    },
}

/// The read-only connections not in use, and how many are open.
#[derive(Debug, Default)]
struct Pool {
    idle: Vec<Connection>,
    open: usize,
}

impl SqliteReplica {
    /// Opens (creating if needed) the replica at `path`, migrating an older
    /// schema. A file that is not a calrep replica, or that a newer calrep
    /// wrote, is refused untouched.
    pub fn open(path: &Path) -> Result<Self, ReplicaError> {
        Self::open_with_readers(path, READERS)
    }

    /// [`open`](Self::open) with up to `readers` read-only connections for
    /// readers (8 by default); with 0, reads run on the writer's connection
    /// and wait for its transactions (as an in-memory replica's do).
    pub fn open_with_readers(path: &Path, readers: usize) -> Result<Self, ReplicaError> {
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
        let writer = open::init(conn, path)?;
        let readers = match readers {
            0 => Readers::Writer,
            max => Readers::pool(format!("file:{}?mode=ro", open::uri_path(path)), max, None),
        };
        Ok(Self::from_parts(path, Some(writer), readers))
    }

    /// Opens an existing replica for reading only: it never creates,
    /// migrates or changes anything, so a user who may only read the file
    /// (or its folder) can read it. Writes fail with
    /// [`ReplicaError::NeedsWriteAccess`].
    ///
    /// A replica in WAL mode needs a `-shm` file beside it; where the
    /// folder is read-only and none exists, the file is opened as immutable
    /// instead, provided no write-ahead log holds data the file lacks.
    ///
    /// ```
    /// # use calrep_core::replica::{SqliteReplica, ReplicaError};
    /// let dir = std::env::temp_dir().join(format!("calrep-ro-doc-{}", std::process::id()));
    /// let missing = SqliteReplica::open_read_only(&dir.join("replica.db")).unwrap_err();
    /// assert!(matches!(missing, ReplicaError::Missing { .. }));
    /// assert!(!dir.exists(), "a reader creates nothing");
    /// ```
    pub fn open_read_only(path: &Path) -> Result<Self, ReplicaError> {
        let (uri, first) = open::read_only(path)?;
        let readers = Readers::pool(uri, READERS, Some(first));
        Ok(Self::from_parts(path, None, readers))
    }

    /// A replica that lives in memory only (tests, dry runs).
    pub fn open_in_memory() -> Result<Self, ReplicaError> {
        let path = Path::new(":memory:");
        let conn = Connection::open_in_memory().map_err(db(path))?;
        let writer = open::init(conn, path)?;
        Ok(Self::from_parts(path, Some(writer), Readers::Writer))
    }

    fn from_parts(path: &Path, writer: Option<Connection>, readers: Readers) -> Self {
        Self {
            store: Arc::new(Store {
                path: path.to_path_buf(),
                readers,
                writer: writer.map(Mutex::new),
            }),
            on_callers_thread: false,
        }
    }

    /// This handle's calls run on the calling task's thread instead of
    /// tokio's blocking pool: for a host that runs one job on a
    /// single-thread runtime (the `calrep run` command). There a hand-off
    /// costs two thread wake-ups per call and frees nothing, since the
    /// runtime's other tasks are the same job's, waiting on sockets that
    /// keep their data until read. A host that also serves people must not:
    /// a call then holds its runtime thread for as long as it runs.
    ///
    /// ```
    /// use calrep_core::replica::{ReplicaReader, SqliteReplica};
    /// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
    /// let replica = SqliteReplica::open_in_memory()?.on_callers_thread();
    /// assert!(replica.mailboxes().await?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn on_callers_thread(mut self) -> Self {
        self.on_callers_thread = true;
        self
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.store.path
    }

    /// Deletes attachment contents no item refers to any more; returns how
    /// many.
    pub async fn collect_garbage(&self) -> Result<u64, ReplicaError> {
        self.write(|conn, path| {
            let n = exec(conn, "DELETE FROM blobs WHERE sha256 NOT IN (SELECT sha256 FROM item_attachments WHERE sha256 IS NOT NULL)", [])
                .map_err(db(path))?;
            Ok(n as u64)
        })
        .await
    }

    /// Runs `work` on the writer's connection, on a blocking thread.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection, &Path) -> Result<T, ReplicaError> + Send + 'static,
    ) -> Result<T, ReplicaError> {
        let store = Arc::clone(&self.store);
        self.blocking(move || {
            let mut conn = store.writer()?;
            work(&mut conn, &store.path)
        })
        .await
    }

    /// Runs `work` on a reader's connection, on a blocking thread.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection, &Path) -> Result<T, ReplicaError> + Send + 'static,
    ) -> Result<T, ReplicaError> {
        if self.on_callers_thread {
            return match self.store.on_free_writer(work) {
                Ok(result) => result,
                Err(work) => self.store.with_reader(work),
            };
        }
        let store = Arc::clone(&self.store);
        self.blocking(move || store.with_reader(work)).await
    }

    /// A short write (a lease, a freeze, a run's record): done right here
    /// when it cannot wait — the writer is free in this process, and
    /// SQLite's write lock in every other (with no busy timeout a held lock
    /// is an immediate `SQLITE_BUSY`) — else on a blocking thread like any
    /// write. Handing a write this small to a blocking thread costs more
    /// than the write (two thread wake-ups), and it never holds the worker
    /// longer than the write itself.
    async fn write_short<T: Send + 'static>(
        &self,
        work: impl Fn(&mut Connection, &Path) -> Result<T, ReplicaError> + Send + 'static,
    ) -> Result<T, ReplicaError> {
        match self.store.try_write_now(&work) {
            Some(result) => result,
            None => self.write(work).await,
        }
    }

    /// A point read (a row or a few, by index): right here, on the writer's
    /// connection if it is free or an idle read-only one (neither waits for
    /// a transaction); on a blocking thread when none is at hand.
    async fn read_point<T: Send + 'static>(
        &self,
        work: impl Fn(&Connection, &Path) -> Result<T, ReplicaError> + Send + 'static,
    ) -> Result<T, ReplicaError> {
        match self.store.try_read_now(&work) {
            Some(result) => result,
            None => self.read(work).await,
        }
    }

    /// Runs `work` on a blocking thread, or right here when this handle's
    /// calls run on the caller's thread.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, ReplicaError> + Send + 'static,
    ) -> Result<T, ReplicaError> {
        if self.on_callers_thread {
            return work();
        }
        match tokio::task::spawn_blocking(work).await {
            Ok(result) => result,
            Err(e) => Err(ReplicaError::Worker {
                path: self.store.path.display().to_string(),
                reason: e.to_string(),
            }),
        }
    }
}

impl Store {
    fn writer(&self) -> Result<MutexGuard<'_, Connection>, ReplicaError> {
        match &self.writer {
            Some(writer) => Ok(writer.lock().unwrap_or_else(PoisonError::into_inner)),
            None => Err(ReplicaError::NeedsWriteAccess {
                path: self.path.display().to_string(),
                reason: "it was opened for reading only".into(),
            }),
        }
    }

    /// Runs `work` on a reader's connection: a pooled read-only one
    /// (waiting for one when all are busy), or the writer's.
    fn with_reader<T>(
        &self,
        work: impl FnOnce(&Connection, &Path) -> Result<T, ReplicaError>,
    ) -> Result<T, ReplicaError> {
        match &self.readers {
            Readers::Writer => work(&*self.writer()?, &self.path),
            Readers::Pool {
                uri,
                max,
                state,
                returned,
            } => {
                let conn = self.take_reader(uri, *max, state, returned)?;
                let result = work(&conn, &self.path);
                self.give_back(conn);
                result
            }
        }
    }

    /// An idle pooled connection, a new one if fewer than `max` are open,
    /// or the next one returned (within the busy timeout).
    fn take_reader(
        &self,
        uri: &str,
        max: usize,
        state: &Mutex<Pool>,
        returned: &Condvar,
    ) -> Result<Connection, ReplicaError> {
        let deadline = std::time::Instant::now() + open::BUSY_TIMEOUT;
        let mut pool = state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(conn) = pool.idle.pop() {
                return Ok(conn);
            }
            if pool.open < max {
                pool.open += 1;
                drop(pool);
                let opened = open::reader(uri, &self.path);
                if opened.is_err() {
                    state.lock().unwrap_or_else(PoisonError::into_inner).open -= 1;
                }
                return opened;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(ReplicaError::Worker {
                    path: self.path.display().to_string(),
                    reason: format!(
                        "all {max} read connections stayed busy for {:?}",
                        open::BUSY_TIMEOUT
                    ),
                });
            }
            pool = returned
                .wait_timeout(pool, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn give_back(&self, conn: Connection) {
        if let Readers::Pool {
            state, returned, ..
        } = &self.readers
        {
            state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .idle
                .push(conn);
            returned.notify_one();
        }
    }

    /// `work` on the writer, now, if nothing would make it wait.
    fn try_write_now<T>(
        &self,
        work: &impl Fn(&mut Connection, &Path) -> Result<T, ReplicaError>,
    ) -> Option<Result<T, ReplicaError>> {
        let mut conn = self.writer.as_ref()?.try_lock().ok()?;
        conn.busy_timeout(std::time::Duration::ZERO).ok()?;
        let result = work(&mut conn, &self.path);
        // Cannot fail on an open connection; were it to, the next write
        // would answer "busy" at once instead of waiting: still an error
        // that names the problem, never a hang.
        let _ = conn.busy_timeout(open::BUSY_TIMEOUT);
        match result {
            Err(e) if open::is_busy(&e) => None,
            done => Some(done),
        }
    }

    /// A read on the writer's connection if it is free: its page cache is
    /// the warm one (a read-only connection's is dropped after every
    /// commit of the writer's, and a new one costs a schema read).
    /// `Err(work)` when the writer is busy or absent.
    fn on_free_writer<T, W: FnOnce(&Connection, &Path) -> T>(&self, work: W) -> Result<T, W> {
        match self.writer.as_ref().map(Mutex::try_lock) {
            Some(Ok(conn)) => Ok(work(&conn, &self.path)),
            _ => Err(work),
        }
    }

    /// `work` now, if a connection is at hand: the writer's when it is
    /// free, else an idle reader.
    fn try_read_now<T>(
        &self,
        work: &impl Fn(&Connection, &Path) -> Result<T, ReplicaError>,
    ) -> Option<Result<T, ReplicaError>> {
        if let Ok(result) = self.on_free_writer(work) {
            return Some(result);
        }
        let Readers::Pool { state, .. } = &self.readers else {
            return None;
        };
        let conn = state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .idle
            .pop()?;
        let result = work(&conn, &self.path);
        self.give_back(conn);
        Some(result)
    }
}

impl Readers {
    fn pool(uri: String, max: usize, first: Option<Connection>) -> Self {
        let open = usize::from(first.is_some());
        Self::Pool {
            uri,
            max: max.max(open),
            state: Mutex::new(Pool {
                idle: first.into_iter().collect(),
                open,
            }),
            returned: Condvar::new(),
        }
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

fn damaged(path: &Path, detail: impl Into<String>) -> ReplicaError {
    ReplicaError::Damaged {
        path: path.display().to_string(),
        detail: detail.into(),
    }
}

#[async_trait]
impl ReplicaWriter for SqliteReplica {
    async fn sync_state(&self, key: &SyncKey) -> Result<StoredState, ReplicaError> {
        let key = key.clone();
        self.read_point(move |conn, path| read::sync_state(conn, path, &key))
            .await
    }

    async fn apply(&self, batch: Batch) -> Result<Counts, ReplicaError> {
        self.write(move |conn, path| write::apply(conn, path, &batch))
            .await
    }

    async fn begin_full_sync(&self, key: &SyncKey) -> Result<u64, ReplicaError> {
        let key = key.clone();
        self.write(move |conn, path| write::begin_full_sync(conn, path, &key))
            .await
    }

    async fn full_sync_progress(
        &self,
        key: &SyncKey,
        generation: u64,
    ) -> Result<(u64, u64), ReplicaError> {
        let key = key.clone();
        self.read(move |conn, path| read::full_sync_progress(conn, path, &key, generation))
            .await
    }

    async fn task_mailboxes(
        &self,
        site: &SiteId,
        task: &TaskId,
    ) -> Result<Vec<String>, ReplicaError> {
        let (site, task) = (site.clone(), task.clone());
        self.read(move |conn, path| read::task_mailboxes(conn, path, &site, &task))
            .await
    }

    async fn site_states(
        &self,
        site: &SiteId,
    ) -> Result<Vec<(String, Option<crate::mailbox::SyncState>)>, ReplicaError> {
        let site = site.clone();
        self.read(move |conn, path| read::site_states(conn, path, &site))
            .await
    }

    async fn rekey(
        &self,
        plan: crate::replica::Rekey,
    ) -> Result<crate::replica::Rekeyed, ReplicaError> {
        self.write(move |conn, path| rekey::rekey(conn, path, &plan))
            .await
    }

    async fn remove_calendar(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
    ) -> Result<Counts, ReplicaError> {
        let (mailbox, calendar) = (mailbox.clone(), calendar.clone());
        self.write(move |conn, path| write::remove_calendar(conn, path, &mailbox, &calendar))
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
        let (mailbox, task, owner) = (mailbox.clone(), task.clone(), owner.to_owned());
        self.write_short(move |conn, path| {
            lease::acquire_lease(conn, path, &mailbox, &task, &owner, now, ttl)
        })
        .await
    }

    async fn release_lease(
        &self,
        mailbox: &EmailAddress,
        owner: &str,
        synced_at: Option<DateTime<Utc>>,
    ) -> Result<(), ReplicaError> {
        let (mailbox, owner) = (mailbox.clone(), owner.to_owned());
        self.write_short(move |conn, path| {
            lease::release_lease(conn, path, &mailbox, &owner, synced_at)
        })
        .await
    }

    async fn freeze(&self, mailbox: &EmailAddress, reason: &str) -> Result<(), ReplicaError> {
        let (mailbox, reason) = (mailbox.clone(), reason.to_owned());
        self.write_short(move |conn, path| lease::freeze(conn, path, &mailbox, &reason))
            .await
    }

    async fn record_run(
        &self,
        task: &TaskId,
        status: &str,
        report_json: &str,
        finished: DateTime<Utc>,
    ) -> Result<(), ReplicaError> {
        let (task, status, report) = (task.clone(), status.to_owned(), report_json.to_owned());
        self.write_short(move |conn, path| {
            lease::record_run(conn, path, &task, &status, &report, finished)
        })
        .await
    }

    async fn horizon_until(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
    ) -> Result<Option<DateTime<Utc>>, ReplicaError> {
        let (mailbox, calendar) = (mailbox.clone(), calendar.clone());
        self.read_point(move |conn, path| read::horizon_until(conn, path, &mailbox, &calendar))
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
        let (mailbox, calendar) = (mailbox.clone(), calendar.clone());
        self.write(move |conn, path| {
            write::refresh_occurrences(
                conn,
                path,
                &mailbox,
                &calendar,
                &occurrences,
                horizon_from,
                horizon_until,
            )
        })
        .await
    }
}

#[async_trait]
impl ReplicaReader for SqliteReplica {
    async fn mailboxes(&self) -> Result<Vec<ReplicaMailbox>, ReplicaError> {
        self.read(read::mailboxes).await
    }

    async fn has_mailbox(&self, mailbox: &EmailAddress) -> Result<bool, ReplicaError> {
        let mailbox = mailbox.clone();
        self.read_point(move |conn, path| read::has_mailbox(conn, path, &mailbox))
            .await
    }

    async fn mailbox(
        &self,
        mailbox: &EmailAddress,
    ) -> Result<Option<ReplicaMailbox>, ReplicaError> {
        let mailbox = mailbox.clone();
        self.read_point(move |conn, path| read::mailbox(conn, path, &mailbox))
            .await
    }

    async fn calendar_names(
        &self,
        mailbox: &EmailAddress,
    ) -> Result<Vec<(CalendarId, String)>, ReplicaError> {
        let mailbox = mailbox.clone();
        self.read_point(move |conn, path| read::calendar_names(conn, path, &mailbox))
            .await
    }

    async fn calendar_ids(&self, mailbox: &EmailAddress) -> Result<Vec<CalendarId>, ReplicaError> {
        let mailbox = mailbox.clone();
        self.read_point(move |conn, path| read::calendar_ids(conn, path, &mailbox))
            .await
    }

    async fn calendars(
        &self,
        mailbox: &EmailAddress,
    ) -> Result<Vec<ReplicaCalendar>, ReplicaError> {
        let mailbox = mailbox.clone();
        self.read(move |conn, path| read::calendars(conn, path, &mailbox))
            .await
    }

    async fn items(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
    ) -> Result<Vec<CalendarItem>, ReplicaError> {
        let (mailbox, calendar) = (mailbox.clone(), calendar.clone());
        self.read(move |conn, path| read::items(conn, path, &mailbox, &calendar))
            .await
    }

    async fn occurrences(
        &self,
        mailbox: &EmailAddress,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ReplicaOccurrence>, ReplicaError> {
        let mailbox = mailbox.clone();
        self.read(move |conn, path| read::occurrences(conn, path, &mailbox, from, to))
            .await
    }

    async fn attachment_refs(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
    ) -> Result<Vec<(ItemId, String, Option<String>)>, ReplicaError> {
        let (mailbox, calendar) = (mailbox.clone(), calendar.clone());
        self.read(move |conn, path| read::attachment_refs(conn, path, &mailbox, &calendar))
            .await
    }

    async fn attachment(&self, sha256: &str) -> Result<Option<Vec<u8>>, ReplicaError> {
        let sha256 = sha256.to_owned();
        self.read(move |conn, path| read::attachment(conn, path, &sha256))
            .await
    }

    async fn changes(
        &self,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
        since: u64,
    ) -> Result<Option<ChangeSet>, ReplicaError> {
        let (mailbox, calendar) = (mailbox.clone(), calendar.clone());
        self.read(move |conn, path| read::changes(conn, path, &mailbox, &calendar, since))
            .await
    }
}
