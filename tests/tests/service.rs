//! The service loop under a hand-moved clock: runs when schedules say,
//! coalesces missed runs, picks up configuration changes, keeps the last
//! good configuration when a new one is broken, and stops on request.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use calrep_core::engine::{Engine, Event, EventSink, Service, StopSignal};
use calrep_core::replica::{Replica, SqliteReplica};
use calrep_core::sources::Sources;
use calrep_core::{Config, ManualClock};
use calrep_testkit::config::ConfigBuilder;
use chrono::TimeDelta;

fn config_text(u_enabled: bool) -> String {
    let every_quarter_hour =
        r#"when.daily.many = { start = "00:00", end = "23:45", interval_minutes = 15 }"#;
    ConfigBuilder::new()
        .demo_site("demo", 5, 10)
        .definition("d", "")
        .schedule("quarter-hours", "UTC", every_quarter_hour)
        .task(
            "t",
            "demo",
            "d",
            "quarter-hours",
            r#"{ ad_group = "All Staff" }"#,
        )
        .task_with(
            "u",
            "demo",
            "d",
            "quarter-hours",
            r#"{ ad_group = "Sales" }"#,
            &format!("enabled = {u_enabled}"),
        )
        .text()
}

/// Waits (in real time) until `count` runs have finished.
fn wait_for(runs: &Mutex<Vec<String>>, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while runs.lock().unwrap().len() < count {
        assert!(
            Instant::now() < deadline,
            "expected {count} runs, saw {:?}",
            runs.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_service_runs_tasks_by_schedule_and_follows_configuration_changes() {
    let text = Arc::new(Mutex::new(config_text(false)));
    let clock = ManualClock::new("2026-06-01T00:05:00Z".parse().unwrap());
    let replica: Arc<dyn Replica> = Arc::new(SqliteReplica::open_in_memory().unwrap());
    let runs = Arc::new(Mutex::new(Vec::new()));
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let sink = EventSink::new({
        let (runs, warnings) = (runs.clone(), warnings.clone());
        move |event| match event {
            Event::RunFinished { task, .. } => runs.lock().unwrap().push(task.clone()),
            Event::Warning { message, .. } => warnings.lock().unwrap().push(message.clone()),
            _ => {}
        }
    });
    let load = {
        let text = text.clone();
        Box::new(move || Config::parse(&text.lock().unwrap(), "service.toml"))
    };
    let build = {
        let clock = clock.clone();
        Box::new(move |config: Config| {
            let sources = Sources::from_config(&config);
            Engine::new(config, replica.clone(), Arc::new(clock.clone()))
                .with_sources(sources)
                .with_events(sink.clone())
        })
    };
    let shutdown = StopSignal::new();
    let service = Service::new(load, build, Arc::new(clock.clone()), shutdown.clone())
        .with_poll(Duration::from_millis(2));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let handle = rt.spawn(async move { service.run().await });

    std::thread::sleep(Duration::from_millis(50));
    assert!(
        runs.lock().unwrap().is_empty(),
        "nothing is due before 00:15"
    );
    clock.set("2026-06-01T00:16:00Z".parse().unwrap());
    wait_for(&runs, 1);
    // 00:30 and 00:45 both passed: one run, not two.
    clock.set("2026-06-01T00:50:00Z".parse().unwrap());
    wait_for(&runs, 2);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(runs.lock().unwrap().len(), 2);

    // Enabling task u takes effect at the next reload (every minute).
    *text.lock().unwrap() = config_text(true);
    clock.set("2026-06-01T01:01:00Z".parse().unwrap());
    wait_for(&runs, 4);
    assert_eq!(
        runs.lock().unwrap()[2..]
            .iter()
            .filter(|t| *t == "u")
            .count(),
        1,
        "{:?}",
        runs.lock().unwrap()
    );

    // A broken configuration is reported and the last good one kept.
    *text.lock().unwrap() = "this is [not toml".into();
    clock.set("2026-06-01T01:16:00Z".parse().unwrap());
    wait_for(&runs, 6);
    assert!(
        warnings
            .lock()
            .unwrap()
            .iter()
            .any(|w| w.contains("keeping the last good one")),
        "{:?}",
        warnings.lock().unwrap()
    );

    shutdown.request();
    let made = rt.block_on(handle).unwrap().unwrap();
    assert_eq!(made.len(), 6);
    assert!(made.iter().all(|r| r.status.is_some()));
    clock.advance(TimeDelta::hours(1));
}
