//! The one integration-test binary.

mod storage;
mod fake_api;
