//! The iCalendar export, checked by an outside reader: python-dateutil
//! expands each exported series (DTSTART, RRULE, EXDATE as written) and must
//! find exactly the occurrences the replica holds, on a demo organisation
//! with every pattern kind, all-day series, moved and deleted occurrences —
//! once as read from the in-memory source, once as read over Microsoft
//! Graph from the simulator (masters, cancelled and exception occurrences).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use calrep_core::engine::{Engine, RunOptions};
use calrep_core::ical::{AttachmentStyle, export};
use calrep_core::replica::{Replica, ReplicaReader, SqliteReplica};
use calrep_core::sim::SimOptions;
use calrep_core::sources::Sources;
use calrep_core::{Config, ManualClock};
use calrep_testkit::config::ConfigBuilder;
use calrep_testkit::fixture::block;
use calrep_testkit::sim::SimFixture;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};

/// The logical lines of one VEVENT with an RRULE: the ones dateutil reads.
fn series_blocks(ics: &str) -> Vec<(String, String)> {
    let unfolded = ics.replace("\r\n ", "");
    let mut out = Vec::new();
    for event in unfolded.split("BEGIN:VEVENT").skip(1) {
        let event = event.split("END:VEVENT").next().unwrap();
        let lines: Vec<&str> = event.split("\r\n").filter(|l| !l.is_empty()).collect();
        if !lines.iter().any(|l| l.starts_with("RRULE:")) {
            continue;
        }
        let uid = lines
            .iter()
            .find_map(|l| l.strip_prefix("UID:"))
            .unwrap()
            .to_owned();
        let keep: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| {
                l.starts_with("DTSTART") || l.starts_with("RRULE:") || l.starts_with("EXDATE")
            })
            .collect();
        out.push((uid, keep.join("\n")));
    }
    out
}

#[test]
fn exported_series_expand_to_the_replicas_occurrences() {
    let config = ConfigBuilder::demo_everyone(3, 12, 1).build();
    let now: DateTime<Utc> = "2026-11-02T00:00:00Z".parse().unwrap();
    let replica = Arc::new(SqliteReplica::open_in_memory().unwrap());
    let sources = Sources::from_config(&config);
    let engine = Engine::new(
        config,
        replica.clone() as Arc<dyn Replica>,
        Arc::new(ManualClock::new(now)),
    )
    .with_sources(sources);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(engine.run_task(&"t".into(), RunOptions::default()))
        .unwrap();

    assert_dateutil_agrees(&replica, now);
}

#[test]
fn series_read_over_graph_export_to_what_dateutil_expands() {
    let f = SimFixture::with_seed("export-graph", 3, 12, SimOptions::default());
    let mut graph = Config::parse(
        &calrep_testkit::graph::config_text(&f.sim, &calrep_testkit::graph::secret_app(), 2),
        "graph.toml",
    )
    .unwrap();
    graph.base_dir = f.dir.clone();
    let (engine, replica) = f.engine(graph);
    f.demo.apply_changes(1);
    assert!(calrep_testkit::sim::failed(&f.run(&engine)).is_empty());
    // The clock of the fixture's engines.
    assert_dateutil_agrees(&replica, "2026-11-20T00:00:00Z".parse().unwrap());
}

/// python-dateutil expands every series `replica` exports, as written
/// (DTSTART, RRULE, EXDATE), to exactly the occurrences it holds.
fn assert_dateutil_agrees(replica: &SqliteReplica, now: DateTime<Utc>) {
    // Compare well inside the replica's horizon (one year back, two ahead).
    let (from, to) = (now - TimeDelta::days(300), now + TimeDelta::days(700));
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for mailbox in block(replica.mailboxes()).unwrap() {
        let address = mailbox.address.parse().unwrap();
        let occurrences = block(replica.occurrences(
            &address,
            from - TimeDelta::days(30),
            to + TimeDelta::days(30),
        ))
        .unwrap();
        for calendar in block(replica.calendars(&address)).unwrap() {
            let items = block(replica.items(&address, &calendar.id)).unwrap();
            let ics = export(
                &calendar.name,
                &items,
                |_, _| None,
                AttachmentStyle::HashUri,
                now,
            );
            for (uid, text) in series_blocks(&ics) {
                let item = items.iter().find(|i| i.uid == uid).unwrap();
                let mut originals: Vec<String> = occurrences
                    .iter()
                    .filter(|o| {
                        o.item == item.id
                            && o.occurrence.original_start >= from
                            && o.occurrence.original_start < to
                    })
                    .map(|o| {
                        o.occurrence
                            .original_start
                            .to_rfc3339_opts(SecondsFormat::Secs, true)
                    })
                    .collect();
                originals.sort();
                expected.push((format!("{address} {uid}"), originals));
                cases.push(json!({
                    "text": text, "zone": item.zone.iana,
                    "from": from.to_rfc3339_opts(SecondsFormat::Secs, true),
                    "to": to.to_rfc3339_opts(SecondsFormat::Secs, true),
                }));
            }
        }
    }
    assert!(cases.len() > 50, "too few series to check: {}", cases.len());
    let got: Vec<Vec<String>> = serde_json::from_value(calrep_testkit::run_oracle(
        "expand_ics.py",
        &Value::Array(cases.clone()),
    ))
    .unwrap();
    let mut failures = 0;
    for ((name, want), (have, case)) in expected.iter().zip(got.iter().zip(&cases)) {
        if want != have {
            failures += 1;
            if failures <= 3 {
                eprintln!(
                    "{name}\n{}\n  replica:  {:?}\n  dateutil: {:?}",
                    case["text"].as_str().unwrap(),
                    &want[..want.len().min(5)],
                    &have[..have.len().min(5)]
                );
            }
        }
    }
    eprintln!(
        "{} series, {} passed, {failures} failed",
        cases.len(),
        cases.len() - failures
    );
    assert_eq!(failures, 0);
}
