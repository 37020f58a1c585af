//! Test doubles.
//!
//! They live in the library rather than under `tests/` so that the integration tests, the load
//! benchmark and ad-hoc local runs share one implementation instead of drifting copies.

pub mod fake_bot_api;
