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

use super::caldav::{self, Depth};
use super::{AccessReplica, Answer, PasswordHasher, sign_in};
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

/// What the server shares between connections.
#[derive(Debug)]
struct Shared {
    replica: Arc<dyn AccessReplica>,
    hasher: PasswordHasher,
    clock: Arc<dyn Clock>,
}

/// A running front end; stops when dropped or [`stop`](Self::stop)ped.
///
/// ```no_run
/// use std::sync::Arc;
/// use calrep_core::access::{AccessServer, PasswordHasher};
/// use calrep_core::replica::SqliteReplica;
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let replica = Arc::new(SqliteReplica::open_read_only("replica.db".as_ref())?);
/// let server = AccessServer::start(
///     "127.0.0.1:8443".parse()?,
///     replica,
///     PasswordHasher::default(),
///     Arc::new(calrep_core::SystemClock),
/// )
/// .await?;
/// println!("CalDAV at http://{}/.well-known/caldav", server.addr());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AccessServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl AccessServer {
    /// Listens on `listen` and serves `replica` to the accounts it holds.
    /// Needs a tokio runtime with I/O and time enabled.
    ///
    /// # Errors
    ///
    /// If the address cannot be bound.
    pub async fn start(
        listen: SocketAddr,
        replica: Arc<dyn AccessReplica>,
        hasher: PasswordHasher,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            replica,
            hasher,
            clock,
        });
        let task = tokio::spawn(serve(listener, shared));
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

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors, say: wait instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let service = service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move {
                    let answer = tokio::time::timeout(REQUEST_TIMEOUT, handle(&shared, request))
                        .await
                        .unwrap_or_else(|_| Answer::text(408, "Request Timeout"));
                    Ok::<_, Infallible>(respond(answer))
                }
            });
            let _ = http1::Builder::new()
                .max_buf_size(64 * 1024)
                .header_read_timeout(REQUEST_TIMEOUT)
                .timer(hyper_util::rt::TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
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
            headers.insert(name, v);
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

async fn handle(shared: &Shared, request: Request<Incoming>) -> Answer {
    let method = request.method().as_str().to_owned();
    let raw_path = request.uri().path().to_owned();
    let Some(path) = percent_decode(&raw_path, false) else {
        return Answer::text(400, "The path is not valid.");
    };
    if path.trim_end_matches('/') == "/.well-known/caldav" {
        let mut answer = Answer::text(301, "Moved Permanently");
        answer.headers.push(("location", "/dav/".to_owned()));
        return answer;
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
            token,
            name,
            if_none_match.as_deref(),
            now,
        )
        .await;
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
    let account = match sign_in(
        shared.replica.as_ref(),
        &shared.hasher,
        &name,
        &password,
        now,
    )
    .await
    {
        Ok(Some(account)) => account,
        Ok(None) => return challenge(),
        Err(_) => return Answer::text(503, "The replica cannot be read right now."),
    };
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
        &account,
        &method,
        &path,
        depth,
        &body,
        now,
    )
    .await
}
