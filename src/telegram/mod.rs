//! The Telegram adapter: a thin dptree handler tree around the [`Conversation`].
//!
//! Handlers take a [`TgBot`] (the client with Telegram's rate limits), injected as a
//! dependency; handler tests inject one built on teloxide_tests' `MockBot`.

pub mod desk;
pub mod flood;
pub mod inbox;
pub mod limits;
pub mod links;
pub mod polling;
pub mod reminders;

pub use limits::TgBot;

use crate::bot::{Action, Button, Conversation, Event, Output, Reply};
use crate::config::Config;
use crate::experts::ExpertAction;
use crate::lang::Lang;
use crate::model::{MediaRef, QuestionKind};
use polling::{Running, Ticket};
use std::sync::Arc;
use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use teloxide::types::{
    InlineKeyboardButton, InlineKeyboardMarkup, InlineQueryResult, InlineQueryResultArticle,
    InputMessageContent, InputMessageContentText, MessageId, ParseMode,
};
use teloxide::utils::command::BotCommands;

/// The commands users see in Telegram's menu.
#[derive(BotCommands, Clone, Debug)]
#[command(rename_rule = "lowercase")]
pub enum Cmd {
    /// Start, or open an answer from a link
    Start(String),
    /// How to use the bot
    Help,
    /// Topics
    Menu,
    /// Change the language
    Language,
    /// Change the country
    Country,
    /// What the bot stores
    Privacy,
    /// Delete your data
    Forget,
    /// Embassies and hotlines
    Contacts,
    /// My reminders
    Reminders,
}

/// The conversation event of a command (Telegram's, or one typed in the terminal console).
pub fn command_event(cmd: Cmd, language_code: Option<String>) -> Event {
    match cmd {
        Cmd::Start(payload) => Event::Start {
            entry: Some(links::decode_start(payload.trim())).filter(|p| !p.is_empty()),
            language_code,
        },
        Cmd::Help => Event::Help,
        Cmd::Menu => Event::Menu,
        Cmd::Language => Event::Language,
        Cmd::Country => Event::Country,
        Cmd::Privacy => Event::Privacy,
        Cmd::Forget => Event::Forget,
        Cmd::Contacts => Event::Contacts,
        Cmd::Reminders => Event::Reminders,
    }
}

/// What the handlers need, injected through dptree.
#[derive(Clone)]
pub struct Deps {
    pub conversation: Arc<Conversation>,
    pub config: Arc<Config>,
    /// Expert posts due for a refresh (see [`desk::REFRESH_EVERY`]).
    pub refreshes: Arc<desk::Refreshes>,
    /// The per-chat flood limit (in this process: each instance paces what it receives).
    pub flood: Arc<flood::FloodLimit>,
    /// The key of the last weekly digest this instance saw done (by itself or another), so
    /// that the rest of its time slot asks the database nothing.
    pub digest_done: Arc<std::sync::Mutex<Option<String>>>,
}

impl Deps {
    pub fn new(conversation: Arc<Conversation>, config: Arc<Config>) -> Deps {
        Deps {
            conversation,
            config,
            refreshes: Arc::default(),
            flood: Arc::default(),
            digest_done: Arc::default(),
        }
    }
}

pub(crate) type HandlerResult = anyhow::Result<()>;

/// The handler tree: the expert chat first (replies to posts, expert commands), then private
/// chats (expert commands are refused there unless the sender is a listed expert), buttons
/// (the experts' `x:` ones apart) and inline mode. Other groups are ignored.
pub fn schema() -> UpdateHandler<anyhow::Error> {
    let expert_chat = Update::filter_message()
        .filter(|m: Message, d: Deps| d.config.expert_chat == Some(m.chat.id.0))
        .branch(
            dptree::entry()
                .filter_command::<desk::ExpertCmd>()
                .endpoint(desk::on_expert_command),
        )
        .endpoint(desk::on_expert_message);
    let private = Update::filter_message()
        .filter(|m: Message| m.chat.is_private())
        .branch(
            dptree::entry()
                .filter_command::<desk::ExpertCmd>()
                .endpoint(desk::on_expert_command),
        )
        .branch(dptree::entry().filter_command::<Cmd>().endpoint(on_command))
        .endpoint(on_message);
    let callbacks = Update::filter_callback_query()
        .branch(
            dptree::filter_map(|q: CallbackQuery| q.data.as_deref().and_then(ExpertAction::parse))
                .endpoint(desk::on_expert_callback),
        )
        .endpoint(on_callback);
    // Any other group: ignored, except that a command there logs the group's id, which is how
    // whoever sets the bot up learns the value for JARDAM_EXPERT_CHAT.
    let other_group = Update::filter_message()
        .filter(|m: Message| !m.chat.is_private() && m.text().is_some_and(|t| t.starts_with('/')))
        .endpoint(|m: Message| async move {
            log::info!(
                "a command in group {} was ignored: set JARDAM_EXPERT_CHAT={} to make it the expert chat",
                m.chat.id,
                m.chat.id
            );
            HandlerResult::Ok(())
        });
    let tree = dptree::entry()
        .branch(expert_chat)
        .branch(private)
        .branch(other_group)
        .branch(callbacks)
        .branch(Update::filter_inline_query().endpoint(on_inline));
    tracked(tree)
}

/// `handler`, run with a [`Ticket`] for its update, which finishes the update for the polling
/// listener once the handlers are done with it (a detached one without our listener).
pub fn tracked(handler: UpdateHandler<anyhow::Error>) -> UpdateHandler<anyhow::Error> {
    let ticket = dptree::from_fn_with_description(
        <teloxide::dispatching::DpHandlerDescription as dptree::HandlerDescription>::entry(),
        |deps: dptree::di::DependencyMap, cont| async move {
            let id = deps.get::<Update>().id.0;
            let ticket = match deps.try_get::<Running>() {
                Some(running) => running.ticket(id),
                None => Ticket::detached(id),
            };
            let inbox = deps.try_get::<inbox::Inbox>();
            let handled = polling::with_ticket(ticket, cont(deps)).await;
            if let Some(inbox) = inbox {
                inbox.done(id).await;
            }
            handled
        },
        dptree::HandlerSignature::Entry,
    );
    ticket.chain(handler)
}

/// Telegram's keyboard rows for the conversation's buttons.
pub(crate) fn keyboard(buttons: &[Vec<Button>]) -> Vec<Vec<InlineKeyboardButton>> {
    buttons
        .iter()
        .map(|row| {
            row.iter()
                .map(|b| match &b.action {
                    Action::Callback(d) => {
                        InlineKeyboardButton::callback(b.label.clone(), d.clone())
                    }
                    Action::SwitchInline(q) => {
                        InlineKeyboardButton::switch_inline_query(b.label.clone(), q.clone())
                    }
                })
                .collect()
        })
        .collect()
}

/// Sends the conversation's replies: edits the pressed message where asked, else sends.
async fn deliver(
    bot: &TgBot,
    chat: ChatId,
    edit_target: Option<MessageId>,
    out: &Output,
) -> HandlerResult {
    for reply in &out.replies {
        let markup = (!reply.buttons.is_empty())
            .then(|| InlineKeyboardMarkup::new(keyboard(&reply.buttons)));
        match (reply.edit, edit_target) {
            (true, Some(id)) => {
                let mut req = bot
                    .edit_message_text(chat, id, reply.text.clone())
                    .parse_mode(ParseMode::Html);
                if let Some(m) = markup {
                    req = req.reply_markup(m);
                }
                send(req).await?;
            }
            _ => send_reply(bot, chat, reply).await?,
        }
    }
    Ok(())
}

/// Sends one of the conversation's replies as a new message (within the send limits).
pub(crate) async fn send_reply(
    bot: &TgBot,
    chat: ChatId,
    reply: &Reply,
) -> Result<(), teloxide::RequestError> {
    let mut req = bot
        .send_message(chat, reply.text.clone())
        .parse_mode(ParseMode::Html);
    if !reply.buttons.is_empty() {
        req = req.reply_markup(InlineKeyboardMarkup::new(keyboard(&reply.buttons)));
    }
    bot.send_to(chat, req).await?;
    Ok(())
}

/// Sends a request, and again after a network failure or a Telegram server error, with a
/// pause (0.5 s, then 2 s) between. A refused or dropped connection or a 5xx means the request
/// most likely did nothing, so repeating it rarely shows a message twice, while giving up
/// would lose the reply. A 429 ("too many requests") is sent again after the `retry_after`
/// Telegram names, up to [`MAX_RETRY_AFTER`] in all; other errors are final.
pub(crate) async fn send<R>(req: R) -> Result<teloxide::requests::Output<R>, teloxide::RequestError>
where
    R: teloxide::requests::Request<Err = teloxide::RequestError>,
{
    use std::time::Duration;
    let pauses = [500, 2000];
    let mut attempt = 0;
    let mut waited = Duration::ZERO;
    loop {
        match req.send_ref().await {
            Err(teloxide::RequestError::RetryAfter(after))
                if waited + after.duration() <= MAX_RETRY_AFTER =>
            {
                log::warn!("Telegram asks to slow down; sending again in {after:?}");
                tokio::time::sleep(after.duration()).await;
                waited += after.duration();
            }
            Err(e) if attempt < pauses.len() && transient(&e) => {
                log::warn!("Telegram request failed, trying again: {e}");
                tokio::time::sleep(Duration::from_millis(pauses[attempt])).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// The longest a request waits on Telegram's 429 answers before it counts as failed.
const MAX_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// Network errors, and the errors Telegram's servers (or a proxy before them) give when they
/// are down or overloaded.
fn transient(e: &teloxide::RequestError) -> bool {
    use teloxide::RequestError;
    match e {
        RequestError::Network(_) | RequestError::Io(_) => true,
        RequestError::Api(teloxide::ApiError::Unknown(description)) => [
            "Internal Server Error",
            "Bad Gateway",
            "Gateway Timeout",
            "Service Unavailable",
        ]
        .iter()
        .any(|s| description.contains(s)),
        _ => false,
    }
}

/// Replies to the person, then posts the questions the event stored to the expert chat. A
/// post that fails is left to the retry task: the question is safe in the database.
async fn respond(
    bot: &TgBot,
    deps: &Deps,
    chat: ChatId,
    edit_target: Option<MessageId>,
    out: &Output,
) -> HandlerResult {
    let replied = deliver(bot, chat, edit_target, out).await;
    if !out.new_questions.is_empty() || !out.urgent.is_empty() || !out.joined_posts.is_empty() {
        // The person is answered and the questions are stored; posting waits for the expert
        // group's limit (20 a minute), and the re-posting task covers a crash meanwhile.
        polling::release_current();
    }
    for &id in out.new_questions.iter().chain(&out.urgent) {
        if let Err(e) = desk::post_question(bot, deps, id).await {
            log::warn!("question {id} not posted yet, will retry: {e:#}");
        }
    }
    for &(post_chat, post) in &out.joined_posts {
        desk::refresh_post(bot, deps, post_chat, post).await;
    }
    for &(post_chat, post) in &out.withdrawn_posts {
        desk::withdraw_post(bot, deps, ChatId(post_chat), MessageId(post)).await;
    }
    desk::write_posts(bot, deps, &out.refreshed_posts).await;
    replied
}

/// The longest a flooding chat's message waits before it is handled anyway.
const MAX_FLOOD_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Holds a message of a flooding chat back for its turn (only that chat waits: updates of one
/// chat are handled in order, other chats in parallel); the first one gets "please slow down".
/// The update is released meanwhile, so that the polling offset does not wait for it.
async fn pace(bot: &TgBot, deps: &Deps, chat: ChatId) {
    if let flood::Admission::Wait { delay, warn } = deps.flood.admit(chat.0) {
        polling::release_current();
        if warn {
            let reply = deps.conversation.slow_down(chat.0).await;
            if let Err(e) = bot.send_to(chat, bot.send_message(chat, reply.text)).await {
                log::debug!("slow-down notice not sent: {e}");
            }
        }
        tokio::time::sleep(delay.min(MAX_FLOOD_WAIT)).await;
    }
}

async fn on_command(bot: TgBot, msg: Message, cmd: Cmd, deps: Deps) -> HandlerResult {
    pace(&bot, &deps, msg.chat.id).await;
    let language_code = msg.from.as_ref().and_then(|u| u.language_code.clone());
    let event = command_event(cmd, language_code);
    let out = deps.conversation.handle(msg.chat.id.0, event).await;
    deliver(&bot, msg.chat.id, None, &out).await
}

async fn on_message(bot: TgBot, msg: Message, deps: Deps) -> HandlerResult {
    pace(&bot, &deps, msg.chat.id).await;
    let media = MediaRef {
        from_chat_id: msg.chat.id.0,
        message_id: msg.id.0,
    };
    let event = if let Some(text) = msg.text() {
        Event::Text {
            text: text.to_string(),
            language_code: msg.from.as_ref().and_then(|u| u.language_code.clone()),
        }
    } else if msg.voice().is_some() {
        Event::Media {
            kind: QuestionKind::Voice,
            media,
        }
    } else if msg.photo().is_some() {
        Event::Media {
            kind: QuestionKind::Photo,
            media,
        }
    } else {
        Event::Unsupported
    };
    let out = deps
        .conversation
        .handle_message(msg.chat.id.0, Some(msg.id.0), event)
        .await;
    respond(&bot, &deps, msg.chat.id, None, &out).await
}

async fn on_callback(bot: TgBot, q: CallbackQuery, deps: Deps) -> HandlerResult {
    // Always answer the callback, so the button stops spinning.
    bot.answer_callback_query(q.id.clone()).await?;
    let Some(message) = q.regular_message() else {
        return Ok(());
    };
    if !message.chat.is_private() {
        return Ok(());
    }
    pace(&bot, &deps, message.chat.id).await;
    let data = q.data.clone().unwrap_or_default();
    let out = deps
        .conversation
        .handle(message.chat.id.0, Event::Button(data))
        .await;
    respond(&bot, &deps, message.chat.id, Some(message.id), &out).await
}

/// Inline mode: `@bot registration` in any chat offers matching answers to post there.
async fn on_inline(bot: TgBot, q: InlineQuery, deps: Deps) -> HandlerResult {
    let k = deps.conversation.knowledge();
    let kb = &k.kb;
    let query = q.query.trim();
    let user_lang = q
        .from
        .language_code
        .as_deref()
        .and_then(Lang::from_telegram);
    // An exact entry id (the Share button) first; otherwise the matcher's candidates.
    let (lang, ids): (Lang, Vec<String>) = if let Some(e) = kb.entry(query) {
        (user_lang.unwrap_or(Lang::Ru), vec![e.id.clone()])
    } else if query.is_empty() {
        (user_lang.unwrap_or(Lang::Ru), Vec::new())
    } else {
        let r = k.matcher.ask(query, user_lang, None);
        (r.lang, r.candidates.into_iter().map(|c| c.entry).collect())
    };
    let username = deps.config.bot_username.clone().unwrap_or_default();
    let results: Vec<InlineQueryResult> = ids
        .iter()
        .filter_map(|id| kb.entry(id))
        .map(|e| {
            let variant = crate::lang::Variant::Any;
            let mut text = kb.render_answer(e, variant, lang);
            if !username.is_empty() {
                let link = format!(
                    "https://t.me/{username}?start={}",
                    links::encode_start(&e.id)
                );
                text.push_str("\n\n");
                text.push_str(&kb.interface.fill("shared_by", lang, &[("link", &link)]));
            }
            InlineQueryResult::Article(
                InlineQueryResultArticle::new(
                    e.id.clone(),
                    e.title.get(lang).clone(),
                    InputMessageContent::Text(
                        InputMessageContentText::new(text).parse_mode(ParseMode::Html),
                    ),
                )
                .description(e.questions.get(lang).first().cloned().unwrap_or_default()),
            )
        })
        .collect();
    bot.answer_inline_query(q.id, results)
        .cache_time(60)
        .await?;
    Ok(())
}

/// Registers the command menus per language with `set_my_commands`; the descriptions are the
/// `cmd_*` interface texts.
pub async fn register_commands(bot: &TgBot, conv: &Conversation) -> HandlerResult {
    use teloxide::types::BotCommand;
    let k = conv.knowledge();
    for lang in Lang::ALL {
        let commands: Vec<BotCommand> = Cmd::bot_commands()
            .into_iter()
            .map(|c| {
                let name = c.command.trim_start_matches('/').to_string();
                let description = k.kb.t(&format!("cmd_{name}"), lang).to_string();
                BotCommand::new(name, description)
            })
            .collect();
        bot.set_my_commands(commands)
            .language_code(lang.code())
            .await?;
    }
    Ok(())
}
