//! `calrep._calrep.Engine`: runs, plans, verify, serve, the replica read
//! API and progress events, with the GIL released while calrep works.
//! Results cross as JSON text; `calrep.Engine` turns them into typed
//! objects.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use calrep_core::access::{Grants, PasswordHasher, grant, revoke};
use calrep_core::engine::{Engine, RunOptions, Service, StopSignal};
use calrep_core::ews::{BlockingTokens, TokenAnswer};
use calrep_core::ical::{AttachmentStyle, export_mailbox};
use calrep_core::replica::{AccessStore, Replica, ReplicaReader, SqliteReplica};
use calrep_core::sources::Sources;
use calrep_core::{Config, SystemClock, TaskId};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::args::{address, instant};
use crate::config::PyConfig;
use crate::errors::{Kind, core_error, error};
use crate::events::Events;
use crate::runtime::{attach_from_worker, runtime, wait};
use crate::tokens::ask;

/// An engine over a configuration and the replica it names.
#[pyclass(module = "calrep._calrep", name = "Engine", frozen)]
#[derive(Debug)]
pub(crate) struct PyEngine {
    engine: Arc<Engine>,
    config: PyConfig,
    replica: Arc<SqliteReplica>,
    events: Arc<Events>,
    tokens: Option<Arc<Py<PyAny>>>,
    /// Stops the `serve` in progress.
    serving: Mutex<Option<StopSignal>>,
}

/// An engine for `config` over `replica`, with the host's tokens and the
/// events sink.
fn build(
    config: Config,
    replica: &Arc<SqliteReplica>,
    tokens: Option<&Arc<Py<PyAny>>>,
    events: &Arc<Events>,
) -> Engine {
    let mut sources = Sources::from_config(&config);
    if let Some(provider) = tokens {
        let provider = Arc::clone(provider);
        let supply: Arc<dyn Fn(&str) -> TokenAnswer + Send + Sync> =
            Arc::new(move |site| ask(&provider, site));
        sources = sources.with_host_tokens(&config, |site| {
            Arc::new(BlockingTokens::new(site.as_str(), Arc::clone(&supply)))
        });
    }
    Engine::new(
        config,
        Arc::clone(replica) as Arc<dyn Replica>,
        Arc::new(SystemClock),
    )
    .with_sources(sources)
    .with_events(Events::sink(events))
}

/// A run's options, cancelled through `cancel`.
fn run_options(force: bool, dry_run: bool, cancel: &StopSignal) -> RunOptions {
    let mut options = RunOptions::default();
    options.force = force;
    options.dry_run = dry_run;
    options.cancel = Some(cancel.clone());
    options
}

impl PyEngine {
    fn run(&self, py: Python<'_>, task: &str, force: bool, dry_run: bool) -> PyResult<String> {
        let cancel = StopSignal::new();
        let options = run_options(force, dry_run, &cancel);
        let engine = Arc::clone(&self.engine);
        let task = TaskId::new(task);
        let report = wait(
            py,
            async move { engine.run_task(&task, options).await },
            Some(&cancel),
        )?
        .map_err(core_error)?;
        Ok(report.to_json())
    }

    fn run_async<'py>(
        &self,
        py: Python<'py>,
        task: &str,
        force: bool,
        dry_run: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
        let future = event_loop.call_method0("create_future")?;
        let cancel = StopSignal::new();
        future.call_method1("add_done_callback", (CancelOnCancelled(cancel.clone()),))?;
        let settle: Py<PyAny> = py.import("calrep._asyncio")?.getattr("settle")?.unbind();
        let (event_loop, target) = (event_loop.unbind(), future.clone().unbind());
        let options = run_options(force, dry_run, &cancel);
        let engine = Arc::clone(&self.engine);
        let task = TaskId::new(task);
        runtime()?.spawn(async move {
            let result = engine.run_task(&task, options).await;
            // Nobody awaits the result once the interpreter is closing.
            attach_from_worker(|py| {
                let (value, failure) = match result {
                    Ok(report) => (Some(report.to_json()), None),
                    Err(e) => (None, Some(core_error(e).into_value(py))),
                };
                let settled = event_loop.call_method1(
                    py,
                    "call_soon_threadsafe",
                    (settle, target, value, failure),
                );
                if let Err(e) = settled {
                    // The loop is closed: nobody awaits the result any more.
                    e.write_unraisable(py, None);
                }
            });
        });
        Ok(future)
    }
}

/// Cancels a run when the asyncio future awaiting it is cancelled.
#[pyclass(module = "calrep._calrep", frozen)]
#[derive(Debug)]
struct CancelOnCancelled(StopSignal);

#[pymethods]
impl CancelOnCancelled {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.0.request();
        }
        Ok(())
    }
}

#[pymethods]
impl PyEngine {
    #[new]
    #[pyo3(signature = (config, *, token_provider = None, on_event = None))]
    fn new(
        py: Python<'_>,
        config: &Bound<'_, PyConfig>,
        token_provider: Option<Py<PyAny>>,
        on_event: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let config = config.get().clone();
        let path = config.config.resolve_path(&config.config.replica.path);
        let replica = Arc::new(SqliteReplica::open(&path).map_err(core_error)?);
        let events = Arc::new(Events::new(py, on_event)?);
        let tokens = token_provider.map(Arc::new);
        // Sources that spawn tasks need the runtime entered.
        let _entered = runtime()?.enter();
        let engine = build(config.config.clone(), &replica, tokens.as_ref(), &events);
        Ok(Self {
            engine: Arc::new(engine),
            config,
            replica,
            events,
            tokens,
            serving: Mutex::new(None),
        })
    }

    /// Runs a task once; the run report as JSON.
    #[pyo3(signature = (task, *, force = false))]
    fn run_task(&self, py: Python<'_>, task: &str, force: bool) -> PyResult<String> {
        self.run(py, task, force, false)
    }

    /// What a run would do, writing nothing; the report as JSON.
    fn plan(&self, py: Python<'_>, task: &str) -> PyResult<String> {
        self.run(py, task, false, true)
    }

    /// `run_task` as an asyncio future on calrep's runtime.
    #[pyo3(signature = (task, *, force = false))]
    fn run_task_async<'py>(
        &self,
        py: Python<'py>,
        task: &str,
        force: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.run_async(py, task, force, false)
    }

    /// `plan` as an asyncio future on calrep's runtime.
    fn plan_async<'py>(&self, py: Python<'py>, task: &str) -> PyResult<Bound<'py, PyAny>> {
        self.run_async(py, task, false, true)
    }

    /// Compares each mailbox of the task with a full read of its source;
    /// the result as JSON.
    fn verify(&self, py: Python<'_>, task: &str) -> PyResult<String> {
        let engine = Arc::clone(&self.engine);
        let task = TaskId::new(task);
        let report =
            wait(py, async move { engine.verify(&task).await }, None)?.map_err(core_error)?;
        serde_json::to_string(&report).map_err(|e| error(Kind::Calrep, e.to_string()))
    }

    /// A mailbox's replicated occurrences overlapping [start, end) (RFC
    /// 3339 instants), as JSON.
    fn occurrences(
        &self,
        py: Python<'_>,
        mailbox: &str,
        start: &str,
        end: &str,
    ) -> PyResult<String> {
        let address = address(mailbox)?;
        let (start, end) = (instant("start", start)?, instant("end", end)?);
        let replica = Arc::clone(&self.replica);
        let mailbox = mailbox.to_owned();
        let read = async move {
            if !replica.has_mailbox(&address).await.map_err(core_error)? {
                return Err(error(
                    Kind::Mailbox,
                    format!("the replica has no mailbox {mailbox}"),
                ));
            }
            let found = replica
                .occurrences(&address, start, end)
                .await
                .map_err(core_error)?;
            serde_json::to_string(&found).map_err(|e| error(Kind::Calrep, e.to_string()))
        };
        wait(py, read, None)?
    }

    /// The mailbox addresses in the replica.
    fn mailboxes(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let replica = Arc::clone(&self.replica);
        let read = async move {
            Ok(replica
                .mailboxes()
                .await
                .map_err(core_error)?
                .into_iter()
                .map(|m| m.address)
                .collect())
        };
        wait(py, read, None)?
    }

    /// Issues `account` an app password (returned, the only time it is
    /// seen) with its own `mailboxes`, `delegated` ones, `admin`, and an
    /// optional `expires` instant (RFC 3339).
    #[pyo3(signature = (account, *, mailboxes = Vec::new(), delegated = Vec::new(), admin = false, expires = None))]
    fn access_grant(
        &self,
        py: Python<'_>,
        account: String,
        mailboxes: Vec<String>,
        delegated: Vec<String>,
        admin: bool,
        expires: Option<String>,
    ) -> PyResult<String> {
        let mut grants = Grants::default();
        grants.mailboxes = mailboxes
            .iter()
            .map(|m| address(m))
            .collect::<PyResult<_>>()?;
        grants.delegated = delegated
            .iter()
            .map(|m| address(m))
            .collect::<PyResult<_>>()?;
        grants.admin = admin;
        grants.expires = expires.map(|e| instant("expires", &e)).transpose()?;
        let replica = Arc::clone(&self.replica);
        let issue = async move {
            grant(
                replica.as_ref(),
                &PasswordHasher::default(),
                &account,
                &grants,
                chrono::Utc::now(),
            )
            .await
            .map(|p| p.expose().to_owned())
            .map_err(core_error)
        };
        wait(py, issue, None)?
    }

    /// Removes `account`: its password and feeds stop working at once.
    fn access_revoke(&self, py: Python<'_>, account: String) -> PyResult<()> {
        let replica = Arc::clone(&self.replica);
        let remove = async move { revoke(replica.as_ref(), &account).await.map_err(core_error) };
        wait(py, remove, None)?
    }

    /// The access accounts as JSON (never a password or its hash).
    fn access_accounts(&self, py: Python<'_>) -> PyResult<String> {
        let replica = Arc::clone(&self.replica);
        let read = async move {
            let accounts = replica.accounts().await.map_err(core_error)?;
            serde_json::to_string(&accounts).map_err(|e| error(Kind::Calrep, e.to_string()))
        };
        wait(py, read, None)?
    }

    /// A mailbox's replica as one iCalendar document.
    #[pyo3(signature = (mailbox, calendar = None, *, inline_attachments = false))]
    fn export(
        &self,
        py: Python<'_>,
        mailbox: &str,
        calendar: Option<String>,
        inline_attachments: bool,
    ) -> PyResult<String> {
        let address = address(mailbox)?;
        let replica = Arc::clone(&self.replica);
        let style = if inline_attachments {
            AttachmentStyle::Inline
        } else {
            AttachmentStyle::HashUri
        };
        let read = async move {
            export_mailbox(
                replica.as_ref(),
                &address,
                calendar.as_deref(),
                style,
                chrono::Utc::now(),
            )
            .await
            .map(|e| e.text)
            .map_err(core_error)
        };
        wait(py, read, None)?
    }

    /// The oldest progress event not yet taken (JSON), waiting up to
    /// `timeout` seconds; `None` if none came.
    #[pyo3(signature = (timeout = 0.0))]
    fn next_event(&self, py: Python<'_>, timeout: f64) -> PyResult<Option<String>> {
        let timeout = Duration::try_from_secs_f64(timeout)
            .map_err(|_| PyValueError::new_err(format!("timeout must be >= 0, not {timeout}")))?;
        let events = Arc::clone(&self.events);
        Ok(py.detach(move || events.next(timeout)))
    }

    /// Runs the enabled tasks when their schedules say until `stop()` or
    /// Ctrl-C; the runs made, as `(task, due, status)` (status `None`: the
    /// run could not start). A configuration loaded from a file is reread
    /// every `reload_seconds`.
    #[pyo3(signature = (*, poll_seconds = 1.0, reload_seconds = 60))]
    fn serve(
        &self,
        py: Python<'_>,
        poll_seconds: f64,
        reload_seconds: i64,
    ) -> PyResult<Vec<(String, String, Option<String>)>> {
        let poll = Duration::try_from_secs_f64(poll_seconds)
            .ok()
            .filter(|p| !p.is_zero())
            .ok_or_else(|| PyValueError::new_err("poll_seconds must be > 0"))?;
        if reload_seconds <= 0 {
            return Err(PyValueError::new_err("reload_seconds must be > 0"));
        }
        let shutdown = StopSignal::new();
        *self.serving.lock().unwrap_or_else(PoisonError::into_inner) = Some(shutdown.clone());
        let fixed = self.config.config.clone();
        let path = self.config.path.clone();
        let load = Box::new(move || match &path {
            Some(path) => Config::load(path),
            None => Ok(fixed.clone()),
        });
        let (replica, tokens, events) = (
            Arc::clone(&self.replica),
            self.tokens.clone(),
            Arc::clone(&self.events),
        );
        let builder =
            Box::new(move |config: Config| build(config, &replica, tokens.as_ref(), &events));
        let service = Service::new(load, builder, Arc::new(SystemClock), shutdown.clone())
            .with_poll(poll)
            .with_reload_every(chrono::TimeDelta::seconds(reload_seconds));
        let runs = wait(py, async move { service.run().await }, Some(&shutdown))?
            .map_err(|e| error(Kind::Config, e.to_string()))?;
        Ok(runs
            .into_iter()
            .map(|r| {
                (
                    r.task.to_string(),
                    r.due.to_rfc3339(),
                    r.status.map(|s| s.as_str().to_owned()),
                )
            })
            .collect())
    }

    /// Stops a `serve` in progress (from another thread): each mailbox
    /// finishes the batch it is writing.
    fn stop(&self) {
        if let Some(shutdown) = &*self.serving.lock().unwrap_or_else(PoisonError::into_inner) {
            shutdown.request();
        }
    }

    /// The replica file.
    #[getter]
    fn replica_path(&self) -> std::path::PathBuf {
        self.replica.path().to_path_buf()
    }
}
