//! The experts' workbench, transport-free: "✋ I'll answer" (a claim that lapses), internal
//! notes, joining a post to another ("same as No. N"), the person's rating of an expert's
//! answer, and the overdue round (questions still open after the promised time: listed once
//! for the experts, their askers told honestly). The Telegram adapter sends what this returns.

use super::callback::Callback;
use super::reply::{Button, Output, Reply};
use super::{Conversation, Knowledge};
use crate::experts::{self, Post, PostView, hhmm};
use crate::kb::html::escape;
use crate::lang::Lang;
use crate::model::{Merged, Question, Taken};
use chrono::{DateTime, TimeDelta, Utc};
use std::fmt::Write as _;

/// How long "✋ I'll answer" holds a question without a reply.
pub const TAKE_FOR: TimeDelta = TimeDelta::minutes(30);
/// The longest note kept, in characters.
pub const NOTE_LIMIT: usize = 1000;
/// Overdue questions listed in one message to the experts.
pub const OVERDUE_PER_ROUND: u32 = 20;

/// When a question counts as overdue: `JARDAM_OVERDUE_HOURS`, `JARDAM_URGENT_OVERDUE_HOURS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Promise {
    pub hours: u32,
    pub urgent_hours: u32,
}

impl Promise {
    /// At `now`, the times before which an open question is overdue: (ordinary, urgent).
    pub fn cutoffs(self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let ago = |hours: u32| now - TimeDelta::hours(i64::from(hours));
        (ago(self.hours), ago(self.urgent_hours))
    }
}

impl Default for Promise {
    fn default() -> Promise {
        Promise {
            hours: 24,
            urgent_hours: 1,
        }
    }
}

/// What an expert's action came to: the text to show them (HTML, under the post or on the
/// button), and the expert posts to write again (chat, message).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Done {
    pub text: String,
    pub refresh: Vec<(i64, i32)>,
    /// Posts emptied by a merge, with what they say now (HTML, no buttons).
    pub merged_away: Vec<((i64, i32), String)>,
}

impl Done {
    fn say(text: String) -> Done {
        Done {
            text,
            ..Done::default()
        }
    }
}

/// One overdue round: the message for the expert chat, and what to tell each asker.
#[derive(Debug)]
pub struct Overdue {
    pub experts: String,
    pub people: Vec<(i64, Reply)>,
}

/// The post (chat, message) a question is shown as, if it is posted.
fn post_of(q: &Question) -> Option<(i64, i32)> {
    q.expert_chat_id.zip(q.expert_message_id)
}

impl Conversation {
    /// The post of `group` as it stands now: who holds it, the notes, its outcome.
    pub async fn post_for(&self, group: &[Question], lang: Lang) -> Post {
        let ids: Vec<i64> = group.iter().map(|q| q.id).collect();
        let notes = match self.store().notes_of(&ids).await {
            Ok(n) => n,
            Err(e) => {
                log::warn!("notes of a post not read: {e:#}");
                Vec::new()
            }
        };
        self.render(group, lang, notes)
    }

    /// The first post of a question just stored: nobody can have taken it or noted on it yet,
    /// so nothing is read.
    pub fn new_post(&self, q: &Question, lang: Lang) -> Post {
        self.render(std::slice::from_ref(q), lang, Vec::new())
    }

    fn render(&self, group: &[Question], lang: Lang, notes: Vec<crate::model::Note>) -> Post {
        let k = self.knowledge();
        let view = PostView {
            now: self.clock().now(),
            notes,
            templates: !k.kb.templates.is_empty(),
        };
        experts::render_post(&k.kb, lang, group, &view)
    }

    /// "✋ I'll answer" on question `q`, pressed by `expert`: the notice for the button, and
    /// the post to write again when the claim is theirs.
    pub async fn take(&self, q: &Question, expert: &str, lang: Lang) -> anyhow::Result<Done> {
        let id = q.id;
        let now = self.clock().now();
        let until = now + TAKE_FOR;
        let k = self.knowledge();
        let i = &k.kb.interface;
        let number = id.to_string();
        Ok(
            match self.store().take_question(id, expert, now, until).await? {
                Taken::Yours => Done {
                    text: i.fill(
                        "expert_taken_yours",
                        lang,
                        &[("number", &number), ("until", &hhmm(until))],
                    ),
                    refresh: post_of(q).into_iter().collect(),
                    ..Done::default()
                },
                Taken::Held { by, until } => Done::say(i.fill(
                    "expert_taken_by",
                    lang,
                    &[("expert", &by), ("until", &hhmm(until))],
                )),
                Taken::Closed => Done::say(i.fill("expert_closed", lang, &[("number", &number)])),
                Taken::Gone => Done::say(k.kb.t("expert_reply_unknown", lang).to_string()),
            },
        )
    }

    /// `/note <text>` in reply to a post of `posted`: kept with the post's first question,
    /// shown on the post, never sent to anyone. The reply is HTML.
    pub async fn note(
        &self,
        posted: &[Question],
        expert: &str,
        text: &str,
        lang: Lang,
    ) -> anyhow::Result<Done> {
        let k = self.knowledge();
        let i = &k.kb.interface;
        let text = text.trim();
        if text.is_empty() {
            return Ok(Done::say(escape(k.kb.t("expert_note_empty", lang))));
        }
        if text.chars().count() > NOTE_LIMIT {
            let limit = NOTE_LIMIT.to_string();
            let say = i.fill("expert_note_too_long", lang, &[("limit", &limit)]);
            return Ok(Done::say(escape(&say)));
        }
        let Some(lead) = posted.first() else {
            return Ok(Done::say(escape(k.kb.t("expert_reply_unknown", lang))));
        };
        if !self.store().add_note(lead.id, expert, text).await? {
            return Ok(Done::say(escape(k.kb.t("expert_reply_unknown", lang))));
        }
        let number = lead.id.to_string();
        Ok(Done {
            text: escape(&i.fill("expert_note_saved", lang, &[("number", &number)])),
            refresh: post_of(lead).into_iter().collect(),
            ..Done::default()
        })
    }

    /// `/same <N>` in reply to a post of `posted`: its open questions join question N's post,
    /// so that the answer there reaches them too. The reply is HTML.
    pub async fn same_as(
        &self,
        posted: &[Question],
        into: &str,
        lang: Lang,
    ) -> anyhow::Result<Done> {
        let k = self.knowledge();
        let i = &k.kb.interface;
        let digits = into.trim().trim_start_matches(['#', '№']).trim();
        let (Some(lead), Ok(into)) = (posted.first(), digits.parse::<i64>()) else {
            return Ok(Done::say(escape(k.kb.t("expert_same_usage", lang))));
        };
        let (number, target) = (lead.id.to_string(), into.to_string());
        let fill = |key: &str, count: &str| {
            escape(&i.fill(
                key,
                lang,
                &[
                    ("number", number.as_str()),
                    ("into", target.as_str()),
                    ("count", count),
                ][..],
            ))
        };
        let key = match self.store().merge_post(lead.id, into).await? {
            Merged::Joined(n) => {
                let into_post = self
                    .store()
                    .question(into)
                    .await?
                    .as_ref()
                    .and_then(post_of);
                return Ok(Done {
                    text: fill("expert_same_done", &n.to_string()),
                    refresh: into_post.into_iter().collect(),
                    merged_away: post_of(lead)
                        .map(|p| (p, fill("expert_post_merged", "")))
                        .into_iter()
                        .collect(),
                });
            }
            Merged::Same => "expert_same_self",
            Merged::Closed => "expert_closed",
            Merged::TargetClosed => "expert_same_target_closed",
            Merged::Gone => "expert_reply_unknown",
        };
        Ok(Done::say(fill(key, "")))
    }

    /// The "Did this help?" buttons under an expert's answer to the person's question `id`.
    pub fn rating_buttons(&self, lang: Lang, id: i64) -> Vec<Button> {
        let k = self.knowledge();
        let kb = &k.kb;
        let rate = |key: &str, helpful| {
            Button::to(
                kb.t(key, lang),
                kb,
                Callback::RateAnswer {
                    question: id,
                    helpful,
                },
            )
        };
        vec![rate("btn_rate_up", true), rate("btn_rate_down", false)]
    }

    /// The person's rating of the expert's answer to their question `id`: stored once; the
    /// post shows it.
    pub(super) async fn rate_answer(
        &self,
        k: &Knowledge,
        chat: i64,
        ui: Lang,
        (id, helpful): (i64, bool),
    ) -> Output {
        let store = self.store();
        match store.rate_answer(id, chat, helpful).await {
            Ok(true) => {
                let post = store.question(id).await.ok().flatten();
                Output {
                    replies: vec![Reply::text(escape(k.kb.t("rate_thanks", ui)))],
                    refreshed_posts: post.as_ref().and_then(post_of).into_iter().collect(),
                    ..Output::default()
                }
            }
            Ok(false) => Output::one(Reply::text(escape(k.kb.t("rate_already", ui)))),
            Err(e) => {
                log::error!("a rating could not be stored: {e:#}");
                Output::one(Reply::text(k.kb.t("save_failed", ui).to_string()))
            }
        }
    }

    /// Takes the questions that became overdue (each once, on any instance): the list for
    /// the experts and an honest word to each asker. `None` when there are none.
    pub async fn overdue_round(
        &self,
        promise: Promise,
        lang: Lang,
    ) -> anyhow::Result<Option<Overdue>> {
        let now = self.clock().now();
        let (before, urgent_before) = promise.cutoffs(now);
        let taken = self
            .store()
            .take_overdue(now, before, urgent_before, OVERDUE_PER_ROUND)
            .await?;
        if taken.is_empty() {
            return Ok(None);
        }
        let k = self.knowledge();
        let kb = &k.kb;
        let count = taken.len().to_string();
        let mut text = format!(
            "<b>{}</b>",
            escape(
                &kb.interface
                    .fill("expert_overdue_title", lang, &[("count", &count)])
            )
        );
        let mut people: Vec<(i64, Reply)> = Vec::new();
        for q in &taken {
            let hours = (now - q.created_at).num_hours();
            let _ = write!(
                text,
                "\n{}№ {} · {} h · {}",
                if q.urgent { "🆘 " } else { "" },
                q.id,
                hours,
                q.lang
            );
            if let Some(link) = post_of(q).and_then(|(c, m)| experts::message_link(c, m)) {
                let _ = write!(text, " · <a href=\"{link}\">→</a>");
            }
            if people.iter().any(|(chat, _)| *chat == q.chat_id) {
                continue;
            }
            let key = if q.urgent {
                "overdue_person_urgent"
            } else {
                "overdue_person"
            };
            let number = q.id.to_string();
            let say = kb.interface.fill(key, q.lang, &[("number", &number)]);
            people.push((q.chat_id, Reply::text(escape(&say))));
        }
        Ok(Some(Overdue {
            experts: text,
            people,
        }))
    }
}
