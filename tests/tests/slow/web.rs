//! The web page in a real browser: Debian's Chromium, headless, driven by
//! Selenium (`tests/kit/oracle/web_browser.py`), signs in through the form
//! and reads a week and a month as rendered. What it shows is compared
//! with the replica occurrence by occurrence, in the viewer's zone: the
//! zone the browser's script detects (JavaScript on), or the one picked in
//! the form (JavaScript off, on a phone-sized window). Then, over raw HTTP,
//! what must be refused: forged and cross-origin posts, someone else's
//! calendar, absurd dates, and sessions that must have ended.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use calrep_core::access::{AccessOptions, AccessServer, Grants, PasswordHasher, grant, revoke};
use calrep_core::calendar::{CalendarItem, ItemTime};
use calrep_core::replica::ReplicaReader;
use calrep_core::{EmailAddress, ManualClock};
use calrep_testkit::fixture::block;
use calrep_testkit::sim::failed;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use super::access::{logged_server, replicated, serve_ann};

fn b64url(text: &str) -> String {
    calrep_core::base64::encode_url(text.as_bytes())
}

/// What a page must show for `items` on `days` in `zone`: (date, UID,
/// start instant, subject, the time as shown), worked out here from the
/// replica's items: the day each occurrence falls on in the viewer's
/// zone, an all-day one on its own dates.
fn expected_days(
    items: &[CalendarItem],
    masked: bool,
    days: &[NaiveDate],
    zone: Tz,
) -> BTreeSet<(String, String, String, String, String)> {
    let midnight = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .unwrap()
            .and_local_timezone(zone)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    };
    let (from, to) = (
        midnight(days[0]) - TimeDelta::days(2),
        midnight(*days.last().unwrap()) + TimeDelta::days(3),
    );
    let mut out = BTreeSet::new();
    for item in items {
        let item = if masked && item.sensitivity.is_private() {
            item.masked()
        } else {
            item.clone()
        };
        let own: Tz = item.zone.iana.parse().unwrap();
        for o in item.occurrences(from, to).unwrap() {
            let modified = item.recurrence.as_ref().and_then(|r| {
                r.modified
                    .iter()
                    .find(|m| m.original_start == o.original_start)
            });
            let subject = modified
                .and_then(|m| m.subject.clone())
                .unwrap_or_else(|| item.subject.clone());
            for &day in days {
                let (start, end) = (midnight(day), midnight(day + TimeDelta::days(1)));
                let (shows, when) = match item.time {
                    ItemTime::AllDay { .. } => {
                        let first = o.start.with_timezone(&own).date_naive();
                        let last = o.end.with_timezone(&own).date_naive();
                        (
                            first <= day && (day < last || first == last && day == first),
                            "All day".to_owned(),
                        )
                    }
                    _ => {
                        let local = o.start.with_timezone(&zone);
                        let shown = if local.date_naive() == day {
                            local.format("%H:%M").to_string()
                        } else {
                            local.format("%a %-d %b %H:%M").to_string()
                        };
                        let overlaps = o.start < end && o.end > start
                            || o.start == o.end && o.start >= start && o.start < end;
                        (overlaps, shown)
                    }
                };
                if shows {
                    out.insert((
                        day.to_string(),
                        item.uid.clone(),
                        o.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        subject.clone(),
                        when,
                    ));
                }
            }
        }
    }
    out
}

/// What the browser saw on a page, in the same shape: the first time in
/// each event's `when` is compared (a month's cells show only the start).
fn seen_days(page: &Value) -> BTreeSet<(String, String, String, String, String)> {
    let mut out = BTreeSet::new();
    for day in page["days"].as_array().unwrap() {
        for e in day["events"].as_array().unwrap() {
            let when = e["when"].as_str().unwrap();
            let first = when.split('–').next().unwrap().to_owned();
            out.insert((
                day["date"].as_str().unwrap().to_owned(),
                e["uid"].as_str().unwrap().to_owned(),
                e["start"].as_str().unwrap().to_owned(),
                e["what"].as_str().unwrap().to_owned(),
                first,
            ));
        }
    }
    out
}

#[test]
fn in_chromium_a_person_sees_their_week_and_month_exactly_as_replicated_in_their_own_zone() {
    let (f, engine, replica) = replicated("web", 12);
    // People move occurrences and retitle series; the replica follows.
    assert!(f.demo.apply_changes(1) > 0);
    assert_eq!(failed(&f.run(&engine)), Vec::<String>::new());
    let now: DateTime<Utc> = "2026-11-20T15:00:00Z".parse().unwrap();
    let (month_from, month_to) = (
        "2026-10-26T00:00:00Z".parse().unwrap(),
        "2026-12-08T00:00:00Z".parse().unwrap(),
    );
    let items_of = |address: &EmailAddress| {
        let c = block(replica.calendars(address))
            .unwrap()
            .into_iter()
            .find(|c| c.name == "Calendar")
            .unwrap();
        block(replica.items(address, &c.id)).unwrap()
    };
    // Someone whose month has a moved occurrence and an all-day event.
    let own = f
        .demo
        .addresses
        .iter()
        .find(|a| {
            let items = items_of(a);
            let moved = items.iter().any(|i| {
                i.recurrence.as_ref().is_some_and(|r| {
                    r.modified
                        .iter()
                        .any(|m| m.start >= month_from && m.start < month_to)
                })
            });
            let all_day = items.iter().any(|i| {
                matches!(i.time, ItemTime::AllDay { .. })
                    && !i.occurrences(month_from, month_to).unwrap().is_empty()
            });
            moved && all_day
        })
        .expect("a mailbox with a moved occurrence and an all-day event in November")
        .clone();
    // The delegate reads a mailbox with a private item this month, so that
    // masking shows.
    let delegated: EmailAddress = f
        .demo
        .addresses
        .iter()
        .filter(|a| **a != own)
        .find(|a| {
            block(replica.calendars(a)).unwrap().iter().any(|c| {
                block(replica.items(a, &c.id)).unwrap().iter().any(|i| {
                    i.sensitivity.is_private()
                        && !i.occurrences(month_from, month_to).unwrap().is_empty()
                })
            })
        })
        .expect("a mailbox with a private item in November")
        .clone();
    let (server, password) = serve_ann(&f, &replica, &own, &delegated, now);
    let base = format!("http://{}", server.addr());
    let path_of = |address: &EmailAddress| format!("/web/c/{address}~{}", b64url("Calendar"));
    let (own_path, own_items) = (path_of(&own), items_of(&own));
    let (delegated_path, delegated_items) = (path_of(&delegated), items_of(&delegated));
    let date = "2026-11-18";
    let week: Vec<NaiveDate> = (16..=22)
        .map(|d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap())
        .collect();
    let month: Vec<NaiveDate> = (0..42)
        .map(|i| NaiveDate::from_ymd_opt(2026, 10, 26).unwrap() + TimeDelta::days(i))
        .collect();
    let pages = json!([
        {"name": "week", "path": format!("{own_path}?view=week&date={date}")},
        {"name": "month", "path": format!("{own_path}?view=month&date={date}")},
        {"name": "delegated", "path": format!("{delegated_path}?view=month&date={date}")},
    ]);
    let synced = block(replica.mailbox(&own))
        .unwrap()
        .and_then(|m| m.last_synced)
        .unwrap();

    // Scripts on, a desk-sized window, the browser in New York: the page
    // detects the zone. Scripts off, a phone, the zone picked in the form.
    for (zone, javascript, choose, width, height) in [
        ("America/New_York", true, None, 1280, 900),
        ("Europe/Berlin", false, Some("Asia/Kolkata"), 390, 844),
    ] {
        let shown_zone: Tz = choose.unwrap_or(zone).parse().unwrap();
        let seen = calrep_testkit::run_oracle(
            "web_browser.py",
            &json!({
                "base": base, "user": "ann", "password": password.expose(),
                "zone": zone, "javascript": javascript, "choose_zone": choose,
                "pages": pages, "width": width, "height": height, "screenshots": null,
            }),
        );
        let context = format!("browser in {zone}, javascript {javascript}, {width} px");
        assert!(
            seen["first_url"].as_str().unwrap().ends_with("/web/signin"),
            "{context}: {seen}"
        );
        let overview = &seen["overview"];
        assert_eq!(
            overview["zone_now"],
            json!(format!("Times in {shown_zone}. Change")),
            "{context}"
        );
        // Today for each calendar the account may read, and no other.
        let titles: BTreeSet<String> = overview["calendars"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["title"].as_str().unwrap().to_owned())
            .collect();
        let mut want = BTreeSet::new();
        for address in [&own, &delegated] {
            for c in block(replica.calendars(address)).unwrap() {
                want.insert(format!("{} {address}", c.name));
            }
        }
        assert_eq!(titles, want, "{context}");
        let stamp = synced
            .with_timezone(&shown_zone)
            .format("%A %-d %B %Y %H:%M");
        for (name, items, masked, days) in [
            ("week", &own_items, false, &week),
            ("month", &own_items, false, &month),
            ("delegated", &delegated_items, true, &month),
        ] {
            let page = &seen["pages"][name];
            let expected = expected_days(items, masked, days, shown_zone);
            assert!(expected.len() > 5, "{context} {name}: {expected:?}");
            assert_eq!(seen_days(page), expected, "{context}: {name}");
            assert_eq!(page["lang"], "en");
            assert_eq!(page["h1"].as_array().unwrap().len(), 1, "{context} {name}");
            assert_eq!(page["unlabelled"], json!([]), "{context} {name}");
            assert_eq!(page["sideways"], false, "{context} {name}: {page}");
            let banner = page["banner"].as_str().unwrap();
            if name != "delegated" {
                assert!(
                    banner.contains(&format!("as of {stamp} ({shown_zone})")),
                    "{context}: {banner}"
                );
            }
        }
        // The month shows moved occurrences and all-day events, and the
        // delegate sees a private item masked.
        let own_month = expected_days(&own_items, false, &month, shown_zone);
        let moved = own_items.iter().any(|i| {
            i.recurrence.as_ref().is_some_and(|r| {
                r.modified.iter().any(|m| {
                    own_month.iter().any(|(_, uid, start, _, _)| {
                        *uid == i.uid
                            && *start == m.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    })
                })
            })
        });
        assert!(moved, "no moved occurrence in the month");
        assert!(
            own_month.iter().any(|e| e.4 == "All day"),
            "no all-day event"
        );
        let delegated_month = seen_days(&seen["pages"]["delegated"]);
        assert!(delegated_month.iter().any(|e| e.3 == "Private appointment"));
        for item in delegated_items
            .iter()
            .filter(|i| i.sensitivity.is_private())
        {
            assert!(
                delegated_month.iter().all(|e| e.3 != item.subject),
                "a private subject shown to a delegate: {}",
                item.subject
            );
        }
        assert!(
            seen["after_sign_out"]
                .as_str()
                .unwrap()
                .ends_with("/web/signin"),
            "{context}: signed out, a calendar asks to sign in again"
        );
    }
}

/// One HTTP/1.1 exchange: (status, headers in lower case, body).
fn http(addr: SocketAddr, request: &str) -> (u16, Vec<(String, String)>, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn get(addr: SocketAddr, path: &str, cookie: &str) -> (u16, Vec<(String, String)>, String) {
    http(
        addr,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
        ),
    )
}

fn post(
    addr: SocketAddr,
    path: &str,
    cookie: &str,
    origin: &str,
    form: &str,
) -> (u16, Vec<(String, String)>, String) {
    http(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nOrigin: {origin}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{form}",
            form.len()
        ),
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The value a `Set-Cookie` gives `name`.
fn cookie_value(headers: &[(String, String)], name: &str) -> String {
    header(headers, "set-cookie")
        .into_iter()
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned()
}

/// The CSRF token a page's form carries.
fn form_csrf(body: &str) -> String {
    body.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned()
}

#[test]
fn the_web_page_refuses_forged_posts_others_calendars_and_sessions_that_must_have_ended() {
    let (f, _engine, replica) = replicated("web-http", 3);
    let now: DateTime<Utc> = "2026-11-20T15:00:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let own = f.demo.addresses[0].clone();
    let stranger = f.demo.addresses[1].clone();
    let hasher = PasswordHasher::fast_for_tests();
    let mut grants = Grants::default();
    grants.mailboxes.push(own.clone());
    let issue = || {
        f.rt.block_on(grant(replica.as_ref(), &hasher, "ann", &grants, now))
            .unwrap()
    };
    let password = issue();
    let (server, log) = logged_server(
        &f,
        &replica,
        AccessOptions::new()
            .hasher(hasher.clone())
            .clock(clock.clone()),
    );
    let addr = server.addr();
    let origin = format!("http://{addr}");

    // The sign-in page: its CSRF cookie, and the page's own policy.
    let (status, headers, body) = get(addr, "/web/signin", "");
    assert_eq!(status, 200);
    let set = header(&headers, "set-cookie");
    assert!(
        set.iter().any(|c| c.starts_with("calrep_signin=")
            && c.contains("HttpOnly")
            && c.contains("SameSite=Strict")
            && c.contains("Path=/web")
            && !c.contains("Secure")),
        "{set:?}"
    );
    let csp = header(&headers, "content-security-policy").join(" ");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(header(&headers, "cache-control"), ["no-store"]);
    assert_eq!(header(&headers, "x-frame-options"), ["DENY"]);
    let token = cookie_value(&headers, "calrep_signin");
    assert_eq!(form_csrf(&body), token);
    let cookie = format!("calrep_signin={token}");
    let form = |pw: &str| format!("csrf={token}&name=ann&password={pw}");

    // Forged: no cookie, a different token, another origin.
    assert_eq!(
        post(addr, "/web/signin", "", &origin, &form(password.expose())).0,
        403
    );
    assert_eq!(
        post(
            addr,
            "/web/signin",
            "calrep_signin=other",
            &origin,
            &form(password.expose())
        )
        .0,
        403
    );
    assert_eq!(
        post(
            addr,
            "/web/signin",
            &cookie,
            "https://evil.example",
            &form(password.expose())
        )
        .0,
        403
    );
    // A wrong password: 401, and the form again.
    let (status, _, body) = post(addr, "/web/signin", &cookie, &origin, &form("wrong"));
    assert_eq!(status, 401);
    assert!(body.contains("do not match"), "{body}");
    // The right one: a session cookie and the overview.
    let (status, headers, _) = post(
        addr,
        "/web/signin",
        &cookie,
        &origin,
        &form(password.expose()),
    );
    assert_eq!(status, 303);
    assert_eq!(header(&headers, "location"), ["/web/"]);
    let session = cookie_value(&headers, "calrep_session");
    let set = header(&headers, "set-cookie").join("\n");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = format!("calrep_session={session}");
    let (status, _, body) = get(addr, "/web/", &cookie);
    assert_eq!(status, 200);
    assert!(body.contains("Signed in as <strong>ann</strong>"), "{body}");
    let csrf = form_csrf(&body);

    // Someone else's calendar is not found, as if it did not exist; absurd
    // dates and views are refused, not computed.
    let own_page = format!("/web/c/{own}~{}", b64url("Calendar"));
    assert_eq!(get(addr, &own_page, &cookie).0, 200);
    let strangers = format!("/web/c/{stranger}~{}", b64url("Calendar"));
    assert_eq!(get(addr, &strangers, &cookie).0, 404);
    for query in [
        "?date=99999-01-01",
        "?date=1066-10-14",
        "?date=2026-02-30",
        "?view=year",
    ] {
        assert_eq!(
            get(addr, &format!("{own_page}{query}"), &cookie).0,
            400,
            "{query}"
        );
    }
    // Signing out needs the session's token.
    assert_eq!(
        post(addr, "/web/signout", &cookie, &origin, "csrf=forged").0,
        403
    );
    assert_eq!(
        get(addr, "/web/", &cookie).0,
        200,
        "a forged sign-out ends nothing"
    );

    // Sessions end: idle for 8 hours…
    clock.advance(TimeDelta::hours(8));
    assert_eq!(get(addr, "/web/", &cookie).0, 303);
    // …when the account is revoked or its password re-issued…
    let sign_in = |password: &str| {
        let (_, headers, _) = get(addr, "/web/signin", "");
        let token = cookie_value(&headers, "calrep_signin");
        let (status, headers, _) = post(
            addr,
            "/web/signin",
            &format!("calrep_signin={token}"),
            &origin,
            &format!("csrf={token}&name=ann&password={password}"),
        );
        assert_eq!(status, 303);
        format!(
            "calrep_session={}",
            cookie_value(&headers, "calrep_session")
        )
    };
    let second = sign_in(password.expose());
    assert_eq!(get(addr, "/web/", &second).0, 200);
    let reissued = issue();
    assert_eq!(
        get(addr, "/web/", &second).0,
        303,
        "a re-issued password ends sessions"
    );
    let third = sign_in(reissued.expose());
    f.rt.block_on(revoke(replica.as_ref(), "ann")).unwrap();
    assert_eq!(get(addr, "/web/", &third).0, 303, "revoking ends sessions");
    // …and when signed out.
    let password = issue();
    let fourth = sign_in(password.expose());
    let (_, _, body) = get(addr, "/web/", &fourth);
    let (status, headers, _) = post(
        addr,
        "/web/signout",
        &fourth,
        &origin,
        &format!("csrf={}", form_csrf(&body)),
    );
    assert_eq!(status, 303);
    assert_eq!(cookie_value(&headers, "calrep_session"), "");
    assert_eq!(get(addr, "/web/", &fourth).0, 303);

    // Ten wrong passwords lock the account out of the page as well.
    let (_, headers, _) = get(addr, "/web/signin", "");
    let token = cookie_value(&headers, "calrep_signin");
    let statuses: Vec<u16> = (0..11)
        .map(|_| {
            post(
                addr,
                "/web/signin",
                &format!("calrep_signin={token}"),
                &origin,
                &format!("csrf={token}&name=ann&password=wrong"),
            )
            .0
        })
        .collect();
    assert_eq!(statuses[..10], [401; 10]);
    assert_eq!(statuses[10], 429);

    // No secret reached the log.
    for r in log.lock().unwrap().iter() {
        let line = r.to_string();
        for secret in [
            password.expose(),
            reissued.expose(),
            &session,
            &csrf,
            &token,
        ] {
            assert!(!line.contains(secret), "a secret in the log: {line}");
        }
    }
    drop(server);

    // Behind a TLS-terminating proxy, cookies are Secure.
    let server =
        f.rt.block_on(AccessServer::start(
            "127.0.0.1:0".parse().unwrap(),
            replica,
            AccessOptions::new().behind_tls_proxy(true),
        ))
        .unwrap();
    let (_, headers, _) = get(server.addr(), "/web/signin", "");
    assert!(
        header(&headers, "set-cookie")
            .iter()
            .all(|c| c.contains("; Secure"))
    );
}
