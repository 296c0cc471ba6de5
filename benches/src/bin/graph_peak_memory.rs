//! Replicates one mailbox of N events through Microsoft Graph and prints
//! the client process's peak resident memory (Linux `VmHWM`), so that runs
//! with different N can be compared (the goal: 100,000 events cost at most
//! twice the peak of 1,000). The simulator runs in a child process (this
//! program started with `--serve N`), so that its copy of the mailbox is
//! not counted.
//!
//! Usage: `graph-peak-memory EVENTS`

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

use calrep_benches::engine::organisation;
use calrep_core::engine::{Engine, RunOptions};
use calrep_core::replica::{Replica, SqliteReplica};
use calrep_core::sim::{SimOptions, Simulator};
use calrep_core::sources::Sources;
use calrep_core::{Config, SystemClock};

fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The child: serves one mailbox of `events` events over Graph, prints
/// its Graph URL and authority, and serves until its stdin closes.
fn serve(events: u64) -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (org, _) = organisation(1, events);
    let sim = rt.block_on(Simulator::start(org, None, SimOptions::default()))?;
    println!("{} {}", sim.graph_url(), sim.authority());
    std::io::stdout().flush()?;
    let mut line = String::new();
    while std::io::stdin().lock().read_line(&mut line)? > 0 {}
    sim.stop();
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let first = args.next().ok_or("usage: graph-peak-memory EVENTS")?;
    if first == "--serve" {
        return serve(args.next().ok_or("--serve EVENTS")?.parse()?);
    }
    let events: u64 = first.parse()?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--serve", &events.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    let (url, authority) = line
        .trim()
        .split_once(' ')
        .ok_or("the server said nothing")?;
    let dir = std::env::temp_dir().join(format!("calrep-graph-peak-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("app-secret"), SimOptions::CLIENT_SECRET)?;
    let text = format!(
        "[engine]\nconcurrency = 1\n\
         [[sites]]\nid = \"m365\"\n[sites.graph]\ntenant = \"bench.onmicrosoft.com\"\n\
         client_id = \"{}\"\nsecret_file = \"app-secret\"\nurl = \"{url}\"\nauthority = \"{authority}\"\npage_size = 1000\n\
         [[definitions]]\nid = \"d\"\n[[schedules]]\nid = \"s\"\ntime_zone = \"UTC\"\nwhen.daily.once.start = \"02:00\"\n\
         [[tasks]]\nid = \"t\"\nsite = \"m365\"\ndefinition = \"d\"\nschedule = \"s\"\ngroup = {{ mailboxes = [\"user0@bench.example\"] }}\n",
        SimOptions::CLIENT_ID
    );
    let mut config = Config::parse(&text, "bench.toml")?;
    config.base_dir = dir.clone();
    let replica: Arc<dyn Replica> = Arc::new(SqliteReplica::open(&dir.join("replica.db"))?);
    let sources = Sources::from_config(&config);
    let engine = Engine::new(config, replica, Arc::new(SystemClock)).with_sources(sources);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(engine.run_task(&"t".into(), RunOptions::default()))?;
    drop(child.stdin.take());
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    if report.totals.items_created == 0 || report.error.is_some() {
        return Err(format!("nothing replicated: {}", report.to_json()).into());
    }
    println!(
        "events {events} replicated {} requests {} peak_rss_kib {}",
        report.totals.items_created,
        report.requests,
        peak_kib().unwrap_or(0)
    );
    Ok(())
}
