//! "This answer changed": a person presses "🔔 Tell me if this changes" under an answer and
//! follows that entry; when curators add a dated change note to the entry (`[[change]]`), the
//! background task of each instance takes the followers who have not had it
//! ([`Conversation::change_notices`]) and sends it, with a button to the answer as it is now.
//! Each follower is taken once across instances, so the note reaches them once (a send that
//! fails is not repeated).

use super::callback::Callback;
use super::reply::{Button, Output, Reply};
use super::{Conversation, Knowledge};
use crate::kb::Entry;
use crate::kb::flow::show_day;
use crate::kb::html::escape;
use crate::lang::Lang;
use std::sync::atomic::Ordering;

/// A change note to send: to `chat`, `reply`; `entry` is followed no more when the chat turns
/// out to be gone.
#[derive(Clone, Debug)]
pub struct Notice {
    pub chat: i64,
    pub entry: String,
    pub reply: Reply,
}

impl Conversation {
    /// "🔔 Tell me if this changes": the chat follows the entry from its newest note on.
    pub(super) async fn follow(&self, k: &Knowledge, chat: i64, ui: Lang, e: &Entry) -> Output {
        let kb = &k.kb;
        let noted = e.latest_change().map(|n| n.date);
        match self.store.follow(chat, &e.id, ui, noted).await {
            Ok(_) => {
                let i = kb.entry_index(&e.id).unwrap_or_default();
                Output::one(Reply {
                    text: kb.t("follow_set", ui).to_string(),
                    buttons: vec![vec![Button::to(
                        kb.t("btn_unfollow", ui),
                        kb,
                        Callback::Unfollow(i),
                    )]],
                    edit: false,
                })
            }
            Err(err) => {
                log::error!("a follow could not be stored: {err:#}");
                Output::one(Reply::text(kb.t("save_failed", ui).to_string()))
            }
        }
    }

    /// "🔕 Stop": no more notes of this entry.
    pub(super) async fn unfollow(&self, k: &Knowledge, chat: i64, ui: Lang, e: &Entry) -> Output {
        let kb = &k.kb;
        match self.store.unfollow(chat, &e.id).await {
            Ok(_) => Output::one(Reply::text(kb.t("follow_stopped", ui).to_string())),
            Err(err) => {
                log::error!("a follow could not be removed: {err:#}");
                Output::one(Reply::text(kb.t("save_failed", ui).to_string()))
            }
        }
    }

    /// Takes at most `limit` followers who have not had the newest change note of the entry
    /// they follow, and returns the notes to send them, each in the follower's language.
    /// Notes come only with a knowledge base, so once a round finds fewer than `limit`, the
    /// database is not asked again until a reload (someone who follows later has had them).
    pub async fn change_notices(&self, limit: u32) -> anyhow::Result<Vec<Notice>> {
        let k = self.knowledge();
        let kb = &k.kb;
        let version = u32::from(kb.version) + 1;
        if self.notes_done.load(Ordering::Relaxed) == version {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for (i, e) in kb.entries.iter().enumerate() {
            let Some(note) = e.latest_change() else {
                continue;
            };
            let room = limit.saturating_sub(u32::try_from(out.len()).unwrap_or(u32::MAX));
            if room == 0 {
                break;
            }
            for (chat, ui) in self
                .store
                .take_change_followers(&e.id, note.date, room)
                .await?
            {
                let text = kb.interface.fill(
                    "change_note",
                    ui,
                    &[
                        ("title", &escape(e.title.get(ui))),
                        ("date", &show_day(note.date)),
                        ("note", note.text.get(ui)),
                    ],
                );
                let b = |key: &str, cb| Button::to(kb.t(key, ui), kb, cb);
                out.push(Notice {
                    chat,
                    entry: e.id.clone(),
                    reply: Reply {
                        text,
                        buttons: vec![vec![
                            b("btn_open_answer", Callback::Entry(i)),
                            b("btn_unfollow", Callback::Unfollow(i)),
                        ]],
                        edit: false,
                    },
                });
            }
        }
        if out.len() < limit as usize {
            self.notes_done.store(version, Ordering::Relaxed);
        }
        Ok(out)
    }

    /// A follower whose chat is gone (blocked the bot, deleted the chat) follows no more.
    pub async fn follower_gone(&self, chat: i64, entry: &str) -> anyhow::Result<()> {
        log::info!("a change note of {entry} was undeliverable: that follow is dropped");
        self.store.unfollow(chat, entry).await?;
        Ok(())
    }
}
