//! The SQLite store's own cases: opening, migrating and refusing files.
//! What every store must do is in the conformance suite (calrep-testkit).

use std::path::{Path, PathBuf};

use chrono::{TimeDelta, Utc};
use rusqlite::Connection;

use super::SqliteReplica;
use super::exec;
use crate::TaskId;
use crate::calendar::CalendarId;
use crate::replica::schema::{APPLICATION_ID, MIGRATIONS, current_version};
use crate::replica::{ReplicaError, ReplicaReader, ReplicaWriter};

fn block<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

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
                    SqliteReplica::open(&path).map(|r| block(r.mailboxes()).map(|m| m.len()))
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
        block(replica.acquire_lease(
            &"a@x.com".parse().unwrap(),
            &TaskId::new("t"),
            "o",
            now,
            TimeDelta::seconds(1),
        ))
        .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let reader = SqliteReplica::open_read_only(&path).unwrap();
    assert_eq!(block(reader.mailboxes()).unwrap().len(), 1);
    drop(reader);
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_reader_opens_paths_with_non_ascii_and_uri_characters() {
    let path = temp("reader-names").with_file_name("Café ?#% été.db");
    drop(SqliteReplica::open(&path).unwrap());
    let reader = SqliteReplica::open_read_only(&path).unwrap();
    assert!(block(reader.mailboxes()).unwrap().is_empty());
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
    assert_eq!(block(replica.mailboxes()).unwrap()[0].address, "A@x.com");
    drop(replica);
    let version: i64 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let replica = SqliteReplica::open(&path).unwrap();
    assert_eq!(version, current_version());
    assert_eq!(
        block(replica.horizon_until(&"a@x.com".parse().unwrap(), &CalendarId::new("c"))).unwrap(),
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
