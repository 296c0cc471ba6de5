//! A full replication through the EWS simulator with injected latency, at
//! engine and site concurrency 1 and 8, against the lower bound the server's
//! latency alone sets: requests × latency ÷ concurrency. The goal is a ratio
//! of at most 1.25: the engine and the client add little beyond the wait.
//! Timers sleep a tick longer than asked, so the bound is given twice: with
//! the nominal latency, and with the latency the simulator really waited.
//!
//! Each case runs with the engine hosted twice: as `calrep run` hosts it (one
//! thread) and as a library host on two workers might.
//!
//! Usage: `ews-latency [MAILBOXES] [LATENCY_MS]` (default 500 and 5). Build
//! it with `--release`. Not a criterion benchmark: one run at concurrency 1
//! takes tens of seconds, so each case runs twice and the better run counts.

use calrep_benches::latency::{Face, Host, Setup};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let setup = Setup::from_args("ews-latency")?;
    let (mailboxes, latency) = (setup.mailboxes, setup.latency);
    println!(
        "{mailboxes} mailboxes, {} ms per EWS request\n\n| host | concurrency | requests | wall time | nominal bound | ratio | bound as waited | ratio |\n|---|---|---|---|---|---|---|---|",
        latency.as_millis()
    );
    for (host, concurrency) in Host::ALL.into_iter().flat_map(|h| [(h, 1usize), (h, 8)]) {
        let m = setup.measure(Face::Ews, concurrency, host)?;
        let (nominal, nominal_ratio, waited, waited_ratio) = m.ratios(latency, concurrency);
        println!(
            "| {} | {concurrency} | {} | {:.2} s | {:.2} s | {nominal_ratio:.3} | {:.2} s | {waited_ratio:.3} |",
            host.name(),
            m.requests,
            m.wall.as_secs_f64(),
            nominal.as_secs_f64(),
            waited.as_secs_f64(),
        );
    }
    Ok(())
}
