//! The one tokio runtime every engine and simulator of the process shares,
//! and waiting on it with the GIL released while Ctrl-C still works.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use calrep_core::engine::StopSignal;
use pyo3::prelude::*;

use crate::errors::{Kind, error};

/// The shared runtime (started on first use).
pub(crate) fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("calrep-worker")
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| error(Kind::Calrep, format!("cannot start calrep's runtime: {e}")))
}

/// Set by Python's `atexit`: calrep's threads no longer enter Python.
static CLOSING: AtomicBool = AtomicBool::new(false);
/// calrep threads inside Python right now.
static IN_PYTHON: AtomicUsize = AtomicUsize::new(0);
/// How long the interpreter's exit waits for calrep threads inside Python.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// Runs `f` with the GIL from a thread calrep started (a runtime worker, a
/// blocking-pool thread), unless the interpreter is shutting down: then
/// `None`, and nothing touches Python.
///
/// Why: a thread that takes the GIL while the interpreter finalizes is
/// ended by CPython with `pthread_exit`, which unwinds through Rust frames
/// and aborts the process (SIGABRT at exit). That happened when a worker
/// settled an awaited run: `call_soon_threadsafe` releases the GIL to
/// write to the loop's wake-up socket, the main thread finished the
/// script meanwhile, and the worker then asked for the GIL back. The
/// [`before_exit`] hook closes the door and waits for those inside.
pub(crate) fn attach_from_worker<R>(f: impl FnOnce(Python<'_>) -> R) -> Option<R> {
    struct Leaving;
    impl Drop for Leaving {
        fn drop(&mut self) {
            IN_PYTHON.fetch_sub(1, Ordering::SeqCst);
        }
    }
    IN_PYTHON.fetch_add(1, Ordering::SeqCst);
    let _leaving = Leaving;
    if CLOSING.load(Ordering::SeqCst) {
        return None;
    }
    Some(Python::attach(f))
}

/// Registered with `atexit` when the module is imported: from now on no
/// calrep thread enters Python, and the interpreter waits (without the
/// GIL, at most [`EXIT_WAIT`]) for those already inside to leave before it
/// finalizes.
#[pyfunction]
pub(crate) fn before_exit(py: Python<'_>) {
    CLOSING.store(true, Ordering::SeqCst);
    let started = Instant::now();
    py.detach(|| {
        while IN_PYTHON.load(Ordering::SeqCst) > 0 && started.elapsed() < EXIT_WAIT {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// How often a waiting call looks for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(100);

/// Runs `work` on the runtime and waits for it without the GIL, so other
/// Python threads go on. Ctrl-C (any pending signal handler that raises)
/// asks `cancel` to stop the work and waits for it to wind down, then
/// raises; without `cancel`, the work is dropped at once.
pub(crate) fn wait<T: Send + 'static>(
    py: Python<'_>,
    work: impl Future<Output = T> + Send + 'static,
    cancel: Option<&StopSignal>,
) -> PyResult<T> {
    let rt = runtime()?;
    let mut handle = rt.spawn(work);
    loop {
        let done = py
            .detach(|| rt.block_on(async { tokio::time::timeout(SIGNAL_POLL, &mut handle).await }));
        if let Ok(joined) = done {
            return joined.map_err(|e| error(Kind::Calrep, format!("calrep's work failed: {e}")));
        }
        if let Err(interrupt) = py.check_signals() {
            match cancel {
                Some(cancel) => {
                    cancel.request();
                    // The run finishes its current batches; its result is
                    // dropped, the interrupt wins.
                    let _ = py.detach(|| rt.block_on(&mut handle));
                }
                None => handle.abort(),
            }
            return Err(interrupt);
        }
    }
}
