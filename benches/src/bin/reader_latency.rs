//! How long a reader waits while a full run writes: one task replicates
//! MAILBOXES generated mailboxes of 200 items into a fresh SQLite file while
//! another task asks, again and again, for one mailbox's occurrences in a
//! month (what a calendar client's view costs). Both run on one two-thread
//! tokio runtime, as in `calrep serve`.
//!
//! It measures the same run twice: with the replica's pool of read-only
//! connections (the default), and with reads on the writer's connection
//! (`open_with_readers(path, 0)`, which is how every read went before the
//! pool existed), and prints read latency percentiles beside the run's
//! duration.
//!
//! Usage: `reader-latency [MAILBOXES]` (default 1000)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use calrep_benches::engine::{config, organisation};
use calrep_core::SystemClock;
use calrep_core::calendar::ItemTime;
use calrep_core::engine::{Engine, RunOptions};
use calrep_core::replica::{Replica, ReplicaReader, SqliteReplica};

const ITEMS: u64 = 200;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mailboxes: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 1_000,
    };
    let (org, addresses) = organisation(mailboxes, ITEMS);
    let dir = std::env::temp_dir().join(format!("calrep-reader-latency-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "{mailboxes} mailboxes x {ITEMS} items, concurrency 4; a reader asks for one mailbox's month of occurrences in a loop"
    );
    println!("| reads on | run | reads | p50 | p99 | max |\n|---|---|---|---|---|---|");
    for (label, readers) in [("writer's connection (before)", 0), ("read-only pool", 4)] {
        let path = dir.join(format!("replica-{readers}.db"));
        let _ = std::fs::remove_file(&path);
        let replica = Arc::new(SqliteReplica::open_with_readers(&path, readers)?);
        let engine = Engine::new(
            config(&addresses, 4),
            replica.clone() as Arc<dyn Replica>,
            Arc::new(SystemClock),
        )
        .with_source("bench".into(), org.clone());
        // The first mailbox is replicated early; its month is read throughout.
        let reader_mailbox = addresses[0].clone();
        let month_from = match calrep_benches::engine::item(0).time {
            ItemTime::Timed { start, .. } => start,
            _ => return Err("the generated item 0 is not timed".into()),
        };
        let month_to = month_from + chrono::TimeDelta::days(30);
        let (elapsed, mut latencies) = runtime.block_on(async {
            let done = Arc::new(AtomicBool::new(false));
            let reader = {
                let (replica, done) = (Arc::clone(&replica), Arc::clone(&done));
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    while !done.load(Ordering::Relaxed) {
                        let asked = Instant::now();
                        let _ = replica
                            .occurrences(&reader_mailbox, month_from, month_to)
                            .await;
                        latencies.push(asked.elapsed());
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    latencies
                })
            };
            let started = Instant::now();
            let report = engine.run_task(&"t".into(), RunOptions::default()).await;
            let elapsed = started.elapsed();
            done.store(true, Ordering::Relaxed);
            let latencies = reader.await.unwrap_or_default();
            if let Ok(report) = report {
                assert_eq!(report.totals.items_created, mailboxes as u64 * ITEMS);
            }
            (elapsed, latencies)
        });
        latencies.sort();
        let at = |q: f64| {
            let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
            latencies.get(i).copied().unwrap_or_default()
        };
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
        println!(
            "| {label} | {:.2} s | {} | {} | {} | {} |",
            elapsed.as_secs_f64(),
            latencies.len(),
            ms(at(0.5)),
            ms(at(0.99)),
            ms(latencies.last().copied().unwrap_or_default()),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
