//! Questions in the expert chat: posting them, joining a group's post and refreshing it
//! (coalesced), withdrawing the post of a forgotten question, re-posting what is not posted.

use super::{instance_id, lang};
use crate::bot::desk::Placement;
use crate::experts::Post;
use crate::kb::html::{CAPTION_LIMIT, visible_len};
use crate::model::{Question, QuestionKind};
use crate::telegram::{Deps, TgBot, keyboard};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardMarkup, MessageId, ParseMode, ReplyParameters};

/// How long one instance may take to post a question before another may try.
const POST_LEASE: Duration = Duration::from_secs(60);

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
    let post = conversation.new_post(&q, lang(deps));
    let message = match send_post(bot, ChatId(chat), &q, &post).await {
        Ok(m) => {
            // A refresh that would write the same (the asker asking again) is not sent.
            deps.refreshes.wrote(chat, m.0, &post);
            m
        }
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
    let mut first = None;
    if let (QuestionKind::Voice | QuestionKind::Photo, Some(media)) = (q.kind, q.media) {
        let copy = bot.copy_message(
            chat,
            ChatId(media.from_chat_id),
            MessageId(media.message_id),
        );
        if visible_len(&post.text) <= CAPTION_LIMIT {
            let req = copy
                .caption(post.text.clone())
                .parse_mode(ParseMode::Html)
                .reply_markup(markup);
            return Ok(bot.send_to(chat, req).await?);
        }
        // Too long for a caption: the copy first, the post as a reply to it.
        first = Some(bot.send_to(chat, copy).await?);
    }
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
/// Claimed 4 s apart so that edits reach Telegram at least 3 s apart even when one of them was
/// slower on its way than the next (one run of the surge bench had two within 3 s at 3 s).
pub const REFRESH_EVERY: Duration = Duration::from_secs(4);

/// The posts this instance will refresh once [`REFRESH_EVERY`] has passed, and what it last
/// wrote over each post.
#[derive(Default)]
pub struct Refreshes {
    due: Mutex<HashSet<(i64, i32)>>,
    /// A hash of each post's last text and buttons as this instance wrote them: an edit that
    /// changes nothing (a person asking again leaves "asked by N people" as it was) is not
    /// sent; Telegram would refuse it, and it would count against the group's limit.
    written: Mutex<HashMap<(i64, i32), u64>>,
}

/// Posts whose last text is remembered, at most: a few days of a busy expert chat.
const WRITTEN_KEPT: usize = 10_000;

fn fingerprint(post: &Post) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    (&post.text, &post.buttons).hash(&mut hasher);
    hasher.finish()
}

impl Refreshes {
    /// Whether `post` differs from what this instance last wrote over (chat, message).
    pub(super) fn changes(&self, chat: i64, message: i32, post: &Post) -> bool {
        let written = self.written.lock().expect("refresh lock");
        written.get(&(chat, message)) != Some(&fingerprint(post))
    }

    /// Records that `post` was written over (chat, message).
    pub(super) fn wrote(&self, chat: i64, message: i32, post: &Post) {
        let mut written = self.written.lock().expect("refresh lock");
        if written.len() >= WRITTEN_KEPT {
            written.clear();
        }
        written.insert((chat, message), fingerprint(post));
    }

    /// Marks a post as due; false when it was already.
    fn mark(&self, chat: i64, message: i32) -> bool {
        self.due
            .lock()
            .expect("refresh lock")
            .insert((chat, message))
    }

    fn is_due(&self, chat: i64, message: i32) -> bool {
        self.due
            .lock()
            .expect("refresh lock")
            .contains(&(chat, message))
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
pub async fn refresh_post(bot: &TgBot, deps: &Deps, chat: i64, message: i32) {
    // Already due here: the scheduled refresh will count this asker too, with no claim now.
    if deps.refreshes.is_due(chat, message) {
        return;
    }
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
/// A post copied with a voice message or photo carries its text as the copy's caption (unless
/// it was too long for one, see [`send_post`]).
pub(super) async fn edit_post(
    bot: &TgBot,
    deps: &Deps,
    chat: i64,
    message: i32,
    group: &[Question],
) {
    if group.is_empty() {
        return;
    }
    let post = deps.conversation.post_for(group, lang(deps)).await;
    if !deps.refreshes.changes(chat, message, &post) {
        return;
    }
    let markup = InlineKeyboardMarkup::new(keyboard(&post.buttons));
    let (c, m) = (ChatId(chat), MessageId(message));
    let as_text = || {
        bot.edit_message_text(c, m, post.text.clone())
            .parse_mode(ParseMode::Html)
            .reply_markup(markup.clone())
    };
    let r = if matches!(group[0].kind, QuestionKind::Voice | QuestionKind::Photo) {
        let caption = bot
            .edit_message_caption(c, m)
            .caption(post.text.clone())
            .parse_mode(ParseMode::Html)
            .reply_markup(markup.clone())
            .await;
        match caption {
            Ok(_) => Ok(()),
            Err(_) => as_text().await.map(|_| ()),
        }
    } else {
        as_text().await.map(|_| ())
    };
    match r {
        Ok(()) => deps.refreshes.wrote(chat, message, &post),
        Err(e) => log::warn!("post not written again: {e}"),
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
    let r = crate::telegram::send(
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
