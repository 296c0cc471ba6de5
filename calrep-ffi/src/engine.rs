//! The engine: a configuration, its replica, and runs of its tasks.

use std::ffi::c_void;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use calrep_core::engine::{Engine, RunOptions, StopSignal};
use calrep_core::ews::{BlockingTokens, TokenAnswer};
use calrep_core::ical::{AttachmentStyle, export_mailbox};
use calrep_core::replica::{Replica, ReplicaReader, SqliteReplica};
use calrep_core::sources::Sources;
use calrep_core::{Config, SystemClock, TaskId};

use crate::boundary::{Out, guard, text};
use crate::error::{Failure, calrep_error};
use crate::events::{Events, HostCallback, calrep_event_callback, calrep_finalizer};
use crate::handle::Handle;
use crate::runtime::calrep_runtime;
use crate::status::calrep_status;
use crate::string::calrep_string;
use crate::tokens::{TokenFn, ask, calrep_token_callback};

/// The format of configuration text.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum calrep_config_format {
    /// TOML, as `calrep.toml`.
    Toml = 0,
    /// JSON with the same structure.
    Json = 1,
}

/// `calrep_engine_run` flag: apply deletions the mass-delete guard stops.
pub const CALREP_RUN_FORCE: u32 = 1;
/// `calrep_engine_run` flag: read the source, write nothing (a plan).
pub const CALREP_RUN_DRY_RUN: u32 = 2;

/// An engine over a configuration and the replica it names.
#[derive(Debug)]
pub struct calrep_engine {
    /// Built on first use, so that registrations made before (the token
    /// callback) shape its sources.
    core: OnceLock<Arc<Engine>>,
    config: Config,
    tokens: Mutex<Option<Arc<HostCallback<TokenFn>>>>,
    replica: Arc<SqliteReplica>,
    pub(crate) runtime: Arc<tokio::runtime::Runtime>,
    pub(crate) events: Arc<Events>,
}

impl calrep_engine {
    /// The engine, built now if this is its first use.
    pub(crate) fn core(&self) -> &Arc<Engine> {
        self.core.get_or_init(|| {
            let tokens = self
                .tokens
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            // Sources that spawn tasks need the runtime entered.
            let _entered = self.runtime.enter();
            let mut sources = Sources::from_config(&self.config);
            if let Some(callback) = tokens {
                let supply: Arc<dyn Fn(&str) -> TokenAnswer + Send + Sync> =
                    Arc::new(move |site| ask(&callback, site));
                sources = sources.with_host_tokens(&self.config, |site| {
                    Arc::new(BlockingTokens::new(site.as_str(), Arc::clone(&supply)))
                });
            }
            let engine = Engine::new(
                self.config.clone(),
                self.replica.clone() as Arc<dyn Replica>,
                Arc::new(SystemClock),
            )
            .with_sources(sources)
            .with_events(Events::sink(&self.events));
            Arc::new(engine)
        })
    }
}

impl calrep_engine {
    /// The replica's store (accounts included).
    pub(crate) fn replica(&self) -> &SqliteReplica {
        &self.replica
    }
}

impl Handle for calrep_engine {
    const NAME: &'static str = "calrep_engine";
}

/// Creates an engine from configuration text in `format` (a
/// `calrep_config_format`). Relative paths in it (the
/// replica, secret files, directory snapshots) start at `base_dir` (NULL or
/// empty: the current directory). The replica file is opened (created if
/// needed) now.
///
/// Thread safety: an engine may be used from several threads at once.
///
/// # Safety
///
/// `runtime` is a live runtime; `config`/`base_dir` point to their lengths
/// of bytes (or are NULL with length 0); `out` is writable; `error_out` is
/// NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_engine_new(
    runtime: *const calrep_runtime,
    config: *const u8,
    config_len: usize,
    format: u32,
    base_dir: *const u8,
    base_dir_len: usize,
    out: *mut *mut calrep_engine,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the caller passes NULL or a writable out-pointer.
        let out = unsafe { Out::new(out, "out")? };
        // SAFETY: the host keeps the runtime alive during the call.
        let runtime = unsafe { calrep_runtime::arg(runtime, "runtime")? };
        // SAFETY: lengths as documented.
        let (config, base_dir) = unsafe {
            (
                text(config, config_len, "config")?,
                text(base_dir, base_dir_len, "base_dir")?,
            )
        };
        // Taken as a number: a value C sends outside the enum is an error,
        // not undefined behaviour.
        let name = match format {
            f if f == calrep_config_format::Toml as u32 => "config.toml",
            f if f == calrep_config_format::Json as u32 => "config.json",
            other => {
                return Err(Failure::new(
                    calrep_status::InvalidArgument,
                    format!("format {other} is neither CALREP_CONFIG_FORMAT_TOML nor _JSON"),
                ));
            }
        };
        let mut config = Config::parse(config, name).map_err(Failure::from)?;
        config.base_dir = PathBuf::from(base_dir);
        let path = config.resolve_path(&config.replica.path);
        let replica = Arc::new(SqliteReplica::open(&path).map_err(Failure::from)?);
        let handle = calrep_engine {
            core: OnceLock::new(),
            config,
            tokens: Mutex::new(None),
            replica,
            runtime: Arc::clone(&runtime.inner),
            events: Arc::new(Events::default()),
        };
        out.put(handle.into_handle());
        Ok(())
    })
}

/// Frees an engine. NULL does nothing.
///
/// # Safety
///
/// `engine` is NULL or an engine from `calrep_engine_new` (a second free is
/// detected and does nothing), with no call on it still running.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_engine_free(engine: *mut calrep_engine) {
    let _ = guard(std::ptr::null_mut(), || {
        drop(calrep_engine::release(engine));
        Ok(())
    });
}

/// The engine and a task id from the arguments.
///
/// # Safety
///
/// As the exports that call it.
pub(crate) unsafe fn engine_and_task<'a>(
    engine: *const calrep_engine,
    task: *const u8,
    task_len: usize,
) -> Result<(&'a calrep_engine, TaskId), Failure> {
    // SAFETY: the host keeps the engine alive during the call.
    let engine = unsafe { calrep_engine::arg(engine, "engine")? };
    // SAFETY: `task_len` readable bytes.
    let task = unsafe { text(task, task_len, "task")? };
    Ok((engine, TaskId::new(task)))
}

/// Registers the callback that supplies access tokens to every site
/// configured with `host_tokens = true` (see `calrep_token_callback`).
/// `finalizer`, if not NULL, is called exactly once with `user_data` when
/// the engine and every run using the callback are gone (or at once, when
/// this call fails). Must come before the engine's first run, plan or
/// verify, which build its sources; a second registration replaces the
/// first.
///
/// # Safety
///
/// `engine` is live; `callback` and `finalizer` may be called from any
/// thread with `user_data` until the finalizer runs; `error_out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_engine_set_token_callback(
    engine: *const calrep_engine,
    callback: calrep_token_callback,
    user_data: *mut c_void,
    finalizer: calrep_finalizer,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    // Owned from here on, so that every failure below finalizes it once.
    let host = callback.map(|f| HostCallback {
        f,
        user_data,
        finalizer,
    });
    if host.is_none()
        && let Some(finalize) = finalizer
    {
        // SAFETY: the host's finalizer for its data, called once.
        unsafe { finalize(user_data) };
    }
    guard(error_out, move || {
        // SAFETY: the host keeps the engine alive during the call.
        let engine = unsafe { calrep_engine::arg(engine, "engine")? };
        let host =
            host.ok_or_else(|| Failure::new(calrep_status::NullParameter, "callback is NULL"))?;
        if engine.core.get().is_some() {
            return Err(Failure::new(
                calrep_status::InvalidArgument,
                "the token callback must be set before the engine's first run, plan or verify",
            ));
        }
        *engine.tokens.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(host));
        Ok(())
    })
}

/// Runs a task once and waits for it; writes the run report (JSON, as
/// `calrep run --json` prints it) to `*report_out`. `flags` combines
/// `CALREP_RUN_FORCE` and `CALREP_RUN_DRY_RUN`. A run whose mailboxes fail
/// still succeeds: the report says what failed.
///
/// Blocks the calling thread; must not be called from a runtime thread.
///
/// # Safety
///
/// `engine` is live; `task` points to `task_len` bytes; `report_out` is
/// writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_engine_run(
    engine: *const calrep_engine,
    task: *const u8,
    task_len: usize,
    flags: u32,
    report_out: *mut *mut calrep_string,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the caller passes NULL or a writable out-pointer.
        let report_out = unsafe { Out::new(report_out, "report_out")? };
        // SAFETY: as documented.
        let (engine, task) = unsafe { engine_and_task(engine, task, task_len)? };
        let options = run_options(flags, None);
        let report = engine
            .runtime
            .block_on(engine.core().run_task(&task, options))
            .map_err(Failure::from)?;
        report_out.put(calrep_string::boxed(report.to_json()));
        Ok(())
    })
}

/// What a run of the task would do, without writing anything: the source
/// is read and the report (JSON, as for `calrep_engine_run`) counts the
/// items and occurrences a run would add, change and remove. The same as
/// `calrep_engine_run` with `CALREP_RUN_DRY_RUN`.
///
/// Blocks the calling thread; must not be called from a runtime thread.
///
/// # Safety
///
/// As `calrep_engine_run`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_engine_plan(
    engine: *const calrep_engine,
    task: *const u8,
    task_len: usize,
    report_out: *mut *mut calrep_string,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    // SAFETY: the same contract.
    unsafe {
        calrep_engine_run(
            engine,
            task,
            task_len,
            CALREP_RUN_DRY_RUN,
            report_out,
            error_out,
        )
    }
}

/// Compares each of the task's mailboxes with a full read of its source;
/// writes the result (JSON with per-mailbox differences) to `*result_out`.
///
/// Blocks the calling thread; must not be called from a runtime thread.
///
/// # Safety
///
/// As `calrep_engine_run`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_engine_verify(
    engine: *const calrep_engine,
    task: *const u8,
    task_len: usize,
    result_out: *mut *mut calrep_string,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the caller passes NULL or a writable out-pointer.
        let result_out = unsafe { Out::new(result_out, "result_out")? };
        // SAFETY: as documented.
        let (engine, task) = unsafe { engine_and_task(engine, task, task_len)? };
        let report = engine
            .runtime
            .block_on(engine.core().verify(&task))
            .map_err(Failure::from)?;
        let json = crate::string::json_pretty(&report)?;
        result_out.put(json);
        Ok(())
    })
}

/// A mailbox's occurrences in the replica that overlap [`from`, `to`)
/// (RFC 3339 instants), in order of start, as a JSON array of objects with
/// `calendar`, `item`, `subject` and `occurrence` (`start`, `end`,
/// `original_start`, `is_exception`).
///
/// # Safety
///
/// `engine` is live; each text pointer points to its length of bytes;
/// `json_out` is writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_engine_occurrences(
    engine: *const calrep_engine,
    mailbox: *const u8,
    mailbox_len: usize,
    from: *const u8,
    from_len: usize,
    to: *const u8,
    to_len: usize,
    json_out: *mut *mut calrep_string,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the caller passes NULL or a writable out-pointer.
        let json_out = unsafe { Out::new(json_out, "json_out")? };
        // SAFETY: the host keeps the engine alive during the call.
        let engine = unsafe { calrep_engine::arg(engine, "engine")? };
        // SAFETY: lengths as documented.
        let (mailbox, from, to) = unsafe {
            (
                text(mailbox, mailbox_len, "mailbox")?,
                text(from, from_len, "from")?,
                text(to, to_len, "to")?,
            )
        };
        let address = address(mailbox)?;
        let (from, to) = (instant("from", from)?, instant("to", to)?);
        let known = engine
            .runtime
            .block_on(engine.replica.has_mailbox(&address))
            .map_err(Failure::from)?;
        if !known {
            return Err(Failure::new(
                calrep_status::MailboxUnknown,
                format!("the replica has no mailbox {mailbox}"),
            ));
        }
        let found = engine
            .runtime
            .block_on(engine.replica.occurrences(&address, from, to))
            .map_err(Failure::from)?;
        let json = crate::string::json(&found)?;
        json_out.put(json);
        Ok(())
    })
}

/// `calrep_engine_export` flag: attachment contents inline (base64)
/// instead of `urn:sha256:` references.
pub const CALREP_EXPORT_INLINE_ATTACHMENTS: u32 = 1;

/// A mailbox's replica as one RFC 5545 iCalendar document (every calendar,
/// or the one whose name or id is `calendar`, NULL/empty for all).
/// `flags`: `CALREP_EXPORT_INLINE_ATTACHMENTS`.
///
/// # Safety
///
/// `engine` is live; each text pointer points to its length of bytes (or is
/// NULL with length 0 for `calendar`); `ical_out` is writable; `error_out`
/// is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_engine_export(
    engine: *const calrep_engine,
    mailbox: *const u8,
    mailbox_len: usize,
    calendar: *const u8,
    calendar_len: usize,
    flags: u32,
    ical_out: *mut *mut calrep_string,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the caller passes NULL or a writable out-pointer.
        let ical_out = unsafe { Out::new(ical_out, "ical_out")? };
        // SAFETY: the host keeps the engine alive during the call.
        let engine = unsafe { calrep_engine::arg(engine, "engine")? };
        // SAFETY: lengths as documented.
        let (mailbox, calendar) = unsafe {
            (
                text(mailbox, mailbox_len, "mailbox")?,
                text(calendar, calendar_len, "calendar")?,
            )
        };
        let address = address(mailbox)?;
        let style = if flags & CALREP_EXPORT_INLINE_ATTACHMENTS != 0 {
            AttachmentStyle::Inline
        } else {
            AttachmentStyle::HashUri
        };
        let calendar = (!calendar.is_empty()).then_some(calendar);
        let exported = engine
            .runtime
            .block_on(export_mailbox(
                engine.replica.as_ref(),
                &address,
                calendar,
                style,
                chrono::Utc::now(),
            ))
            .map_err(Failure::from)?;
        ical_out.put(calrep_string::boxed(exported.text));
        Ok(())
    })
}

/// Run options from `calrep_engine_run` flags.
pub(crate) fn run_options(flags: u32, cancel: Option<StopSignal>) -> RunOptions {
    let mut options = RunOptions::default();
    options.force = flags & CALREP_RUN_FORCE != 0;
    options.dry_run = flags & CALREP_RUN_DRY_RUN != 0;
    options.cancel = cancel;
    options
}

/// Sets the callback that receives every progress event of the engine's
/// runs as JSON, replacing the previous one (whose finalizer then runs);
/// NULL `callback` removes it. `finalizer`, if not NULL, is called exactly
/// once with `user_data`: when the callback is replaced or the engine is
/// freed. Events also go to the queue `calrep_engine_next_event` reads.
/// The callback must not set or remove the callback itself.
///
/// # Safety
///
/// `engine` is live; `callback` and `finalizer` may be called from any
/// thread with `user_data` until the finalizer runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_engine_set_event_callback(
    engine: *const calrep_engine,
    callback: calrep_event_callback,
    user_data: *mut c_void,
    finalizer: calrep_finalizer,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the host keeps the engine alive during the call.
        let engine = unsafe { calrep_engine::arg(engine, "engine")? };
        let callback = callback.map(|f| HostCallback {
            f,
            user_data,
            finalizer,
        });
        if callback.is_none()
            && let Some(finalize) = finalizer
        {
            // Nothing keeps user_data: finalize it at once, as promised.
            // SAFETY: the host's finalizer for its data, called once.
            unsafe { finalize(user_data) };
        }
        engine.events.set_callback(callback);
        Ok(())
    })
}

/// The oldest progress event not yet taken (JSON), waiting up to
/// `timeout_ms` for one; `CALREP_STATUS_TIMEOUT` if none came. The queue
/// keeps the latest 10,000 events.
///
/// Blocks the calling thread up to the timeout.
///
/// # Safety
///
/// `engine` is live; `json_out` is writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_engine_next_event(
    engine: *const calrep_engine,
    timeout_ms: u32,
    json_out: *mut *mut calrep_string,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the caller passes NULL or a writable out-pointer.
        let json_out = unsafe { Out::new(json_out, "json_out")? };
        // SAFETY: the host keeps the engine alive during the call.
        let engine = unsafe { calrep_engine::arg(engine, "engine")? };
        let event = engine
            .events
            .next(Duration::from_millis(u64::from(timeout_ms)))
            .ok_or_else(|| {
                Failure::new(
                    calrep_status::Timeout,
                    format!("no event within {timeout_ms} ms"),
                )
            })?;
        json_out.put(calrep_string::boxed(event));
        Ok(())
    })
}

/// A mailbox address argument.
fn address(mailbox: &str) -> Result<calrep_core::EmailAddress, Failure> {
    mailbox.parse().map_err(|e: calrep_core::NameError| {
        Failure::new(calrep_status::InvalidArgument, e.to_string())
    })
}

/// An RFC 3339 instant argument.
pub(crate) fn instant(name: &str, value: &str) -> Result<chrono::DateTime<chrono::Utc>, Failure> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| {
            Failure::new(
                calrep_status::InvalidArgument,
                format!("{name} {value:?} is not an RFC 3339 instant (2026-03-01T00:00:00Z): {e}"),
            )
        })
}
