//! The slow tier: real C and .NET hosts, under valgrind where it exists.

mod c_hosts;
