//! Group resolution on a generated directory of 20,000 users and 2,000
//! nested groups: resolving 500- and 5,000-member groups (the time should
//! grow linearly with the members).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use calrep_benches::{DirectoryShape, directory_snapshot};
use calrep_core::group::{GroupResolver, SnapshotDirectory};
use calrep_core::{Group, SystemClock};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn resolve(c: &mut Criterion) {
    let sizes = [500, 5_000];
    let snapshot = directory_snapshot(DirectoryShape::LARGE, &sizes);
    let directory = Arc::new(SnapshotDirectory::from_json_str(&snapshot, "bench.json").unwrap());
    assert_eq!(directory.counts().1, 1_800 + 180 + sizes.len());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let resolver = GroupResolver::new(Some(directory), Arc::new(SystemClock));
    let mut group = c.benchmark_group("groups/resolve_nested");
    for n in sizes {
        let target = Group::DistributionGroup(format!("root-{n}@example.com").parse().unwrap());
        // Guard against a fast-but-wrong resolver: the right mailboxes, once each.
        let res = runtime.block_on(resolver.refresh(&target)).unwrap();
        assert!(
            res.mailboxes.len() > n * 9 / 10 && res.mailboxes.len() <= n,
            "{}",
            res.mailboxes.len()
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &target, |b, target| {
            b.iter(|| {
                runtime
                    .block_on(resolver.refresh(std::hint::black_box(target)))
                    .unwrap()
            });
        });
    }
    group.finish();
}

fn load(c: &mut Criterion) {
    let snapshot = directory_snapshot(DirectoryShape::LARGE, &[500, 5_000]);
    let mut group = c.benchmark_group("groups/load_snapshot");
    group.sample_size(20);
    group.throughput(Throughput::Bytes(snapshot.len() as u64));
    group.bench_function("20k_users_2k_groups", |b| {
        b.iter(|| {
            SnapshotDirectory::from_json_str(std::hint::black_box(&snapshot), "bench.json").unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, resolve, load);
criterion_main!(benches);
