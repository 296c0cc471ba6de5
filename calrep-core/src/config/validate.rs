//! The semantic checks of a configuration: ids, references, times, zones,
//! endpoints. Every problem is reported; nothing stops at the first.

use std::collections::HashSet;

use crate::document::Report;
use crate::group::Group;
use crate::ids::id_problem;
use crate::schedule::{ScheduleError, When};
use crate::site::{
    DirectorySource, endpoint_url_problem, http_url_problem, is_guid, printable_url,
};
use crate::tz::resolve_zone;
use crate::{Config, Definition, Schedule, Site, Task};

/// Each parsed element's index in the file, per section.
#[derive(Debug, Default)]
pub(super) struct Positions {
    pub(super) sites: Vec<usize>,
    pub(super) definitions: Vec<usize>,
    pub(super) schedules: Vec<usize>,
    pub(super) tasks: Vec<usize>,
}

impl Positions {
    /// Positions for a configuration built in code: element `i` is at `i`.
    pub(super) fn natural(config: &Config) -> Self {
        Self {
            sites: (0..config.sites.len()).collect(),
            definitions: (0..config.definitions.len()).collect(),
            schedules: (0..config.schedules.len()).collect(),
            tasks: (0..config.tasks.len()).collect(),
        }
    }
}

/// Ids of elements that did not parse.
#[derive(Debug, Default)]
pub(super) struct Broken {
    pub(super) sites: Vec<String>,
    pub(super) definitions: Vec<String>,
    pub(super) schedules: Vec<String>,
}

/// `[replica.postgres]`: a string that names a database and holds no
/// password, the password by reference, sane sizes.
fn check_postgres(pg: &super::PostgresConfig, path_given: bool, report: &mut Report) {
    let at = |field: &str| format!("replica.postgres.{field}");
    if path_given {
        report.add(
            "replica.path",
            "give either a file (path) or a database ([replica.postgres]), not both",
        );
    }
    let url = pg.url.trim();
    if url.is_empty() {
        report.add(at("url"), "must not be empty");
    }
    let userinfo = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split(['/', '?']).next())
        .and_then(|authority| authority.rsplit_once('@'))
        .map(|(info, _)| info);
    let pair = url.split_whitespace().any(|p| p.starts_with("password="));
    let query = url
        .split_once('?')
        .is_some_and(|(_, q)| q.split('&').any(|p| p.starts_with("password=")));
    if userinfo.is_some_and(|i| i.contains(':')) || pair || query {
        // Never echoed: the string holds a secret.
        report.add(
            at("url"),
            "holds a password: give it by reference (password_env or password_file), never in the connection string",
        );
    }
    if let Some(Err(e)) = pg.password() {
        report.add(at("password_env"), e);
    }
    if pg.pool_size.is_some_and(|n| n == 0 || n > 1_000) {
        report.add(at("pool_size"), "must be between 1 and 1000");
    }
    if pg.ca_file.is_some() && pg.tls == Some(false) {
        report.add(
            at("ca_file"),
            "needs tls (the file says whom to trust over TLS)",
        );
    }
}

fn path(section: &str, positions: &[usize], i: usize) -> String {
    format!("{section}[{}]", positions.get(i).copied().unwrap_or(i))
}

pub(super) fn check(config: &Config, at: &Positions, broken: &Broken, report: &mut Report) {
    if config.replica.path.as_os_str().is_empty() {
        report.add("replica.path", "must not be empty");
    }
    if let Some(pg) = &config.replica.postgres {
        check_postgres(
            pg,
            config.replica.path != super::ReplicaConfig::default().path,
            report,
        );
    }
    check_engine(&config.engine, report);
    if let Some(access) = &config.access {
        check_access(access, report);
    }
    if let Some(source) = &config.directory {
        check_directory(source, "directory", report);
    }
    check_ids(
        config.sites.iter().map(|s| s.id.as_str()),
        "sites",
        "site",
        &at.sites,
        report,
    );
    check_ids(
        config.definitions.iter().map(|d| d.id.as_str()),
        "definitions",
        "definition",
        &at.definitions,
        report,
    );
    check_ids(
        config.schedules.iter().map(|s| s.id.as_str()),
        "schedules",
        "schedule",
        &at.schedules,
        report,
    );
    check_ids(
        config.tasks.iter().map(|t| t.id.as_str()),
        "tasks",
        "task",
        &at.tasks,
        report,
    );
    for (i, site) in config.sites.iter().enumerate() {
        check_site(site, &path("sites", &at.sites, i), report);
    }
    for (i, definition) in config.definitions.iter().enumerate() {
        check_definition(definition, &path("definitions", &at.definitions, i), report);
    }
    for (i, schedule) in config.schedules.iter().enumerate() {
        check_schedule(schedule, &path("schedules", &at.schedules, i), report);
    }
    for (i, task) in config.tasks.iter().enumerate() {
        check_task(config, task, broken, &path("tasks", &at.tasks, i), report);
    }
}

fn check_access(access: &crate::config::AccessConfig, report: &mut Report) {
    let tls = access.certificate_file.is_some() && access.private_key_file.is_some();
    match access.listen.parse::<std::net::SocketAddr>() {
        Err(_) => report.add(
            "access.listen",
            format!(
                "expected an address and port such as 127.0.0.1:8008, got {:?}",
                access.listen
            ),
        ),
        Ok(addr) if !addr.ip().is_loopback() && !tls && !access.behind_tls_proxy => report.add(
            "access.listen",
            format!(
                "{addr} is reachable from the network without TLS: app passwords would cross \
                 it in clear text. Set certificate_file and private_key_file, or listen on \
                 127.0.0.1 behind a TLS-terminating proxy and set behind_tls_proxy = true"
            ),
        ),
        Ok(_) => {}
    }
    if access.certificate_file.is_some() != access.private_key_file.is_some() {
        report.add(
            "access",
            "TLS needs both certificate_file and private_key_file",
        );
    }
    if let Some(url) = &access.public_url {
        let authority = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .unwrap_or_default();
        let host = authority.split('/').next().unwrap_or_default();
        if host.is_empty() || url.contains(['?', '#', ' ']) {
            report.add(
                "access.public_url",
                format!(
                    "expected an http:// or https:// URL such as https://calendar.example.com, got {url:?}"
                ),
            );
        }
    }
}

fn check_engine(engine: &crate::config::EngineSettings, report: &mut Report) {
    let ranges = [
        ("concurrency", u64::from(engine.concurrency), 1, 64),
        (
            "lease_ttl_seconds",
            u64::from(engine.lease_ttl_seconds),
            1,
            86_400,
        ),
        ("page_size", u64::from(engine.page_size), 1, 512),
        ("fetch_batch", u64::from(engine.fetch_batch), 1, 100),
        (
            "horizon_days_back",
            u64::from(engine.horizon_days_back),
            0,
            36_525,
        ),
        (
            "horizon_days_ahead",
            u64::from(engine.horizon_days_ahead),
            1,
            36_525,
        ),
        (
            "max_wait_seconds",
            u64::from(engine.max_wait_seconds),
            1,
            86_400,
        ),
        (
            "max_pages_per_calendar",
            u64::from(engine.max_pages_per_calendar),
            1,
            1_000_000,
        ),
    ];
    check_ranges(&ranges, "engine", report);
}

fn check_ids<'a>(
    ids: impl Iterator<Item = &'a str>,
    section: &str,
    kind: &str,
    positions: &[usize],
    report: &mut Report,
) {
    let mut seen = HashSet::new();
    for (i, id) in ids.enumerate() {
        let at = format!("{}.id", path(section, positions, i));
        if let Some(problem) = id_problem(id) {
            report.add(at, problem);
        } else if !seen.insert(id) {
            report.add(at, format!("another {kind} is also named {id:?}"));
        }
    }
}

fn check_directory(source: &DirectorySource, at: &str, report: &mut Report) {
    match source {
        DirectorySource::Snapshot(p) if p.as_os_str().is_empty() => {
            report.add(format!("{at}.snapshot"), "the snapshot path is empty");
        }
        DirectorySource::Snapshot(_) | DirectorySource::Exchange | DirectorySource::Graph => {}
    }
}

fn check_site(site: &Site, at: &str, report: &mut Report) {
    if site.ews.is_none() && site.graph.is_none() && site.demo.is_none() {
        report.add(
            at,
            "a site needs an [ews] endpoint, a [graph] app registration or a demo source",
        );
    }
    if let Some(demo) = &site.demo
        && !(10..=100_000).contains(&demo.mailboxes)
    {
        report.add(
            format!("{at}.demo.mailboxes"),
            "must be between 10 and 100000",
        );
    }
    if let Some(ews) = &site.ews {
        if let Some(p) = endpoint_url_problem(&ews.url) {
            report.add(
                format!("{at}.ews.url"),
                format!("{:?} {p}", printable_url(&ews.url)),
            );
        }
        match &ews.oauth {
            None if ews.host_tokens => {
                if ews.password_env.is_some() || ews.password_file.is_some() {
                    report.add(
                        format!("{at}.ews.password"),
                        "give either a password (Basic) or host_tokens, not both",
                    );
                }
            }
            Some(_) if ews.host_tokens => {
                report.add(
                    format!("{at}.ews.oauth"),
                    "give either oauth or host_tokens, not both",
                );
            }
            None => {
                if ews.username.trim().is_empty() {
                    report.add(
                        format!("{at}.ews.username"),
                        "must not be empty (or give oauth instead)",
                    );
                }
                if let Err(p) = ews.password() {
                    report.add(
                        format!("{at}.ews.password"),
                        p.replace("_env", "password_env")
                            .replace("_file", "password_file"),
                    );
                }
            }
            Some(oauth) => {
                if ews.password_env.is_some() || ews.password_file.is_some() {
                    report.add(
                        format!("{at}.ews.password"),
                        "give either a password (Basic) or oauth, not both",
                    );
                }
                check_app(
                    &oauth.tenant,
                    &oauth.client_id,
                    Some(oauth.secret()),
                    &format!("{at}.ews.oauth"),
                    report,
                );
                if let Some(url) = &oauth.token_url
                    && let Some(p) = endpoint_url_problem(url)
                {
                    report.add(
                        format!("{at}.ews.oauth.token_url"),
                        format!("{:?} {p}", printable_url(url)),
                    );
                }
            }
        }
        let ranges = [
            ("batch_size", ews.batch_size as u64, 1, 100),
            ("max_changes", ews.max_changes as u64, 1, 512),
            ("concurrency", ews.concurrency as u64, 1, 64),
            ("timeout_seconds", ews.timeout_seconds, 1, 3600),
        ];
        check_ranges(&ranges, &format!("{at}.ews"), report);
    }
    if let Some(graph) = &site.graph {
        check_graph(graph, &format!("{at}.graph"), report);
    }
    if matches!(site.directory, Some(DirectorySource::Graph)) && site.graph.is_none() {
        report.add(
            format!("{at}.directory"),
            "\"graph\" expands groups through the site's [graph] app, which it does not have",
        );
    }
    if matches!(site.directory, Some(DirectorySource::Exchange)) && site.ews.is_none() {
        report.add(
            format!("{at}.directory"),
            "\"exchange\" expands groups through the site's [ews] endpoint, which it does not have",
        );
    }
    if let Some(proxy) = &site.proxy
        && let Some(p) = http_url_problem(&proxy.url)
    {
        report.add(
            format!("{at}.proxy.url"),
            format!("{:?} {p}", printable_url(&proxy.url)),
        );
    }
    if let Some(source) = &site.directory {
        check_directory(source, &format!("{at}.directory"), report);
    }
}

/// A Graph app: one way to prove itself, URLs without credentials, limits
/// in range.
fn check_graph(graph: &crate::site::GraphApp, at: &str, report: &mut Report) {
    let has_secret = graph.secret_env.is_some() || graph.secret_file.is_some();
    let has_certificate = graph.certificate_file.is_some() || graph.private_key_file.is_some();
    let ways = [has_secret, has_certificate, graph.host_tokens];
    if ways.iter().filter(|w| **w).count() > 1 {
        report.add(
            format!("{at}.credentials"),
            "give one of a client secret (secret_env or secret_file), a certificate \
             (certificate_file and private_key_file) or host_tokens, not several",
        );
    }
    if graph.host_tokens {
        check_tenant(&graph.tenant, at, report);
    } else {
        // With a certificate there is no secret to look for.
        let secret = (!has_certificate).then(|| graph.secret());
        check_app(&graph.tenant, &graph.client_id, secret, at, report);
    }
    if has_certificate && (graph.certificate_file.is_none() || graph.private_key_file.is_none()) {
        report.add(
            format!("{at}.certificate_file"),
            "a certificate needs both certificate_file and private_key_file",
        );
    }
    for (name, url) in [
        ("authority", graph.authority.as_deref()),
        ("url", graph.url.as_deref()),
    ] {
        if let Some(url) = url
            && let Some(p) = endpoint_url_problem(url)
        {
            report.add(
                format!("{at}.{name}"),
                format!("{:?} {p}", printable_url(url)),
            );
        }
    }
    let ranges = [
        ("concurrency", graph.concurrency as u64, 1, 256),
        ("page_size", graph.page_size as u64, 1, 1000),
        ("batch", graph.batch as u64, 1, 4),
        ("timeout_seconds", graph.timeout_seconds, 1, 3600),
    ];
    check_ranges(&ranges, at, report);
}

/// Each `(name, value, low, high)` within its bounds.
fn check_ranges(ranges: &[(&str, u64, u64, u64)], at: &str, report: &mut Report) {
    for &(name, value, low, high) in ranges {
        if !(low..=high).contains(&value) {
            report.add(
                format!("{at}.{name}"),
                format!("must be between {low} and {high}, got {value}"),
            );
        }
    }
}

/// A tenant: its GUID or a domain.
fn check_tenant(tenant: &str, at: &str, report: &mut Report) {
    let tenant_ok = is_guid(tenant)
        || (tenant.contains('.')
            && tenant.split('.').all(|l| {
                !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            }));
    if !tenant_ok {
        report.add(
            format!("{at}.tenant"),
            format!(
                "{tenant:?} is neither a tenant GUID nor a domain such as contoso.onmicrosoft.com"
            ),
        );
    }
}

/// An app registration's tenant, client id and, where it signs in with
/// one, its secret reference.
fn check_app(
    tenant: &str,
    client_id: &str,
    secret: Option<Result<crate::SecretRef, &'static str>>,
    at: &str,
    report: &mut Report,
) {
    check_tenant(tenant, at, report);
    if !is_guid(client_id) {
        report.add(
            format!("{at}.client_id"),
            format!("{client_id:?} is not an application id (a GUID)"),
        );
    }
    if let Some(Err(p)) = secret {
        report.add(
            format!("{at}.secret"),
            p.replace("_env", "secret_env")
                .replace("_file", "secret_file"),
        );
    }
}

fn check_definition(definition: &Definition, at: &str, report: &mut Report) {
    if definition.attachments.enabled && definition.attachments.max_bytes == 0 {
        report.add(
            format!("{at}.attachments.max_bytes"),
            "must be positive (set enabled = false to replicate no attachments)",
        );
    }
    if let Some(window) = definition.window {
        let max = crate::definition::Window::MAX_DAYS;
        if window.days_back > max {
            report.add(
                format!("{at}.window.days_back"),
                format!("must be at most {max}"),
            );
        }
        if window.days_ahead > max {
            report.add(
                format!("{at}.window.days_ahead"),
                format!("must be at most {max}"),
            );
        }
        if window.days_back == 0 && window.days_ahead == 0 {
            report.add(
                format!("{at}.window"),
                "the window is empty; give days_back or days_ahead",
            );
        }
    }
}

fn check_schedule(schedule: &Schedule, at: &str, report: &mut Report) {
    // The zone and the times are checked separately so that a bad zone does
    // not hide a bad window.
    if let Err(e) = resolve_zone(&schedule.time_zone) {
        report.add(format!("{at}.time_zone"), e.to_string());
    }
    let (times, times_at) = match &schedule.when {
        When::OneOff { .. } => return,
        When::Daily(times) => (times, "when.daily"),
        When::Weekly { days, times } => {
            if days.is_empty() {
                report.add(
                    format!("{at}.when.weekly.days"),
                    ScheduleError::NoDays.to_string(),
                );
            }
            (times, "when.weekly.times")
        }
    };
    if let Err(e) = times.check() {
        report.add(format!("{at}.{times_at}.many.end"), e.to_string());
    }
}

fn check_task(config: &Config, task: &Task, broken: &Broken, at: &str, report: &mut Report) {
    let site = config.site(&task.site);
    if site.is_none() && !broken.sites.iter().any(|b| b == task.site.as_str()) {
        report.add(
            format!("{at}.site"),
            format!("no site named {:?}", task.site.as_str()),
        );
    }
    if config.definition(&task.definition).is_none()
        && !broken
            .definitions
            .iter()
            .any(|b| b == task.definition.as_str())
    {
        report.add(
            format!("{at}.definition"),
            format!("no definition named {:?}", task.definition.as_str()),
        );
    }
    if config.schedule(&task.schedule).is_none()
        && !broken.schedules.iter().any(|b| b == task.schedule.as_str())
    {
        report.add(
            format!("{at}.schedule"),
            format!("no schedule named {:?}", task.schedule.as_str()),
        );
    }
    match &task.group {
        Group::Mailboxes(list) if list.is_empty() => {
            report.add(format!("{at}.group.mailboxes"), "the mailbox list is empty");
        }
        Group::AdGroup(name) if name.trim().is_empty() => {
            report.add(format!("{at}.group.ad_group"), "the group name is empty");
        }
        _ => {}
    }
    if let Some(site) = site
        && task.group.needs_directory()
        && config.directory_for(site).is_none()
        && site.demo.is_none()
    {
        report.add(
            format!("{at}.group"),
            format!(
                "{} needs a directory, but site {:?} has none and no top-level directory is set",
                task.group,
                site.id.as_str()
            ),
        );
    }
}
