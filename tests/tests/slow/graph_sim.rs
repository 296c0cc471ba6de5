//! The engine against the simulator's Microsoft Graph face over real HTTP
//! on 127.0.0.1: the same organisation the EWS tests read, replicated
//! through calendarView/delta and master fetches — exact replicas, changes,
//! resyncs, throttling, refused mailboxes, certificate sign-in, what an EWS
//! site is told once Exchange Online switches EWS off, and a replica read
//! over EWS moved to Graph ids without being read again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use calrep_core::calendar::CalendarId;
use calrep_core::engine::RunReport;
use calrep_core::graph::{GraphSource, MoveReport, move_from_ews};
use calrep_core::replica::{ReplicaReader, SqliteReplica};
use calrep_core::sim::{Fault, FaultRule, SimApp, SimOptions, graph_id};
use calrep_core::{Config, EmailAddress};
use calrep_testkit::fixture::block;
use calrep_testkit::graph::{config_text, secret_app};
use calrep_testkit::sim::{SimFixture, failed, failure, healthy};

/// The simulator fixture, and the demo mailboxes the directory marks
/// disabled or unlicensed: Graph's `transitiveMembers` reports those
/// flags (EWS's `ExpandDL` cannot), so the resolver skips them.
struct Fixture(SimFixture, Vec<EmailAddress>);

impl std::ops::Deref for Fixture {
    type Target = SimFixture;
    fn deref(&self) -> &SimFixture {
        &self.0
    }
}

impl Fixture {
    fn new(name: &str, mailboxes: usize, options: SimOptions) -> Self {
        let base = SimFixture::new(&format!("graph-{name}"), mailboxes, options);
        let directory = std::sync::Arc::new(base.demo.directory().unwrap());
        let resolver = calrep_core::group::GroupResolver::new(
            Some(directory),
            std::sync::Arc::new(calrep_core::SystemClock),
        );
        let all = calrep_core::group::Group::DistributionGroup(
            calrep_core::demo::DemoOrganisation::ALL_STAFF_ADDRESS
                .parse()
                .unwrap(),
        );
        let resolution = base.rt.block_on(resolver.resolve(&all)).unwrap();
        let skipped = base
            .demo
            .addresses
            .iter()
            .filter(|a| resolution.skipped.iter().any(|s| s.entry == a.as_str()))
            .cloned()
            .collect();
        Self(base, skipped)
    }

    /// A configuration whose `[sites.graph]` holds `graph` lines.
    fn config(&self, graph: &str) -> Config {
        let text = config_text(
            &self.sim,
            &format!("timeout_seconds = 2\npage_size = 9\n{graph}"),
            4,
        );
        let mut config = Config::parse(&text, "graph.toml").unwrap();
        config.base_dir = self.dir.clone();
        config
    }

    /// Every replicated mailbox equals the source under the ids Graph
    /// shows; the skipped ones are absent.
    fn assert_replica_equals_source(&self, replica: &SqliteReplica) -> usize {
        self.0
            .assert_replica_equals_source(replica, graph_id, &self.1)
    }

    /// A replica of every demo mailbox read over the simulator's EWS face.
    fn replicate_over_ews(&self) -> Arc<SqliteReplica> {
        let ews = self.0.config(
            &self.sim.url(),
            &format!(
                "timeout_seconds = 2\n{}",
                calrep_testkit::ews::basic_account()
            ),
            "",
        );
        let (engine, replica) = self.engine(ews);
        assert_eq!(failed(&self.run(&engine)), Vec::<String>::new());
        replica
    }

    /// `replica` moved to the Graph ids of `graph`'s site.
    fn move_to_graph(&self, graph: &Config, replica: &SqliteReplica) -> MoveReport {
        let source = GraphSource::from_site(&graph.sites[0], &self.dir).unwrap();
        self.rt
            .block_on(move_from_ews(&source, replica, &graph.sites[0].id, 4))
            .unwrap()
    }

    /// How many demo mailboxes a Graph site replicates.
    fn replicated(&self) -> usize {
        self.demo.addresses.len() - self.1.len()
    }
}

/// How many mailboxes replicated, and which failed.
fn outcomes(report: &RunReport) -> (usize, Vec<String>) {
    (healthy(report), failed(report))
}

#[test]
fn a_graph_site_replicates_the_organisation_exactly_and_then_only_its_changes() {
    let f = Fixture::new("exact", 16, SimOptions::default());
    let (engine, replica) = f.engine(f.config(&secret_app()));
    let first = f.run(&engine);
    // transitiveMembers found every mailbox through the nested groups; the
    // disabled and unlicensed ones are skipped with their reasons.
    assert!(f.replicated() < 16);
    assert_eq!(
        outcomes(&first),
        (f.replicated(), vec![]),
        "{}",
        first.to_json()
    );
    let compared = f.assert_replica_equals_source(&replica);
    assert!(compared > 100, "only {compared} items");
    f.verify_equal(&engine);
    let requests = f.sim.requests();
    assert!(
        requests.get("graph.batch").copied().unwrap_or(0) > 0,
        "{requests:?}"
    );

    // Moved and deleted occurrences arrive through their series' masters.
    assert!(f.demo.apply_changes(1) > 0);
    let events_before = f.sim.requests().get("graph.batch").copied().unwrap_or(0);
    let second = f.run(&engine);
    assert_eq!(outcomes(&second).1, Vec::<String>::new());
    f.assert_replica_equals_source(&replica);
    let fetched = f.sim.requests()["graph.batch"] - events_before;
    assert!(
        fetched < events_before,
        "incremental fetched {fetched} batches, full {events_before}"
    );
    let written: u64 = second
        .mailboxes
        .iter()
        .map(|m| m.counts.items_updated + m.counts.items_created)
        .sum();
    assert!(written > 0, "{}", second.to_json());
    f.verify_equal(&engine);
}

#[test]
fn an_expired_delta_token_resyncs_and_reconciles() {
    let f = Fixture::new("resync", 10, SimOptions::default());
    let (engine, replica) = f.engine(f.config(&secret_app()));
    f.run(&engine);
    let address = &f.demo.addresses[0];
    let mailbox = f.demo.source.mailbox(address);
    let calendar = CalendarId::new("calendar");
    let gone = mailbox.items_of(&calendar)[0].id.clone();
    assert!(mailbox.delete_item(&calendar, &gone));
    mailbox.invalidate_states();
    let report = f.run(&engine);
    assert_eq!(outcomes(&report).1, Vec::<String>::new());
    assert!(
        report
            .mailboxes
            .iter()
            .any(|m| m.warnings.iter().any(|w| w.contains("resynchronised")))
    );
    let graph_calendar = CalendarId::new(graph_id("calendar"));
    assert!(
        block(replica.items(address, &graph_calendar))
            .unwrap()
            .iter()
            .all(|i| i.id.as_str() != graph_id(gone.as_str()))
    );
    f.assert_replica_equals_source(&replica);
}

#[test]
fn throttling_and_the_mailbox_concurrency_limit_fail_no_mailbox() {
    let mut options = SimOptions::default();
    options.faults = vec![
        FaultRule::new(Fault::ServerBusy { back_off_ms: 900 })
            .operation("graph.batch")
            .skip(3)
            .times(5),
        FaultRule::new(Fault::Unavailable {
            retry_after_seconds: 1,
        })
        .operation("graph.delta")
        .times(3),
        FaultRule::new(Fault::InternalError)
            .operation("graph.calendars")
            .times(1),
    ];
    let f = Fixture::new("throttle", 12, options);
    // A site allowing far more than four requests at once: the mailbox's
    // own limit keeps each mailbox at four.
    let (engine, replica) = f.engine(f.config(&format!("{}\nconcurrency = 64", secret_app())));
    let report = f.run(&engine);
    let (healthy, failed) = outcomes(&report);
    let replicated = f.replicated();
    // The internal error fails its one mailbox; everything else succeeds.
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(healthy, replicated - 1);
    assert!(report.retries >= 8, "{} retries", report.retries);
    let again = f.run(&engine);
    assert_eq!(outcomes(&again), (replicated, vec![]));
    f.assert_replica_equals_source(&replica);
}

#[test]
fn faults_in_the_middle_of_batches_lose_nothing_and_duplicate_nothing() {
    let mut options = SimOptions::default();
    options.faults = vec![
        // Retried transparently: a dropped connection and a stalled body
        // (the client's 2 s timeout gives up on it).
        FaultRule::new(Fault::ConnectionReset)
            .operation("graph.batch")
            .skip(4)
            .times(2),
        FaultRule::new(Fault::StalledBody)
            .operation("graph.delta")
            .skip(6)
            .times(1),
        // Not retryable: the mailbox that meets them fails alone.
        FaultRule::new(Fault::InternalError)
            .operation("graph.batch")
            .skip(10)
            .times(1),
        FaultRule::new(Fault::TruncatedBody)
            .operation("graph.batch")
            .skip(20)
            .times(1),
    ];
    let f = Fixture::new("faults", 16, options);
    let (engine, replica) = f.engine(f.config(&secret_app()));
    let first = f.run(&engine);
    let (healthy, failed) = outcomes(&first);
    assert!((1..=2).contains(&failed.len()), "{}", first.to_json());
    assert_eq!(
        healthy + failed.len(),
        f.replicated(),
        "{}",
        first.to_json()
    );
    assert!(
        f.sim
            .faults()
            .iter()
            .all(|r| r.fired() == 1 || r.fired() == 2),
        "every fault fired"
    );
    // What the failed mailboxes wrote before the fault stays, with the
    // state that goes with it: the next run finishes them.
    let second = f.run(&engine);
    assert_eq!(
        outcomes(&second),
        (f.replicated(), vec![]),
        "{}",
        second.to_json()
    );
    f.assert_replica_equals_source(&replica);
    f.verify_equal(&engine);
}

#[test]
fn refused_mailboxes_fail_alone_with_what_to_do() {
    let demo = calrep_core::demo::DemoOrganisation::generate(42, 10, 0);
    let (denied, no_rest): (EmailAddress, EmailAddress) =
        (demo.addresses[1].clone(), demo.addresses[2].clone());
    let mut options = SimOptions::default();
    options.graph_denied = vec![denied.clone()];
    options.graph_no_rest = vec![no_rest.clone()];
    let f = Fixture::new("refused", 10, options);
    let (engine, _replica) = f.engine(f.config(&secret_app()));
    let report = f.run(&engine);
    let (denied, no_rest) = (
        failure(&report, denied.as_str()),
        failure(&report, no_rest.as_str()),
    );
    assert!(denied.contains("RBAC for Applications"), "{denied}");
    assert!(no_rest.contains("MailboxNotEnabledForRESTAPI"), "{no_rest}");
    assert_eq!(outcomes(&report).0, f.replicated() - 2);
}

#[test]
fn a_certificate_signs_in_and_a_wrong_secret_never_appears_anywhere() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../calrep-core/tests/data");
    let credential = calrep_core::graph::CertificateCredential::load(
        format!("{data}/graph-app.crt").as_ref(),
        format!("{data}/graph-app.key").as_ref(),
    )
    .unwrap();
    let client = "0b7c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d";
    let mut options = SimOptions::default();
    options
        .apps
        .push(SimApp::with_certificate(client, &credential));
    let f = Fixture::new("certificate", 10, options);
    let (engine, replica) = f.engine(f.config(&format!(
        "client_id = \"{client}\"\ncertificate_file = \"{data}/graph-app.crt\"\nprivate_key_file = \"{data}/graph-app.key\""
    )));
    assert_eq!(outcomes(&f.run(&engine)), (f.replicated(), vec![]));
    f.assert_replica_equals_source(&replica);

    // The certificate of another app is refused; a wrong secret is never
    // printed in the report.
    std::fs::write(f.dir.join("bad-secret"), "hunter2-wrong-secret").unwrap();
    let (engine, _) = f.engine(f.config(&format!(
        "client_id = \"{}\"\nsecret_file = \"bad-secret\"",
        calrep_core::sim::SimOptions::CLIENT_ID
    )));
    let report = f.run(&engine);
    let json = report.to_json();
    assert!(json.contains("invalid_client"), "{json}");
    assert!(!json.contains("hunter2"), "{json}");
}

#[test]
fn an_ews_site_refused_by_exchange_online_says_to_move_to_graph() {
    let mut options = SimOptions::default();
    options.ews_disabled = true;
    let f = Fixture::new("ews-off", 10, options);
    // A mailbox list: the directory would need EWS too.
    let text =
        calrep_testkit::ews::config_text(&f.sim.url(), &calrep_testkit::ews::basic_account(), 2)
            .replace("directory = \"exchange\"\n", "");
    let group = format!(
        "{{ distribution_group = \"{}\" }}",
        calrep_core::demo::DemoOrganisation::ALL_STAFF_ADDRESS
    );
    let text = text.replace(
        &group,
        &format!("{{ mailbox = \"{}\" }}", f.demo.addresses[0]),
    );
    let mut config = Config::parse(&text, "ews.toml").unwrap();
    config.base_dir = f.dir.clone();
    let (engine, _) = f.engine(config);
    let report = f.run(&engine);
    let json = report.to_json();
    assert!(
        json.contains("EWSAllowedAppIDs") && json.contains("[graph]"),
        "{json}"
    );
    assert!(f.sim.requests().get("ews_disabled").copied().unwrap_or(0) > 0);
}

#[test]
fn a_replica_read_over_ews_moves_to_graph_and_its_first_graph_run_writes_nothing() {
    let f = Fixture::new("move", 12, SimOptions::default());
    let replica = f.replicate_over_ews();
    let stored_before = count_items(&f, &replica);
    let attachments_before = f.sim.requests().get("attachment").copied().unwrap_or(0)
        + f.sim
            .requests()
            .get("graph.attachment")
            .copied()
            .unwrap_or(0);

    let graph = f.config(&secret_app());
    let report = f.move_to_graph(&graph, &replica);
    assert_eq!(report.failed(), 0, "{report:?}");
    assert_eq!(report.mailboxes.len(), f.demo.addresses.len());
    let renamed: u64 = report.mailboxes.iter().map(|m| m.rekeyed.items).sum();
    assert_eq!(renamed as usize, stored_before, "every stored item renamed");
    assert!(
        report.mailboxes.iter().any(|m| m.rekeyed.attachments > 0),
        "{report:?}"
    );
    assert_eq!(
        f.sim.requests().get("graph.delta").copied().unwrap_or(0),
        0,
        "the move reads no calendar"
    );

    // The first Graph run: a full sync that finds everything in place.
    let graph_engine = f.engine_over(graph.clone(), replica.clone());
    let second = f.run(&graph_engine);
    assert_eq!(
        failed(&second),
        Vec::<String>::new(),
        "{}",
        second.to_json()
    );
    for m in &second.mailboxes {
        let c = &m.counts;
        assert_eq!(
            (
                c.items_created,
                c.items_updated,
                c.items_deleted,
                c.attachment_bytes
            ),
            (0, 0, 0, 0),
            "{}: {}",
            m.address,
            second.to_json()
        );
    }
    let downloads = f
        .sim
        .requests()
        .get("graph.attachment")
        .copied()
        .unwrap_or(0);
    assert_eq!(
        downloads, 0,
        "no attachment read again (EWS read {attachments_before})"
    );
    // Every mailbox EWS replicated is keyed as Graph shows it, including
    // those the Graph directory skips (disabled, unlicensed): they keep
    // their replica.
    f.0.assert_replica_equals_source(&replica, graph_id, &[]);
    f.verify_equal(&graph_engine);

    // Then only changes are applied.
    let changed = f.demo.apply_changes(1);
    assert!(changed > 0);
    let third = f.run(&graph_engine);
    assert_eq!(failed(&third), Vec::<String>::new());
    let written: u64 = third
        .mailboxes
        .iter()
        .map(|m| m.counts.items_created + m.counts.items_updated + m.counts.items_deleted)
        .sum();
    assert!(
        written > 0 && written as usize <= 3 * changed,
        "{written} writes for {changed} changes"
    );
    for address in f.demo.addresses.iter().filter(|a| !f.1.contains(a)) {
        f.assert_mailbox_equals_source(&replica, graph_id, address);
    }
    f.verify_equal(&graph_engine);

    // A second move finds nothing left on EWS ids.
    let again = f.move_to_graph(&graph, &replica);
    assert!(again.mailboxes.is_empty(), "{again:?}");
}

#[test]
fn a_mailbox_graph_refuses_or_a_run_holds_is_left_as_it_was_and_the_rest_move() {
    let demo = calrep_core::demo::DemoOrganisation::generate(42, 6, 0);
    let (denied, busy) = (demo.addresses[1].clone(), demo.addresses[2].clone());
    let mut options = SimOptions::default();
    options.graph_denied = vec![denied.clone()];
    let f = Fixture::new("move-refused", 6, options);
    let replica = f.replicate_over_ews();
    let untouched = |address: &EmailAddress| {
        let calendars = block(replica.calendar_ids(address)).unwrap();
        calendars
            .iter()
            .flat_map(|c| block(replica.items(address, c)).unwrap())
            .map(|i| i.id.to_string())
            .collect::<Vec<_>>()
    };
    let (denied_before, busy_before) = (untouched(&denied), untouched(&busy));
    let now = chrono::Utc::now();
    block(calrep_core::replica::ReplicaWriter::acquire_lease(
        replica.as_ref(),
        &busy,
        &"everyone".into(),
        "another-host",
        now,
        chrono::TimeDelta::minutes(5),
    ))
    .unwrap();

    let report = f.move_to_graph(&f.config(&secret_app()), &replica);
    assert_eq!(report.failed(), 2, "{report:?}");
    let error = |address: &EmailAddress| {
        let m = report
            .mailboxes
            .iter()
            .find(|m| m.mailbox == address.as_str())
            .unwrap();
        m.error.clone().unwrap_or_default()
    };
    assert!(
        error(&denied).contains("RBAC for Applications"),
        "{}",
        error(&denied)
    );
    assert!(
        error(&busy).contains("task everyone is replicating it"),
        "{}",
        error(&busy)
    );
    assert_eq!(untouched(&denied), denied_before);
    assert_eq!(untouched(&busy), busy_before);
    for m in report.mailboxes.iter().filter(|m| m.error.is_none()) {
        assert!(m.rekeyed.items > 0, "{m:?}");
    }
}

fn count_items(f: &Fixture, replica: &SqliteReplica) -> usize {
    f.demo
        .addresses
        .iter()
        .map(|a| {
            let calendars = block(replica.calendar_ids(a)).unwrap();
            calendars
                .iter()
                .map(|c| block(replica.items(a, c)).unwrap().len())
                .sum::<usize>()
        })
        .sum()
}
