//! Crash safety: a replication killed with SIGKILL at 20+ points spread over
//! the run, then restarted, leaves a replica equal to the source — nothing
//! lost, nothing duplicated — and equal to one that was never interrupted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use calrep_core::replica::{ReplicaReader, SqliteReplica};

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
    for mailbox in block(replica.mailboxes()).unwrap() {
        let address = mailbox.address.parse().unwrap();
        for calendar in block(replica.calendars(&address)).unwrap() {
            for item in block(replica.items(&address, &calendar.id)).unwrap() {
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
        for o in block(replica.occurrences(&address, from, to)).unwrap() {
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

/// The crash configuration with a second task on a second demo site, and
/// leases that last five minutes (so only a takeover frees them quickly).
fn two_task_config() -> String {
    config(11).replace("lease_ttl_seconds = 1", "lease_ttl_seconds = 300")
        + r#"
        [[sites]]
        id = "other"
        demo = { seed = 12, mailboxes = 10 }
        [[tasks]]
        id = "u"
        site = "other"
        definition = "all"
        schedule = "s"
        group = { ad_group = "All Staff" }
        "#
}

fn json_run(dir: &Path, task: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_calrep"))
        .args(["run", "--task", task, "--json", "--config"])
        .arg(dir.join("calrep.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn runs_of_two_tasks_on_one_new_replica_both_succeed() {
    for round in 0..5 {
        let dir = workdir(&format!("pair-{round}"));
        std::fs::write(dir.join("calrep.toml"), two_task_config()).unwrap();
        let children = [json_run(&dir, "t"), json_run(&dir, "u")];
        for child in children {
            let out = child.wait_with_output().unwrap();
            let report = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "round {round}: {}\n{report}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!report.contains("locked"), "round {round}: {report}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_restart_after_a_kill_takes_over_the_dead_runs_leases() {
    // Without a machine id and a boot id nothing is ever provably dead (the
    // leases then expire as before); such a system has nothing to test.
    let readable = |p: &str| std::fs::read_to_string(p).is_ok_and(|s| !s.trim().is_empty());
    if !(readable("/etc/machine-id") || readable("/var/lib/dbus/machine-id"))
        || !readable("/proc/sys/kernel/random/boot_id")
    {
        eprintln!("no machine id or boot id here: lease takeover is not used, not tested");
        return;
    }
    let dir = workdir("takeover");
    std::fs::write(dir.join("calrep.toml"), two_task_config()).unwrap();
    let full = run_to_completion(&dir);
    // Kill runs part-way until one dies holding leases (the restart says
    // so); a live lease is never taken (no mailbox is reported locked).
    let mut taken_over = false;
    for attempt in 1..=8u32 {
        std::fs::remove_file(dir.join("replica.db")).unwrap();
        let _ = std::fs::remove_file(dir.join("replica.db-wal"));
        let _ = std::fs::remove_file(dir.join("replica.db-shm"));
        let mut child = calrep(&dir, &["run", "--task", "t"]).spawn().unwrap();
        std::thread::sleep(full.mul_f64(f64::from(attempt) / 10.0));
        child.kill().unwrap();
        child.wait().unwrap();
        let out = json_run(&dir, "t").wait_with_output().unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{report}");
        assert!(!report.contains("\"locked\""), "{report}");
        if report.contains("took over the stale lease") {
            taken_over = true;
            break;
        }
    }
    assert!(taken_over, "no kill landed while leases were held");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn readers_need_no_write_access_and_create_nothing() {
    let dir = workdir("reader");
    run_to_completion(&dir);
    // A missing replica: an error, and nothing created.
    let nowhere = dir.join("nowhere");
    std::fs::write(
        dir.join("missing.toml"),
        config(11).replace("path = \"replica.db\"", "path = \"nowhere/replica.db\""),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_calrep"))
        .args(["status", "--config"])
        .arg(dir.join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no replica at"));
    assert!(!nowhere.exists());
    // A WAL-mode replica copied into a read-only folder without its -shm
    // file, read by a user who may not write there.
    let ro = dir.join("ro");
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::copy(dir.join("replica.db"), ro.join("replica.db")).unwrap();
    std::fs::copy(dir.join("calrep.toml"), ro.join("calrep.toml")).unwrap();
    let before: Vec<_> = std::fs::read_dir(&ro)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let chmod = |mode: &str, path: &Path| {
        assert!(
            Command::new("chmod")
                .args([mode])
                .arg(path)
                .status()
                .unwrap()
                .success()
        );
    };
    chmod("a+rx", &dir);
    chmod("a+r", &ro.join("replica.db"));
    chmod("a+r", &ro.join("calrep.toml"));
    chmod("555", &ro);
    let uid = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap();
    let reader = || {
        if uid.trim() == "0" {
            // As root a folder's mode binds no one: read as nobody instead.
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_calrep"));
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_calrep"))
        }
    };
    for command in [&["status", "--json"][..], &["export", "--mailbox"][..]] {
        let mut args: Vec<String> = command.iter().map(|s| (*s).to_owned()).collect();
        if command[0] == "export" {
            let status = Command::new(env!("CARGO_BIN_EXE_calrep"))
                .args(["status", "--json", "--config"])
                .arg(dir.join("calrep.toml"))
                .output()
                .unwrap();
            let list: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
            args.push(list[0]["address"].as_str().unwrap().to_owned());
        }
        let out = reader()
            .args(&args)
            .arg("--config")
            .arg(ro.join("calrep.toml"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{command:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let after: Vec<_> = std::fs::read_dir(&ro)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "a reader created files");
    chmod("755", &ro);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs a future to completion: for direct reads of the replica.
fn block<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}
