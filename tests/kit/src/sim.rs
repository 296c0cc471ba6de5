//! A demo organisation served by the EWS simulator on 127.0.0.1, and what a
//! test needs to build engines against it: the runtime, a folder holding
//! the simulator's secrets, configurations and engines over an in-memory
//! replica. Shared by the simulator and hostile-server tests.

use std::path::PathBuf;
use std::sync::Arc;

use calrep_core::EmailAddress;
use calrep_core::calendar::{CalendarId, CalendarItem, ItemId};
use calrep_core::demo::DemoOrganisation;
use calrep_core::engine::{Engine, MailboxOutcome, RunOptions, RunReport};
use calrep_core::mailbox::Mailbox;
use calrep_core::replica::{Replica, ReplicaReader, SqliteReplica};
use calrep_core::sim::{SimOptions, Simulator};
use calrep_core::sources::Sources;
use calrep_core::{Config, ManualClock};

/// A simulator serving a generated organisation; its folder is removed on
/// drop.
#[derive(Debug)]
pub struct SimFixture {
    /// The runtime the simulator and the engines run on.
    pub rt: tokio::runtime::Runtime,
    /// The organisation served.
    pub demo: DemoOrganisation,
    /// The simulator.
    pub sim: Simulator,
    /// Holds `password`, `wrong-password` and `app-secret`; configurations
    /// start their relative paths here.
    pub dir: PathBuf,
}

impl SimFixture {
    /// `mailboxes` mailboxes (seed 42) served with `options`; `name` keeps
    /// the folders of concurrent tests apart.
    ///
    /// # Panics
    ///
    /// If the runtime, the simulator or the folder cannot be made.
    pub fn new(name: &str, mailboxes: usize, options: SimOptions) -> Self {
        Self::with_seed(name, 42, mailboxes, options)
    }

    /// As [`Self::new`], the organisation generated from `seed`.
    ///
    /// # Panics
    ///
    /// If the runtime, the simulator or the folder cannot be made.
    #[allow(clippy::expect_used)]
    pub fn with_seed(name: &str, seed: u64, mailboxes: usize, options: SimOptions) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let demo = DemoOrganisation::generate(seed, mailboxes, 0);
        let sim = rt
            .block_on(Simulator::start_demo(&demo, options))
            .expect("simulator");
        let dir = std::env::temp_dir().join(format!("calrep-sim-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("folder");
        for (file, content) in [
            ("password", SimOptions::PASSWORD),
            ("wrong-password", "not-the-password"),
            ("app-secret", SimOptions::CLIENT_SECRET),
        ] {
            std::fs::write(dir.join(file), content).expect("secret file");
        }
        Self { rt, demo, sim, dir }
    }

    /// A configuration whose site reads `url` with `ews` (the inside of the
    /// `[sites.ews]` table, after small batches and pages) and whose task
    /// takes every mailbox through `ExpandDL` of All Staff; `engine` lines
    /// are appended to its `[engine]` table.
    ///
    /// # Panics
    ///
    /// If the text is not a valid configuration (a bug in the test).
    #[allow(clippy::expect_used)]
    pub fn config(&self, url: &str, ews: &str, engine: &str) -> Config {
        let ews = format!("batch_size = 7\nmax_changes = 9\n{ews}");
        let text = format!("{}{engine}\n", crate::ews::config_text(url, &ews, 4));
        let mut config = Config::parse(&text, "sim.toml").expect("valid configuration");
        config.base_dir = self.dir.clone();
        config
    }

    /// An engine over `config`, an in-memory replica and a clock stopped
    /// at 2026-11-20.
    ///
    /// # Panics
    ///
    /// If the in-memory replica cannot be made.
    #[allow(clippy::expect_used)]
    pub fn engine(&self, config: Config) -> (Engine, Arc<SqliteReplica>) {
        let replica = Arc::new(SqliteReplica::open_in_memory().expect("replica"));
        (self.engine_over(config, replica.clone()), replica)
    }

    /// An engine over `config` and an existing `replica` (another
    /// configuration's engine wrote it), the clock as [`Self::engine`]'s.
    ///
    /// # Panics
    ///
    /// Never: the clock's time is a constant.
    #[allow(clippy::expect_used)]
    pub fn engine_over(&self, config: Config, replica: Arc<SqliteReplica>) -> Engine {
        let clock = ManualClock::new("2026-11-20T00:00:00Z".parse().expect("time"));
        let sources = Sources::from_config(&config);
        Engine::new(config, replica as Arc<dyn Replica>, Arc::new(clock)).with_sources(sources)
    }
}

impl SimFixture {
    /// Runs the task of [`crate::ews::TASK`] once.
    ///
    /// # Panics
    ///
    /// If the task cannot start (a bug in the test's configuration).
    #[allow(clippy::expect_used)]
    pub fn run(&self, engine: &Engine) -> RunReport {
        self.rt
            .block_on(engine.run_task(&crate::ews::TASK.into(), RunOptions::default()))
            .expect("the task runs")
    }

    /// `verify` finds the replica equal to the source.
    ///
    /// # Panics
    ///
    /// If it does not, or cannot run.
    #[allow(clippy::expect_used)]
    pub fn verify_equal(&self, engine: &Engine) {
        let report = self
            .rt
            .block_on(engine.verify(&crate::ews::TASK.into()))
            .expect("verify runs");
        assert!(
            report.is_equal(),
            "verify found {} differences",
            report.difference_count()
        );
    }

    /// Every mailbox's replica equals the source item for item, modified
    /// occurrences' own ids and subjects included, under the ids the
    /// simulator's face shows (`shown`: the EWS face shows the source's own
    /// ids, the Graph face [`calrep_core::sim::graph_id`]s); mailboxes in
    /// `absent` (skipped by the resolver) have no calendars at all. The
    /// zone's `resolved_by` says how a reader found the zone, which the
    /// source never recorded. Returns how many items were compared.
    ///
    /// # Panics
    ///
    /// On the first difference.
    #[allow(clippy::expect_used)]
    pub fn assert_replica_equals_source(
        &self,
        replica: &SqliteReplica,
        shown: fn(&str) -> String,
        absent: &[EmailAddress],
    ) -> usize {
        let mut compared = 0;
        for address in &self.demo.addresses {
            if absent.contains(address) {
                let calendars = crate::fixture::block(replica.calendars(address)).expect("read");
                assert!(calendars.is_empty(), "{address} should not be replicated");
                continue;
            }
            compared += self.assert_mailbox_equals_source(replica, shown, address);
        }
        compared
    }

    /// One mailbox's replica equals its source under the ids a face shows;
    /// returns how many items were compared.
    ///
    /// # Panics
    ///
    /// If it does not, or cannot be read.
    #[allow(clippy::expect_used)]
    pub fn assert_mailbox_equals_source(
        &self,
        replica: &SqliteReplica,
        shown: fn(&str) -> String,
        address: &EmailAddress,
    ) -> usize {
        let mut compared = 0;
        let mailbox = self.demo.source.mailbox(address);
        for calendar in self.rt.block_on(mailbox.calendars()).expect("calendars") {
            let mut source: Vec<CalendarItem> = mailbox
                .items_of(&calendar.id)
                .into_iter()
                .map(|item| as_shown(item, shown))
                .collect();
            let stored_calendar = CalendarId::new(shown(calendar.id.as_str()));
            let mut stored: Vec<CalendarItem> =
                crate::fixture::block(replica.items(address, &stored_calendar))
                    .expect("read")
                    .into_iter()
                    .map(|mut i| {
                        i.zone.resolved_by = None;
                        i
                    })
                    .collect();
            source.sort_by(|a, b| a.id.cmp(&b.id));
            stored.sort_by(|a, b| a.id.cmp(&b.id));
            assert_eq!(stored, source, "{address} {}", calendar.id);
            compared += source.len();
        }
        compared
    }
}

/// A source item under the ids a simulator face shows (the Graph face:
/// [`calrep_core::sim::graph_id`] of the EWS face's ids).
pub fn as_shown(mut item: CalendarItem, shown: fn(&str) -> String) -> CalendarItem {
    item.id = ItemId::new(shown(item.id.as_str()));
    if let Some(rec) = &mut item.recurrence {
        for m in &mut rec.modified {
            m.item = m.item.as_ref().map(|i| ItemId::new(shown(i.as_str())));
        }
    }
    for a in &mut item.attachments {
        a.id = shown(&a.id);
    }
    item
}

/// What became of `address` in a run.
///
/// # Panics
///
/// If the run did not take it.
#[allow(clippy::panic)]
pub fn outcome<'a>(report: &'a RunReport, address: &str) -> &'a MailboxOutcome {
    &report
        .mailboxes
        .iter()
        .find(|m| m.address.eq_ignore_ascii_case(address))
        .unwrap_or_else(|| panic!("{address} not in {}", report.to_json()))
        .outcome
}

/// Why `address` failed in a run.
///
/// # Panics
///
/// If it did not fail.
#[allow(clippy::panic)]
pub fn failure(report: &RunReport, address: &str) -> String {
    match outcome(report, address) {
        MailboxOutcome::Failed { error } => error.clone(),
        other => panic!("{address}: {other:?}\n{}", report.to_json()),
    }
}

/// How many mailboxes of a run replicated in full.
pub fn healthy(report: &RunReport) -> usize {
    report
        .mailboxes
        .iter()
        .filter(|m| matches!(m.outcome, MailboxOutcome::Healthy))
        .count()
}

/// The mailboxes of a run that failed, each as "address: outcome".
pub fn failed(report: &RunReport) -> Vec<String> {
    report
        .mailboxes
        .iter()
        .filter(|m| matches!(m.outcome, MailboxOutcome::Failed { .. }))
        .map(|m| format!("{}: {:?}", m.address, m.outcome))
        .collect()
}

/// Every mailbox but `except` replicated or was skipped by the resolver.
///
/// # Panics
///
/// On the first that did neither.
pub fn others_healthy(report: &RunReport, except: &str) {
    for m in &report.mailboxes {
        if !m.address.eq_ignore_ascii_case(except) {
            assert!(
                matches!(
                    m.outcome,
                    MailboxOutcome::Healthy | MailboxOutcome::Skipped { .. }
                ),
                "{}: {:?}",
                m.address,
                m.outcome
            );
        }
    }
}

impl Drop for SimFixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
