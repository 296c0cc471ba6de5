//! The slow tier: replications killed for real.

mod crash;
