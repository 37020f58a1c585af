//! The experts' commands: `/queue`, `/overdue`, `/stats`, `/report`, `/export`, `/learned`,
//! `/reload`, `/template`, and as replies to a post `/note` and `/same`, in the expert chat or
//! privately from `JARDAM_EXPERTS`.

use super::{bench, is_expert, lang, say};
use crate::experts;
use crate::kb::html::escape;
use crate::kb::html::{MESSAGE_LIMIT, split_for_telegram, utf16_len};
use crate::telegram::{Deps, HandlerResult, TgBot, keyboard};
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardMarkup, InputFile, ParseMode};
use teloxide::utils::command::BotCommands;

/// The experts' commands: in the expert chat, or privately from `JARDAM_EXPERTS`.
#[derive(BotCommands, Clone, Debug)]
#[command(rename_rule = "lowercase")]
pub enum ExpertCmd {
    /// Open questions, urgent first
    Queue,
    /// Statistics of the last 7 and 30 days
    Stats,
    /// Questions as a CSV file (optionally since YYYY-MM-DD)
    Export(String),
    /// Learned phrasings to paste into dialogues/
    Learned,
    /// Reload the knowledge base
    Reload,
    /// Open questions past the promised time
    Overdue,
    /// The question radar as a picture (optionally FROM and TO, YYYY-MM-DD)
    Report(String),
    /// The answer templates, or one of them by name
    Template(String),
    /// As a reply to a post: a note for the experts, never sent to the person
    Note(String),
    /// As a reply to a post: it repeats question N (both get the one answer)
    Same(String),
}

/// An expert command; from anyone else, a polite refusal.
pub async fn on_expert_command(
    bot: TgBot,
    msg: Message,
    cmd: ExpertCmd,
    deps: Deps,
) -> HandlerResult {
    let k = deps.conversation.knowledge();
    let l = lang(&deps);
    if !is_expert(&deps, &msg.chat, msg.from.as_ref()) {
        // A user's own language, when known, for the refusal.
        let ui = deps.conversation.chat_lang(msg.chat.id.0).await;
        return say(&bot, msg.chat.id, None, escape(k.kb.t("expert_only", ui))).await;
    }
    let store = deps.conversation.store();
    let chat = msg.chat.id;
    match cmd {
        ExpertCmd::Queue => {
            let (text, buttons) = experts::queue_page(store.as_ref(), &k.kb, l, 0).await?;
            let req = bot
                .send_message(chat, text)
                .parse_mode(ParseMode::Html)
                .reply_markup(InlineKeyboardMarkup::new(keyboard(&buttons)));
            bot.send_to(chat, req).await?;
        }
        ExpertCmd::Stats => {
            // This instance's latest counts first (others write theirs within seconds).
            deps.conversation.flush_counters().await;
            let text = experts::stats(store.as_ref(), chrono::Utc::now().date_naive()).await?;
            send_pre(&bot, chat, &text).await?;
        }
        ExpertCmd::Export(arg) => {
            let arg = arg.trim();
            let since = if arg.is_empty() {
                None
            } else {
                match chrono::NaiveDate::parse_from_str(arg, "%Y-%m-%d") {
                    Ok(d) => Some(crate::storage::day_start(d)),
                    Err(_) => {
                        let text = escape(k.kb.t("expert_export_usage", l));
                        return say(&bot, chat, Some(msg.id), text).await;
                    }
                }
            };
            let rows = store.export(since).await?;
            let csv = experts::export_csv(&rows)?;
            let name = format!(
                "jardam-questions-{}.csv",
                chrono::Utc::now().format("%Y%m%d-%H%M")
            );
            let req = bot
                .send_document(chat, InputFile::memory(csv.into_bytes()).file_name(name))
                .caption(format!("{} rows", rows.len()));
            bot.send_to(chat, req).await?;
        }
        ExpertCmd::Learned => {
            let snippet = experts::learned_snippet(store.as_ref(), &k.kb).await?;
            if snippet.trim().is_empty() {
                say(&bot, chat, None, escape(k.kb.t("expert_learned_empty", l))).await?;
            } else if utf16_len(&snippet) <= MESSAGE_LIMIT - 100 {
                say(&bot, chat, None, format!("<pre>{}</pre>", escape(&snippet))).await?;
            } else {
                let file = InputFile::memory(snippet.into_bytes()).file_name("learned.toml");
                bot.send_to(chat, bot.send_document(chat, file)).await?;
            }
        }
        ExpertCmd::Overdue => {
            let now = deps.conversation.clock().now();
            let text = experts::overdue(store.as_ref(), deps.config.promise, now, 50).await?;
            send_pre(&bot, chat, &text).await?;
        }
        ExpertCmd::Report(arg) => bench::radar_report(&bot, &deps, &msg, &arg).await?,
        ExpertCmd::Template(name) => bench::templates(&bot, &deps, &msg, &name).await?,
        ExpertCmd::Note(text) => bench::note(&bot, &deps, &msg, &text).await?,
        ExpertCmd::Same(into) => bench::same(&bot, &deps, &msg, &into).await?,
        ExpertCmd::Reload => match deps.conversation.reload(&deps.config.dialogues).await {
            Ok(entries) => {
                log::info!("knowledge base reloaded by an expert: {entries} entries");
                let k = deps.conversation.knowledge();
                let text = k.kb.interface.fill(
                    "expert_reload_ok",
                    l,
                    &[("entries", &entries.to_string())],
                );
                say(&bot, chat, Some(msg.id), escape(&text)).await?;
            }
            Err(problems) => {
                log::warn!("knowledge base reload refused:\n{problems}");
                let head = escape(k.kb.t("expert_reload_failed", l));
                let mut body: String = problems.chars().take(3500).collect();
                if body.len() < problems.len() {
                    body.push('…');
                }
                say(
                    &bot,
                    chat,
                    Some(msg.id),
                    format!("{head}\n<pre>{}</pre>", escape(&body)),
                )
                .await?;
            }
        },
    }
    Ok(())
}

/// Plain text in `<pre>` blocks, split where Telegram needs it.
async fn send_pre(bot: &TgBot, chat: ChatId, text: &str) -> HandlerResult {
    for part in split_for_telegram(text, MESSAGE_LIMIT - 200) {
        say(bot, chat, None, format!("<pre>{}</pre>", escape(&part))).await?;
    }
    Ok(())
}
