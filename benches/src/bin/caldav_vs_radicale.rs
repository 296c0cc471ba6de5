//! calrep's CalDAV front end against Radicale, a real CalDAV server, serving
//! the same 10,000-event calendar on this machine in the same run, under
//! the same load: `wrk` (Debian's) with 50 connections.
//!
//! - A one-week `calendar-query` (time-range, calendar data), the request a
//!   client's week view makes. Both servers' answers are first checked to
//!   hold the same events.
//! - A conditional GET of the calendar as a feed: calrep answers 304 from
//!   the change number; Radicale has no conditional GET and sends the whole
//!   calendar (its collection GET), which is what a subscriber pays there.
//! - A `sync-collection` after one change at the source returns only that
//!   change (checked, and timed once).
//!
//! calrep's server runs in this process on a two-thread runtime, as in
//! `calrep serve`; Radicale runs as its own process with its defaults
//! (filesystem storage, its item cache warmed first) and no authentication,
//! while calrep checks an app password on every request (remembered after
//! the first Argon2id check, as for real clients).
//!
//! Usage: `caldav-vs-radicale [SECONDS] [RADICALE_SECONDS]` (default 15 per
//! measurement of calrep, 60 of Radicale: it completes few requests, and
//! wrk only counts completed ones).
//! Needs `wrk` on the PATH and Radicale importable by `python3` (`pip
//! install radicale`). Build it with `--release`.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use calrep_benches::engine::{config, organisation};
use calrep_core::access::{
    AccessOptions, AccessServer, Grants, PasswordHasher, grant, issue_feed_token,
};
use calrep_core::engine::{Engine, RunOptions};
use calrep_core::ical::{AttachmentStyle, export};
use calrep_core::replica::{Replica, ReplicaReader, SqliteReplica};
use calrep_core::{EmailAddress, SystemClock};

const EVENTS: u64 = 10_000;
const CLIENTS: u32 = 50;
/// The week asked for: the generated calendar's busiest stretch.
const WEEK: (&str, &str) = ("20260601T000000Z", "20260608T000000Z");

type Error = Box<dyn std::error::Error>;

/// One HTTP/1.1 exchange over a fresh connection: status and body.
fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String), Error> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(300)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status line")?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// The UIDs of the events in a multistatus's calendar data.
fn uids(multistatus: &str) -> std::collections::BTreeSet<String> {
    multistatus
        .split("UID:")
        .skip(1)
        .filter_map(|rest| rest.split(['\r', '\n', '&']).next())
        .map(|uid| uid.trim().to_owned())
        .collect()
}

fn query_body() -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/><c:calendar-data/></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">
    <c:time-range start="{}" end="{}"/>
  </c:comp-filter></c:comp-filter></c:filter>
</c:calendar-query>"#,
        WEEK.0, WEEK.1
    )
}

/// What wrk measured.
#[derive(Debug)]
struct Load {
    requests: u64,
    per_second: f64,
    p50: String,
    p99: String,
    errors: String,
}

/// Runs wrk against `url` for `seconds` with `script` (Lua setting the
/// method, headers and body).
fn wrk(url: &str, script: &Path, seconds: u64) -> Result<Load, Error> {
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{CLIENTS}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "120s",
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(url)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .map(|v| v.trim().to_owned())
    };
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no request count in: {text}"))?;
    let mut errors = Vec::new();
    if let Some(e) = field("Socket errors:") {
        errors.push(format!("socket errors: {e}"));
    }
    if let Some(e) = field("Non-2xx or 3xx responses:") {
        errors.push(format!("non-2xx/3xx: {e}"));
    }
    Ok(Load {
        requests,
        per_second: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        p50: field("50%").unwrap_or_else(|| "-".into()),
        p99: field("99%").unwrap_or_else(|| "-".into()),
        errors: if errors.is_empty() {
            "none".into()
        } else {
            errors.join("; ")
        },
    })
}

/// A wrk script for one request.
fn script(
    dir: &Path,
    name: &str,
    method: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<std::path::PathBuf, Error> {
    let mut lua = format!("wrk.method = \"{method}\"\n");
    for (n, v) in headers {
        lua.push_str(&format!(
            "wrk.headers[\"{n}\"] = \"{}\"\n",
            v.replace('"', "\\\"")
        ));
    }
    if !body.is_empty() {
        lua.push_str(&format!("wrk.body = [[{body}]]\n"));
    }
    let path = dir.join(format!("{name}.lua"));
    std::fs::write(&path, lua)?;
    Ok(path)
}

/// Radicale serving `root` on a free port, once it answers.
fn radicale(dir: &Path, root: &Path) -> Result<(Child, SocketAddr), Error> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let config = dir.join("radicale.conf");
    std::fs::write(
        &config,
        format!(
            "[server]\nhosts = {addr}\n[auth]\ntype = none\n[rights]\ntype = owner_only\n\
             [storage]\nfilesystem_folder = {}\n[web]\ntype = none\n[logging]\nlevel = warning\n",
            root.display()
        ),
    )?;
    let child = Command::new("python3")
        .args(["-m", "radicale", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return Err("Radicale did not start listening".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok((child, addr))
}

fn main() -> Result<(), Error> {
    let seconds: u64 = match std::env::args().nth(1) {
        Some(s) => s.parse()?,
        None => 15,
    };
    let radicale_seconds: u64 = match std::env::args().nth(2) {
        Some(s) => s.parse()?,
        None => 60,
    };
    let dir =
        std::env::temp_dir().join(format!("calrep-caldav-vs-radicale-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    // The calendar: 10,000 events (one in ten a weekly series), replicated.
    let (org, addresses) = organisation(1, EVENTS);
    let address: EmailAddress = addresses.first().ok_or("no mailbox")?.clone();
    let replica = Arc::new(SqliteReplica::open(&dir.join("replica.db"))?);
    let engine = Engine::new(
        config(&addresses, 4),
        replica.clone() as Arc<dyn Replica>,
        Arc::new(SystemClock),
    )
    .with_source("bench".into(), org.clone());
    rt.block_on(engine.run_task(&"t".into(), RunOptions::default()))?;
    let calendar = rt
        .block_on(replica.calendars(&address))?
        .into_iter()
        .next()
        .ok_or("no calendar")?;
    let items = rt.block_on(replica.items(&address, &calendar.id))?;
    let now = chrono::Utc::now();

    // calrep: an account and its feed token, the front end on loopback.
    let hasher = PasswordHasher::default();
    let mut grants = Grants::default();
    grants.mailboxes.push(address.clone());
    let password = rt.block_on(grant(replica.as_ref(), &hasher, "ann", &grants, now))?;
    let token = rt.block_on(issue_feed_token(replica.as_ref(), "ann"))?;
    let server = rt.block_on(AccessServer::start(
        "127.0.0.1:0".parse()?,
        replica.clone(),
        AccessOptions::new().hasher(hasher),
    ))?;
    let calrep = server.addr();
    let segment = format!(
        "{address}~{}",
        calrep_core::base64::encode_url(calendar.name.as_bytes())
    );
    let collection = format!("/dav/calendars/ann/{segment}/");
    let basic = format!(
        "Basic {}",
        calrep_core::base64::encode(format!("ann:{}", password.expose()).as_bytes())
    );
    let feed = format!(
        "/feeds/{}/{}.ics",
        token.expose(),
        segment.replace('@', "%40")
    );

    // Radicale: the same events, one resource each, as calrep exports them.
    let root = dir.join("radicale");
    let folder = root.join("collection-root").join("ann").join("calendar");
    std::fs::create_dir_all(&folder)?;
    std::fs::write(
        folder.join(".Radicale.props"),
        r#"{"tag": "VCALENDAR", "D:displayname": "Calendar"}"#,
    )?;
    for item in &items {
        let text = export(
            &calendar.name,
            std::slice::from_ref(item),
            |_, _| None,
            AttachmentStyle::HashUri,
            now,
        );
        let name = format!(
            "{}.ics",
            calrep_core::base64::encode_url(item.uid.as_bytes())
        );
        std::fs::write(folder.join(name), text)?;
    }
    // RADICALE_SECONDS = 0: calrep alone (for profiling).
    let mut radicale_server = if radicale_seconds > 0 {
        Some(radicale(&dir, &root)?)
    } else {
        None
    };
    let radicale = radicale_server
        .as_ref()
        .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9)), |(_, addr)| *addr);
    let radicale_basic = format!("Basic {}", calrep_core::base64::encode(b"ann:x"));

    // The same week from both (this also warms Radicale's item cache).
    let query = query_body();
    let report = |addr, path: &str, auth: &str| {
        exchange(
            addr,
            "REPORT",
            path,
            &[
                ("Depth", "1"),
                ("Content-Type", "application/xml; charset=utf-8"),
                ("Authorization", auth),
            ],
            &query,
        )
    };
    let (status, from_calrep) = report(calrep, &collection, &basic)?;
    if status != 207 {
        return Err(format!("calrep answered {status}").into());
    }
    let started = Instant::now();
    let from_radicale = match radicale_server {
        Some(_) => {
            let (status, body) = report(radicale, "/ann/calendar/", &radicale_basic)?;
            if status != 207 {
                return Err(format!("Radicale answered {status}: {body}").into());
            }
            body
        }
        None => from_calrep.clone(),
    };
    let radicale_first = started.elapsed();
    let (a, b) = (uids(&from_calrep), uids(&from_radicale));
    if a != b || a.is_empty() {
        return Err(format!(
            "the week differs: calrep {} events, Radicale {}; only calrep: {:?}; only Radicale: {:?}",
            a.len(),
            b.len(),
            a.difference(&b).take(3).collect::<Vec<_>>(),
            b.difference(&a).take(3).collect::<Vec<_>>()
        )
        .into());
    }
    let (status, _) = exchange(calrep, "GET", &feed, &[], "")?;
    let etag_answer = {
        let mut stream = std::net::TcpStream::connect(calrep)?;
        write!(
            stream,
            "HEAD {feed} HTTP/1.1\r\nHost: {calrep}\r\nConnection: close\r\n\r\n"
        )?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        text
    };
    let etag = etag_answer
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .ok_or("no ETag on the feed")?
        .trim()
        .to_owned();
    let (conditional, _) = exchange(calrep, "GET", &feed, &[("If-None-Match", &etag)], "")?;
    println!(
        "{EVENTS} events in one calendar; the week {}..{} holds {} of them; {CLIENTS} connections, {seconds} s each; \
         ({radicale_seconds} s for Radicale); Radicale's first query (building its cache) took {:.1} s; \
         feed GET {status}, conditional {conditional}\n",
        WEEK.0,
        WEEK.1,
        a.len(),
        radicale_first.as_secs_f64()
    );

    let xml = [
        ("Depth", "1"),
        ("Content-Type", "application/xml; charset=utf-8"),
    ];
    let cases = [
        (
            "calrep",
            "one-week calendar-query",
            format!("http://{calrep}{collection}"),
            script(
                &dir,
                "calrep-query",
                "REPORT",
                &[xml[0], xml[1], ("Authorization", &basic)],
                &query,
            )?,
        ),
        (
            "Radicale",
            "one-week calendar-query",
            format!("http://{radicale}/ann/calendar/"),
            script(
                &dir,
                "radicale-query",
                "REPORT",
                &[xml[0], xml[1], ("Authorization", &radicale_basic)],
                &query,
            )?,
        ),
        (
            "calrep",
            "conditional feed GET (304)",
            format!("http://{calrep}{feed}"),
            script(&dir, "calrep-feed", "GET", &[("If-None-Match", &etag)], "")?,
        ),
        (
            "Radicale",
            "feed GET (no conditional GET: 200, whole calendar)",
            format!("http://{radicale}/ann/calendar/"),
            script(
                &dir,
                "radicale-feed",
                "GET",
                &[("Authorization", &radicale_basic)],
                "",
            )?,
        ),
    ];
    println!(
        "| server | request | requests | req/s | p50 | p99 | errors |\n|---|---|---|---|---|---|---|"
    );
    let mut rates = Vec::new();
    for (name, what, url, lua) in &cases {
        if *name == "Radicale" && radicale_server.is_none() {
            continue;
        }
        let load = wrk(
            url,
            lua,
            if *name == "Radicale" {
                radicale_seconds
            } else {
                seconds
            },
        )?;
        println!(
            "| {name} | {what} | {} | {:.1} | {} | {} | {} |",
            load.requests, load.per_second, load.p50, load.p99, load.errors
        );
        rates.push(load.per_second);
    }
    if let [q_calrep, q_radicale, f_calrep, f_radicale] = rates[..] {
        println!(
            "\nthroughput ratio (calrep ÷ Radicale): calendar-query {:.0}×, feed {:.0}×",
            q_calrep / q_radicale.max(f64::MIN_POSITIVE),
            f_calrep / f_radicale.max(f64::MIN_POSITIVE)
        );
    }
    if let Some((child, _)) = &mut radicale_server {
        let _ = child.kill();
        let _ = child.wait();
    }

    // One change at the source; a sync-collection from the token before it
    // returns only that change.
    let sync = |token: &str| {
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
        );
        exchange(
            calrep,
            "REPORT",
            &collection,
            &[
                ("Content-Type", "application/xml; charset=utf-8"),
                ("Authorization", &basic),
            ],
            &body,
        )
    };
    let (_, first) = sync("")?;
    let before = first
        .split("<d:sync-token>")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .ok_or("no sync token")?
        .to_owned();
    let mailbox = org.mailbox(&address);
    let mut changed = items.first().ok_or("no item")?.clone();
    changed.subject.push_str(" (moved)");
    changed.change_key.push('+');
    mailbox.put_item(&calendar.id, changed.clone());
    rt.block_on(engine.run_task(&"t".into(), RunOptions::default()))?;
    let asked = Instant::now();
    let (status, delta) = sync(&before)?;
    let took = asked.elapsed();
    let responses = delta.matches("<d:response>").count();
    let uid_href = calrep_core::base64::encode_url(changed.uid.as_bytes());
    println!(
        "\nsync-collection after one change: {status}, {responses} response(s), {} the changed event, in {:.1} ms",
        if delta.contains(&uid_href) {
            "naming"
        } else {
            "NOT naming"
        },
        took.as_secs_f64() * 1e3
    );
    if responses != 1 || !delta.contains(&uid_href) {
        return Err("sync-collection after one change did not return exactly that change".into());
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
