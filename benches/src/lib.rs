//! Generators for benchmarks and tests.
