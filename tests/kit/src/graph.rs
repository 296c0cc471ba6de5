//! The configuration that points calrep at the simulator's Microsoft Graph
//! face (tests, benchmarks and the demo share its shape).

use calrep_core::demo::DemoOrganisation;
use calrep_core::sim::{SimOptions, Simulator};

use crate::config::ConfigBuilder;

/// The tenant the configurations name (the simulator accepts any).
pub const TENANT: &str = "sim.onmicrosoft.com";

/// A configuration whose site `sim` reads the simulator's Graph face with
/// its default app (secret in the file `app-secret`) plus `graph_extra`
/// lines in `[sites.graph]`; groups through Graph; the same definition
/// and task as [`crate::ews::config_text`].
pub fn config_text(sim: &Simulator, graph_extra: &str, concurrency: usize) -> String {
    ConfigBuilder::new()
        .site(
            "sim",
            &format!(
                "directory = \"graph\"\n[sites.graph]\ntenant = \"{TENANT}\"\nauthority = \"{}\"\nurl = \"{}\"\n{graph_extra}",
                sim.authority(),
                sim.graph_url()
            ),
        )
        .definition(
            "everything",
            "include = \"all\"\nattachments = { enabled = true, max_bytes = 1048576 }",
        )
        .daily_schedule("nightly", "UTC", "02:00")
        .task(
            crate::ews::TASK,
            "sim",
            "everything",
            "nightly",
            &format!(
                "{{ distribution_group = \"{}\" }}",
                DemoOrganisation::ALL_STAFF_ADDRESS
            ),
        )
        .section(&format!("[engine]\nconcurrency = {concurrency}"))
        .text()
}

/// The `[sites.graph]` lines of the simulator's default app with its secret.
pub fn secret_app() -> String {
    format!(
        "client_id = \"{}\"\nsecret_file = \"app-secret\"",
        SimOptions::CLIENT_ID
    )
}
