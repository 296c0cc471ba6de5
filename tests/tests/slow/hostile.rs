//! calrep against a hostile server: a proxy in front of the EWS simulator
//! that misbehaves per operation — endless paging, sync states refused for
//! ever, absurd waits, redirects to another origin, bodies without end,
//! answers that echo the request's secrets. Each test is bounded in time:
//! the run must end, the affected mailbox fail alone with a clear error,
//! and no secret reach another origin, a report or the replica.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use calrep_core::engine::{Engine, MailboxOutcome, RunOptions, RunReport, StopSignal};
use calrep_core::replica::{Replica, SqliteReplica};
use calrep_core::sim::{Fault, FaultRule, SimOptions};
use calrep_core::sources::Sources;
use calrep_core::{Config, ManualClock};

use calrep_testkit::ews::{TASK, basic_account};
use calrep_testkit::hostile::{Act, Hostile, Rule, Seen};
use calrep_testkit::sim::{SimFixture, failure, others_healthy};

/// A demo organisation behind a simulator behind a hostile proxy.
struct Fixture {
    base: SimFixture,
    hostile: Hostile,
}

impl std::ops::Deref for Fixture {
    type Target = SimFixture;
    fn deref(&self) -> &SimFixture {
        &self.base
    }
}

impl Fixture {
    fn new(name: &str, options: SimOptions, rule: Rule) -> Self {
        let base = SimFixture::new(&format!("hostile-{name}"), 10, options);
        let hostile = base
            .rt
            .block_on(Hostile::start(Some(base.sim.addr().to_string()), rule));
        Self { base, hostile }
    }

    /// The EWS URL through the proxy.
    fn url(&self) -> String {
        format!("{}/EWS/Exchange.asmx", self.hostile.base)
    }

    /// A configuration reading through the proxy, with `ews` lines in
    /// `[sites.ews]` and `engine` lines appended to `[engine]`.
    fn config(&self, ews: &str, engine: &str) -> Config {
        let ews = format!("timeout_seconds = 5\n{ews}");
        self.base.config(&self.url(), &ews, engine)
    }

    /// Runs the task, which must end within `limit`.
    fn run_within(&self, engine: &Engine, limit: Duration) -> RunReport {
        let started = Instant::now();
        let report = self
            .rt
            .block_on(async {
                tokio::time::timeout(limit, engine.run_task(&TASK.into(), RunOptions::default()))
                    .await
            })
            .unwrap_or_else(|_| panic!("the run did not end within {limit:?}"))
            .unwrap();
        assert!(started.elapsed() < limit);
        report
    }

    /// The first demo mailbox: the one the hostile rules single out.
    fn victim(&self) -> String {
        self.demo.addresses[0].to_string()
    }
}

/// `[sites.ews]` lines for OAuth with the simulator's app, its token
/// endpoint at `base` + `tenant_path` + `/oauth2/v2.0/token`.
fn oauth_via(base: &str, tenant_path: &str) -> String {
    format!(
        "username = \"{user}\"\noauth = {{ tenant = \"contoso.onmicrosoft.com\", client_id = \"{id}\", secret_file = \"app-secret\", token_url = \"{base}{tenant_path}/oauth2/v2.0/token\" }}",
        user = SimOptions::USERNAME,
        id = SimOptions::CLIENT_ID,
    )
}

fn for_victim(victim: &str, seen: &Seen, operation: &str) -> bool {
    seen.operation == operation && seen.body.contains(victim)
}

#[test]
fn a_server_that_never_sends_the_last_page_fails_that_mailbox_alone() {
    let victim = Arc::new(std::sync::OnceLock::<String>::new());
    let v = Arc::clone(&victim);
    let rule: Rule = Arc::new(move |seen| {
        if v.get()
            .is_some_and(|v| for_victim(v, seen, "SyncFolderItems"))
        {
            Act::Rewrite(Box::new(|body| {
                body.replace(
                    "<m:IncludesLastItemInRange>true<",
                    "<m:IncludesLastItemInRange>false<",
                )
            }))
        } else {
            Act::Forward
        }
    });
    let f = Fixture::new("paging", SimOptions::default(), rule);
    victim.set(f.victim()).unwrap();
    let (engine, _) = f.engine(f.config(&basic_account(), "max_pages_per_calendar = 25"));
    let report = f.run_within(&engine, Duration::from_secs(60));
    let error = failure(&report, &f.victim());
    assert!(
        error.contains("without a last one") || error.contains("did not advance"),
        "{error}"
    );
    others_healthy(&report, &f.victim());
    let victim_pages = f
        .hostile
        .seen()
        .iter()
        .filter(|s| for_victim(&f.victim(), s, "SyncFolderItems"))
        .count();
    // One calendar at most 25 pages (the first failure ends the mailbox).
    assert!(victim_pages <= 25, "{victim_pages} pages");
}

#[test]
fn a_server_that_refuses_every_sync_state_fails_that_mailbox_alone() {
    let victim = Arc::new(std::sync::OnceLock::<String>::new());
    let v = Arc::clone(&victim);
    let rule: Rule = Arc::new(move |seen| {
        let with_state = seen.body.contains("SyncState>");
        if with_state
            && v.get()
                .is_some_and(|v| for_victim(v, seen, "SyncFolderItems"))
        {
            Act::Rewrite(Box::new(|body| {
                body.replace("ResponseClass=\"Success\"", "ResponseClass=\"Error\"")
                    .replace(
                        "<m:ResponseCode>NoError</m:ResponseCode>",
                        "<m:MessageText>Synchronization state data is corrupt or otherwise invalid.</m:MessageText><m:ResponseCode>ErrorInvalidSyncStateData</m:ResponseCode>",
                    )
            }))
        } else {
            Act::Forward
        }
    });
    let f = Fixture::new("syncstate", SimOptions::default(), rule);
    victim.set(f.victim()).unwrap();
    let (engine, _) = f.engine(f.config(&basic_account(), ""));
    let report = f.run_within(&engine, Duration::from_secs(60));
    let error = failure(&report, &f.victim());
    assert!(error.contains("twice in one run"), "{error}");
    others_healthy(&report, &f.victim());
}

#[test]
fn absurd_waits_fail_the_mailbox_as_throttled_until_and_never_panic() {
    // Retry-After of u64::MAX seconds on the victim's GetItem; the
    // simulator itself asks for years of BackOffMilliseconds elsewhere.
    let victim = Arc::new(std::sync::OnceLock::<String>::new());
    let v = Arc::clone(&victim);
    let rule: Rule = Arc::new(move |seen| {
        if v.get().is_some_and(|v| for_victim(v, seen, "GetItem")) {
            Act::Reply {
                status: 503,
                headers: vec![("Retry-After".into(), u64::MAX.to_string())],
                body: String::new(),
            }
        } else {
            Act::Forward
        }
    });
    let f = Fixture::new("waits", SimOptions::default(), rule);
    victim.set(f.victim()).unwrap();
    let (engine, _) = f.engine(f.config(&basic_account(), ""));
    let report = f.run_within(&engine, Duration::from_secs(60));
    let error = failure(&report, &f.victim());
    assert!(
        error.contains("longer than the 900 s calrep waits"),
        "{error}"
    );

    // ErrorServerBusy with BackOffMilliseconds of u64::MAX.
    f.sim.set_faults(vec![
        FaultRule::new(Fault::ServerBusy {
            back_off_ms: u64::MAX,
        })
        .operation("SyncFolderItems")
        .times(1),
    ]);
    let (engine, _) = f.engine(f.config(&basic_account(), ""));
    let report = f.run_within(&engine, Duration::from_secs(60));
    assert!(
        report
            .to_json()
            .contains("longer than the 900 s calrep waits"),
        "{}",
        report.to_json()
    );
}

#[test]
fn a_wait_within_the_cap_ends_at_once_when_the_run_is_cancelled() {
    let rule: Rule = Arc::new(|seen| {
        if seen.operation == "GetItem" {
            Act::Reply {
                status: 503,
                headers: vec![("Retry-After".into(), "600".into())],
                body: String::new(),
            }
        } else {
            Act::Forward
        }
    });
    let f = Fixture::new("cancel", SimOptions::default(), rule);
    let (engine, _) = f.engine(f.config(&basic_account(), ""));
    let cancel = StopSignal::new();
    let started = Instant::now();
    let report = f.rt.block_on(async {
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            c.request();
        });
        let mut options = RunOptions::default();
        options.cancel = Some(cancel.clone());
        tokio::time::timeout(
            Duration::from_secs(30),
            engine.run_task(&TASK.into(), options),
        )
        .await
        .expect("the cancelled run ended")
        .unwrap()
    });
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(
        report
            .mailboxes
            .iter()
            .any(|m| matches!(&m.outcome, MailboxOutcome::Skipped { reason } if reason.contains("stopped"))),
        "{}",
        report.to_json()
    );
}

#[test]
fn a_busy_storm_and_a_busy_directory_end_with_every_mailbox_healthy() {
    let mut options = SimOptions::default();
    options.faults = vec![
        // Every call has a one-in-five chance of ErrorServerBusy: more
        // consecutive refusals than the transport budget (5) allows.
        FaultRule::new(Fault::ServerBusy { back_off_ms: 20 }).probability(0.2),
        FaultRule::new(Fault::ServerBusy { back_off_ms: 20 })
            .operation("GetItem")
            .skip(2)
            .times(8),
        FaultRule::new(Fault::ServerBusy { back_off_ms: 20 })
            .operation("ExpandDL")
            .times(3),
    ];
    let f = Fixture::new("storm", options, Arc::new(|_| Act::Forward));
    let (engine, _) = f.engine(f.config(&basic_account(), ""));
    let report = f.run_within(&engine, Duration::from_secs(120));
    assert!(report.error.is_none(), "{}", report.to_json());
    others_healthy(&report, "");
    assert!(report.retries >= 11, "{}", report.to_json());
    // The report counts HTTP requests as the server saw them (group
    // expansion is the directory's, not a mailbox's), and says how long
    // the run as a whole was held up, which cannot exceed its length.
    let server = f
        .hostile
        .seen()
        .iter()
        .filter(|s| s.operation != "ExpandDL")
        .count() as u64;
    assert_eq!(report.requests, server, "{}", report.to_json());
    assert!(report.throttled_wall_ms > 0);
    assert!(report.throttled_wall_ms <= report.duration_ms);
    assert!(report.throttled_wall_ms <= report.throttled_ms);
}

#[test]
fn redirects_are_never_followed_and_nothing_reaches_the_other_origin() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let elsewhere = rt.block_on(Hostile::start(None, Arc::new(|_| Act::Close)));
    let target = format!("{}/steal", elsewhere.base);
    drop(rt);
    let location = target.clone();
    let rule: Rule = Arc::new(move |seen| {
        if matches!(seen.operation.as_str(), "token" | "GetFolder") {
            Act::Reply {
                status: if seen.operation == "token" { 307 } else { 302 },
                headers: vec![("Location".into(), location.clone())],
                body: String::new(),
            }
        } else {
            Act::Forward
        }
    });
    let f = Fixture::new("redirect", SimOptions::default(), rule);
    // OAuth: the token endpoint redirects the client secret's post.
    let oauth = oauth_via(&f.hostile.base, "/tenant");
    let (engine, _) = f.engine(f.config(&oauth, ""));
    let report = f.run_within(&engine, Duration::from_secs(30));
    let text = format!("{report:?}");
    assert!(text.contains("redirected to"), "{text}");
    assert!(text.contains("does not follow redirects"), "{text}");
    // Basic: an EWS answer redirects the mailbox's request.
    let (engine, _) = f.engine(f.config(&basic_account(), ""));
    let report = f.run_within(&engine, Duration::from_secs(30));
    let error = failure(&report, &f.victim());
    assert!(
        error.contains(&format!("redirected to {target}")),
        "{error}"
    );
    assert!(elsewhere.seen().is_empty(), "{:?}", elsewhere.seen());
    assert!(
        f.hostile
            .seen()
            .iter()
            .all(|s| !s.head.to_ascii_lowercase().contains("referer")),
    );
}

#[test]
fn secrets_echoed_by_the_server_reach_no_report_and_no_replica() {
    // The token endpoint and EWS both echo the whole request back.
    let rule: Rule = Arc::new(|seen| match seen.operation.as_str() {
        "token" => Act::Reply {
            status: 400,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::json!({
                "error": "invalid_request",
                "error_description": format!("bad request: {}", seen.body),
            })
            .to_string(),
        },
        "GetFolder" => Act::Reply {
            status: 500,
            headers: vec![("Content-Type".into(), "text/xml".into())],
            body: format!(
                "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>you sent {}</faultstring></s:Fault></s:Body></s:Envelope>",
                // The credentials first: the error keeps only the start.
                seen.head
                    .lines()
                    .filter(|l| l.to_ascii_lowercase().starts_with("authorization"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        },
        _ => Act::Forward,
    });
    let f = Fixture::new("echo", SimOptions::default(), rule);
    let secret_forms = [
        SimOptions::CLIENT_SECRET.to_owned(),
        SimOptions::PASSWORD.to_owned(),
    ];
    for ews in [oauth_via(&f.hostile.base, "/tenant"), basic_account()] {
        let path = f.dir.join("echo.db");
        let _ = std::fs::remove_file(&path);
        let replica = Arc::new(SqliteReplica::open(&path).unwrap());
        let clock = ManualClock::new("2026-11-20T00:00:00Z".parse().unwrap());
        let config = f.config(&ews, "");
        let sources = Sources::from_config(&config);
        let engine = Engine::new(config, replica.clone() as Arc<dyn Replica>, Arc::new(clock))
            .with_sources(sources);
        let report = f.run_within(&engine, Duration::from_secs(30));
        drop(engine);
        drop(replica);
        let text = report.to_json();
        assert!(text.contains("<redacted>"), "the echo was not seen: {text}");
        let basic = f.hostile.seen().iter().find_map(|s| {
            s.head
                .lines()
                .find_map(|l| l.strip_prefix("authorization: Basic "))
                .map(str::to_owned)
        });
        // The run history is in the file (or its write-ahead log).
        let mut stored = std::fs::read(&path).unwrap();
        stored.extend(std::fs::read(f.dir.join("echo.db-wal")).unwrap_or_default());
        let stored = String::from_utf8_lossy(&stored);
        assert!(stored.contains("redacted"), "the run was not recorded");
        for secret in secret_forms.iter().chain(basic.iter()) {
            assert!(!text.contains(secret.as_str()), "{secret} in {text}");
            assert!(!stored.contains(secret.as_str()), "{secret} in the replica");
        }
    }
}

#[test]
fn absurd_token_lifetimes_do_not_panic() {
    let rule: Rule = Arc::new(|seen| {
        if seen.operation == "token" {
            Act::Rewrite(Box::new(|body| {
                let mut json: serde_json::Value = serde_json::from_str(&body).unwrap();
                json["expires_in"] = serde_json::json!(u64::MAX);
                json.to_string()
            }))
        } else {
            Act::Forward
        }
    });
    let f = Fixture::new("lifetime", SimOptions::default(), rule);
    let oauth = oauth_via(&f.hostile.base, "/simulated-tenant");
    let (engine, _) = f.engine(f.config(&oauth, ""));
    let report = f.run_within(&engine, Duration::from_secs(60));
    others_healthy(&report, "");
}

/// Several attachments come in one `GetAttachment`, whose answer holds one
/// message per id in the order asked. An answer short of a message cannot
/// be matched to the ids: that mailbox fails, saying so; the others sync.
#[test]
fn an_attachment_answer_short_of_a_message_fails_that_mailbox_alone() {
    const MESSAGE: &str = "<m:GetAttachmentResponseMessage ";
    const END: &str = "</m:GetAttachmentResponseMessage>";
    let victim = Arc::new(std::sync::OnceLock::<String>::new());
    let v = Arc::clone(&victim);
    let rule: Rule = Arc::new(move |seen| {
        if v.get()
            .is_some_and(|v| for_victim(v, seen, "GetAttachment"))
        {
            Act::Rewrite(Box::new(|body| {
                // Drop the last message of an answer for several.
                let last = body
                    .rfind(MESSAGE)
                    .filter(|_| body.matches(MESSAGE).count() > 1);
                match last.and_then(|i| body[i..].find(END).map(|e| (i, i + e + END.len()))) {
                    Some((from, to)) => format!("{}{}", &body[..from], &body[to..]),
                    None => body,
                }
            }))
        } else {
            Act::Forward
        }
    });
    let f = Fixture::new("attachment-messages", SimOptions::default(), rule);
    victim.set(f.victim()).unwrap();
    // One of the victim's items carries a second attachment: the chunk
    // holding it asks for at least two at once.
    let mailbox = f.demo.source.mailbox(&f.demo.addresses[0]);
    let calendar = calrep_core::calendar::CalendarId::new("calendar");
    let mut item = mailbox
        .items_of(&calendar)
        .into_iter()
        .find(|i| !i.attachments.is_empty())
        .expect("the demo gives items attachments");
    let second = format!("{}.second", item.id);
    item.attachments
        .push(calrep_core::calendar::Attachment::new(
            second.as_str(),
            "minutes.txt",
            "text/plain",
            16,
        ));
    mailbox.put_attachment(&item.id, &second, b"Minutes, draft.\n".to_vec());
    mailbox.put_item(&calendar, item);

    let (engine, _) = f.engine(f.config(&basic_account(), ""));
    let report = f.run_within(&engine, Duration::from_secs(60));
    let error = failure(&report, &f.victim());
    assert!(
        error.contains("GetAttachment of ") && error.contains(" ids answered with "),
        "{error}"
    );
    others_healthy(&report, &f.victim());
}

#[test]
fn bodies_without_end_are_cut_off_at_the_cap() {
    let victim = Arc::new(std::sync::OnceLock::<String>::new());
    let v = Arc::clone(&victim);
    let rule: Rule = Arc::new(move |seen| match seen.operation.as_str() {
        // A declared 200 MB answer is refused before it is read.
        "GetItem" if v.get().is_some_and(|v| seen.body.contains(v.as_str())) => Act::Endless {
            declared: Some(200 << 20),
            limit: 200 << 20,
        },
        // An attachment without a length: read up to its cap, then dropped.
        "GetAttachment" => Act::Endless {
            declared: None,
            limit: 200 << 20,
        },
        _ => Act::Forward,
    });
    let f = Fixture::new("bodies", SimOptions::default(), rule);
    victim.set(f.victim()).unwrap();
    let (engine, _) = f.engine(f.config(&basic_account(), ""));
    let report = f.run_within(&engine, Duration::from_secs(60));
    let error = failure(&report, &f.victim());
    assert!(error.contains("more than calrep reads"), "{error}");
    let attachments = f.hostile.count("GetAttachment");
    assert!(attachments > 0, "no attachment was asked for");
    // The definition caps attachments at 1 MiB: each endless attachment was
    // abandoned soon after (socket buffers let a few MiB more out).
    let sent = f
        .hostile
        .endless_bytes
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        sent < attachments as u64 * (16 << 20) + (200 << 20),
        "{sent} bytes for {attachments} attachments"
    );
    let json = report.to_json();
    assert!(json.contains("larger than the definition's cap"), "{json}");
}

#[test]
fn group_expansion_acts_as_the_service_account_without_impersonating() {
    // The simulator's service account has no mailbox (as the README
    // recommends); impersonating it for ExpandDL fails as on Exchange.
    let f = Fixture::new("expand", SimOptions::default(), Arc::new(|_| Act::Forward));
    assert!(
        !f.demo
            .addresses
            .iter()
            .any(|a| a.as_str().eq_ignore_ascii_case(SimOptions::USERNAME))
    );
    let (engine, _) = f.engine(f.config(&basic_account(), ""));
    let report = f.run_within(&engine, Duration::from_secs(60));
    assert!(report.error.is_none(), "{}", report.to_json());
    others_healthy(&report, "");
    let expansions: Vec<Seen> = f
        .hostile
        .seen()
        .into_iter()
        .filter(|s| s.operation == "ExpandDL")
        .collect();
    assert!(!expansions.is_empty());
    assert!(
        expansions
            .iter()
            .all(|s| !s.body.contains("ExchangeImpersonation")),
        "{:?}",
        expansions[0].body
    );
}

#[test]
fn verify_tells_an_unreadable_mailbox_from_a_difference() {
    let victim = Arc::new(std::sync::OnceLock::<String>::new());
    let v = Arc::clone(&victim);
    let rule: Rule = Arc::new(move |seen| {
        if v.get().is_some_and(|v| seen.body.contains(v.as_str())) {
            Act::Reply {
                status: 500,
                headers: vec![("Content-Type".into(), "text/xml".into())],
                body: "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>The account is disabled.</faultstring><detail><e:ResponseCode xmlns:e=\"http://schemas.microsoft.com/exchange/services/2006/errors\">ErrorAccessDenied</e:ResponseCode></detail></s:Fault></s:Body></s:Envelope>".into(),
            }
        } else {
            Act::Forward
        }
    });
    let f = Fixture::new("verify", SimOptions::default(), rule);
    let (engine, _) = f.engine(f.config(&basic_account(), ""));
    // Replicate everyone first, then make one mailbox unreadable.
    f.run_within(&engine, Duration::from_secs(60));
    victim.set(f.victim()).unwrap();
    let report = f.rt.block_on(engine.verify(&TASK.into())).unwrap();
    let unreadable = report
        .mailboxes
        .iter()
        .find_map(|m| m.error.clone())
        .unwrap();
    assert!(unreadable.contains(&f.victim()), "{unreadable}");
    assert_eq!(report.difference_count(), 0);
    assert_eq!(report.unverified, 1);
    assert_eq!(report.result, calrep_core::engine::VerifyResult::Incomplete);
    assert_eq!(report.result.exit_code(), 6);
}
