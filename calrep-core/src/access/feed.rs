//! Subscription feeds: one iCalendar file per calendar at
//! `/feeds/{token}/{collection}.ics`, for clients that can only subscribe
//! (`webcal://`). The token is the credential (issued, rotated and revoked
//! with the account; only its hash is stored); a conditional GET is
//! answered 304 from the calendar's change number without reading an
//! event.

use chrono::{DateTime, TimeDelta, Utc};

use super::caldav::{collections, not_found, unavailable};
use super::{AccessReplica, Answer, feed_token_hash};
use crate::ical::{AttachmentStyle, export};

/// The window a feed holds: a year back…
const BACK: TimeDelta = TimeDelta::days(365);
/// …two years ahead.
const AHEAD: TimeDelta = TimeDelta::days(730);

/// Answers `GET /feeds/{token}/{name}`.
pub(crate) async fn handle(
    replica: &dyn AccessReplica,
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
    let all = match collections(replica, &account).await {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    let Some(c) = all.into_iter().find(|c| c.segment == segment) else {
        return not_found();
    };
    let Ok(address) = c.mailbox.parse() else {
        return not_found();
    };
    // Asking for changes after the last possible number reads no item.
    let version = match replica.changes(&address, &c.calendar.id, u64::MAX).await {
        Ok(Some(set)) => set.version,
        Ok(None) => return not_found(),
        Err(_) => return unavailable(),
    };
    let etag = format!("\"{version}-{}\"", u8::from(c.mask_private));
    if if_none_match.is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag)) {
        let mut answer = Answer::text(304, "");
        answer.body.clear();
        answer.headers.push(("etag", etag));
        return answer;
    }
    let items = match replica.items(&address, &c.calendar.id).await {
        Ok(items) => items,
        Err(_) => return unavailable(),
    };
    let (from, to) = (now - BACK, now + AHEAD);
    let shown: Vec<_> = items
        .into_iter()
        .filter(|i| i.occurrences(from, to).map_or(true, |o| !o.is_empty()))
        .map(|i| {
            if c.mask_private && i.sensitivity.is_private() {
                i.masked()
            } else {
                i
            }
        })
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
