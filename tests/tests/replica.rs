//! The storage conformance suite on the SQLite store: in memory, and in a
//! file with its pool of read-only readers.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use calrep_core::replica::{Replica, SqliteReplica};

use calrep_testkit::fixture::runtime;

#[test]
fn an_in_memory_sqlite_replica_passes_the_conformance_suite() {
    let cases = runtime().block_on(calrep_testkit::conformance::check(|| async {
        Arc::new(SqliteReplica::open_in_memory().unwrap()) as Arc<dyn Replica>
    }));
    assert_eq!(cases.len(), 17, "cases run: {cases:?}");
}

#[test]
fn an_sqlite_replica_file_passes_the_conformance_suite() {
    let dir = std::env::temp_dir().join(format!("calrep-conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let next = std::sync::atomic::AtomicU32::new(0);
    let cases = runtime().block_on(calrep_testkit::conformance::check(|| async {
        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("{n}.db"));
        Arc::new(SqliteReplica::open(&path).unwrap()) as Arc<dyn Replica>
    }));
    assert_eq!(cases.len(), 17, "cases run: {cases:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
