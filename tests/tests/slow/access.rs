//! Continuity access with a real client: a replica read over EWS from the
//! simulator is served by calrep's front end on 127.0.0.1, and the python
//! `caldav` library discovers the account from the well-known URL, lists
//! exactly the calendars it was granted and finds in a window exactly the
//! series the replica holds there; then what must be refused is: no
//! credentials, a wrong password, an unknown, expired or revoked account,
//! writes, and someone else's calendar by a guessed URL (404, as if it did
//! not exist).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use calrep_core::access::{
    AccessOptions, AccessRecord, AccessServer, Grants, PasswordHasher, feed_urls, grant,
    issue_feed_token, revoke,
};
use calrep_core::replica::ReplicaReader;
use calrep_core::sim::SimOptions;
use calrep_core::{EmailAddress, ManualClock};
use calrep_testkit::fixture::block;
use calrep_testkit::sim::{SimFixture, failed};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// A demo organisation of `mailboxes` replicated over EWS from the
/// simulator: the fixture, its engine and the replica.
pub(super) fn replicated(
    name: &str,
    mailboxes: usize,
) -> (
    SimFixture,
    calrep_core::engine::Engine,
    Arc<calrep_core::replica::SqliteReplica>,
) {
    let f = SimFixture::new(name, mailboxes, SimOptions::default());
    let config = f.config(
        &f.sim.url(),
        &format!(
            "timeout_seconds = 5\n{}",
            calrep_testkit::ews::basic_account()
        ),
        "",
    );
    let (engine, replica) = f.engine(config);
    assert_eq!(failed(&f.run(&engine)), Vec::<String>::new());
    (f, engine, replica)
}

/// A front end over `replica` at `now` with one account, `ann`, who owns
/// `own` and reads `delegated` as a delegate; the server and her password.
pub(super) fn serve_ann(
    f: &SimFixture,
    replica: &Arc<calrep_core::replica::SqliteReplica>,
    own: &EmailAddress,
    delegated: &EmailAddress,
    now: DateTime<Utc>,
) -> (AccessServer, calrep_core::Secret) {
    let hasher = PasswordHasher::fast_for_tests();
    let mut grants = Grants::default();
    grants.mailboxes.push(own.clone());
    grants.delegated.push(delegated.clone());
    let password =
        f.rt.block_on(grant(replica.as_ref(), &hasher, "ann", &grants, now))
            .unwrap();
    let server =
        f.rt.block_on(AccessServer::start(
            "127.0.0.1:0".parse().unwrap(),
            replica.clone(),
            AccessOptions::new()
                .hasher(hasher)
                .clock(Arc::new(ManualClock::new(now))),
        ))
        .unwrap();
    (server, password)
}

/// What a [`logged_server`] recorded.
pub(super) type Records = Arc<std::sync::Mutex<Vec<AccessRecord>>>;

/// A front end over `replica` with `options`, recording every request.
pub(super) fn logged_server(
    f: &SimFixture,
    replica: &Arc<calrep_core::replica::SqliteReplica>,
    options: AccessOptions,
) -> (AccessServer, Records) {
    let log = Records::default();
    let records = Arc::clone(&log);
    let options = options.log(Arc::new(move |r: &AccessRecord| {
        records.lock().unwrap().push(r.clone());
    }));
    let server =
        f.rt.block_on(AccessServer::start(
            "127.0.0.1:0".parse().unwrap(),
            replica.clone(),
            options,
        ))
        .unwrap();
    (server, log)
}

fn b64url(text: &str) -> String {
    calrep_core::base64::encode_url(text.as_bytes())
}

#[test]
fn a_caldav_client_sees_exactly_what_was_granted_and_nothing_else() {
    let (f, engine, replica) = replicated("access", 12);
    let (own, delegated, stranger): (EmailAddress, EmailAddress, EmailAddress) = (
        f.demo.addresses[0].clone(),
        f.demo.addresses[1].clone(),
        f.demo.addresses[2].clone(),
    );
    let now: DateTime<Utc> = "2026-11-20T00:00:00Z".parse().unwrap();
    let hasher = PasswordHasher::default();
    let issue = |name: &str, grants: Grants| {
        f.rt.block_on(grant(replica.as_ref(), &hasher, name, &grants, now))
            .unwrap()
    };
    let mut ann = Grants::default();
    ann.mailboxes.push(own.clone());
    ann.delegated.push(delegated.clone());
    let password = issue("ann", ann);
    let mut expired = Grants::default();
    expired.mailboxes.push(own.clone());
    expired.expires = Some("2026-11-01T00:00:00Z".parse().unwrap());
    let expired_password = issue("old", expired);
    let mut gone = Grants::default();
    gone.mailboxes.push(own.clone());
    let revoked_password = issue("gone", gone);
    f.rt.block_on(revoke(replica.as_ref(), "gone")).unwrap();

    let (server, log) = logged_server(
        &f,
        &replica,
        AccessOptions::new()
            .hasher(hasher)
            .clock(Arc::new(ManualClock::new(now))),
    );
    let base = format!("http://{}", server.addr());
    let stranger_calendar = format!("/dav/calendars/ann/{stranger}~{}/", b64url("Calendar"));
    let (from, to) = ("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z");
    let seen = calrep_testkit::run_oracle(
        "caldav_client.py",
        &json!({
            "base": base, "user": "ann", "password": password.expose(), "from": from, "to": to,
            "guessed": {
                "someone else's calendar": stranger_calendar,
                "someone else's home": "/dav/calendars/bob/",
                "someone else's principal": "/dav/principals/bob/",
            },
            "credentials": {
                "expired": ["old", expired_password.expose()],
                "revoked": ["gone", revoked_password.expose()],
            },
        }),
    );

    // Exactly the granted calendars, each with exactly the series the
    // replica holds in the window.
    let mut expected = BTreeSet::new();
    for address in [&own, &delegated] {
        for calendar in block(replica.calendars(address)).unwrap() {
            let items = block(replica.items(address, &calendar.id)).unwrap();
            let in_window: BTreeSet<String> =
                block(replica.occurrences(address, from.parse().unwrap(), to.parse().unwrap()))
                    .unwrap()
                    .into_iter()
                    .filter(|o| o.calendar == calendar.id)
                    .filter_map(|o| items.iter().find(|i| i.id == o.item).map(|i| i.uid.clone()))
                    .collect();
            expected.insert((
                format!("{address}~{}", b64url(&calendar.name)),
                in_window.into_iter().collect::<Vec<_>>(),
                items.len(),
            ));
        }
    }
    // Expanded in the window, by the server (RFC 4791 `expand`) and by the
    // client's own expander (recurring_ical_events) from the series as
    // served: both give exactly the replica's occurrences.
    let own_calendar = block(replica.calendars(&own))
        .unwrap()
        .into_iter()
        .find(|c| c.name == "Calendar")
        .unwrap();
    let own_items = block(replica.items(&own, &own_calendar.id)).unwrap();
    let mut instances: Vec<String> =
        block(replica.occurrences(&own, from.parse().unwrap(), to.parse().unwrap()))
            .unwrap()
            .into_iter()
            .filter(|o| o.calendar == own_calendar.id)
            .map(|o| {
                let item = own_items.iter().find(|i| i.id == o.item).unwrap();
                let when = match item.time {
                    calrep_core::calendar::ItemTime::AllDay { .. } => {
                        let tz: chrono_tz::Tz = item.zone.iana.parse().unwrap_or(chrono_tz::UTC);
                        format!(
                            "DATE:{}",
                            o.occurrence.start.with_timezone(&tz).format("%Y%m%d")
                        )
                    }
                    _ => o.occurrence.start.format("%Y%m%dT%H%M%SZ").to_string(),
                };
                format!("{} {when}", item.uid)
            })
            .collect();
    instances.sort();
    let own_seen = seen["calendars"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["url"]
                .as_str()
                .unwrap()
                .replace("%40", "@")
                .contains(&format!("{own}~{}", b64url("Calendar")))
        })
        .unwrap();
    assert!(instances.len() > 10, "{instances:?}");
    // Each collection says how current it is: the mailbox's last run.
    let synced = block(replica.mailbox(&own))
        .unwrap()
        .and_then(|m| m.last_synced)
        .unwrap();
    // The calendar's own zone (calendar-timezone): the one most of its
    // items are written in, as a VTIMEZONE the icalendar package reads
    // with the offsets chrono-tz gives.
    let mut zones: std::collections::BTreeMap<String, usize> = Default::default();
    for item in &own_items {
        *zones.entry(item.zone.iana.clone()).or_default() += 1;
    }
    let (main_zone, _) = zones
        .iter()
        .filter(|(z, _)| *z != "UTC")
        .max_by_key(|(z, n)| (**n, std::cmp::Reverse((*z).clone())))
        .unwrap();
    let tz: chrono_tz::Tz = main_zone.parse().unwrap();
    let offsets: Vec<i64> = [1, 7]
        .iter()
        .map(|&month| {
            use chrono::{Offset, TimeZone};
            let at = chrono::NaiveDate::from_ymd_opt(2026, month, 15)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap();
            i64::from(tz.offset_from_utc_datetime(&at).fix().local_minus_utc())
        })
        .collect();
    assert_eq!(
        own_seen["zone"],
        json!({"tzid": main_zone, "offsets": offsets}),
        "{zones:?}"
    );
    let description = own_seen["description"].as_str().unwrap();
    assert!(
        description.starts_with("Read-only replica")
            && description.ends_with(&synced.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        "{description}"
    );
    assert_eq!(
        own_seen["expanded"]["server"],
        json!(instances),
        "server expand"
    );
    assert_eq!(
        own_seen["expanded"]["client"],
        json!(instances),
        "client expand"
    );

    // The source changes: one series deleted, one retitled. After the next
    // run the client's sync-collection finds exactly that.
    let source = f.demo.source.mailbox(&own);
    let calendar_id = calrep_core::calendar::CalendarId::new("calendar");
    let items = source.items_of(&calendar_id);
    let (gone, mut edited) = (items[0].clone(), items[1].clone());
    assert!(source.delete_item(&calendar_id, &gone.id));
    edited.subject.push_str(" (moved to Thursday)");
    edited.change_key.push('+');
    source.put_item(&calendar_id, edited.clone());
    assert_eq!(failed(&f.run(&engine)), Vec::<String>::new());
    let tokens: serde_json::Map<String, Value> = seen["calendars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["url"].as_str().unwrap().to_owned(), c["token"].clone()))
        .collect();
    let synced = calrep_testkit::run_oracle(
        "caldav_client.py",
        &json!({"base": base, "user": "ann", "password": password.expose(), "tokens": tokens}),
    );

    // Feeds: the icalendar package reads each granted calendar's feed; a
    // conditional GET is answered 304; a wrong token finds nothing.
    let token =
        f.rt.block_on(issue_feed_token(replica.as_ref(), "ann"))
            .unwrap();
    let urls: Vec<String> =
        f.rt.block_on(feed_urls(replica.as_ref(), "ann", &token, &base))
            .unwrap()
            .into_iter()
            .map(|(_, url)| url)
            .collect();
    assert_eq!(urls.len(), seen["calendars"].as_array().unwrap().len());
    let forged = urls[0].replace(token.expose(), "not-the-token");
    let mut asked = urls.clone();
    asked.push(forged.clone());
    let fed = calrep_testkit::run_oracle("caldav_client.py", &json!({ "feeds": asked }));
    server.stop();

    assert_eq!(fed["feeds"][&forged]["status"], 404, "{fed}");
    let own_segment = format!(
        "{}~{}",
        own.as_str().replace('@', "%40"),
        b64url("Calendar")
    );
    let own_feed = urls.iter().find(|u| u.contains(&own_segment)).unwrap();
    let feed = &fed["feeds"][own_feed];
    assert_eq!(feed["conditional"], 304, "{fed}");
    let (window_from, window_to) = (
        now - chrono::TimeDelta::days(365),
        now + chrono::TimeDelta::days(730),
    );
    let mut expected_uids: Vec<String> = block(replica.items(&own, &calendar_id))
        .unwrap()
        .into_iter()
        .filter(|i| {
            i.occurrences(window_from, window_to)
                .map_or(true, |o| !o.is_empty())
        })
        .map(|i| i.uid)
        .collect();
    expected_uids.sort();
    expected_uids.dedup();
    assert_eq!(feed["uids"], json!(expected_uids), "{fed}");
    assert!(expected_uids.contains(&edited.uid) && !expected_uids.contains(&gone.uid));

    let synced = synced["synced"].as_object().unwrap();
    let own_url = synced
        .keys()
        .find(|u| {
            u.replace("%40", "@")
                .contains(&format!("{own}~{}", b64url("Calendar")))
        })
        .unwrap();
    let own_sync = &synced[own_url];
    assert_eq!(own_sync["changed"], json!([edited.uid]), "{own_sync}");
    let removed: Vec<String> = own_sync["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(removed, [format!("{}.ics", b64url(&gone.uid))]);
    for (url, other) in synced.iter().filter(|(u, _)| *u != own_url) {
        assert_eq!(other["changed"], json!([]), "{url}");
        assert_eq!(other["removed"], json!([]), "{url}");
    }

    assert!(
        seen["principal"]
            .as_str()
            .unwrap()
            .ends_with("/dav/principals/ann/"),
        "{seen}"
    );
    let got: BTreeSet<(String, Vec<String>, usize)> = seen["calendars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let url = c["url"].as_str().unwrap().replace("%40", "@");
            let segment = url
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned();
            let uids = c["uids_in_window"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u.as_str().unwrap().to_owned())
                .collect();
            (segment, uids, c["events"].as_u64().unwrap() as usize)
        })
        .collect();
    assert_eq!(got, expected);
    assert!(
        got.iter().any(|(_, uids, _)| !uids.is_empty()),
        "nothing in the window"
    );

    let checks = &seen["checks"];
    let want: &[(&str, u64)] = &[
        ("no_credentials", 401),
        ("wrong_password", 401),
        ("unknown_account", 401),
        ("creds:expired", 401),
        ("creds:revoked", 401),
        ("write", 403),
        ("delete", 403),
        ("guessed:someone else's calendar", 404),
        ("guessed:someone else's home", 404),
        ("guessed:someone else's principal", 404),
    ];
    for (check, status) in want {
        assert_eq!(checks[check], Value::from(*status), "{check}: {checks}");
    }

    // Every request was logged: who, what, the answer; never a secret.
    let records = log.lock().unwrap();
    assert!(records.len() > 20, "{} records", records.len());
    for r in records.iter() {
        let line = r.to_string();
        for secret in [password.expose(), token.expose(), expired_password.expose()] {
            assert!(!line.contains(secret), "a secret in the log: {line}");
        }
    }
    assert!(
        records.iter().any(|r| r.account.as_deref() == Some("ann")
            && r.method == "REPORT"
            && r.status == 207)
    );
    assert!(
        records
            .iter()
            .any(|r| r.account.is_none() && r.status == 401)
    );
    assert!(
        records
            .iter()
            .any(|r| r.path.starts_with("/feeds/…/") && r.status == 304)
    );
}

/// The status of a PROPFIND of `/dav/` as `user` (0: no readable answer).
fn propfind_status(addr: std::net::SocketAddr, user: &str, password: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let credentials = calrep_core::base64::encode(format!("{user}:{password}").as_bytes());
    // A server that answers nothing readable may close or reset the
    // connection while the request is written or read (a TLS port spoken
    // to in plain HTTP): no status then.
    let sent = write!(
        stream,
        "PROPFIND /dav/ HTTP/1.1\r\nHost: {addr}\r\nDepth: 0\r\nAuthorization: Basic {credentials}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let mut answer = String::new();
    if sent.is_err() || stream.read_to_string(&mut answer).is_err() {
        return 0;
    }
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// A front end over an empty replica with one account per name (admin
/// for `root`, else its own mailbox), with `tls` if given; the passwords
/// in the order of `names`.
fn small_server(
    rt: &tokio::runtime::Runtime,
    names: &[&str],
    tls: Option<calrep_core::access::TlsConfig>,
) -> (AccessServer, Vec<calrep_core::Secret>) {
    let replica = Arc::new(calrep_core::replica::SqliteReplica::open_in_memory().unwrap());
    let hasher = PasswordHasher::fast_for_tests();
    let now: DateTime<Utc> = "2026-11-20T00:00:00Z".parse().unwrap();
    let passwords = names
        .iter()
        .map(|name| {
            let mut grants = Grants::default();
            grants.admin = *name == "root";
            grants
                .mailboxes
                .push(format!("{name}@example.com").parse().unwrap());
            rt.block_on(grant(replica.as_ref(), &hasher, name, &grants, now))
                .unwrap()
        })
        .collect();
    let options = AccessOptions::new()
        .hasher(hasher)
        .clock(Arc::new(ManualClock::new(now)));
    let server = rt
        .block_on(AccessServer::start(
            "127.0.0.1:0".parse().unwrap(),
            replica,
            match tls {
                Some(tls) => options.tls(tls),
                None => options,
            },
        ))
        .unwrap();
    (server, passwords)
}

use calrep_testkit::fixture::runtime;

#[test]
fn repeated_wrong_passwords_lock_the_account_but_not_others() {
    let rt = runtime();
    let (server, passwords) = small_server(&rt, &["ann", "bob"], None);
    let (ann, bob) = (&passwords[0], &passwords[1]);
    let addr = server.addr();
    assert_eq!(propfind_status(addr, "ann", ann.expose()), 207);
    for _ in 0..10 {
        assert_eq!(propfind_status(addr, "ann", "guess"), 401);
    }
    // Locked: even the right password is not checked now.
    assert_eq!(propfind_status(addr, "ann", ann.expose()), 429);
    assert_eq!(
        propfind_status(addr, "bob", bob.expose()),
        207,
        "another account"
    );
    server.stop();
}

#[test]
fn over_tls_a_caldav_client_that_trusts_the_certificate_reads_the_calendars() {
    let dir = std::env::temp_dir().join(format!("calrep-access-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let rt = runtime();
    assert!(
        calrep_core::access::tls_config(&key, &cert).is_err(),
        "swapped files are refused"
    );
    let tls = calrep_core::access::tls_config(&cert, &key).unwrap();
    let (server, passwords) = small_server(&rt, &["root"], Some(tls));
    let password = &passwords[0];
    let base = format!("https://{}", server.addr());
    let seen = calrep_testkit::run_oracle(
        "caldav_client.py",
        &json!({"base": base, "user": "root", "password": password.expose(),
                "from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z",
                "ca": cert.to_str().unwrap()}),
    );
    assert!(
        seen["principal"].as_str().unwrap().starts_with("https://"),
        "{seen}"
    );
    assert_eq!(
        seen["calendars"],
        json!([]),
        "an empty replica has no calendars"
    );
    // Plain HTTP to the TLS port gets no answer a client could read.
    assert_eq!(propfind_status(server.addr(), "root", password.expose()), 0);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn vdirsyncer_syncs_each_granted_calendar_and_every_series_arrives_as_served() {
    let (f, _engine, replica) = replicated("access-vdirsyncer", 10);
    let (own, delegated) = (f.demo.addresses[0].clone(), f.demo.addresses[1].clone());
    let now: DateTime<Utc> = "2026-11-20T00:00:00Z".parse().unwrap();
    let (server, password) = serve_ann(&f, &replica, &own, &delegated, now);
    let dir = f.dir.join("vdirsyncer");
    let local = dir.join("calendars");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config"),
        format!(
            "[general]\nstatus_path = \"{status}\"\n\n[pair cal]\na = \"local\"\nb = \"remote\"\n\
             collections = [\"from b\"]\nconflict_resolution = \"b wins\"\n\n\
             [storage local]\ntype = \"filesystem\"\npath = \"{local}\"\nfileext = \".ics\"\n\n\
             [storage remote]\ntype = \"caldav\"\nurl = \"http://{addr}/\"\nusername = \"ann\"\n\
             password = \"{password}\"\nread_only = true\n",
            status = dir.join("status").display(),
            local = local.display(),
            addr = server.addr(),
            password = password.expose(),
        ),
    )
    .unwrap();
    let python = std::env::var("CALREP_PYTHON").unwrap_or_else(|_| "python3".into());
    for (step, input) in [("discover", "y\ny\ny\ny\ny\ny\n"), ("sync", "")] {
        let mut child = std::process::Command::new(&python)
            .args(["-m", "vdirsyncer", "-c"])
            .arg(dir.join("config"))
            .arg(step)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "vdirsyncer {step}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    server.stop();

    // One local folder per granted calendar; in each, every item of the
    // replica's calendar exactly as the server serves it (private items of
    // the delegated mailbox masked).
    let mut folders = 0;
    for (address, delegate) in [(&own, false), (&delegated, true)] {
        for calendar in block(replica.calendars(address)).unwrap() {
            let folder = local.join(format!("{address}~{}", b64url(&calendar.name)));
            let mut got: Vec<String> = std::fs::read_dir(&folder)
                .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
                .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                .collect();
            got.sort();
            let mut expected: Vec<String> = block(replica.items(address, &calendar.id))
                .unwrap()
                .into_iter()
                .map(|item| {
                    let item = if delegate && item.sensitivity.is_private() {
                        item.masked()
                    } else {
                        item
                    };
                    calrep_core::ical::export(
                        &calendar.name,
                        std::slice::from_ref(&item),
                        |_, _| None,
                        calrep_core::ical::AttachmentStyle::HashUri,
                        now,
                    )
                })
                .collect();
            expected.sort();
            assert_eq!(got.len(), expected.len(), "{address} {}", calendar.name);
            assert!(
                got == expected,
                "{address} {}: a series differs",
                calendar.name
            );
            folders += 1;
        }
    }
    assert_eq!(
        std::fs::read_dir(&local).unwrap().count(),
        folders,
        "nothing else"
    );
}
