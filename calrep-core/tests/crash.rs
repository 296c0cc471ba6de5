//! Crash safety: a replication killed with SIGKILL at 20+ points spread over
//! the run, then restarted, leaves a replica equal to the source — nothing
//! lost, nothing duplicated — and equal to one that was never interrupted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use calrep_core::replica::{Replica, SqliteReplica};

const MAILBOXES: usize = 40;

fn config(seed: u64) -> String {
    format!(
        r#"
        [replica]
        path = "replica.db"
        [engine]
        lease_ttl_seconds = 1
        page_size = 20
        [[sites]]
        id = "demo"
        demo = {{ seed = {seed}, mailboxes = {MAILBOXES} }}
        [[definitions]]
        id = "all"
        include = "all"
        [[schedules]]
        id = "s"
        time_zone = "UTC"
        when.daily.once.start = "02:00"
        [[tasks]]
        id = "t"
        site = "demo"
        definition = "all"
        schedule = "s"
        group = {{ ad_group = "All Staff" }}
        "#
    )
}

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("calrep-crash-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("calrep.toml"), config(11)).unwrap();
    dir
}

fn calrep(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_calrep"));
    cmd.args(args)
        .arg("--config")
        .arg(dir.join("calrep.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

fn run_to_completion(dir: &Path) -> Duration {
    let started = Instant::now();
    let status = calrep(dir, &["run", "--task", "t"]).status().unwrap();
    assert!(status.success(), "run failed: {status}");
    started.elapsed()
}

/// Everything a reader can see, in a comparable form.
fn snapshot(dir: &Path) -> Vec<String> {
    let replica = SqliteReplica::open(&dir.join("replica.db")).unwrap();
    let mut out = Vec::new();
    for mailbox in replica.mailboxes().unwrap() {
        let address = mailbox.address.parse().unwrap();
        for calendar in replica.calendars(&address).unwrap() {
            for item in replica.items(&address, &calendar.id).unwrap() {
                out.push(format!(
                    "{} {} {}",
                    mailbox.address,
                    calendar.id,
                    serde_json::to_string(&item).unwrap()
                ));
            }
        }
        let from = "2020-01-01T00:00:00Z".parse().unwrap();
        let to = "2035-01-01T00:00:00Z".parse().unwrap();
        for o in replica.occurrences(&address, from, to).unwrap() {
            out.push(format!(
                "{} {} {} {:?}",
                mailbox.address, o.calendar, o.item, o.occurrence
            ));
        }
    }
    out
}

#[test]
fn killed_runs_resume_without_loss_or_duplicates() {
    let reference = workdir("reference");
    let full = run_to_completion(&reference);
    let expected = snapshot(&reference);
    assert!(
        expected.len() > 1_000,
        "the reference replica is too small to test with"
    );

    let mut kills = 0;
    let mut point = 0u32;
    while kills < 20 {
        point += 1;
        assert!(point < 80, "could not kill a run in progress 20 times");
        let dir = workdir(&format!("kill-{point}"));
        // Spread the kill points over the run; the first few land in setup.
        let delay = full
            .mul_f64(f64::from(point % 21) / 21.0)
            .max(Duration::from_millis(5));
        let mut child = calrep(&dir, &["run", "--task", "t"]).spawn().unwrap();
        std::thread::sleep(delay);
        let alive = child.try_wait().unwrap().is_none();
        // SIGKILL: no destructor, no flush, no goodbye.
        child.kill().unwrap();
        child.wait().unwrap();
        if alive {
            kills += 1;
        }
        // Restart once the dead run's leases have expired, and finish; then
        // compare with the source and with the uninterrupted replica.
        std::thread::sleep(Duration::from_millis(1_100));
        run_to_completion(&dir);
        let status = calrep(&dir, &["verify", "--task", "t"]).status().unwrap();
        assert!(
            status.success(),
            "after a kill at {delay:?} the replica differs from the source"
        );
        let got = snapshot(&dir);
        assert!(
            got == expected,
            "after a kill at {delay:?} the replica differs from an uninterrupted one ({} vs {} rows)",
            got.len(),
            expected.len()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::remove_dir_all(&reference).unwrap();
}
