//! Several hosts on one PostgreSQL database, measured as an operator runs
//! them: real `calrep run` processes (1, 2 and 4 of them) share one run of a
//! task that replicates the simulator's organisation at a given latency,
//! into a fresh database each time. Reported: wall time, the speed-up over
//! one host, and how many mailboxes were claimed more than once (with no
//! host dying, there must be none). Then one host against each store at no
//! latency: a full replication's items per second and an incremental run's
//! mailboxes per second, PostgreSQL beside the SQLite file.
//!
//! The cluster is a throwaway one with PostgreSQL's default durability
//! (fsync and synchronous commit on), as the SQLite file syncs its commits.
//! The simulator runs in this process; everything shares this machine's
//! cores, which is where the scaling stops (see BENCHMARKS.md).
//!
//! Usage: `hosts-on-postgres [MAILBOXES] [LATENCY_MS] [CONCURRENCY]`
//! (default 2000, 20, 8: concurrency is each host's own). Needs the
//! `calrep` command next to this binary (`cargo build --release -p
//! calrep-core --features cli`) and PostgreSQL's server programs (Debian's
//! `postgresql` package).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use calrep_core::demo::DemoOrganisation;
use calrep_core::sim::{SimOptions, Simulator};
use calrep_testkit::postgres::{PgCluster, shared_task_config};

type Error = Box<dyn std::error::Error>;

fn calrep_bin() -> Result<PathBuf, Error> {
    let bin = std::env::current_exe()?
        .parent()
        .ok_or("no folder")?
        .join("calrep");
    if !bin.exists() {
        return Err(format!(
            "{} is missing: cargo build --release -p calrep-core --features cli",
            bin.display()
        )
        .into());
    }
    Ok(bin)
}

/// Runs `hosts` processes of `calrep run` at once; the wall time and each
/// one's JSON report.
fn run_hosts(
    bin: &Path,
    config: &Path,
    hosts: usize,
) -> Result<(Duration, Vec<serde_json::Value>), Error> {
    let started = Instant::now();
    let children: Vec<_> = (0..hosts)
        .map(|_| {
            Command::new(bin)
                .args(["run", "--task", "t", "--json", "--config"])
                .arg(config)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    let mut reports = Vec::new();
    for child in children {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(format!("a host failed: {}", out.status).into());
        }
        reports.push(serde_json::from_slice(&out.stdout)?);
    }
    Ok((started.elapsed(), reports))
}

/// The machine's CPU time so far, busy and in all, in clock ticks
/// (`/proc/stat`): how busy its cores were between two readings.
fn cpu_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    let total: u64 = ticks.iter().sum();
    // idle and iowait are not busy.
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

fn count(report: &serde_json::Value, field: &str) -> u64 {
    report["totals"][field].as_u64().unwrap_or(0)
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let mailboxes: usize = args.next().map_or(Ok(2_000), |a| a.parse())?;
    let latency_ms: u64 = args.next().map_or(Ok(20), |a| a.parse())?;
    let concurrency: usize = args.next().map_or(Ok(8), |a| a.parse())?;
    let bin = calrep_bin()?;
    let cluster = PgCluster::start_durable("bench-hosts");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let demo = DemoOrganisation::generate(7, mailboxes, 0);
    let sim = rt.block_on(Simulator::start_demo(&demo, SimOptions::default()))?;
    sim.set_latency(Duration::from_millis(latency_ms));
    let work = std::env::temp_dir().join(format!("calrep-bench-hosts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    println!(
        "{mailboxes} mailboxes, {latency_ms} ms per EWS answer, concurrency {concurrency} per host, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "hosts | wall s | speed-up | per host (goal >= 0.85) | items | claimed twice | CPU busy"
    );
    let mut one = None;
    for hosts in [1usize, 2, 4] {
        let db = format!("hosts{hosts}");
        let url = cluster.database(&db);
        let config = shared_task_config(
            &work.join(&db),
            &sim.url(),
            &format!("[replica.postgres]\nurl = \"{url}\""),
            concurrency,
            60,
            256,
        );
        let before = cpu_ticks();
        let (wall, reports) = run_hosts(&bin, &config, hosts)?;
        let after = cpu_ticks();
        let busy = (after.0 - before.0) as f64 / (after.1 - before.1).max(1) as f64;
        let items = reports.first().map_or(0, |r| count(r, "items_created"));
        let twice = cluster.psql_in(
            &db,
            "SELECT count(*) FROM shared_run_mailboxes WHERE claims > 1",
        );
        let base = *one.get_or_insert(wall.as_secs_f64());
        let speedup = base / wall.as_secs_f64();
        println!(
            "{hosts} | {:.1} | {speedup:.2} | {:.2} | {items} | {twice} | {:.0} %",
            wall.as_secs_f64(),
            speedup / hosts as f64,
            busy * 100.0
        );
    }

    // One host, each store, no latency: what the store itself costs.
    sim.set_latency(Duration::ZERO);
    println!("\none host, no latency | full: items/s | incremental: mailboxes/s");
    let url = cluster.database("stores");
    for (name, replica) in [
        ("SQLite", "[replica]\npath = \"replica.db\"".to_owned()),
        ("PostgreSQL", format!("[replica.postgres]\nurl = \"{url}\"")),
    ] {
        let config =
            shared_task_config(&work.join(name), &sim.url(), &replica, concurrency, 60, 256);
        let (full, reports) = run_hosts(&bin, &config, 1)?;
        let items = reports.first().map_or(0, |r| count(r, "items_created"));
        let (incremental, reports) = run_hosts(&bin, &config, 1)?;
        let unchanged = reports
            .first()
            .map_or(0, |r| count(r, "items_created") + count(r, "items_updated"));
        if unchanged != 0 {
            return Err(format!("{name}: the incremental run wrote {unchanged} items").into());
        }
        println!(
            "{name} | {:.0} ({items} items in {:.1} s) | {:.0} ({mailboxes} in {:.2} s)",
            items as f64 / full.as_secs_f64(),
            full.as_secs_f64(),
            mailboxes as f64 / incremental.as_secs_f64(),
            incremental.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
