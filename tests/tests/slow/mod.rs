//! The slow tier: real sockets, real timeouts, outside references.

mod access;
mod ews_graph_props;
mod ews_sim;
mod export_oracle;
mod graph_sim;
mod hostile;
mod postgres;
mod schedule_oracle;
mod web;

/// The outside-reference harnesses, which print their counts and seeds
/// (`scripts/test` runs them with `--nocapture`).
mod references;
