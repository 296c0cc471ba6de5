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
    assert_eq!(cases.len(), 17, "cases run: {cases:?}");
}

/// Runs shared by hosts: each mailbox is claimed by one host at a time, a
/// dead host's claims end in database time and are taken over, a host
/// under another configuration is refused, and exactly one host closes.
#[test]
fn hosts_share_a_run_each_mailbox_claimed_once() {
    use std::collections::BTreeSet;

    use calrep_core::TaskId;
    use calrep_core::replica::{PgOptions, PgReplica, RunCoordinator};
    use chrono::TimeDelta;

    let cluster = PgCluster::start("runs");
    let url = cluster.database("runs");
    calrep_testkit::fixture::runtime().block_on(async {
        // Two hosts: two pools, as two processes would have.
        let a = PgReplica::connect(PgOptions::new(&url).unwrap())
            .await
            .unwrap();
        let b = PgReplica::connect(PgOptions::new(&url).unwrap())
            .await
            .unwrap();
        let task = TaskId::from("t");
        let mailboxes: Vec<String> = (0..40).map(|i| format!("m{i:02}@example.com")).collect();
        let long = TimeDelta::minutes(10);
        let run = a
            .join_run(&task, "d1", None, &mailboxes, long)
            .await
            .unwrap()
            .unwrap();
        assert!(run.opened);
        let joined = b
            .join_run(&task, "d1", None, &mailboxes, long)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (joined.id, joined.opened),
            (run.id, false),
            "one open run per task"
        );
        let refused = b
            .join_run(&task, "d2", None, &mailboxes, long)
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            refused.to_string().contains("different configuration"),
            "{refused}"
        );
        // Both claim at once, many times: every mailbox goes to one host.
        let mut claimed = Vec::new();
        for _ in 0..8 {
            let (x, y) = tokio::join!(
                a.claim(run.id, "host-a", 3, long),
                b.claim(run.id, "host-b", 3, long)
            );
            claimed.extend(x.unwrap());
            claimed.extend(y.unwrap());
        }
        let unique: BTreeSet<_> = claimed.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            claimed.len(),
            "a mailbox was claimed twice: {claimed:?}"
        );
        assert_eq!(claimed.len(), 40);
        assert!(a.claim(run.id, "host-a", 5, long).await.unwrap().is_empty());
        // Host b "dies" holding its claims; a files its own.
        for m in claimed.iter().take(20) {
            a.finish(run.id, m, "{}").await.unwrap();
        }
        let progress = a.progress(run.id).await.unwrap();
        assert_eq!(progress.pending, 20);
        assert!(progress.next_free.unwrap() > std::time::Duration::from_secs(60));
        // Short claims end in the database's time and are taken over.
        let rest: Vec<String> = claimed[20..].to_vec();
        for m in &rest {
            a.release(run.id, m, TimeDelta::milliseconds(300))
                .await
                .unwrap();
        }
        assert!(
            a.claim(run.id, "host-a", 40, long)
                .await
                .unwrap()
                .is_empty()
        );
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        let taken = a.claim(run.id, "host-a", 40, long).await.unwrap();
        assert_eq!(taken.len(), 20, "{taken:?}");
        for m in &taken {
            a.finish(run.id, m, "{}").await.unwrap();
        }
        assert_eq!(a.progress(run.id).await.unwrap().pending, 0);
        let (first, second) = tokio::join!(a.close(run.id, "host-a"), b.close(run.id, "host-b"));
        let (first, second) = (first.unwrap(), second.unwrap());
        assert!(first.0 ^ second.0, "exactly one host closes the run");
        assert_eq!(first.1.len(), 40);
        // The next run is a new one.
        let next = b
            .join_run(&task, "d2", None, &mailboxes, long)
            .await
            .unwrap()
            .unwrap();
        assert!(next.opened && next.id != run.id);
        // A schedule's due instant is run once: a host that comes after
        // that run closed gets it back, finished, and does nothing.
        b.close(next.id, "host-b").await.unwrap();
        let due = Some(1_780_000_000);
        let scheduled = a
            .join_run(&task, "d2", due, &mailboxes, long)
            .await
            .unwrap()
            .unwrap();
        assert!(scheduled.opened && !scheduled.finished);
        let claimed = a.claim(scheduled.id, "host-a", 40, long).await.unwrap();
        for m in &claimed {
            a.finish(scheduled.id, m, "{}").await.unwrap();
        }
        assert!(a.close(scheduled.id, "host-a").await.unwrap().0);
        // Asking again (a lost answer) gets the same yes; another host a no.
        assert!(a.close(scheduled.id, "host-a").await.unwrap().0);
        assert!(!b.close(scheduled.id, "host-b").await.unwrap().0);
        let late = b
            .join_run(&task, "d2", due, &mailboxes, long)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (late.id, late.opened, late.finished),
            (scheduled.id, false, true)
        );
        let later = b
            .join_run(&task, "d2", Some(1_780_000_900), &mailboxes, long)
            .await
            .unwrap()
            .unwrap();
        assert!(later.opened && !later.finished, "the next due instant runs");
    });
}

/// TLS to the database: with the cluster's certificate trusted (from the
/// configuration's `ca_file`) the store connects; clear text is refused by
/// the server; a certificate nobody vouched for is refused by calrep; and a
/// server that offers no TLS is refused rather than used in clear text.
#[test]
fn tls_to_the_database_is_verified_and_never_downgraded() {
    use calrep_core::replica::{ConfiguredStore, PgOptions, PgReplica};

    let cluster = PgCluster::start_tls("tls");
    let url = cluster.url();
    let dir = cluster.dir().to_path_buf();
    let config = |extra: &str| {
        calrep_core::Config::parse(
            &format!("[replica.postgres]\nurl = \"{url}\"\n{extra}"),
            &dir.join("calrep.toml").display().to_string(),
        )
        .unwrap()
    };
    let mut trusting = config(&format!(
        "tls = true\nca_file = \"{}\"",
        cluster.certificate().display()
    ));
    trusting.base_dir = dir.clone();
    calrep_testkit::fixture::runtime().block_on(async {
        let store = ConfiguredStore::open(&trusting).await.unwrap();
        assert!(store.replica().mailboxes().await.unwrap().is_empty());
        // Opened for reading only, the server refuses its writes.
        let reader = ConfiguredStore::open_read_only(&trusting).await.unwrap();
        let account =
            calrep_core::replica::AccessAccount::new("ann", "$argon2id$x", chrono::Utc::now());
        let refused = reader.replica().put_account(&account).await.unwrap_err();
        assert!(refused.to_string().contains("read-only"), "{refused}");

        // Loopback defaults to clear text, which this server refuses.
        let plain = ConfiguredStore::open(&config("")).await.unwrap_err();
        assert!(plain.to_string().contains("no encryption"), "{plain}");

        // TLS with the system's roots: the self-signed certificate fails.
        let roots = PgOptions::tls_roots(None).unwrap();
        let options = PgOptions::new(&url).unwrap().tls(roots);
        let untrusted = PgReplica::connect(options).await.unwrap_err();
        assert!(
            untrusted.to_string().to_lowercase().contains("certificate"),
            "{untrusted}"
        );
    });

    // A server without TLS (or someone answering for it): refused.
    let clear = PgCluster::start("no-tls");
    let ca = PgOptions::tls_roots(Some(&cluster.certificate())).unwrap();
    let options = PgOptions::new(&clear.url()).unwrap().tls(ca);
    let refused = calrep_testkit::fixture::runtime()
        .block_on(PgReplica::connect(options))
        .unwrap_err();
    assert!(refused.to_string().contains("TLS"), "{refused}");
}
