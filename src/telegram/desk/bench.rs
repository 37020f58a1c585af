//! The experts' workbench in Telegram: "✋ I'll answer", "Answer with template…", `/note` and
//! `/same N` as replies to a post, posts written again as they stand (who holds them, notes,
//! who answered, the rating), and the overdue round. The core decides
//! ([`crate::bot::workbench`]); this sends.

use super::{deliver, expert_name, lang, report, say};
use crate::bot::Button;
use crate::bot::desk::unanswered;
use crate::bot::workbench::Done;
use crate::experts;
use crate::kb::flow::show_day;
use crate::kb::html::escape;
use crate::kb::templates;
use crate::model::Question;
use crate::radar::{self, Labels, RangeError};
use crate::telegram::{Deps, HandlerResult, TgBot, keyboard, send_reply};
use chrono::NaiveDate;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardMarkup, InputFile, MessageId, ParseMode};

/// Writes each post again as it stands now (all its questions, open or not).
pub async fn write_posts(bot: &TgBot, deps: &Deps, posts: &[(i64, i32)]) {
    for &(chat, message) in posts {
        match deps.conversation.store().posted_as(chat, message).await {
            Ok(group) => super::posts::edit_post(bot, deps, chat, message, &group).await,
            Err(e) => log::warn!("post not written again: {e:#}"),
        }
    }
}

/// What an action came to, under the expert's message (HTML), and the posts it changed.
async fn show(bot: &TgBot, deps: &Deps, msg: &Message, done: Done) -> HandlerResult {
    say(bot, msg.chat.id, Some(msg.id), done.text).await?;
    write_posts(bot, deps, &done.refresh).await;
    for ((chat, message), text) in done.merged_away {
        let r = bot
            .edit_message_text(ChatId(chat), MessageId(message), text)
            .parse_mode(ParseMode::Html)
            .reply_markup(InlineKeyboardMarkup::default())
            .await;
        if let Err(e) = r {
            log::warn!("joined post not edited: {e}");
        }
    }
    Ok(())
}

/// The post an expert's `/note` or `/same` answers, with its questions; `None` (and the
/// expert told) when the message answers no post of a question.
async fn replied_post(
    bot: &TgBot,
    deps: &Deps,
    msg: &Message,
) -> anyhow::Result<Option<Vec<Question>>> {
    let posted = match msg.reply_to_message() {
        Some(r) => {
            deps.conversation
                .store()
                .posted_as(msg.chat.id.0, r.id.0)
                .await?
        }
        None => Vec::new(),
    };
    if posted.is_empty() {
        let k = deps.conversation.knowledge();
        let text = escape(k.kb.t("expert_reply_to_post", lang(deps)));
        say(bot, msg.chat.id, Some(msg.id), text).await?;
        return Ok(None);
    }
    Ok(Some(posted))
}

/// `/note <text>` as a reply to a post.
pub async fn note(bot: &TgBot, deps: &Deps, msg: &Message, text: &str) -> HandlerResult {
    let Some(posted) = replied_post(bot, deps, msg).await? else {
        return Ok(());
    };
    let expert = expert_name(msg.from.as_ref());
    let done = deps
        .conversation
        .note(&posted, &expert, text, lang(deps))
        .await?;
    show(bot, deps, msg, done).await
}

/// `/same <N>` as a reply to a post.
pub async fn same(bot: &TgBot, deps: &Deps, msg: &Message, into: &str) -> HandlerResult {
    let Some(posted) = replied_post(bot, deps, msg).await? else {
        return Ok(());
    };
    let done = deps.conversation.same_as(&posted, into, lang(deps)).await?;
    show(bot, deps, msg, done).await
}

/// `/template`: the templates there are, by name; `/template NAME`: that one's text in the
/// expert chat's language. Templates are edited in `dialogues/templates.toml`, not here.
pub async fn templates(bot: &TgBot, deps: &Deps, msg: &Message, name: &str) -> HandlerResult {
    let k = deps.conversation.knowledge();
    let l = lang(deps);
    let name = name.trim();
    if !name.is_empty() {
        let text = match k.kb.template(name) {
            Some(t) => format!("<b>{}</b>\n\n{}", escape(&t.name), t.text(l)),
            // Never echoed as it came: it may be long or carry markup.
            None => {
                let shown: String = name.chars().take(templates::NAME_MAX).collect();
                escape(
                    &k.kb
                        .interface
                        .fill("expert_template_unknown", l, &[("name", &shown)]),
                )
            }
        };
        return say(bot, msg.chat.id, Some(msg.id), text).await;
    }
    if k.kb.templates.is_empty() {
        return say(
            bot,
            msg.chat.id,
            None,
            escape(k.kb.t("expert_templates_none", l)),
        )
        .await;
    }
    let mut text = format!("<b>{}</b>", escape(k.kb.t("expert_templates_title", l)));
    for t in &k.kb.templates {
        text.push_str(&format!("\n• <code>{}</code>", escape(&t.name)));
    }
    say(bot, msg.chat.id, None, text).await
}

/// "✋ I'll answer" pressed under `question`'s post.
pub async fn take(
    bot: &TgBot,
    deps: &Deps,
    q: &CallbackQuery,
    question: &Question,
) -> HandlerResult {
    let expert = expert_name(Some(&q.from));
    let done = deps
        .conversation
        .take(question, &expert, lang(deps))
        .await?;
    bot.answer_callback_query(q.id.clone())
        .text(done.text)
        .await?;
    write_posts(bot, deps, &done.refresh).await;
    Ok(())
}

/// "Answer with template…": the templates as buttons, under the post.
pub async fn offer_templates(
    bot: &TgBot,
    deps: &Deps,
    q: &CallbackQuery,
    message: &Message,
    id: i64,
) -> HandlerResult {
    let k = deps.conversation.knowledge();
    let l = lang(deps);
    if k.kb.templates.is_empty() {
        bot.answer_callback_query(q.id.clone())
            .text(k.kb.t("expert_templates_none", l))
            .await?;
        return Ok(());
    }
    bot.answer_callback_query(q.id.clone()).await?;
    let buttons: Vec<Vec<Button>> =
        k.kb.templates
            .iter()
            .map(|t| {
                vec![Button::cb(
                    t.name.clone(),
                    experts::data::template(id, &t.name),
                )]
            })
            .collect();
    let number = id.to_string();
    let text =
        k.kb.interface
            .fill("expert_templates_for", l, &[("number", &number)]);
    bot.send_message(message.chat.id, escape(&text))
        .parse_mode(ParseMode::Html)
        .reply_parameters(
            teloxide::types::ReplyParameters::new(message.id).allow_sending_without_reply(),
        )
        .reply_markup(InlineKeyboardMarkup::new(keyboard(&buttons)))
        .await?;
    Ok(())
}

/// A template pressed for the questions of `posted`: sent to each person not answered yet in
/// their language, recorded like a reply. Returns the report for the expert chat, or `None`
/// when there was nothing to do (the button says why).
pub async fn answer_with_template(
    bot: &TgBot,
    deps: &Deps,
    q: &CallbackQuery,
    posted: Vec<Question>,
    name: &str,
) -> anyhow::Result<Option<String>> {
    let c = &deps.conversation;
    let k = c.knowledge();
    let l = lang(deps);
    let Some(template) = k.kb.template(name) else {
        bot.answer_callback_query(q.id.clone())
            .text(
                k.kb.interface
                    .fill("expert_no_template", l, &[("name", name)]),
            )
            .await?;
        return Ok(None);
    };
    let number = posted.first().map(|p| p.id.to_string()).unwrap_or_default();
    let targets = unanswered(posted);
    if targets.is_empty() {
        bot.answer_callback_query(q.id.clone())
            .text(
                k.kb.interface
                    .fill("expert_already_answered", l, &[("number", &number)]),
            )
            .await?;
        return Ok(None);
    }
    bot.answer_callback_query(q.id.clone()).await?;
    let expert = expert_name(Some(&q.from));
    let stored = format!("template: {name}");
    let sent = deliver(bot, deps, &targets, (&stored, &expert), |l| {
        template.text(l)
    })
    .await?;
    log::info!(
        "template answer to question {number}: {} delivered, {} blocked, {} failed",
        sent.delivered,
        sent.blocked,
        sent.failed
    );
    Ok(Some(report(deps, &sent)))
}

/// One overdue round: the list to the expert chat (when there is one), and each asker told.
/// Returns how many people were told.
pub async fn send_overdue(bot: &TgBot, deps: &Deps) -> anyhow::Result<usize> {
    let c = &deps.conversation;
    let Some(round) = c.overdue_round(deps.config.promise, lang(deps)).await? else {
        return Ok(0);
    };
    if let Some(chat) = deps.config.expert_chat {
        let chat = ChatId(chat);
        let req = bot
            .send_message(chat, round.experts)
            .parse_mode(ParseMode::Html);
        if let Err(e) = bot.send_to(chat, req).await {
            log::warn!("overdue list not sent to the expert chat: {e}");
        }
    }
    let mut told = 0;
    for (chat, reply) in &round.people {
        match send_reply(bot, ChatId(*chat), reply).await {
            Ok(()) => told += 1,
            Err(e) => log::warn!("an overdue notice was not delivered: {e}"),
        }
    }
    Ok(told)
}

/// The radar of `since..=until` as a photo for `chat`, with `caption_key`'s caption; a range
/// that cannot be drawn gets its reason instead (HTML).
async fn send_radar(
    bot: &TgBot,
    deps: &Deps,
    chat: ChatId,
    (since, until): (NaiveDate, NaiveDate),
    caption_key: &str,
) -> anyhow::Result<Result<(), String>> {
    let c = &deps.conversation;
    let k = c.knowledge();
    let l = lang(deps);
    c.flush_counters().await;
    let i = &k.kb.interface;
    let (from, to) = (show_day(since), show_day(until));
    let radar = match radar::build(c.store().as_ref(), &k.kb, l, since, until).await {
        Ok(r) => r,
        Err(e) => {
            let text = match e.downcast_ref::<RangeError>() {
                Some(RangeError::Reversed { .. }) => i.fill(
                    "expert_report_reversed",
                    l,
                    &[("since", &from), ("until", &to)],
                ),
                Some(RangeError::TooLong) => {
                    let days = radar::MAX_DAYS.to_string();
                    i.fill("expert_report_too_long", l, &[("days", &days)])
                }
                Some(RangeError::Empty { .. }) => i.fill(
                    "expert_report_empty",
                    l,
                    &[("since", &from), ("until", &to)],
                ),
                None => return Err(e),
            };
            return Ok(Err(escape(&text)));
        }
    };
    let png = radar::render::png(&radar, &Labels::of(&k.kb, l))?;
    let caption = i.fill(caption_key, l, &[("since", &from), ("until", &to)]);
    let name = format!("radar-{since}-{until}.png");
    let req = bot
        .send_photo(chat, InputFile::memory(png).file_name(name))
        .caption(caption);
    bot.send_to(chat, req).await?;
    Ok(Ok(()))
}

/// `/report [FROM [TO]]`: the radar of those days (YYYY-MM-DD; by default the last 7 days).
pub async fn radar_report(bot: &TgBot, deps: &Deps, msg: &Message, arg: &str) -> HandlerResult {
    let k = deps.conversation.knowledge();
    let today = deps.conversation.clock().today();
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    let words: Vec<&str> = arg.split_whitespace().collect();
    let range = match words.as_slice() {
        [] => Some((today - chrono::Days::new(6), today)),
        [from] => day(from).map(|f| (f, today)),
        [from, to] => day(from).zip(day(to)),
        _ => None,
    };
    let Some(range) = range else {
        let text = escape(k.kb.t("expert_report_usage", lang(deps)));
        return say(bot, msg.chat.id, Some(msg.id), text).await;
    };
    if let Err(reason) = send_radar(bot, deps, msg.chat.id, range, "expert_report_caption").await? {
        say(bot, msg.chat.id, Some(msg.id), reason).await?;
    }
    Ok(())
}

/// The weekly digest, when it is due and this instance is the first to claim the week: the
/// radar of the 7 days before it, posted to the expert chat. `true` when posted.
pub async fn send_digest(bot: &TgBot, deps: &Deps) -> anyhow::Result<bool> {
    let (Some(chat), Some(digest)) = (deps.config.expert_chat, deps.config.digest) else {
        return Ok(false);
    };
    let now = deps.conversation.clock().now();
    let Some(key) = digest.due(now) else {
        return Ok(false);
    };
    let seen = deps
        .digest_done
        .lock()
        .is_ok_and(|k| k.as_deref() == Some(key.as_str()));
    if seen {
        return Ok(false);
    }
    let store = deps.conversation.store();
    let ours = store.once(&key, super::instance_id()).await?;
    if let Ok(mut k) = deps.digest_done.lock() {
        *k = Some(key.clone());
    }
    if !ours {
        return Ok(false);
    }
    let until = now.date_naive() - chrono::Days::new(1);
    let range = (until - chrono::Days::new(6), until);
    match send_radar(bot, deps, ChatId(chat), range, "expert_digest_caption").await? {
        Ok(()) => Ok(true),
        // A quiet week: said in words instead.
        Err(reason) => {
            say(bot, ChatId(chat), None, reason).await?;
            Ok(true)
        }
    }
}
