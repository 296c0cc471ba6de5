//! Replicates one generated mailbox of N items into a fresh SQLite replica
//! and prints the process's peak resident memory (Linux `VmHWM`), so that
//! runs with different N can be compared: the engine holds one page at a
//! time, whatever the mailbox's size.
//!
//! Usage: `peak-memory ITEMS`

use std::sync::Arc;

use calrep_benches::engine::{GeneratedSource, config};
use calrep_core::engine::{Engine, RunOptions};
use calrep_core::replica::{Replica, SqliteReplica};
use calrep_core::{EmailAddress, SystemClock};

fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let items: u64 = std::env::args()
        .nth(1)
        .ok_or("usage: peak-memory ITEMS")?
        .parse()?;
    let dir = std::env::temp_dir().join(format!("calrep-peak-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let replica: Arc<dyn Replica> = Arc::new(SqliteReplica::open(&dir.join("replica.db"))?);
    let address: EmailAddress = "big@bench.example".parse()?;
    let engine = Engine::new(config(&[address], 1), replica, Arc::new(SystemClock))
        .with_source("bench".into(), Arc::new(GeneratedSource { items }));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let report = runtime.block_on(engine.run_task(&"t".into(), RunOptions::default()))?;
    if report.totals.items_created != items {
        return Err(format!(
            "replicated {} items, expected {items}",
            report.totals.items_created
        )
        .into());
    }
    println!("items {items} peak_rss_kib {}", peak_kib().unwrap_or(0));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
