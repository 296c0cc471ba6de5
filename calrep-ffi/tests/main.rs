//! calrep-ffi's integration tests, in one binary: the committed header,
//! and (slow tier) the C and C# hosts built and run against the library.

mod header;
mod slow;
