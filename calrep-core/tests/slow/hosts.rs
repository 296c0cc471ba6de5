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
struct Sim(Child, String);

impl Sim {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_calrep"))
            .args(["sim", "--port", "0", "--seed", "5"])
            .args(["--mailboxes", &MAILBOXES.to_string(), "--latency-ms", "20"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_owned();
        Self(child, url)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config(dir: &Path, sim: &str, replica: &str) -> PathBuf {
    std::fs::write(dir.join("sim-password"), "calrep-sim").unwrap();
    let text = format!(
        r#"
{replica}
[engine]
concurrency = 2
lease_ttl_seconds = 3
page_size = 20

[[sites]]
id = "hq"
directory = "exchange"
ews = {{ url = "{sim}", username = "svc-calrep@demo.example", password_file = "sim-password", impersonation = true }}

[[definitions]]
id = "all"
include = "all"

[[schedules]]
id = "s"
time_zone = "UTC"
when.daily.once.start = "02:00"

[[tasks]]
id = "t"
site = "hq"
definition = "all"
schedule = "s"
group = {{ distribution_group = "all-staff@demo.example" }}
"#
    );
    let path = dir.join("calrep.toml");
    std::fs::write(&path, text).unwrap();
    path
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
    let sim = Sim::start();
    let cluster = PgCluster::start("hosts");
    let url = cluster.url();
    let dir = std::env::temp_dir().join(format!("calrep-hosts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let shared = config(
        &dir,
        &sim.1,
        &format!("[replica.postgres]\nurl = \"{url}\""),
    );

    // Three hosts start the task together.
    let mut hosts: Vec<Child> = (0..3)
        .map(|i| {
            calrep(&shared, &["run", "--task", "t", "--json"])
                .stdout(std::fs::File::create(dir.join(format!("host{i}.json"))).unwrap())
                .stderr(std::fs::File::create(dir.join(format!("host{i}.err"))).unwrap())
                .spawn()
                .unwrap()
        })
        .collect();
    // Kill the first once the run is under way (some mailboxes filed),
    // mid-batch as likely as not.
    let deadline = Instant::now() + Duration::from_secs(30);
    let made = "SELECT count(*) FROM pg_tables WHERE tablename = 'shared_run_mailboxes'";
    while cluster.psql(made) != "1" {
        assert!(Instant::now() < deadline, "no host made the schema");
        std::thread::sleep(Duration::from_millis(20));
    }
    loop {
        let filed = cluster.psql("SELECT count(report) FROM shared_run_mailboxes");
        if filed.parse::<usize>().unwrap_or(0) >= 10 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the run did not get going: {}",
            std::fs::read_to_string(dir.join("host1.err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL: no destructor, no goodbye; its claims stay until they end.
    let killed = hosts[0].id();
    hosts[0].kill().unwrap();
    hosts[0].wait().unwrap();
    let held_sql = format!(
        "SELECT string_agg(address, ',' ORDER BY address) FROM shared_run_mailboxes WHERE report IS NULL AND host LIKE 't:{killed}:%'"
    );
    let held = cluster.psql(&held_sql);
    for host in &mut hosts[1..] {
        let status = host.wait().unwrap();
        assert!(status.success(), "a surviving host failed: {status}");
    }

    // Both survivors report the whole run: every mailbox healthy.
    for i in 1..3 {
        let text = std::fs::read_to_string(dir.join(format!("host{i}.json"))).unwrap();
        let report: serde_json::Value = serde_json::from_str(&text).unwrap();
        // (The group also names a contact and a cycle: skipped.)
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

    // `verify` compares the shared replica with the source: equal.
    let verify = calrep(&shared, &["verify", "--task", "t"])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );

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
