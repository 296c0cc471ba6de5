//! # calrep-core
//!
//! A calendar replication engine: it keeps a read-only, always-current
//! replica of people's Exchange calendars — appointments with recurrence,
//! exceptions, deleted occurrences, time zones and attachments — so they can
//! be read when Exchange is down. It models what the Calendar Replication
//! feature of the Mimecast Synchronization Engine does: **sites** (where
//! mailboxes live), **definitions** (what to replicate), **schedules**
//! (when), **tasks** (a definition applied on a schedule to a **group** of
//! mailboxes), and incremental per-mailbox sync state.
//!
//! ## The three seams
//!
//! The engine sees only traits; each kind of part plugs in behind one.
//!
//! ```text
//!   sources::Sources ──▶ MailboxSource + Directory ──▶ Engine ──▶ ReplicaWriter ─┐
//!   (EWS, demo, yours)                                   │                       ├ SqliteReplica
//!                                                        ▼          ReplicaReader ┘  (or yours)
//!                                      every error: Classify ──▶ ErrorKind
//! ```
//!
//! - **Sources** — [`mailbox::MailboxSource`] opens mailboxes, a
//!   [`mailbox::Mailbox`] lists calendars and pages through their changes;
//!   a [`group::Directory`] expands groups. [`sources::Sources`] builds the
//!   ones a configuration asks for (EWS with a password, an OAuth client
//!   secret or the host's tokens; the demo organisation); a host may
//!   register its own with [`engine::Engine::with_source`].
//! - **Storage** — [`replica::ReplicaWriter`] is what the engine writes: each
//!   batch of changes *with* the sync state that follows it, atomically, so
//!   a crash loses and duplicates nothing. [`replica::ReplicaReader`] is what
//!   people's readers use: calendars, items, occurrences in a window,
//!   attachments, change numbers. [`replica::SqliteReplica`] is the embedded
//!   store; its readers never wait for its writer.
//! - **Errors** — every area has its own error type, and each says what
//!   [`ErrorKind`] of failure it is ([`Classify`]), so a binding maps kinds
//!   once instead of re-deciding what each error means.
//!
//! Around them: [`Config`] loads and checks a configuration (every problem
//! at once, each with its path); [`SchedulePlan`] computes when a
//! [`Schedule`] runs across daylight-saving changes; [`recur`] expands RFC
//! 5545 rules; [`calendar::CalendarDiff`] compares calendars occurrence by
//! occurrence; [`ical`] writes and reads iCalendar.
//!
//! ## Example: replicate, then read
//!
//! An organisation held in memory, one task, one run, then a reader's view
//! of the replica:
//!
//! ```
//! use std::sync::Arc;
//! use calrep_core::calendar::{CalendarInfo, CalendarItem, ItemTime};
//! use calrep_core::engine::{Engine, RunOptions};
//! use calrep_core::mailbox::MemoryOrganisation;
//! use calrep_core::replica::{ReplicaReader, SqliteReplica};
//! use calrep_core::{Config, SystemClock};
//!
//! let config = Config::parse(r#"
//!     [[sites]]
//!     id = "hq"
//!     ews = { url = "https://mail.example.com/EWS/Exchange.asmx", username = "svc", password_env = "PW" }
//!     [[definitions]]
//!     id = "default"
//!     [[schedules]]
//!     id = "nightly"
//!     time_zone = "W. Europe Standard Time"
//!     when.daily.once.start = "02:00"
//!     [[tasks]]
//!     id = "alice"
//!     site = "hq"
//!     definition = "default"
//!     schedule = "nightly"
//!     group = { mailbox = "alice@example.com" }
//! "#, "calrep.toml")?;
//!
//! // The source: here an organisation in memory instead of the site's server.
//! let org = Arc::new(MemoryOrganisation::new());
//! let alice = org.mailbox(&"alice@example.com".parse()?);
//! let calendar = alice.add_calendar(CalendarInfo::new("cal", "Calendar", true));
//! let time = ItemTime::Timed {
//!     start: "2026-12-01T09:00:00Z".parse()?,
//!     end: "2026-12-01T10:00:00Z".parse()?,
//! };
//! alice.put_item(&calendar, CalendarItem::new("1", "uid-1", "Planning", time));
//!
//! let replica = Arc::new(SqliteReplica::open_in_memory()?);
//! let engine = Engine::new(config, replica.clone(), Arc::new(SystemClock))
//!     .with_source("hq".into(), org);
//! # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
//! let report = engine.run_task(&"alice".into(), RunOptions::default()).await?;
//! assert_eq!(report.totals.items_created, 1);
//!
//! let december = replica
//!     .occurrences(&"alice@example.com".parse()?, "2026-12-01T00:00:00Z".parse()?, "2027-01-01T00:00:00Z".parse()?)
//!     .await?;
//! assert_eq!(december[0].subject, "Planning");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The engine is plain `async`: it needs a tokio runtime (the host's) and
//! reads no clock of its own ([`Clock`]).
//!
//! ## Crate features
//!
//! None is on by default: an embedder's build has the engine, the EWS client
//! and the SQLite store, and nothing that serves.
//!
//! - `sim`: the EWS simulator (an HTTP server on loopback), the demo
//!   organisation generator and fault injection — test and demo machinery.
//! - `cli`: the `calrep` command (clap, a multi-threaded tokio runtime;
//!   turns on `sim` for `calrep demo` and `calrep sim`).

#![forbid(unsafe_code)]

#[cfg(feature = "access")]
pub mod access;
mod address;
mod auth;
pub mod base64;
pub mod calendar;
mod clock;
mod config;
mod definition;
#[cfg(feature = "sim")]
pub mod demo;
mod document;
mod encoding;
pub mod engine;
mod error;
pub mod ews;
pub mod graph;
pub mod group;
mod http;
pub mod ical;
mod ids;
pub mod mailbox;
pub mod recur;
pub mod replica;
mod retry;
pub mod rfc3339;
pub mod schedule;
mod secret;
#[cfg(feature = "sim")]
pub mod sim;
mod site;
pub mod sources;
mod stop;
mod task;
pub mod tz;

pub use address::{DistinguishedName, EmailAddress, NameError};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    AccessConfig, Config, ConfigError, EngineSettings, PostgresConfig, ReplicaConfig,
};
pub use definition::{AttachmentPolicy, Definition, IncludeCalendars, PrivatePolicy, Window};
pub use document::{Format, Problem, Problems};
pub use error::{Classify, Error, ErrorKind};
pub use group::Group;
pub use ids::{DefinitionId, ScheduleId, SiteId, TaskId};
pub use schedule::{
    DailyTimes, IntervalMinutes, LocalDateTime, LocalTime, Schedule, ScheduleError, SchedulePlan,
    Weekday, When,
};
pub use secret::{Secret, SecretError, SecretRef};
pub use site::{
    DemoSite, DirectorySource, EwsEndpoint, ExchangeVersion, GraphApp, OAuthApp, Proxy, Site,
};
pub use stop::StopSignal;
pub use task::Task;
