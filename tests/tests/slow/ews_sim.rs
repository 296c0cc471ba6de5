//! The engine against the EWS simulator over real HTTP on 127.0.0.1: the
//! whole path (reqwest, SOAP, the simulator's hyper server, the replica)
//! for full and incremental runs, resyncs, throttling storms, faults in the
//! middle of batches, refused impersonation, OAuth and bad credentials.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use calrep_core::calendar::ModifiedOccurrence;
use calrep_core::demo::DemoOrganisation;
use calrep_core::engine::{Engine, RunOptions, RunReport, TaskStatus};
use calrep_core::replica::{ReplicaReader, SqliteReplica};
use calrep_core::sim::{Fault, FaultRule, SimOptions};
use calrep_core::{Config, EmailAddress};
use calrep_testkit::fixture::block;

use calrep_testkit::ews::{TASK, basic_account};
use calrep_testkit::sim::{SimFixture, failed, failure, healthy, others_healthy};

/// The shared simulator fixture, with the assertions these tests make.
struct Fixture(SimFixture);

impl std::ops::Deref for Fixture {
    type Target = SimFixture;
    fn deref(&self) -> &SimFixture {
        &self.0
    }
}

impl Fixture {
    fn new(name: &str, mailboxes: usize, options: SimOptions) -> Self {
        Self(SimFixture::new(&format!("ews-{name}"), mailboxes, options))
    }

    /// A configuration whose site reads the simulator directly with `ews`
    /// (the inside of the `[sites.ews]` table).
    fn config(&self, ews: &str) -> Config {
        let ews = format!("timeout_seconds = 2\n{ews}");
        self.0.config(&self.sim.url(), &ews, "")
    }

    fn basic(&self) -> Config {
        self.config(&basic_account())
    }
}

/// Every mailbox succeeded. (The demo directory has a cycle and a mail
/// contact, which the resolver skips with a warning.)
fn assert_all_replicated(report: &RunReport) {
    others_healthy(report, "");
    assert_eq!(
        report.status,
        TaskStatus::EnabledWithWarning,
        "{}",
        report.to_json()
    );
}

#[test]
fn the_engine_replicates_the_organisation_over_http_exactly() {
    let f = Fixture::new("exact", 24, SimOptions::default());
    let (engine, replica) = f.engine(f.basic());
    let first = f.run(&engine);
    assert_all_replicated(&first);
    // ExpandDL found every mailbox through nested groups.
    assert_eq!(healthy(&first), 24);
    let compared = f.assert_replica_equals_source(&replica, str::to_owned, &[]);
    assert!(compared > 100, "only {compared} items");

    // People change their calendars; occurrence edits and deletions arrive
    // as updates of their series, as on Exchange.
    let changes = f.demo.apply_changes(1);
    assert!(changes > 0);
    let requests_before = f.sim.requests().get("GetItem").copied().unwrap_or(0);
    let second = f.run(&engine);
    assert_all_replicated(&second);
    f.assert_replica_equals_source(&replica, str::to_owned, &[]);
    let fetched = f.sim.requests()["GetItem"] - requests_before;
    let first_fetches = requests_before;
    assert!(
        fetched < first_fetches,
        "the incremental run fetched {fetched} batches, the full one {first_fetches}"
    );
    // A moved occurrence with its own subject came through the occurrence's
    // own GetItem.
    let moved_with_subject = f
        .demo
        .addresses
        .iter()
        .flat_map(|a| block(replica.items(a, &"calendar".into())).unwrap())
        .filter_map(|i| i.recurrence)
        .flat_map(|r| r.modified)
        .filter(|m| m.subject.as_deref().is_some_and(|s| s.ends_with("(moved)")))
        .count();
    assert!(moved_with_subject > 0);
    f.verify_equal(&engine);
}

#[test]
fn an_invalid_sync_state_resyncs_and_reconciles() {
    let f = Fixture::new("resync", 10, SimOptions::default());
    let (engine, replica) = f.engine(f.basic());
    f.run(&engine);
    let address = &f.demo.addresses[0];
    let mailbox = f.demo.source.mailbox(address);
    let calendar = "calendar".into();
    let gone = mailbox.items_of(&calendar)[0].id.clone();
    assert!(mailbox.delete_item(&calendar, &gone));
    mailbox.invalidate_states();
    let report = f.run(&engine);
    assert_all_replicated(&report);
    assert!(
        block(replica.items(address, &calendar))
            .unwrap()
            .iter()
            .all(|i| i.id != gone)
    );
    f.assert_replica_equals_source(&replica, str::to_owned, &[]);
}

#[test]
fn a_throttling_storm_is_waited_out_and_nothing_is_lost() {
    let mut options = SimOptions::default();
    options.faults = vec![
        FaultRule::new(Fault::ServerBusy { back_off_ms: 40 })
            .operation("GetItem")
            .skip(3)
            .times(6),
        FaultRule::new(Fault::ServerBusy { back_off_ms: 25 })
            .operation("SyncFolderItems")
            .times(4),
        FaultRule::new(Fault::Unavailable {
            retry_after_seconds: 1,
        })
        .operation("GetFolder")
        .times(1),
    ];
    let f = Fixture::new("throttle", 12, options);
    let (engine, replica) = f.engine(f.basic());
    let report = f.run(&engine);
    assert_all_replicated(&report);
    assert!(report.retries >= 11, "{} retries", report.retries);
    // Each wait was at least what the server asked for.
    assert!(
        report.throttled_ms >= 6 * 40 + 4 * 25 + 1000,
        "{}",
        report.throttled_ms
    );
    assert!(f.sim.faults().iter().all(|r| r.fired() == r.times.unwrap()));
    f.assert_replica_equals_source(&replica, str::to_owned, &[]);
}

#[test]
fn faults_in_the_middle_of_batches_lose_nothing_and_duplicate_nothing() {
    let mut options = SimOptions::default();
    options.faults = vec![
        // Retried transparently: a dropped connection and a stalled body
        // (the client's 2 s timeout gives up on it).
        FaultRule::new(Fault::ConnectionReset)
            .operation("GetItem")
            .skip(4)
            .times(2),
        FaultRule::new(Fault::StalledBody)
            .operation("SyncFolderItems")
            .skip(6)
            .times(1),
        // Not retryable: the mailbox that meets them fails alone.
        FaultRule::new(Fault::InternalError)
            .operation("GetItem")
            .skip(10)
            .times(1),
        FaultRule::new(Fault::TruncatedBody)
            .operation("GetItem")
            .skip(20)
            .times(1),
        // Exchange's "too big a batch": the client halves it and goes on.
        FaultRule::new(Fault::TimeoutExpired)
            .operation("GetItem")
            .skip(30)
            .times(1),
    ];
    let f = Fixture::new("faults", 16, options);
    let (engine, replica) = f.engine(f.basic());
    let first = f.run(&engine);
    let failed = failed(&first);
    assert!((1..=2).contains(&failed.len()), "{}", first.to_json());
    assert_eq!(healthy(&first) + failed.len(), 16, "{}", first.to_json());
    let json = first.to_json();
    assert!(
        json.contains("ErrorInternalServerError") || json.contains("unreadable body"),
        "{json}"
    );
    assert!(
        f.sim
            .faults()
            .iter()
            .all(|r| r.fired() == 1 || r.fired() == 2)
    );

    // The next run finishes the failed mailboxes from where they stopped.
    let second = f.run(&engine);
    assert_all_replicated(&second);
    f.assert_replica_equals_source(&replica, str::to_owned, &[]);
    f.verify_equal(&engine);
}

#[test]
fn impersonation_refused_for_one_mailbox_fails_that_mailbox_alone() {
    let f0 = DemoOrganisation::generate(42, 10, 0);
    let refused: EmailAddress = f0.addresses[2].clone();
    let mut options = SimOptions::default();
    options.accounts[0].out_of_scope = vec![refused.clone()];
    let f = Fixture::new("scope", 10, options);
    let (engine, _) = f.engine(f.basic());
    let report = f.run(&engine);
    assert_eq!(
        report.status,
        TaskStatus::EnabledWithErrors,
        "{}",
        report.to_json()
    );
    let reason = failure(&report, refused.as_str());
    assert!(
        reason.contains("access to mailbox") && reason.contains(refused.as_str()),
        "{reason}"
    );
    others_healthy(&report, refused.as_str());
}

#[test]
fn oauth_client_credentials_get_one_token_for_the_whole_run() {
    let f = Fixture::new("oauth", 10, SimOptions::default());
    let oauth = |secret_file: &str| {
        f.config(&format!(
            "username = \"{user}\"\noauth = {{ tenant = \"contoso.onmicrosoft.com\", client_id = \"{id}\", secret_file = \"{secret_file}\", token_url = \"{url}\" }}",
            user = SimOptions::USERNAME,
            id = SimOptions::CLIENT_ID,
            url = f.sim.token_url(),
        ))
    };
    let (engine, replica) = f.engine(oauth("app-secret"));
    let report = f.run(&engine);
    assert_all_replicated(&report);
    assert_eq!(f.sim.requests()["token"], 1);
    f.assert_replica_equals_source(&replica, str::to_owned, &[]);

    // A wrong secret: every mailbox fails with Entra's reason, and the
    // secret appears nowhere.
    let (engine, _) = f.engine(oauth("wrong-password"));
    let report = self::run_err(&f, &engine);
    assert!(report.contains("invalid_client"), "{report}");
    assert!(!report.contains("not-the-password"));
}

/// The run's report or error, as text.
fn run_err(f: &Fixture, engine: &Engine) -> String {
    match f
        .rt
        .block_on(engine.run_task(&TASK.into(), RunOptions::default()))
    {
        Ok(r) => r.to_json(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_wrong_password_is_a_plain_error_that_never_shows_the_password() {
    let f = Fixture::new("password", 10, SimOptions::default());
    let config = f.config(&format!(
        "username = \"{}\"\npassword_file = \"wrong-password\"",
        SimOptions::USERNAME
    ));
    let (engine, _) = f.engine(config);
    let text = run_err(&f, &engine);
    assert!(text.contains("HTTP 401") || text.contains("401"), "{text}");
    assert!(!text.contains("not-the-password"), "{text}");
    assert_eq!(f.sim.requests().get("GetItem"), None);
}

#[test]
fn an_edited_occurrence_arrives_as_an_update_of_its_series() {
    let f = Fixture::new("occurrence", 10, SimOptions::default());
    let (engine, replica) = f.engine(f.basic());
    f.run(&engine);
    let address = &f.demo.addresses[1];
    let mailbox = f.demo.source.mailbox(address);
    let calendar = "calendar".into();
    let mut series = mailbox
        .items_of(&calendar)
        .into_iter()
        .find(|i| {
            i.recurrence.is_some()
                && matches!(i.time, calrep_core::calendar::ItemTime::Timed { .. })
        })
        .expect("a timed series");
    let occurrence = series
        .occurrences(
            "2026-11-01T00:00:00Z".parse().unwrap(),
            "2027-03-01T00:00:00Z".parse().unwrap(),
        )
        .unwrap()[1];
    let mut edit = ModifiedOccurrence::moved(
        occurrence.original_start,
        occurrence.start + chrono::TimeDelta::hours(1),
        occurrence.end + chrono::TimeDelta::hours(1),
    );
    edit.item = Some("edited-occurrence".into());
    edit.location = Some("Room 9".into());
    series.recurrence.as_mut().unwrap().modified.push(edit);
    mailbox.put_item(&calendar, series.clone());
    let report = f.run(&engine);
    let mine = report
        .mailboxes
        .iter()
        .find(|m| m.address == address.as_str())
        .unwrap();
    assert_eq!(mine.counts.items_updated, 1, "{}", report.to_json());
    let stored = block(replica.items(address, &calendar))
        .unwrap()
        .into_iter()
        .find(|i| i.id == series.id)
        .unwrap();
    let modified = &stored.recurrence.unwrap().modified;
    assert!(
        modified
            .iter()
            .any(|m| m.location.as_deref() == Some("Room 9"))
    );
}

/// A "Default" definition asks for the default calendar alone (GetFolder)
/// and lists the folder hierarchy only for a mailbox whose replica holds
/// another calendar — the one case where the list can change the replica,
/// by showing that calendar gone at the source.
#[test]
fn a_default_only_task_lists_the_folder_hierarchy_only_when_it_can_matter() {
    let f = Fixture::new("default-only", 10, SimOptions::default());
    let all = f.basic();
    let (engine, replica) = f.engine(all);
    assert_all_replicated(&f.run(&engine));
    let calendars = |address: &EmailAddress| block(replica.calendars(address)).unwrap();
    let with_team: Vec<EmailAddress> = f
        .demo
        .addresses
        .iter()
        .filter(|a| calendars(a).len() > 1)
        .cloned()
        .collect();
    assert!(
        !with_team.is_empty() && with_team.len() < f.demo.addresses.len(),
        "the demo gives some mailboxes a second calendar: {with_team:?}"
    );

    // The same task, its definition now taking the default calendar only.
    let text = calrep_testkit::ews::config_text(
        &f.sim.url(),
        &format!(
            "batch_size = 7\nmax_changes = 9\ntimeout_seconds = 2\n{}",
            basic_account()
        ),
        4,
    );
    let default_only = text.replace("include = \"all\"", "include = \"default\"");
    assert_ne!(text, default_only, "the kit's definition changed its form");
    let mut config = Config::parse(&default_only, "sim.toml").unwrap();
    config.base_dir = f.dir.clone();
    let engine = f.engine_over(config, replica.clone());
    let asked = |operation: &str| f.sim.requests().get(operation).copied().unwrap_or(0);
    let count = |run: &dyn Fn()| {
        let (folders, hierarchy) = (asked("GetFolder"), asked("SyncFolderHierarchy"));
        run();
        (
            asked("GetFolder") - folders,
            asked("SyncFolderHierarchy") - hierarchy,
        )
    };
    let mailboxes = f.demo.addresses.len() as u64;
    let run = || assert_all_replicated(&f.run(&engine));
    // Stored team calendars still at the source: listed, and kept.
    assert_eq!(count(&run), (mailboxes, with_team.len() as u64));
    assert!(with_team.iter().all(|a| calendars(a).len() == 2));

    // One team calendar removed at the source leaves the replica.
    let gone = &with_team[0];
    f.demo.source.mailbox(gone).remove_calendar(&"team".into());
    assert_eq!(count(&run), (mailboxes, with_team.len() as u64));
    assert_eq!(calendars(gone).len(), 1);

    // From then on that mailbox costs one request for its folders.
    assert_eq!(count(&run), (mailboxes, with_team.len() as u64 - 1));
    f.assert_replica_equals_source(&replica, str::to_owned, &[]);
}

/// A configuration whose pages are as large as EWS allows (the fixture's
/// are small, to test paging): a demo calendar is one page, one chunk.
fn whole_pages(f: &Fixture) -> Config {
    let text = calrep_testkit::ews::config_text(
        &f.sim.url(),
        &format!(
            "max_changes = 512\ntimeout_seconds = 2\n{}",
            basic_account()
        ),
        4,
    );
    let mut config = Config::parse(&text, "sim.toml").unwrap();
    config.base_dir = f.dir.clone();
    config
}

/// Checks that every attachment of the source is stored with the source's
/// content; returns how many calendars have attachments, and how many
/// attachments there are.
fn assert_attachments_equal_source(f: &Fixture, replica: &SqliteReplica) -> (u64, usize) {
    use calrep_core::mailbox::Mailbox;
    let (mut calendars_with, mut files) = (0, 0);
    for address in &f.demo.addresses {
        let mailbox = f.demo.source.mailbox(address);
        for calendar in block(mailbox.calendars()).unwrap() {
            let items = mailbox.items_of(&calendar.id);
            // The engine fetches (and downloads for) 50 items at a time.
            assert!(items.len() <= 50, "{address}: {} items", items.len());
            let stored = block(replica.attachment_refs(address, &calendar.id)).unwrap();
            let mut here = 0;
            for item in &items {
                for attachment in &item.attachments {
                    here += 1;
                    let source = block(mailbox.attachment(&item.id, &attachment.id, u64::MAX))
                        .unwrap()
                        .expect("the source holds the content");
                    let sha = stored
                        .iter()
                        .find(|(i, a, _)| *i == item.id && *a == attachment.id)
                        .and_then(|(_, _, sha)| sha.clone())
                        .unwrap_or_else(|| panic!("{}: {} not stored", item.id, attachment.id));
                    let content = block(replica.attachment(&sha)).unwrap();
                    assert!(
                        content.as_deref() == Some(source.as_slice()),
                        "{}",
                        attachment.id
                    );
                }
            }
            files += here;
            calendars_with += u64::from(here > 0);
        }
    }
    (calendars_with, files)
}

/// The attachments of a fetched chunk of items come in one `GetAttachment`
/// (EWS takes several ids), not one request each: with every calendar in
/// one page and one chunk, one request per calendar that has attachments,
/// and each stored content is the source's.
#[test]
fn a_chunks_attachments_come_in_one_request() {
    let f = Fixture::new("attachments-at-once", 10, SimOptions::default());
    let (engine, replica) = f.engine(whole_pages(&f));
    let asked = || f.sim.requests().get("GetAttachment").copied().unwrap_or(0);
    assert_all_replicated(&f.run(&engine));
    let (calendars_with, files) = assert_attachments_equal_source(&f, &replica);
    assert!(
        files > calendars_with as usize,
        "the demo gives a calendar several attachments ({files} in {calendars_with} calendars)"
    );
    assert_eq!(asked(), calendars_with);

    // Nothing changed: nothing is downloaded again.
    assert_all_replicated(&f.run(&engine));
    assert_eq!(asked(), calendars_with);
}

/// A server that understates attachments' sizes makes the answer for
/// several outgrow its bound: calrep stops reading it and asks for each
/// attachment alone, under the definition's cap, as before batching.
#[test]
fn attachments_larger_than_declared_are_asked_again_one_at_a_time() {
    let f = Fixture::new("attachments-understated", 4, SimOptions::default());
    let address = &f.demo.addresses[0];
    let mailbox = f.demo.source.mailbox(address);
    let calendar = calrep_core::calendar::CalendarId::new("calendar");
    let mut understated = 0;
    for item in mailbox.items_of(&calendar) {
        for attachment in &item.attachments {
            // Declared 64 bytes; 300 KB (400 KB of base64) each.
            assert!(attachment.size < 1024);
            let content = format!("{} ", attachment.id).repeat(60_000).into_bytes();
            mailbox.put_attachment(&item.id, &attachment.id, content[..300_000].to_vec());
            understated += 1;
        }
    }
    assert!(understated > 1, "{understated}");
    let (engine, replica) = f.engine(whole_pages(&f));
    let report = f.run(&engine);
    assert_all_replicated(&report);
    assert!(!report.to_json().contains("larger than the definition"));
    let (calendars_with, _) = assert_attachments_equal_source(&f, &replica);
    let asked = f.sim.requests().get("GetAttachment").copied().unwrap_or(0);
    assert_eq!(asked, calendars_with + understated);
}
