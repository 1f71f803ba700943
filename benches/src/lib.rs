//! Benchmarks live in `benches/`; see `benches/README.md`. This library holds what several
//! of them share.

pub mod synthetic;
