//! The expert desk in Telegram: stored questions are posted to the experts' chat; an expert's
//! reply, or an "Answer with <entry>" button, goes back to the person; "Dismiss" closes a
//! question; `/queue`, `/stats`, `/export`, `/learned` and `/reload` serve the experts.
//!
//! Everything that must survive a restart or be seen by another instance is in the database:
//! which message a question was posted as (replies find their question through it), whether it
//! was answered and delivered, and the claim that keeps two instances from posting the same
//! question. What the posts say is rendered by [`crate::experts`].

use super::{Deps, HandlerResult, TgBot, keyboard};
use crate::bot::desk::unanswered;
use crate::bot::desk::{Delivery, Placement, Sent};
use crate::experts::{self, ExpertAction, MESSAGE_LIMIT, OnQuestion, Post};
use crate::storage::{Question, QuestionKind, QuestionStatus};
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use teloxide::prelude::*;
use teloxide::types::{
    InlineKeyboardMarkup, InputFile, MessageId, ParseMode, ReplyParameters, User,
};
use teloxide::utils::command::BotCommands;
use teloxide::utils::html::escape;
use teloxide::utils::render::RenderMessageTextHelper;
use teloxide::{ApiError, RequestError};

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
}

/// How long one instance may take to post a question before another may try.
const POST_LEASE: Duration = Duration::from_secs(60);

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

/// Posts question `id` to the expert chat, unless it is already posted, resolved, or being
/// posted by another instance (see [`crate::bot::Conversation::place_question`]): a question like one
/// already posted and open joins that post ("asked by N people") instead of getting its own.
pub async fn post_question(bot: &TgBot, deps: &Deps, id: i64) -> anyhow::Result<()> {
    let Some(chat) = deps.config.expert_chat else {
        // No expert chat configured: the question waits in the database (`jardam queue`).
        return Ok(());
    };
    let conversation = &deps.conversation;
    let q = match conversation
        .place_question(id, chat, instance_id(), POST_LEASE)
        .await?
    {
        Placement::Nothing => return Ok(()),
        Placement::JoinedGroup { message } => {
            refresh_post(bot, deps, chat, message).await;
            return Ok(());
        }
        Placement::JoinedOwn {
            message,
            group,
            edit,
        } => {
            if edit {
                edit_post(bot, deps, chat, message, &group).await;
            }
            return Ok(());
        }
        Placement::New(q) => q,
    };
    let k = conversation.knowledge();
    let post = experts::render_post(&k.kb, lang(deps), std::slice::from_ref(&q));
    let message = match send_post(bot, ChatId(chat), &q, &post).await {
        Ok(m) => m,
        Err(e) => {
            conversation.post_failed(q.id, instance_id()).await;
            return Err(e);
        }
    };
    if let Err(e) = conversation.posted(&q, chat, message.0).await {
        // Without its mapping the post is an orphan: a reply to it would find no question,
        // and the question is posted again by the re-posting task. Take it back, so that
        // experts see one post per question.
        if let Err(d) = bot.delete_message(ChatId(chat), message).await {
            log::warn!("orphan post of question {} not deleted: {d}", q.id);
        }
        return Err(e);
    }
    if q.urgent {
        if let Err(e) = bot.pin_chat_message(ChatId(chat), message).await {
            log::warn!("urgent question {} not pinned: {e}", q.id);
        }
    }
    log::info!("question {} posted to the expert chat", q.id);
    Ok(())
}

/// Sends a post: long texts in full first; voice messages and photos copied with the post as
/// their caption, so experts hear or see them and reply to them like to any post.
async fn send_post(
    bot: &TgBot,
    chat: ChatId,
    q: &Question,
    post: &Post,
) -> anyhow::Result<MessageId> {
    let markup = InlineKeyboardMarkup::new(keyboard(&post.buttons));
    if let (QuestionKind::Voice | QuestionKind::Photo, Some(media)) = (q.kind, q.media) {
        let req = bot
            .copy_message(
                chat,
                ChatId(media.from_chat_id),
                MessageId(media.message_id),
            )
            .caption(post.text.clone())
            .parse_mode(ParseMode::Html)
            .reply_markup(markup);
        return Ok(bot.send_to(chat, req).await?);
    }
    let mut first = None;
    for part in &post.preface {
        let m = bot
            .send_to(chat, bot.send_message(chat, part.clone()))
            .await?;
        first.get_or_insert(m.id);
    }
    let mut req = bot
        .send_message(chat, post.text.clone())
        .parse_mode(ParseMode::Html)
        .reply_markup(markup);
    if let Some(first) = first {
        req = req.reply_parameters(ReplyParameters::new(first));
    }
    Ok(bot.send_to(chat, req).await?.id)
}

/// How often one expert post is re-rendered at most ("asked by N people"), across instances:
/// a surge of askers is one edit every few seconds, within Telegram's 20 a minute in a group.
pub const REFRESH_EVERY: Duration = Duration::from_secs(3);

/// The posts this instance will refresh once [`REFRESH_EVERY`] has passed.
#[derive(Default)]
pub struct Refreshes {
    due: Mutex<HashSet<(i64, i32)>>,
}

impl Refreshes {
    /// Marks a post as due; false when it was already.
    fn mark(&self, chat: i64, message: i32) -> bool {
        self.due
            .lock()
            .expect("refresh lock")
            .insert((chat, message))
    }

    fn unmark(&self, chat: i64, message: i32) {
        self.due
            .lock()
            .expect("refresh lock")
            .remove(&(chat, message));
    }
}

/// Re-renders a group's post after someone else asked the same: at once when no instance
/// did within [`REFRESH_EVERY`] and the send limits have room now, else once later, however
/// many more join meanwhile. Refreshes never wait for the send limits: answers to people go
/// first.
async fn refresh_post(bot: &TgBot, deps: &Deps, chat: i64, message: i32) {
    if try_refresh(bot, deps, chat, message).await || !deps.refreshes.mark(chat, message) {
        return;
    }
    let (bot, deps) = (bot.clone(), deps.clone());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(REFRESH_EVERY).await;
            // Unmarked first: a question joining during the refresh schedules the next one.
            deps.refreshes.unmark(chat, message);
            if try_refresh(&bot, &deps, chat, message).await || !deps.refreshes.mark(chat, message)
            {
                return;
            }
        }
    });
}

/// Refreshes the post now if that is allowed; false when it is to be tried later.
async fn try_refresh(bot: &TgBot, deps: &Deps, chat: i64, message: i32) -> bool {
    let store = deps.conversation.store();
    match store.claim_post_refresh(chat, message, REFRESH_EVERY).await {
        Ok(true) => {}
        Ok(false) => return false,
        Err(e) => {
            log::warn!("post refresh not claimed: {e:#}");
            return false;
        }
    }
    if !bot.may_send_now(ChatId(chat)) {
        return false;
    }
    if let Some(group) = deps.conversation.open_in_post(chat, message).await {
        edit_post(bot, deps, chat, message, &group).await;
    }
    true
}

/// Writes `group`'s post over `message`; nothing for an empty group.
async fn edit_post(bot: &TgBot, deps: &Deps, chat: i64, message: i32, group: &[Question]) {
    if group.is_empty() {
        return;
    }
    let k = deps.conversation.knowledge();
    let post = experts::render_post(&k.kb, lang(deps), group);
    let r = bot
        .edit_message_text(ChatId(chat), MessageId(message), post.text)
        .parse_mode(ParseMode::Html)
        .reply_markup(InlineKeyboardMarkup::new(keyboard(&post.buttons)))
        .await;
    if let Err(e) = r {
        log::warn!("post not refreshed: {e}");
    }
}

/// After a person's `/forget`: a post that still carries others' open questions is
/// re-rendered without theirs; any other loses its text and buttons, so that nothing of the
/// person stays with the experts. A failure is logged (the question itself is already deleted).
pub async fn withdraw_post(bot: &TgBot, deps: &Deps, chat: ChatId, message: MessageId) {
    let others = deps
        .conversation
        .open_in_post(chat.0, message.0)
        .await
        .unwrap_or_default();
    if !others.is_empty() {
        edit_post(bot, deps, chat.0, message.0, &others).await;
        return;
    }
    let text = deps
        .conversation
        .knowledge()
        .kb
        .t("expert_post_withdrawn", lang(deps))
        .to_string();
    let r = super::send(
        bot.edit_message_text(chat, message, text)
            .reply_markup(InlineKeyboardMarkup::default()),
    )
    .await;
    if let Err(e) = r {
        log::warn!("post of a forgotten question not edited: {e}");
    }
}

/// Posts every open question that is not posted yet (the retry after a failed post, a
/// restart, or a question stored while the expert chat was unreachable). Returns how many
/// were tried.
pub async fn post_unposted(bot: &TgBot, deps: &Deps) -> anyhow::Result<usize> {
    if deps.config.expert_chat.is_none() {
        return Ok(0);
    }
    let pending = deps.conversation.store().unposted_questions(50).await?;
    for q in &pending {
        if let Err(e) = post_question(bot, deps, q.id).await {
            log::warn!("question {} not posted yet: {e:#}", q.id);
        }
    }
    Ok(pending.len())
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

/// A send's result as the desk records it.
fn delivery(result: Result<(), RequestError>) -> Delivery {
    match result {
        Ok(()) => Delivery::Delivered,
        Err(e) if blocked(&e) => Delivery::Blocked,
        Err(e) => {
            log::warn!("an expert answer was not sent: {e}");
            Delivery::Failed
        }
    }
}

/// The confirmation of `sent` for the expert chat.
fn report(deps: &Deps, sent: &Sent) -> String {
    sent.report(&deps.conversation.knowledge().kb, lang(deps))
}

/// The expert's text (HTML) under the header "Answer from an expert" in each person's language.
async fn deliver_text(
    bot: &TgBot,
    deps: &Deps,
    questions: &[Question],
    html: &str,
    expert: &str,
) -> anyhow::Result<Sent> {
    let c = &deps.conversation;
    let k = c.knowledge();
    let mut sent = Sent::default();
    for p in c.answer_to(questions, Some((html, expert))).await? {
        let header = escape(k.kb.t("expert_answer_header", p.lang));
        let result = send_with_header(bot, ChatId(p.chat), &header, html).await;
        c.record_delivery(&mut sent, &p.ids, delivery(result))
            .await?;
    }
    Ok(sent)
}

/// `<b>header</b>` and the answer in one message, or two when together they are too long.
async fn send_with_header(
    bot: &TgBot,
    chat: ChatId,
    header: &str,
    html: &str,
) -> Result<(), RequestError> {
    let visible = experts::utf16_len(html) + experts::utf16_len(header) + 2;
    if visible <= MESSAGE_LIMIT {
        bot.send_to(
            chat,
            bot.send_message(chat, format!("<b>{header}</b>\n\n{html}"))
                .parse_mode(ParseMode::Html),
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
                .parse_mode(ParseMode::Html),
        )
        .await?;
    }
    Ok(())
}

/// Takes the buttons off a post that needs no more action.
async fn close_post(bot: &TgBot, chat: ChatId, message: MessageId) {
    if let Err(e) = bot.edit_message_reply_markup(chat, message).await {
        log::debug!("post buttons not removed: {e}");
    }
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
    // The expert's formatting (bold, links) is kept; a message without any has no entities.
    let html = match (msg.text(), msg.entities()) {
        (Some(_), Some(e)) if !e.is_empty() => msg.html_text(),
        (Some(t), _) => Some(escape(t)),
        _ => None,
    }
    .filter(|h| !h.trim().is_empty());
    let Some(html) = html else {
        let text = escape(k.kb.t("expert_reply_empty", l));
        return say(&bot, msg.chat.id, Some(msg.id), text).await;
    };
    let expert = expert_name(msg.from.as_ref());
    let targets = unanswered(posted.clone());
    if targets.is_empty() {
        // Already answered: ask before sending a second answer.
        let number = posted[0].id.to_string();
        let text =
            k.kb.interface
                .fill("expert_already_answered", l, &[("number", &number)]);
        let buttons = vec![vec![crate::bot::Button::cb(
            k.kb.t("expert_btn_send_again", l),
            experts::data::send_again(posted[0].id, msg.id.0),
        )]];
        bot.send_message(msg.chat.id, escape(&text))
            .parse_mode(ParseMode::Html)
            .reply_parameters(ReplyParameters::new(msg.id).allow_sending_without_reply())
            .reply_markup(InlineKeyboardMarkup::new(keyboard(&buttons)))
            .await?;
        return Ok(());
    }
    let sent = deliver_text(&bot, &deps, &targets, &html, &expert).await?;
    log::info!(
        "expert answer to question {}: {} delivered, {} blocked, {} failed",
        targets[0].id,
        sent.delivered,
        sent.blocked,
        sent.failed
    );
    say(&bot, msg.chat.id, Some(msg.id), report(&deps, &sent)).await?;
    close_post(&bot, msg.chat.id, replied.id).await;
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
    let store = deps.conversation.store();
    let expert = expert_name(Some(&q.from));
    let chat = message.chat.id;
    let (id, on) = match action {
        ExpertAction::Queue(offset) => {
            bot.answer_callback_query(q.id).await?;
            let (text, buttons) = experts::queue_page(store.as_ref(), &k.kb, l, offset).await?;
            bot.edit_message_text(chat, message.id, text)
                .parse_mode(ParseMode::Html)
                .reply_markup(InlineKeyboardMarkup::new(keyboard(&buttons)))
                .await?;
            return Ok(());
        }
        ExpertAction::Question(id, on) => (id, on),
    };
    // The post the button belongs to, with all its questions. Gone (the person used /forget,
    // or forged data): say so on the button.
    let Some(question) = store.question(id).await? else {
        bot.answer_callback_query(q.id)
            .text(k.kb.t("expert_reply_unknown", l))
            .await?;
        return Ok(());
    };
    let posted = match (question.expert_chat_id, question.expert_message_id) {
        (Some(c), Some(m)) => store.posted_as(c, m).await?,
        _ => vec![question.clone()],
    };
    let number = question.id.to_string();
    let already =
        k.kb.interface
            .fill("expert_already_answered", l, &[("number", &number)]);
    match on {
        OnQuestion::Dismiss => {
            if !deps.conversation.dismiss(posted).await? {
                bot.answer_callback_query(q.id).text(already).await?;
                return Ok(());
            }
            bot.answer_callback_query(q.id).await?;
            let text =
                k.kb.interface
                    .fill("expert_dismissed", l, &[("number", &number)]);
            say(&bot, chat, Some(message.id), escape(&text)).await?;
        }
        OnQuestion::AnswerWith(entry) => {
            if k.kb.entry(&entry).is_none() {
                bot.answer_callback_query(q.id).await?;
                let text =
                    k.kb.interface
                        .fill("expert_no_entry", l, &[("entry", &entry)]);
                return say(&bot, chat, Some(message.id), escape(&text)).await;
            }
            let targets = unanswered(posted);
            if targets.is_empty() {
                bot.answer_callback_query(q.id).text(already).await?;
                return Ok(());
            }
            bot.answer_callback_query(q.id).await?;
            let sent = answer_with_entry(&bot, &deps, &targets, &entry, &expert).await?;
            let mut report = report(&deps, &sent);
            if deps.conversation.learn(&targets, &entry, &expert).await? {
                report.push('\n');
                report.push_str(&escape(&k.kb.interface.fill(
                    "expert_learned",
                    l,
                    &[("entry", &entry)],
                )));
            }
            say(&bot, chat, Some(message.id), report).await?;
        }
        OnQuestion::SendAgain(reply_message) => {
            bot.answer_callback_query(q.id).await?;
            let answered: Vec<Question> = posted
                .into_iter()
                .filter(|q| q.status == QuestionStatus::Answered)
                .collect();
            // The new reply is copied as the expert wrote it: the bot keeps no copy of texts
            // it did not deliver.
            let mut sent = Sent::default();
            for p in deps.conversation.answer_to(&answered, None).await? {
                let header = escape(k.kb.t("expert_answer_header", p.lang));
                let result = async {
                    let to = ChatId(p.chat);
                    bot.send_to(
                        to,
                        bot.send_message(to, format!("<b>{header}</b>"))
                            .parse_mode(ParseMode::Html),
                    )
                    .await?;
                    bot.send_to(to, bot.copy_message(to, chat, MessageId(reply_message)))
                        .await?;
                    Ok(())
                }
                .await;
                deps.conversation
                    .record_delivery(&mut sent, &p.ids, delivery(result))
                    .await?;
            }
            say(&bot, chat, Some(message.id), report(&deps, &sent)).await?;
        }
    }
    close_post(&bot, chat, message.id).await;
    Ok(())
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
            .faq_reply(p.chat, entry, p.lang)
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
            } else if experts::utf16_len(&snippet) <= MESSAGE_LIMIT - 100 {
                say(&bot, chat, None, format!("<pre>{}</pre>", escape(&snippet))).await?;
            } else {
                let file = InputFile::memory(snippet.into_bytes()).file_name("learned.toml");
                bot.send_to(chat, bot.send_document(chat, file)).await?;
            }
        }
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
    for part in experts::split_for_telegram(text, MESSAGE_LIMIT - 200) {
        say(bot, chat, None, format!("<pre>{}</pre>", escape(&part))).await?;
    }
    Ok(())
}
