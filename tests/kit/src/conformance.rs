//! What every replica store must do, written once: the SQLite store and
//! the PostgreSQL store run the same cases.
//!
//! Each case gets a fresh, empty store from the factory and panics with
//! its name on the first broken promise. Migrations are the store's own
//! business (its schema is its own) and are tested beside it.
//!
//! ```no_run
//! use std::sync::Arc;
//! use calrep_core::replica::{Replica, SqliteReplica};
//! # async fn f() {
//! calrep_testkit::conformance::check(|| async {
//!     Arc::new(SqliteReplica::open_in_memory().unwrap()) as Arc<dyn Replica>
//! })
//! .await;
//! # }
//! ```

// A conformance case is a test: it fails by panicking, with its name.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;

use calrep_core::calendar::{
    Attachment, CalendarId, CalendarInfo, CalendarItem, ItemId, ModifiedOccurrence,
};
use calrep_core::engine::EngineOptions;
use calrep_core::mailbox::SyncState;
use calrep_core::replica::{
    AccessAccount, Batch, Counts, FullSync, ItemWrite, Lease, Rekey, Replica, SyncKey,
};
use calrep_core::{EmailAddress, SiteId, TaskId};
use chrono::{DateTime, TimeDelta, Utc};

use crate::fixture::{addr, single, weekly};

/// Runs every case on a fresh store from `fresh` (async: a networked store
/// connects); the names of the cases run are returned.
///
/// Needs a multi-threaded tokio runtime (one case reads while another task
/// writes).
pub async fn check<F, Fut>(fresh: F) -> Vec<&'static str>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Arc<dyn Replica>>,
{
    /// Each case once: run on a fresh store, then named in the result.
    macro_rules! cases {
        ($($case:ident),+ $(,)?) => {{
            let mut ran = Vec::new();
            $(
                $case(fresh().await).await;
                ran.push(stringify!($case));
            )+
            ran
        }};
    }
    cases!(
        batches_and_their_state_are_stored_together,
        applying_a_batch_twice_is_harmless,
        a_full_sync_deletes_what_it_did_not_see,
        a_whole_full_sync_in_one_batch_numbers_itself,
        a_full_sync_never_deletes_what_a_newer_one_saw,
        leases_exclude_other_owners_until_they_expire,
        a_reader_never_sees_half_a_batch,
        changes_since_a_number_name_what_changed,
        occurrences_are_found_by_overlap_with_a_window,
        refreshed_occurrences_replace_and_trim,
        attachments_are_stored_once_by_content,
        removing_a_calendar_removes_its_items_and_state,
        mailboxes_are_frozen_and_synced,
        rekeying_renames_every_key_and_a_full_sync_then_writes_nothing,
        access_accounts_are_kept_replaced_and_removed,
        a_batch_from_a_run_that_lost_its_lease_is_refused,
        a_batch_renews_its_runs_lease,
    )
}

const MAILBOX: &str = "alice@example.com";
const CALENDAR: &str = "cal";

fn key() -> SyncKey {
    SyncKey::new(
        SiteId::from("hq"),
        TaskId::from("t"),
        addr(MAILBOX),
        CalendarId::from(CALENDAR),
    )
}

fn mailbox() -> EmailAddress {
    addr(MAILBOX)
}

fn calendar() -> CalendarId {
    CalendarId::from(CALENDAR)
}

fn info() -> CalendarInfo {
    CalendarInfo::new(CALENDAR, "Calendar", true)
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap_or_default()
}

/// The replica's default horizon around 1 June 2026.
fn horizon() -> (DateTime<Utc>, DateTime<Utc>) {
    let options = EngineOptions::default();
    let now = t("2026-06-01T00:00:00Z");
    (now - options.horizon_back, now + options.horizon_ahead)
}

/// An item with its occurrences in the horizon.
fn write(item: CalendarItem) -> ItemWrite {
    let (from, to) = horizon();
    let occurrences = item.occurrences(from, to).unwrap();
    ItemWrite::new(item, occurrences, Vec::new())
}

fn batch(state: &str, full_sync: FullSync, items: Vec<CalendarItem>) -> Batch {
    let mut batch = Batch::new(key(), info(), Some(SyncState::new(state)), full_sync);
    batch.upserts = items.into_iter().map(write).collect();
    batch
}

/// A batch (no full sync) written by the run `owner`.
fn owned(state: &str, owner: &str, items: Vec<CalendarItem>) -> Batch {
    let mut batch = batch(state, FullSync::No, items);
    batch.owner = Some(owner.to_owned());
    batch
}

/// `owner` (of `task`) asks for the mailbox's lease at `at` for `ttl`.
/// Owners that name no machine are never provably dead.
async fn lease(
    store: &dyn Replica,
    task: &TaskId,
    owner: &str,
    at: DateTime<Utc>,
    ttl: TimeDelta,
) -> Lease {
    store
        .acquire_lease(&mailbox(), task, owner, at, ttl)
        .await
        .unwrap()
}

fn ids(items: &[CalendarItem]) -> Vec<String> {
    items.iter().map(|i| i.id.to_string()).collect()
}

async fn batches_and_their_state_are_stored_together(store: Arc<dyn Replica>) {
    let before = store.sync_state(&key()).await.unwrap();
    assert!(before.state.is_none() && before.full_sync.is_none());
    let counts = store
        .apply(batch(
            "s1",
            FullSync::No,
            vec![single("a", "One", 1), weekly("w", "Weekly", 4)],
        ))
        .await
        .unwrap();
    assert_eq!(counts.items_created, 2, "counts: {counts:?}");
    assert_eq!(counts.occurrences_created, 5, "counts: {counts:?}");
    let stored = store.sync_state(&key()).await.unwrap();
    assert_eq!(stored.state, Some(SyncState::new("s1")));
    assert_eq!(
        ids(&store.items(&mailbox(), &calendar()).await.unwrap()),
        ["a", "w"]
    );
    // An update and a delete move the state on together.
    let mut next = batch("s2", FullSync::No, vec![single("a", "One, renamed", 1)]);
    next.deletes.push(ItemId::from("w"));
    let counts = store.apply(next).await.unwrap();
    assert_eq!((counts.items_updated, counts.items_deleted), (1, 1));
    assert_eq!(counts.occurrences_deleted, 4);
    let items = store.items(&mailbox(), &calendar()).await.unwrap();
    assert_eq!(ids(&items), ["a"]);
    assert_eq!(items[0].subject, "One, renamed");
    assert_eq!(
        store.sync_state(&key()).await.unwrap().state,
        Some(SyncState::new("s2"))
    );
    // Another task's state for the same calendar is its own.
    let other = SyncKey::new(
        SiteId::from("hq"),
        TaskId::from("other"),
        mailbox(),
        calendar(),
    );
    assert!(store.sync_state(&other).await.unwrap().state.is_none());
}

/// A store that lost the answer to a COMMIT applies the batch again: the
/// second application must change nothing.
async fn applying_a_batch_twice_is_harmless(store: Arc<dyn Replica>) {
    let make = || {
        let mut b = batch("s1", FullSync::No, vec![weekly("w", "Weekly", 3)]);
        b.deletes.push(ItemId::from("never-stored"));
        b
    };
    store.apply(make()).await.unwrap();
    let again = store.apply(make()).await.unwrap();
    assert!(again.is_empty(), "a repeated batch changed {again:?}");
    let (from, to) = horizon();
    assert_eq!(
        store.occurrences(&mailbox(), from, to).await.unwrap().len(),
        3
    );
}

async fn a_full_sync_deletes_what_it_did_not_see(store: Arc<dyn Replica>) {
    store
        .apply(batch(
            "s0",
            FullSync::No,
            vec![
                single("a", "A", 1),
                single("b", "B", 2),
                single("c", "C", 3),
            ],
        ))
        .await
        .unwrap();
    let first = store.begin_full_sync(&key()).await.unwrap();
    let stored = store.sync_state(&key()).await.unwrap();
    assert_eq!((stored.state, stored.full_sync), (None, Some(first)));
    store
        .apply(batch(
            "p1",
            FullSync::Part(first),
            vec![single("a", "A", 1)],
        ))
        .await
        .unwrap();
    assert_eq!(
        store.full_sync_progress(&key(), first).await.unwrap(),
        (1, 2)
    );
    assert_eq!(
        store.sync_state(&key()).await.unwrap().full_sync,
        Some(first),
        "a part keeps the full sync open"
    );
    let counts = finish_seeing_c(&*store, first).await;
    assert_eq!(counts.items_deleted, 1, "only b was unseen: {counts:?}");
    assert_eq!(
        ids(&store.items(&mailbox(), &calendar()).await.unwrap()),
        ["a", "c"]
    );
    let stored = store.sync_state(&key()).await.unwrap();
    assert_eq!(stored.full_sync, None);
    assert_eq!(stored.state, Some(SyncState::new("s1")));
    let second = store.begin_full_sync(&key()).await.unwrap();
    assert!(second > first, "generations grow: {first} then {second}");
}

/// Items a, b and c.
fn three_items() -> Vec<CalendarItem> {
    vec![
        single("a", "A", 1),
        single("b", "B", 2),
        single("c", "C", 3),
    ]
}

/// Stores [`three_items`], then begins a full sync of them that sees `a`
/// and is left open (its run died): its generation.
async fn an_open_full_sync(store: &dyn Replica) -> u64 {
    store
        .apply(batch("s0", FullSync::No, three_items()))
        .await
        .unwrap();
    let generation = store.begin_full_sync(&key()).await.unwrap();
    store
        .apply(batch(
            "p1",
            FullSync::Part(generation),
            vec![single("a", "A", 1)],
        ))
        .await
        .unwrap();
    generation
}

/// Ends the full sync `generation` with a last batch that sees `c`.
async fn finish_seeing_c(store: &dyn Replica, generation: u64) -> Counts {
    store
        .apply(batch(
            "s1",
            FullSync::Last(generation),
            vec![single("c", "C", 3)],
        ))
        .await
        .unwrap()
}

/// Two tasks replicate one calendar. Task A's full sync is left open half
/// way (its run died); task B then reads the calendar in full; A resumes
/// and finishes. A's last batch deletes only what is older than its own
/// generation and unseen: B's newer read saw the rest at the source.
async fn a_full_sync_never_deletes_what_a_newer_one_saw(store: Arc<dyn Replica>) {
    let first = an_open_full_sync(&*store).await;
    let other = SyncKey::new(
        SiteId::from("hq"),
        TaskId::from("other-task"),
        mailbox(),
        calendar(),
    );
    let mut whole = batch("o1", FullSync::Whole, three_items());
    whole.key = other;
    store.apply(whole).await.unwrap();
    // A's read no longer sees b or c as its own to delete…
    assert_eq!(
        store.full_sync_progress(&key(), first).await.unwrap(),
        (0, 0)
    );
    // …and finishing it (c seen again, b not) deletes nothing.
    let counts = finish_seeing_c(&*store, first).await;
    assert_eq!(counts.items_deleted, 0, "{counts:?}");
    assert_eq!(
        ids(&store.items(&mailbox(), &calendar()).await.unwrap()),
        ["a", "b", "c"]
    );
}

/// A full sync whose first batch is its last (a calendar in one page)
/// needs no transaction of its own: the batch numbers the generation.
async fn a_whole_full_sync_in_one_batch_numbers_itself(store: Arc<dyn Replica>) {
    // Left open by a run that died: the whole read replaces it.
    let before = an_open_full_sync(&*store).await;
    let counts = store
        .apply(batch(
            "s1",
            FullSync::Whole,
            vec![single("b", "B2", 2), single("d", "D", 4)],
        ))
        .await
        .unwrap();
    assert_eq!(
        (
            counts.items_created,
            counts.items_updated,
            counts.items_deleted
        ),
        (1, 1, 2),
        "d new, b changed, a and c unseen: {counts:?}"
    );
    assert_eq!(
        ids(&store.items(&mailbox(), &calendar()).await.unwrap()),
        ["b", "d"]
    );
    let stored = store.sync_state(&key()).await.unwrap();
    assert_eq!(
        (stored.state, stored.full_sync),
        (Some(SyncState::new("s1")), None)
    );
    // It took a number of its own: the next full sync's is larger still.
    let next = store.begin_full_sync(&key()).await.unwrap();
    assert!(next > before + 1, "{before} then {next}");
    // Its items count as unseen by the next full sync, as any other's.
    assert_eq!(
        store.full_sync_progress(&key(), next).await.unwrap(),
        (0, 2)
    );
}

async fn leases_exclude_other_owners_until_they_expire(store: Arc<dyn Replica>) {
    // A store that times leases by its own clock (shared by hosts) ignores
    // the caller's `now`: it is tested in real time, with a short lease.
    let own_clock = store.keeps_lease_time();
    let (now, ttl) = if own_clock {
        (Utc::now(), TimeDelta::seconds(2))
    } else {
        (t("2026-06-01T00:00:00Z"), TimeDelta::minutes(10))
    };
    let (a, b) = (TaskId::from("a"), TaskId::from("b"));
    let ask = |task: &TaskId, owner: &'static str, at: DateTime<Utc>| {
        let (store, task) = (Arc::clone(&store), task.clone());
        async move { lease(&*store, &task, owner, at, ttl).await }
    };
    assert_eq!(ask(&a, "run-a", now).await, Lease::Acquired);
    assert_eq!(
        ask(&a, "run-a", now).await,
        Lease::Acquired,
        "renewal by the owner"
    );
    let within = if own_clock {
        Utc::now()
    } else {
        now + TimeDelta::minutes(5)
    };
    assert_held(ask(&b, "run-b", within).await, &a, now + ttl, own_clock);
    // Releasing someone else's lease does nothing.
    store
        .release_lease(&mailbox(), "run-b", None)
        .await
        .unwrap();
    assert!(matches!(
        ask(&b, "run-b", within).await,
        Lease::HeldBy { .. }
    ));
    let expired = if own_clock {
        tokio::time::sleep((ttl + TimeDelta::milliseconds(1_100)).to_std().unwrap()).await;
        Utc::now()
    } else {
        now + ttl + TimeDelta::seconds(1)
    };
    assert_eq!(
        ask(&b, "run-b", expired).await,
        Lease::Acquired,
        "an expired lease is free"
    );
    store
        .release_lease(&mailbox(), "run-b", None)
        .await
        .unwrap();
    assert_eq!(ask(&a, "run-a2", expired).await, Lease::Acquired);
}

/// A reader running while a large batch is written sees all of it or none.
async fn a_reader_never_sees_half_a_batch(store: Arc<dyn Replica>) {
    const ITEMS: usize = 2_000;
    let items: Vec<CalendarItem> = (0..ITEMS)
        .map(|i| single(&format!("i{i:05}"), "Item", (i % 300) as i64))
        .collect();
    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.apply(batch("s1", FullSync::No, items)).await })
    };
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let finished = writer.is_finished();
        let n = store.items(&mailbox(), &calendar()).await.unwrap().len();
        assert!(n == 0 || n == ITEMS, "a reader saw {n} of {ITEMS} items");
        seen.insert(n);
        if finished {
            break;
        }
        tokio::task::yield_now().await;
    }
    writer.await.unwrap().unwrap();
    assert!(seen.contains(&ITEMS));
}

async fn changes_since_a_number_name_what_changed(store: Arc<dyn Replica>) {
    assert_eq!(
        store.changes(&mailbox(), &calendar(), 0).await.unwrap(),
        None,
        "no such calendar yet"
    );
    store
        .apply(batch(
            "s1",
            FullSync::No,
            vec![single("a", "A", 1), single("b", "B", 2)],
        ))
        .await
        .unwrap();
    let first = store
        .changes(&mailbox(), &calendar(), 0)
        .await
        .unwrap()
        .unwrap();
    let names =
        |list: &[(ItemId, u64)]| list.iter().map(|(i, _)| i.to_string()).collect::<Vec<_>>();
    assert_eq!(names(&first.changed), ["a", "b"]);
    assert!(first.removed.is_empty());
    assert!(first.version > 0);
    assert!(first.changed.iter().all(|(_, v)| *v <= first.version));
    // Nothing changed: the same number, nothing listed.
    store
        .apply(batch("s2", FullSync::No, vec![single("a", "A", 1)]))
        .await
        .unwrap();
    let quiet = store
        .changes(&mailbox(), &calendar(), first.version)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        quiet.version, first.version,
        "an unchanged write moved the number"
    );
    assert!(quiet.changed.is_empty() && quiet.removed.is_empty());
    // An update and a removal.
    let mut next = batch("s3", FullSync::No, vec![single("a", "A, moved", 3)]);
    next.deletes.push(ItemId::from("b"));
    store.apply(next).await.unwrap();
    let later = store
        .changes(&mailbox(), &calendar(), first.version)
        .await
        .unwrap()
        .unwrap();
    assert!(later.version > first.version);
    assert_eq!(names(&later.changed), ["a"]);
    assert_eq!(later.removed, [ItemId::from("b")]);
    assert_eq!(later.removed_uids, ["uid-b"], "readers by UID see it gone");
    assert!(first.removed_uids.is_empty() && quiet.removed_uids.is_empty());
    let a_version = later.changed[0].1;
    assert!(a_version > first.version, "a's ETag did not change");
    // An item back after its removal is changed, not removed.
    store
        .apply(batch("s4", FullSync::No, vec![single("b", "B again", 2)]))
        .await
        .unwrap();
    let back = store
        .changes(&mailbox(), &calendar(), first.version)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(names(&back.changed), ["a", "b"]);
    assert!(back.removed.is_empty() && back.removed_uids.is_empty());
}

async fn occurrences_are_found_by_overlap_with_a_window(store: Arc<dyn Replica>) {
    // A three-day item starting on 2 June, and a weekly series.
    let mut long = single("long", "Conference", 1);
    if let calrep_core::calendar::ItemTime::Timed { end, .. } = &mut long.time {
        *end += TimeDelta::days(3);
    }
    store
        .apply(batch(
            "s1",
            FullSync::No,
            vec![long, weekly("w", "Weekly", 3)],
        ))
        .await
        .unwrap();
    let (from, to) = horizon();
    let all = store.occurrences(&mailbox(), from, to).await.unwrap();
    let starts: Vec<_> = all.iter().map(|o| o.occurrence.start).collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted, "in order of start");
    // A window inside the long item, after its start, still finds it.
    let inside = all
        .iter()
        .find(|o| o.item == ItemId::from("long"))
        .unwrap()
        .occurrence;
    let window = (
        inside.start + TimeDelta::days(2),
        inside.start + TimeDelta::days(2) + TimeDelta::hours(1),
    );
    let found = store
        .occurrences(&mailbox(), window.0, window.1)
        .await
        .unwrap();
    assert!(
        found.iter().any(|o| o.item == ItemId::from("long")),
        "{found:?}"
    );
    // A window ending at an occurrence's start, or starting at its end,
    // does not overlap it.
    let first = all[0].occurrence;
    let before = store
        .occurrences(&mailbox(), first.start - TimeDelta::hours(1), first.start)
        .await
        .unwrap();
    assert!(!before.iter().any(|o| o.occurrence == first));
    let after = store
        .occurrences(&mailbox(), first.end, first.end + TimeDelta::hours(1))
        .await
        .unwrap();
    assert!(!after.iter().any(|o| o.occurrence == first));
    assert!(
        store
            .occurrences(&addr("nobody@example.com"), from, to)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn refreshed_occurrences_replace_and_trim(store: Arc<dyn Replica>) {
    let series = weekly("w", "Weekly", 4);
    store
        .apply(batch("s1", FullSync::No, vec![series.clone()]))
        .await
        .unwrap();
    assert_eq!(
        store.horizon_until(&mailbox(), &calendar()).await.unwrap(),
        None
    );
    let (from, to) = horizon();
    let occurrences = series.occurrences(from, to).unwrap();
    // Keep the last two; the first two ended before the new horizon start.
    let cut = occurrences[1].end + TimeDelta::seconds(1);
    let kept: Vec<_> = occurrences[2..].to_vec();
    let counts = store
        .refresh_occurrences(
            &mailbox(),
            &calendar(),
            vec![(ItemId::from("w"), kept.clone())],
            cut,
            to + TimeDelta::days(7),
        )
        .await
        .unwrap();
    assert_eq!(counts.occurrences_deleted, 2, "{counts:?}");
    let stored: Vec<_> = store
        .occurrences(&mailbox(), from, to)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.occurrence)
        .collect();
    assert_eq!(stored, kept);
    assert_eq!(
        store.horizon_until(&mailbox(), &calendar()).await.unwrap(),
        Some(to + TimeDelta::days(7))
    );
}

async fn attachments_are_stored_once_by_content(store: Arc<dyn Replica>) {
    let content = b"agenda".to_vec();
    let mut b = batch("s1", FullSync::No, vec![]);
    for id in ["a", "b"] {
        let mut w = write(single(id, "With agenda", 1));
        w.attachments = vec![("att".into(), Some(content.clone())), ("big".into(), None)];
        b.upserts.push(w);
    }
    let counts = store.apply(b).await.unwrap();
    assert_eq!(counts.attachment_bytes, content.len() as u64, "stored once");
    let refs = store
        .attachment_refs(&mailbox(), &calendar())
        .await
        .unwrap();
    assert_eq!(refs.len(), 4);
    let shas: std::collections::BTreeSet<_> = refs.iter().filter_map(|r| r.2.clone()).collect();
    assert_eq!(shas.len(), 1, "one content, one hash: {refs:?}");
    let sha = shas.into_iter().next().unwrap();
    assert_eq!(sha.len(), 64);
    assert_eq!(store.attachment(&sha).await.unwrap(), Some(content));
    assert_eq!(store.attachment(&"0".repeat(64)).await.unwrap(), None);
    assert!(refs.iter().any(|r| r.1 == "big" && r.2.is_none()));
}

async fn removing_a_calendar_removes_its_items_and_state(store: Arc<dyn Replica>) {
    store
        .apply(batch("s1", FullSync::No, vec![weekly("w", "Weekly", 2)]))
        .await
        .unwrap();
    assert_eq!(store.calendar_ids(&mailbox()).await.unwrap(), [calendar()]);
    let counts = store
        .remove_calendar(&mailbox(), &calendar())
        .await
        .unwrap();
    assert_eq!((counts.items_deleted, counts.occurrences_deleted), (1, 2));
    assert!(store.calendar_ids(&mailbox()).await.unwrap().is_empty());
    assert!(store.sync_state(&key()).await.unwrap().state.is_none());
    assert!(
        store
            .remove_calendar(&mailbox(), &calendar())
            .await
            .unwrap()
            .is_empty(),
        "removing it again changes nothing"
    );
}

async fn mailboxes_are_frozen_and_synced(store: Arc<dyn Replica>) {
    assert!(!store.has_mailbox(&mailbox()).await.unwrap());
    store
        .apply(batch("s1", FullSync::No, vec![single("a", "A", 1)]))
        .await
        .unwrap();
    assert!(store.has_mailbox(&addr("ALICE@example.com")).await.unwrap());
    assert_eq!(
        store
            .task_mailboxes(&SiteId::from("hq"), &TaskId::from("t"))
            .await
            .unwrap(),
        [MAILBOX]
    );
    store.freeze(&mailbox(), "left the group").await.unwrap();
    let listed = store.mailboxes().await.unwrap();
    assert_eq!(listed[0].frozen.as_deref(), Some("left the group"));
    let now = t("2026-06-01T00:00:00Z");
    store
        .acquire_lease(
            &mailbox(),
            &TaskId::from("t"),
            "run",
            now,
            TimeDelta::minutes(1),
        )
        .await
        .unwrap();
    store
        .release_lease(&mailbox(), "run", Some(now))
        .await
        .unwrap();
    let listed = store.mailboxes().await.unwrap();
    assert_eq!(listed[0].frozen, None, "a synced mailbox is not frozen");
    assert_eq!(listed[0].last_synced, Some(now));
    store
        .record_run(&TaskId::from("t"), "Enabled", "{}", now)
        .await
        .unwrap();
    let calendars = store.calendars(&mailbox()).await.unwrap();
    assert_eq!((calendars[0].items, calendars[0].is_default), (1, true));
    // One mailbox and calendar names, as the lists give them.
    let one = store.mailbox(&addr("ALICE@example.com")).await.unwrap();
    assert_eq!(one.as_ref(), listed.first());
    assert_eq!(
        store.mailbox(&addr("nobody@example.com")).await.unwrap(),
        None
    );
    let names: Vec<(CalendarId, String)> = calendars
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    assert_eq!(store.calendar_names(&mailbox()).await.unwrap(), names);
    assert!(
        store
            .calendar_names(&addr("nobody@example.com"))
            .await
            .unwrap()
            .is_empty()
    );
}

/// A series with a moved occurrence (its own item id) and a single with an
/// attachment, as one source names them, then as another does.
fn named(item: &str, occurrence: &str, single_id: &str, attachment: &str) -> Vec<CalendarItem> {
    // The iCalendar UIDs stay what they were: only source ids change.
    let mut series = weekly(item, "Weekly", 4);
    series.uid = "uid-series".into();
    let original = t("2026-06-08T08:00:00Z");
    let mut moved = ModifiedOccurrence::moved(
        original,
        original + TimeDelta::hours(1),
        original + TimeDelta::minutes(90),
    );
    moved.item = Some(ItemId::from(occurrence));
    series.recurrence.as_mut().unwrap().modified.push(moved);
    let mut one = single(single_id, "With agenda", 1);
    one.uid = "uid-single".into();
    one.attachments
        .push(Attachment::new(attachment, "agenda.txt", "text/plain", 6));
    vec![series, one]
}

async fn rekeying_renames_every_key_and_a_full_sync_then_writes_nothing(store: Arc<dyn Replica>) {
    let mut first = batch("ews-state", FullSync::No, named("w", "w-occ", "a", "att"));
    first.upserts[1].attachments = vec![("att".into(), Some(b"agenda".to_vec()))];
    store.apply(first).await.unwrap();
    let site = SiteId::from("hq");
    let states = store.site_states(&site).await.unwrap();
    assert_eq!(
        states,
        [(MAILBOX.to_owned(), Some(SyncState::new("ews-state")))]
    );
    let (from, to) = horizon();
    let occurrences = store.occurrences(&mailbox(), from, to).await.unwrap().len();
    let before = store
        .changes(&mailbox(), &calendar(), 0)
        .await
        .unwrap()
        .unwrap()
        .version;

    let mut plan = Rekey::new(site.clone(), mailbox());
    plan.calendars.insert(calendar(), CalendarId::from("g-cal"));
    for (old, new) in [("w", "g-w"), ("w-occ", "g-w-occ"), ("a", "g-a")] {
        plan.items.insert(ItemId::from(old), ItemId::from(new));
    }
    plan.attachments
        .insert((ItemId::from("a"), "att".into()), "g-att".into());
    let done = store.rekey(plan.clone()).await.unwrap();
    assert_eq!(
        (
            done.calendars,
            done.items,
            done.attachments,
            done.states_dropped
        ),
        (1, 2, 1, 1),
        "{done:?}"
    );
    assert!(store.site_states(&site).await.unwrap().is_empty());

    let renamed = CalendarId::from("g-cal");
    assert_eq!(
        store.calendar_ids(&mailbox()).await.unwrap(),
        std::slice::from_ref(&renamed)
    );
    let mut stored = store.items(&mailbox(), &renamed).await.unwrap();
    stored.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected = named("g-w", "g-w-occ", "g-a", "g-att");
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(stored, expected, "ids inside the items renamed too");
    let refs = store.attachment_refs(&mailbox(), &renamed).await.unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!((refs[0].0.as_str(), refs[0].1.as_str()), ("g-a", "g-att"));
    assert_eq!(
        store
            .attachment(refs[0].2.as_deref().unwrap())
            .await
            .unwrap(),
        Some(b"agenda".to_vec()),
        "the content stays"
    );
    assert_eq!(
        store.occurrences(&mailbox(), from, to).await.unwrap().len(),
        occurrences,
        "occurrences stay with their items"
    );
    let seen = store
        .changes(&mailbox(), &renamed, before)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ids_of(&seen.removed),
        ["a", "w"],
        "old names are gone to readers"
    );
    let changed: Vec<ItemId> = seen.changed.iter().map(|c| c.0.clone()).collect();
    assert_eq!(ids_of(&changed), ["g-a", "g-w"]);

    // The new source's first full sync finds everything stored as it is.
    let new_key = SyncKey::new(site, TaskId::from("t"), mailbox(), renamed.clone());
    let generation = store.begin_full_sync(&new_key).await.unwrap();
    let mut full = Batch::new(
        new_key,
        CalendarInfo::new("g-cal", "Calendar", true),
        Some(SyncState::new("graph-state")),
        FullSync::Last(generation),
    );
    full.upserts = named("g-w", "g-w-occ", "g-a", "g-att")
        .into_iter()
        .map(write)
        .collect();
    full.upserts[1].attachments = vec![("g-att".into(), None)];
    let counts = store.apply(full).await.unwrap();
    assert_eq!(
        (
            counts.items_created,
            counts.items_updated,
            counts.items_deleted
        ),
        (0, 0, 0),
        "{counts:?}"
    );
    assert!(
        store.rekey(plan).await.unwrap().items == 0,
        "a second rekey finds nothing to rename"
    );
}

fn ids_of(ids: &[ItemId]) -> Vec<&str> {
    let mut names: Vec<&str> = ids.iter().map(ItemId::as_str).collect();
    names.sort_unstable();
    names
}

async fn access_accounts_are_kept_replaced_and_removed(store: Arc<dyn Replica>) {
    assert!(store.accounts().await.unwrap().is_empty());
    let mut ann = AccessAccount::new("ann", "$argon2id$v=19$hash-1", t("2026-11-01T00:00:00Z"));
    ann.mailboxes = vec!["ann@example.com".into()];
    ann.delegated = vec!["ceo@example.com".into(), "cfo@example.com".into()];
    ann.expires = Some(t("2027-01-01T00:00:00Z"));
    store.put_account(&ann).await.unwrap();
    let mut root = AccessAccount::new("root", "$argon2id$v=19$hash-2", t("2026-11-02T00:00:00Z"));
    root.admin = true;
    store.put_account(&root).await.unwrap();
    assert_eq!(
        store.account("ANN").await.unwrap().as_ref(),
        Some(&ann),
        "names ignore case"
    );
    let names: Vec<String> = store
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["ann", "root"]);
    // A new password replaces the old one; grants go with it.
    ann.password_hash = "$argon2id$v=19$hash-3".into();
    ann.delegated.clear();
    store.put_account(&ann).await.unwrap();
    assert_eq!(store.account("ann").await.unwrap(), Some(ann.clone()));
    // A feed token is found by its hash only.
    let hash = "9f".repeat(32);
    ann.feed_token_hash = Some(hash.clone());
    store.put_account(&ann).await.unwrap();
    assert_eq!(
        store.account_by_feed(&hash).await.unwrap().map(|a| a.name),
        Some("ann".into())
    );
    assert_eq!(store.account_by_feed(&"00".repeat(32)).await.unwrap(), None);
    assert!(store.remove_account("Ann").await.unwrap());
    assert_eq!(
        store.account_by_feed(&hash).await.unwrap(),
        None,
        "gone with the account"
    );
    assert!(!store.remove_account("ann").await.unwrap(), "removed once");
    assert_eq!(store.account("ann").await.unwrap(), None);
    assert_eq!(store.accounts().await.unwrap().len(), 1);
}

/// A batch that asks for it renews its run's lease in its own transaction:
/// another run asking after the first lease would have ended still finds
/// the mailbox held, until the renewed end.
async fn a_batch_renews_its_runs_lease(store: Arc<dyn Replica>) {
    // As in the lease case above: a store with its own clock is tested in
    // real time, with short leases.
    let own_clock = store.keeps_lease_time();
    let start = Utc::now();
    let (now, ttl, renewed_at, renewed_ttl, asked_at) = if own_clock {
        let s = |n: i64| TimeDelta::milliseconds(n);
        (
            start,
            s(2_000),
            start + s(1_200),
            s(4_000),
            start + s(3_000),
        )
    } else {
        let m = TimeDelta::minutes;
        (start, m(10), start + m(8), m(10), start + m(12))
    };
    let (a, b) = (TaskId::from("a"), TaskId::from("b"));
    assert_eq!(lease(&*store, &a, "run-a", now, ttl).await, Lease::Acquired);
    let until_real = |at: DateTime<Utc>| async move {
        if let (true, Ok(wait)) = (own_clock, (at - Utc::now()).to_std()) {
            tokio::time::sleep(wait).await;
        }
    };
    until_real(renewed_at).await;
    let mut renewing = owned("s1", "run-a", vec![single("x", "X", 1)]);
    renewing.renew_lease = Some((renewed_at, renewed_ttl));
    store.apply(renewing).await.unwrap();
    until_real(asked_at).await;
    let asked = lease(&*store, &b, "run-b", asked_at, ttl).await;
    assert_held(asked, &a, renewed_at + renewed_ttl, own_clock);
}

/// `lease` is held by `task` until `until` (within two seconds on a store
/// that keeps lease time by its own clock, which the test cannot set).
fn assert_held(lease: Lease, task: &TaskId, until: DateTime<Utc>, own_clock: bool) {
    match lease {
        Lease::HeldBy {
            task: by,
            until: to,
        } => {
            assert_eq!(&by, task);
            let off = (to - until).num_seconds().abs();
            assert!(
                off <= i64::from(own_clock) * 2,
                "held until {to}, not {until}"
            );
        }
        other => panic!("a held lease was given away: {other:?}"),
    }
}

/// A run that paused past its lease, and woke after another run took the
/// mailbox over, must not write: its batch names it as the owner, and the
/// store refuses it whole.
async fn a_batch_from_a_run_that_lost_its_lease_is_refused(store: Arc<dyn Replica>) {
    let now = Utc::now();
    let ttl = TimeDelta::minutes(10);
    let (a, b) = (TaskId::from("a"), TaskId::from("b"));
    assert_eq!(lease(&*store, &a, "run-a", now, ttl).await, Lease::Acquired);
    store
        .apply(owned("s1", "run-a", vec![single("x", "X", 1)]))
        .await
        .unwrap();
    // run-a's lease passes to run-b (here released and taken; a takeover
    // after expiry leaves the store in the same state).
    store
        .release_lease(&mailbox(), "run-a", None)
        .await
        .unwrap();
    let refused = store
        .apply(owned("s2", "run-a", vec![single("y", "Y", 2)]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            calrep_core::replica::ReplicaError::LeaseLost { .. }
        ),
        "a released lease: {refused}"
    );
    assert_eq!(lease(&*store, &b, "run-b", now, ttl).await, Lease::Acquired);
    let refused = store
        .apply(owned("s2", "run-a", vec![single("y", "Y", 2)]))
        .await
        .unwrap_err();
    match refused {
        calrep_core::replica::ReplicaError::LeaseLost { holder, task, .. } => {
            assert_eq!((holder.as_str(), task.as_str()), ("run-b", "b"));
        }
        other => panic!("not refused as a lost lease: {other}"),
    }
    // Nothing of the refused batches was written.
    assert_eq!(
        ids(&store.items(&mailbox(), &calendar()).await.unwrap()),
        ["x"]
    );
    assert_eq!(
        store.sync_state(&key()).await.unwrap().state,
        Some(SyncState::new("s1"))
    );
    // The holder writes; a batch naming no owner is not checked.
    store
        .apply(owned("s3", "run-b", vec![single("z", "Z", 3)]))
        .await
        .unwrap();
    store
        .apply(batch("s4", FullSync::No, vec![single("w", "W", 4)]))
        .await
        .unwrap();
    assert_eq!(
        ids(&store.items(&mailbox(), &calendar()).await.unwrap()),
        ["w", "x", "z"]
    );
}
