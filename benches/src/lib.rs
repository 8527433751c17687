//! Benchmarks of mlinfra live in `plan.rs`.
