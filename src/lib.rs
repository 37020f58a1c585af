//! Jardam: a Telegram bot that answers labour migrants' questions from a curated, sourced FAQ and
//! sends every question it cannot answer to human experts.
//!
//! The layers, from the inside out:
//! - [`kb`] loads and checks the FAQ in `dialogues/`; [`matcher`] maps free text to an entry.
//!   Neither knows anything of Telegram or databases.

pub mod app;
pub mod bot;
pub mod chat;
pub mod config;
pub mod eval;
pub mod experts;
pub mod kb;
pub mod lang;
pub mod matcher;
pub mod model;
pub mod server;
pub mod stop;
pub mod storage;
pub mod telegram;
pub mod text;
