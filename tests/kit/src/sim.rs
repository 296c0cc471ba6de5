//! A demo organisation served by the EWS simulator on 127.0.0.1, and what a
//! test needs to build engines against it: the runtime, a folder holding
//! the simulator's secrets, configurations and engines over an in-memory
//! replica. Shared by the simulator and hostile-server tests.

use std::path::PathBuf;
use std::sync::Arc;

use calrep_core::demo::DemoOrganisation;
use calrep_core::engine::Engine;
use calrep_core::replica::{Replica, SqliteReplica};
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
    #[allow(clippy::expect_used)]
    pub fn new(name: &str, mailboxes: usize, options: SimOptions) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let demo = DemoOrganisation::generate(42, mailboxes, 0);
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
        let clock = ManualClock::new("2026-11-20T00:00:00Z".parse().expect("time"));
        let engine = {
            let sources = Sources::from_config(&config);
            Engine::new(config, replica.clone() as Arc<dyn Replica>, Arc::new(clock))
                .with_sources(sources)
        };
        (engine, replica)
    }
}

impl Drop for SimFixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
