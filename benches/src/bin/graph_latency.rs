//! A full replication through the simulator's Microsoft Graph face with
//! injected latency, against the lower bound the server's latency alone
//! sets: HTTP requests × latency ÷ the requests that can be in flight. Each
//! mailbox sends one request at a time (a `$batch` of four masters is one
//! request holding four of Exchange Online's four per-mailbox slots), so
//! with engine and site concurrency c the effective concurrency is c. The
//! goal is a ratio of at most 1.25. Also: HTTP requests per replicated item
//! with `$batch` (four masters per request) and without (one per request).
//!
//! Each case runs with the engine hosted twice: as `calrep run` hosts it (one
//! thread) and as a library host on two workers might.
//!
//! Usage: `graph-latency [MAILBOXES] [LATENCY_MS]` (default 500 and 5).
//! Build it with `--release`; each case runs twice and the better run
//! counts.

use calrep_benches::latency::{Face, Host, Setup};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let setup = Setup::from_args("graph-latency")?;
    let (mailboxes, latency) = (setup.mailboxes, setup.latency);
    println!(
        "{mailboxes} mailboxes, {} ms per Graph request\n\n| host | concurrency | $batch | items | requests | requests per item | wall time | nominal bound | ratio | bound as waited | ratio |\n|---|---|---|---|---|---|---|---|---|---|---|",
        latency.as_millis()
    );
    let cases = Host::ALL
        .into_iter()
        .flat_map(|h| [(h, 1usize, 4usize), (h, 8, 4), (h, 8, 1)]);
    for (host, concurrency, batch) in cases {
        let m = setup.measure(Face::Graph { batch }, concurrency, host)?;
        let (nominal, nominal_ratio, waited, waited_ratio) = m.ratios(latency, concurrency);
        println!(
            "| {} | {concurrency} | {batch} | {} | {} | {:.3} | {:.2} s | {:.2} s | {nominal_ratio:.3} | {:.2} s | {waited_ratio:.3} |",
            host.name(),
            m.items,
            m.requests,
            m.requests as f64 / m.items.max(1) as f64,
            m.wall.as_secs_f64(),
            nominal.as_secs_f64(),
            waited.as_secs_f64(),
        );
    }
    Ok(())
}
