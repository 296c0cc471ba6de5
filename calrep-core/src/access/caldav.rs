//! CalDAV, read-only (RFC 4791, with RFC 6764 discovery and RFC 5397's
//! current-user-principal), over the replica: one collection per calendar
//! an account may read, one resource per series (its overrides inside).
//!
//! URLs:
//! - `/dav/principals/{account}/` — the signed-in account;
//! - `/dav/calendars/{account}/` — its calendar home;
//! - `/dav/calendars/{account}/{mailbox}~{calendar}/` — a collection, the
//!   calendar named by its base64url display name (stable when a site
//!   moves from EWS to Graph and every source id changes);
//! - `…/{uid}.ics` — a series or single, named by its base64url
//!   iCalendar UID for the same reason.
//!
//! Another account's URLs, and calendars the account may not read, answer
//! 404 exactly as ones that do not exist.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::dav::{self, CALDAV, CS, DAV, MultiStatus, Node, PropName, escape};
use super::resources::{Resource, ResourceCache, Resources};
use super::{AccessReplica, Answer};
use crate::base64::encode_url;
use crate::calendar::CalendarId;
use crate::calendar::CalendarItem;
use crate::ical::{AttachmentStyle, export, export_expanded};
use crate::replica::{AccessAccount, ReplicaMailbox};

/// How deep a PROPFIND looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    Zero,
    One,
}

/// A calendar as the front end names it.
#[derive(Debug, Clone)]
pub(crate) struct CalendarRef {
    /// Its id at the source.
    pub(crate) id: CalendarId,
    /// Its display name (in its URL, base64url).
    pub(crate) name: String,
}

/// One calendar the account may read.
pub(crate) struct Collection {
    pub(crate) mailbox: String,
    pub(crate) calendar: CalendarRef,
    /// Others' private items are masked for a delegate.
    pub(crate) mask_private: bool,
    /// Its URL segment, `{mailbox}~{base64url of the calendar's name}`.
    pub(crate) segment: String,
    /// When the mailbox was last replicated (`None`: not yet), so that
    /// people can tell how current what they see is.
    pub(crate) replicated_at: Option<DateTime<Utc>>,
}

/// What a path names.
enum Target {
    /// `/`, `/dav/`: the service root.
    Root,
    Principal,
    Home,
    Collection(String),
    Resource(String, String),
}

fn principal(account: &AccessAccount) -> String {
    format!("/dav/principals/{}/", account.name)
}

fn home(account: &AccessAccount) -> String {
    format!("/dav/calendars/{}/", account.name)
}

fn parse_target(account: &AccessAccount, path: &str) -> Option<Target> {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() || trimmed == "/dav" {
        return Some(Target::Root);
    }
    let parts: Vec<&str> = trimmed.trim_start_matches('/').split('/').collect();
    let mine = |name: &str| name.eq_ignore_ascii_case(&account.name);
    match parts.as_slice() {
        ["dav", "principals", name] if mine(name) => Some(Target::Principal),
        ["dav", "calendars", name] if mine(name) => Some(Target::Home),
        ["dav", "calendars", name, col] if mine(name) => {
            Some(Target::Collection((*col).to_owned()))
        }
        ["dav", "calendars", name, col, res] if mine(name) => {
            Some(Target::Resource((*col).to_owned(), (*res).to_owned()))
        }
        _ => None,
    }
}

pub(crate) fn not_found() -> Answer {
    Answer::text(404, "Not Found")
}

/// Every collection `account` may read.
pub(crate) async fn collections(
    replica: &dyn AccessReplica,
    account: &AccessAccount,
) -> Result<Vec<Collection>, Answer> {
    let mailboxes = replica.mailboxes().await.map_err(|_| unavailable())?;
    let mut out = Vec::new();
    for mailbox in &mailboxes {
        out.extend(collections_of(replica, account, mailbox).await?);
    }
    Ok(out)
}

/// The collections of one mailbox `account` may read (none if it may not).
async fn collections_of(
    replica: &dyn AccessReplica,
    account: &AccessAccount,
    mailbox: &ReplicaMailbox,
) -> Result<Vec<Collection>, Answer> {
    let own = account.grant(&mailbox.address);
    if !account.admin && own.is_none() {
        return Ok(Vec::new());
    }
    let Ok(address) = mailbox.address.parse() else {
        return Ok(Vec::new());
    };
    let calendars = replica
        .calendar_names(&address)
        .await
        .map_err(|_| unavailable())?;
    Ok(calendars
        .into_iter()
        .map(|(id, name)| CalendarRef { id, name })
        .map(|calendar| Collection {
            segment: format!(
                "{}~{}",
                mailbox.address,
                encode_url(calendar.name.as_bytes())
            ),
            mailbox: mailbox.address.clone(),
            mask_private: !account.admin && own == Some(false),
            replicated_at: mailbox.last_synced,
            calendar,
        })
        .collect())
}

/// The collection `segment` names, if `account` may read it: only its
/// mailbox's calendars are read, whatever else the account may see.
pub(crate) async fn find_collection(
    replica: &dyn AccessReplica,
    account: &AccessAccount,
    segment: &str,
) -> Result<Collection, Answer> {
    let Some((address, _)) = segment.rsplit_once('~') else {
        return Err(not_found());
    };
    let Ok(parsed) = address.parse() else {
        return Err(not_found());
    };
    let Some(mailbox) = replica.mailbox(&parsed).await.map_err(|_| unavailable())? else {
        return Err(not_found());
    };
    collections_of(replica, account, &mailbox)
        .await?
        .into_iter()
        .find(|c| c.segment == segment)
        .ok_or_else(not_found)
}

/// A collection's change number (its sync token and ctag), read without
/// reading an item: changes after the last possible number are none.
pub(crate) async fn version(replica: &dyn AccessReplica, c: &Collection) -> Result<u64, Answer> {
    let Ok(address) = c.mailbox.parse() else {
        return Err(not_found());
    };
    match replica.changes(&address, &c.calendar.id, u64::MAX).await {
        Ok(Some(set)) => Ok(set.version),
        Ok(None) => Err(not_found()),
        Err(_) => Err(unavailable()),
    }
}

pub(crate) fn unavailable() -> Answer {
    Answer::text(503, "The replica cannot be read right now.")
}

/// A collection's resources at its current version (read only when the
/// version moved since `cache` last kept them).
pub(crate) async fn resources(
    replica: &dyn AccessReplica,
    cache: &ResourceCache,
    c: &Collection,
) -> Result<Arc<Resources>, Answer> {
    let version = version(replica, c).await?;
    resources_at(replica, cache, c, version).await
}

/// A collection's resources at `version`, its change number just read.
pub(crate) async fn resources_at(
    replica: &dyn AccessReplica,
    cache: &ResourceCache,
    c: &Collection,
    version: u64,
) -> Result<Arc<Resources>, Answer> {
    let Ok(address) = c.mailbox.parse() else {
        return Err(not_found());
    };
    match cache.get(replica, &address, &c.calendar.id, version).await {
        Ok(Some(resources)) => Ok(resources),
        Ok(None) => Err(not_found()),
        Err(_) => Err(unavailable()),
    }
}

/// An item as the collection's reader may see it: others' private items
/// masked for a delegate.
pub(crate) fn shown<'a>(c: &Collection, item: &'a CalendarItem) -> Cow<'a, CalendarItem> {
    if c.mask_private && item.sensitivity.is_private() {
        Cow::Owned(item.masked())
    } else {
        Cow::Borrowed(item)
    }
}

/// The `calendar-timezone` property of a calendar (only given when a
/// client names it: RFC 4791 keeps it out of `allprop`).
fn timezone_prop(read: &Resources, now: DateTime<Utc>) -> (PropName, String) {
    (
        PropName::new(CALDAV, "calendar-timezone"),
        escape(&crate::ical::zone_calendar(read.main_zone(), now)),
    )
}

/// Whether the client named `calendar-timezone`.
fn asks_timezone(asked: Option<&[PropName]>) -> bool {
    asked.is_some_and(|a| {
        a.iter()
            .any(|p| p.ns == CALDAV && p.name == "calendar-timezone")
    })
}

/// A resource's calendar data as `c`'s reader may see it, escaped for
/// XML: written once per resource, calendar name and masking, then copied.
fn written_data(c: &Collection, r: &Resource, now: DateTime<Utc>) -> String {
    let masked = c.mask_private && r.item.sensitivity.is_private();
    let slot = &r.written[usize::from(masked)];
    if let Some((name, text)) = slot.get()
        && *name == c.calendar.name
    {
        return text.clone();
    }
    let text = escape(&calendar_data(c, &shown(c, &r.item), now));
    let _ = slot.set((c.calendar.name.clone(), text.clone()));
    text
}

fn calendar_data(c: &Collection, item: &CalendarItem, now: DateTime<Utc>) -> String {
    export(
        &c.calendar.name,
        std::slice::from_ref(item),
        |_, _| None,
        AttachmentStyle::HashUri,
        now,
    )
}

/// The properties asked for (`None`: all the ones we have).
fn requested(body: Option<&Node>) -> Option<Vec<PropName>> {
    let prop = body?.child(DAV, "prop")?;
    Some(
        prop.children
            .iter()
            .map(|c| PropName::new(&c.ns, &c.name))
            .collect(),
    )
}

/// Splits what we have into what was asked for and found, and what was
/// asked for and is missing.
fn select(
    have: Vec<(PropName, String)>,
    asked: Option<&[PropName]>,
) -> (Vec<(PropName, String)>, Vec<PropName>) {
    let Some(asked) = asked else {
        return (have, Vec::new());
    };
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for name in asked {
        match have.iter().find(|(n, _)| n == name) {
            Some(p) => found.push(p.clone()),
            None => missing.push(name.clone()),
        }
    }
    (found, missing)
}

fn href(inner: &str) -> String {
    format!("<d:href>{}</d:href>", escape(inner))
}

/// The read-only privileges every resource here has.
const READ_ONLY: &str = "<d:privilege><d:read/></d:privilege><d:privilege><d:read-current-user-privilege-set/></d:privilege>";

fn account_props(account: &AccessAccount) -> Vec<(PropName, String)> {
    let addresses: String = account
        .mailboxes
        .iter()
        .map(|m| href(&format!("mailto:{m}")))
        .collect();
    vec![
        (
            PropName::new(DAV, "current-user-principal"),
            href(&principal(account)),
        ),
        (
            PropName::new(DAV, "principal-URL"),
            href(&principal(account)),
        ),
        (
            PropName::new(CALDAV, "calendar-home-set"),
            href(&home(account)),
        ),
        (
            PropName::new(CALDAV, "calendar-user-address-set"),
            addresses,
        ),
        (PropName::new(DAV, "displayname"), escape(&account.name)),
        (
            PropName::new(DAV, "current-user-privilege-set"),
            READ_ONLY.into(),
        ),
    ]
}

/// What a collection says about itself: read-only, and how current.
fn description(c: &Collection) -> String {
    let when = c.replicated_at.map_or_else(
        || "not replicated yet".to_owned(),
        |t| {
            format!(
                "as of {}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )
        },
    );
    format!(
        "Read-only replica of {} — {}, {when}",
        c.mailbox, c.calendar.name
    )
}

fn collection_props(
    c: &Collection,
    version: u64,
    account: &AccessAccount,
) -> Vec<(PropName, String)> {
    let name = format!("{} — {}", c.mailbox, c.calendar.name);
    vec![
        (
            PropName::new(DAV, "resourcetype"),
            "<d:collection/><c:calendar/>".into(),
        ),
        (PropName::new(DAV, "displayname"), escape(&name)),
        (
            PropName::new(CALDAV, "calendar-description"),
            escape(&description(c)),
        ),
        (
            PropName::new(CALDAV, "supported-calendar-component-set"),
            "<c:comp name=\"VEVENT\"/>".into(),
        ),
        (PropName::new(CS, "getctag"), version.to_string()),
        (PropName::new(DAV, "sync-token"), format!("data:,{version}")),
        (
            PropName::new(DAV, "current-user-privilege-set"),
            READ_ONLY.into(),
        ),
        (
            PropName::new(DAV, "current-user-principal"),
            href(&principal(account)),
        ),
        (
            PropName::new(DAV, "owner"),
            href(&format!("mailto:{}", c.mailbox)),
        ),
    ]
}

/// A resource's properties; `data` is its calendar data, already escaped.
fn resource_props(etag: &str, data: Option<String>) -> Vec<(PropName, String)> {
    let mut props = vec![
        (PropName::new(DAV, "resourcetype"), String::new()),
        (PropName::new(DAV, "getetag"), escape(etag)),
        (
            PropName::new(DAV, "getcontenttype"),
            "text/calendar; charset=utf-8; component=VEVENT".into(),
        ),
    ];
    if let Some(data) = data {
        props.push((PropName::new(CALDAV, "calendar-data"), data));
    }
    props
}

fn multistatus(ms: MultiStatus, extra: &str) -> Answer {
    Answer {
        status: 207,
        content_type: "application/xml; charset=utf-8",
        body: ms.finish(extra).into_bytes(),
        headers: Vec::new(),
    }
}

fn bad_request(message: &str) -> Answer {
    Answer::text(400, message)
}

/// One CalDAV request, as the server read it.
#[derive(Debug)]
pub(crate) struct DavRequest<'a> {
    pub(crate) method: &'a str,
    /// The decoded path.
    pub(crate) path: &'a str,
    pub(crate) depth: Depth,
    pub(crate) body: &'a [u8],
}

/// Answers one CalDAV request of a signed-in account.
pub(crate) async fn handle(
    replica: &dyn AccessReplica,
    cache: &ResourceCache,
    account: &AccessAccount,
    request: DavRequest<'_>,
    now: DateTime<Utc>,
) -> Answer {
    let DavRequest {
        method,
        path,
        depth,
        body,
    } = request;
    let Some(target) = parse_target(account, path) else {
        return not_found();
    };
    let parsed = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match dav::parse(body) {
            Ok(node) => Some(node),
            Err(e) => return bad_request(&e),
        }
    };
    match method {
        "PROPFIND" => {
            propfind(
                replica,
                cache,
                account,
                &target,
                depth,
                parsed.as_ref(),
                now,
            )
            .await
        }
        "REPORT" => match (&target, parsed) {
            (Target::Collection(segment), Some(body)) => {
                report(replica, cache, account, segment, &body, now).await
            }
            (Target::Collection(_), None) => bad_request("a REPORT needs a body"),
            _ => not_found(),
        },
        "GET" | "HEAD" => match &target {
            Target::Resource(segment, name) => {
                get(replica, cache, account, segment, name, now).await
            }
            Target::Collection(_) | Target::Home | Target::Principal | Target::Root => {
                Answer::text(
                    200,
                    "calrep: a read-only replica of Exchange calendars. Use a CalDAV client.",
                )
            }
        },
        _ => Answer::text(405, "Method Not Allowed"),
    }
}

/// The collection `segment` names and its resources.
async fn open(
    replica: &dyn AccessReplica,
    cache: &ResourceCache,
    account: &AccessAccount,
    segment: &str,
) -> Result<(Collection, Arc<Resources>), Answer> {
    let c = find_collection(replica, account, segment).await?;
    let resources = resources(replica, cache, &c).await?;
    Ok((c, resources))
}

async fn propfind(
    replica: &dyn AccessReplica,
    cache: &ResourceCache,
    account: &AccessAccount,
    target: &Target,
    depth: Depth,
    body: Option<&Node>,
    now: DateTime<Utc>,
) -> Answer {
    let asked = requested(body);
    let asked = asked.as_deref();
    let mut ms = MultiStatus::default();
    match target {
        Target::Root | Target::Principal => {
            let here = match target {
                Target::Root => "/dav/".to_owned(),
                _ => principal(account),
            };
            let mut props = account_props(account);
            props.push((
                PropName::new(DAV, "resourcetype"),
                match target {
                    Target::Root => "<d:collection/>".into(),
                    _ => "<d:collection/><d:principal/>".into(),
                },
            ));
            let (found, missing) = select(props, asked);
            ms.response(&here, &found, &missing);
        }
        Target::Home => {
            let mut props = account_props(account);
            props.push((PropName::new(DAV, "resourcetype"), "<d:collection/>".into()));
            let (found, missing) = select(props, asked);
            ms.response(&home(account), &found, &missing);
            if depth == Depth::One {
                let all = match collections(replica, account).await {
                    Ok(c) => c,
                    Err(answer) => return answer,
                };
                for c in &all {
                    let version = match version(replica, c).await {
                        Ok(v) => v,
                        Err(answer) => return answer,
                    };
                    let mut props = collection_props(c, version, account);
                    if asks_timezone(asked) {
                        let read = match resources(replica, cache, c).await {
                            Ok(read) => read,
                            Err(answer) => return answer,
                        };
                        props.push(timezone_prop(&read, now));
                    }
                    let (found, missing) = select(props, asked);
                    ms.response(
                        &format!("{}{}/", home(account), c.segment),
                        &found,
                        &missing,
                    );
                }
            }
        }
        Target::Collection(segment) => {
            let (c, read) = match open(replica, cache, account, segment).await {
                Ok(opened) => opened,
                Err(answer) => return answer,
            };
            let version = read.version;
            let base = format!("{}{}/", home(account), c.segment);
            let mut props = collection_props(&c, version, account);
            if asks_timezone(asked) {
                props.push(timezone_prop(&read, now));
            }
            let (found, missing) = select(props, asked);
            ms.response(&base, &found, &missing);
            if depth == Depth::One {
                for r in &read.list {
                    let (found, missing) = select(resource_props(&r.etag, None), asked);
                    ms.response(&format!("{base}{}", r.name), &found, &missing);
                }
            }
        }
        Target::Resource(segment, name) => {
            let (c, read) = match open(replica, cache, account, segment).await {
                Ok(opened) => opened,
                Err(answer) => return answer,
            };
            let Some(r) = read.named(name) else {
                return not_found();
            };
            let data = written_data(&c, r, now);
            let (found, missing) = select(resource_props(&r.etag, Some(data)), asked);
            ms.response(
                &format!("{}{}/{name}", home(account), c.segment),
                &found,
                &missing,
            );
        }
    }
    multistatus(ms, "")
}

/// An iCalendar UTC instant (`20261129T000000Z`).
fn instant(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

async fn report(
    replica: &dyn AccessReplica,
    cache: &ResourceCache,
    account: &AccessAccount,
    segment: &str,
    body: &Node,
    now: DateTime<Utc>,
) -> Answer {
    let (c, read) = match open(replica, cache, account, segment).await {
        Ok(opened) => opened,
        Err(answer) => return answer,
    };
    let base = format!("{}{}/", home(account), c.segment);
    let asked = requested(Some(body));
    let asked = asked.as_deref();
    let wants_data = asked.is_none_or(|a| {
        a.iter()
            .any(|p| p.ns == CALDAV && p.name == "calendar-data")
    });
    // `<C:calendar-data><C:expand start end/>`: each instance on its own.
    let mut expands = Vec::new();
    body.descendants(CALDAV, "expand", &mut expands);
    let expand = match expands.first() {
        None => None,
        Some(e) => match (
            e.attribute("start").and_then(instant),
            e.attribute("end").and_then(instant),
        ) {
            (Some(from), Some(to)) if from < to => Some((from, to)),
            _ => return bad_request("expand needs a UTC start before its end"),
        },
    };
    let mut ms = MultiStatus::default();
    let answer = |ms: &mut MultiStatus, r: &Resource| {
        let data = wants_data.then(|| match expand {
            Some((from, to)) => escape(&export_expanded(
                &c.calendar.name,
                std::slice::from_ref(&*shown(&c, &r.item)),
                from,
                to,
                now,
            )),
            None => written_data(&c, r, now),
        });
        let (found, missing) = select(resource_props(&r.etag, data), asked);
        ms.response(&format!("{base}{}", r.name), &found, &missing);
    };
    if body.is(CALDAV, "calendar-multiget") {
        let mut hrefs = Vec::new();
        body.descendants(DAV, "href", &mut hrefs);
        for h in hrefs {
            let wanted = crate::encoding::percent_decode(h.text.trim(), false)
                .unwrap_or_else(|| h.text.trim().to_owned());
            let name = wanted.rsplit('/').next().unwrap_or_default();
            match read.named(name) {
                Some(r) => answer(&mut ms, r),
                None => ms.status(&wanted, "404 Not Found"),
            }
        }
        return multistatus(ms, "");
    }
    if body.is(DAV, "sync-collection") {
        return sync_collection(replica, &c, &read, &base, body, &answer).await;
    }
    if !body.is(CALDAV, "calendar-query") {
        return Answer {
            status: 403,
            content_type: "application/xml; charset=utf-8",
            body: b"<?xml version=\"1.0\" encoding=\"utf-8\"?><d:error xmlns:d=\"DAV:\"><d:supported-report/></d:error>".to_vec(),
            headers: Vec::new(),
        };
    }
    let mut ranges = Vec::new();
    body.descendants(CALDAV, "time-range", &mut ranges);
    let range = match ranges.first() {
        None => None,
        Some(r) => {
            let from = r.attribute("start").map(instant);
            let to = r.attribute("end").map(instant);
            match (from, to) {
                (Some(None), _) | (_, Some(None)) => {
                    return bad_request("a time-range start or end is not a UTC date-time");
                }
                (from, to) => Some((
                    from.flatten().unwrap_or(DateTime::<Utc>::MIN_UTC),
                    to.flatten().unwrap_or(DateTime::<Utc>::MAX_UTC),
                )),
            }
        }
    };
    for r in &read.list {
        if range.is_none_or(|(from, to)| r.overlaps(from, to)) {
            answer(&mut ms, r);
        }
    }
    multistatus(ms, "")
}

/// RFC 6578: what changed since the client's token (everything for an
/// empty one), removed resources as 404, and the token for next time —
/// the calendar's change number.
async fn sync_collection(
    replica: &dyn AccessReplica,
    c: &Collection,
    read: &Resources,
    base: &str,
    body: &Node,
    answer: &(dyn Fn(&mut MultiStatus, &Resource) + Sync),
) -> Answer {
    let token = body
        .child(DAV, "sync-token")
        .map(|t| t.text.trim().to_owned())
        .unwrap_or_default();
    let Ok(address) = c.mailbox.parse() else {
        return not_found();
    };
    let since = if token.is_empty() {
        Some(0)
    } else {
        token
            .strip_prefix("data:,")
            .and_then(|n| n.parse::<u64>().ok())
    };
    let changes = match since {
        Some(since) => replica
            .changes(&address, &c.calendar.id, since)
            .await
            .map(|found| found.filter(|set| since <= set.version)),
        None => Ok(None),
    };
    let changes = match changes {
        Ok(Some(set)) => set,
        Ok(None) => {
            return Answer {
                status: 403,
                content_type: "application/xml; charset=utf-8",
                body: b"<?xml version=\"1.0\" encoding=\"utf-8\"?><d:error xmlns:d=\"DAV:\"><d:valid-sync-token/></d:error>".to_vec(),
                headers: Vec::new(),
            };
        }
        Err(_) => return unavailable(),
    };
    let mut ms = MultiStatus::default();
    for (id, _) in &changes.changed {
        if let Some(r) = read.by_id(id) {
            answer(&mut ms, r);
        }
    }
    if !token.is_empty() {
        for uid in &changes.removed_uids {
            ms.status(
                &format!("{base}{}.ics", encode_url(uid.as_bytes())),
                "404 Not Found",
            );
        }
    }
    multistatus(
        ms,
        &format!("<d:sync-token>data:,{}</d:sync-token>", changes.version),
    )
}

async fn get(
    replica: &dyn AccessReplica,
    cache: &ResourceCache,
    account: &AccessAccount,
    segment: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Answer {
    let (c, read) = match open(replica, cache, account, segment).await {
        Ok(opened) => opened,
        Err(answer) => return answer,
    };
    let Some(r) = read.named(name) else {
        return not_found();
    };
    Answer {
        status: 200,
        content_type: "text/calendar; charset=utf-8",
        body: calendar_data(&c, &shown(&c, &r.item), now).into_bytes(),
        headers: vec![("etag", r.etag.clone())],
    }
}
