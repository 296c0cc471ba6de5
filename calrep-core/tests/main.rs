//! calrep-core's integration tests, in one binary: the `calrep` command as
//! an operator runs it, the generated zone table, and (slow tier) real
//! processes killed with SIGKILL mid-run.

mod cli;
mod slow;
mod windows_zones;
