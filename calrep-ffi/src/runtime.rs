//! The runtime the host owns: the worker threads calrep's async work runs on.

use std::sync::Arc;
use std::time::Duration;

use crate::boundary::{Out, guard};
use crate::error::{Failure, calrep_error};
use crate::handle::Handle;
use crate::status::calrep_status;

/// A tokio runtime owned by the host. Engines and simulators made with it
/// keep it alive; freeing the handle shuts it down once the last of them is
/// freed too.
#[derive(Debug)]
pub struct calrep_runtime {
    pub(crate) inner: Arc<tokio::runtime::Runtime>,
}

impl Handle for calrep_runtime {
    const NAME: &'static str = "calrep_runtime";
}

/// Creates a runtime with `worker_threads` threads (0: one per core).
///
/// Thread safety: the runtime may be used from any thread.
///
/// # Safety
///
/// `out` is a writable pointer; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_runtime_new(
    worker_threads: u32,
    out: *mut *mut calrep_runtime,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the caller passes NULL or a writable out-pointer.
        let out = unsafe { Out::new(out, "out")? };
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if worker_threads > 0 {
            builder.worker_threads(worker_threads as usize);
        }
        let runtime = builder
            .enable_all()
            .thread_name("calrep-worker")
            .build()
            .map_err(|e| {
                Failure::new(calrep_status::Io, format!("cannot start the runtime: {e}"))
            })?;
        let handle = calrep_runtime {
            inner: Arc::new(runtime),
        };
        out.put(handle.into_handle());
        Ok(())
    })
}

/// Frees a runtime handle. NULL does nothing. When no engine or simulator
/// still uses it, its threads stop (waiting at most 10 s for tasks).
///
/// Must not be called from one of the runtime's own threads (a callback).
///
/// # Safety
///
/// `runtime` is NULL or a runtime from `calrep_runtime_new` (a second
/// free is detected and does nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_runtime_free(runtime: *mut calrep_runtime) {
    let _ = guard(std::ptr::null_mut(), || {
        let Some(handle) = calrep_runtime::release(runtime) else {
            return Ok(());
        };
        if let Ok(rt) = Arc::try_unwrap(handle.inner) {
            rt.shutdown_timeout(Duration::from_secs(10));
        }
        Ok(())
    });
}
