//! The replication engine: one run of a task, as MSE does it — resolve the
//! group, then for each mailbox (several at once) take a lease, pull each
//! calendar's changes since the saved state, and write each batch with its
//! new state in one transaction.

mod events;
mod report;
mod service;
mod shared;
mod sync;
mod verify;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::StreamExt;

use crate::clock::Clock;
use crate::config::Config;
use crate::definition::Definition;
use crate::group::{DirectoryError, GroupResolver};
use crate::mailbox::MailboxSource;
use crate::replica::{Counts, Replica};
use crate::site::DirectorySource;
use crate::sources::{SiteSource, Sources};
use crate::{DefinitionId, SiteId, Task, TaskId};

use crate::retry::{self, RetryPolicy};
pub use crate::stop::StopSignal;
pub use events::{Event, EventQueue, EventSink};
pub use report::{MailboxOutcome, MailboxReport, RunReport, TaskStatus};
pub use service::{ConfigSource, EngineFactory, Service, ServiceRun};
pub use verify::{MailboxVerification, VerifyReport, VerifyResult};

/// Engine settings; the defaults suit a production server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EngineOptions {
    /// Mailboxes processed at once (MSE: one).
    pub concurrency: usize,
    /// How long a mailbox lease lasts if its run dies.
    pub lease_ttl: TimeDelta,
    /// Changes asked for per page (EWS allows at most 512).
    pub page_size: usize,
    /// Items fetched per request.
    pub fetch_batch: usize,
    /// Occurrences are materialised from this long ago…
    pub horizon_back: TimeDelta,
    /// …to this far ahead.
    pub horizon_ahead: TimeDelta,
    /// An empty source calendar deletes at most this many replica items
    /// without `force`.
    pub mass_delete_threshold: u64,
    /// Retries of a retryable source error before the mailbox fails.
    pub max_retries: u32,
    /// The first back-off after a transport error (doubling each time).
    pub base_backoff: Duration,
    /// The longest wait a throttling server may ask for; a longer ask
    /// fails the mailbox (throttled until then) instead of holding it.
    pub max_wait: Duration,
    /// Pages of changes read from one calendar in one run: a server that
    /// never says "last page" cannot hold a run for ever.
    pub max_pages_per_calendar: u32,
}

impl Default for EngineOptions {
    fn default() -> Self {
        // One set of defaults: the configuration's `[engine]` section.
        Self::from_settings(&crate::config::EngineSettings::default())
    }
}

impl EngineOptions {
    /// Options from a configuration's `[engine]` section.
    pub fn from_settings(settings: &crate::config::EngineSettings) -> Self {
        Self {
            concurrency: settings.concurrency as usize,
            lease_ttl: TimeDelta::seconds(i64::from(settings.lease_ttl_seconds)),
            page_size: settings.page_size as usize,
            fetch_batch: settings.fetch_batch as usize,
            horizon_back: TimeDelta::days(i64::from(settings.horizon_days_back)),
            horizon_ahead: TimeDelta::days(i64::from(settings.horizon_days_ahead)),
            mass_delete_threshold: u64::from(settings.mass_delete_threshold),
            max_retries: retry::DEFAULT_MAX_RETRIES,
            base_backoff: retry::DEFAULT_BASE_BACKOFF,
            max_wait: Duration::from_secs(u64::from(settings.max_wait_seconds)),
            max_pages_per_calendar: settings.max_pages_per_calendar,
        }
    }

    /// The retry policy, interrupted by any of `stops`.
    fn retry(&self, stops: &[&StopSignal]) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.max_retries,
            base_backoff: self.base_backoff,
            max_wait: self.max_wait,
            stops: stops.iter().map(|s| (*s).clone()).collect(),
            log: None,
        }
    }
}

/// How to run a task.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RunOptions {
    /// Accept what the mass-delete guard would stop.
    pub force: bool,
    /// Read the source but write nothing (a plan).
    pub dry_run: bool,
    /// Stops this run (not the engine's others) when requested: each
    /// mailbox finishes the batch it is writing, mailboxes not yet started
    /// are skipped, and the next run resumes from the last batch.
    pub cancel: Option<StopSignal>,
    /// The schedule's instant this run fulfils, if a schedule started it:
    /// hosts sharing a store run each instant once.
    pub due: Option<DateTime<Utc>>,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The configuration has no task by that name.
    #[error("no task named {:?}", .0.as_str())]
    UnknownTask(TaskId),
    /// The task names a definition the configuration does not have.
    #[error("task {task}: no definition named {:?}", .definition.as_str())]
    UnknownDefinition {
        /// The task.
        task: TaskId,
        /// The definition it names.
        definition: DefinitionId,
    },
    /// No mailbox source is registered for the task's site.
    #[error(
        "no mailbox source for site {0}: calrep reads [ews] and demo sites and sources a host registers; the Graph backend is not built yet"
    )]
    NoSource(SiteId),
    /// The site's source could not be set up (a secret that cannot be
    /// read, a bad proxy URL).
    #[error("{reason}")]
    SourceSetup {
        /// The site.
        site: SiteId,
        /// Why, naming the site.
        reason: String,
    },
    /// The task is disabled.
    #[error("task {0} is disabled")]
    Disabled(TaskId),
    /// The task's group could not be resolved (the directory is
    /// unreadable or unreachable, a snapshot is invalid).
    #[error("task {task}: cannot resolve {group}: {source}")]
    Directory {
        /// The task.
        task: TaskId,
        /// Its group, in words.
        group: String,
        /// Why.
        #[source]
        source: DirectoryError,
    },
}

/// What a run needs to know, shared by its mailboxes.
#[derive(Debug)]
struct RunContext {
    task: Task,
    definition: Definition,
    source: Arc<dyn MailboxSource>,
    owner: String,
    horizon: (DateTime<Utc>, DateTime<Utc>),
    /// The definition's window around this run, if it has one: items with
    /// no occurrence inside it are not replicated.
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    force: bool,
    dry_run: bool,
    cancel: StopSignal,
    /// The schedule's instant the run fulfils, if a schedule started it.
    due: Option<DateTime<Utc>>,
    /// When the run's mailboxes waited on throttling.
    throttling: Arc<retry::ThrottleLog>,
}

/// The replication engine over a configuration, a replica and one mailbox
/// source per site.
///
/// ```
/// use std::sync::Arc;
/// use calrep_core::engine::{Engine, RunOptions};
/// use calrep_core::mailbox::MemoryOrganisation;
/// use calrep_core::replica::SqliteReplica;
/// use calrep_core::{Config, SystemClock};
/// let config = Config::parse(r#"
///     [[sites]]
///     id = "hq"
///     ews = { url = "https://mail.example.com/EWS/Exchange.asmx", username = "svc", password_env = "PW" }
///     [[definitions]]
///     id = "default"
///     [[schedules]]
///     id = "nightly"
///     time_zone = "UTC"
///     when.daily.once.start = "02:00"
///     [[tasks]]
///     id = "alice"
///     site = "hq"
///     definition = "default"
///     schedule = "nightly"
///     group = { mailbox = "alice@example.com" }
/// "#, "calrep.toml")?;
/// let org = Arc::new(MemoryOrganisation::new());
/// org.mailbox(&"alice@example.com".parse()?);
/// let engine = Engine::new(config, Arc::new(SqliteReplica::open_in_memory()?), Arc::new(SystemClock))
///     .with_source("hq".into(), org);
/// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
/// let report = engine.run_task(&"alice".into(), RunOptions::default()).await?;
/// assert_eq!(report.status.as_str(), "Enabled");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Engine {
    config: Config,
    replica: Arc<dyn Replica>,
    clock: Arc<dyn Clock>,
    sources: Sources,
    resolvers: Mutex<HashMap<SiteId, Arc<GroupResolver>>>,
    options: EngineOptions,
    events: Option<EventSink>,
    shutdown: StopSignal,
}

impl Engine {
    /// An engine with the options of the configuration's `[engine]`
    /// section (see [`with_options`](Self::with_options)) and no sources
    /// yet (see [`with_sources`](Self::with_sources)).
    pub fn new(config: Config, replica: Arc<dyn Replica>, clock: Arc<dyn Clock>) -> Self {
        let options = EngineOptions::from_settings(&config.engine);
        Self {
            config,
            replica,
            clock,
            sources: Sources::new(),
            resolvers: Mutex::new(HashMap::new()),
            options,
            events: None,
            shutdown: StopSignal::new(),
        }
    }

    /// Sets every site's source (see [`Sources::from_config`]).
    pub fn with_sources(mut self, sources: Sources) -> Self {
        self.sources = sources;
        self
    }

    /// Registers the mailbox source for a site (one a host implements).
    pub fn with_source(mut self, site: SiteId, source: Arc<dyn MailboxSource>) -> Self {
        self.sources.insert(site, SiteSource::new(source));
        self
    }

    /// Sets the options.
    pub fn with_options(mut self, options: EngineOptions) -> Self {
        self.options = options;
        self
    }

    /// Stops runs when `shutdown` is requested: each mailbox finishes the
    /// batch it is writing and releases its lease.
    pub fn with_shutdown(mut self, shutdown: StopSignal) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Sends progress events to `sink`.
    pub fn with_events(mut self, sink: EventSink) -> Self {
        self.events = Some(sink);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The replica.
    pub fn replica(&self) -> &Arc<dyn Replica> {
        &self.replica
    }

    fn emit(&self, event: &Event) {
        if let Some(sink) = &self.events {
            sink.emit(event);
        }
    }

    fn resolver(&self, site: &SiteId) -> Result<Arc<GroupResolver>, DirectoryError> {
        let mut resolvers = self
            .resolvers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = resolvers.get(site) {
            return Ok(Arc::clone(r));
        }
        let site_config = self
            .config
            .site(site)
            .ok_or_else(|| DirectoryError::Unavailable(format!("no site {site}")))?;
        let directory = match self.config.directory_for(site_config) {
            Some(server @ (DirectorySource::Exchange | DirectorySource::Graph)) => {
                let (name, section) = match server {
                    DirectorySource::Graph => ("graph", "[graph] app"),
                    _ => ("exchange", "[ews] endpoint"),
                };
                let retry = self.options.retry(&[&self.shutdown]);
                let directory = self
                    .sources
                    .get(site)
                    .and_then(|source| source.server_directory(site, retry))
                    .ok_or_else(|| {
                        DirectoryError::Unavailable(format!(
                            "site {site}: directory = \"{name}\" needs a working {section}"
                        ))
                    })?;
                Some(directory?)
            }
            _ => self.config.open_directory(site_config)?,
        };
        let resolver = Arc::new(GroupResolver::new(directory, Arc::clone(&self.clock)));
        resolvers.insert(site.clone(), Arc::clone(&resolver));
        Ok(resolver)
    }

    /// The mailboxes a task's group resolves to now, through the site's
    /// directory — a snapshot, a demo organisation, or Exchange itself
    /// (`ExpandDL` through the site's EWS source).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use calrep_core::{Config, SystemClock};
    /// # use calrep_core::engine::Engine;
    /// # use calrep_core::replica::SqliteReplica;
    /// let config = Config::parse(r#"
    ///     [[sites]]
    ///     id = "hq"
    ///     ews = { url = "https://mail.example.com/EWS/Exchange.asmx", username = "svc", password_env = "PW" }
    ///     [[definitions]]
    ///     id = "default"
    ///     [[schedules]]
    ///     id = "nightly"
    ///     time_zone = "UTC"
    ///     when.daily.once.start = "02:00"
    ///     [[tasks]]
    ///     id = "two"
    ///     site = "hq"
    ///     definition = "default"
    ///     schedule = "nightly"
    ///     group = { mailboxes = ["b@example.com", "a@example.com"] }
    /// "#, "calrep.toml")?;
    /// let engine = Engine::new(config, Arc::new(SqliteReplica::open_in_memory()?), Arc::new(SystemClock));
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
    /// let resolution = engine.resolve_group(&"two".into()).await?;
    /// assert_eq!(resolution.mailboxes[0].address.as_str(), "a@example.com");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn resolve_group(
        &self,
        task: &TaskId,
    ) -> Result<Arc<crate::group::Resolution>, EngineError> {
        let task = self
            .config
            .task(task)
            .ok_or_else(|| EngineError::UnknownTask(task.clone()))?;
        self.resolve(task).await
    }

    /// A task's group through its site's (cached) resolver.
    async fn resolve(&self, task: &Task) -> Result<Arc<crate::group::Resolution>, EngineError> {
        let resolved = match self.resolver(&task.site) {
            Ok(resolver) => resolver.resolve(&task.group).await,
            Err(e) => Err(e),
        };
        resolved.map_err(|source| EngineError::Directory {
            task: task.id.clone(),
            group: task.group.to_string(),
            source,
        })
    }

    /// The task, its definition and its site's source, or why not.
    fn task_setup(
        &self,
        task: &TaskId,
    ) -> Result<(Task, Definition, Arc<dyn MailboxSource>), EngineError> {
        let task = self
            .config
            .task(task)
            .ok_or_else(|| EngineError::UnknownTask(task.clone()))?;
        let definition = self.config.definition(&task.definition).ok_or_else(|| {
            EngineError::UnknownDefinition {
                task: task.id.clone(),
                definition: task.definition.clone(),
            }
        })?;
        let source = match self.sources.get(&task.site) {
            Some(source) => Arc::clone(source.mailboxes()),
            None => {
                return Err(match self.sources.problem(&task.site) {
                    Some(reason) => EngineError::SourceSetup {
                        site: task.site.clone(),
                        reason: reason.to_owned(),
                    },
                    None => EngineError::NoSource(task.site.clone()),
                });
            }
        };
        Ok((task.clone(), definition.clone(), source))
    }

    /// Runs a task once and returns its report (also recorded in the
    /// replica's run history unless this is a dry run).
    pub async fn run_task(
        &self,
        task: &TaskId,
        options: RunOptions,
    ) -> Result<RunReport, EngineError> {
        let started_at = self.clock.now();
        let started = Instant::now();
        if let Some(t) = self.config.task(task)
            && !t.enabled
            && !options.dry_run
        {
            return Err(EngineError::Disabled(t.id.clone()));
        }
        let (task, definition, source) = self.task_setup(task)?;
        let ctx = RunContext {
            owner: crate::replica::owner::this_process(
                &task.id,
                started_at.timestamp_nanos_opt().unwrap_or_default(),
            ),
            horizon: (
                started_at - self.options.horizon_back,
                started_at + self.options.horizon_ahead,
            ),
            window: definition.window.map(|w| w.around(started_at)),
            task,
            definition,
            source,
            force: options.force,
            dry_run: options.dry_run,
            cancel: options.cancel.clone().unwrap_or_default(),
            due: options.due,
            throttling: Arc::default(),
        };
        let mut report = RunReport {
            task: ctx.task.id.to_string(),
            site: ctx.task.site.to_string(),
            dry_run: ctx.dry_run,
            started: started_at,
            finished: started_at,
            status: TaskStatus::Enabled,
            error: None,
            mailboxes: Vec::new(),
            frozen: Vec::new(),
            totals: Counts::default(),
            requests: 0,
            retries: 0,
            throttled_ms: 0,
            throttled_wall_ms: 0,
            not_mailboxes: 0,
            duration_ms: 0,
        };
        // Whether this host records the run (of a shared run, the host
        // that closes it does).
        let mut records = true;
        match self.resolve(&ctx.task).await {
            Err(error) => {
                report.status = TaskStatus::Failed;
                report.error = Some(error.to_string());
            }
            Ok(resolution) => {
                self.emit(&Event::RunStarted {
                    task: report.task.clone(),
                    mailboxes: resolution.mailboxes.len(),
                });
                let addresses: Vec<_> = resolution
                    .mailboxes
                    .iter()
                    .map(|m| m.address.clone())
                    .collect();
                let mut mailboxes: Vec<MailboxReport> =
                    match self.replica.coordinator().filter(|_| !ctx.dry_run) {
                        // A store several hosts share: one run they all join.
                        Some(coordinator) => {
                            match self.run_shared(&ctx, coordinator, addresses).await {
                                Ok(shared) => {
                                    records = shared.closed_here;
                                    shared.mailboxes
                                }
                                Err(error) => {
                                    records = false;
                                    report.error = Some(error);
                                    Vec::new()
                                }
                            }
                        }
                        None => {
                            futures_util::stream::iter(addresses)
                                .map(|address| self.sync_mailbox(&ctx, address))
                                .buffer_unordered(self.options.concurrency.max(1))
                                .collect()
                                .await
                        }
                    };
                report.not_mailboxes = resolution
                    .skipped
                    .iter()
                    .filter(|s| {
                        !matches!(
                            s.reason,
                            crate::group::SkipReason::Disabled
                                | crate::group::SkipReason::Unlicensed
                        )
                    })
                    .count() as u64;
                for skipped in &resolution.skipped {
                    mailboxes.push(MailboxReport::new(
                        skipped.entry.clone(),
                        MailboxOutcome::Skipped {
                            reason: skipped.reason.to_string(),
                        },
                    ));
                }
                mailboxes.sort_by_key(|m| m.address.to_lowercase());
                report.frozen = self.freeze_departed(&ctx, &resolution).await;
                report.status = TaskStatus::fold(
                    mailboxes
                        .iter()
                        .filter(|m| !matches!(m.outcome, MailboxOutcome::Skipped { .. }))
                        .map(|m| &m.outcome),
                );
                if mailboxes
                    .iter()
                    .any(|m| matches!(m.outcome, MailboxOutcome::Skipped { .. }))
                    && report.status == TaskStatus::Enabled
                {
                    report.status = TaskStatus::EnabledWithWarning;
                }
                for m in &mailboxes {
                    report.totals.add(m.counts);
                    report.requests += m.requests;
                    report.retries += m.retries;
                    report.throttled_ms = report.throttled_ms.saturating_add(m.throttled_ms);
                }
                report.mailboxes = mailboxes;
            }
        }
        report.throttled_wall_ms = ctx.throttling.wall_ms();
        report.finished = self.clock.now();
        report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if report.error.is_some() && report.status != TaskStatus::Failed {
            report.status = TaskStatus::Failed;
        }
        if !ctx.dry_run
            && records
            && let Err(e) = self
                .replica
                .record_run(
                    &ctx.task.id,
                    report.status.as_str(),
                    &report.to_json(),
                    report.finished,
                )
                .await
        {
            self.emit(&Event::Warning {
                address: None,
                message: format!("run not recorded: {e}"),
            });
        }
        self.emit(&Event::RunFinished {
            task: report.task.clone(),
            status: report.status,
        });
        Ok(report)
    }

    /// Mailboxes this task replicated before that are no longer in its group
    /// keep their replica, frozen, and are reported.
    async fn freeze_departed(
        &self,
        ctx: &RunContext,
        resolution: &crate::group::Resolution,
    ) -> Vec<String> {
        if ctx.dry_run {
            return Vec::new();
        }
        let Ok(known) = self
            .replica
            .task_mailboxes(&ctx.task.site, &ctx.task.id)
            .await
        else {
            return Vec::new();
        };
        let mut frozen = Vec::new();
        for address in known {
            if resolution
                .mailboxes
                .iter()
                .any(|m| m.address.key() == address)
            {
                continue;
            }
            let Ok(parsed) = address.parse() else {
                continue;
            };
            let reason = resolution
                .skipped
                .iter()
                .find(|s| s.entry.eq_ignore_ascii_case(&address))
                .map_or_else(
                    || format!("no longer in the group of task {}", ctx.task.id),
                    |s| s.reason.to_string(),
                );
            if self.replica.freeze(&parsed, &reason).await.is_ok() {
                frozen.push(address);
            }
        }
        frozen
    }
}
