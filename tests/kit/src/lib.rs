//! calrep's test kit: what the integration tests and the benchmarks share.
//!
//! - [`fixture`]: small organisations and engines over them;
//! - [`config::ConfigBuilder`]: configurations without hand-written TOML;
//! - [`ews`] and [`sim`]: the EWS simulator serving a demo organisation;
//! - [`hostile`]: a proxy that misbehaves between calrep and a server;
//! - [`conformance`]: what every replica store must do, written once;
//! - [`run_oracle`]: the Python reference implementations.

pub mod config;
pub mod conformance;
pub mod ews;
pub mod graph;
pub mod hostile;
pub mod postgres;
pub mod sim;

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs one of the Python oracles in `tests/kit/oracle/` with `input` as JSON on
/// its standard input and returns its JSON output. The interpreter is
/// `python3`, or `CALREP_PYTHON` when set.
///
/// # Panics
///
/// When the interpreter cannot be started or the oracle fails: the test
/// that asked for it cannot go on.
#[allow(clippy::expect_used, clippy::panic)]
pub fn run_oracle(script: &str, input: &serde_json::Value) -> serde_json::Value {
    let python = std::env::var("CALREP_PYTHON").unwrap_or_else(|_| "python3".into());
    let path = format!("{}/oracle/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(&python)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python} {path}: {e}"));
    let payload = serde_json::to_vec(input).expect("JSON input");
    let mut stdin = child.stdin.take().expect("piped stdin");
    // Write from another thread so a large output cannot deadlock the pipe.
    let writer = std::thread::spawn(move || stdin.write_all(&payload));
    let output = child.wait_with_output().expect("oracle output");
    writer
        .join()
        .expect("writer thread")
        .expect("write to oracle");
    assert!(output.status.success(), "oracle {script} failed");
    serde_json::from_slice(&output.stdout).expect("oracle JSON")
}

/// Zones the differential tests draw from: daylight-saving changes at
/// different hours and on both hemispheres, midnight switches (Santiago,
/// Havana, Asunción), a half-hour DST (Lord Howe), 45-minute offsets
/// (Chatham), a date-line jump (Apia), none at all.
pub const DST_HEAVY_ZONES: &[&str] = &[
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "Pacific/Apia",
    "Asia/Kolkata",
    "Europe/London",
    "Pacific/Chatham",
    "America/Asuncion",
    "UTC",
];

/// A proptest runner seeded from `CALREP_SEED`, or from the clock (the
/// seed is printed either way, so a failing run can be replayed).
///
/// # Panics
///
/// If the clock is before 1970.
#[allow(clippy::expect_used)]
pub fn seeded_runner() -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let seed: u64 = std::env::var("CALREP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("a clock after 1970")
                .as_secs()
        });
    println!("seed {seed} (set CALREP_SEED to replay)");
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

pub mod fixture {
    //! Small organisations and configurations for engine tests.

    use std::sync::Arc;

    /// A multi-threaded runtime with two workers (as the machine has), time
    /// and I/O: for servers and engines under test.
    ///
    /// # Panics
    ///
    /// If the runtime cannot be built.
    #[allow(clippy::expect_used)]
    pub fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    }

    /// Runs a future to completion on a fresh current-thread runtime: for
    /// a test's direct reads of a replica.
    ///
    /// # Panics
    ///
    /// If the runtime cannot be built.
    #[allow(clippy::expect_used)]
    pub fn block<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    use calrep_core::calendar::{
        Attachment, CalendarId, CalendarInfo, CalendarItem, ItemTime, Recurrence, Sensitivity,
        ZoneInfo,
    };
    use calrep_core::engine::{Engine, EngineOptions};
    use calrep_core::mailbox::{MemoryMailbox, MemoryOrganisation};
    use calrep_core::replica::{Replica, SqliteReplica};
    use calrep_core::{Config, EmailAddress, ManualClock};

    /// A configuration with one site `hq`, definitions `default` (default
    /// calendar), `all` (all calendars, private masked) and `skip-private`,
    /// and one task per group given as (id, definition, group TOML).
    ///
    /// # Panics
    ///
    /// On an invalid configuration (a bug in the test).
    pub fn config(tasks: &[(&str, &str, &str)]) -> Config {
        let builder = crate::config::ConfigBuilder::new()
            .ews_site("hq", "https://mail.example.com/EWS/Exchange.asmx")
            .definition("default", "")
            .definition(
                "all",
                "include = \"all\"\nprivate_items = \"mask\"\nattachments = { enabled = true, max_bytes = 1000 }",
            )
            .definition("skip-private", "private_items = \"skip\"")
            .definition("window", "window = { days_back = 1, days_ahead = 10 }")
            .daily_schedule("nightly", "UTC", "02:00");
        tasks
            .iter()
            .fold(builder, |b, (id, definition, group)| {
                b.task(id, "hq", definition, "nightly", group)
            })
            .build()
    }

    /// An address.
    ///
    /// # Panics
    ///
    /// On an invalid address.
    #[allow(clippy::expect_used)]
    pub fn addr(s: &str) -> EmailAddress {
        s.parse().expect("address")
    }

    /// A timed single item starting `day` days after 2026-06-01 09:00 UTC.
    ///
    /// # Panics
    ///
    /// Never for sane input.
    #[allow(clippy::expect_used)]
    pub fn single(id: &str, subject: &str, day: i64) -> CalendarItem {
        let start = "2026-06-01T09:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .expect("time")
            + chrono::TimeDelta::days(day);
        let mut item = CalendarItem::new(
            id,
            format!("uid-{id}"),
            subject,
            ItemTime::Timed {
                start,
                end: start + chrono::TimeDelta::hours(1),
            },
        );
        item.change_key = "1".into();
        item
    }

    /// A weekly series (Mondays 10:00 Berlin) from 2026-06-01 with `count`
    /// occurrences.
    ///
    /// # Panics
    ///
    /// Never.
    #[allow(clippy::expect_used)]
    pub fn weekly(id: &str, subject: &str, count: u32) -> CalendarItem {
        let start = "2026-06-01T08:00:00Z".parse().expect("time");
        let mut item = CalendarItem::new(
            id,
            format!("uid-{id}"),
            subject,
            ItemTime::Timed {
                start,
                end: start + chrono::TimeDelta::minutes(30),
            },
        );
        item.zone = ZoneInfo::new("W. Europe Standard Time", "Europe/Berlin");
        let rec: Recurrence = serde_json::from_value(serde_json::json!({
            "pattern": {"type": "weekly", "interval": 1, "days": ["mon"], "first_day_of_week": "mon"},
            "range": {"type": "numbered", "start_date": "2026-06-01", "count": count},
        }))
        .expect("recurrence");
        item.recurrence = Some(rec);
        item
    }

    /// A private item.
    pub fn private(id: &str, day: i64) -> CalendarItem {
        let mut item = single(id, "Doctor", day);
        item.sensitivity = Sensitivity::Private;
        item.location = "Clinic".into();
        item
    }

    /// An item with an attachment whose content is stored in `mailbox`.
    pub fn with_attachment(
        mailbox: &MemoryMailbox,
        mut item: CalendarItem,
        content: &[u8],
    ) -> CalendarItem {
        item.attachments.push(Attachment::new(
            "att-1",
            "agenda.txt",
            "text/plain",
            content.len() as u64,
        ));
        mailbox.put_attachment(&item.id, "att-1", content.to_vec());
        item
    }

    /// A mailbox with a default calendar `cal` holding `items`.
    pub fn mailbox(
        org: &MemoryOrganisation,
        address: &str,
        items: Vec<CalendarItem>,
    ) -> (Arc<MemoryMailbox>, CalendarId) {
        let mailbox = org.mailbox(&addr(address));
        let cal = mailbox.add_calendar(CalendarInfo::new("cal", "Calendar", true));
        for item in items {
            mailbox.put_item(&cal, item);
        }
        (mailbox, cal)
    }

    /// Options fit for tests: no real waiting, small pages.
    pub fn options() -> EngineOptions {
        let mut o = EngineOptions::default();
        o.base_backoff = std::time::Duration::from_millis(1);
        o.page_size = 3;
        o.fetch_batch = 2;
        o
    }

    /// An engine over an in-memory replica, a manual clock at 2026-06-01
    /// and `source` for site `hq`, with `options`.
    ///
    /// # Panics
    ///
    /// If the in-memory database cannot be created.
    #[allow(clippy::expect_used)]
    pub fn engine_with_source(
        config: Config,
        source: Arc<dyn calrep_core::mailbox::MailboxSource>,
        options: EngineOptions,
    ) -> Engine {
        let replica = Arc::new(SqliteReplica::open_in_memory().expect("replica"));
        let clock = ManualClock::new("2026-06-01T00:00:00Z".parse().expect("time"));
        Engine::new(config, replica as Arc<dyn Replica>, Arc::new(clock))
            .with_source("hq".into(), source)
            .with_options(options)
    }

    /// An engine over an in-memory replica and a manual clock at 2026-06-01.
    ///
    /// # Panics
    ///
    /// If the in-memory database cannot be created.
    #[allow(clippy::expect_used)]
    pub fn engine(
        config: Config,
        org: Arc<MemoryOrganisation>,
    ) -> (Engine, Arc<SqliteReplica>, ManualClock) {
        let replica = Arc::new(SqliteReplica::open_in_memory().expect("replica"));
        let clock = ManualClock::new("2026-06-01T00:00:00Z".parse().expect("time"));
        let engine = Engine::new(
            config,
            replica.clone() as Arc<dyn Replica>,
            Arc::new(clock.clone()),
        )
        .with_source("hq".into(), org)
        .with_options(options());
        (engine, replica, clock)
    }
}
