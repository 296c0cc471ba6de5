//! The simulator (EWS and Microsoft Graph), for hosts' own tests.

use std::sync::Arc;

use calrep_core::demo::DemoOrganisation;
use calrep_core::sim::{SimOptions, Simulator};

use crate::boundary::{Out, guard};
use crate::error::{Failure, calrep_error};
use crate::handle::Handle;
use crate::runtime::calrep_runtime;
use crate::status::calrep_status;
use crate::string::calrep_string;

/// A running EWS simulator serving a generated demo organisation on
/// 127.0.0.1. Its Basic account is `svc-calrep@demo.example` with password
/// `calrep-sim`; its groups are expanded by address
/// (`all-staff@demo.example` holds everyone).
#[derive(Debug)]
pub struct calrep_sim {
    sim: Option<Simulator>,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl Handle for calrep_sim {
    const NAME: &'static str = "calrep_sim";
}

/// Starts a simulator on a free port, serving `mailboxes` (10 to 100000)
/// generated from `seed`.
///
/// # Safety
///
/// `runtime` is live; `out` is writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_sim_start(
    runtime: *const calrep_runtime,
    seed: u64,
    mailboxes: u32,
    out: *mut *mut calrep_sim,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the caller passes NULL or a writable out-pointer.
        let out = unsafe { Out::new(out, "out")? };
        // SAFETY: the host keeps the runtime alive during the call.
        let runtime = unsafe { calrep_runtime::arg(runtime, "runtime")? };
        if !(10..=100_000).contains(&mailboxes) {
            return Err(Failure::new(
                calrep_status::InvalidArgument,
                format!("mailboxes must be between 10 and 100000, got {mailboxes}"),
            ));
        }
        let demo = DemoOrganisation::generate(seed, mailboxes as usize, 0);
        let rt = Arc::clone(&runtime.inner);
        let sim = rt
            .block_on(Simulator::start_demo(&demo, SimOptions::default()))
            .map_err(|e| Failure::new(calrep_status::Io, format!("cannot listen: {e}")))?;
        let handle = calrep_sim {
            sim: Some(sim),
            runtime: rt,
        };
        out.put(handle.into_handle());
        Ok(())
    })
}

/// The simulator's EWS URL (`http://127.0.0.1:PORT/EWS/Exchange.asmx`).
///
/// # Safety
///
/// `sim` is live; `url_out` is writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_sim_url(
    sim: *const calrep_sim,
    url_out: *mut *mut calrep_string,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    // SAFETY: forwarded from this function's own contract.
    unsafe { text_of(sim, url_out, error_out, Simulator::url) }
}

/// The simulator's Microsoft Graph base URL
/// (`http://127.0.0.1:PORT/v1.0`), for a `[sites.graph]` `url`; its token
/// authority is the same origin (`calrep_sim_authority`). The app
/// registration is client id `6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d` with
/// secret `calrep-sim-app-secret`, in any tenant.
///
/// # Safety
///
/// `sim` is live; `url_out` is writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_sim_graph_url(
    sim: *const calrep_sim,
    url_out: *mut *mut calrep_string,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    // SAFETY: forwarded from this function's own contract.
    unsafe { text_of(sim, url_out, error_out, Simulator::graph_url) }
}

/// The simulator's token authority (`http://127.0.0.1:PORT`), for a
/// `[sites.graph]` `authority`.
///
/// # Safety
///
/// `sim` is live; `url_out` is writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_sim_authority(
    sim: *const calrep_sim,
    url_out: *mut *mut calrep_string,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    // SAFETY: forwarded from this function's own contract.
    unsafe { text_of(sim, url_out, error_out, Simulator::authority) }
}

/// A fresh access token the simulator accepts (an app-only token, as its
/// token endpoint would issue): what a host's token callback hands over in
/// its own tests of `host_tokens = true` sites.
///
/// # Safety
///
/// `sim` is live; `token_out` is writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_sim_issue_token(
    sim: *const calrep_sim,
    token_out: *mut *mut calrep_string,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    // SAFETY: forwarded from this function's own contract.
    unsafe { text_of(sim, token_out, error_out, Simulator::issue_token) }
}

/// Makes the simulator wait `latency_ms` before answering each EWS request
/// (0: answer at once), as a slow or distant server does: for hosts that
/// test progress display, timeouts or cancellation.
///
/// # Safety
///
/// `sim` is live; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_sim_set_latency(
    sim: *const calrep_sim,
    latency_ms: u32,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the host keeps the simulator alive during the call.
        let sim = unsafe { calrep_sim::arg(sim, "sim")? };
        if let Some(s) = &sim.sim {
            s.set_latency(std::time::Duration::from_millis(u64::from(latency_ms)));
        }
        Ok(())
    })
}

/// Writes `f(sim)` to `out` as a new string: the simulator's text getters.
///
/// # Safety
///
/// `sim` is live; `out` is writable; `error_out` is NULL or writable.
unsafe fn text_of(
    sim: *const calrep_sim,
    out: *mut *mut calrep_string,
    error_out: *mut *mut calrep_error,
    f: fn(&Simulator) -> String,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the caller passes NULL or a writable out-pointer.
        let out = unsafe { Out::new(out, "out")? };
        // SAFETY: the host keeps the simulator alive during the call.
        let sim = unsafe { calrep_sim::arg(sim, "sim")? };
        out.put(calrep_string::boxed(
            sim.sim.as_ref().map(f).unwrap_or_default(),
        ));
        Ok(())
    })
}

/// Stops and frees a simulator. NULL does nothing.
///
/// # Safety
///
/// `sim` is NULL or a simulator from `calrep_sim_start` (a second free is
/// detected and does nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_sim_free(sim: *mut calrep_sim) {
    let _ = guard(std::ptr::null_mut(), || {
        if let Some(mut handle) = calrep_sim::release(sim) {
            // Stopping aborts the server's task, which needs the runtime.
            let _entered = handle.runtime.enter();
            if let Some(s) = handle.sim.take() {
                s.stop();
            }
        }
        Ok(())
    });
}
