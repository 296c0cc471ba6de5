//! An EWS simulator: a real HTTP server on 127.0.0.1 that answers SOAP
//! requests from a [`MemoryOrganisation`] the way Exchange does, for tests,
//! demos and hosts' own test suites.
//!
//! It authenticates (Basic accounts, and app tokens it issues through its
//! own client-credentials endpoint), enforces impersonation rights, keeps
//! sync states as real positions in each calendar's change log, expands
//! groups with `ExpandDL`, serves attachments, and misbehaves on request:
//! latency, throttling and faults by rule or at seeded random.
//!
//! ```
//! use std::sync::Arc;
//! use calrep_core::demo::DemoOrganisation;
//! use calrep_core::sim::{SimOptions, Simulator};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let demo = DemoOrganisation::generate(1, 10, 0);
//! let sim = Simulator::start(demo.source.clone(), None, SimOptions::default()).await?;
//! assert!(sim.url().starts_with("http://127.0.0.1:"));
//! sim.stop();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod faults;
mod graph;
mod server;
mod soap;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::address::EmailAddress;
use crate::demo::DemoOrganisation;
use crate::group::Directory;
use crate::mailbox::MemoryOrganisation;
use crate::secret::Secret;

use faults::FaultPlan;
pub use faults::{Fault, FaultRule};
pub use graph::graph_id;
use server::State;
pub use soap::get_item_response;

/// An account the simulator accepts with Basic authentication.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SimAccount {
    /// The user name (compared without case, as Windows does).
    pub username: String,
    /// The password.
    pub password: Secret,
    /// The account's own mailbox address.
    pub address: EmailAddress,
    /// Whether it holds the `ApplicationImpersonation` role.
    pub may_impersonate: bool,
    /// Mailboxes outside the role's management scope: impersonating them is
    /// refused with `ErrorImpersonateUserDenied`, as Exchange does.
    pub out_of_scope: Vec<EmailAddress>,
}

impl SimAccount {
    /// An account.
    pub fn new(
        username: impl Into<String>,
        password: Secret,
        address: EmailAddress,
        may_impersonate: bool,
    ) -> Self {
        Self {
            username: username.into(),
            password,
            address,
            may_impersonate,
            out_of_scope: Vec::new(),
        }
    }
}

/// An app registration the simulator's token endpoint accepts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SimApp {
    /// The application (client) id.
    pub client_id: String,
    /// The client secret.
    pub secret: Secret,
    /// A certificate whose signed assertions are accepted instead: its
    /// public key (DER `RSAPublicKey`) and `x5t` thumbprint.
    pub certificate: Option<(Vec<u8>, String)>,
}

impl SimApp {
    /// An app registration.
    pub fn new(client_id: impl Into<String>, secret: Secret) -> Self {
        Self {
            client_id: client_id.into(),
            secret,
            certificate: None,
        }
    }

    /// An app registration that signs in with `certificate` (and no secret).
    pub fn with_certificate(
        client_id: impl Into<String>,
        certificate: &crate::graph::CertificateCredential,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            secret: Secret::new(""),
            certificate: Some((certificate.public_key_der(), certificate.x5t())),
        }
    }
}

/// How the simulator behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SimOptions {
    /// The port on 127.0.0.1 (0: any free one).
    pub port: u16,
    /// Basic accounts.
    pub accounts: Vec<SimAccount>,
    /// App registrations for the client-credentials flow.
    pub apps: Vec<SimApp>,
    /// Added before every EWS answer.
    pub latency: Duration,
    /// How long issued tokens live.
    pub token_lifetime: Duration,
    /// Faults in force from the start.
    pub faults: Vec<FaultRule>,
    /// The seed of the faults' random draws.
    pub seed: u64,
    /// Mailboxes outside the Graph app's scope (403 `ErrorAccessDenied`).
    pub graph_denied: Vec<EmailAddress>,
    /// Mailboxes without an Exchange Online mailbox (404
    /// `MailboxNotEnabledForRESTAPI`).
    pub graph_no_rest: Vec<EmailAddress>,
    /// EWS is switched off, as in Exchange Online since October 2026 for
    /// apps not on `EWSAllowedAppIDs`: every EWS request gets HTTP 403.
    pub ews_disabled: bool,
}

impl SimOptions {
    /// The service account of [`Default`]: `svc-calrep` / `calrep-sim`,
    /// allowed to impersonate.
    pub const USERNAME: &'static str = "svc-calrep@demo.example";
    /// The default account's password (a test credential, nothing more).
    pub const PASSWORD: &'static str = "calrep-sim";
    /// The default app registration's client id.
    pub const CLIENT_ID: &'static str = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
    /// The default app registration's secret (a test credential).
    pub const CLIENT_SECRET: &'static str = "calrep-sim-app-secret";
}

impl Default for SimOptions {
    fn default() -> Self {
        let account = EmailAddress::known(Self::USERNAME);
        Self {
            port: 0,
            accounts: vec![SimAccount::new(
                Self::USERNAME,
                Secret::new(Self::PASSWORD),
                account,
                true,
            )],
            apps: vec![SimApp::new(
                Self::CLIENT_ID,
                Secret::new(Self::CLIENT_SECRET),
            )],
            latency: Duration::ZERO,
            token_lifetime: Duration::from_secs(3600),
            faults: Vec::new(),
            seed: 0,
            graph_denied: Vec::new(),
            graph_no_rest: Vec::new(),
            ews_disabled: false,
        }
    }
}

/// A running simulator. Dropping it (or [`stop`](Self::stop)) shuts the
/// server down and closes its connections.
#[derive(Debug)]
pub struct Simulator {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Simulator {
    /// Starts serving `org` (and `directory` for `ExpandDL`) on 127.0.0.1.
    /// Needs a tokio runtime with I/O and time enabled.
    pub async fn start(
        org: Arc<MemoryOrganisation>,
        directory: Option<Arc<dyn Directory>>,
        options: SimOptions,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            org,
            directory,
            accounts: options.accounts,
            apps: options.apps,
            app_account: EmailAddress::known("app@sim.invalid"),
            latency: Mutex::new(options.latency),
            token_lifetime: options.token_lifetime,
            tokens: Mutex::new(HashMap::new()),
            faults: Mutex::new(FaultPlan::new(options.faults, options.seed)),
            requests: Mutex::new(BTreeMap::new()),
            issued: AtomicU64::new(0),
            waited_us: AtomicU64::new(0),
            graph_denied: options.graph_denied,
            graph_no_rest: options.graph_no_rest,
            graph_in_flight: Mutex::new(HashMap::new()),
            graph_base: format!("http://{addr}/v1.0"),
            ews_disabled: options.ews_disabled,
        });
        let task = tokio::spawn(server::serve(listener, Arc::clone(&state)));
        Ok(Self { addr, state, task })
    }

    /// Starts serving a generated demo organisation, its groups expanded
    /// by `ExpandDL` from its own directory.
    ///
    /// ```
    /// use calrep_core::demo::DemoOrganisation;
    /// use calrep_core::sim::{SimOptions, Simulator};
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// let sim = Simulator::start_demo(&DemoOrganisation::generate(1, 10, 0), SimOptions::default()).await?;
    /// sim.stop();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn start_demo(demo: &DemoOrganisation, options: SimOptions) -> std::io::Result<Self> {
        let directory = demo
            .directory()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
        Self::start(demo.source.clone(), Some(Arc::new(directory)), options).await
    }

    /// The EWS endpoint, `http://127.0.0.1:PORT/EWS/Exchange.asmx`.
    pub fn url(&self) -> String {
        format!("http://{}/EWS/Exchange.asmx", self.addr)
    }

    /// The token endpoint of the client-credentials flow.
    pub fn token_url(&self) -> String {
        format!("http://{}/simulated-tenant/oauth2/v2.0/token", self.addr)
    }

    /// The Graph endpoint, `http://127.0.0.1:PORT/v1.0` (a site's
    /// `[graph] url`).
    pub fn graph_url(&self) -> String {
        self.state.graph_base.clone()
    }

    /// The sign-in authority (a site's `[graph] authority`): tokens come
    /// from `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn authority(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An app-only access token, as the token endpoint would issue it: for
    /// hosts that test their own token supply (`host_tokens = true`).
    pub fn issue_token(&self) -> String {
        self.state.issue_token()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The organisation it serves: change it to change what clients see
    /// (an edited occurrence is a `put_item` of its series, as on Exchange).
    pub fn organisation(&self) -> &Arc<MemoryOrganisation> {
        &self.state.org
    }

    /// Replaces the fault rules (the seeded generator keeps its position).
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        self.state
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(rules);
    }

    /// The fault rules in force, with how often each has fired.
    pub fn faults(&self) -> Vec<FaultRule> {
        self.state
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .rules()
            .to_vec()
    }

    /// Sets the latency added to every EWS answer.
    pub fn set_latency(&self, latency: Duration) {
        *self
            .state
            .latency
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = latency;
    }

    /// Requests answered so far by operation (plus `token`, `unauthorized`
    /// and `faults`).
    pub fn requests(&self) -> BTreeMap<String, u64> {
        self.state
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The injected latency actually waited so far, summed over requests
    /// (a timer sleeps at least as long as asked, often a tick longer).
    pub fn latency_waited(&self) -> Duration {
        Duration::from_micros(
            self.state
                .waited_us
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
