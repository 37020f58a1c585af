//! Building the application from the configuration: the knowledge base, storage, the
//! conversation, and the Telegram dispatcher or the terminal console around them.

use crate::bot::{Conversation, Event};
use crate::config::Config;
use crate::kb::{self, CheckOptions};
use crate::lang::Lang;
use crate::server;
use crate::telegram::inbox::{self, Inbox};
use crate::telegram::limits::Limits;
use crate::telegram::polling::Running;
use crate::telegram::{self, Deps, TgBot, desk};
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
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
    let entries = kb.entries.len();
    let conversation = Conversation::load(kb, store)
        .await
        .context("cannot read learned phrasings")?
        .keeping_faq_texts(config.keep_texts_days > 0)
        .with_retention(config.retention)
        .with_expert_chat(config.expert_chat)
        .with_clock(config.clock.clone());
    if !config.clock.is_system() {
        log::warn!(
            "the bot goes by {:?}, not the system clock (for tests)",
            config.clock
        );
    }
    log::info!("knowledge base: {entries} entries");
    Ok(Arc::new(conversation))
}

/// How often each instance re-posts questions whose post failed, picks up phrasings taught on
/// other instances, and erases texts past their keeping time.
const REPOST_EVERY: Duration = Duration::from_secs(30);
const LEARNED_EVERY: Duration = Duration::from_secs(10);
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// How often each instance looks for reminders due and followers to tell of a change note
/// (new notes come with a reload or a restart); every second with a test's clock, which jumps.
const REMINDERS_EVERY: Duration = Duration::from_secs(30);
const REMINDERS_EVERY_IN_TESTS: Duration = Duration::from_secs(1);

/// Forgets, as `/forget` does, the people who have not used the bot for the configured days,
/// and withdraws their expert posts; a batch per run.
async fn forget_inactive(bot: &TgBot, deps: &Deps) {
    let store = deps.conversation.store();
    let days = i64::from(deps.config.retention.inactive_days);
    let before = chrono::Utc::now() - chrono::TimeDelta::days(days);
    let chats = match store.inactive_chats(before, 500).await {
        Ok(c) => c,
        Err(e) => {
            log::warn!("retention clean-up failed: {e:#}");
            return;
        }
    };
    let mut forgotten = 0;
    for chat in chats {
        match store.forget(chat).await {
            Ok(posts) => {
                forgotten += 1;
                for (post_chat, post) in posts {
                    desk::withdraw_post(
                        bot,
                        deps,
                        ChatId(post_chat),
                        teloxide::types::MessageId(post),
                    )
                    .await;
                }
            }
            Err(e) => {
                log::warn!("retention clean-up failed: {e:#}");
                break;
            }
        }
    }
    if forgotten > 0 {
        log::info!("{forgotten} person(s) inactive for {days} days forgotten");
    }
}

/// The periodic work of a running bot. Safe on several instances at once: posting is claimed
/// per question in the database, and the other jobs are idempotent.
pub fn spawn_background(bot: TgBot, deps: Deps) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut repost = tokio::time::interval(REPOST_EVERY);
        let mut learned = tokio::time::interval(LEARNED_EVERY);
        let mut retention = tokio::time::interval(RETENTION_EVERY);
        let mut counters = tokio::time::interval(crate::bot::counters::FLUSH_EVERY);
        let mut reminders = tokio::time::interval(if deps.config.clock.is_system() {
            REMINDERS_EVERY
        } else {
            REMINDERS_EVERY_IN_TESTS
        });
        #[cfg(unix)]
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            #[cfg(unix)]
            let hup = async {
                match hangup.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let hup = std::future::pending::<Option<()>>();
            tokio::select! {
                _ = counters.tick() => {
                    deps.conversation.flush_counters().await;
                }
                _ = reminders.tick() => {
                    match telegram::reminders::send_due(&bot, &deps).await {
                        Ok(0) => {}
                        Ok(n) => log::info!("{n} reminder(s) sent"),
                        Err(e) => log::warn!("reminders not sent: {e:#}"),
                    }
                    match telegram::reminders::send_change_notes(&bot, &deps).await {
                        Ok(0) => {}
                        Ok(n) => log::info!("change notes sent to {n} follower(s)"),
                        Err(e) => log::warn!("change notes not sent: {e:#}"),
                    }
                    match desk::send_overdue(&bot, &deps).await {
                        Ok(0) => {}
                        Ok(n) => log::info!("{n} person(s) told their question is overdue"),
                        Err(e) => log::warn!("overdue questions not listed: {e:#}"),
                    }
                    match desk::send_digest(&bot, &deps).await {
                        Ok(false) => {}
                        Ok(true) => log::info!("weekly digest posted to the expert chat"),
                        Err(e) => log::warn!("weekly digest not posted: {e:#}"),
                    }
                }
                _ = repost.tick() => {
                    if let Err(e) = desk::post_unposted(&bot, &deps).await {
                        log::warn!("re-posting to the expert chat failed: {e:#}");
                    }
                }
                _ = learned.tick() => {
                    match deps.conversation.refresh_learned().await {
                        Ok(0) => {}
                        Ok(n) => log::info!("{n} learned phrasing(s) added to the matcher"),
                        Err(e) => log::warn!("learned phrasings not refreshed: {e:#}"),
                    }
                }
                _ = retention.tick() => {
                    forget_inactive(&bot, &deps).await;
                    let store = deps.conversation.store();
                    let keep = i64::from(deps.config.retention.answered_days);
                    match store.erase_old_texts(chrono::Utc::now(), keep).await {
                        Ok(0) => {}
                        Ok(n) => log::info!("texts of {n} resolved question(s) erased"),
                        Err(e) => log::warn!("retention clean-up failed: {e:#}"),
                    }
                    let before = chrono::Utc::now() - chrono::TimeDelta::days(keep);
                    match store.erase_finished_reminders(before).await {
                        Ok(0) => {}
                        Ok(n) => log::info!("{n} sent reminder(s) erased"),
                        Err(e) => log::warn!("retention clean-up failed: {e:#}"),
                    }
                    let before = chrono::Utc::now() - crate::bot::state::STATE_KEEP;
                    match store.erase_chat_states(before).await {
                        Ok(0) => {}
                        Ok(n) => log::info!("{n} old chat state(s) erased"),
                        Err(e) => log::warn!("retention clean-up failed: {e:#}"),
                    }
                    // With JARDAM_KEEP_TEXTS_DAYS unset (0) this also removes texts kept while
                    // it was set.
                    let days = i64::from(deps.config.keep_texts_days);
                    let before = chrono::Utc::now() - chrono::Duration::days(days);
                    match store.erase_faq_texts(before).await {
                        Ok(0) => {}
                        Ok(n) => log::info!("{n} kept FAQ question text(s) erased"),
                        Err(e) => log::warn!("retention clean-up failed: {e:#}"),
                    }
                }
                _ = hup => {
                    match deps.conversation.reload(&deps.config.dialogues).await {
                        Ok(n) => log::info!("knowledge base reloaded on SIGHUP: {n} entries"),
                        Err(problems) => log::error!(
                            "knowledge base reload refused, the old one stays:\n{problems}"
                        ),
                    }
                }
            }
        }
    })
}

/// `jardam report`: the radar of the days from `since` to `until` (by default the 7 days up to
/// today), written to `output` as PNG, SVG or HTML by its ending, with the labels in
/// `JARDAM_EXPERT_LANG`.
pub async fn report(
    since: Option<chrono::NaiveDate>,
    until: Option<chrono::NaiveDate>,
    output: std::path::PathBuf,
) -> anyhow::Result<()> {
    use crate::radar::{self, Labels, render};
    let ending = output
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let ending = match ending.as_deref() {
        Some(e @ ("png" | "svg" | "html")) => e.to_string(),
        _ => anyhow::bail!(
            "{}: the file must end in .png, .svg or .html",
            output.display()
        ),
    };
    let config = Config::from_env()?;
    let until = until.unwrap_or_else(|| config.clock.today());
    let since = since.unwrap_or(until - chrono::Days::new(6));
    radar::check_range(since, until)?;
    let (kb, _) = kb::load(&config.dialogues, &CheckOptions::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = crate::storage::connect(config.database.url())
        .await
        .context("cannot open the database")?;
    let lang = config.expert_lang;
    let r = radar::build(store.as_ref(), &kb, lang, since, until).await?;
    let labels = Labels::of(&kb, lang);
    let bytes = match ending.as_str() {
        "png" => render::png(&r, &labels)?,
        "svg" => render::svg(&r, &labels)?.into_bytes(),
        _ => render::html(&r, &labels)?.into_bytes(),
    };
    std::fs::write(&output, &bytes)
        .with_context(|| format!("cannot write {}", output.display()))?;
    println!(
        "{}: the radar of {since} to {until}, {} bytes",
        output.display(),
        bytes.len()
    );
    Ok(())
}

/// The database of the configuration, for the expert commands that need nothing else.
pub async fn open_storage() -> anyhow::Result<Arc<dyn crate::storage::Storage>> {
    let config = Config::from_env()?;
    crate::storage::connect(config.database.url())
        .await
        .context("cannot open the database")
}

/// `jardam run`: long polling against Telegram (or `TELOXIDE_API_URL`), or webhooks with
/// `--webhook` (or `JARDAM_WEBHOOK_URL`); stops gracefully on SIGINT and SIGTERM.
pub async fn run(webhook: bool) -> anyhow::Result<()> {
    let config = Config::for_run(webhook)?;
    // First, so that a stop during start-up (migrations may take a while) is graceful too.
    let stop = server::Stop::on_signals().context("cannot listen for SIGINT and SIGTERM")?;
    let http = match config.http_listen() {
        Some(addr) => Some(server::bind(addr).await?),
        None => None,
    };
    serve(config, http, stop).await
}

/// The bot until `stop`: `jardam run` once its signals and address are set up, or a test with
/// its own listener and stop.
pub async fn serve(
    config: Config,
    http: Option<tokio::net::TcpListener>,
    stop: server::Stop,
) -> anyhow::Result<()> {
    // Bot API server from TELOXIDE_API_URL, so tests can point it at a local fake Bot API.
    let client = server::bot(&config)?;
    let bot = TgBot::new(client.clone(), Limits::telegram(config.send_rate));
    let health = server::Health::new();
    // Up before the slow part of the start, so a load balancer sees the process alive but not
    // yet ready.
    let running = Running::default();
    let inbox = Inbox::default();
    let (webhook_updates, http_server) = server::start_http(
        http,
        config.webhook.as_ref(),
        &health,
        &running,
        &inbox,
        &stop,
    )?;
    if config.expert_chat.is_none() {
        log::warn!(
            "JARDAM_EXPERT_CHAT is not set: questions the FAQ cannot answer are saved, but no \
             expert sees them; people are told their question is saved, not passed on"
        );
    }
    let conversation = build(&config).await?;
    let store = conversation.store().clone();
    health.set_ready(conversation.clone());
    if let Err(e) = telegram::register_commands(&bot, &conversation).await {
        log::warn!("command menus not registered: {e:#}");
    }
    let last_counts = conversation.clone();
    let deps = Deps::new(conversation, Arc::new(config));
    let background = spawn_background(bot.clone(), deps.clone());
    let settings = deps.config.clone();
    // Webhook mode: updates are stored as they come; those of a stopped instance are taken up.
    let (replay, keeping) = if settings.webhook.is_some() {
        inbox.open(store.clone());
        let (tx, rx) = tokio::sync::mpsc::channel(100);
        let keeping = tokio::spawn(inbox::keep(store.clone(), desk::instance_id(), tx));
        (Some(rx), Some(keeping))
    } else {
        (None, None)
    };
    let mut dispatcher = dispatcher(client.clone(), bot, deps, running.clone(), inbox);
    let webhook = webhook_updates.zip(settings.webhook.as_ref());
    let received = server::receive(&mut dispatcher, client, &running, webhook, replay, &stop).await;
    background.abort();
    let _ = background.await;
    if let Some(keeping) = keeping {
        keeping.abort();
        let _ = keeping.await;
    }
    health.set_stopping();
    if let Some(http_server) = http_server {
        http_server.finish().await;
    }
    drop(dispatcher);
    drop(health);
    // Handlers and the background task are done: the last counts, then nothing uses the pool.
    last_counts.flush_counters().await;
    store.close().await;
    received
}

/// The dispatcher of `jardam run` (and of the load benchmark): the handler tree with its
/// dependencies. `running` is the polling listener's record of the updates being handled;
/// `inbox`, in webhook mode, where handled updates are marked done.
pub fn dispatcher(
    client: Bot,
    bot: TgBot,
    deps: Deps,
    running: Running,
    inbox: Inbox,
) -> Dispatcher<Bot, anyhow::Error, teloxide::dispatching::DefaultKey> {
    Dispatcher::builder(client, telegram::schema())
        .dependencies(dptree::deps![deps, bot, running, inbox])
        // Roomy per-chat queues: a full one holds up the dispatcher, and with it every chat.
        // The polling listener bounds what is taken in; a queue's slots cost nothing unused.
        .worker_queue_size(4096)
        .default_handler(|_| async {})
        .error_handler(LoggingErrorHandler::with_custom_text("a handler failed"))
        .build()
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
            entry: None,
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
