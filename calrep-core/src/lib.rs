//! # calrep-core
//!
//! The calendar replication engine as a library: the administrator's model of
//! the Mimecast Synchronization Engine (sites, definitions, schedules, tasks
//! and groups), its configuration file, schedule computation and group
//! resolution.
//!
//! ## Overview
//!
//! - [`Config`] loads a TOML or JSON configuration and reports every problem
//!   at once, each with its file and path.
//! - [`SchedulePlan`] computes when a [`Schedule`] runs, correctly across
//!   daylight-saving changes.
//! - [`group::GroupResolver`] expands a task's [`Group`] into mailboxes through
//!   a [`group::Directory`], with nesting, cycles, skips and a cache.
//!
//! ## Example
//!
//! ```
//! use calrep_core::{Config, SchedulePlan};
//! let config = Config::parse(r#"
//!     [[sites]]
//!     id = "hq"
//!     ews = { url = "https://mail.example.com/EWS/Exchange.asmx", username = "svc", password_env = "PW" }
//!
//!     [[definitions]]
//!     id = "default"
//!
//!     [[schedules]]
//!     id = "nightly"
//!     time_zone = "W. Europe Standard Time"
//!     when.daily.once.start = "02:00"
//!
//!     [[tasks]]
//!     id = "alice"
//!     site = "hq"
//!     definition = "default"
//!     schedule = "nightly"
//!     group = { mailbox = "alice@example.com" }
//! "#, "calrep.toml")?;
//! let schedule = config.schedule(&"nightly".into()).unwrap();
//! let next = SchedulePlan::new(schedule)?.next_after("2026-06-01T12:00:00Z".parse()?).unwrap();
//! assert_eq!(next.to_rfc3339(), "2026-06-02T02:00:00+02:00");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Crate features
//!
//! - `cli`: builds the `calrep` command (pulls in clap and a tokio runtime).

#![forbid(unsafe_code)]

mod address;
mod base64;
pub mod calendar;
mod clock;
mod config;
mod definition;
#[cfg(feature = "sim")]
pub mod demo;
mod document;
pub mod engine;
mod error;
pub mod ews;
pub mod group;
pub mod ical;
mod ids;
pub mod mailbox;
pub mod recur;
pub mod replica;
mod retry;
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
pub use config::{Config, ConfigError, EngineSettings, ReplicaConfig};
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
