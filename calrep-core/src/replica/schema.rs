//! The replica's schema and its migrations.
//!
//! The file carries `PRAGMA application_id` (so a foreign SQLite file is
//! recognised) and `PRAGMA user_version` (the schema version). Each migration
//! takes the schema from version `n` to `n + 1` inside one transaction.

/// "CREP" in ASCII: marks a file as a calrep replica.
pub(super) const APPLICATION_ID: i64 = 0x4352_4550;

/// Migration `i` takes the schema from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the first schema.
    r"
    CREATE TABLE mailboxes (
        id             INTEGER PRIMARY KEY,
        address        TEXT NOT NULL UNIQUE,   -- lower-case primary SMTP
        display        TEXT NOT NULL,
        frozen_reason  TEXT,                   -- NULL while the mailbox is replicated
        last_synced_at INTEGER
    );
    CREATE TABLE calendars (
        id         INTEGER PRIMARY KEY,
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        source_id  TEXT NOT NULL,
        name       TEXT NOT NULL,
        is_default INTEGER NOT NULL,
        UNIQUE (mailbox_id, source_id)
    );
    CREATE TABLE items (
        id          INTEGER PRIMARY KEY,
        calendar_id INTEGER NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
        source_id   TEXT NOT NULL,
        uid         TEXT NOT NULL,
        change_key  TEXT NOT NULL,
        body        TEXT NOT NULL,             -- the item as JSON
        generation  INTEGER NOT NULL DEFAULT 0,
        UNIQUE (calendar_id, source_id)
    );
    CREATE TABLE occurrences (
        item_id        INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        mailbox_id     INTEGER NOT NULL,
        original_start INTEGER NOT NULL,       -- Unix seconds
        start_at       INTEGER NOT NULL,
        end_at         INTEGER NOT NULL,
        is_exception   INTEGER NOT NULL,
        PRIMARY KEY (item_id, original_start)
    ) WITHOUT ROWID;
    CREATE INDEX occurrences_by_mailbox_start ON occurrences (mailbox_id, start_at);
    CREATE TABLE blobs (
        sha256  TEXT PRIMARY KEY,
        size    INTEGER NOT NULL,
        content BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE item_attachments (
        item_id       INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        attachment_id TEXT NOT NULL,
        sha256        TEXT,                    -- NULL: not downloaded
        PRIMARY KEY (item_id, attachment_id)
    ) WITHOUT ROWID;
    CREATE INDEX item_attachments_by_blob ON item_attachments (sha256);
    CREATE TABLE sync_states (
        site          TEXT NOT NULL,
        task          TEXT NOT NULL,
        mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
        calendar      TEXT NOT NULL,
        state         TEXT,
        full_sync_gen INTEGER,
        PRIMARY KEY (site, task, mailbox_id, calendar)
    );
    CREATE TABLE leases (
        mailbox_id INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
        task       TEXT NOT NULL,
        owner      TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        task        TEXT NOT NULL,
        finished_at INTEGER NOT NULL,
        status      TEXT NOT NULL,
        report      TEXT NOT NULL
    );
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    ",
    // 1 -> 2: how far ahead each calendar's occurrences are materialised, so
    // the rolling horizon can be extended as time passes.
    r"
    ALTER TABLE calendars ADD COLUMN horizon_until INTEGER;
    ",
    // 2 -> 3: a change number per item write, per calendar and per removed
    // item, so that readers (a CalDAV server's sync tokens and ETags) can
    // ask what changed since a number. Items already stored count as
    // written at 0.
    r"
    ALTER TABLE items ADD COLUMN changed_seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE calendars ADD COLUMN changed_seq INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX items_by_change ON items (calendar_id, changed_seq);
    CREATE TABLE removed_items (
        calendar_id INTEGER NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
        source_id   TEXT NOT NULL,
        removed_seq INTEGER NOT NULL,
        PRIMARY KEY (calendar_id, source_id)
    ) WITHOUT ROWID;
    ",
    // 3 -> 4: accounts that may read the replica (continuity access), kept
    // here so that checking them needs no directory; removed items keep
    // their UID.
    r"
    CREATE TABLE access_accounts (
        name          TEXT PRIMARY KEY COLLATE NOCASE,
        password_hash TEXT NOT NULL,           -- Argon2id, PHC string
        admin         INTEGER NOT NULL,
        mailboxes     TEXT NOT NULL,           -- JSON array of addresses
        delegated     TEXT NOT NULL,           -- JSON array of addresses
        expires_at    INTEGER,                 -- Unix seconds
        created_at    INTEGER NOT NULL,
        feed_token    TEXT UNIQUE              -- SHA-256 of the feed token
    ) WITHOUT ROWID;
    -- A removed item's iCalendar UID: readers name resources by UID.
    ALTER TABLE removed_items ADD COLUMN uid TEXT;
    ",
];

/// The schema version this calrep writes.
pub(super) fn current_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}
