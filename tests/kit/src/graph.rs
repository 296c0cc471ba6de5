//! The configuration that points calrep at the simulator's Microsoft Graph
//! face.

use calrep_core::sim::{SimOptions, Simulator};

/// The tenant the configurations name (the simulator accepts any).
pub const TENANT: &str = "sim.onmicrosoft.com";

/// A configuration whose site `sim` reads the simulator's Graph face, with
/// `graph_extra` lines (the app's credentials, limits) in `[sites.graph]`
/// and groups expanded through Graph; otherwise as
/// [`crate::ews::config_text`].
pub fn config_text(sim: &Simulator, graph_extra: &str, concurrency: usize) -> String {
    crate::ews::everyone(
        &format!(
            "directory = \"graph\"\n[sites.graph]\ntenant = \"{TENANT}\"\nauthority = \"{}\"\nurl = \"{}\"\n{graph_extra}",
            sim.authority(),
            sim.graph_url()
        ),
        concurrency,
    )
}

/// The `[sites.graph]` lines of the simulator's default app with its secret.
pub fn secret_app() -> String {
    format!(
        "client_id = \"{}\"\nsecret_file = \"app-secret\"",
        SimOptions::CLIENT_ID
    )
}
