//! `calrep.Simulator`: the simulator serving a generated organisation over
//! EWS and Microsoft Graph, for tests (a context manager).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use calrep_core::demo::DemoOrganisation;
use calrep_core::sim::{SimOptions, Simulator};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::{Kind, error};
use crate::runtime::{runtime, wait};

/// A running simulator on 127.0.0.1.
#[pyclass(module = "calrep._calrep", name = "Simulator", frozen)]
#[derive(Debug)]
pub(crate) struct PySimulator {
    sim: Mutex<Option<Simulator>>,
    url: String,
    graph_url: String,
    authority: String,
    addresses: Vec<String>,
}

impl PySimulator {
    fn with<T>(&self, f: impl FnOnce(&Simulator) -> T) -> PyResult<T> {
        self.sim
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(f)
            .ok_or_else(|| error(Kind::Calrep, "the simulator is stopped"))
    }
}

#[pymethods]
impl PySimulator {
    /// Starts serving `mailboxes` (10 to 100000) generated from `seed`,
    /// after `change_rounds` rounds of changes (as `calrep sim` does).
    #[new]
    #[pyo3(signature = (*, seed = 7, mailboxes = 20, change_rounds = 0))]
    fn new(py: Python<'_>, seed: u64, mailboxes: usize, change_rounds: u32) -> PyResult<Self> {
        if !(10..=100_000).contains(&mailboxes) {
            return Err(PyValueError::new_err(format!(
                "mailboxes must be between 10 and 100000, not {mailboxes}"
            )));
        }
        let demo = Arc::new(DemoOrganisation::generate(seed, mailboxes, change_rounds));
        let served = Arc::clone(&demo);
        let sim = wait(
            py,
            async move { Simulator::start_demo(&served, SimOptions::default()).await },
            None,
        )?
        .map_err(|e| error(Kind::Calrep, format!("the simulator cannot listen: {e}")))?;
        Ok(Self {
            url: sim.url(),
            graph_url: sim.graph_url(),
            authority: sim.authority(),
            sim: Mutex::new(Some(sim)),
            addresses: demo.addresses.iter().map(ToString::to_string).collect(),
        })
    }

    /// The EWS URL.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }

    /// The Microsoft Graph base URL (`…/v1.0`), for a `graph` site's `url`.
    #[getter]
    fn graph_url(&self) -> &str {
        &self.graph_url
    }

    /// The token authority, for a `graph` site's `authority` (any tenant).
    #[getter]
    fn authority(&self) -> &str {
        &self.authority
    }

    /// The app registration's client id, for a `graph` site.
    #[getter]
    fn client_id(&self) -> &'static str {
        SimOptions::CLIENT_ID
    }

    /// The app registration's client secret.
    #[getter]
    fn client_secret(&self) -> &'static str {
        SimOptions::CLIENT_SECRET
    }

    /// The Basic account's user name.
    #[getter]
    fn username(&self) -> &'static str {
        SimOptions::USERNAME
    }

    /// The Basic account's password.
    #[getter]
    fn password(&self) -> &'static str {
        SimOptions::PASSWORD
    }

    /// The address of the group holding every mailbox.
    #[getter]
    fn all_staff(&self) -> &'static str {
        DemoOrganisation::ALL_STAFF_ADDRESS
    }

    /// The mailboxes it serves.
    #[getter]
    fn mailboxes(&self) -> Vec<String> {
        self.addresses.clone()
    }

    /// A fresh access token it accepts (for `host_tokens` sites).
    fn issue_token(&self) -> PyResult<String> {
        self.with(Simulator::issue_token)
    }

    /// Waits `seconds` before answering each EWS request.
    fn set_latency(&self, seconds: f64) -> PyResult<()> {
        let latency = Duration::try_from_secs_f64(seconds)
            .map_err(|_| PyValueError::new_err(format!("latency must be >= 0, not {seconds}")))?;
        self.with(|s| s.set_latency(latency))
    }

    /// Requests answered so far, by operation.
    fn requests(&self) -> PyResult<std::collections::BTreeMap<String, u64>> {
        self.with(Simulator::requests)
    }

    /// Stops serving (again: nothing).
    fn stop(&self) -> PyResult<()> {
        let taken = self
            .sim
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(sim) = taken {
            // Stopping aborts the server's task, which needs the runtime.
            let _entered = runtime()?.enter();
            sim.stop();
        }
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.stop()?;
        Ok(false)
    }
}
