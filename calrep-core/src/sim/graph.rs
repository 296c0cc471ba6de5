//! The simulator's Microsoft Graph face: `/v1.0/…` answered from the same
//! [`MemoryOrganisation`](crate::mailbox::MemoryOrganisation) the EWS face
//! serves, the way Graph answers.
//!
//! - Ids are Graph-shaped (`AAMkAG` + the hex of the EWS face's id), and
//!   `translateExchangeIds` maps one to the other, so a replica read over
//!   EWS can be moved to Graph.
//! - `calendarView/delta` lists expanded instances (occurrences as stubs,
//!   a series never split across pages), `@removed` for deletions and for
//!   items that left the window; tokens are positions in the calendar's
//!   change log, and an invalidated one answers 410 `SyncStateNotFound`.
//! - Masters carry `cancelledOccurrences` and `exceptionOccurrences`.
//! - More than four requests in flight for one mailbox (a `$batch` counts
//!   each part) are refused with 429 "MailboxConcurrency", as Exchange
//!   Online does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::faults::Fault;
use super::server::State;
use crate::address::EmailAddress;
use crate::calendar::{CalendarId, ItemId};
use crate::encoding::{hex, percent_decode, unhex};
use crate::graph::write::{delta_rows, event_json};
use crate::group::{EntryKind, GroupRef};
use crate::mailbox::MemoryMailbox;

/// What Graph's answer is: a status, JSON or bytes, and a `Retry-After`.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) json: bool,
    pub(crate) retry_after: Option<u64>,
}

impl Reply {
    fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            body: body.to_string().into_bytes(),
            json: true,
            retry_after: None,
        }
    }

    pub(crate) fn json_error(status: u16, code: &str, message: &str) -> Self {
        Self::error(status, code, message)
    }

    fn error(status: u16, code: &str, message: &str) -> Self {
        Self::json(
            status,
            &json!({"error": {"code": code, "message": message}}),
        )
    }

    fn throttled(seconds: u64, message: &str) -> Self {
        let mut r = Self::error(429, "ApplicationThrottled", message);
        r.retry_after = Some(seconds);
        r
    }
}

const PREFIX: &str = "AAMkAG";

/// Rows per delta page without `Prefer: odata.maxpagesize`.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 100;

/// The Graph id the simulator shows for an id its EWS face shows (what
/// its `translateExchangeIds` answers).
///
/// ```
/// assert_eq!(calrep_core::sim::graph_id("a1"), "AAMkAG6131");
/// ```
pub fn graph_id(ews: &str) -> String {
    format!("{PREFIX}{}", hex(ews.as_bytes()))
}

/// The EWS face's id of a Graph id.
pub(crate) fn ews_id(graph: &str) -> Option<String> {
    text_of_hex(graph.strip_prefix(PREFIX)?)
}

fn text_of_hex(hex: &str) -> Option<String> {
    String::from_utf8(unhex(hex)?).ok()
}

/// A request split into its path segments and query.
pub(crate) struct Target {
    segments: Vec<String>,
    query: BTreeMap<String, String>,
    /// `Prefer: odata.maxpagesize` (Graph's default otherwise).
    page_size: usize,
}

impl Target {
    /// `path_and_query` relative to `/v1.0`, with the page size the
    /// request prefers.
    pub(crate) fn parse(path_and_query: &str, page_size: usize) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Self {
            segments: path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| percent_decode(s, false).unwrap_or_else(|| s.to_owned()))
                .collect(),
            query: query
                .split('&')
                .filter_map(|p| p.split_once('='))
                .filter_map(|(k, v)| Some((percent_decode(k, true)?, percent_decode(v, true)?)))
                .collect(),
            page_size,
        }
    }

    fn parts(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }

    /// The operation's name for counters and fault rules.
    pub(crate) fn operation(&self) -> &'static str {
        match self.parts().as_slice() {
            ["$batch"] => "graph.batch",
            ["users", _, "calendars"] => "graph.calendars",
            ["users", _, "calendars", _, "calendarView", "delta"] => "graph.delta",
            ["users", _, "events", _] => "graph.event",
            ["users", _, "events", _, "attachments", _, "$value"] => "graph.attachment",
            ["users", _, "translateExchangeIds"] => "graph.translate",
            ["groups", ..] => "graph.groups",
            _ => "graph.unknown",
        }
    }

    /// The mailbox the request is about, if any.
    pub(crate) fn mailbox(&self) -> Option<EmailAddress> {
        match self.parts().as_slice() {
            ["users", user, ..] => user.parse().ok(),
            _ => None,
        }
    }
}

/// Answers one Graph request (after authentication, latency and faults):
/// a `$batch` is split into its parts.
pub(crate) async fn answer(state: &Arc<State>, post: bool, target: &Target, body: &[u8]) -> Reply {
    if post && target.parts() == ["$batch"] {
        return batch(state, body).await;
    }
    let Some(mailbox) = target.mailbox() else {
        return match target.parts().as_slice() {
            ["groups", ..] if !post => groups(state, target).await,
            _ => Reply::error(400, "BadRequest", "Unsupported request."),
        };
    };
    let Some(_slot) = Slot::take(state, &mailbox, 1) else {
        return Reply::throttled(1, "Application is over its MailboxConcurrency limit.");
    };
    one(state, post, target, &mailbox, body)
}

/// A mailbox's share of its four concurrent requests, given back on drop.
struct Slot<'a> {
    state: &'a State,
    mailbox: EmailAddress,
    n: usize,
}

impl<'a> Slot<'a> {
    fn take(state: &'a State, mailbox: &EmailAddress, n: usize) -> Option<Self> {
        let mut in_flight = super::server::lock(&state.graph_in_flight);
        let used = in_flight.entry(mailbox.clone()).or_default();
        if *used + n > crate::graph::MAILBOX_CONCURRENCY {
            return None;
        }
        *used += n;
        Some(Self {
            state,
            mailbox: mailbox.clone(),
            n,
        })
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut in_flight = super::server::lock(&self.state.graph_in_flight);
        if let Some(used) = in_flight.get_mut(&self.mailbox) {
            *used = used.saturating_sub(self.n);
        }
    }
}

/// Opens a mailbox as Graph would for the app: scoped out (403), without
/// an Exchange Online mailbox (404), or unknown (404).
fn open(state: &State, mailbox: &EmailAddress) -> Result<Arc<MemoryMailbox>, Reply> {
    if state.graph_denied.contains(mailbox) {
        return Err(Reply::error(
            403,
            "ErrorAccessDenied",
            "Access to OData is disabled.",
        ));
    }
    if state.graph_no_rest.contains(mailbox) {
        return Err(Reply::error(
            404,
            "MailboxNotEnabledForRESTAPI",
            "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
        ));
    }
    state.org.existing(mailbox).ok_or_else(|| {
        Reply::error(
            404,
            "ErrorInvalidUser",
            &format!("The requested user '{mailbox}' is invalid."),
        )
    })
}

fn one(state: &State, post: bool, target: &Target, mailbox: &EmailAddress, body: &[u8]) -> Reply {
    let m = match open(state, mailbox) {
        Ok(m) => m,
        Err(reply) => return reply,
    };
    match (post, target.parts().as_slice()) {
        (false, ["users", _, "calendars"]) => {
            let value: Vec<Value> = m
                .calendar_infos()
                .iter()
                .map(|c| json!({"id": graph_id(c.id.as_str()), "name": c.name, "isDefaultCalendar": c.is_default}))
                .collect();
            Reply::json(200, &json!({ "value": value }))
        }
        (
            false,
            [
                "users",
                user,
                "calendars",
                calendar,
                "calendarView",
                "delta",
            ],
        ) => delta(state, &m, user, calendar, target),
        (false, ["users", _, "events", id]) => {
            match ews_id(id).and_then(|raw| m.find_item(&ItemId::new(raw))) {
                Some(item) => Reply::json(200, &event_json(&item, &graph_id)),
                None => Reply::error(
                    404,
                    "ErrorItemNotFound",
                    "The specified object was not found in the store.",
                ),
            }
        }
        (false, ["users", _, "events", _, "attachments", attachment, "$value"]) => {
            match ews_id(attachment).and_then(|raw| m.attachment_by_id(&raw)) {
                Some(bytes) => Reply {
                    status: 200,
                    body: bytes,
                    json: false,
                    retry_after: None,
                },
                None => Reply::error(404, "ErrorItemNotFound", "The attachment was not found."),
            }
        }
        (true, ["users", _, "translateExchangeIds"]) => translate(body),
        _ => Reply::error(400, "BadRequest", "Unsupported request."),
    }
}

/// `POST /users/{id}/translateExchangeIds`: EWS ids to REST immutable ids
/// (and back), at most 1,000 per call.
fn translate(body: &[u8]) -> Reply {
    let request: Value = serde_json::from_slice(body).unwrap_or_default();
    let ids: Vec<&str> = request
        .get("inputIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if ids.len() > 1000 {
        return Reply::error(
            400,
            "ErrorInvalidIdMalformed",
            "At most 1000 ids per request.",
        );
    }
    let to_rest = request.get("targetIdType").and_then(Value::as_str) != Some("ewsId");
    let value: Vec<Value> = ids
        .iter()
        .map(|id| {
            let target = if to_rest { Some(graph_id(id)) } else { ews_id(id) };
            match target {
                Some(t) => json!({"sourceId": id, "targetId": t}),
                None => json!({"sourceId": id, "errorDetails": {"code": "ErrorInvalidIdMalformed", "message": "Id is malformed."}}),
            }
        })
        .collect();
    Reply::json(200, &json!({ "value": value }))
}

/// A delta token: a listing in progress (`L`) or a log position (`D`), with
/// the window fixed in it.
#[derive(Debug, Clone)]
struct Token {
    listing: bool,
    epoch: u64,
    position: usize,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    after: Option<String>,
}

impl Token {
    fn encode(&self) -> String {
        let after = self
            .after
            .as_deref()
            .map(|a| hex(a.as_bytes()))
            .unwrap_or_default();
        format!(
            "{}.{}.{}.{}.{}.{after}",
            if self.listing { "L" } else { "D" },
            self.epoch,
            self.position,
            self.start.timestamp(),
            self.end.timestamp()
        )
    }

    fn decode(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.split('.').collect();
        let [kind, epoch, position, start, end, after] = parts.as_slice() else {
            return None;
        };
        let after = if after.is_empty() {
            None
        } else {
            Some(text_of_hex(after)?)
        };
        Some(Self {
            listing: *kind == "L",
            epoch: epoch.parse().ok()?,
            position: position.parse().ok()?,
            start: DateTime::from_timestamp(start.parse().ok()?, 0)?,
            end: DateTime::from_timestamp(end.parse().ok()?, 0)?,
            after,
        })
    }
}

fn delta(state: &State, m: &MemoryMailbox, user: &str, calendar: &str, target: &Target) -> Reply {
    let gone = || {
        Reply::error(
            404,
            "ErrorItemNotFound",
            "The specified calendar was not found.",
        )
    };
    let Some(raw) = ews_id(calendar) else {
        return gone();
    };
    let calendar_id = CalendarId::new(raw);
    let Some((epoch, log_len)) = m.log_position(&calendar_id) else {
        return gone();
    };
    let page_size = target.page_size.max(1);
    let token = if let Some(t) = target
        .query
        .get("$skiptoken")
        .or_else(|| target.query.get("$deltatoken"))
    {
        match Token::decode(t) {
            Some(t) if t.epoch == epoch && t.position <= log_len => t,
            _ => {
                return Reply::error(
                    410,
                    "SyncStateNotFound",
                    "The sync state generation is not found.",
                );
            }
        }
    } else {
        let window = |k: &str| {
            target
                .query
                .get(k)
                .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let (Some(start), Some(end)) = (window("startDateTime"), window("endDateTime")) else {
            return Reply::error(
                400,
                "ErrorInvalidParameter",
                "startDateTime and endDateTime are required.",
            );
        };
        Token {
            listing: true,
            epoch,
            position: log_len,
            start,
            end,
            after: None,
        }
    };
    let link = |kind: &str, t: &Token| {
        format!(
            "{}/users/{user}/calendars/{calendar}/calendarView/delta?{kind}={}",
            state.graph_base,
            t.encode()
        )
    };
    let mut rows: Vec<Value> = Vec::new();
    let mut next = token.clone();
    if token.listing {
        // The items that exist now, in id order; a series' rows stay together.
        let items = m.items_of(&calendar_id);
        let mut more = false;
        for item in items
            .iter()
            .filter(|i| token.after.as_deref().is_none_or(|a| i.id.as_str() > a))
        {
            if rows.len() >= page_size {
                more = true;
                break;
            }
            rows.extend(delta_rows(item, token.start, token.end, &graph_id));
            next.after = Some(item.id.as_str().to_owned());
        }
        if !more {
            next.listing = false;
            next.after = None;
        }
    } else {
        let pending = m.log_entries(&calendar_id, token.position, log_len);
        let taken = pending.len().min(page_size);
        let mut latest: BTreeMap<&ItemId, bool> = BTreeMap::new();
        for (id, deleted) in pending.iter().take(taken) {
            latest.insert(id, *deleted);
        }
        for (id, deleted) in latest {
            let item = (!deleted).then(|| m.find_item(id)).flatten();
            let listed = item
                .map(|i| delta_rows(&i, token.start, token.end, &graph_id))
                .unwrap_or_default();
            if listed.is_empty() {
                rows.push(json!({"id": graph_id(id.as_str()), "@removed": {"reason": if deleted { "deleted" } else { "changed" }}}));
            } else {
                rows.extend(listed);
            }
        }
        next.position = token.position + taken;
    }
    let mut page = json!({ "value": rows });
    // More to list, or changes made meanwhile still to send.
    if next.listing || next.position < log_len {
        page["@odata.nextLink"] = json!(link("$skiptoken", &next));
    } else {
        page["@odata.deltaLink"] = json!(link("$deltatoken", &next));
    }
    Reply::json(200, &page)
}

/// `GET /groups?$filter=mail eq '…'` and
/// `/groups/{id}/transitiveMembers/microsoft.graph.user`.
async fn groups(state: &State, target: &Target) -> Reply {
    let Some(directory) = state.directory.as_deref() else {
        return Reply::json(200, &json!({"value": []}));
    };
    match target.parts().as_slice() {
        ["groups"] => {
            let filter = target.query.get("$filter").cloned().unwrap_or_default();
            let address = filter
                .strip_prefix("mail eq '")
                .and_then(|f| f.strip_suffix('\''))
                .map(|a| a.replace("''", "'"));
            let Some(address) = address.and_then(|a| a.parse::<EmailAddress>().ok()) else {
                return Reply::error(400, "Request_UnsupportedQuery", "Unsupported query.");
            };
            match directory.members(&GroupRef::Address(address.clone())).await {
                Ok(found) => Reply::json(
                    200,
                    &json!({"value": [{"id": graph_id(address.as_str()), "displayName": found.group.display_name, "mail": address.as_str()}]}),
                ),
                Err(_) => Reply::json(200, &json!({"value": []})),
            }
        }
        ["groups", id, "transitiveMembers", "microsoft.graph.user"] => {
            let Some(address) = ews_id(id).and_then(|a| a.parse::<EmailAddress>().ok()) else {
                return Reply::error(404, "Request_ResourceNotFound", "Resource does not exist.");
            };
            let mut users = BTreeMap::new();
            let mut seen = BTreeSet::new();
            let mut queue = vec![GroupRef::Address(address)];
            while let Some(group) = queue.pop() {
                if !seen.insert(group.to_string()) {
                    continue;
                }
                let Ok(found) = directory.members(&group).await else {
                    continue;
                };
                for member in found.members {
                    match (member.kind, &member.primary_smtp) {
                        (EntryKind::User, Some(mail)) => {
                            users.insert(mail.clone(), json!({
                                "id": graph_id(mail.as_str()), "displayName": member.display_name, "mail": mail.as_str(),
                                "accountEnabled": member.enabled,
                                "assignedLicenses": if member.licensed { json!([{"skuId": "c7df2760-2c81-4ef7-b578-5b5392b571df"}]) } else { json!([]) },
                            }));
                        }
                        (EntryKind::Group, _) => queue.extend(member.as_group_ref()),
                        _ => {}
                    }
                }
            }
            Reply::json(
                200,
                &json!({"value": users.into_values().collect::<Vec<_>>()}),
            )
        }
        _ => Reply::error(400, "BadRequest", "Unsupported request."),
    }
}

/// A JSON `$batch`: each part answered as if sent alone, parts for one
/// mailbox beyond its free share of four refused with 429.
async fn batch(state: &Arc<State>, body: &[u8]) -> Reply {
    let request: Value = serde_json::from_slice(body).unwrap_or_default();
    let Some(parts) = request.get("requests").and_then(Value::as_array) else {
        return Reply::error(400, "BadRequest", "A $batch needs requests.");
    };
    if parts.len() > 20 {
        return Reply::error(400, "BadRequest", "A $batch takes at most 20 requests.");
    }
    let mut slots = Vec::new();
    let mut responses = Vec::with_capacity(parts.len());
    for part in parts {
        let id = part.get("id").cloned().unwrap_or_default();
        let url = part.get("url").and_then(Value::as_str).unwrap_or_default();
        let target = Target::parse(url, DEFAULT_PAGE_SIZE);
        let reply = match target.mailbox() {
            Some(mailbox) => match Slot::take(state, &mailbox, 1) {
                Some(slot) => {
                    slots.push(slot);
                    one(state, false, &target, &mailbox, &[])
                }
                None => Reply::throttled(1, "Application is over its MailboxConcurrency limit."),
            },
            None => Reply::error(400, "BadRequest", "Unsupported request."),
        };
        let body: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        let mut headers = json!({"Content-Type": "application/json"});
        if let Some(wait) = reply.retry_after {
            headers["Retry-After"] = json!(wait.to_string());
        }
        responses.push(json!({"id": id, "status": reply.status, "headers": headers, "body": body}));
    }
    drop(slots);
    Reply::json(200, &json!({ "responses": responses }))
}

/// A fault as Graph shows it, or `None` for the faults the server's common
/// code applies (resets, broken bodies).
pub(crate) fn fault_reply(fault: Fault) -> Option<Reply> {
    Some(match fault {
        Fault::ServerBusy { back_off_ms } => Reply::throttled(
            back_off_ms.div_ceil(1000).max(1),
            "Application is over its request limit.",
        ),
        Fault::Unavailable {
            retry_after_seconds,
        } => {
            let mut r = Reply::error(503, "ServiceUnavailable", "Service Unavailable");
            r.retry_after = Some(retry_after_seconds);
            r
        }
        Fault::TimeoutExpired => Reply::error(504, "GatewayTimeout", "The request timed out."),
        Fault::InternalError => Reply::error(
            500,
            "InternalServerError",
            "An internal server error occurred.",
        ),
        Fault::ConnectionReset | Fault::TruncatedBody | Fault::StalledBody => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_translate_both_ways() {
        let id = "alice@demo.example/cal/7";
        assert_eq!(ews_id(&graph_id(id)).as_deref(), Some(id));
        assert_eq!(ews_id("not-ours"), None);
    }

    #[test]
    fn translate_exchange_ids_answers_each_id_and_refuses_more_than_a_thousand() {
        let request = json!({"inputIds": ["a1", "b2"], "sourceIdType": "ewsId", "targetIdType": "restImmutableEntryId"});
        let reply = translate(request.to_string().as_bytes());
        let answer: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(answer["value"][1]["targetId"], graph_id("b2"));
        let back = json!({"inputIds": [graph_id("a1"), "junk"], "targetIdType": "ewsId"});
        let answer: Value =
            serde_json::from_slice(&translate(back.to_string().as_bytes()).body).unwrap();
        assert_eq!(answer["value"][0]["targetId"], "a1");
        assert_eq!(
            answer["value"][1]["errorDetails"]["code"],
            "ErrorInvalidIdMalformed"
        );
        let many: Vec<String> = (0..1001).map(|n| n.to_string()).collect();
        let too_many = translate(json!({ "inputIds": many }).to_string().as_bytes());
        assert_eq!(too_many.status, 400);
    }

    #[test]
    fn tokens_round_trip() {
        let t = Token {
            listing: true,
            epoch: 2,
            position: 9,
            start: DateTime::from_timestamp(0, 0).unwrap(),
            end: DateTime::from_timestamp(86_400, 0).unwrap(),
            after: Some("item.7".into()),
        };
        let back = Token::decode(&t.encode()).unwrap();
        assert_eq!(
            (back.listing, back.epoch, back.position, back.after),
            (true, 2, 9, Some("item.7".into()))
        );
        assert!(Token::decode("garbage").is_none());
    }
}
