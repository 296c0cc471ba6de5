//! `calrep demo`: the whole product on a generated organisation, served by
//! the simulator over HTTP on 127.0.0.1 and read through the real EWS or
//! Microsoft Graph client.

use std::io::{self, Write};
use std::path::Path;

use calrep_core::TaskId;
use calrep_core::access::{Grants, PasswordHasher, feed_urls, grant, issue_feed_token};
use calrep_core::demo::DemoOrganisation;
use calrep_core::engine::{RunOptions, TaskStatus};
use calrep_core::replica::SqliteReplica;
use calrep_core::sim::{SimOptions, Simulator};

use crate::{Outcome, load_config, open_engine, progress, run, runtime, try_outcome, verify};

const TASK: &str = "all-staff";
const PASSWORD_FILE: &str = "sim-password";
const SECRET_FILE: &str = "sim-app-secret";

/// How the demo runs.
#[derive(Debug)]
pub(crate) struct Settings {
    /// How many mailboxes the organisation has.
    pub(crate) mailboxes: usize,
    /// The generator's seed.
    pub(crate) seed: u64,
    /// Which face of the simulator is read.
    pub(crate) backend: Backend,
    /// Where to serve the replica afterwards, if at all.
    pub(crate) serve: Option<String>,
}

/// The account `--serve` issues.
const ACCOUNT: &str = "demo";

/// Which of the simulator's faces the demo reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Backend {
    /// Exchange Web Services (Exchange Server, and Exchange Online until EWS is switched off).
    Ews,
    /// Microsoft Graph (Microsoft 365).
    Graph,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Self::Ews => "EWS",
            Self::Graph => "Microsoft Graph",
        }
    }

    /// The demo site's lines: how it reaches the simulator and expands groups.
    fn site(self, sim: &Simulator) -> String {
        match self {
            Self::Ews => format!(
                r#"# Exchange Web Services, as a real Exchange server is configured: the service
# account impersonates each mailbox; groups are expanded by Exchange (ExpandDL).
[[sites]]
id = "demo"
description = "The EWS simulator serving a generated organisation"
directory = "exchange"
[sites.ews]
url = "{url}"
username = "{user}"
password_file = "{PASSWORD_FILE}"
impersonation = true
"#,
                url = sim.url(),
                user = SimOptions::USERNAME,
            ),
            Self::Graph => format!(
                r#"# Microsoft Graph, as a Microsoft 365 tenant is configured: an app registration
# with the Calendars.Read and GroupMember.Read.All application permissions signs
# in with its secret (or a certificate); groups are expanded by transitiveMembers.
[[sites]]
id = "demo"
description = "The Graph simulator serving a generated organisation"
directory = "graph"
[sites.graph]
tenant = "demo.onmicrosoft.com"
client_id = "{client}"
secret_file = "{SECRET_FILE}"
authority = "{authority}"
url = "{url}"
"#,
                client = SimOptions::CLIENT_ID,
                authority = sim.authority(),
                url = sim.graph_url(),
            ),
        }
    }
}

fn config_text(sim: &Simulator, backend: Backend, serve: Option<&str>) -> String {
    let access = serve.map_or_else(String::new, |listen| {
        format!(
            r#"
# Continuity access: people read the replica (web page, CalDAV, feeds)
# while Exchange is down. `calrep serve --access-only` serves only that.
[access]
listen = "{listen}"
"#
        )
    });
    format!(
        r#"# Written by `calrep demo`. The site is the simulator the demo ran;
# `calrep sim` serves the same organisation again (see the demo's last lines),
# and then every calrep command works with this file, e.g.
#   calrep run --config calrep-demo/calrep.toml --task {TASK}
#   calrep verify --config calrep-demo/calrep.toml --task {TASK}

[replica]
path = "replica.db"

{site}
[[definitions]]
id = "all-calendars"
description = "Every calendar; private appointments masked; attachments up to 1 MiB"
include = "all"
private_items = "mask"
attachments = {{ enabled = true, max_bytes = 1_048_576 }}

[[schedules]]
id = "every-15-minutes"
time_zone = "W. Europe Standard Time"
when.daily.many = {{ start = "00:00", end = "23:45", interval_minutes = 15 }}

[[tasks]]
id = "{TASK}"
site = "demo"
definition = "all-calendars"
schedule = "every-15-minutes"
group = {{ distribution_group = "{all}" }}
{access}"#,
        site = backend.site(sim),
        all = DemoOrganisation::ALL_STAFF_ADDRESS,
    )
}

pub(crate) fn run(dir: &Path, settings: &Settings, out: &mut impl Write) -> io::Result<Outcome> {
    let Settings {
        mailboxes,
        seed,
        backend,
        ..
    } = *settings;
    if let Some(listen) = &settings.serve
        && listen.parse::<std::net::SocketAddr>().is_err()
    {
        return Ok(Outcome::Invalid(vec![format!(
            "--serve takes an address such as 127.0.0.1:8008, got {listen:?}"
        )]));
    }
    if !(10..=100_000).contains(&mailboxes) {
        return Ok(Outcome::Invalid(vec![format!(
            "--mailboxes must be between 10 and 100000, got {mailboxes}"
        )]));
    }
    let failed = |what: &str, e: &dyn std::fmt::Display| Outcome::Failed(format!("{what}: {e}"));
    if let Err(e) = std::fs::create_dir_all(dir) {
        return Ok(failed(&format!("cannot create {}", dir.display()), &e));
    }
    // A demo starts from an empty replica.
    for name in ["replica.db", "replica.db-wal", "replica.db-shm"] {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let rt = try_outcome!(runtime());
    let demo = DemoOrganisation::generate(seed, mailboxes, 0);
    let simulator = rt.block_on(Simulator::start_demo(&demo, SimOptions::default()));
    let simulator = match simulator {
        Ok(s) => s,
        Err(e) => return Ok(failed("cannot start the simulator", &e)),
    };
    let config_path = dir.join("calrep.toml");
    let text = config_text(&simulator, backend, settings.serve.as_deref());
    let written = match backend {
        Backend::Ews => std::fs::write(dir.join(PASSWORD_FILE), SimOptions::PASSWORD),
        Backend::Graph => std::fs::write(dir.join(SECRET_FILE), SimOptions::CLIENT_SECRET),
    }
    .and_then(|()| std::fs::write(&config_path, &text));
    if let Err(e) = written {
        return Ok(failed(&format!("cannot write {}", dir.display()), &e));
    }
    writeln!(
        out,
        "calrep demo: a generated organisation of {mailboxes} mailboxes (seed {seed}), \
         served over {} by the simulator at {}",
        backend.name(),
        match backend {
            Backend::Ews => simulator.url(),
            Backend::Graph => simulator.graph_url(),
        }
    )?;
    writeln!(out, "configuration written to {}:\n", config_path.display())?;
    for line in text.lines() {
        writeln!(out, "    {line}")?;
    }
    let task = TaskId::new(TASK);

    writeln!(
        out,
        "\n1. first run: full replication over HTTP into {}",
        dir.join("replica.db").display()
    )?;
    let (engine, _) = try_outcome!(open_engine(try_outcome!(load_config(&config_path)), &rt));
    let engine = engine.with_events(progress::sink("replicating"));
    let first = match rt.block_on(engine.run_task(&task, RunOptions::default())) {
        Ok(r) => r,
        Err(e) => return Ok(Outcome::Failed(e.to_string())),
    };
    run::summary(&first, out)?;

    let changes = demo.apply_changes(1);
    writeln!(
        out,
        "\n2. people change their calendars on the server ({changes} changes): moved, retitled and deleted occurrences, series edits, new and deleted items"
    )?;

    writeln!(out, "\n3. second run: incremental, only what changed")?;
    let second = match rt.block_on(engine.run_task(&task, RunOptions::default())) {
        Ok(r) => r,
        Err(e) => return Ok(Outcome::Failed(e.to_string())),
    };
    run::summary(&second, out)?;
    let changed = second
        .mailboxes
        .iter()
        .filter(|m| !m.counts.is_empty())
        .count();
    writeln!(
        out,
        "  {changed} mailboxes had changes; first run sent {} requests, this one {}",
        first.requests, second.requests
    )?;

    writeln!(
        out,
        "\n4. verification: every replicated mailbox against its source"
    )?;
    let verification = match rt.block_on(engine.verify(&task)) {
        Ok(r) => r,
        Err(e) => return Ok(Outcome::Failed(e.to_string())),
    };
    verify::print(&verification, out)?;
    let port = simulator.addr().port();
    simulator.stop();
    // The command as it was invoked (target/debug/calrep from the README),
    // one command per line so that each can be copied as it is.
    let calrep = std::env::args().next().unwrap_or_else(|| "calrep".into());
    let config = config_path.display();
    writeln!(
        out,
        "\nThe simulator stopped with the demo. To serve the same organisation again (in another terminal):\n  \
         {calrep} sim --port {port} --seed {seed} --mailboxes {mailboxes} --change-rounds 1\n\
         then, for example:\n  \
         {calrep} status --config {config}\n  \
         {calrep} run --config {config} --task {TASK}\n  \
         {calrep} verify --config {config} --task {TASK}"
    )?;
    let healthy = matches!(
        second.status,
        TaskStatus::Enabled | TaskStatus::EnabledWithWarning
    );
    if !(verification.is_equal() && healthy) {
        return Ok(Outcome::Exit(5));
    }
    if settings.serve.is_some() {
        serve(&rt, &config_path, &demo, out)
    } else {
        Ok(Outcome::Ok)
    }
}

/// Step 5 of `--serve`: a person's account over the replica just made,
/// and the front end until Ctrl-C.
fn serve(
    rt: &tokio::runtime::Runtime,
    config_path: &Path,
    demo: &DemoOrganisation,
    out: &mut impl Write,
) -> io::Result<Outcome> {
    let config = try_outcome!(load_config(config_path));
    let store = match SqliteReplica::open(&config.resolve_path(&config.replica.path)) {
        Ok(s) => s,
        Err(e) => return Ok(Outcome::Failed(e.to_string())),
    };
    let (own, delegated) = match demo.addresses.as_slice() {
        [own, delegated, ..] => (own.clone(), delegated.clone()),
        _ => return Ok(Outcome::Failed("the organisation has no mailboxes".into())),
    };
    let mut grants = Grants::default();
    grants.mailboxes.push(own.clone());
    grants.delegated.push(delegated.clone());
    let now = chrono::Utc::now();
    let hasher = PasswordHasher::default();
    let password = match rt.block_on(grant(&store, &hasher, ACCOUNT, &grants, now)) {
        Ok(p) => p,
        Err(e) => {
            return Ok(Outcome::Failed(format!(
                "cannot issue the demo account: {e}"
            )));
        }
    };
    let token = match rt.block_on(issue_feed_token(&store, ACCOUNT)) {
        Ok(t) => t,
        Err(e) => return Ok(Outcome::Failed(format!("cannot issue a feed token: {e}"))),
    };
    writeln!(
        out,
        "\n5. continuity access: the replica, read-only, for a person while Exchange is down\n  \
         account {ACCOUNT}: owns {own}, reads {delegated} as a delegate (private items masked)\n  \
         app password (shown only now): {}",
        password.expose()
    )?;
    // The addresses are printed once the server listens (on the port it
    // got, when asked for port 0).
    crate::serve::serve_access_only(config_path, &config, out, |addr, out| {
        let base = format!("http://{addr}");
        writeln!(
            out,
            "  in a browser:       {base}/web/\n  \
             in a CalDAV client: {base}/  (Thunderbird, Apple Calendar, DAVx⁵: user {ACCOUNT}, the app password)"
        )?;
        let feeds = rt
            .block_on(feed_urls(&store, ACCOUNT, &token, &base))
            .unwrap_or_default();
        if let Some((calendar, url)) = feeds.first() {
            writeln!(out, "  as a feed ({calendar}): {url}")?;
        }
        writeln!(
            out,
            "  Ctrl-C stops serving; the access log goes to standard error"
        )
    })
}
