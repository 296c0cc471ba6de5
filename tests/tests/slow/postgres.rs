//! The throwaway PostgreSQL cluster the multi-host tests will run on: it
//! runs as an unprivileged user even under root, listens on loopback only,
//! survives a restart with its data, and leaves nothing behind.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use calrep_testkit::postgres::PgCluster;

#[test]
fn a_throwaway_cluster_is_unprivileged_on_loopback_restartable_and_removed() {
    let mut cluster = PgCluster::start("harness");
    let port = cluster.port();
    let dir = cluster.dir().to_path_buf();
    assert_eq!(cluster.psql("SELECT current_user"), "calrep");
    assert_eq!(cluster.psql("SHOW listen_addresses"), "127.0.0.1");
    // The server's process does not belong to root.
    let pid_file = std::fs::read_to_string(dir.join("data/postmaster.pid")).unwrap();
    let postmaster = pid_file.lines().next().unwrap().trim().to_owned();
    let backend_user = std::process::Command::new("ps")
        .args(["-o", "user=", "-p", &postmaster])
        .output()
        .unwrap();
    let backend_user = String::from_utf8_lossy(&backend_user.stdout)
        .trim()
        .to_owned();
    assert!(
        !backend_user.is_empty() && backend_user != "root",
        "{backend_user:?}"
    );
    // Data outlives a restart on the same port.
    cluster.psql("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)");
    cluster.stop();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    cluster.resume();
    assert_eq!(cluster.psql("SELECT n FROM kept"), "7");
    assert!(cluster.url().ends_with(&format!("127.0.0.1:{port}/calrep")));
    drop(cluster);
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// The storage conformance suite, each case on a database of its own.
#[test]
fn a_postgres_replica_passes_the_conformance_suite() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use calrep_core::replica::{PgOptions, PgReplica, Replica};

    let cluster = PgCluster::start("conformance");
    let next = AtomicU32::new(0);
    let cases =
        calrep_testkit::fixture::runtime().block_on(calrep_testkit::conformance::check(|| {
            let url = cluster.database(&format!("case{}", next.fetch_add(1, Ordering::Relaxed)));
            async move {
                let options = PgOptions::new(&url).unwrap();
                Arc::new(PgReplica::connect(options).await.unwrap()) as Arc<dyn Replica>
            }
        }));
    assert_eq!(cases.len(), 13, "cases run: {cases:?}");
}
