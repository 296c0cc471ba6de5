//! The engine against the simulator's Microsoft Graph face over real HTTP
//! on 127.0.0.1: the same organisation the EWS tests read, replicated
//! through calendarView/delta and master fetches — exact replicas, changes,
//! resyncs, throttling, refused mailboxes, certificate sign-in, and what
//! an EWS site is told once Exchange Online switches EWS off.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use calrep_core::calendar::CalendarId;
use calrep_core::engine::RunReport;
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
