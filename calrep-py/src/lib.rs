//! The Python extension module `calrep._calrep`.
//!
//! So far it exposes only `__version__`; the engine API arrives with the
//! Python package work (see the README's roadmap).

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
#[pyo3(name = "_calrep")]
fn calrep_py(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
