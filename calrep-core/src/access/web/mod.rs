//! The web page under `/web/`: sign in with an app password, then see
//! today for every calendar one may read, and any calendar's day, week or
//! month. Server-rendered HTML that works without JavaScript (a small
//! script only fills in the browser's time zone the first time).
//!
//! Sessions are cookies naming an in-memory [`Sessions`] entry; every
//! request re-reads the account, so revoking or re-issuing it ends its
//! sessions. Every POST carries a CSRF token and may not come from another
//! origin.

mod page;
mod session;

use std::net::SocketAddr;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;

pub(crate) use session::Sessions;

use super::caldav::{Collection, collections, find_collection};
use super::throttle::{Attempt, retry_after};
use super::{AccessReplica, Answer};
use crate::encoding::percent_decode;
use crate::replica::AccessAccount;
use page::{Span, Viewer};

const STYLE: &str = include_str!("style.css");
const ZONE_SCRIPT: &str = include_str!("zone.js");

/// The session cookie.
const SESSION_COOKIE: &str = "calrep_session";
/// The sign-in form's CSRF cookie (double submit: the form carries the same).
const SIGN_IN_COOKIE: &str = "calrep_signin";
/// The viewer's chosen zone (not a secret).
const ZONE_COOKIE: &str = "calrep_tz";
/// The pages' own policy: styles and the one script from here, forms only
/// to here, never in a frame.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// Calendars whose events the overview shows; past this many (an
/// administrator's), it lists them.
const OVERVIEW_EVENTS_UP_TO: usize = 50;

/// What the web page needs from the server.
pub(crate) struct Context<'a> {
    pub(crate) replica: &'a dyn AccessReplica,
    pub(crate) hasher: &'a super::PasswordHasher,
    pub(crate) throttle: &'a super::throttle::Throttle,
    pub(crate) sessions: &'a Sessions,
    pub(crate) resources: &'a super::resources::ResourceCache,
    /// Whether cookies must be `Secure` (TLS here or at a proxy).
    pub(crate) secure: bool,
    pub(crate) now: DateTime<Utc>,
}

/// One request to the web page, as read by the server.
#[derive(Debug)]
pub(crate) struct WebRequest<'a> {
    pub(crate) method: &'a str,
    /// The decoded path (starting `/web`).
    pub(crate) path: &'a str,
    /// The raw query, if any.
    pub(crate) query: Option<&'a str>,
    pub(crate) cookie: Option<&'a str>,
    pub(crate) origin: Option<&'a str>,
    pub(crate) host: Option<&'a str>,
    /// `Sec-Fetch-Site`, which browsers send with every request.
    pub(crate) fetch_site: Option<&'a str>,
    pub(crate) body: &'a [u8],
    pub(crate) remote: SocketAddr,
}

impl WebRequest<'_> {
    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookie?.split(';').find_map(|pair| {
            let (n, v) = pair.trim().split_once('=')?;
            (n == name).then_some(v)
        })
    }

    fn query_value(&self, name: &str) -> Option<String> {
        form_value(self.query?, name)
    }

    /// Whether a POST may be trusted to come from this site's own page: no
    /// other origin, no cross-site fetch.
    fn same_origin(&self) -> bool {
        if self
            .fetch_site
            .is_some_and(|s| s == "cross-site" || s == "same-site")
        {
            return false;
        }
        match (self.origin, self.host) {
            (None, _) => true,
            (Some(origin), Some(host)) => origin
                .split_once("://")
                .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)),
            (Some(_), None) => false,
        }
    }
}

/// The value of `name` in form-encoded `text`.
fn form_value(text: &str, name: &str) -> Option<String> {
    text.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        (n == name).then(|| percent_decode(v, true)).flatten()
    })
}

/// Constant-time equality of two tokens.
fn same_token(a: &str, b: &str) -> bool {
    super::password::same(a.as_bytes(), b.as_bytes())
}

fn html(status: u16, body: String) -> Answer {
    Answer {
        status,
        content_type: "text/html; charset=utf-8",
        body: body.into_bytes(),
        headers: vec![
            ("content-security-policy", CSP.to_owned()),
            // `no-referrer` would make a form's POST say `Origin: null`.
            ("referrer-policy", "same-origin".to_owned()),
        ],
    }
}

fn asset(content_type: &'static str, text: &str) -> Answer {
    Answer {
        status: 200,
        content_type,
        body: text.as_bytes().to_vec(),
        headers: vec![("cache-control", "public, max-age=3600".to_owned())],
    }
}

impl Context<'_> {
    fn cookie(&self, name: &str, value: &str, max_age: Option<i64>) -> String {
        let mut cookie = format!("{name}={value}; Path=/web; HttpOnly; SameSite=Strict");
        if let Some(age) = max_age {
            cookie.push_str(&format!("; Max-Age={age}"));
        }
        if self.secure {
            cookie.push_str("; Secure");
        }
        cookie
    }

    /// The signed-in account and session of `request`, if its cookie names
    /// a live session of an account that still exists, unexpired, with the
    /// same password.
    async fn session(
        &self,
        request: &WebRequest<'_>,
    ) -> Result<Option<(AccessAccount, session::Session)>, Answer> {
        let Some(token) = request.cookie(SESSION_COOKIE) else {
            return Ok(None);
        };
        let Some(session) = self.sessions.find(token, self.now) else {
            return Ok(None);
        };
        let account = match self.replica.account(&session.account).await {
            Ok(a) => a,
            Err(_) => return Err(unavailable()),
        };
        match account {
            Some(a) if !a.expired(self.now) && a.password_hash == session.password_hash => {
                Ok(Some((a, session)))
            }
            _ => {
                self.sessions.end(token);
                Ok(None)
            }
        }
    }

    /// The sign-in page with a fresh CSRF cookie.
    fn sign_in_page(&self, status: u16, name: &str, message: Option<&str>) -> Answer {
        let Ok(csrf) = session::new_token() else {
            return unavailable();
        };
        let mut answer = html(status, page::sign_in(&csrf, name, message));
        answer
            .headers
            .push(("set-cookie", self.cookie(SIGN_IN_COOKIE, &csrf, Some(3600))));
        answer
    }
}

fn unavailable() -> Answer {
    html(
        503,
        page::message(
            "Not available",
            "The replica cannot be read right now. Try again in a moment.",
            None,
        ),
    )
}

/// Answers a request under `/web`, and says who was signed in.
pub(crate) async fn handle(
    ctx: &Context<'_>,
    request: &WebRequest<'_>,
) -> (Answer, Option<String>) {
    let read = matches!(request.method, "GET" | "HEAD");
    match (request.method, request.path) {
        (_, "/web/style.css") if read => return (asset("text/css; charset=utf-8", STYLE), None),
        (_, "/web/zone.js") if read => {
            return (asset("text/javascript; charset=utf-8", ZONE_SCRIPT), None);
        }
        ("POST", "/web/signin") => return post_sign_in(ctx, request).await,
        _ => {}
    }
    let (account, session) = match ctx.session(request).await {
        Ok(Some(found)) => found,
        Ok(None) if request.path == "/web/signin" && read => {
            return (ctx.sign_in_page(200, "", None), None);
        }
        Ok(None) if read => return (Answer::redirect(303, "/web/signin"), None),
        Ok(None) => {
            return (
                html(403, page::message("Refused", "Sign in first.", None)),
                None,
            );
        }
        Err(answer) => return (answer, None),
    };
    let name = Some(account.name.clone());
    if request.method == "POST" {
        let answer = if request.path == "/web/signout" {
            sign_out(ctx, request, &session)
        } else {
            html(
                405,
                page::message("Read-only", "This replica cannot be changed.", None),
            )
        };
        return (answer, name);
    }
    if !read {
        return (
            html(
                405,
                page::message("Read-only", "This replica cannot be changed.", None),
            ),
            name,
        );
    }
    let zone_param = request.query_value("tz");
    let zone_text = zone_param.clone().or_else(|| {
        request
            .cookie(ZONE_COOKIE)
            .and_then(|z| percent_decode(z, false))
    });
    let zone: Tz = zone_text
        .as_deref()
        .and_then(|z| z.parse().ok())
        .unwrap_or(Tz::UTC);
    let viewer = Viewer {
        account: &account.name,
        csrf: &session.csrf,
        zone,
        zone_chosen: zone_text.is_some(),
        now: ctx.now,
    };
    let mut answer = match request.path {
        "/web" | "/web/" => overview(ctx, &account, &viewer).await,
        "/web/signin" => Answer::redirect(303, "/web/"),
        path => match path.strip_prefix("/web/c/") {
            Some(segment) => calendar(ctx, &account, segment, request, &viewer).await,
            None => html(
                404,
                page::message("Not found", "There is no such page.", Some(&viewer)),
            ),
        },
    };
    if let Some(z) = zone_param.filter(|z| z.parse::<Tz>().is_ok()) {
        answer.headers.push((
            "set-cookie",
            format!(
                "{ZONE_COOKIE}={}; Path=/web; SameSite=Lax; Max-Age=31536000{}",
                crate::encoding::path_segment(&z),
                if ctx.secure { "; Secure" } else { "" }
            ),
        ));
    }
    (answer, name)
}

async fn post_sign_in(ctx: &Context<'_>, request: &WebRequest<'_>) -> (Answer, Option<String>) {
    let form = std::str::from_utf8(request.body).unwrap_or("");
    let name = form_value(form, "name").unwrap_or_default();
    let password = form_value(form, "password").unwrap_or_default();
    let csrf = form_value(form, "csrf").unwrap_or_default();
    let cookie = request.cookie(SIGN_IN_COOKIE).unwrap_or("");
    if !request.same_origin() || cookie.is_empty() || !same_token(&csrf, cookie) {
        return (
            ctx.sign_in_page(
                403,
                &name,
                Some("This sign-in form has expired; please try again."),
            ),
            None,
        );
    }
    let attempt = ctx
        .throttle
        .sign_in(
            ctx.replica,
            ctx.hasher,
            &name,
            &password,
            request.remote.ip(),
            ctx.now,
        )
        .await;
    let account = match attempt {
        Attempt::SignedIn(a) => a,
        Attempt::Locked(wait) => {
            let mut answer = ctx.sign_in_page(
                429,
                &name,
                Some("Too many failed sign-ins. Wait a few minutes, then try again."),
            );
            answer.headers.push(retry_after(wait));
            return (answer, None);
        }
        Attempt::Refused => {
            return (
                ctx.sign_in_page(
                    401,
                    &name,
                    Some("That account name and app password do not match an account that may sign in."),
                ),
                None,
            );
        }
        Attempt::Unavailable => return (unavailable(), None),
    };
    let Ok(token) = ctx
        .sessions
        .start(&account.name, &account.password_hash, ctx.now)
    else {
        return (unavailable(), None);
    };
    let mut answer = Answer::redirect(303, "/web/");
    answer
        .headers
        .push(("set-cookie", ctx.cookie(SESSION_COOKIE, &token, None)));
    answer
        .headers
        .push(("set-cookie", ctx.cookie(SIGN_IN_COOKIE, "", Some(0))));
    (answer, Some(account.name))
}

fn sign_out(ctx: &Context<'_>, request: &WebRequest<'_>, session: &session::Session) -> Answer {
    let form = std::str::from_utf8(request.body).unwrap_or("");
    let csrf = form_value(form, "csrf").unwrap_or_default();
    if !request.same_origin() || !same_token(&csrf, &session.csrf) {
        return html(
            403,
            page::message(
                "Refused",
                "This form has expired; reload the page and try again.",
                None,
            ),
        );
    }
    if let Some(token) = request.cookie(SESSION_COOKIE) {
        ctx.sessions.end(token);
    }
    let mut answer = Answer::redirect(303, "/web/signin");
    answer
        .headers
        .push(("set-cookie", ctx.cookie(SESSION_COOKIE, "", Some(0))));
    answer
}

/// The viewer's date now.
fn today(viewer: &Viewer<'_>) -> NaiveDate {
    viewer.now.with_timezone(&viewer.zone).date_naive()
}

/// The events of `c` in `days` (in the viewer's zone), or `None` if the
/// calendar cannot be read.
async fn shown(
    ctx: &Context<'_>,
    c: &Collection,
    days: &[NaiveDate],
    zone: Tz,
) -> Option<(Vec<page::Entry>, usize)> {
    let (first, last) = (days.first()?, days.last()?);
    let from = page::day_start(zone, *first);
    let to = page::day_start(zone, *last + TimeDelta::days(1));
    let read = super::caldav::resources(ctx.replica, ctx.resources, c)
        .await
        .ok()?;
    Some(page::entries(c, &read, from, to))
}

async fn overview(ctx: &Context<'_>, account: &AccessAccount, viewer: &Viewer<'_>) -> Answer {
    let all = match collections(ctx.replica, account).await {
        Ok(all) => all,
        Err(_) => return unavailable(),
    };
    let today = today(viewer);
    let with_events = all.len() <= OVERVIEW_EVENTS_UP_TO;
    let mut calendars = Vec::with_capacity(all.len());
    for c in all {
        let events = if with_events {
            shown(ctx, &c, &[today], viewer.zone).await
        } else {
            None
        };
        calendars.push((c, events));
    }
    html(200, page::overview(&calendars, today, viewer))
}

async fn calendar(
    ctx: &Context<'_>,
    account: &AccessAccount,
    segment: &str,
    request: &WebRequest<'_>,
    viewer: &Viewer<'_>,
) -> Answer {
    let not_found = || {
        html(
            404,
            page::message(
                "Not found",
                "There is no such calendar, or it has not been shared with you.",
                Some(viewer),
            ),
        )
    };
    let c = match find_collection(ctx.replica, account, segment.trim_end_matches('/')).await {
        Ok(c) => c,
        Err(answer) if answer.status == 404 => return not_found(),
        Err(_) => return unavailable(),
    };
    let span = match request.query_value("view") {
        None => Span::Week,
        Some(v) => match Span::parse(&v) {
            Some(span) => span,
            None => {
                return html(
                    400,
                    page::message(
                        "Not understood",
                        "The view is day, week or month.",
                        Some(viewer),
                    ),
                );
            }
        },
    };
    let date = match request.query_value("date") {
        None => today(viewer),
        Some(text) => match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(d) if page::YEARS.contains(&chrono::Datelike::year(&d)) => d,
            _ => {
                return html(
                    400,
                    page::message(
                        "Not understood",
                        "The date is written YYYY-MM-DD, between the years 1900 and 2200.",
                        Some(viewer),
                    ),
                );
            }
        },
    };
    let days = span.days(date);
    match shown(ctx, &c, &days, viewer.zone).await {
        Some(events) => html(200, page::calendar(&c, &events, span, date, viewer)),
        None => unavailable(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(origin: Option<&'a str>, fetch_site: Option<&'a str>) -> WebRequest<'a> {
        WebRequest {
            method: "POST",
            path: "/web/signin",
            query: None,
            cookie: Some("a=1; calrep_signin=tok; calrep_tz=Europe%2FBerlin"),
            origin,
            host: Some("127.0.0.1:8008"),
            fetch_site,
            body: b"",
            remote: SocketAddr::from(([127, 0, 0, 1], 1)),
        }
    }

    #[test]
    fn a_post_from_another_origin_or_site_is_not_trusted() {
        assert!(request(None, None).same_origin());
        assert!(request(Some("http://127.0.0.1:8008"), Some("same-origin")).same_origin());
        assert!(!request(Some("https://evil.example"), None).same_origin());
        assert!(!request(Some("http://127.0.0.1:8008"), Some("cross-site")).same_origin());
        assert!(!request(None, Some("same-site")).same_origin());
    }

    #[test]
    fn cookies_and_form_values_are_found_by_exact_name() {
        let r = request(None, None);
        assert_eq!(r.cookie("calrep_signin"), Some("tok"));
        assert_eq!(r.cookie("calrep"), None);
        assert_eq!(
            form_value("name=ann+b&password=a%2Bb%3D", "password").as_deref(),
            Some("a+b=")
        );
        assert_eq!(form_value("name=ann+b", "name").as_deref(), Some("ann b"));
        assert_eq!(form_value("name=%zz", "name"), None);
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
    }
}
