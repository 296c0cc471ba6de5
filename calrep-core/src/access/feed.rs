//! Subscription feeds: one iCalendar file per calendar at
//! `/feeds/{token}/{collection}.ics`, for clients that can only subscribe
//! (`webcal://`). The token is the credential (issued, rotated and revoked
//! with the account; only its hash is stored); a conditional GET is
//! answered 304 from the calendar's change number without reading an
//! event.

use chrono::{DateTime, TimeDelta, Utc};

use super::caldav::{find_collection, not_found, resources_at, shown, unavailable, version};
use super::resources::ResourceCache;
use super::{AccessReplica, Answer, feed_token_hash};
use crate::ical::{AttachmentStyle, export};

/// The window a feed holds: a year back…
const BACK: TimeDelta = TimeDelta::days(365);
/// …two years ahead.
const AHEAD: TimeDelta = TimeDelta::days(730);

/// Answers `GET /feeds/{token}/{name}`.
pub(crate) async fn handle(
    replica: &dyn AccessReplica,
    cache: &ResourceCache,
    token: &str,
    name: &str,
    if_none_match: Option<&str>,
    now: DateTime<Utc>,
) -> Answer {
    // An unknown, revoked or expired token looks like a missing feed.
    let account = match replica.account_by_feed(&feed_token_hash(token)).await {
        Ok(Some(a)) if !a.expired(now) => a,
        Ok(_) => return not_found(),
        Err(_) => return unavailable(),
    };
    let Some(segment) = name.strip_suffix(".ics") else {
        return not_found();
    };
    let c = match find_collection(replica, &account, segment).await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let version = match version(replica, &c).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let etag = format!("\"{version}-{}\"", u8::from(c.mask_private));
    if if_none_match.is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag)) {
        let mut answer = Answer::text(304, "");
        answer.body.clear();
        answer.headers.push(("etag", etag));
        return answer;
    }
    let read = match resources_at(replica, cache, &c, version).await {
        Ok(read) => read,
        Err(answer) => return answer,
    };
    let (from, to) = (now - BACK, now + AHEAD);
    let shown: Vec<_> = read
        .list
        .iter()
        .filter(|r| r.overlaps(from, to))
        .map(|r| shown(&c, &r.item).into_owned())
        .collect();
    Answer {
        status: 200,
        content_type: "text/calendar; charset=utf-8",
        body: export(
            &c.calendar.name,
            &shown,
            |_, _| None,
            AttachmentStyle::HashUri,
            now,
        )
        .into_bytes(),
        headers: vec![("etag", etag)],
    }
}
