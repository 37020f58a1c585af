//! Jardam: a Telegram bot that answers labour migrants' questions from a curated, sourced FAQ and
//! sends every question it cannot answer to human experts.
//!
//! The layers, from the inside out:
//! - [`kb`] loads and checks the FAQ in `dialogues/`; [`matcher`] maps free text to an entry.
//!   Neither knows anything of Telegram or databases.
//! - [`model`] holds the product's records; [`storage`] keeps them (one trait, SQLite and
//!   PostgreSQL), with everything that must survive a restart or reach another instance.
//! - [`bot`] is the transport-free core: events in, replies and expert actions out, the chat
//!   state in the storage, the expert workflow. It imports nothing of Telegram.
//! - [`telegram`] (handlers, the expert chat, polling, send and flood limits, deep links) and
//!   [`chat`] (the terminal) only translate to and from the core; [`app`], [`server`] and
//!   [`stop`] wire and run it all; [`config`] reads the environment once; [`clock`] is the
//!   time the bot goes by.

pub mod app;
pub mod bot;
pub mod chat;
pub mod clock;
pub mod config;
pub mod dates;
pub mod eval;
pub mod experts;
pub mod kb;
pub mod lang;
pub mod matcher;
pub mod model;
pub mod radar;
pub mod server;
pub mod stop;
pub mod storage;
pub mod telegram;
pub mod text;
