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

/// Loads the configuration anew (from its file, usually).
pub type ConfigLoader = Box<dyn Fn() -> Result<Config, ConfigError> + Send + Sync>;
/// Builds an engine for a configuration.
pub type EngineBuilder = Box<dyn Fn(Config) -> Engine + Send + Sync>;

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
    load: ConfigLoader,
    build: EngineBuilder,
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
        load: ConfigLoader,
        build: EngineBuilder,
        clock: Arc<dyn Clock>,
        shutdown: StopSignal,
    ) -> Self {
        Self {
            load,
            build,
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
        let mut config = (self.load)()?;
        let mut engine = (self.build)(config.clone()).with_shutdown(self.shutdown.clone());
        let mut loaded_at = started;
        // Each task's runs are looked for after the last time it was due.
        let mut checked: HashMap<TaskId, DateTime<Utc>> = HashMap::new();
        let mut runs = Vec::new();
        while !self.shutdown.is_requested() {
            let now = self.clock.now();
            if now - loaded_at >= self.reload_every {
                loaded_at = now;
                match (self.load)() {
                    Ok(fresh) if fresh != config => {
                        config = fresh;
                        engine = (self.build)(config.clone()).with_shutdown(self.shutdown.clone());
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
                let status = engine
                    .run_task(&task.id, RunOptions::default())
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
