//! Building the application from the configuration: the knowledge base, storage, the
//! conversation, and the Telegram dispatcher or the terminal console around them.

use crate::config::Config;
use crate::conversation::{Conversation, Event, Knowledge};
use crate::kb::{self, CheckOptions};
use crate::lang::Lang;
use crate::telegram::{self, Deps};
use anyhow::Context;
use std::sync::Arc;
use teloxide::prelude::*;

/// Loads everything the bot needs; refuses an invalid knowledge base with the `check` messages.
pub async fn build(config: &Config) -> anyhow::Result<Arc<Conversation>> {
    let (kb, warnings) = kb::load(&config.dialogues, &CheckOptions::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for w in &warnings {
        log::warn!("{w}");
    }
    let store = crate::storage::connect(config.database.url())
        .await
        .context("cannot open the database")?;
    let learned = store
        .learned()
        .await
        .context("cannot read learned phrasings")?;
    log::info!(
        "knowledge base: {} entries, {} learned phrasings",
        kb.entries.len(),
        learned.len()
    );
    Ok(Arc::new(Conversation::new(
        Knowledge::new(kb, &learned),
        store,
    )))
}

/// The database of the configuration, for the expert commands that need nothing else.
pub async fn open_storage() -> anyhow::Result<Arc<dyn crate::storage::Storage>> {
    let config = Config::from_env()?;
    crate::storage::connect(config.database.url())
        .await
        .context("cannot open the database")
}

/// `jardam run`: long polling against Telegram (or `TELOXIDE_API_URL`).
pub async fn run() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    if config.token.is_none() {
        anyhow::bail!(
            "TELOXIDE_TOKEN is not set: get a token from @BotFather (or use `jardam chat`)"
        );
    }
    let conversation = build(&config).await?;
    // Bot::from_env reads TELOXIDE_TOKEN and TELOXIDE_API_URL, so tests can point it at a local
    // fake Bot API.
    let bot = Bot::from_env().throttle(teloxide::adaptors::throttle::Limits::default());
    if let Err(e) = telegram::register_commands(&bot, &conversation).await {
        log::warn!("command menus not registered: {e:#}");
    }
    let deps = Deps {
        conversation,
        config: Arc::new(config),
    };
    log::info!("polling for updates");
    Dispatcher::builder(bot, telegram::schema())
        .dependencies(dptree::deps![deps])
        .default_handler(|_| async {})
        .error_handler(LoggingErrorHandler::with_custom_text("a handler failed"))
        .enable_ctrlc_handler()
        .build()
        .dispatch()
        .await;
    Ok(())
}

/// `jardam chat`: the conversation in this terminal.
pub async fn chat(lang: Option<Lang>, chat_id: i64) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let conversation = build(&config).await?;
    let start = match lang {
        Some(l) => {
            conversation
                .store()
                .save_profile(chat_id, Some(l), None)
                .await?;
            vec![Event::Menu]
        }
        None => vec![Event::Start {
            payload: None,
            language_code: None,
        }],
    };
    let stdin = std::io::stdin();
    crate::chat::run(
        &conversation,
        chat_id,
        start,
        stdin.lock(),
        std::io::stdout(),
    )
    .await?;
    Ok(())
}
