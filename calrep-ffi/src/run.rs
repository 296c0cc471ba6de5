//! Runs started without blocking: a completion callback, and cancel.

use std::ffi::c_void;
use std::sync::Arc;

use calrep_core::engine::StopSignal;

use crate::boundary::{Out, guard};
use crate::engine::{calrep_engine, engine_and_task, run_options};
use crate::error::{Failure, calrep_error};
use crate::events::{HostCallback, calrep_finalizer};
use crate::handle::Handle;
use crate::status::calrep_status;
use crate::string::calrep_string;

/// Called once when a run started by `calrep_engine_run_start` ends: with
/// `CALREP_STATUS_OK` and the report (JSON), or a failure status and its
/// error. Both pointers are valid only during the call (the library frees
/// them). Called on a runtime thread; must not unwind.
pub type calrep_run_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        status: calrep_status,
        report: *const calrep_string,
        error: *const calrep_error,
    ),
>;

/// A run in progress. Freeing the handle does not stop the run (use
/// `calrep_run_cancel` first); the completion callback still comes.
#[derive(Debug)]
pub struct calrep_run {
    cancel: StopSignal,
}

impl Handle for calrep_run {
    const NAME: &'static str = "calrep_run";
}

type Completion =
    unsafe extern "C" fn(*mut c_void, calrep_status, *const calrep_string, *const calrep_error);

/// Starts a task's run on the engine's runtime and returns at once.
/// `callback` is called exactly once when the run ends; then `finalizer`
/// (if not NULL) is called once with `user_data`. `flags` as for
/// `calrep_engine_run`.
///
/// # Safety
///
/// `engine` is live (the run keeps what it needs alive, so the engine may
/// be freed meanwhile); `task` points to `task_len` bytes; `callback` is not
/// NULL; `run_out` is writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_engine_run_start(
    engine: *const calrep_engine,
    task: *const u8,
    task_len: usize,
    flags: u32,
    callback: calrep_run_callback,
    user_data: *mut c_void,
    finalizer: calrep_finalizer,
    run_out: *mut *mut calrep_run,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the caller passes NULL or a writable out-pointer.
        let run_out = unsafe { Out::new(run_out, "run_out")? };
        let callback = callback
            .ok_or_else(|| Failure::new(calrep_status::NullParameter, "callback is NULL"))?;
        // SAFETY: as documented.
        let (engine, task) = unsafe { engine_and_task(engine, task, task_len)? };
        let cancel = StopSignal::new();
        let options = run_options(flags, Some(cancel.clone()));
        let host = HostCallback::<Completion> {
            f: callback,
            user_data,
            finalizer,
        };
        let core = Arc::clone(engine.core());
        engine.runtime.spawn(async move {
            let result = core.run_task(&task, options).await;
            let host = host;
            match result {
                Ok(report) => {
                    let report = calrep_string::boxed(report.to_json());
                    // SAFETY: the host's callback and data; the report lives
                    // until the call returns.
                    unsafe {
                        (host.f)(host.user_data, calrep_status::Ok, report, std::ptr::null())
                    };
                    // SAFETY: made just above, freed once.
                    unsafe { crate::string::calrep_string_free(report) };
                }
                Err(e) => {
                    let failure = Failure::from(e);
                    let status = failure.status;
                    let error = failure.into_error().into_handle();
                    // SAFETY: as above, with the error.
                    unsafe { (host.f)(host.user_data, status, std::ptr::null(), error) };
                    // SAFETY: made just above, freed once.
                    unsafe { crate::error::calrep_error_free(error) };
                }
            }
            // Dropping `host` runs the finalizer, exactly once.
        });
        let handle = calrep_run { cancel };
        run_out.put(handle.into_handle());
        Ok(())
    })
}

/// Asks the run to stop: each mailbox finishes the batch it is writing,
/// mailboxes not started are skipped, and the report says so. The next run
/// resumes from the last batch. Calling it again does nothing.
///
/// # Safety
///
/// `run` is live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_run_cancel(
    run: *const calrep_run,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the host keeps the run handle alive during the call.
        let run = unsafe { calrep_run::arg(run, "run")? };
        run.cancel.request();
        Ok(())
    })
}

/// Frees a run handle (the run goes on). NULL does nothing.
///
/// # Safety
///
/// `run` is NULL or a run from `calrep_engine_run_start` (a second free is
/// detected and does nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_run_free(run: *mut calrep_run) {
    drop(calrep_run::release(run));
}
