//! The engine end to end from in-memory mailboxes into a SQLite file:
//! full replication (items per second, commits included) and an incremental
//! run with nothing to do (mailboxes per second).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use calrep_benches::engine::{config, organisation};
use calrep_core::SystemClock;
use calrep_core::engine::{Engine, RunOptions, TaskStatus};
use calrep_core::replica::{Replica, SqliteReplica};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const MAILBOXES: usize = 1_000;
const ITEMS: u64 = 200;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn fresh_replica(dir: &std::path::Path, n: &mut u32) -> Arc<dyn Replica> {
    *n += 1;
    let path = dir.join(format!("replica-{n}.db"));
    Arc::new(SqliteReplica::open(&path).unwrap())
}

fn engine(c: &mut Criterion) {
    let (org, addresses) = organisation(MAILBOXES, ITEMS);
    let config = config(&addresses, 4);
    let dir = std::env::temp_dir().join(format!("calrep-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = runtime();
    let mut n = 0;

    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.throughput(Throughput::Elements(MAILBOXES as u64 * ITEMS));
    group.bench_function("full_replication/1000x200_items", |b| {
        b.iter_batched(
            || {
                let replica = fresh_replica(&dir, &mut n);
                Engine::new(config.clone(), replica, Arc::new(SystemClock))
                    .with_source("bench".into(), org.clone())
            },
            |engine| {
                let report = rt
                    .block_on(engine.run_task(&"t".into(), RunOptions::default()))
                    .unwrap();
                assert_eq!(report.status, TaskStatus::Enabled);
                assert_eq!(report.totals.items_created, MAILBOXES as u64 * ITEMS);
            },
            BatchSize::PerIteration,
        );
    });

    let replica = fresh_replica(&dir, &mut n);
    let steady = Engine::new(config.clone(), replica, Arc::new(SystemClock))
        .with_source("bench".into(), org.clone());
    rt.block_on(steady.run_task(&"t".into(), RunOptions::default()))
        .unwrap();
    group.throughput(Throughput::Elements(MAILBOXES as u64));
    group.bench_function("incremental_no_changes/1000_mailboxes", |b| {
        b.iter(|| {
            let report = rt
                .block_on(steady.run_task(&"t".into(), RunOptions::default()))
                .unwrap();
            assert!(report.totals.is_empty());
        });
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, engine);
criterion_main!(benches);
