//! Moving an installation between stores (`calrep store copy`): every
//! table row for row, with the same ids, change numbers and sync states,
//! so the next run after the move is incremental and CalDAV clients keep
//! their sync tokens. Leases are not copied (no run may be going on), nor
//! the shared runs' bookkeeping.
//!
//! Rows stream through a bounded channel, so a large replica is copied in
//! bounded memory.

use serde::Serialize;

use super::{ConfiguredStore, ReplicaError};

/// What a column holds, as both stores type it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A 64-bit integer.
    Int,
    /// A boolean (SQLite: 0 or 1).
    Bool,
    /// Text.
    Text,
    /// Bytes.
    Blob,
}

/// One table: its name, its columns, and whether its `id` is generated.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) name: &'static str,
    pub(crate) columns: &'static [(&'static str, Kind)],
    /// PostgreSQL generates its `id` (an identity column).
    pub(crate) identity: bool,
}

use Kind::{Blob, Bool, Int, Text};

/// The tables both stores keep, parents before children.
pub(crate) const TABLES: &[Table] = &[
    Table {
        name: "mailboxes",
        columns: &[
            ("id", Int),
            ("address", Text),
            ("display", Text),
            ("frozen_reason", Text),
            ("last_synced_at", Int),
        ],
        identity: true,
    },
    Table {
        name: "calendars",
        columns: &[
            ("id", Int),
            ("mailbox_id", Int),
            ("source_id", Text),
            ("name", Text),
            ("is_default", Bool),
            ("horizon_until", Int),
            ("changed_seq", Int),
        ],
        identity: true,
    },
    Table {
        name: "items",
        columns: &[
            ("id", Int),
            ("calendar_id", Int),
            ("source_id", Text),
            ("uid", Text),
            ("change_key", Text),
            ("body", Text),
            ("generation", Int),
            ("changed_seq", Int),
        ],
        identity: true,
    },
    Table {
        name: "occurrences",
        columns: &[
            ("item_id", Int),
            ("mailbox_id", Int),
            ("original_start", Int),
            ("start_at", Int),
            ("end_at", Int),
            ("is_exception", Bool),
        ],
        identity: false,
    },
    Table {
        name: "blobs",
        columns: &[("sha256", Text), ("size", Int), ("content", Blob)],
        identity: false,
    },
    Table {
        name: "item_attachments",
        columns: &[("item_id", Int), ("attachment_id", Text), ("sha256", Text)],
        identity: false,
    },
    Table {
        name: "sync_states",
        columns: &[
            ("site", Text),
            ("task", Text),
            ("mailbox_id", Int),
            ("calendar", Text),
            ("state", Text),
            ("full_sync_gen", Int),
        ],
        identity: false,
    },
    Table {
        name: "removed_items",
        columns: &[
            ("calendar_id", Int),
            ("source_id", Text),
            ("removed_seq", Int),
            ("uid", Text),
        ],
        identity: false,
    },
    Table {
        name: "access_accounts",
        columns: &[
            ("name", Text),
            ("password_hash", Text),
            ("admin", Bool),
            ("mailboxes", Text),
            ("delegated", Text),
            ("expires_at", Int),
            ("created_at", Int),
            ("feed_token", Text),
        ],
        identity: false,
    },
    Table {
        name: "runs",
        columns: &[
            ("id", Int),
            ("task", Text),
            ("finished_at", Int),
            ("status", Text),
            ("report", Text),
        ],
        identity: true,
    },
];

/// One value in transit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

/// Rows of one table in transit, a chunk at a time.
pub(crate) type Rows = Vec<Vec<Cell>>;

/// Rows per chunk.
pub(crate) const CHUNK: usize = 2_000;

/// The store-wide counters a copy carries over: the last change number
/// and full-sync generation handed out, and the longest occurrence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) change_seq: i64,
    pub(crate) generation: i64,
    pub(crate) longest: i64,
}

/// What a copy moved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CopyReport {
    /// Rows copied, by table.
    pub tables: Vec<(String, u64)>,
}

/// Copies every row of `from` into `to`, which must hold nothing yet.
///
/// ```no_run
/// # async fn f(config: calrep_core::Config, target: calrep_core::Config) -> Result<(), calrep_core::replica::ReplicaError> {
/// use calrep_core::replica::{ConfiguredStore, copy_store};
/// let from = ConfiguredStore::open(&config).await?;
/// let to = ConfiguredStore::open(&target).await?;
/// let report = copy_store(&from, &to).await?;
/// println!("{:?}", report.tables);
/// # Ok(())
/// # }
/// ```
pub async fn copy_store(
    from: &ConfiguredStore,
    to: &ConfiguredStore,
) -> Result<CopyReport, ReplicaError> {
    let destination = to.describe();
    let (from, to) = (from.rows(), to.rows());
    let held = to.row_count("mailboxes").await? + to.row_count("access_accounts").await?;
    if held > 0 {
        return Err(ReplicaError::Server {
            store: destination,
            detail: format!(
                "the destination already holds {held} mailboxes and accounts: copy only into an empty store"
            ),
            transient: false,
        });
    }
    let mut report = CopyReport::default();
    for table in TABLES {
        let (sender, receiver) = tokio::sync::mpsc::channel::<Rows>(4);
        let (read, written) = futures_util::future::join(
            from.read_rows(table, sender),
            to.write_rows(table, receiver),
        )
        .await;
        read?;
        report.tables.push((table.name.to_owned(), written?));
    }
    to.set_counters(from.counters().await?).await?;
    Ok(report)
}

/// What each store does for a copy: count, stream out and take in one
/// table's rows, and carry the sequences' positions.
#[async_trait::async_trait]
pub(crate) trait CopyRows: Send + Sync {
    /// How many rows `table` holds.
    async fn row_count(&self, table: &'static str) -> Result<u64, ReplicaError>;

    /// Sends every row of `table`, in chunks of at most [`CHUNK`].
    async fn read_rows(
        &self,
        table: &'static Table,
        sender: tokio::sync::mpsc::Sender<Rows>,
    ) -> Result<(), ReplicaError>;

    /// Writes every row received into `table`, in one transaction; how many.
    async fn write_rows(
        &self,
        table: &'static Table,
        receiver: tokio::sync::mpsc::Receiver<Rows>,
    ) -> Result<u64, ReplicaError>;

    /// Where the store's sequences stand.
    async fn counters(&self) -> Result<Counters, ReplicaError>;

    /// Moves the sequences to at least `counters`.
    async fn set_counters(&self, counters: Counters) -> Result<(), ReplicaError>;
}

impl ConfiguredStore {
    /// The store as a copy reads and writes it.
    fn rows(&self) -> &dyn CopyRows {
        match self {
            Self::Sqlite(r) => r,
            Self::Postgres(r) => r,
        }
    }
}
