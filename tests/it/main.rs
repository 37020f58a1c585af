//! The one integration-test binary.

mod fake_api;
mod storage;
