//! The service loop: runs enabled tasks by their schedules, picks up
//! configuration changes, and stops gracefully.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Engine, Event, RunOptions, StopSignal, TaskStatus};
use crate::TaskId;
use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::schedule::SchedulePlan;

/// Where a service's configuration comes from: read at start and again
/// every [`reload_every`](Service::with_reload_every). Any
/// `Fn() -> Result<Config, ConfigError>` is one.
pub trait ConfigSource: Send + Sync {
    /// The configuration as it is now (from its file, usually).
    fn load(&self) -> Result<Config, ConfigError>;
}

impl<F: Fn() -> Result<Config, ConfigError> + Send + Sync> ConfigSource for F {
    fn load(&self) -> Result<Config, ConfigError> {
        self()
    }
}

/// Builds the engine for a configuration: at start, and again whenever the
/// configuration changed. Any `Fn(Config) -> Engine` is one.
pub trait EngineFactory: Send + Sync {
    /// An engine for `config` (its sources, replica, events).
    fn build(&self, config: Config) -> Engine;
}

impl<F: Fn(Config) -> Engine + Send + Sync> EngineFactory for F {
    fn build(&self, config: Config) -> Engine {
        self(config)
    }
}

/// One task run the service made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceRun {
    /// The task.
    pub task: TaskId,
    /// When it was due.
    pub due: DateTime<Utc>,
    /// How it ended (`None`: it could not start).
    pub status: Option<TaskStatus>,
}

/// Runs enabled tasks when their schedules say, one run at a time (so never
/// a task concurrently with itself), reloading the configuration every
/// `reload_every` (one minute by default: changes apply within two
/// minutes, and never to a run in progress).
pub struct Service {
    load: Box<dyn ConfigSource>,
    build: Box<dyn EngineFactory>,
    clock: Arc<dyn Clock>,
    shutdown: StopSignal,
    reload_every: chrono::TimeDelta,
    poll: Duration,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("reload_every", &self.reload_every)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// A service loading its configuration with `load` and building engines
    /// with `build`.
    pub fn new(
        load: impl ConfigSource + 'static,
        build: impl EngineFactory + 'static,
        clock: Arc<dyn Clock>,
        shutdown: StopSignal,
    ) -> Self {
        Self {
            load: Box::new(load),
            build: Box::new(build),
            clock,
            shutdown,
            reload_every: chrono::TimeDelta::minutes(1),
            poll: Duration::from_secs(1),
        }
    }

    /// How often the configuration is read again.
    pub fn with_reload_every(mut self, every: chrono::TimeDelta) -> Self {
        self.reload_every = every;
        self
    }

    /// The longest real sleep between looks at the clock.
    pub fn with_poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Runs until shutdown is requested; returns the runs it made. Fails
    /// only if the configuration cannot be loaded at start (later load
    /// failures keep the last good configuration).
    pub async fn run(&self) -> Result<Vec<ServiceRun>, ConfigError> {
        let started = self.clock.now();
        let mut config = self.load.load()?;
        let mut engine = self
            .build
            .build(config.clone())
            .with_shutdown(self.shutdown.clone());
        let mut loaded_at = started;
        // Each task's runs are looked for after the last time it was due.
        let mut checked: HashMap<TaskId, DateTime<Utc>> = HashMap::new();
        let mut runs = Vec::new();
        while !self.shutdown.is_requested() {
            let now = self.clock.now();
            if now - loaded_at >= self.reload_every {
                loaded_at = now;
                match self.load.load() {
                    Ok(fresh) if fresh != config => {
                        config = fresh;
                        engine = self
                            .build
                            .build(config.clone())
                            .with_shutdown(self.shutdown.clone());
                        engine.emit(&Event::Warning {
                            address: None,
                            message: "configuration reloaded".into(),
                        });
                    }
                    Ok(_) => {}
                    Err(e) => engine.emit(&Event::Warning {
                        address: None,
                        message: format!(
                            "configuration not reloaded, keeping the last good one: {e}"
                        ),
                    }),
                }
            }
            for task in config.tasks.iter().filter(|t| t.enabled) {
                if self.shutdown.is_requested() {
                    break;
                }
                let Some(plan) = config
                    .schedule(&task.schedule)
                    .and_then(|s| SchedulePlan::new(s).ok())
                else {
                    continue;
                };
                let since = *checked.get(&task.id).unwrap_or(&started);
                let Some(due) = plan.next_after(since).map(|t| t.with_timezone(&Utc)) else {
                    continue;
                };
                if due > now {
                    continue;
                }
                // Runs missed while another ran are coalesced into this one.
                checked.insert(task.id.clone(), self.clock.now().max(due));
                let options = RunOptions {
                    due: Some(due),
                    ..RunOptions::default()
                };
                let status = engine
                    .run_task(&task.id, options)
                    .await
                    .ok()
                    .map(|r| r.status);
                runs.push(ServiceRun {
                    task: task.id.clone(),
                    due,
                    status,
                });
            }
            self.shutdown.wait(self.poll).await;
        }
        Ok(runs)
    }
}
