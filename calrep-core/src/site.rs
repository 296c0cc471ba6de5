//! Sites: one installation's connection to Exchange or Microsoft 365.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::SiteId;
use crate::secret::SecretRef;

/// One running installation: the service account that reads other people's
/// mailboxes, how it reaches them, and where group names are resolved.
///
/// ```
/// let site: calrep_core::Site = toml::from_str(r#"
///     id = "hq"
///     directory = { snapshot = "directory.json" }
///     [ews]
///     url = "https://mail.example.com/EWS/Exchange.asmx"
///     username = "svc-calrep@example.com"
///     password_env = "CALREP_EWS_PASSWORD"
/// "#)?;
/// assert!(site.ews.as_ref().unwrap().impersonation);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Site {
    /// The site's id.
    pub id: SiteId,
    /// Free text for operators.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Exchange Web Services, for Exchange on-premises (and Exchange Online
    /// until EWS is switched off there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ews: Option<EwsEndpoint>,
    /// A Microsoft Graph app registration, for Microsoft 365.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<GraphApp>,
    /// A generated demo organisation instead of a server (see `calrep demo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demo: Option<DemoSite>,
    /// An HTTP proxy for every request the site makes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
    /// Where group names are resolved; the configuration's top-level
    /// `directory` applies when this is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<DirectorySource>,
}

/// An EWS endpoint and the service account that uses it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EwsEndpoint {
    /// The EWS URL, e.g. `https://mail.example.com/EWS/Exchange.asmx`.
    pub url: String,
    /// The service account (UPN or `DOMAIN\user`) for Basic
    /// authentication; leave it out with `oauth`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// The environment variable holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// The file holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// Act as each mailbox owner through Exchange impersonation (the
    /// `ApplicationImpersonation` role). On by default, as in MSE.
    #[serde(default = "yes")]
    pub impersonation: bool,
    /// The `RequestServerVersion` sent with every request.
    #[serde(default)]
    pub server_version: ExchangeVersion,
    /// OAuth instead of Basic: an Entra app registration with the
    /// `full_access_as_app` permission, used through the client-credentials
    /// flow (Exchange Online).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthApp>,
    /// Bearer tokens come from the host application (a token callback
    /// through the C ABI or Python, or [`Sources::with_host_tokens`]), which
    /// signs in with its own identity library; no password or `oauth`.
    ///
    /// [`Sources::with_host_tokens`]: crate::sources::Sources::with_host_tokens
    #[serde(default, skip_serializing_if = "is_false")]
    pub host_tokens: bool,
    /// How many items one `GetItem` asks for (1 to 100).
    #[serde(default = "EwsEndpoint::default_batch_size")]
    pub batch_size: usize,
    /// `MaxChangesReturned` of each `SyncFolderItems` page (1 to 512).
    #[serde(default = "EwsEndpoint::default_max_changes")]
    pub max_changes: usize,
    /// Requests in flight at once for the whole site, all mailboxes
    /// together (1 to 64).
    #[serde(default = "EwsEndpoint::default_concurrency")]
    pub concurrency: usize,
    /// How long one request may take, in seconds, body included.
    #[serde(default = "EwsEndpoint::default_timeout_seconds")]
    pub timeout_seconds: u64,
}

impl EwsEndpoint {
    /// Where the password is to be read from, if exactly one form is given.
    ///
    /// ```
    /// # use calrep_core::{SecretRef, Site};
    /// # let site: Site = toml::from_str(r#"
    /// # id = "hq"
    /// # ews = { url = "https://x/EWS/Exchange.asmx", username = "svc", password_file = "/run/pw" }
    /// # "#)?;
    /// let ews = site.ews.unwrap();
    /// assert_eq!(ews.password(), Ok(SecretRef::File("/run/pw".into())));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn password(&self) -> Result<SecretRef, &'static str> {
        SecretRef::from_pair(self.password_env.as_ref(), self.password_file.as_ref())
    }
}

impl EwsEndpoint {
    fn default_batch_size() -> usize {
        25
    }
    fn default_max_changes() -> usize {
        512
    }
    fn default_concurrency() -> usize {
        8
    }
    fn default_timeout_seconds() -> u64 {
        120
    }
}

/// An Entra (Azure AD) app registration used with the OAuth 2.0
/// client-credentials flow.
///
/// ```
/// let site: calrep_core::Site = toml::from_str(r#"
///     id = "online"
///     [ews]
///     url = "https://outlook.office365.com/EWS/Exchange.asmx"
///     oauth = { tenant = "contoso.onmicrosoft.com", client_id = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", secret_env = "CALREP_APP_SECRET" }
/// "#)?;
/// let oauth = site.ews.unwrap().oauth.unwrap();
/// assert_eq!(oauth.token_url(), "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OAuthApp {
    /// The Entra tenant: its GUID or a verified domain.
    pub tenant: String,
    /// The application (client) id, a GUID.
    pub client_id: String,
    /// The environment variable holding the client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// The file holding the client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<PathBuf>,
    /// The token endpoint, for national clouds (and tests); by default
    /// Microsoft's global one for the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// The scope asked for; by default Exchange Online's
    /// `https://outlook.office365.com/.default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl OAuthApp {
    /// Where the client secret is to be read from, if exactly one form is given.
    pub fn secret(&self) -> Result<SecretRef, &'static str> {
        SecretRef::from_pair(self.secret_env.as_ref(), self.secret_file.as_ref())
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        self.token_url.clone().unwrap_or_else(|| {
            format!(
                "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
                self.tenant
            )
        })
    }

    /// The scope asked for.
    pub fn scope(&self) -> &str {
        self.scope
            .as_deref()
            .unwrap_or("https://outlook.office365.com/.default")
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn yes() -> bool {
    true
}

/// The Exchange schema version requested in `RequestServerVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ExchangeVersion {
    /// Exchange 2010.
    Exchange2010,
    /// Exchange 2010 SP1.
    #[serde(rename = "Exchange2010_SP1")]
    Exchange2010Sp1,
    /// Exchange 2010 SP2.
    #[serde(rename = "Exchange2010_SP2")]
    Exchange2010Sp2,
    /// Exchange 2013.
    Exchange2013,
    /// Exchange 2013 SP1 and later, including Exchange Online (the default).
    #[default]
    #[serde(rename = "Exchange2013_SP1")]
    Exchange2013Sp1,
    /// Exchange 2016.
    Exchange2016,
    /// Exchange 2019.
    Exchange2019,
}

impl ExchangeVersion {
    /// The value of `RequestServerVersion/@Version`.
    ///
    /// ```
    /// assert_eq!(calrep_core::ExchangeVersion::default().as_str(), "Exchange2013_SP1");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exchange2010 => "Exchange2010",
            Self::Exchange2010Sp1 => "Exchange2010_SP1",
            Self::Exchange2010Sp2 => "Exchange2010_SP2",
            Self::Exchange2013 => "Exchange2013",
            Self::Exchange2013Sp1 => "Exchange2013_SP1",
            Self::Exchange2016 => "Exchange2016",
            Self::Exchange2019 => "Exchange2019",
        }
    }
}

/// A Microsoft Graph app registration (client-credentials flow), for
/// Microsoft 365: the app holds the application permission
/// `Calendars.Read` (and `GroupMember.Read.All` for `directory = "graph"`),
/// scoped to the replicated mailboxes by RBAC for Applications or an
/// application access policy.
///
/// The app proves itself with exactly one of: a client secret
/// (`secret_env` / `secret_file`), a certificate (`certificate_file` and
/// `private_key_file`, PEM; many tenants forbid secrets), or the host's own
/// tokens (`host_tokens = true`).
///
/// ```
/// let site: calrep_core::Site = toml::from_str(r#"
///     id = "m365"
///     [graph]
///     tenant = "contoso.onmicrosoft.com"
///     client_id = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
///     certificate_file = "calrep-app.crt"
///     private_key_file = "calrep-app.key"
/// "#)?;
/// let graph = site.graph.unwrap();
/// assert_eq!(graph.token_url(), "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
/// assert_eq!(graph.scope(), "https://graph.microsoft.com/.default");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GraphApp {
    /// The Entra tenant: its GUID or a verified domain.
    pub tenant: String,
    /// The application (client) id, a GUID (unused with `host_tokens`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_id: String,
    /// The environment variable holding the client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// The file holding the client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_file: Option<PathBuf>,
    /// The app's certificate (PEM), whose SHA-1 thumbprint Entra knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_file: Option<PathBuf>,
    /// The certificate's RSA private key (PEM, PKCS#8 or PKCS#1), which
    /// signs each token request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_file: Option<PathBuf>,
    /// Bearer tokens come from the host application (as for EWS).
    #[serde(default, skip_serializing_if = "is_false")]
    pub host_tokens: bool,
    /// The sign-in authority, for national clouds (and tests); by default
    /// `https://login.microsoftonline.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    /// The Graph endpoint with its version, for national clouds (and
    /// tests); by default `https://graph.microsoft.com/v1.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Requests in flight at once for the whole site (1 to 256); each
    /// mailbox has at most 4, Exchange Online's limit.
    #[serde(default = "GraphApp::default_concurrency")]
    pub concurrency: usize,
    /// Events asked for per `calendarView/delta` page
    /// (`Prefer: odata.maxpagesize`, 1 to 1000).
    #[serde(default = "GraphApp::default_page_size")]
    pub page_size: usize,
    /// Series fetched per JSON `$batch` request (1 to 4: Graph runs at most
    /// four requests of one mailbox at a time); 1 sends no `$batch`.
    #[serde(default = "GraphApp::default_batch")]
    pub batch: usize,
    /// How long one request may take, in seconds, body included.
    #[serde(default = "EwsEndpoint::default_timeout_seconds")]
    pub timeout_seconds: u64,
}

impl GraphApp {
    fn default_concurrency() -> usize {
        16
    }
    fn default_page_size() -> usize {
        100
    }
    fn default_batch() -> usize {
        4
    }

    /// Where the client secret is to be read from, if exactly one form is given.
    pub fn secret(&self) -> Result<SecretRef, &'static str> {
        SecretRef::from_pair(self.secret_env.as_ref(), self.secret_file.as_ref())
    }

    /// The authority (without a trailing slash).
    pub fn authority(&self) -> &str {
        self.authority
            .as_deref()
            .unwrap_or("https://login.microsoftonline.com")
            .trim_end_matches('/')
    }

    /// The token endpoint of the tenant.
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority(), self.tenant)
    }

    /// The Graph endpoint (without a trailing slash).
    pub fn url(&self) -> &str {
        self.url
            .as_deref()
            .unwrap_or("https://graph.microsoft.com/v1.0")
            .trim_end_matches('/')
    }

    /// The scope asked for: the Graph endpoint's origin and `/.default`
    /// (the app's granted application permissions).
    pub fn scope(&self) -> String {
        let url = self.url();
        let origin_end = url.split_once("://").map_or(url.len(), |(scheme, rest)| {
            scheme.len() + 3 + rest.find('/').unwrap_or(rest.len())
        });
        format!("{}/.default", url.get(..origin_end).unwrap_or(url))
    }
}

/// A generated demo organisation as a site's source: the same for the same
/// seed and size, with `change_rounds` rounds of edits applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DemoSite {
    /// The generator's seed.
    pub seed: u64,
    /// How many mailboxes (10 to 100,000).
    #[serde(default = "DemoSite::default_mailboxes")]
    pub mailboxes: usize,
    /// How many rounds of changes have happened.
    #[serde(default)]
    pub change_rounds: u32,
}

impl DemoSite {
    fn default_mailboxes() -> usize {
        200
    }

    /// Why `site`'s demo organisation cannot be served by this build.
    #[cfg(not(feature = "sim"))]
    pub(crate) fn needs_sim(site: &SiteId) -> String {
        format!(
            "site {site}: demo sites need calrep-core's `sim` feature, which this build leaves out"
        )
    }

    /// Generates the organisation.
    #[cfg(feature = "sim")]
    pub fn organisation(&self) -> crate::demo::DemoOrganisation {
        crate::demo::DemoOrganisation::generate(self.seed, self.mailboxes, self.change_rounds)
    }
}

/// An HTTP proxy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Proxy {
    /// The proxy URL, e.g. `http://proxy.example.com:8080`.
    pub url: String,
    /// Hosts reached directly, not through the proxy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub no_proxy: Vec<String>,
}

/// Where group names are resolved to mailboxes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DirectorySource {
    /// A directory snapshot file (JSON) that the host exports from Active
    /// Directory or Microsoft 365; see [`SnapshotDirectory`](crate::group::SnapshotDirectory).
    /// Relative paths start at the configuration file's folder.
    Snapshot(PathBuf),
    /// Exchange itself: groups are expanded with EWS `ExpandDL` through the
    /// site's `[ews]` endpoint, so a task's groups are named by address
    /// (`directory = "exchange"`).
    Exchange,
    /// Microsoft Graph: groups are found by address and expanded through
    /// `transitiveMembers` with the site's `[graph]` app (`directory =
    /// "graph"`, application permission `GroupMember.Read.All`).
    Graph,
}

/// Why a URL is not an acceptable endpoint for calrep's own requests (EWS,
/// a token endpoint), or `None`: an HTTP(S) URL without credentials in it.
/// A password in a URL ends up in error messages, reports and logs; the
/// configuration names secrets by reference instead.
pub(crate) fn endpoint_url_problem(url: &str) -> Option<&'static str> {
    http_url_problem(url).or_else(|| {
        userinfo(url).is_some().then_some(
            "has a user name or password in it; give credentials by reference \
             (username with password_env or password_file), never in the URL",
        )
    })
}

/// The `user:password@` part of a URL's authority.
fn userinfo(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.rsplit_once('@').map(|(u, _)| u)
}

/// A URL as it may be printed: any `user:password@` replaced by `***@`.
pub(crate) fn printable_url(url: &str) -> String {
    match userinfo(url) {
        Some(info) => url.replacen(&format!("{info}@"), "***@", 1),
        None => url.to_owned(),
    }
}

/// Why a URL is not an acceptable HTTP(S) URL, or `None`.
pub(crate) fn http_url_problem(url: &str) -> Option<&'static str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else {
        return Some("must start with https:// or http://");
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Some("has no host name");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("must not contain spaces or control characters");
    }
    None
}

/// Whether `s` looks like a GUID (8-4-4-4-12 hex digits).
pub(crate) fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_without_scheme_or_host_are_refused() {
        assert!(http_url_problem("https://mail.example.com/EWS/Exchange.asmx").is_none());
        assert!(http_url_problem("http://127.0.0.1:8080/").is_none());
        assert!(http_url_problem("mail.example.com").is_some());
        assert!(http_url_problem("https:///EWS").is_some());
        assert!(http_url_problem("https://a b/").is_some());
        assert!(endpoint_url_problem("https://svc:pw@mail.example.com/EWS").is_some());
        assert!(endpoint_url_problem("https://mail.example.com/EWS?x=a@b").is_none());
        assert_eq!(
            printable_url("https://svc:hunter2@mail.example.com/EWS"),
            "https://***@mail.example.com/EWS"
        );
        assert_eq!(
            printable_url("https://mail.example.com/EWS"),
            "https://mail.example.com/EWS"
        );
    }

    #[test]
    fn guids_are_recognised() {
        assert!(is_guid("6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"));
        assert!(!is_guid("6f1b2c3d-4e5f-4a6b-8c7d"));
        assert!(!is_guid("contoso.onmicrosoft.com"));
    }
}
