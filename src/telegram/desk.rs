//! The expert desk in Telegram: stored questions are posted to the experts' chat; an expert's
//! reply, or an "Answer with <entry>" button, goes back to the person; "Dismiss" closes a
//! question; `/queue`, `/stats`, `/export`, `/learned` and `/reload` serve the experts.
//!
//! Everything that must survive a restart or be seen by another instance is in the database:
//! which message a question was posted as (replies find their question through it), whether it
//! was answered and delivered, and the claim that keeps two instances from posting the same
//! question. What the posts say is rendered by [`crate::experts`].

mod bench;
mod commands;
mod posts;

pub use bench::{send_digest, send_overdue, write_posts};
pub use commands::{ExpertCmd, on_expert_command};
pub use posts::{
    REFRESH_EVERY, Refreshes, post_question, post_unposted, refresh_post, withdraw_post,
};

use super::{Deps, HandlerResult, TgBot, keyboard};
use crate::bot::desk::unanswered;
use crate::bot::desk::{Delivery, Sent};
use crate::experts::{self, ExpertAction, OnQuestion};
use crate::kb::html::escape;
use crate::kb::html::{MESSAGE_LIMIT, utf16_len};
use crate::model::{Question, QuestionStatus};
use std::sync::OnceLock;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardMarkup, MessageId, ParseMode, ReplyParameters, User};
use teloxide::utils::render::RenderMessageTextHelper;
use teloxide::{ApiError, RequestError};

/// This process's name in posting claims.
pub fn instance_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "host".into());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        format!("{host}-{}-{nanos:x}", std::process::id())
    })
}

fn lang(deps: &Deps) -> crate::lang::Lang {
    deps.config.expert_lang
}

/// The expert chat, or privately someone listed in `JARDAM_EXPERTS`.
fn is_expert(deps: &Deps, chat: &teloxide::types::Chat, user: Option<&User>) -> bool {
    if deps.config.expert_chat == Some(chat.id.0) {
        return true;
    }
    chat.is_private() && user.is_some_and(|u| deps.config.experts.contains(&u.id.0))
}

/// Who answered, as stored with the answer.
fn expert_name(user: Option<&User>) -> String {
    match user {
        Some(u) => format!("{} ({})", u.full_name(), u.id),
        None => "expert".into(),
    }
}

fn blocked(e: &RequestError) -> bool {
    matches!(
        e,
        RequestError::Api(
            ApiError::BotBlocked
                | ApiError::UserDeactivated
                | ApiError::ChatNotFound
                | ApiError::BotKicked
        )
    )
}

/// A send's result as the desk (and the reminders) record it.
pub(super) fn delivery(result: Result<(), RequestError>) -> Delivery {
    match result {
        Ok(()) => Delivery::Delivered,
        Err(e) if blocked(&e) => Delivery::Blocked,
        Err(e) => {
            log::warn!("a message to a person was not sent: {e}");
            Delivery::Failed
        }
    }
}

/// The confirmation of `sent` for the expert chat.
fn report(deps: &Deps, sent: &Sent) -> String {
    sent.report(&deps.conversation.knowledge().kb, lang(deps))
}

/// An expert's answer under the header "Answer from an expert", in each person's language:
/// `html` in that language, stored as `stored` (answer, expert), with the rating buttons.
async fn deliver<'a>(
    bot: &TgBot,
    deps: &Deps,
    questions: &[Question],
    stored: (&str, &str),
    html: impl Fn(crate::lang::Lang) -> &'a str,
) -> anyhow::Result<Sent> {
    let c = &deps.conversation;
    let k = c.knowledge();
    let mut sent = Sent::default();
    for p in c.answer_to(questions, Some(stored)).await? {
        let header = escape(k.kb.t("expert_answer_header", p.lang));
        let rating = vec![c.rating_buttons(p.lang, p.ids[0])];
        let text = html(p.lang);
        let result = send_with_header(bot, ChatId(p.chat), &header, text, &rating).await;
        c.record_delivery(&mut sent, &p.ids, delivery(result))
            .await?;
    }
    Ok(sent)
}

/// `<b>header</b>` and the answer in one message, or two when together they are too long;
/// `buttons` under the answer.
async fn send_with_header(
    bot: &TgBot,
    chat: ChatId,
    header: &str,
    html: &str,
    buttons: &[Vec<crate::bot::Button>],
) -> Result<(), RequestError> {
    let visible = utf16_len(html) + utf16_len(header) + 2;
    let markup = InlineKeyboardMarkup::new(keyboard(buttons));
    if visible <= MESSAGE_LIMIT {
        bot.send_to(
            chat,
            bot.send_message(chat, format!("<b>{header}</b>\n\n{html}"))
                .parse_mode(ParseMode::Html)
                .reply_markup(markup),
        )
        .await?;
    } else {
        bot.send_to(
            chat,
            bot.send_message(chat, format!("<b>{header}</b>"))
                .parse_mode(ParseMode::Html),
        )
        .await?;
        bot.send_to(
            chat,
            bot.send_message(chat, html.to_string())
                .parse_mode(ParseMode::Html)
                .reply_markup(markup),
        )
        .await?;
    }
    Ok(())
}

/// After an action that needs no more: the question's post is written again (how it ended,
/// no buttons), and a message of other buttons that was pressed (the list of templates, "send
/// again?") loses its buttons.
async fn close_post(
    bot: &TgBot,
    deps: &Deps,
    question: &Question,
    chat: ChatId,
    pressed: MessageId,
) {
    let post = question.expert_chat_id.zip(question.expert_message_id);
    bench::write_posts(bot, deps, &post.into_iter().collect::<Vec<_>>()).await;
    if post != Some((chat.0, pressed.0)) {
        if let Err(e) = bot.edit_message_reply_markup(chat, pressed).await {
            log::debug!("buttons not removed: {e}");
        }
    }
}

/// The questions shown as `question`'s post (itself alone when it is not posted).
async fn post_questions(deps: &Deps, question: &Question) -> anyhow::Result<Vec<Question>> {
    Ok(
        match (question.expert_chat_id, question.expert_message_id) {
            (Some(c), Some(m)) => deps.conversation.store().posted_as(c, m).await?,
            _ => vec![question.clone()],
        },
    )
}

async fn say(
    bot: &TgBot,
    chat: ChatId,
    reply_to: Option<MessageId>,
    html: String,
) -> HandlerResult {
    let mut req = bot.send_message(chat, html).parse_mode(ParseMode::Html);
    if let Some(id) = reply_to {
        req = req.reply_parameters(ReplyParameters::new(id).allow_sending_without_reply());
    }
    bot.send_to(chat, req).await?;
    Ok(())
}

/// A message in the expert chat. Only replies to the bot's posts matter; the rest is the
/// experts' own conversation and is left alone.
pub async fn on_expert_message(bot: TgBot, msg: Message, deps: Deps) -> HandlerResult {
    let Some(replied) = msg.reply_to_message() else {
        return Ok(());
    };
    let k = deps.conversation.knowledge();
    let l = lang(&deps);
    let store = deps.conversation.store();
    let posted = store.posted_as(msg.chat.id.0, replied.id.0).await?;
    if posted.is_empty() {
        if replied.from.as_ref().is_some_and(|u| u.is_bot) {
            let text = escape(k.kb.t("expert_reply_unknown", l));
            say(&bot, msg.chat.id, Some(msg.id), text).await?;
        }
        return Ok(());
    }
    let Some(html) = reply_html(&msg) else {
        let text = escape(k.kb.t("expert_reply_empty", l));
        return say(&bot, msg.chat.id, Some(msg.id), text).await;
    };
    let targets = unanswered(posted.clone());
    if targets.is_empty() {
        return offer_send_again(&bot, &deps, &msg, &posted[0]).await;
    }
    let expert = expert_name(msg.from.as_ref());
    let sent = deliver(&bot, &deps, &targets, (&html, &expert), |_| &html).await?;
    log::info!(
        "expert answer to question {}: {} delivered, {} blocked, {} failed",
        targets[0].id,
        sent.delivered,
        sent.blocked,
        sent.failed
    );
    say(&bot, msg.chat.id, Some(msg.id), report(&deps, &sent)).await?;
    close_post(&bot, &deps, &posted[0], msg.chat.id, replied.id).await;
    Ok(())
}

/// An expert's reply as HTML: their formatting (bold, links) kept, a message without any
/// escaped; `None` when it has no text.
fn reply_html(msg: &Message) -> Option<String> {
    match (msg.text(), msg.entities()) {
        (Some(_), Some(e)) if !e.is_empty() => msg.html_text(),
        (Some(t), _) => Some(escape(t)),
        _ => None,
    }
    .filter(|h| !h.trim().is_empty())
}

/// A reply to a post whose questions are all answered: asks before sending a second answer.
async fn offer_send_again(
    bot: &TgBot,
    deps: &Deps,
    msg: &Message,
    first: &Question,
) -> HandlerResult {
    let k = deps.conversation.knowledge();
    let l = lang(deps);
    let number = first.id.to_string();
    let text =
        k.kb.interface
            .fill("expert_already_answered", l, &[("number", &number)]);
    let buttons = vec![vec![crate::bot::Button::cb(
        k.kb.t("expert_btn_send_again", l),
        experts::data::send_again(first.id, msg.id.0),
    )]];
    bot.send_message(msg.chat.id, escape(&text))
        .parse_mode(ParseMode::Html)
        .reply_parameters(ReplyParameters::new(msg.id).allow_sending_without_reply())
        .reply_markup(InlineKeyboardMarkup::new(keyboard(&buttons)))
        .await?;
    Ok(())
}

/// An expert button (`x:…` data). Pressed anywhere but the expert chat or an expert's private
/// chat, it is refused.
pub async fn on_expert_callback(
    bot: TgBot,
    q: CallbackQuery,
    action: ExpertAction,
    deps: Deps,
) -> HandlerResult {
    let k = deps.conversation.knowledge();
    let l = lang(&deps);
    let Some(message) = q.regular_message().cloned() else {
        bot.answer_callback_query(q.id).await?;
        return Ok(());
    };
    if !is_expert(&deps, &message.chat, Some(&q.from)) {
        bot.answer_callback_query(q.id)
            .text(k.kb.t("expert_only", l))
            .await?;
        return Ok(());
    }
    match action {
        ExpertAction::Queue(offset) => {
            bot.answer_callback_query(q.id).await?;
            let store = deps.conversation.store();
            let (text, buttons) = experts::queue_page(store.as_ref(), &k.kb, l, offset).await?;
            bot.edit_message_text(message.chat.id, message.id, text)
                .parse_mode(ParseMode::Html)
                .reply_markup(InlineKeyboardMarkup::new(keyboard(&buttons)))
                .await?;
            Ok(())
        }
        ExpertAction::Question(id, on) => {
            on_question_button(&bot, &deps, &q, &message, id, on).await
        }
    }
}

/// A button under question `id`'s post: dismiss, answer with an entry, or send again.
async fn on_question_button(
    bot: &TgBot,
    deps: &Deps,
    q: &CallbackQuery,
    message: &Message,
    id: i64,
    on: OnQuestion,
) -> HandlerResult {
    let k = deps.conversation.knowledge();
    let l = lang(deps);
    let store = deps.conversation.store();
    let chat = message.chat.id;
    // The post the button belongs to, with all its questions. Gone (the person used /forget,
    // or forged data): say so on the button.
    let Some(question) = store.question(id).await? else {
        bot.answer_callback_query(q.id.clone())
            .text(k.kb.t("expert_reply_unknown", l))
            .await?;
        return Ok(());
    };
    // Taking it and the list of templates need the question only.
    match on {
        OnQuestion::Take => return bench::take(bot, deps, q, &question).await,
        OnQuestion::Templates => return bench::offer_templates(bot, deps, q, message, id).await,
        _ => {}
    }
    let posted = post_questions(deps, &question).await?;
    let number = question.id.to_string();
    let already =
        k.kb.interface
            .fill("expert_already_answered", l, &[("number", &number)]);
    // What to say under the post; `None` when the button only got its notice.
    let said = match on {
        OnQuestion::Dismiss => {
            if deps.conversation.dismiss(posted).await? {
                bot.answer_callback_query(q.id.clone()).await?;
                let text =
                    k.kb.interface
                        .fill("expert_dismissed", l, &[("number", &number)]);
                Some(escape(&text))
            } else {
                bot.answer_callback_query(q.id.clone())
                    .text(already)
                    .await?;
                None
            }
        }
        OnQuestion::AnswerWith(entry) => {
            answer_with_pressed(bot, deps, q, message, posted, &entry, already).await?
        }
        // Answered before the post was read.
        OnQuestion::Take | OnQuestion::Templates => None,
        OnQuestion::Template(name) => {
            bench::answer_with_template(bot, deps, q, posted, &name).await?
        }
        OnQuestion::SendAgain(reply_message) => {
            bot.answer_callback_query(q.id.clone()).await?;
            let sent = send_again(bot, deps, posted, chat, MessageId(reply_message)).await?;
            Some(report(deps, &sent))
        }
    };
    if let Some(text) = said {
        say(bot, chat, Some(message.id), text).await?;
        close_post(bot, deps, &question, chat, message.id).await;
    }
    Ok(())
}

/// "Answer with <entry>": the entry's FAQ answer to everyone in the post not yet answered.
/// Returns what to say under the post, or `None` when all were answered already (the button
/// says so). An entry a reload removed is reported, and the post stays open.
async fn answer_with_pressed(
    bot: &TgBot,
    deps: &Deps,
    q: &CallbackQuery,
    message: &Message,
    posted: Vec<Question>,
    entry: &str,
    already: String,
) -> anyhow::Result<Option<String>> {
    let k = deps.conversation.knowledge();
    if k.kb.entry(entry).is_none() {
        bot.answer_callback_query(q.id.clone()).await?;
        let text =
            k.kb.interface
                .fill("expert_no_entry", lang(deps), &[("entry", entry)]);
        say(bot, message.chat.id, Some(message.id), escape(&text)).await?;
        return Ok(None);
    }
    let targets = unanswered(posted);
    if targets.is_empty() {
        bot.answer_callback_query(q.id.clone())
            .text(already)
            .await?;
        return Ok(None);
    }
    bot.answer_callback_query(q.id.clone()).await?;
    let expert = expert_name(Some(&q.from));
    Ok(Some(
        answer_with(bot, deps, &targets, entry, &expert).await?,
    ))
}

/// "Send again": the expert's new reply `reply`, copied as written (the bot keeps no copy of
/// texts it did not deliver), to everyone whose question in the post was answered.
async fn send_again(
    bot: &TgBot,
    deps: &Deps,
    posted: Vec<Question>,
    chat: ChatId,
    reply: MessageId,
) -> anyhow::Result<Sent> {
    let k = deps.conversation.knowledge();
    let answered: Vec<Question> = posted
        .into_iter()
        .filter(|q| q.status == QuestionStatus::Answered)
        .collect();
    let mut sent = Sent::default();
    for p in deps.conversation.answer_to(&answered, None).await? {
        let header = escape(k.kb.t("expert_answer_header", p.lang));
        let to = ChatId(p.chat);
        let result = async {
            let head = bot.send_message(to, format!("<b>{header}</b>"));
            bot.send_to(to, head.parse_mode(ParseMode::Html)).await?;
            bot.send_to(to, bot.copy_message(to, chat, reply)).await?;
            Ok(())
        }
        .await;
        deps.conversation
            .record_delivery(&mut sent, &p.ids, delivery(result))
            .await?;
    }
    Ok(sent)
}

/// "Answer with <entry>" to `targets`, and the matcher taught their wordings: the report for
/// the expert chat.
async fn answer_with(
    bot: &TgBot,
    deps: &Deps,
    targets: &[Question],
    entry: &str,
    expert: &str,
) -> anyhow::Result<String> {
    let sent = answer_with_entry(bot, deps, targets, entry, expert).await?;
    let mut report = report(deps, &sent);
    if deps.conversation.learn(targets, entry, expert).await? {
        let k = deps.conversation.knowledge();
        let learned =
            k.kb.interface
                .fill("expert_learned", lang(deps), &[("entry", entry)]);
        report.push('\n');
        report.push_str(&escape(&learned));
    }
    Ok(report)
}

/// "Answer with <entry>": the FAQ answer, as each person would get it, under the expert header.
async fn answer_with_entry(
    bot: &TgBot,
    deps: &Deps,
    questions: &[Question],
    entry: &str,
    expert: &str,
) -> anyhow::Result<Sent> {
    let k = deps.conversation.knowledge();
    let stored = format!("FAQ: {entry}");
    let mut sent = Sent::default();
    for p in deps
        .conversation
        .answer_to(questions, Some((&stored, expert)))
        .await?
    {
        // The entry was checked before; gone in a reload since, the empty text fails the send,
        // which the expert then sees as not sent.
        let reply = deps
            .conversation
            .faq_reply(p.chat, entry, p.lang, p.ids[0])
            .await
            .unwrap_or_default();
        let header = escape(k.kb.t("expert_answer_header", p.lang));
        let result = bot
            .send_to(
                ChatId(p.chat),
                bot.send_message(ChatId(p.chat), format!("<b>{header}</b>\n\n{}", reply.text))
                    .parse_mode(ParseMode::Html)
                    .reply_markup(InlineKeyboardMarkup::new(keyboard(&reply.buttons))),
            )
            .await
            .map(|_| ());
        deps.conversation
            .record_delivery(&mut sent, &p.ids, delivery(result))
            .await?;
    }
    Ok(sent)
}
