//! The replication engine end to end over the in-memory source and a real
//! SQLite replica: full and incremental runs, leases, per-task state,
//! resyncs, the mass-delete guard, throttling, failures, definitions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use calrep_core::Clock;
use calrep_core::calendar::{CalendarId, CalendarItem, ModifiedOccurrence};
use calrep_core::engine::{Engine, MailboxOutcome, RunOptions, TaskStatus};
use calrep_core::mailbox::{MailboxError, MemoryMailbox, MemoryOrganisation};
use calrep_core::replica::{Replica, ReplicaReader, ReplicaWriter, SqliteReplica};
use calrep_testkit::fixture::block;
use calrep_testkit::fixture::{
    self, addr, config, engine, mailbox, private, single, weekly, with_attachment,
};
use chrono::{DateTime, Utc};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn run(
    engine: &calrep_core::engine::Engine,
    task: &str,
    force: bool,
) -> calrep_core::engine::RunReport {
    let mut options = RunOptions::default();
    options.force = force;
    rt().block_on(engine.run_task(&task.into(), options))
        .unwrap()
}

/// The replica holds exactly the source's items.
fn assert_replica_equals_source(
    replica: &SqliteReplica,
    mailbox: &MemoryMailbox,
    cal: &CalendarId,
    address: &str,
) {
    let stored = block(replica.items(&addr(address), cal)).unwrap();
    let source = mailbox.items_of(cal);
    assert_eq!(
        stored, source,
        "replica of {address} differs from the source"
    );
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// At the source: series w1 loses its 8 June occurrence, and its 15 June
/// one moves to 16 June 12:00.
fn delete_and_move_occurrences(mailbox: &MemoryMailbox, cal: &CalendarId) {
    let mut series = mailbox.item(cal, &"w1".into()).unwrap();
    let rec = series.recurrence.as_mut().unwrap();
    rec.deleted.push(t("2026-06-08T08:00:00Z"));
    rec.modified.push(ModifiedOccurrence::moved(
        t("2026-06-15T08:00:00Z"),
        t("2026-06-16T12:00:00Z"),
        t("2026-06-16T12:30:00Z"),
    ));
    mailbox.put_item(cal, series);
}

#[test]
fn full_then_incremental_replication_mirrors_the_source() {
    let org = Arc::new(MemoryOrganisation::new());
    let items: Vec<CalendarItem> = (0..7)
        .map(|i| single(&format!("s{i}"), &format!("Meeting {i}"), i))
        .chain([weekly("w1", "Standup", 10)])
        .collect();
    let (alice, cal) = mailbox(&org, "alice@example.com", items);
    let (engine, replica, _) = engine(
        config(&[("t", "default", r#"{ mailbox = "alice@example.com" }"#)]),
        org,
    );

    let first = run(&engine, "t", false);
    assert_eq!(first.status, TaskStatus::Enabled, "{}", first.to_json());
    assert_eq!(first.totals.items_created, 8);
    assert_eq!(first.totals.occurrences_created, 7 + 10);
    assert_replica_equals_source(&replica, &alice, &cal, "alice@example.com");

    // Nothing changed: nothing written.
    let idle = run(&engine, "t", false);
    assert!(idle.totals.is_empty(), "{:?}", idle.totals);

    // Delete one item, edit one, move and delete occurrences of the series.
    alice.delete_item(&cal, &"s0".into());
    let mut edited = alice.item(&cal, &"s1".into()).unwrap();
    edited.subject = "Renamed".into();
    alice.put_item(&cal, edited);
    delete_and_move_occurrences(&alice, &cal);
    let second = run(&engine, "t", false);
    assert_eq!(
        (
            second.totals.items_created,
            second.totals.items_updated,
            second.totals.items_deleted
        ),
        (0, 2, 1)
    );
    assert_replica_equals_source(&replica, &alice, &cal, "alice@example.com");

    // Readers see occurrences in a window, moved and deleted ones applied.
    let week = block(replica.occurrences(
        &addr("alice@example.com"),
        t("2026-06-08T00:00:00Z"),
        t("2026-06-17T00:00:00Z"),
    ))
    .unwrap();
    let starts: Vec<String> = week
        .iter()
        .map(|o| o.occurrence.start.to_rfc3339())
        .collect();
    assert!(
        !starts.iter().any(|s| s.starts_with("2026-06-08T08")),
        "deleted occurrence shown: {starts:?}"
    );
    assert!(
        starts.contains(&"2026-06-16T12:00:00+00:00".to_owned()),
        "{starts:?}"
    );
    assert!(
        !starts.contains(&"2026-06-15T08:00:00+00:00".to_owned()),
        "{starts:?}"
    );
}

#[test]
fn a_leased_mailbox_is_reported_locked_and_skipped() {
    let org = Arc::new(MemoryOrganisation::new());
    mailbox(&org, "alice@example.com", vec![single("a", "A", 0)]);
    mailbox(&org, "bob@example.com", vec![single("b", "B", 0)]);
    let (engine, replica, clock) = engine(
        config(&[(
            "t",
            "default",
            r#"{ mailboxes = ["alice@example.com", "bob@example.com"] }"#,
        )]),
        org,
    );
    block(replica.acquire_lease(
        &addr("bob@example.com"),
        &"other-task".into(),
        "someone-else",
        clock.now(),
        chrono::TimeDelta::minutes(5),
    ))
    .unwrap();
    let report = run(&engine, "t", false);
    assert_eq!(report.status, TaskStatus::EnabledWithWarning);
    assert_eq!(
        report.mailboxes[1].outcome,
        MailboxOutcome::Locked {
            task: "other-task".into()
        }
    );
    assert_eq!(report.mailboxes[0].outcome, MailboxOutcome::Healthy);
    // A crashed run's lease expires.
    clock.advance(chrono::TimeDelta::minutes(6));
    let report = run(&engine, "t", false);
    assert_eq!(report.status, TaskStatus::Enabled, "{}", report.to_json());
}

#[test]
fn another_task_starts_with_a_full_replication_without_duplicates() {
    let org = Arc::new(MemoryOrganisation::new());
    let (alice, cal) = mailbox(
        &org,
        "alice@example.com",
        (0..5).map(|i| single(&format!("s{i}"), "x", i)).collect(),
    );
    let group = r#"{ mailbox = "alice@example.com" }"#;
    let (engine, replica, _) = engine(
        config(&[("t1", "default", group), ("t2", "default", group)]),
        org,
    );
    run(&engine, "t1", false);
    let before = alice.requests();
    let second = run(&engine, "t2", false);
    // The second task reads everything again (its own state is empty)…
    assert!(
        alice.requests() - before >= 3,
        "a full read takes several requests"
    );
    // …but writes nothing, because the replica already holds it all.
    assert!(second.totals.is_empty(), "{:?}", second.totals);
    assert_replica_equals_source(&replica, &alice, &cal, "alice@example.com");
}

#[test]
fn an_invalid_sync_state_leads_to_a_resync_that_writes_only_differences() {
    let org = Arc::new(MemoryOrganisation::new());
    let (alice, cal) = mailbox(
        &org,
        "alice@example.com",
        (0..6).map(|i| single(&format!("s{i}"), "x", i)).collect(),
    );
    let (engine, replica, _) = engine(
        config(&[("t", "default", r#"{ mailbox = "alice@example.com" }"#)]),
        org,
    );
    run(&engine, "t", false);
    alice.delete_item(&cal, &"s2".into());
    alice.put_item(&cal, single("new", "New", 9));
    alice.invalidate_states();
    let report = run(&engine, "t", false);
    assert_eq!(report.status, TaskStatus::Enabled);
    assert!(
        report.mailboxes[0]
            .warnings
            .iter()
            .any(|w| w.contains("resynchronised"))
    );
    assert_eq!(
        (
            report.totals.items_created,
            report.totals.items_updated,
            report.totals.items_deleted
        ),
        (1, 0, 1)
    );
    assert_replica_equals_source(&replica, &alice, &cal, "alice@example.com");
}

#[test]
fn the_mass_delete_guard_keeps_the_replica_unless_forced() {
    let org = Arc::new(MemoryOrganisation::new());
    let (alice, cal) = mailbox(
        &org,
        "alice@example.com",
        (0..25)
            .map(|i| single(&format!("s{i:02}"), "x", i))
            .collect(),
    );
    let (engine, replica, _) = engine(
        config(&[("t", "default", r#"{ mailbox = "alice@example.com" }"#)]),
        org,
    );
    run(&engine, "t", false);
    // The source suddenly shows an empty calendar after losing its state.
    for item in alice.items_of(&cal) {
        alice.delete_item(&cal, &item.id);
    }
    alice.invalidate_states();
    let report = run(&engine, "t", false);
    assert!(
        matches!(&report.mailboxes[0].outcome, MailboxOutcome::NeedsAttention { reason } if reason.contains("25 items")),
        "{}",
        report.to_json()
    );
    assert_eq!(report.status, TaskStatus::EnabledWithWarning);
    assert_eq!(
        block(replica.items(&addr("alice@example.com"), &cal))
            .unwrap()
            .len(),
        25
    );
    // Still guarded on the next run.
    let again = run(&engine, "t", false);
    assert!(matches!(
        again.mailboxes[0].outcome,
        MailboxOutcome::NeedsAttention { .. }
    ));
    let forced = run(&engine, "t", true);
    assert_eq!(forced.mailboxes[0].outcome, MailboxOutcome::Healthy);
    assert_eq!(forced.totals.items_deleted, 25);
    assert_replica_equals_source(&replica, &alice, &cal, "alice@example.com");
}

#[test]
fn throttling_is_waited_out_and_failures_stay_with_their_mailbox() {
    let org = Arc::new(MemoryOrganisation::new());
    let (alice, _) = mailbox(&org, "alice@example.com", vec![single("a", "A", 0)]);
    let (bob, _) = mailbox(&org, "bob@example.com", vec![single("b", "B", 0)]);
    alice.inject_fault(MailboxError::Throttled {
        retry_after: Duration::from_millis(30),
    });
    alice.inject_fault(MailboxError::Transport("connection reset".into()));
    bob.inject_fault(MailboxError::AccessDenied("bob@example.com".into()));
    let (engine, _, _) = engine(
        config(&[(
            "t",
            "default",
            r#"{ mailboxes = ["alice@example.com", "bob@example.com", "carol@example.com"] }"#,
        )]),
        org,
    );
    let report = run(&engine, "t", false);
    let alice_report = &report.mailboxes[0];
    assert_eq!(alice_report.outcome, MailboxOutcome::Healthy);
    assert_eq!(alice_report.retries, 2);
    assert!(alice_report.throttled_ms >= 30);
    assert_eq!(
        report.mailboxes[1].outcome,
        MailboxOutcome::Failed {
            error: "access to mailbox bob@example.com denied".into()
        }
    );
    assert!(
        matches!(&report.mailboxes[2].outcome, MailboxOutcome::Failed { error } if error.contains("does not exist"))
    );
    assert_eq!(report.status, TaskStatus::EnabledWithErrors);
}

#[test]
fn definitions_shape_what_is_stored() {
    let org = Arc::new(MemoryOrganisation::new());
    let alice = org.mailbox(&addr("alice@example.com"));
    let cal = alice.add_calendar(calrep_core::calendar::CalendarInfo::new(
        "cal", "Calendar", true,
    ));
    let other = alice.add_calendar(calrep_core::calendar::CalendarInfo::new(
        "team", "Team", false,
    ));
    alice.put_item(&cal, private("p", 1));
    let small = with_attachment(&alice, single("s", "With agenda", 2), b"agenda");
    let big = with_attachment(&alice, single("b", "With a big file", 3), &[7u8; 5000]);
    alice.put_item(&cal, small);
    alice.put_item(&cal, big);
    alice.put_item(&other, single("o", "Team thing", 1));
    let group = r#"{ mailbox = "alice@example.com" }"#;
    let (engine, replica, _) = engine(
        config(&[
            ("masked", "all", group),
            ("skipping", "skip-private", group),
        ]),
        org,
    );
    let report = run(&engine, "masked", false);
    assert_eq!(report.status, TaskStatus::Enabled, "{}", report.to_json());
    let a = addr("alice@example.com");
    assert_eq!(
        block(replica.calendars(&a)).unwrap().len(),
        2,
        "definition 'all' takes every calendar"
    );
    let stored = block(replica.items(&a, &cal)).unwrap();
    let masked = stored.iter().find(|i| i.id.as_str() == "p").unwrap();
    assert_eq!(masked.subject, "Private appointment");
    assert!(masked.location.is_empty());
    // Only the attachment under the 1,000-byte cap was downloaded.
    assert_eq!(report.totals.attachment_bytes, 6);

    let org2 = Arc::new(MemoryOrganisation::new());
    let (bob, bob_cal) = mailbox(
        &org2,
        "bob@example.com",
        vec![private("p", 1), single("s", "Public", 2)],
    );
    let (engine, replica, _) = fixture::engine(
        config(&[(
            "skipping",
            "skip-private",
            r#"{ mailbox = "bob@example.com" }"#,
        )]),
        org2,
    );
    run(&engine, "skipping", false);
    let stored = block(replica.items(&addr("bob@example.com"), &bob_cal)).unwrap();
    assert_eq!(
        stored.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["s"]
    );
    let _ = bob;
}

#[test]
fn removed_calendars_leave_and_departed_mailboxes_freeze() {
    let org = Arc::new(MemoryOrganisation::new());
    let (alice, _) = mailbox(&org, "alice@example.com", vec![single("a", "A", 0)]);
    let team = alice.add_calendar(calrep_core::calendar::CalendarInfo::new(
        "team", "Team", false,
    ));
    alice.put_item(&team, single("t", "T", 0));
    mailbox(&org, "bob@example.com", vec![single("b", "B", 0)]);
    let (engine, replica, _) = engine(
        config(&[(
            "t",
            "all",
            r#"{ mailboxes = ["alice@example.com", "bob@example.com"] }"#,
        )]),
        org.clone(),
    );
    run(&engine, "t", false);
    assert_eq!(
        block(replica.calendars(&addr("alice@example.com")))
            .unwrap()
            .len(),
        2
    );
    alice.remove_calendar(&team);
    run(&engine, "t", false);
    assert_eq!(
        block(replica.calendars(&addr("alice@example.com")))
            .unwrap()
            .len(),
        1
    );

    // Bob leaves the group: his replica stays, frozen.
    let config_without_bob = config(&[("t", "all", r#"{ mailboxes = ["alice@example.com"] }"#)]);
    let engine = calrep_core::engine::Engine::new(
        config_without_bob,
        replica.clone() as Arc<dyn Replica>,
        Arc::new(calrep_core::SystemClock),
    )
    .with_source("hq".into(), org)
    .with_options(fixture::options());
    let report = run(&engine, "t", false);
    assert_eq!(report.frozen, ["bob@example.com"]);
    let bob = block(replica.mailboxes())
        .unwrap()
        .into_iter()
        .find(|m| m.address == "bob@example.com")
        .unwrap();
    assert!(
        bob.frozen
            .as_deref()
            .is_some_and(|r| r.contains("no longer in the group"))
    );
    assert_eq!(
        block(replica.items(&addr("bob@example.com"), &"cal".into()))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_replica_file_that_is_not_ours_is_refused() {
    let dir = std::env::temp_dir().join(format!("calrep-foreign-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("notes.txt");
    std::fs::write(&text, "just some text, not a database at all.................................................................................").unwrap();
    let err = SqliteReplica::open(&text).unwrap_err();
    assert!(err.to_string().contains("is not a calrep replica"), "{err}");
    let other = dir.join("other.db");
    foreign_sqlite_file(&other);
    let err = SqliteReplica::open(&other).unwrap_err();
    assert!(err.to_string().contains("is not a calrep replica"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Makes an SQLite database that belongs to another program: a calrep
/// replica whose header then gets another application id (offset 68).
fn foreign_sqlite_file(path: &std::path::Path) {
    drop(SqliteReplica::open(path).unwrap());
    let mut bytes = std::fs::read(path).unwrap();
    bytes[68..72].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn the_occurrence_horizon_rolls_forward_with_time() {
    let org = Arc::new(MemoryOrganisation::new());
    let mut series = weekly("w", "Forever", 1);
    // Make it endless.
    let rec = series.recurrence.as_mut().unwrap();
    rec.range =
        serde_json::from_value(serde_json::json!({"type": "no_end", "start_date": "2026-06-01"}))
            .unwrap();
    let (_alice, _) = mailbox(&org, "alice@example.com", vec![series]);
    let (engine, replica, clock) = engine(
        config(&[("t", "default", r#"{ mailbox = "alice@example.com" }"#)]),
        org,
    );
    run(&engine, "t", false);
    let a = addr("alice@example.com");
    let far = |from: &str, to: &str| {
        block(replica.occurrences(&a, t(from), t(to)))
            .unwrap()
            .len()
    };
    assert_eq!(
        far("2028-06-02T00:00:00Z", "2029-06-01T00:00:00Z"),
        0,
        "beyond the two-year horizon"
    );
    // 400 days later the horizon reaches further ahead, and drops what fell
    // more than a year behind.
    clock.advance(chrono::TimeDelta::days(400));
    let report = run(&engine, "t", false);
    assert_eq!(report.totals.items_updated, 0);
    assert!(
        report.totals.occurrences_created >= 50,
        "{:?}",
        report.totals
    );
    assert!(far("2028-06-02T00:00:00Z", "2029-06-01T00:00:00Z") >= 50);
    assert_eq!(
        far("2026-06-01T00:00:00Z", "2026-06-20T00:00:00Z"),
        0,
        "before the one-year-back horizon"
    );
}

/// What a [`Paging`] source makes of each page of changes: it gets the
/// state asked from and the in-memory mailbox's answer.
type PageRule = dyn Fn(
        Option<&calrep_core::mailbox::SyncState>,
        calrep_core::mailbox::ChangePage,
    ) -> Result<calrep_core::mailbox::ChangePage, MailboxError>
    + Send
    + Sync;

/// An in-memory mailbox, as a source, whose pages of changes pass through
/// a rule (listed twice, cut off half-way, …).
#[derive(Clone)]
struct Paging {
    mailbox: Arc<MemoryMailbox>,
    rule: Arc<PageRule>,
}

impl Paging {
    /// An engine that replicates through this source alone (site "hq")
    /// into `replica`.
    fn engine(self, config: calrep_core::Config, replica: &Arc<SqliteReplica>) -> Engine {
        Engine::new(
            config,
            replica.clone() as Arc<dyn Replica>,
            Arc::new(calrep_core::SystemClock),
        )
        .with_source("hq".into(), Arc::new(self))
        .with_options(fixture::options())
    }
}

impl std::fmt::Debug for Paging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paging")
            .field("mailbox", &self.mailbox)
            .finish()
    }
}

#[async_trait::async_trait]
impl calrep_core::mailbox::Mailbox for Paging {
    fn address(&self) -> &calrep_core::EmailAddress {
        self.mailbox.address()
    }
    async fn calendars(&self) -> Result<Vec<calrep_core::calendar::CalendarInfo>, MailboxError> {
        self.mailbox.calendars().await
    }
    async fn changes(
        &self,
        calendar: &CalendarId,
        state: Option<&calrep_core::mailbox::SyncState>,
        window: calrep_core::mailbox::Window,
        max: usize,
    ) -> Result<calrep_core::mailbox::ChangePage, MailboxError> {
        let page = self.mailbox.changes(calendar, state, window, max).await?;
        (self.rule)(state, page)
    }
    async fn items(
        &self,
        calendar: &CalendarId,
        ids: &[calrep_core::calendar::ItemId],
    ) -> Result<Vec<CalendarItem>, MailboxError> {
        self.mailbox.items(calendar, ids).await
    }
    async fn attachment(
        &self,
        item: &calrep_core::calendar::ItemId,
        id: &str,
        max: u64,
    ) -> Result<Option<Vec<u8>>, MailboxError> {
        self.mailbox.attachment(item, id, max).await
    }
}

#[async_trait::async_trait]
impl calrep_core::mailbox::MailboxSource for Paging {
    async fn open(
        &self,
        _: &calrep_core::EmailAddress,
    ) -> Result<Arc<dyn calrep_core::mailbox::Mailbox>, MailboxError> {
        Ok(Arc::new(self.clone()))
    }
}

#[test]
fn an_item_listed_twice_in_one_page_is_written_once() {
    let org = MemoryOrganisation::new();
    let (alice, cal) = mailbox(
        &org,
        "alice@example.com",
        (0..5).map(|i| single(&format!("s{i}"), "x", i)).collect(),
    );
    let replica = Arc::new(SqliteReplica::open_in_memory().unwrap());
    let engine = Paging {
        mailbox: alice.clone(),
        // Every changed item listed twice, as a server may list an item
        // created and then updated between two syncs.
        rule: Arc::new(|_, mut page| {
            page.changed = page
                .changed
                .iter()
                .flat_map(|id| [id.clone(), id.clone()])
                .collect();
            Ok(page)
        }),
    }
    .engine(
        config(&[("t", "default", r#"{ mailbox = "alice@example.com" }"#)]),
        &replica,
    );
    let report = run(&engine, "t", false);
    assert_eq!(
        report.mailboxes[0].outcome,
        MailboxOutcome::Healthy,
        "{}",
        report.to_json()
    );
    assert_eq!(report.totals.items_created, 5);
    assert_replica_equals_source(&replica, &alice, &cal, "alice@example.com");
}

#[test]
fn verify_names_the_occurrences_a_source_change_touches() {
    let org = Arc::new(MemoryOrganisation::new());
    let (alice, cal) = mailbox(&org, "alice@example.com", vec![weekly("w1", "Standup", 10)]);
    let (engine, _replica, _) = engine(
        config(&[("t", "default", r#"{ mailbox = "alice@example.com" }"#)]),
        org,
    );
    run(&engine, "t", false);
    let verify =
        |engine: &calrep_core::engine::Engine| rt().block_on(engine.verify(&"t".into())).unwrap();
    assert!(verify(&engine).is_equal());

    // At the source only: one occurrence deleted, another moved.
    delete_and_move_occurrences(&alice, &cal);
    let report = verify(&engine);
    let lines = &report.mailboxes[0].differences;
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines[0].contains("differs in modified_occurrences, deleted_occurrences"),
        "{lines:#?}"
    );
    assert!(
        lines[1].contains("2026-06-08T08:00:00+00:00") && lines[1].contains("removed"),
        "{lines:#?}"
    );
    assert!(
        lines[2].contains("moved from 2026-06-15T08:00:00+00:00 to 2026-06-16T12:00:00+00:00"),
        "{lines:#?}"
    );
}

#[test]
fn plan_predicts_the_item_and_occurrence_counts_of_the_run() {
    let org = Arc::new(MemoryOrganisation::new());
    let items: Vec<CalendarItem> = (0..3)
        .map(|i| single(&format!("s{i}"), &format!("Meeting {i}"), i))
        .chain([weekly("w1", "Standup", 10), weekly("w2", "Review", 6)])
        .collect();
    let (alice, cal) = mailbox(&org, "alice@example.com", items);
    let (engine, _replica, _) = engine(
        config(&[("t", "default", r#"{ mailbox = "alice@example.com" }"#)]),
        org,
    );
    let plan = |engine: &calrep_core::engine::Engine| {
        let mut options = RunOptions::default();
        options.dry_run = true;
        rt().block_on(engine.run_task(&"t".into(), options))
            .unwrap()
    };
    // First run: everything is new.
    let predicted = plan(&engine);
    let done = run(&engine, "t", false);
    assert_eq!(predicted.totals, done.totals);

    // A series shortened, one occurrence moved, one deleted, a series and a
    // single item removed.
    let mut w1 = alice.item(&cal, &"w1".into()).unwrap();
    let rec = w1.recurrence.as_mut().unwrap();
    rec.range = serde_json::from_value(serde_json::json!(
        {"type": "numbered", "start_date": "2026-06-01", "count": 7}))
    .unwrap();
    rec.deleted.push(t("2026-06-08T08:00:00Z"));
    rec.modified.push(ModifiedOccurrence::moved(
        t("2026-06-15T08:00:00Z"),
        t("2026-06-16T12:00:00Z"),
        t("2026-06-16T12:30:00Z"),
    ));
    alice.put_item(&cal, w1);
    alice.delete_item(&cal, &"w2".into());
    alice.delete_item(&cal, &"s0".into());
    let predicted = plan(&engine);
    let done = run(&engine, "t", false);
    assert_eq!(predicted.totals, done.totals);
    // 10 → 7 occurrences, one of them deleted: 4 gone; one moved; w2's 6 and s0's 1 gone.
    assert_eq!(
        (
            done.totals.occurrences_deleted,
            done.totals.occurrences_updated
        ),
        (4 + 6 + 1, 1)
    );
}

#[test]
fn a_plan_counts_the_calendars_a_run_would_remove() {
    let org = Arc::new(MemoryOrganisation::new());
    let (alice, _cal) = mailbox(
        &org,
        "alice@example.com",
        vec![single("s1", "One", 1), weekly("w1", "Standup", 2)],
    );
    let side = alice.add_calendar(calrep_core::calendar::CalendarInfo::new(
        "side", "Side", false,
    ));
    for i in 0..3 {
        alice.put_item(&side, single(&format!("x{i}"), "Side meeting", i));
    }
    let (engine, _replica, _) = engine(
        config(&[("t", "all", r#"{ mailbox = "alice@example.com" }"#)]),
        org.clone(),
    );
    run(&engine, "t", false);
    alice.remove_calendar(&side);
    let mut options = RunOptions::default();
    options.dry_run = true;
    let plan = rt()
        .block_on(engine.run_task(&"t".into(), options))
        .unwrap();
    let done = run(&engine, "t", false);
    assert_eq!(done.totals.items_deleted, 3);
    assert_eq!(plan.totals, done.totals, "the plan predicted the run");
}

#[test]
fn a_definitions_window_is_applied_and_moves_with_time() {
    let org = Arc::new(MemoryOrganisation::new());
    // 1 June 09:00 + day: inside the first window (31 May – 11 June) are
    // days 0 and 5; day 30 is not; the weekly series always is.
    let (_alice, cal) = mailbox(
        &org,
        "alice@example.com",
        vec![
            single("now", "Now", 0),
            single("soon", "Soon", 5),
            single("later", "Later", 30),
            weekly("w1", "Standup", 20),
        ],
    );
    let (engine, replica, clock) = engine(
        config(&[("t", "window", r#"{ mailbox = "alice@example.com" }"#)]),
        org.clone(),
    );
    let ids = |replica: &SqliteReplica| {
        let mut ids: Vec<String> = block(replica.items(&addr("alice@example.com"), &cal))
            .unwrap()
            .into_iter()
            .map(|i| i.id.to_string())
            .collect();
        ids.sort();
        ids
    };
    run(&engine, "t", false);
    assert_eq!(ids(&replica), ["now", "soon", "w1"]);
    assert!(
        rt().block_on(engine.verify(&"t".into()))
            .unwrap()
            .is_equal()
    );
    // 25 days later the window is 25 June – 6 July: "later" has entered it
    // without changing at the source, "now" and "soon" have left it.
    clock.advance(chrono::TimeDelta::days(25));
    let report = run(&engine, "t", false);
    assert_eq!(ids(&replica), ["later", "w1"], "{}", report.to_json());
    assert!(
        rt().block_on(engine.verify(&"t".into()))
            .unwrap()
            .is_equal()
    );
}

#[test]
fn a_changed_item_keeps_its_stored_attachments_without_downloading_them() {
    let org = Arc::new(MemoryOrganisation::new());
    let (alice, cal) = mailbox(&org, "alice@example.com", vec![]);
    let item = with_attachment(&alice, single("s", "With agenda", 2), b"agenda v1");
    alice.put_item(&cal, item.clone());
    let (engine, replica, _) = engine(
        config(&[("t", "all", r#"{ mailbox = "alice@example.com" }"#)]),
        org.clone(),
    );
    run(&engine, "t", false);
    // The item is retitled and its attachment keeps its id; the source's
    // bytes under that id are swapped, so a download would show.
    let mut changed = item;
    changed.subject = "With the agenda".into();
    changed.change_key = "2".into();
    alice.put_item(&cal, changed);
    alice.put_attachment(&"s".into(), "att-1", b"a download happened".to_vec());
    let report = run(&engine, "t", false);
    assert_eq!(report.totals.items_updated, 1, "{}", report.to_json());
    let refs = block(replica.attachment_refs(&addr("alice@example.com"), &cal)).unwrap();
    let sha = refs[0].2.clone().unwrap();
    assert_eq!(
        block(replica.attachment(&sha)).unwrap().unwrap(),
        b"agenda v1"
    );
}

/// An engine built from a configuration runs with its `[engine]` section:
/// here a page size of 1, so three items take three pages of changes
/// (the default page size reads them in one).
#[test]
fn the_configurations_engine_section_applies_to_its_engine() {
    let org = Arc::new(MemoryOrganisation::new());
    let items = (0..3)
        .map(|i| single(&format!("s{i}"), "Single", i))
        .collect();
    mailbox(&org, "alice@example.com", items);
    let config = |engine: &str| {
        calrep_testkit::config::ConfigBuilder::new()
            .ews_site("hq", "https://mail.example.com/EWS/Exchange.asmx")
            .definition("default", "")
            .daily_schedule("nightly", "UTC", "02:00")
            .task(
                "t",
                "hq",
                "default",
                "nightly",
                r#"{ mailbox = "alice@example.com" }"#,
            )
            .section(engine)
            .build()
    };
    let requests = |engine: &str| {
        let replica = Arc::new(SqliteReplica::open_in_memory().unwrap());
        let engine = calrep_core::engine::Engine::new(
            config(engine),
            replica as Arc<dyn Replica>,
            Arc::new(calrep_core::SystemClock),
        )
        .with_source("hq".into(), org.clone());
        let report = run(&engine, "t", false);
        assert_eq!(report.totals.items_created, 3, "{report:?}");
        report.requests
    };
    let (paged, whole) = (requests("[engine]\npage_size = 1"), requests(""));
    assert!(
        paged >= whole + 2,
        "page_size = 1 made {paged} requests, the default {whole}"
    );
}

/// Two tasks replicate one calendar. Task t1's full read dies after its
/// first page; t2 then reads the calendar in full; t1 resumes its open read
/// and finishes it. Every item of the source must still be in the replica.
#[test]
fn a_full_read_resumed_after_another_tasks_full_read_keeps_every_item() {
    let org = MemoryOrganisation::new();
    let (alice, cal) = mailbox(
        &org,
        "alice@example.com",
        (0..8).map(|i| single(&format!("s{i}"), "x", i)).collect(),
    );
    let armed = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let replica = Arc::new(SqliteReplica::open_in_memory().unwrap());
    let group = r#"{ mailbox = "alice@example.com" }"#;
    let engine = Paging {
        mailbox: alice.clone(),
        // While armed, every page after a first fails: the run dies
        // half-way through a full read.
        rule: {
            let armed = armed.clone();
            Arc::new(move |asked_from, page| {
                match asked_from.is_some() && armed.load(std::sync::atomic::Ordering::Relaxed) {
                    true => Err(MailboxError::Protocol("the run dies here".into())),
                    false => Ok(page),
                }
            })
        },
    }
    .engine(
        config(&[("t1", "default", group), ("t2", "default", group)]),
        &replica,
    );
    let died = run(&engine, "t1", false);
    assert!(
        matches!(died.mailboxes[0].outcome, MailboxOutcome::Failed { .. }),
        "{}",
        died.to_json()
    );
    armed.store(false, std::sync::atomic::Ordering::Relaxed);
    let other = run(&engine, "t2", false);
    assert_eq!(other.mailboxes[0].outcome, MailboxOutcome::Healthy);
    assert_replica_equals_source(&replica, &alice, &cal, "alice@example.com");
    let resumed = run(&engine, "t1", false);
    assert_eq!(resumed.mailboxes[0].outcome, MailboxOutcome::Healthy);
    assert_replica_equals_source(&replica, &alice, &cal, "alice@example.com");
}
