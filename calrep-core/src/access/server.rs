//! The HTTP front end: hyper on a listening socket, one task per
//! connection. Every request is bounded (body, headers, time), carries
//! secure headers, and is signed in before anything is read; the replica is
//! only ever read.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::caldav::{self, DavRequest, Depth};
use super::resources::ResourceCache;
use super::throttle::{Attempt, retry_after};
use super::web::{self, Sessions, WebRequest};
use super::{AccessReplica, Answer, PasswordHasher};
use crate::clock::Clock;
use crate::encoding::percent_decode;

/// The largest request body read (PROPFIND and REPORT bodies are small).
const MAX_BODY: usize = 64 * 1024;

/// How long a request (headers and body) may take to arrive.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Methods that would change something: refused, since the replica is
/// read-only.
const WRITES: &[&str] = &[
    "PUT",
    "DELETE",
    "POST",
    "PATCH",
    "MKCOL",
    "MKCALENDAR",
    "PROPPATCH",
    "MOVE",
    "COPY",
    "LOCK",
    "UNLOCK",
    "ACL",
];

/// One request as the access log records it: who, what, when, and the
/// answer — never a password, and a feed's token left out of its path.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AccessRecord {
    /// When it was answered.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Where it came from.
    pub remote: SocketAddr,
    /// The signed-in account (or the feed's), if any.
    pub account: Option<String>,
    /// The HTTP method.
    pub method: String,
    /// The path, with a feed's token replaced by `…`.
    pub path: String,
    /// The status answered.
    pub status: u16,
}

impl std::fmt::Display for AccessRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            self.remote.ip(),
            self.account.as_deref().unwrap_or("-"),
            self.method,
            self.path,
            self.status
        )
    }
}

/// Where access records go (e.g. a line on standard error each).
pub type AccessLog = Arc<dyn Fn(&AccessRecord) + Send + Sync>;

/// How a front end runs, beyond what it serves: how passwords are
/// checked, what time it is, where requests are logged, and TLS.
///
/// ```
/// use std::sync::Arc;
/// use calrep_core::access::{AccessOptions, AccessRecord, PasswordHasher};
/// let options = AccessOptions::new()
///     .hasher(PasswordHasher::default())
///     .log(Arc::new(|record: &AccessRecord| eprintln!("access {record}")))
///     .behind_tls_proxy(true);
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct AccessOptions {
    hasher: PasswordHasher,
    clock: Arc<dyn Clock>,
    log: Option<AccessLog>,
    tls: Option<super::TlsConfig>,
    behind_tls_proxy: bool,
}

impl std::fmt::Debug for AccessOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessOptions")
            .field("hasher", &self.hasher)
            .field("log", &self.log.is_some())
            .field("tls", &self.tls.is_some())
            .field("behind_tls_proxy", &self.behind_tls_proxy)
            .finish_non_exhaustive()
    }
}

impl Default for AccessOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl AccessOptions {
    /// Argon2id at OWASP's settings, the system clock, no log, plain HTTP.
    pub fn new() -> Self {
        Self {
            hasher: PasswordHasher::default(),
            clock: Arc::new(crate::clock::SystemClock),
            log: None,
            tls: None,
            behind_tls_proxy: false,
        }
    }

    /// How app passwords are checked.
    #[must_use]
    pub fn hasher(mut self, hasher: PasswordHasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// What time it is (grants expire, sessions end, pages say "today").
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where every request is recorded.
    #[must_use]
    pub fn log(mut self, log: AccessLog) -> Self {
        self.log = Some(log);
        self
    }

    /// Serve over TLS (see [`tls_config`](super::tls_config)).
    #[must_use]
    pub fn tls(mut self, tls: super::TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Whether a proxy in front terminates TLS: the web page's cookies are
    /// then marked `Secure` although this listener speaks plain HTTP.
    #[must_use]
    pub fn behind_tls_proxy(mut self, behind: bool) -> Self {
        self.behind_tls_proxy = behind;
        self
    }
}

/// What the server shares between connections.
struct Shared {
    replica: Arc<dyn AccessReplica>,
    hasher: PasswordHasher,
    clock: Arc<dyn Clock>,
    throttle: super::throttle::Throttle,
    sessions: Sessions,
    /// Calendars' items as last served, per calendar version.
    resources: ResourceCache,
    /// Whether the web page's cookies are `Secure`.
    secure: bool,
    log: Option<AccessLog>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

/// A running front end; stops when dropped or [`stop`](Self::stop)ped.
///
/// ```no_run
/// use std::sync::Arc;
/// use calrep_core::access::{AccessOptions, AccessRecord, AccessServer};
/// use calrep_core::replica::SqliteReplica;
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let replica = Arc::new(SqliteReplica::open_read_only("replica.db".as_ref())?);
/// let options = AccessOptions::new().log(Arc::new(|record: &AccessRecord| eprintln!("access {record}")));
/// let server = AccessServer::start("127.0.0.1:8443".parse()?, replica, options).await?;
/// println!("CalDAV at http://{}/.well-known/caldav", server.addr());
/// println!("in a browser at http://{}/web/", server.addr());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AccessServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl AccessServer {
    /// Listens on `listen` and serves `replica` to the accounts it holds, as
    /// `options` say. Needs a tokio runtime with I/O and time enabled.
    ///
    /// # Errors
    ///
    /// If the address cannot be bound.
    pub async fn start(
        listen: SocketAddr,
        replica: Arc<dyn AccessReplica>,
        options: AccessOptions,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            replica,
            hasher: options.hasher,
            clock: options.clock,
            throttle: super::throttle::Throttle::default(),
            sessions: Sessions::default(),
            resources: ResourceCache::default(),
            secure: options.tls.is_some() || options.behind_tls_proxy,
            log: options.log,
        });
        let tls = options.tls.map(tokio_rustls::TlsAcceptor::from);
        let task = tokio::spawn(serve(listener, shared, tls));
        Ok(Self { addr, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening and drops every connection.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for AccessServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, tls: Option<tokio_rustls::TlsAcceptor>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, remote)) = listener.accept().await else {
            // Out of descriptors, say: wait instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let tls = tls.clone();
        connections.spawn(async move {
            let service = service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move {
                    let method = request.method().as_str().to_owned();
                    let path = logged_path(request.uri().path());
                    let mut account = None;
                    let answer = tokio::time::timeout(
                        REQUEST_TIMEOUT,
                        handle(&shared, request, remote, &mut account),
                    )
                    .await
                    .unwrap_or_else(|_| Answer::text(408, "Request Timeout"));
                    if let Some(log) = &shared.log {
                        log(&AccessRecord {
                            at: shared.clock.now(),
                            remote,
                            account,
                            method,
                            path,
                            status: answer.status,
                        });
                    }
                    Ok::<_, Infallible>(respond(answer))
                }
            });
            let mut http = http1::Builder::new();
            http.max_buf_size(64 * 1024)
                .header_read_timeout(REQUEST_TIMEOUT)
                .timer(hyper_util::rt::TokioTimer::new());
            match tls {
                None => {
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                }
                Some(acceptor) => {
                    // A handshake that never ends holds nothing for long.
                    let accepted =
                        tokio::time::timeout(REQUEST_TIMEOUT, acceptor.accept(stream)).await;
                    if let Ok(Ok(stream)) = accepted {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
}

fn respond(answer: Answer) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = hyper::StatusCode::from_u16(answer.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    let fixed = [
        ("content-type", answer.content_type),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ];
    for (name, value) in fixed {
        if let Ok(v) = value.parse() {
            headers.insert(name, v);
        }
    }
    for (name, value) in answer.headers {
        if let Ok(v) = value.parse() {
            // An answer's own value replaces a fixed one; cookies add up.
            if name == "set-cookie" {
                headers.append(name, v);
            } else {
                headers.insert(name, v);
            }
        }
    }
    response
}

/// The account name and password of a Basic `Authorization` header.
fn basic(header: Option<&str>) -> Option<(String, String)> {
    let encoded = header?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(crate::base64::decode(encoded.trim())?).ok()?;
    let (name, password) = decoded.split_once(':')?;
    Some((name.to_owned(), password.to_owned()))
}

fn challenge() -> Answer {
    let mut answer = Answer::text(401, "Sign in with your calrep app password.");
    answer.headers.push((
        "www-authenticate",
        "Basic realm=\"calrep\", charset=\"UTF-8\"".to_owned(),
    ));
    answer
}

/// A path as the log shows it: a feed's token (a credential) left out.
fn logged_path(path: &str) -> String {
    match path.strip_prefix("/feeds/") {
        Some(rest) => format!(
            "/feeds/…/{}",
            rest.split_once('/').map_or("", |(_, name)| name)
        ),
        None => path.to_owned(),
    }
}

async fn handle(
    shared: &Shared,
    request: Request<Incoming>,
    remote: SocketAddr,
    signed_in: &mut Option<String>,
) -> Answer {
    let method = request.method().as_str().to_owned();
    let raw_path = request.uri().path().to_owned();
    let Some(path) = percent_decode(&raw_path, false) else {
        return Answer::text(400, "The path is not valid.");
    };
    if path.trim_end_matches('/') == "/.well-known/caldav" {
        return Answer::redirect(301, "/dav/");
    }
    if path == "/favicon.ico" {
        // Browsers ask on their own: not found, rather than a sign-in prompt.
        return Answer::text(404, "Not Found");
    }
    // A browser at the root is led to the page; a CalDAV client (PROPFIND,
    // or anything signed in) is answered by CalDAV below.
    if path == "/"
        && (method == "GET" || method == "HEAD")
        && !request.headers().contains_key(hyper::header::AUTHORIZATION)
    {
        return Answer::redirect(303, "/web/");
    }
    if method == "OPTIONS" {
        let mut answer = Answer::text(200, "");
        answer
            .headers
            .push(("dav", "1, 3, calendar-access".to_owned()));
        answer
            .headers
            .push(("allow", "OPTIONS, GET, HEAD, PROPFIND, REPORT".to_owned()));
        return answer;
    }
    let header = |name: hyper::header::HeaderName| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let authorization = header(hyper::header::AUTHORIZATION);
    if let Some(rest) = path.strip_prefix("/feeds/") {
        let Some((token, name)) = rest.split_once('/') else {
            return Answer::text(404, "Not Found");
        };
        if method != "GET" && method != "HEAD" {
            return Answer::text(405, "Method Not Allowed");
        }
        let if_none_match = header(hyper::header::IF_NONE_MATCH);
        let now = shared.clock.now();
        return super::feed::handle(
            shared.replica.as_ref(),
            &shared.resources,
            token,
            name,
            if_none_match.as_deref(),
            now,
        )
        .await;
    }
    if path == "/web" || path.starts_with("/web/") {
        let query = request.uri().query().map(str::to_owned);
        let cookie = header(hyper::header::COOKIE);
        let origin = header(hyper::header::ORIGIN);
        let host = header(hyper::header::HOST);
        let fetch_site = request
            .headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return Answer::text(413, "The request body is too large."),
        };
        let context = web::Context {
            replica: shared.replica.as_ref(),
            hasher: &shared.hasher,
            throttle: &shared.throttle,
            sessions: &shared.sessions,
            resources: &shared.resources,
            secure: shared.secure,
            now: shared.clock.now(),
        };
        let (answer, account) = web::handle(
            &context,
            &WebRequest {
                method: &method,
                path: &path,
                query: query.as_deref(),
                cookie: cookie.as_deref(),
                origin: origin.as_deref(),
                host: host.as_deref(),
                fetch_site: fetch_site.as_deref(),
                body: &body,
                remote,
            },
        )
        .await;
        *signed_in = account;
        return answer;
    }
    let depth = match request.headers().get("depth").and_then(|v| v.to_str().ok()) {
        Some("0") => Depth::Zero,
        _ => Depth::One,
    };
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Answer::text(413, "The request body is too large."),
    };
    let Some((name, password)) = basic(authorization.as_deref()) else {
        return challenge();
    };
    let now = shared.clock.now();
    let attempt = shared
        .throttle
        .sign_in(
            shared.replica.as_ref(),
            &shared.hasher,
            &name,
            &password,
            remote.ip(),
            now,
        )
        .await;
    let account = match attempt {
        Attempt::SignedIn(account) => account,
        Attempt::Refused => return challenge(),
        Attempt::Locked(wait) => {
            let mut answer = Answer::text(429, "Too many failed sign-ins: wait, then try again.");
            answer.headers.push(retry_after(wait));
            return answer;
        }
        Attempt::Unavailable => return caldav::unavailable(),
    };
    *signed_in = Some(account.name.clone());
    if WRITES.contains(&method.as_str()) {
        return Answer {
            status: 403,
            content_type: "application/xml; charset=utf-8",
            body: b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:error xmlns:d=\"DAV:\"><d:need-privileges/></d:error>".to_vec(),
            headers: Vec::new(),
        };
    }
    caldav::handle(
        shared.replica.as_ref(),
        &shared.resources,
        &account,
        DavRequest {
            method: &method,
            path: &path,
            depth,
            body: &body,
        },
        now,
    )
    .await
}
