//! The configuration document: sites, definitions, schedules, tasks, the
//! directory source and the replica location, loaded from TOML or JSON and
//! checked as a whole.

mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::document::{self, Format, Problem, Problems, Report};
use crate::group::{Directory, DirectoryError, SnapshotDirectory};
use crate::site::DirectorySource;
use crate::{Definition, DefinitionId, Schedule, ScheduleId, Site, SiteId, Task, TaskId};

/// The whole configuration of one calrep installation.
///
/// Load it with [`Config::load`] (or [`Config::parse`] for text), which
/// reports every problem at once, each with the file and the path:
///
/// ```
/// use calrep_core::{Config, ConfigError};
/// let text = r#"
/// [[schedules]]
/// id = "nightly"
/// time_zone = "Europe/Atlantis"
/// when.daily.once.start = "02:00"
///
/// [[tasks]]
/// id = "sales"
/// site = "hq"
/// definition = "default"
/// schedule = "nightly"
/// group = { mailbox = "alice@example.com" }
/// colour = "blue"
/// "#;
/// let Err(ConfigError::Invalid(problems)) = Config::parse(text, "calrep.toml") else { panic!() };
/// let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
/// assert!(lines.contains(&r#"calrep.toml: tasks[0].site: no site named "hq""#.to_owned()));
/// assert!(lines.contains(&"calrep.toml: tasks[0].colour: unknown key".to_owned()));
/// assert!(lines.iter().any(|l| l.starts_with("calrep.toml: schedules[0].time_zone: unknown time zone")));
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Config {
    /// Where the replica is kept.
    #[serde(default)]
    pub replica: ReplicaConfig,
    /// The directory used by sites that do not name their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<DirectorySource>,
    /// How the engine works: concurrency, leases, batch sizes, horizon.
    #[serde(default)]
    pub engine: EngineSettings,
    /// Installations and their connections.
    #[serde(default)]
    pub sites: Vec<Site>,
    /// How replication runs.
    #[serde(default)]
    pub definitions: Vec<Definition>,
    /// When it runs.
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    /// What runs.
    #[serde(default)]
    pub tasks: Vec<Task>,
    /// Continuity access: where people read the replica in an outage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessConfig>,
    /// The folder relative paths start from: the configuration file's folder.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The name problems are reported under (the file name).
    #[serde(skip)]
    pub source_name: String,
}

/// The read-only front end (`calrep serve`, `calrep serve --access-only`).
///
/// ```
/// let config = calrep_core::Config::parse("[access]\nlisten = \"127.0.0.1:8008\"\n", "calrep.toml")?;
/// assert_eq!(config.access.map(|a| a.listen), Some("127.0.0.1:8008".to_owned()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AccessConfig {
    /// The address and port it listens on, e.g. `127.0.0.1:8008`.
    pub listen: String,
    /// A TLS-terminating proxy is in front of it. Without TLS of its own,
    /// a listener on anything but loopback is refused unless this is set:
    /// app passwords must not cross a network in clear text.
    #[serde(default)]
    pub behind_tls_proxy: bool,
    /// Serve TLS with this PEM certificate chain (leaf first)…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_file: Option<PathBuf>,
    /// …and this PEM private key (relative paths start at the
    /// configuration file's folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_file: Option<PathBuf>,
    /// The URL people reach the front end at, e.g.
    /// `https://calendar.example.com` behind a proxy; feed URLs are made
    /// from it. Default: `http(s)://{listen}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

impl AccessConfig {
    /// The URL feeds and pages are reached at, without a trailing `/`.
    ///
    /// ```
    /// let text = "[access]\nlisten = \"127.0.0.1:8008\"\nbehind_tls_proxy = true\npublic_url = \"https://cal.example.com/\"\n";
    /// let config = calrep_core::Config::parse(text, "calrep.toml")?;
    /// assert_eq!(config.access.map(|a| a.base_url()).as_deref(), Some("https://cal.example.com"));
    /// let plain = calrep_core::Config::parse("[access]\nlisten = \"127.0.0.1:8008\"\n", "calrep.toml")?;
    /// assert_eq!(plain.access.map(|a| a.base_url()).as_deref(), Some("http://127.0.0.1:8008"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn base_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let tls = self.certificate_file.is_some() && self.private_key_file.is_some();
                let scheme = if tls { "https" } else { "http" };
                format!("{scheme}://{}", self.listen)
            }
        }
    }
}

/// Where and how the replica is stored: an SQLite file (the default, for
/// one host), or a PostgreSQL database that several hosts share.
///
/// ```toml
/// [replica]
/// path = "replica.db"
///
/// # or, for several hosts:
/// [replica.postgres]
/// url = "postgres://calrep@db.example.com/calrep"
/// password_env = "CALREP_DB_PASSWORD"   # or password_file
/// # tls = true                          # the default unless the host is loopback
/// # ca_file = "db-ca.pem"               # else the system's roots
/// # pool_size = 16
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReplicaConfig {
    /// The replica database file; relative paths start at the configuration
    /// file's folder.
    #[serde(default = "ReplicaConfig::default_path")]
    pub path: PathBuf,
    /// A shared PostgreSQL store instead of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<PostgresConfig>,
}

/// The PostgreSQL database several hosts share (`[replica.postgres]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PostgresConfig {
    /// The connection string, without a password (`postgres://user@host/db`
    /// or `key=value` pairs).
    pub url: String,
    /// The environment variable holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// The file holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// Whether to encrypt the connection with TLS (verifying the server's
    /// certificate). The default is on, except when every host the URL
    /// names is this machine (a loopback address, `localhost` or a socket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
    /// PEM certificates to trust for the server instead of the system's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The most connections this host opens (16 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_size: Option<usize>,
}

impl PostgresConfig {
    /// The password, by reference, if one is configured.
    pub fn password(&self) -> Option<Result<crate::SecretRef, &'static str>> {
        if self.password_env.is_none() && self.password_file.is_none() {
            return None;
        }
        Some(crate::SecretRef::from_pair(
            self.password_env.as_ref(),
            self.password_file.as_ref(),
        ))
    }
}

impl ReplicaConfig {
    fn default_path() -> PathBuf {
        PathBuf::from("replica.db")
    }
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        Self {
            path: Self::default_path(),
            postgres: None,
        }
    }
}

/// How the engine works. Every field has a default suited to a production
/// server.
///
/// ```toml
/// [engine]
/// concurrency = 4            # mailboxes at once (MSE: 1)
/// lease_ttl_seconds = 300    # a crashed run's mailboxes are free again after this
/// page_size = 256            # changes per page (EWS: at most 512)
/// fetch_batch = 50           # items per fetch request
/// horizon_days_back = 365    # occurrences materialised from a year back…
/// horizon_days_ahead = 730   # …to two years ahead
/// mass_delete_threshold = 20 # an empty source calendar deletes at most this many items unforced
/// max_wait_seconds = 900     # the longest wait a throttling server may ask for
/// max_pages_per_calendar = 2000 # pages of changes read from one calendar per run
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct EngineSettings {
    /// Mailboxes processed at once.
    pub concurrency: u32,
    /// Seconds a mailbox lease lasts without renewal (renewed after every
    /// batch).
    pub lease_ttl_seconds: u32,
    /// Changes asked for per page.
    pub page_size: u32,
    /// Items fetched per request.
    pub fetch_batch: u32,
    /// Days before now that occurrences are materialised for.
    pub horizon_days_back: u32,
    /// Days after now that occurrences are materialised for.
    pub horizon_days_ahead: u32,
    /// Items an empty source calendar may delete without `--force`.
    pub mass_delete_threshold: u32,
    /// The longest wait, in seconds, a throttling server may ask for; a
    /// longer ask fails the mailbox until a later run.
    pub max_wait_seconds: u32,
    /// Pages of changes read from one calendar in one run.
    pub max_pages_per_calendar: u32,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            concurrency: 4,
            lease_ttl_seconds: 300,
            page_size: 256,
            fetch_batch: 50,
            horizon_days_back: 365,
            horizon_days_ahead: 730,
            mass_delete_threshold: 20,
            max_wait_seconds: 900,
            max_pages_per_calendar: 2000,
        }
    }
}

/// A configuration could not be loaded, or a change to it was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The document has problems; every one is listed.
    #[error("{0}")]
    Invalid(Problems),
    /// An object cannot be removed while tasks use it.
    #[error("cannot remove {kind} {id:?}: it is used by task{} {}; change or remove {} first",
        if tasks.len() == 1 { "" } else { "s" },
        tasks.iter().map(|t| format!("{:?}", t.as_str())).collect::<Vec<_>>().join(", "),
        if tasks.len() == 1 { "that task" } else { "those tasks" })]
    InUse {
        /// "definition", "schedule" or "site".
        kind: &'static str,
        /// The object's id.
        id: String,
        /// The tasks that use it.
        tasks: Vec<TaskId>,
    },
    /// No object has that id.
    #[error("there is no {kind} named {id:?}")]
    NotFound {
        /// "definition", "schedule", "site" or "task".
        kind: &'static str,
        /// The id that was asked for.
        id: String,
    },
}

impl ConfigError {
    /// The listed problems, if this error is about an invalid document.
    pub fn problems(&self) -> Option<&Problems> {
        match self {
            Self::Invalid(p) => Some(p),
            _ => None,
        }
    }
}

const TOP_LEVEL_KEYS: &[&str] = &[
    "replica",
    "engine",
    "directory",
    "access",
    "sites",
    "definitions",
    "schedules",
    "tasks",
];

impl Config {
    /// Reads and checks a configuration file: JSON if its name ends in
    /// `.json`, TOML otherwise.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        match Self::load_partial(path) {
            (Some(config), None) => Ok(config),
            (_, problems) => Err(ConfigError::Invalid(problems.unwrap_or_default())),
        }
    }

    /// Parses and checks configuration text; `name` is used in problems and
    /// decides the format (JSON for `*.json`, TOML otherwise).
    pub fn parse(text: &str, name: &str) -> Result<Self, ConfigError> {
        Self::parse_as(text, name, Format::from_file_name(name))
    }

    /// Parses and checks configuration text in the given format.
    pub fn parse_as(text: &str, name: &str, format: Format) -> Result<Self, ConfigError> {
        match Self::parse_partial(text, name, format) {
            (Some(config), None) => Ok(config),
            (_, problems) => Err(ConfigError::Invalid(problems.unwrap_or_default())),
        }
    }

    /// Reads a configuration file as far as it can be read: the elements
    /// that parsed (those with problems left out) and every problem found,
    /// so that a checker can look at the rest — files named, directories —
    /// in the same pass. `None` for the configuration when the file cannot
    /// be read or is not TOML/JSON at all.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("calrep-partial-doc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("calrep.toml");
    /// std::fs::write(&path, "[[definitions]]\nid = \"d\"\n[[schedules]]\nid = \"s\"\ntime_zone = \"Mars/Olympus\"\nwhen.daily.once.start = \"02:00\"\n")?;
    /// let (config, problems) = calrep_core::Config::load_partial(&path);
    /// assert_eq!(config.map(|c| c.definitions.len()), Some(1));
    /// assert!(problems.unwrap().to_string().contains("schedules[0].time_zone"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn load_partial(path: &Path) -> (Option<Self>, Option<Problems>) {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                let problem = Problem::new(name, "", format!("cannot read the file: {e}"));
                return (None, Some(Problems(vec![problem])));
            }
        };
        let (config, problems) = Self::parse_partial(&text, &name, Format::from_file_name(&name));
        let config = config.map(|mut c| {
            c.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            c
        });
        (config, problems)
    }

    fn parse_partial(text: &str, name: &str, format: Format) -> (Option<Self>, Option<Problems>) {
        let mut report = Report::new(name, TOP_LEVEL_KEYS);
        let Some(mut root) = document::parse_root(text, format, &mut report) else {
            return (None, report.finish().err());
        };
        document::check_keys(&root, TOP_LEVEL_KEYS, &mut report);
        let replica = root
            .remove("replica")
            .and_then(|v| document::element::<ReplicaConfig>(v, "replica", &mut report))
            .unwrap_or_default();
        let engine = root
            .remove("engine")
            .and_then(|v| document::element::<EngineSettings>(v, "engine", &mut report))
            .unwrap_or_default();
        let directory = root
            .remove("directory")
            .and_then(|v| document::element::<DirectorySource>(v, "directory", &mut report));
        let access = root
            .remove("access")
            .and_then(|v| document::element::<AccessConfig>(v, "access", &mut report));
        let (sites, broken_sites) = document::section::<Site>(&mut root, "sites", &mut report);
        let (definitions, broken_definitions) =
            document::section::<Definition>(&mut root, "definitions", &mut report);
        let (schedules, broken_schedules) =
            document::section::<Schedule>(&mut root, "schedules", &mut report);
        let (tasks, _) = document::section::<Task>(&mut root, "tasks", &mut report);
        let positions = validate::Positions {
            sites: sites.iter().map(|(i, _)| *i).collect(),
            definitions: definitions.iter().map(|(i, _)| *i).collect(),
            schedules: schedules.iter().map(|(i, _)| *i).collect(),
            tasks: tasks.iter().map(|(i, _)| *i).collect(),
        };
        let config = Self {
            replica,
            engine,
            directory,
            sites: sites.into_iter().map(|(_, s)| s).collect(),
            definitions: definitions.into_iter().map(|(_, d)| d).collect(),
            schedules: schedules.into_iter().map(|(_, s)| s).collect(),
            tasks: tasks.into_iter().map(|(_, t)| t).collect(),
            access,
            base_dir: PathBuf::new(),
            source_name: name.to_owned(),
        };
        // Semantic checks see the elements that parsed, named by their
        // original positions in the file; references to elements that did
        // not parse are not reported a second time.
        let broken = validate::Broken {
            sites: broken_sites,
            definitions: broken_definitions,
            schedules: broken_schedules,
        };
        validate::check(&config, &positions, &broken, &mut report);
        (Some(config), report.finish().err())
    }

    /// Checks a configuration built in code (the same checks as loading).
    ///
    /// ```
    /// let mut config = calrep_core::Config::default();
    /// config.definitions.push(calrep_core::Definition::new("default"));
    /// config.definitions.push(calrep_core::Definition::new("default"));
    /// let err = config.validate().unwrap_err();
    /// assert!(err.to_string().contains("definitions[1].id: another definition is also named \"default\""), "{err}");
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        let name = if self.source_name.is_empty() {
            "configuration"
        } else {
            &self.source_name
        };
        let mut report = Report::new(name, TOP_LEVEL_KEYS);
        let positions = validate::Positions::natural(self);
        validate::check(self, &positions, &validate::Broken::default(), &mut report);
        report.finish().map_err(ConfigError::Invalid)
    }

    /// A path from the configuration, made absolute against the
    /// configuration file's folder.
    pub fn resolve_path(&self, path: &Path) -> PathBuf {
        self.base_dir.join(path)
    }

    /// The site with this id.
    pub fn site(&self, id: &SiteId) -> Option<&Site> {
        self.sites.iter().find(|s| &s.id == id)
    }

    /// The definition with this id.
    pub fn definition(&self, id: &DefinitionId) -> Option<&Definition> {
        self.definitions.iter().find(|d| &d.id == id)
    }

    /// The schedule with this id.
    pub fn schedule(&self, id: &ScheduleId) -> Option<&Schedule> {
        self.schedules.iter().find(|s| &s.id == id)
    }

    /// The task with this id.
    pub fn task(&self, id: &TaskId) -> Option<&Task> {
        self.tasks.iter().find(|t| &t.id == id)
    }

    /// The directory a site resolves groups in: its own, else the
    /// configuration's default.
    pub fn directory_for<'a>(&'a self, site: &'a Site) -> Option<&'a DirectorySource> {
        site.directory.as_ref().or(self.directory.as_ref())
    }

    /// Opens the directory a site resolves groups in, or `None` if it has
    /// none (mailbox and mailbox-list groups need none).
    pub fn open_directory(
        &self,
        site: &Site,
    ) -> Result<Option<Arc<dyn Directory>>, DirectoryError> {
        if let Some(source) = self.directory_for(site) {
            return self.open_directory_source(source).map(Some);
        }
        // A demo site brings its own directory.
        match &site.demo {
            #[cfg(feature = "sim")]
            Some(demo) => Ok(Some(Arc::new(demo.organisation().directory()?))),
            #[cfg(not(feature = "sim"))]
            Some(_) => Err(DirectoryError::Unavailable(
                crate::site::DemoSite::needs_sim(&site.id),
            )),
            None => Ok(None),
        }
    }

    /// Opens a directory source, reading and checking its file.
    pub fn open_directory_source(
        &self,
        source: &DirectorySource,
    ) -> Result<Arc<dyn Directory>, DirectoryError> {
        match source {
            DirectorySource::Snapshot(path) => {
                Ok(Arc::new(SnapshotDirectory::load(&self.resolve_path(path))?))
            }
            // Needs the site's live EWS connection, which the engine owns.
            DirectorySource::Exchange => Err(DirectoryError::Unsupported(
                "ExpandDL outside an engine; open the engine's EWS source".into(),
            )),
            // Likewise: the site's Graph source expands groups.
            DirectorySource::Graph => Err(DirectoryError::Unsupported(
                "Graph groups outside an engine; open the engine's Graph source".into(),
            )),
        }
    }

    /// Removes a schedule, refusing while any task uses it (as MSE does).
    ///
    /// ```
    /// # let config: calrep_core::Config = calrep_core::Config::parse(r#"
    /// # [[sites]]
    /// # id = "hq"
    /// # [sites.ews]
    /// # url = "https://mail.example.com/EWS/Exchange.asmx"
    /// # username = "svc"
    /// # password_env = "PW"
    /// # [[definitions]]
    /// # id = "default"
    /// # [[schedules]]
    /// # id = "nightly"
    /// # time_zone = "UTC"
    /// # when.daily.once.start = "02:00"
    /// # [[tasks]]
    /// # id = "sales"
    /// # site = "hq"
    /// # definition = "default"
    /// # schedule = "nightly"
    /// # group = { mailbox = "a@example.com" }
    /// # "#, "calrep.toml")?;
    /// let mut config = config;
    /// let err = config.remove_schedule(&"nightly".into()).unwrap_err();
    /// assert_eq!(err.to_string(),
    ///     r#"cannot remove schedule "nightly": it is used by task "sales"; change or remove that task first"#);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove_schedule(&mut self, id: &ScheduleId) -> Result<Schedule, ConfigError> {
        self.refuse_if_used(ScheduleId::KIND, id.as_str(), |t| &t.schedule == id)?;
        take(
            &mut self.schedules,
            |s| &s.id == id,
            ScheduleId::KIND,
            id.as_str(),
        )
    }

    /// Removes a definition, refusing while any task uses it.
    pub fn remove_definition(&mut self, id: &DefinitionId) -> Result<Definition, ConfigError> {
        self.refuse_if_used(DefinitionId::KIND, id.as_str(), |t| &t.definition == id)?;
        take(
            &mut self.definitions,
            |d| &d.id == id,
            DefinitionId::KIND,
            id.as_str(),
        )
    }

    /// Removes a site, refusing while any task uses it.
    pub fn remove_site(&mut self, id: &SiteId) -> Result<Site, ConfigError> {
        self.refuse_if_used(SiteId::KIND, id.as_str(), |t| &t.site == id)?;
        take(&mut self.sites, |s| &s.id == id, SiteId::KIND, id.as_str())
    }

    /// Removes a task.
    pub fn remove_task(&mut self, id: &TaskId) -> Result<Task, ConfigError> {
        take(&mut self.tasks, |t| &t.id == id, TaskId::KIND, id.as_str())
    }

    fn refuse_if_used(
        &self,
        kind: &'static str,
        id: &str,
        uses: impl Fn(&Task) -> bool,
    ) -> Result<(), ConfigError> {
        let tasks: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|t| uses(t))
            .map(|t| t.id.clone())
            .collect();
        if tasks.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::InUse {
                kind,
                id: id.to_owned(),
                tasks,
            })
        }
    }
}

fn take<T>(
    items: &mut Vec<T>,
    matches: impl Fn(&T) -> bool,
    kind: &'static str,
    id: &str,
) -> Result<T, ConfigError> {
    let at = items
        .iter()
        .position(matches)
        .ok_or_else(|| ConfigError::NotFound {
            kind,
            id: id.to_owned(),
        })?;
    Ok(items.remove(at))
}
