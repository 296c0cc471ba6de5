//! `calrep.Config`: a validated configuration, from a file, text or a dict.

use std::path::PathBuf;

use calrep_core::{Config, Format};
use pyo3::exceptions::{PyFileNotFoundError, PyValueError};
use pyo3::prelude::*;

use crate::errors::{Kind, core_error, error};

/// A validated configuration (sites, definitions, schedules, tasks). Every
/// problem is reported at once in a `ConfigError`.
#[pyclass(module = "calrep._calrep", name = "Config", frozen)]
#[derive(Debug, Clone)]
pub(crate) struct PyConfig {
    pub(crate) config: Config,
    /// The file it came from, reread by `Engine.serve`.
    pub(crate) path: Option<PathBuf>,
}

#[pymethods]
impl PyConfig {
    /// Loads a TOML or JSON file (by its extension); relative paths in it
    /// start at the file's folder.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        if !path.is_file() {
            return Err(PyFileNotFoundError::new_err(format!(
                "no configuration file at {}",
                path.display()
            )));
        }
        let config = Config::load(&path).map_err(core_error)?;
        Ok(Self {
            config,
            path: Some(path),
        })
    }

    /// Parses configuration text in `format` (`"toml"` or `"json"`);
    /// relative paths start at `base_dir` (default: the current folder).
    #[staticmethod]
    #[pyo3(signature = (text, format = "toml", base_dir = None))]
    fn from_text(text: &str, format: &str, base_dir: Option<PathBuf>) -> PyResult<Self> {
        let format = match format.to_ascii_lowercase().as_str() {
            "toml" => Format::Toml,
            "json" => Format::Json,
            other => {
                return Err(PyValueError::new_err(format!(
                    "format must be \"toml\" or \"json\", not {other:?}"
                )));
            }
        };
        let name = match format {
            Format::Toml => "<config text>.toml",
            _ => "<config text>.json",
        };
        let mut config = Config::parse_as(text, name, format).map_err(core_error)?;
        config.base_dir = base_dir.unwrap_or_default();
        Ok(Self { config, path: None })
    }

    /// The configuration as JSON text (secrets appear only as references).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.config)
            .map_err(|e| error(Kind::Config, format!("cannot write the configuration: {e}")))
    }

    /// The ids of the configured tasks.
    #[getter]
    fn task_ids(&self) -> Vec<String> {
        self.config.tasks.iter().map(|t| t.id.to_string()).collect()
    }

    /// The folder relative paths start at.
    #[getter]
    fn base_dir(&self) -> PathBuf {
        self.config.base_dir.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "Config(sites={}, tasks={:?})",
            self.config.sites.len(),
            self.task_ids()
        )
    }
}
