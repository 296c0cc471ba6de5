//! Several hosts on one PostgreSQL database: three `calrep run` processes
//! replicate one task from one EWS simulator, one of them is SIGKILLed
//! mid-run, and the survivors finish its mailboxes. The replica equals one
//! a single host made into SQLite, `verify` finds it equal, no mailbox was
//! replicated twice, and the run is recorded once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use calrep_core::replica::{PgOptions, PgReplica, ReplicaReader, SqliteReplica};
use calrep_testkit::postgres::PgCluster;

const MAILBOXES: usize = 60;

/// A `calrep sim` process (20 ms per answer), killed on drop.
struct Sim(
    Child,
    String,
    // Kept open: the simulator writes more lines, and dies of a closed pipe.
    #[allow(dead_code)] std::io::BufReader<std::process::ChildStdout>,
);

impl Sim {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_calrep"))
            .args(["sim", "--port", "0", "--seed", "5"])
            .args(["--mailboxes", &MAILBOXES.to_string(), "--latency-ms", "20"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first).unwrap();
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_owned();
        Self(child, url, stdout)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Two mailboxes at once per host, leases of 3 s, pages of 20 changes
/// (many batches, so a kill or a pause lands inside a mailbox).
fn config(dir: &Path, sim: &str, replica: &str) -> PathBuf {
    calrep_testkit::postgres::shared_task_config(dir, sim, replica, 2, 3, 20)
}

/// `hosts` processes of `calrep run --task t --json`, each writing its
/// report to `dir/host{i}.json`.
fn start_hosts(config: &Path, dir: &Path, hosts: usize) -> Vec<Child> {
    (0..hosts)
        .map(|i| {
            calrep(config, &["run", "--task", "t", "--json"])
                .stdout(std::fs::File::create(dir.join(format!("host{i}.json"))).unwrap())
                .stderr(std::fs::File::create(dir.join(format!("host{i}.err"))).unwrap())
                .spawn()
                .unwrap()
        })
        .collect()
}

/// Waits (at most a minute) until the hosts have filed `n` mailboxes'
/// reports: the run is under way.
fn wait_until_filed(cluster: &PgCluster, dir: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let made = "SELECT count(*) FROM pg_tables WHERE tablename = 'shared_run_mailboxes'";
    while cluster.psql(made) != "1" {
        assert!(Instant::now() < deadline, "no host made the schema");
        std::thread::sleep(Duration::from_millis(20));
    }
    loop {
        let filed = cluster.psql("SELECT count(report) FROM shared_run_mailboxes");
        if filed.parse::<usize>().unwrap_or(0) >= n {
            return;
        }
        let errors: Vec<String> = (0..4)
            .filter_map(|i| std::fs::read_to_string(dir.join(format!("host{i}.err"))).ok())
            .collect();
        assert!(
            Instant::now() < deadline,
            "the run did not get going: {filed} filed; runs {}; hosts said {errors:?}",
            cluster.psql("SELECT string_agg(id || ':' || coalesce(closed_at::text, 'open'), ' ') FROM shared_runs"),
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What every multi-host test starts with: the simulator, a cluster, a
/// folder, and the configuration that shares the cluster's database.
struct Shared {
    sim: Sim,
    cluster: PgCluster,
    dir: PathBuf,
    config: PathBuf,
}

impl Shared {
    fn start(name: &str) -> Self {
        let sim = Sim::start();
        let cluster = PgCluster::start(name);
        let dir = std::env::temp_dir().join(format!("calrep-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = cluster.url();
        let config = config(
            &dir,
            &sim.1,
            &format!("[replica.postgres]\nurl = \"{url}\""),
        );
        Self {
            sim,
            cluster,
            dir,
            config,
        }
    }
}

/// Waits for each host in `which` (index into `hosts`), and checks it
/// succeeded and reported the whole run: every mailbox of the group healthy
/// (the group also names a contact and a cycle, skipped).
fn finish_healthy(hosts: &mut [Child], which: std::ops::Range<usize>, dir: &Path) {
    for i in which {
        let status = hosts[i].wait().unwrap();
        let text = std::fs::read_to_string(dir.join(format!("host{i}.json"))).unwrap();
        assert!(status.success(), "host {i}: {status}: {text}");
        let report: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mailboxes: Vec<_> = report["mailboxes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["outcome"] != "skipped")
            .collect();
        assert_eq!(mailboxes.len(), MAILBOXES, "host {i}: {text}");
        assert!(
            mailboxes.iter().all(|m| m["outcome"] == "healthy"),
            "host {i}: {text}"
        );
    }
}

/// `calrep verify` compares the shared replica with the source: equal.
fn assert_verified(config: &Path) {
    let verify = calrep(config, &["verify", "--task", "t"]).output().unwrap();
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}

fn calrep(config: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_calrep"));
    cmd.args(args).arg("--config").arg(config);
    cmd
}

/// Every item and occurrence a reader sees, comparable across stores.
async fn snapshot(replica: &dyn ReplicaReader) -> Vec<String> {
    let mut out = Vec::new();
    let from = "2020-01-01T00:00:00Z".parse().unwrap();
    let to = "2035-01-01T00:00:00Z".parse().unwrap();
    for mailbox in replica.mailboxes().await.unwrap() {
        let address = mailbox.address.parse().unwrap();
        for calendar in replica.calendars(&address).await.unwrap() {
            for item in replica.items(&address, &calendar.id).await.unwrap() {
                let json = serde_json::to_string(&item).unwrap();
                out.push(format!("{} {} {json}", mailbox.address, calendar.id));
            }
        }
        for o in replica.occurrences(&address, from, to).await.unwrap() {
            out.push(format!(
                "{} {} {} {:?}",
                mailbox.address, o.calendar, o.item, o.occurrence
            ));
        }
    }
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn three_hosts_share_a_run_one_is_killed_and_the_replica_is_exact() {
    let Shared {
        sim,
        cluster,
        dir,
        config: shared,
    } = Shared::start("hosts");
    let url = cluster.url();

    // Three hosts start the task together.
    let mut hosts = start_hosts(&shared, &dir, 3);
    // Kill the first once the run is under way (some mailboxes filed),
    // mid-batch as likely as not.
    wait_until_filed(&cluster, &dir, 10);
    // SIGKILL: no destructor, no goodbye; its claims stay until they end.
    let killed = hosts[0].id();
    hosts[0].kill().unwrap();
    hosts[0].wait().unwrap();
    let held_sql = format!(
        "SELECT string_agg(address, ',' ORDER BY address) FROM shared_run_mailboxes WHERE report IS NULL AND host LIKE 't:{killed}:%'"
    );
    let held = cluster.psql(&held_sql);
    // Both survivors report the whole run: every mailbox healthy.
    finish_healthy(&mut hosts, 1..3, &dir);
    // One run, recorded once; claimed again only what the killed host held.
    assert_eq!(
        cluster.psql("SELECT count(*) FROM shared_runs WHERE closed_at IS NOT NULL"),
        "1"
    );
    assert_eq!(cluster.psql("SELECT count(*) FROM runs"), "1");
    // Exactly the killed host's mailboxes were claimed again (and resumed
    // from their last batch); every other mailbox was replicated once.
    let again = cluster.psql(
        "SELECT string_agg(address, ',' ORDER BY address) FROM shared_run_mailboxes WHERE claims > 1",
    );
    assert_eq!(again, held, "claimed again vs held by the killed host");
    eprintln!("the killed host held {held:?}, taken over by the others");

    assert_verified(&shared);

    // One host into SQLite, from the same source: the same replica.
    let alone_dir = dir.join("alone");
    std::fs::create_dir_all(&alone_dir).unwrap();
    let alone = config(&alone_dir, &sim.1, "[replica]\npath = \"replica.db\"");
    let status = calrep(&alone, &["run", "--task", "t"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let rt = runtime();
    let pg = rt
        .block_on(PgReplica::connect(PgOptions::new(&url).unwrap()))
        .unwrap();
    let sqlite = SqliteReplica::open(&alone_dir.join("replica.db")).unwrap();
    let (ours, reference) = rt.block_on(async { (snapshot(&pg).await, snapshot(&sqlite).await) });
    assert!(
        reference.len() > 1_000,
        "too small to compare: {}",
        reference.len()
    );
    assert_eq!(ours.len(), reference.len());
    assert!(
        ours == reference,
        "the shared replica differs from one host's"
    );
    drop(pg);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `calrep store copy` moves an installation from its SQLite file into
/// PostgreSQL and back: every reader sees the same replica with the same
/// change numbers, and the next run on the copy changes nothing.
#[test]
fn a_store_moves_to_postgres_and_back_and_the_next_run_is_incremental() {
    let sim = Sim::start();
    let cluster = PgCluster::start("copy");
    let url = cluster.url();
    let dir = std::env::temp_dir().join(format!("calrep-copy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["file", "db", "back"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    let file = config(
        &dir.join("file"),
        &sim.1,
        "[replica]\npath = \"replica.db\"",
    );
    let db = config(
        &dir.join("db"),
        &sim.1,
        &format!("[replica.postgres]\nurl = \"{url}\""),
    );
    let back = config(
        &dir.join("back"),
        &sim.1,
        "[replica]\npath = \"replica.db\"",
    );
    let ok = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    ok(&mut calrep(&file, &["run", "--task", "t"]));
    let copied = ok(&mut calrep(
        &file,
        &["store", "copy", "--to", db.to_str().unwrap()],
    ));
    assert!(copied.contains("occurrences"), "{copied}");
    // Into a store that holds something: refused, nothing written.
    let again = calrep(&file, &["store", "copy", "--to", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("empty store"));
    ok(&mut calrep(
        &db,
        &["store", "copy", "--to", back.to_str().unwrap()],
    ));

    let rt = runtime();
    let original = SqliteReplica::open(&dir.join("file/replica.db")).unwrap();
    let pg = rt
        .block_on(PgReplica::connect(PgOptions::new(&url).unwrap()))
        .unwrap();
    let returned = SqliteReplica::open(&dir.join("back/replica.db")).unwrap();
    let (a, b, c) = rt.block_on(async {
        (
            snapshot(&original).await,
            snapshot(&pg).await,
            snapshot(&returned).await,
        )
    });
    assert!(a.len() > 1_000, "too small: {}", a.len());
    assert!(a == b, "the PostgreSQL copy differs");
    assert!(a == c, "the copy back differs");
    // Sync tokens carry over: each calendar's change number is the same.
    let versions = |r: &dyn ReplicaReader| {
        rt.block_on(async {
            let mut out = Vec::new();
            for m in r.mailboxes().await.unwrap() {
                let address = m.address.parse().unwrap();
                for c in r.calendars(&address).await.unwrap() {
                    let changes = r.changes(&address, &c.id, 0).await.unwrap().unwrap();
                    out.push((m.address.clone(), c.id.to_string(), changes.version));
                }
            }
            out
        })
    };
    assert_eq!(versions(&original), versions(&pg));
    // The next run on the copy finds its sync states: nothing to write.
    let run = ok(&mut calrep(&db, &["run", "--task", "t", "--json"]));
    let report: serde_json::Value = serde_json::from_str(&run).unwrap();
    assert_eq!(report["totals"]["items_created"], 0, "{run}");
    assert_eq!(report["totals"]["items_updated"], 0, "{run}");
    drop(pg);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The database restarts in the middle of a run (every connection broken,
/// a COMMIT's answer possibly lost): the hosts wait for it, repeat what
/// failed, and finish; nothing is lost or written twice.
#[test]
fn a_database_restart_mid_run_loses_nothing() {
    let Shared {
        sim: _sim,
        mut cluster,
        dir,
        config: shared,
    } = Shared::start("restart");
    let mut hosts = start_hosts(&shared, &dir, 2);
    wait_until_filed(&cluster, &dir, 15);
    // A fast shutdown: sessions are ended mid-transaction.
    assert!(
        hosts.iter_mut().all(|h| h.try_wait().unwrap().is_none()),
        "a host finished before the restart: the test proves nothing"
    );
    cluster.stop();
    std::thread::sleep(Duration::from_secs(3));
    cluster.resume();
    finish_healthy(&mut hosts, 0..2, &dir);
    assert_verified(&shared);
    assert_eq!(cluster.psql("SELECT count(*) FROM runs"), "1");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A host that stops answering (SIGSTOP: its process frozen, its sockets
/// open, as a host cut off from the network) past its lease: the other
/// takes its mailboxes over once their claims end, and when it wakes it
/// writes nothing over them (its batches name it as the lease holder, and
/// the store refuses them). Both finish; the replica is exact.
#[test]
fn a_host_that_stops_past_its_lease_and_wakes_writes_nothing_stale() {
    let Shared {
        sim: _sim,
        cluster,
        dir,
        config: shared,
    } = Shared::start("pause");
    let mut hosts = start_hosts(&shared, &dir, 2);
    wait_until_filed(&cluster, &dir, 10);
    let paused = hosts[0].id().to_string();
    let signal = |name: &str| {
        let sent = Command::new("kill").args([name, &paused]).status().unwrap();
        assert!(sent.success());
    };
    signal("-STOP");
    let held = cluster.psql(&format!(
        "SELECT count(*) FROM shared_run_mailboxes WHERE report IS NULL AND host LIKE 't:{paused}:%'"
    ));
    // Three lease times: its claims and leases end, the other takes over.
    std::thread::sleep(Duration::from_secs(9));
    signal("-CONT");
    finish_healthy(&mut hosts, 0..2, &dir);
    let closed = cluster.psql("SELECT count(*) FROM shared_runs WHERE closed_at IS NOT NULL");
    assert_eq!(closed, "1");
    let healthy = cluster.psql(
        "SELECT count(*) FROM shared_run_mailboxes WHERE report::json->>'outcome' = 'healthy'",
    );
    assert_eq!(
        healthy,
        MAILBOXES.to_string(),
        "the paused host held {held}"
    );
    assert_verified(&shared);
    eprintln!("the paused host held {held} mailboxes when it stopped");
    let _ = std::fs::remove_dir_all(&dir);
}
