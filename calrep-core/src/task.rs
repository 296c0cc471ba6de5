//! Tasks: a site, a definition, a schedule and a group.

use serde::{Deserialize, Serialize};

use crate::group::Group;
use crate::{DefinitionId, ScheduleId, SiteId, TaskId};

/// What replicates, how and when: site + definition + schedule + group.
///
/// ```
/// let task: calrep_core::Task = toml::from_str(r#"
///     id = "sales-nightly"
///     site = "hq"
///     definition = "default"
///     schedule = "nightly"
///     group = { ad_group = "Sales" }
/// "#)?;
/// assert!(task.enabled);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Task {
    /// The task's id.
    pub id: TaskId,
    /// Free text for operators.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The site that runs it.
    pub site: SiteId,
    /// How it replicates.
    pub definition: DefinitionId,
    /// When it runs.
    pub schedule: ScheduleId,
    /// Which mailboxes.
    pub group: Group,
    /// Disabled tasks are kept but never run.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}
