//! The one tokio runtime every engine and simulator of the process shares,
//! and waiting on it with the GIL released while Ctrl-C still works.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use calrep_core::engine::Shutdown;
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

/// How often a waiting call looks for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(100);

/// Runs `work` on the runtime and waits for it without the GIL, so other
/// Python threads go on. Ctrl-C (any pending signal handler that raises)
/// asks `cancel` to stop the work and waits for it to wind down, then
/// raises; without `cancel`, the work is dropped at once.
pub(crate) fn wait<T: Send + 'static>(
    py: Python<'_>,
    work: impl Future<Output = T> + Send + 'static,
    cancel: Option<&Shutdown>,
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
