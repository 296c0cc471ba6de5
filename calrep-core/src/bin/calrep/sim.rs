//! `calrep sim`: the simulator (EWS and Microsoft Graph) as a standalone
//! server, serving a demo organisation until Ctrl-C.

use std::io::{self, Write};
use std::time::Duration;

use calrep_core::demo::DemoOrganisation;
use calrep_core::sim::{Fault, FaultRule, SimOptions, Simulator};

use crate::{Outcome, runtime, try_outcome};

/// What to serve and how to misbehave.
#[derive(Debug, clap::Args)]
pub(crate) struct Settings {
    /// The port (0: any free one).
    #[arg(long, default_value_t = 8765)]
    port: u16,
    /// The generator's seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// How many mailboxes.
    #[arg(long, default_value_t = 200)]
    mailboxes: usize,
    /// Rounds of changes applied before serving.
    #[arg(long, default_value_t = 0)]
    change_rounds: u32,
    /// Latency added to every EWS answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// The fraction of requests answered ErrorServerBusy (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    busy_probability: f64,
}

pub(crate) fn run(settings: &Settings, out: &mut impl Write) -> io::Result<Outcome> {
    if !(10..=100_000).contains(&settings.mailboxes) {
        return Ok(Outcome::Invalid(vec![format!(
            "--mailboxes must be between 10 and 100000, got {}",
            settings.mailboxes
        )]));
    }
    if !(0.0..=1.0).contains(&settings.busy_probability) {
        return Ok(Outcome::Invalid(vec![
            "--busy-probability must be between 0 and 1".into(),
        ]));
    }
    let demo =
        DemoOrganisation::generate(settings.seed, settings.mailboxes, settings.change_rounds);
    let mut options = SimOptions::default();
    options.port = settings.port;
    options.seed = settings.seed;
    options.latency = Duration::from_millis(settings.latency_ms);
    if settings.busy_probability > 0.0 {
        options.faults = vec![
            FaultRule::new(Fault::ServerBusy { back_off_ms: 500 })
                .probability(settings.busy_probability),
        ];
    }
    let rt = try_outcome!(runtime());
    let sim = match rt.block_on(Simulator::start_demo(&demo, options)) {
        Ok(sim) => sim,
        Err(e) => {
            return Ok(Outcome::Failed(format!(
                "cannot listen on 127.0.0.1:{}: {e}",
                settings.port
            )));
        }
    };
    writeln!(
        out,
        "calrep sim: {} mailboxes (seed {}, {} change round{}) at {}",
        demo.addresses.len(),
        settings.seed,
        settings.change_rounds,
        if settings.change_rounds == 1 { "" } else { "s" },
        sim.url()
    )?;
    writeln!(
        out,
        "  Basic account {} / password {:?} (may impersonate every mailbox)",
        SimOptions::USERNAME,
        SimOptions::PASSWORD
    )?;
    writeln!(
        out,
        "  OAuth app {} / secret {:?}, token endpoint {}",
        SimOptions::CLIENT_ID,
        SimOptions::CLIENT_SECRET,
        sim.token_url()
    )?;
    writeln!(
        out,
        "  Microsoft Graph at {} (authority {}, any tenant)",
        sim.graph_url(),
        sim.authority()
    )?;
    writeln!(
        out,
        "  groups by address, e.g. {} (EWS ExpandDL, Graph transitiveMembers)\nCtrl-C stops it.",
        DemoOrganisation::ALL_STAFF_ADDRESS
    )?;
    out.flush()?;
    let stopped = rt.block_on(tokio::signal::ctrl_c());
    let requests: u64 = sim.requests().values().sum();
    sim.stop();
    writeln!(out, "calrep sim: stopped after {requests} requests")?;
    Ok(match stopped {
        Ok(()) => Outcome::Ok,
        Err(e) => Outcome::Failed(format!("cannot wait for Ctrl-C: {e}")),
    })
}
