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
    config_text_at(&sim.authority(), &sim.graph_url(), graph_extra, concurrency)
}

/// [`config_text`] for a simulator known by its sign-in authority and
/// Graph URL (one in another process).
pub fn config_text_at(
    authority: &str,
    graph_url: &str,
    graph_extra: &str,
    concurrency: usize,
) -> String {
    crate::ews::everyone(
        &format!(
            "directory = \"graph\"\n[sites.graph]\ntenant = \"{TENANT}\"\nauthority = \"{authority}\"\nurl = \"{graph_url}\"\n{graph_extra}"
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
