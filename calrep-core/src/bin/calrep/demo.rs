//! `calrep demo`: the whole product on a generated organisation.

use std::io::{self, Write};
use std::path::Path;

use calrep_core::TaskId;
use calrep_core::engine::{RunOptions, TaskStatus};

use crate::{Outcome, load_config, open_engine, progress, run, runtime, try_outcome, verify};

const TASK: &str = "all-staff";

fn config_text(seed: u64, mailboxes: usize, change_rounds: u32) -> String {
    format!(
        r#"# Written by `calrep demo`. Every calrep command works with it, e.g.
#   calrep run --config calrep-demo/calrep.toml --task {TASK}
#   calrep verify --config calrep-demo/calrep.toml --task {TASK}

[replica]
path = "replica.db"

# A generated organisation stands in for Exchange: the same for the same seed
# and size, after `change_rounds` rounds of edits. It brings its own
# directory, with nested groups.
[[sites]]
id = "demo"
description = "Generated demo organisation"
demo = {{ seed = {seed}, mailboxes = {mailboxes}, change_rounds = {change_rounds} }}

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
group = {{ ad_group = "All Staff" }}
"#
    )
}

pub(crate) fn run(
    dir: &Path,
    mailboxes: usize,
    seed: u64,
    out: &mut impl Write,
) -> io::Result<Outcome> {
    if !(10..=100_000).contains(&mailboxes) {
        return Ok(Outcome::Invalid(vec![format!(
            "--mailboxes must be between 10 and 100000, got {mailboxes}"
        )]));
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        return Ok(Outcome::Failed(format!(
            "cannot create {}: {e}",
            dir.display()
        )));
    }
    // A demo starts from an empty replica.
    for name in ["replica.db", "replica.db-wal", "replica.db-shm"] {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let config_path = dir.join("calrep.toml");
    let write_config = |rounds| std::fs::write(&config_path, config_text(seed, mailboxes, rounds));
    if let Err(e) = write_config(0) {
        return Ok(Outcome::Failed(format!(
            "cannot write {}: {e}",
            config_path.display()
        )));
    }
    writeln!(
        out,
        "calrep demo: a generated organisation of {mailboxes} mailboxes (seed {seed})"
    )?;
    writeln!(out, "configuration written to {}:\n", config_path.display())?;
    for line in config_text(seed, mailboxes, 0).lines() {
        writeln!(out, "    {line}")?;
    }
    let rt = try_outcome!(runtime());
    let task = TaskId::new(TASK);

    writeln!(
        out,
        "\n1. first run: full replication into {}",
        dir.join("replica.db").display()
    )?;
    let (engine, _) = try_outcome!(open_engine(try_outcome!(load_config(&config_path))));
    let engine = engine.with_events(progress::sink("replicating"));
    let first = match rt.block_on(engine.run_task(&task, RunOptions::default())) {
        Ok(r) => r,
        Err(e) => return Ok(Outcome::Failed(e.to_string())),
    };
    run::summary(&first, out)?;

    writeln!(
        out,
        "\n2. people change their calendars: moved and deleted occurrences, series edits, new and deleted items"
    )?;
    if let Err(e) = write_config(1) {
        return Ok(Outcome::Failed(format!(
            "cannot write {}: {e}",
            config_path.display()
        )));
    }
    let (engine, _) = try_outcome!(open_engine(try_outcome!(load_config(&config_path))));
    let engine = engine.with_events(progress::sink("replicating"));

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
    writeln!(
        out,
        "\nnext: calrep status --config {0} | calrep run --config {0} --task {TASK} | calrep verify --config {0} --task {TASK}",
        config_path.display()
    )?;
    let healthy = matches!(
        second.status,
        TaskStatus::Enabled | TaskStatus::EnabledWithWarning
    );
    Ok(if verification.is_equal() && healthy {
        Outcome::Ok
    } else {
        Outcome::Exit(5)
    })
}
