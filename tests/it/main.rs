//! The one integration-test binary.

mod chat;
mod desk;
mod e2e;
mod eval;
mod fake_api;
mod fuzz;
mod matcher;
mod outage;
mod overdue;
mod polling;
mod reminders;
mod storage;
mod telegram;
mod webhook;
mod workbench;
