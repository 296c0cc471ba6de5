//! The PostgreSQL schema and its migrations.
//!
//! A `meta` table marks the database as calrep's (`application_id`, the
//! same "CREP" as the SQLite file's) and holds the schema version. Each
//! migration runs in one transaction under an advisory lock, so hosts
//! starting together migrate once, one after the other.

use deadpool_postgres::GenericClient;

use super::server;
use crate::replica::ReplicaError;

/// "CREP" in ASCII, as in the SQLite file.
const APPLICATION_ID: i64 = 0x4352_4550;

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the schema of the SQLite store's version 4, in PostgreSQL's
    // types, with sequences for what hosts share.
    r"
    CREATE TABLE mailboxes (
        id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        address        TEXT NOT NULL UNIQUE,   -- lower-case primary SMTP
        display        TEXT NOT NULL,
        frozen_reason  TEXT,                   -- NULL while the mailbox is replicated
        last_synced_at BIGINT                  -- Unix seconds
    );
    CREATE TABLE calendars (
        id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        mailbox_id    BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        source_id     TEXT NOT NULL,
        name          TEXT NOT NULL,
        is_default    BOOLEAN NOT NULL,
        horizon_until BIGINT,
        changed_seq   BIGINT NOT NULL DEFAULT 0,
        UNIQUE (mailbox_id, source_id)
    );
    CREATE TABLE items (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        calendar_id BIGINT NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
        source_id   TEXT NOT NULL,
        uid         TEXT NOT NULL,
        change_key  TEXT NOT NULL,
        body        TEXT NOT NULL,             -- the item as JSON
        generation  BIGINT NOT NULL DEFAULT 0,
        changed_seq BIGINT NOT NULL DEFAULT 0,
        UNIQUE (calendar_id, source_id)
    );
    CREATE INDEX items_by_change ON items (calendar_id, changed_seq);
    CREATE TABLE occurrences (
        item_id        BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        mailbox_id     BIGINT NOT NULL,
        original_start BIGINT NOT NULL,        -- Unix seconds
        start_at       BIGINT NOT NULL,
        end_at         BIGINT NOT NULL,
        is_exception   BOOLEAN NOT NULL,
        PRIMARY KEY (item_id, original_start)
    );
    CREATE INDEX occurrences_by_mailbox_start ON occurrences (mailbox_id, start_at);
    CREATE TABLE blobs (
        sha256  TEXT PRIMARY KEY,
        size    BIGINT NOT NULL,
        content BYTEA NOT NULL
    );
    CREATE TABLE item_attachments (
        item_id       BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        attachment_id TEXT NOT NULL,
        sha256        TEXT,                    -- NULL: not downloaded
        PRIMARY KEY (item_id, attachment_id)
    );
    CREATE INDEX item_attachments_by_blob ON item_attachments (sha256);
    CREATE TABLE sync_states (
        site          TEXT NOT NULL,
        task          TEXT NOT NULL,
        mailbox_id    BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        calendar      TEXT NOT NULL,
        state         TEXT,
        full_sync_gen BIGINT,
        PRIMARY KEY (site, task, mailbox_id, calendar)
    );
    CREATE INDEX sync_states_by_mailbox ON sync_states (mailbox_id);
    CREATE TABLE leases (
        mailbox_id BIGINT PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
        task       TEXT NOT NULL,
        owner      TEXT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE TABLE runs (
        id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        task        TEXT NOT NULL,
        finished_at BIGINT NOT NULL,
        status      TEXT NOT NULL,
        report      TEXT NOT NULL
    );
    CREATE TABLE removed_items (
        calendar_id BIGINT NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
        source_id   TEXT NOT NULL,
        removed_seq BIGINT NOT NULL,
        uid         TEXT,
        PRIMARY KEY (calendar_id, source_id)
    );
    CREATE TABLE access_accounts (
        key           TEXT PRIMARY KEY,        -- the name in lower case
        name          TEXT NOT NULL,
        password_hash TEXT NOT NULL,           -- Argon2id, PHC string
        admin         BOOLEAN NOT NULL,
        mailboxes     TEXT NOT NULL,           -- JSON array of addresses
        delegated     TEXT NOT NULL,           -- JSON array of addresses
        expires_at    BIGINT,
        created_at    BIGINT NOT NULL,
        feed_token    TEXT UNIQUE              -- SHA-256 of the feed token
    );
    -- Numbers every host takes: no row is written for them, so hosts do
    -- not queue behind each other.
    CREATE SEQUENCE change_seq;
    CREATE SEQUENCE full_sync_generation;
    INSERT INTO meta (key, value) VALUES ('longest_occurrence', 0);
    ",
    // 1 -> 2: runs several hosts share (see replica::runs): one open run
    // per task, its mailboxes claimed in database time.
    r"
    CREATE TABLE shared_runs (
        id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        task          TEXT NOT NULL,
        config_digest TEXT NOT NULL,
        due_at        BIGINT,                  -- the schedule's instant it fulfils
        opened_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
        closed_at     TIMESTAMPTZ,
        closed_by     TEXT                     -- the host that closed it (and records it)
    );
    CREATE UNIQUE INDEX shared_runs_one_open ON shared_runs (task) WHERE closed_at IS NULL;
    CREATE UNIQUE INDEX shared_runs_once_per_due ON shared_runs (task, due_at) WHERE due_at IS NOT NULL;
    CREATE TABLE shared_run_mailboxes (
        run_id     BIGINT NOT NULL REFERENCES shared_runs(id) ON DELETE CASCADE,
        address    TEXT NOT NULL,
        host       TEXT,                       -- the claimant, while claimed
        free_at    TIMESTAMPTZ,                -- the claim (or a deferral) ends
        touched_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        claims     INTEGER NOT NULL DEFAULT 0,
        report     TEXT,                       -- JSON, once done
        PRIMARY KEY (run_id, address)
    );
    CREATE INDEX shared_run_mailboxes_pending ON shared_run_mailboxes (run_id, address) WHERE report IS NULL;
    ",
];

/// The schema version this calrep writes.
fn current_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Serialises migrations between hosts ("CREP" again, as a lock key).
const MIGRATION_LOCK: i64 = APPLICATION_ID;

/// What the database holds.
enum Found {
    /// No tables at all: a new replica.
    Empty,
    /// Tables, but not calrep's.
    Foreign(String),
    /// A calrep replica at this schema version.
    Calrep(i64),
}

async fn inspect(client: &impl GenericClient, name: &str) -> Result<Found, ReplicaError> {
    let err = server(name);
    let meta = client
        .query_one("SELECT to_regclass('meta') IS NOT NULL", &[])
        .await
        .map_err(&err)?;
    if !meta.get::<_, bool>(0) {
        let tables: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()",
                &[],
            )
            .await
            .map_err(&err)?
            .get(0);
        return Ok(if tables == 0 {
            Found::Empty
        } else {
            Found::Foreign(format!(
                "its schema holds {tables} tables and no calrep meta table"
            ))
        });
    }
    let rows = client
        .query(
            "SELECT key, value FROM meta WHERE key IN ('application_id', 'schema_version')",
            &[],
        )
        .await
        .map_err(&err)?;
    let value = |key: &str| {
        rows.iter()
            .find(|r| r.get::<_, &str>(0) == key)
            .map(|r| r.get::<_, i64>(1))
    };
    match (value("application_id"), value("schema_version")) {
        (Some(APPLICATION_ID), Some(version)) => Ok(Found::Calrep(version)),
        (Some(APPLICATION_ID), None) => Ok(Found::Foreign(
            "its meta table has no schema version".into(),
        )),
        (other, _) => Ok(Found::Foreign(format!(
            "its meta table's application_id is {other:?}, not calrep's"
        ))),
    }
}

/// Creates or migrates the schema, refusing a foreign or newer database.
pub(super) async fn migrate(
    client: &mut deadpool_postgres::Client,
    name: &str,
) -> Result<(), ReplicaError> {
    let err = server(name);
    let tx = client.transaction().await.map_err(&err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(&err)?;
    let mut version = match inspect(&tx, name).await? {
        Found::Foreign(reason) => {
            return Err(ReplicaError::Foreign {
                path: name.to_owned(),
                reason,
            });
        }
        Found::Empty => {
            tx.batch_execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL)")
                .await
                .map_err(&err)?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('application_id', $1), ('schema_version', 0)",
                &[&APPLICATION_ID],
            )
            .await
            .map_err(&err)?;
            0
        }
        Found::Calrep(version) => version,
    };
    if version > current_version() {
        return Err(ReplicaError::TooNew {
            path: name.to_owned(),
            found: version,
            supported: current_version(),
        });
    }
    while let Some(step) = usize::try_from(version)
        .ok()
        .and_then(|v| MIGRATIONS.get(v))
    {
        tx.batch_execute(step).await.map_err(&err)?;
        version += 1;
    }
    tx.execute(
        "UPDATE meta SET value = $1 WHERE key = 'schema_version'",
        &[&version],
    )
    .await
    .map_err(&err)?;
    tx.commit().await.map_err(&err)
}

/// Checks, without changing anything, that the database holds a replica
/// this calrep reads as it is.
pub(super) async fn check(client: &impl GenericClient, name: &str) -> Result<(), ReplicaError> {
    match inspect(client, name).await? {
        Found::Empty => Err(ReplicaError::Missing {
            path: name.to_owned(),
        }),
        Found::Foreign(reason) => Err(ReplicaError::Foreign {
            path: name.to_owned(),
            reason,
        }),
        Found::Calrep(v) if v > current_version() => Err(ReplicaError::TooNew {
            path: name.to_owned(),
            found: v,
            supported: current_version(),
        }),
        Found::Calrep(v) if v < current_version() => Err(ReplicaError::NeedsWriteAccess {
            path: name.to_owned(),
            reason: format!(
                "its schema version {v} is older than this calrep's {}; a host that writes migrates it",
                current_version()
            ),
        }),
        Found::Calrep(_) => Ok(()),
    }
}
