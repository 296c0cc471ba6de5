//! The simulator's HTTP server: hyper on 127.0.0.1, one task per
//! connection. It authenticates (Basic, or bearer tokens it issued itself
//! through the client-credentials flow), adds the configured latency,
//! applies the fault plan, and hands the SOAP body to [`super::soap`].

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::faults::{Fault, FaultPlan, STALL};
use super::soap::{self, Caller};
use super::{SimAccount, SimApp};
use crate::address::EmailAddress;
use crate::encoding::percent_decode;
use crate::group::Directory;
use crate::mailbox::MemoryOrganisation;

type Body = BoxBody<Bytes, Infallible>;

/// The largest request body the simulator reads.
const MAX_REQUEST: usize = 8 << 20;

/// Everything the server shares between connections.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) org: Arc<MemoryOrganisation>,
    pub(crate) directory: Option<Arc<dyn Directory>>,
    pub(crate) accounts: Vec<SimAccount>,
    pub(crate) apps: Vec<SimApp>,
    pub(crate) app_account: EmailAddress,
    pub(crate) latency: Mutex<Duration>,
    pub(crate) token_lifetime: Duration,
    pub(crate) tokens: Mutex<HashMap<String, Instant>>,
    pub(crate) faults: Mutex<FaultPlan>,
    pub(crate) requests: Mutex<BTreeMap<String, u64>>,
    pub(crate) issued: AtomicU64,
    /// Microseconds of injected latency actually waited, in all.
    pub(crate) waited_us: AtomicU64,
    pub(crate) graph_denied: Vec<EmailAddress>,
    pub(crate) graph_no_rest: Vec<EmailAddress>,
    /// Graph requests in flight per mailbox (MailboxConcurrency).
    pub(crate) graph_in_flight: Mutex<HashMap<EmailAddress, usize>>,
    /// `http://127.0.0.1:PORT/v1.0`, for the links Graph answers with.
    pub(crate) graph_base: String,
    pub(crate) ews_disabled: bool,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    fn count(&self, what: &str) {
        *lock(&self.requests).entry(what.to_owned()).or_default() += 1;
    }

    /// The caller behind an `Authorization` header, if it is valid.
    fn caller(&self, header: Option<&str>) -> Option<(EmailAddress, bool, Vec<EmailAddress>)> {
        let header = header?;
        if let Some(encoded) = header.strip_prefix("Basic ") {
            let decoded = crate::base64::decode(encoded.trim())?;
            let text = String::from_utf8(decoded).ok()?;
            let (user, password) = text.split_once(':')?;
            let account = self.accounts.iter().find(|a| {
                a.username.eq_ignore_ascii_case(user) && a.password.expose() == password
            })?;
            return Some((
                account.address.clone(),
                account.may_impersonate,
                account.out_of_scope.clone(),
            ));
        }
        let token = header.strip_prefix("Bearer ")?.trim();
        let expires = *lock(&self.tokens).get(token)?;
        // An app-only token: it may act for every mailbox, as
        // `full_access_as_app` grants.
        (Instant::now() < expires).then(|| (self.app_account.clone(), true, Vec::new()))
    }
}

fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()).boxed());
    *response.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

const XML: &str = "text/xml; charset=utf-8";

/// Serves until the task is aborted; aborting drops every connection.
pub(crate) async fn serve(listener: TcpListener, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors, say: wait instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        connections.spawn(async move {
            let service = service_fn(move |request| handle(Arc::clone(&state), request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

/// Why a connection was dropped on purpose.
#[derive(Debug)]
struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by the fault plan")
    }
}

impl std::error::Error for Reset {}

async fn handle(state: Arc<State>, request: Request<Incoming>) -> Result<Response<Body>, Reset> {
    let path = request.uri().path().to_owned();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let page_size = request
        .headers()
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| {
            p.trim()
                .strip_prefix("odata.maxpagesize=")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(super::graph::DEFAULT_PAGE_SIZE);
    let is_post = request.method() == hyper::Method::POST;
    let auth = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match Limited::new(request.into_body(), MAX_REQUEST)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(full(
                StatusCode::PAYLOAD_TOO_LARGE,
                "text/plain",
                "too large",
            ));
        }
    };
    if is_post && path.ends_with("/oauth2/v2.0/token") {
        state.count("token");
        return Ok(token(&state, &body));
    }
    if let Some(graph_path) = path_and_query.strip_prefix("/v1.0") {
        return graph(
            &state,
            is_post,
            graph_path,
            auth.as_deref(),
            &body,
            page_size,
        )
        .await;
    }
    if !(is_post && path.eq_ignore_ascii_case("/EWS/Exchange.asmx")) {
        return Ok(full(StatusCode::NOT_FOUND, "text/plain", "not found"));
    }
    let Some((account, may_impersonate, out_of_scope)) = state.caller(auth.as_deref()) else {
        state.count("unauthorized");
        let mut response = full(StatusCode::UNAUTHORIZED, "text/plain", "");
        response.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Basic realm=\"calrep-sim\""),
        );
        return Ok(response);
    };
    if state.ews_disabled {
        // What Exchange Online answers an app not on EWSAllowedAppIDs.
        state.count("ews_disabled");
        return Ok(full(StatusCode::FORBIDDEN, "text/plain", ""));
    }
    state.wait_latency().await;
    let text = String::from_utf8_lossy(&body);
    let parsed = match soap::Request::parse(&text) {
        Ok(r) => r,
        Err((status, body)) => return Ok(full(status_of(status), XML, body)),
    };
    state.count(&parsed.operation);
    let fault = lock(&state.faults).pick(&parsed.operation, parsed.mailbox.as_ref());
    let answer = || async {
        let caller = Caller {
            account: &account,
            may_impersonate,
            out_of_scope: &out_of_scope,
        };
        soap::answer(&state.org, state.directory.as_deref(), &caller, &parsed).await
    };
    let Some(fault) = fault else {
        let (status, body) = answer().await;
        return Ok(full(status_of(status), XML, body));
    };
    state.count("faults");
    Ok(match fault {
        Fault::ServerBusy { back_off_ms } => full(
            StatusCode::OK,
            XML,
            soap::server_busy(&parsed.operation, u128::from(back_off_ms)),
        ),
        Fault::Unavailable {
            retry_after_seconds,
        } => {
            let mut r = full(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                "Service Unavailable",
            );
            if let Ok(v) = retry_after_seconds.to_string().parse() {
                r.headers_mut().insert(hyper::header::RETRY_AFTER, v);
            }
            r
        }
        Fault::TimeoutExpired => full(
            StatusCode::OK,
            XML,
            soap::code_response(
                &parsed.operation,
                "ErrorTimeoutExpired",
                "The operation timed out waiting for the server.",
                "",
                1,
            ),
        ),
        Fault::InternalError => {
            let (status, body) = soap::fault(
                "ErrorInternalServerError",
                "An internal server error occurred. The operation failed.",
            );
            full(status_of(status), XML, body)
        }
        Fault::ConnectionReset => return Err(Reset),
        Fault::TruncatedBody => {
            let (_, body) = answer().await;
            full(StatusCode::OK, XML, half(&body).to_owned())
        }
        Fault::StalledBody => {
            let (_, body) = answer().await;
            stalled(&body)
        }
    })
}

impl State {
    /// Waits the configured latency, recording what was really waited
    /// (timers round up to their tick).
    async fn wait_latency(&self) {
        let latency = *lock(&self.latency);
        if !latency.is_zero() {
            let started = Instant::now();
            tokio::time::sleep(latency).await;
            let waited = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.waited_us.fetch_add(waited, Ordering::Relaxed);
        }
    }
}

/// A Graph request: a bearer token the token endpoint issued, the latency,
/// the fault plan, then [`super::graph`]'s answer.
async fn graph(
    state: &Arc<State>,
    post: bool,
    path_and_query: &str,
    auth: Option<&str>,
    body: &[u8],
    page_size: usize,
) -> Result<Response<Body>, Reset> {
    let authorised = auth
        .and_then(|h| h.strip_prefix("Bearer "))
        .and_then(|t| lock(&state.tokens).get(t.trim()).copied())
        .is_some_and(|expires| Instant::now() < expires);
    if !authorised {
        state.count("unauthorized");
        return Ok(graph_reply(super::graph::Reply::json_error(
            401,
            "InvalidAuthenticationToken",
            "Access token is empty or expired.",
        )));
    }
    let target = super::graph::Target::parse(path_and_query, page_size);
    let operation = target.operation();
    state.count(operation);
    let fault = lock(&state.faults).pick(operation, target.mailbox().as_ref());
    state.wait_latency().await;
    let answer = || super::graph::answer(state, post, &target, body);
    let Some(fault) = fault else {
        return Ok(graph_reply(answer().await));
    };
    state.count("faults");
    if let Some(reply) = super::graph::fault_reply(fault) {
        return Ok(graph_reply(reply));
    }
    let reply = answer().await;
    let text = String::from_utf8_lossy(&reply.body).into_owned();
    Ok(match fault {
        Fault::ConnectionReset => return Err(Reset),
        Fault::StalledBody => stalled(&text),
        _ => full(StatusCode::OK, "application/json", half(&text).to_owned()),
    })
}

fn graph_reply(reply: super::graph::Reply) -> Response<Body> {
    let content_type = if reply.json {
        "application/json"
    } else {
        "application/octet-stream"
    };
    let mut response = full(status_of(reply.status), content_type, reply.body);
    if let Some(wait) = reply.retry_after
        && let Ok(v) = wait.to_string().parse()
    {
        response.headers_mut().insert(hyper::header::RETRY_AFTER, v);
    }
    response
}

/// Half of `body`, then nothing until the client gives up.
fn stalled(body: &str) -> Response<Body> {
    let first = Bytes::from(half(body).to_owned());
    let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(Frame::data(first)) })
        .chain(futures_util::stream::once(async {
            tokio::time::sleep(STALL).await;
            Ok(Frame::data(Bytes::new()))
        }));
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    if let Ok(v) = body.len().to_string().parse() {
        r.headers_mut().insert(hyper::header::CONTENT_LENGTH, v);
    }
    r
}

fn half(body: &str) -> &str {
    let mut cut = body.len() / 2;
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    &body[..cut]
}

impl State {
    /// A new app-only token, valid for the configured lifetime.
    pub(crate) fn issue_token(&self) -> String {
        let n = self.issued.fetch_add(1, Ordering::Relaxed);
        let token = format!(
            "sim-token-{n}-{:016x}",
            n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        );
        lock(&self.tokens).insert(token.clone(), Instant::now() + self.token_lifetime);
        token
    }
}

fn status_of(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The client-credentials grant, answered as Entra answers it.
fn token(state: &State, body: &[u8]) -> Response<Body> {
    let form: HashMap<String, String> = String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((percent_decode(k, true)?, percent_decode(v, true)?))
        })
        .collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let error = |code: &str, text: &str| {
        full(
            StatusCode::BAD_REQUEST,
            "application/json",
            serde_json::json!({"error": code, "error_description": text}).to_string(),
        )
    };
    if field("grant_type") != "client_credentials" {
        return error(
            "unsupported_grant_type",
            "AADSTS70003: only client_credentials is supported.",
        );
    }
    let known = state.apps.iter().any(|a| {
        a.client_id == field("client_id")
            && match &a.certificate {
                // A signed assertion from the registered certificate, for
                // this app, unexpired.
                Some((public_key, x5t)) => {
                    field("client_assertion_type")
                        == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                        && crate::auth::verify_assertion(field("client_assertion"), public_key)
                            .is_some_and(|claims| {
                                let now = chrono::Utc::now().timestamp();
                                claims["x5t"] == x5t.as_str()
                                    && claims["iss"] == a.client_id.as_str()
                                    && claims["sub"] == a.client_id.as_str()
                                    && claims["aud"]
                                        .as_str()
                                        .is_some_and(|aud| aud.ends_with("/oauth2/v2.0/token"))
                                    && claims["exp"].as_i64().is_some_and(|exp| exp > now)
                            })
                }
                None => {
                    !a.secret.expose().is_empty() && a.secret.expose() == field("client_secret")
                }
            }
    });
    if !known {
        return error(
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    let token = state.issue_token();
    full(
        StatusCode::OK,
        "application/json",
        serde_json::json!({
            "token_type": "Bearer",
            "expires_in": state.token_lifetime.as_secs(),
            "access_token": token,
        })
        .to_string(),
    )
}
