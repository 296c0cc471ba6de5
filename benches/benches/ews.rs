//! Reading `GetItem` responses: calrep's EWS reader (namespace-aware tree,
//! then calendar items with recurrence, zones and attendees) against a bare
//! quick-xml pass over the same bytes that resolves namespaces and does
//! nothing else. The ratio says how much of the reader's time is the XML
//! itself.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use calrep_core::calendar::{CalendarId, CalendarItem};
use calrep_core::demo::DemoOrganisation;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quick_xml::NsReader;
use quick_xml::events::Event;

/// The demo organisation's items (every pattern kind, exceptions, zones,
/// attendees, attachments), `count` of them.
fn items(count: usize) -> Vec<CalendarItem> {
    let demo = DemoOrganisation::generate(3, 40, 1);
    let calendar = CalendarId::new("calendar");
    demo.addresses
        .iter()
        .flat_map(|a| demo.source.mailbox(a).items_of(&calendar))
        .take(count)
        .collect()
}

/// Every event of the document, namespaces resolved; returns the count.
fn raw_pass(text: &str) -> usize {
    let mut reader = NsReader::from_str(text);
    let mut events = 0;
    loop {
        match reader.read_resolved_event() {
            Ok((_, Event::Eof)) => return events,
            Ok(_) => events += 1,
            Err(e) => panic!("{e}"),
        }
    }
}

fn get_item(c: &mut Criterion) {
    let items = items(100);
    let body = calrep_core::sim::get_item_response(&items);
    assert_eq!(
        calrep_core::ews::read_calendar_items(&body).unwrap().len(),
        items.len()
    );
    let mut group = c.benchmark_group("ews_get_item_100_items");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("calrep read_calendar_items", |b| {
        b.iter(|| calrep_core::ews::read_calendar_items(std::hint::black_box(&body)).unwrap());
    });
    group.bench_function("raw quick-xml NsReader pass", |b| {
        b.iter(|| raw_pass(std::hint::black_box(&body)));
    });
    group.finish();
    println!(
        "GetItem response of {} items: {} bytes",
        items.len(),
        body.len()
    );
}

criterion_group!(benches, get_item);
criterion_main!(benches);
