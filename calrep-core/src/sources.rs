//! The sources layer: for each site, the backend its configuration asks
//! for — EWS (password, OAuth client secret, or the host's tokens), the
//! generated demo organisation (feature `sim`), or a source the host
//! registers — built once, with setup problems kept per site so that one
//! broken site fails only its own tasks.
//!
//! The [engine](crate::engine) depends only on what this module hands it:
//! a [`MailboxSource`] per site and, where the server itself expands groups
//! (EWS `ExpandDL`), a directory. A new backend is one module plus one arm
//! in [`Sources::from_config`].
//!
//! ```
//! use std::sync::Arc;
//! use calrep_core::engine::Engine;
//! use calrep_core::replica::SqliteReplica;
//! use calrep_core::sources::Sources;
//! use calrep_core::{Config, SystemClock};
//! let config = Config::parse(r#"
//!     [[sites]]
//!     id = "hq"
//!     ews = { url = "https://mail.example.com/EWS/Exchange.asmx", username = "svc", password_env = "CALREP_DOC_UNSET" }
//! "#, "calrep.toml")?;
//! let sources = Sources::from_config(&config);
//! // The password's variable is not set: the site is kept with its problem.
//! assert!(sources.problem(&"hq".into()).unwrap().contains("CALREP_DOC_UNSET"));
//! let engine = Engine::new(config, Arc::new(SqliteReplica::open_in_memory()?), Arc::new(SystemClock))
//!     .with_sources(sources);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::SiteId;
use crate::address::EmailAddress;
use crate::config::Config;
use crate::ews::{Credentials, EwsSource, TokenProvider};
use crate::graph::{GraphCredentials, GraphSource};
use crate::group::{Directory, DirectoryError};
use crate::mailbox::MailboxSource;
use crate::retry::RetryPolicy;
use crate::site::Site;

/// What one site reads from.
#[derive(Clone)]
pub struct SiteSource {
    mailboxes: Arc<dyn MailboxSource>,
    server_directory: Option<Arc<dyn ServerDirectory>>,
}

impl fmt::Debug for SiteSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SiteSource")
            .field("mailboxes", &self.mailboxes)
            .field("expands_groups", &self.server_directory.is_some())
            .finish()
    }
}

impl SiteSource {
    /// A site that reads mailboxes from `mailboxes` (and resolves groups in
    /// its configured directory, if any).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use calrep_core::mailbox::MemoryOrganisation;
    /// use calrep_core::sources::SiteSource;
    /// let source = SiteSource::new(Arc::new(MemoryOrganisation::new()));
    /// assert!(!source.expands_groups());
    /// ```
    pub fn new(mailboxes: Arc<dyn MailboxSource>) -> Self {
        Self {
            mailboxes,
            server_directory: None,
        }
    }

    /// An EWS site: its mailboxes, and `ExpandDL` for `directory =
    /// "exchange"`, run as the endpoint's `username`.
    ///
    /// ```no_run
    /// # fn f(source: calrep_core::ews::EwsSource) {
    /// let site = calrep_core::sources::SiteSource::ews(source, "svc-calrep@example.com");
    /// assert!(site.expands_groups());
    /// # }
    /// ```
    pub fn ews(source: EwsSource, username: &str) -> Self {
        Self {
            mailboxes: Arc::new(source.clone()),
            server_directory: Some(Arc::new(EwsExpandDl {
                source,
                username: username.to_owned(),
            })),
        }
    }

    /// A Microsoft Graph site: its mailboxes, and groups expanded through
    /// `transitiveMembers` for `directory = "graph"`.
    ///
    /// ```no_run
    /// # fn f(source: calrep_core::graph::GraphSource) {
    /// let site = calrep_core::sources::SiteSource::graph(source);
    /// assert!(site.expands_groups());
    /// # }
    /// ```
    pub fn graph(source: GraphSource) -> Self {
        Self {
            mailboxes: Arc::new(source.clone()),
            server_directory: Some(Arc::new(GraphGroups(source))),
        }
    }

    /// The mailboxes.
    pub fn mailboxes(&self) -> &Arc<dyn MailboxSource> {
        &self.mailboxes
    }

    /// Whether the server itself can expand groups (`directory =
    /// "exchange"`).
    pub fn expands_groups(&self) -> bool {
        self.server_directory.is_some()
    }

    /// The server's own directory, its calls retried under `retry`.
    pub(crate) fn server_directory(
        &self,
        site: &SiteId,
        retry: RetryPolicy,
    ) -> Option<Result<Arc<dyn Directory>, DirectoryError>> {
        let directory = self.server_directory.as_ref()?;
        Some(directory.open(site, retry))
    }
}

/// A backend's group expansion at the server.
trait ServerDirectory: Send + Sync {
    fn open(&self, site: &SiteId, retry: RetryPolicy)
    -> Result<Arc<dyn Directory>, DirectoryError>;
}

/// `ExpandDL` as the service account.
struct EwsExpandDl {
    source: EwsSource,
    username: String,
}

impl ServerDirectory for EwsExpandDl {
    fn open(
        &self,
        site: &SiteId,
        retry: RetryPolicy,
    ) -> Result<Arc<dyn Directory>, DirectoryError> {
        let account = self.username.parse::<EmailAddress>().map_err(|_| {
            DirectoryError::Unavailable(format!(
                "site {site}: directory = \"exchange\" runs ExpandDL as the [ews] username, which must be an e-mail address"
            ))
        })?;
        Ok(Arc::new(self.source.directory(&account).with_retry(retry)))
    }
}

/// Graph groups as the app.
struct GraphGroups(GraphSource);

impl ServerDirectory for GraphGroups {
    fn open(
        &self,
        _site: &SiteId,
        retry: RetryPolicy,
    ) -> Result<Arc<dyn Directory>, DirectoryError> {
        Ok(Arc::new(self.0.directory().with_retry(retry)))
    }
}

/// Every site's source, or why it could not be set up.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    sites: HashMap<SiteId, Result<SiteSource, String>>,
}

impl Sources {
    /// No sources.
    pub fn new() -> Self {
        Self::default()
    }

    /// The sources calrep builds itself from a configuration: EWS
    /// endpoints (their secrets read now) and, with the `sim` feature, demo
    /// organisations, Microsoft Graph apps. Sites with `host_tokens = true`
    /// wait for [`with_host_tokens`](Self::with_host_tokens). A site that
    /// cannot be set up keeps its reason.
    pub fn from_config(config: &Config) -> Self {
        let mut sources = Self::new();
        for site in &config.sites {
            if let Some(built) = Self::build(site, config) {
                sources.sites.insert(site.id.clone(), built);
            }
        }
        sources
    }

    /// The one place that maps a site's configuration to its backend.
    fn build(site: &Site, config: &Config) -> Option<Result<SiteSource, String>> {
        if let Some(ews) = &site.ews {
            return Some(
                EwsSource::from_site(site, &config.base_dir)
                    .map(|source| SiteSource::ews(source, &ews.username))
                    .map_err(|e| e.to_string()),
            );
        }
        if site.graph.is_some() {
            return Some(
                GraphSource::from_site(site, &config.base_dir)
                    .map(SiteSource::graph)
                    .map_err(|e| e.to_string()),
            );
        }
        if site.demo.is_some() {
            return Some(demo_source(site));
        }
        None
    }

    /// Gives every site configured with `host_tokens = true` an EWS or Graph source
    /// whose bearer tokens come from `provider_for(site)`: the host's own
    /// identity library instead of a secret calrep reads.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use calrep_core::{Config, Secret};
    /// # use calrep_core::ews::TokenProvider;
    /// # use calrep_core::mailbox::MailboxError;
    /// # use calrep_core::sources::Sources;
    /// #[derive(Debug)]
    /// struct Msal;
    /// #[async_trait::async_trait]
    /// impl TokenProvider for Msal {
    ///     async fn token(&self) -> Result<Secret, MailboxError> {
    ///         Ok(Secret::new("eyJ0eXAiOiJKV1Qi…"))
    ///     }
    /// }
    /// let config = Config::parse(r#"
    ///     [[sites]]
    ///     id = "online"
    ///     ews = { url = "https://outlook.office365.com/EWS/Exchange.asmx", host_tokens = true }
    /// "#, "calrep.toml")?;
    /// # let _rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// # let _entered = _rt.enter();
    /// let sources = Sources::from_config(&config).with_host_tokens(&config, |_site| Arc::new(Msal));
    /// assert!(sources.problem(&"online".into()).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_host_tokens(
        mut self,
        config: &Config,
        provider_for: impl Fn(&SiteId) -> Arc<dyn TokenProvider>,
    ) -> Self {
        for site in &config.sites {
            if let Some(app) = site.graph.as_ref().filter(|g| g.host_tokens) {
                let credentials = GraphCredentials::Tokens(provider_for(&site.id));
                let built =
                    GraphSource::new(site.id.as_str(), app, site.proxy.as_ref(), credentials)
                        .map(SiteSource::graph)
                        .map_err(|e| e.to_string());
                self.sites.insert(site.id.clone(), built);
                continue;
            }
            let Some(ews) = site.ews.as_ref().filter(|e| e.host_tokens) else {
                continue;
            };
            let credentials = Credentials::Tokens(provider_for(&site.id));
            let built = EwsSource::new(site.id.as_str(), ews, site.proxy.as_ref(), credentials)
                .map(|source| SiteSource::ews(source, &ews.username))
                .map_err(|e| e.to_string());
            self.sites.insert(site.id.clone(), built);
        }
        self
    }

    /// Sets a site's source (replacing what the configuration built, and
    /// any problem it had).
    pub fn with(mut self, site: SiteId, source: SiteSource) -> Self {
        self.insert(site, source);
        self
    }

    /// Sets a site's source in place.
    pub fn insert(&mut self, site: SiteId, source: SiteSource) {
        self.sites.insert(site, Ok(source));
    }

    /// The site's source, if it has a working one.
    pub fn get(&self, site: &SiteId) -> Option<&SiteSource> {
        self.sites.get(site)?.as_ref().ok()
    }

    /// Why the site's source could not be set up, if it could not.
    pub fn problem(&self, site: &SiteId) -> Option<&str> {
        self.sites.get(site)?.as_ref().err().map(String::as_str)
    }
}

/// A demo site's generated organisation.
#[cfg(feature = "sim")]
fn demo_source(site: &Site) -> Result<SiteSource, String> {
    let demo = site.demo.as_ref().ok_or("the site has no demo section")?;
    Ok(SiteSource::new(demo.organisation().source))
}

/// Without the simulator, a demo site says what it needs.
#[cfg(not(feature = "sim"))]
fn demo_source(site: &Site) -> Result<SiteSource, String> {
    Err(crate::site::DemoSite::needs_sim(&site.id))
}
