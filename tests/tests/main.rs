//! calrep's cross-crate integration tests, in one binary.
//!
//! Two tiers, both run by `scripts/test`: the fast tier is every module
//! but `slow` (`cargo test -- --skip slow::`); the slow tier is `slow::`
//! (a real EWS simulator over sockets, a hostile proxy with real
//! timeouts, and the Python and C reference implementations).

mod config;
mod diff_props;
mod engine;
mod groups;
mod hostile_props;
mod memory_mailbox;
mod recur_robustness;
mod replica;
mod schedule_props;
mod service;
mod slow;
