//! The slow tier: replications killed for real, alone and among hosts
//! sharing one PostgreSQL database.

mod crash;
mod hosts;
