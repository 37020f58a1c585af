//! The conversation: turns an incoming event plus the person's profile and chat state into
//! replies (text and buttons) and questions for experts. Transport-free: the Telegram adapter
//! and the terminal `chat` translate to and from it; it imports neither.
//!
//! - [`reply`]: the events in and the replies out;
//! - [`callback`]: people's buttons, one enum, parsed once;
//! - [`screens`]: menus, pickers and answers;
//! - [`knowledge`]: the knowledge base and matcher in service, swapped on reload;
//! - [`state`]: what is remembered of a chat between two messages, in the database;
//! - `flows`: the guided answers (a few questions, then the person's own dates);
//! - [`reminders`]: "🔔 Remind me", `/reminders`, and what the background task sends;
//! - [`follows`]: "🔔 Tell me if this changes", and the change notes sent to followers;
//! - `handover`: questions stored for the experts, and what the person is told;
//! - [`guard`]: database calls the conversation can do without;
//! - [`counters`]: the daily counters, written in batches.

pub mod callback;
pub mod counters;
pub mod desk;
pub mod follows;
pub mod guard;
pub mod knowledge;
pub mod reminders;
pub mod reply;
pub mod screens;
pub mod state;
pub mod workbench;

mod buttons;
mod flows;
#[cfg(test)]
mod follow_tests;
mod handover;
#[cfg(test)]
mod reminder_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod workbench_tests;

pub use callback::Callback;
pub use knowledge::{Knowledge, Shelf};
pub use reply::{Action, Button, Event, Output, Reply};

use crate::clock::Clock;
use crate::kb::Entry;
use crate::lang::{Country, Lang};
use crate::matcher::{MatchResult, Status};
use crate::model::{Count, NewQuestion, Profile, Retention};
use crate::storage::Storage;
use crate::text::normalize;
use state::{ChatState, LastQuestion, STATE_KEEP};
use std::path::Path;
use std::sync::Arc;

/// The conversation logic, shared by all chats.
pub struct Conversation {
    knowledge: Shelf,
    store: Arc<dyn Storage>,
    /// Whether an expert chat is configured: without one, questions are saved for experts,
    /// not "passed" to them.
    experts: bool,
    /// The expert chat whose open posts new askers of the same question join as they are
    /// stored (`None`: they are placed when posted).
    join_in: Option<i64>,
    guard: guard::Guard,
    /// Whether texts of questions the FAQ answered are kept (`JARDAM_KEEP_TEXTS_DAYS` > 0);
    /// by default only the daily counters remember them.
    keep_faq_texts: bool,
    /// What the retention clean-up keeps, as `/privacy` states it.
    retention: Retention,
    /// Daily counts not yet written.
    counters: counters::Counters,
    /// Today in guided answers, and when reminders are due.
    clock: Clock,
    /// The knowledge base version (plus one) whose change notes have reached every follower
    /// this instance found: until a reload brings another, nothing is looked up again.
    notes_done: std::sync::atomic::AtomicU32,
}

impl Conversation {
    pub fn new(knowledge: Knowledge, store: Arc<dyn Storage>) -> Conversation {
        Conversation::on_shelf(Shelf::new(knowledge), store)
    }

    fn on_shelf(knowledge: Shelf, store: Arc<dyn Storage>) -> Conversation {
        Conversation {
            knowledge,
            store,
            experts: true,
            join_in: None,
            keep_faq_texts: false,
            retention: Retention::default(),
            guard: guard::Guard::default(),
            counters: counters::Counters::default(),
            clock: Clock::system(),
            notes_done: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// The conversation over `kb` with every phrasing experts taught so far.
    pub async fn load(
        kb: crate::kb::KnowledgeBase,
        store: Arc<dyn Storage>,
    ) -> anyhow::Result<Conversation> {
        let shelf = Shelf::load(kb, store.as_ref()).await?;
        Ok(Conversation::on_shelf(shelf, store))
    }

    /// The expert chat questions go to (`None`: none is configured, and questions are saved,
    /// not passed on).
    pub fn with_expert_chat(mut self, chat: Option<i64>) -> Conversation {
        self.experts = chat.is_some();
        self.join_in = chat;
        self
    }

    /// The clock the conversation and its reminders go by (a test's, or the system's).
    pub fn with_clock(mut self, clock: Clock) -> Conversation {
        self.clock = clock;
        self
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The retention `/privacy` states (the clean-up task applies it).
    pub fn with_retention(mut self, retention: Retention) -> Conversation {
        self.retention = retention;
        self
    }

    /// Keeps the texts of questions the FAQ answered, for curators (erased after the
    /// configured days by the retention task).
    pub fn keeping_faq_texts(mut self, keep: bool) -> Conversation {
        self.keep_faq_texts = keep;
        self
    }

    pub fn knowledge(&self) -> Arc<Knowledge> {
        self.knowledge.get()
    }

    /// Puts a new knowledge base in service; buttons of the old one become "out of date".
    pub fn replace_knowledge(&self, knowledge: Knowledge) {
        self.knowledge.replace(knowledge);
    }

    /// See [`Shelf::refresh_learned`].
    pub async fn refresh_learned(&self) -> anyhow::Result<usize> {
        self.knowledge.refresh_learned(self.store.as_ref()).await
    }

    /// See [`Shelf::reload`].
    pub async fn reload(&self, dir: &Path) -> Result<usize, String> {
        self.knowledge.reload(dir, self.store.as_ref()).await
    }

    pub fn store(&self) -> &Arc<dyn Storage> {
        &self.store
    }

    /// The chat's profile; `None` also while the database is down (see [`guard`]).
    async fn profile(&self, chat: i64) -> Option<Profile> {
        self.guard
            .soft("profile not read", self.store.get_profile(chat))
            .await
            .flatten()
    }

    /// The language the chat chose, Russian if it chose none (or it cannot be read now).
    pub async fn chat_lang(&self, chat: i64) -> Lang {
        self.profile(chat)
            .await
            .and_then(|p| p.lang)
            .unwrap_or(Lang::Ru)
    }

    /// "Please slow down", in the chat's language.
    pub async fn slow_down(&self, chat: i64) -> Reply {
        let ui = self.chat_lang(chat).await;
        Reply::text(self.knowledge().kb.t("slow_down", ui).to_string())
    }

    /// `passed` when experts are connected, else `saved` (the notice that the question is
    /// only saved).
    fn notice(&self, passed: &'static str, saved: &'static str) -> &'static str {
        if self.experts { passed } else { saved }
    }

    /// The number of the chat's open urgent question: one at a time per person.
    async fn open_urgent(&self, chat: i64) -> Option<i64> {
        match self.store.open_urgent_of(chat).await {
            Ok(q) => q.map(|q| q.id),
            Err(e) => {
                log::warn!("open urgent questions not read: {e:#}");
                None
            }
        }
    }

    /// The chat's profile and its state as the last message left it (on any instance), in one
    /// read; the empty state when there is none, it is too old, or it cannot be read. Both
    /// `None`/empty while the database is down.
    async fn chat(&self, chat: i64) -> (Option<Profile>, ChatState) {
        let since = chrono::Utc::now() - STATE_KEEP;
        let (profile, state) = self
            .guard
            .soft("profile not read", self.store.chat(chat, since))
            .await
            .unwrap_or_default();
        (
            profile,
            state.map(|s| ChatState::decode(&s)).unwrap_or_default(),
        )
    }

    /// Writes the chat's state when it changed from `before`.
    async fn save_state(&self, chat: i64, before: &ChatState, after: &ChatState) {
        if before == after {
            return;
        }
        let stored = after.encode();
        self.guard
            .soft(
                "chat state not saved",
                self.store.set_chat_state(chat, stored.as_deref()),
            )
            .await;
    }

    /// The FAQ answer of `entry` as this chat would get it (its language, its country's
    /// variant), for an expert's "Answer with" button on question `id`: its 👍/👎 rate the
    /// expert's answer instead of the entry.
    pub async fn faq_reply(&self, chat: i64, entry: &str, lang: Lang, id: i64) -> Option<Reply> {
        let k = self.knowledge();
        let e = k.kb.entry(entry)?;
        let i = k.kb.entry_index(entry)?;
        let profile = self.profile(chat).await;
        let ui = profile.as_ref().and_then(|p| p.lang).unwrap_or(lang);
        let country = profile.as_ref().and_then(|p| p.country);
        let mut reply = screens::answer_or_ask_variant(&k.kb, e, ui, country, None, false);
        let feedback = [true, false].map(|helpful| {
            Action::Callback(Callback::Feedback { entry: i, helpful }.data(k.kb.version))
        });
        reply
            .buttons
            .retain(|row| !row.iter().any(|b| feedback.contains(&b.action)));
        reply.buttons.insert(0, self.rating_buttons(lang, id));
        Some(reply)
    }

    /// Handles one event of one chat.
    pub async fn handle(&self, chat: i64, event: Event) -> Output {
        self.handle_message(chat, None, event).await
    }

    /// Handles one event of one chat that came as the user's message `source`: a question
    /// from that message is stored once however often the message is delivered (again after a
    /// crash, or by a retried webhook).
    pub async fn handle_message(&self, chat: i64, source: Option<i32>, event: Event) -> Output {
        let k = self.knowledge();
        let (profile, mut state) = self.chat(chat).await;
        if state.flow.is_some() && flows::leaves_flow(&event, k.kb.version) {
            let before = state.clone();
            state.flow = None;
            self.save_state(chat, &before, &state).await;
        }
        // The last visit, which the retention clean-up goes by: written once a day at most.
        if profile
            .as_ref()
            .is_some_and(|p| chrono::Utc::now() - p.last_seen > chrono::TimeDelta::hours(20))
        {
            self.guard
                .soft("last visit not saved", self.store.touch(chat))
                .await;
        }
        let lang = profile.as_ref().and_then(|p| p.lang);
        let ui = lang.unwrap_or(Lang::Ru);
        let kb = &k.kb;
        let one = Output::one;
        match event {
            Event::Start {
                entry,
                language_code,
            } => {
                let guess = language_code.as_deref().and_then(Lang::from_telegram);
                let l = lang.or(guess).unwrap_or(Lang::Ru);
                match entry.filter(|e| !e.is_empty()).map(|e| kb.entry(&e)) {
                    Some(Some(entry)) => {
                        if profile.is_none() {
                            self.save_profile(chat, Some(l), None).await;
                        }
                        let country = profile.as_ref().and_then(|p| p.country);
                        one(screens::answer_or_ask_variant(
                            kb, entry, l, country, None, false,
                        ))
                    }
                    Some(None) => {
                        let mut r = screens::menu(kb, l, false);
                        r.text = format!("{}\n\n{}", kb.t("unknown_entry", l), r.text);
                        one(r)
                    }
                    None => one(screens::language_picker(kb, true, lang.or(guess))),
                }
            }
            Event::Help => one(screens::with_menu(kb, ui, kb.t("help", ui).to_string())),
            Event::Menu => one(screens::menu(kb, ui, false)),
            Event::Language => one(screens::language_picker(kb, false, lang)),
            Event::Country => one(screens::country_picker(kb, ui, false)),
            Event::Privacy => one(Reply::text(self.privacy(kb, ui))),
            Event::Forget => one(Reply {
                text: kb.t("forget_confirm", ui).to_string(),
                buttons: vec![vec![
                    Button::to(
                        kb.t("btn_yes_delete", ui),
                        kb,
                        Callback::Forget { confirmed: true },
                    ),
                    Button::to(
                        kb.t("btn_cancel", ui),
                        kb,
                        Callback::Forget { confirmed: false },
                    ),
                ]],
                edit: false,
            }),
            Event::Contacts => one(screens::topic(kb, "contacts", ui, false)),
            Event::Reminders => self.reminders(&k, chat, ui, false, None).await,
            Event::Unsupported => one(Reply::text(kb.t("non_text", ui).to_string())),
            Event::Media { kind, media } => {
                let q = NewQuestion {
                    country: profile.as_ref().and_then(|p| p.country),
                    kind,
                    media: Some(media),
                    source_message: source,
                    ..NewQuestion::text(chat, "", ui)
                };
                match self.store.add_question(q).await {
                    Ok(q) => Output {
                        replies: vec![Reply::text(kb.interface.fill(
                            self.notice("media_sent", "saved_no_experts"),
                            ui,
                            &[("number", &q.id.to_string())],
                        ))],
                        new_questions: vec![q.id],
                        ..Output::default()
                    },
                    Err(e) => {
                        log::error!("a media question could not be stored: {e:#}");
                        one(Reply::text(kb.t("save_failed", ui).to_string()))
                    }
                }
            }
            Event::Text {
                text,
                language_code,
            } => {
                let said = Said {
                    chat,
                    source,
                    lang: profile.as_ref().and_then(|p| p.lang),
                    country: profile.as_ref().and_then(|p| p.country),
                    text,
                    language_code,
                };
                self.text(&k, said, state).await
            }
            Event::Button(d) => self.button(&k, chat, profile, state, &d).await,
        }
    }

    /// `/privacy`, with the retention the clean-up applies.
    fn privacy(&self, kb: &crate::kb::KnowledgeBase, ui: Lang) -> String {
        // A chat state lives STATE_KEEP, and the hourly clean-up may take another hour.
        let state_hours = (STATE_KEEP.as_secs() / 3600 + 1).to_string();
        kb.interface.fill(
            "privacy",
            ui,
            &[
                ("answered_days", &self.retention.answered_days.to_string()),
                ("inactive_days", &self.retention.inactive_days.to_string()),
                ("state_hours", &state_hours),
            ],
        )
    }

    async fn save_profile(&self, chat: i64, lang: Option<Lang>, country: Option<Country>) {
        self.guard
            .soft(
                "profile not saved",
                self.store.save_profile(chat, lang, country),
            )
            .await;
    }

    fn count(&self, entry: Option<&Entry>, lang: Lang, country: Option<Country>, what: &str) {
        let (entry, topic) = entry
            .map(|e| (e.id.clone(), e.topic.clone()))
            .unwrap_or_default();
        self.counters.add(Count {
            day: chrono::Utc::now().date_naive(),
            entry,
            topic,
            lang,
            country,
            outcome: what.to_string(),
        });
    }

    /// Writes the daily counts added since the last call (every few seconds, before `/stats`
    /// and when the bot stops). A failed write is logged and keeps them for the next call.
    pub async fn flush_counters(&self) {
        if let Err(e) = self.counters.flush(self.store.as_ref()).await {
            log::warn!("daily counters not written: {e:#}");
        }
    }

    /// A text message; `before` is the chat's state when it came.
    async fn text(&self, k: &Knowledge, said: Said, before: ChatState) -> Output {
        let chat = said.chat;
        if normalize(&said.text).is_empty() {
            let ui = said.lang.unwrap_or(Lang::Ru);
            return Output::one(screens::menu(&k.kb, ui, false));
        }
        let mut state = ChatState {
            awaiting_question: false,
            ..before.clone()
        };
        let out = if let Some(reply) =
            self.flow_text(k, said.lang.unwrap_or(Lang::Ru), &said.text, &mut state)
        {
            Output::one(reply)
        } else if before.awaiting_question {
            let ui = said.lang.unwrap_or(Lang::Ru);
            let r = k.matcher.ask(&said.text, said.lang, said.country);
            self.to_experts(k, ui, said.for_experts(ui, &r), &mut state)
                .await
        } else {
            self.match_text(k, &said, &mut state).await
        };
        self.save_state(chat, &before, &state).await;
        out
    }

    /// A text that is not a question for the experts already: matched against the FAQ.
    async fn match_text(&self, k: &Knowledge, said: &Said, state: &mut ChatState) -> Output {
        let kb = &k.kb;
        let (chat, text, country) = (said.chat, &said.text, said.country);
        let profile_lang = said.lang;
        // Telegram's language stands in for the profile's at first contact, when the text
        // itself does not tell the language.
        let hint = profile_lang.or(said.language_code.as_deref().and_then(Lang::from_telegram));
        let r = k.matcher.ask(text, hint, country);
        // First contact by free text: answer at once in the language the person wrote in.
        let ui = match profile_lang {
            Some(l) => l,
            None => {
                self.save_profile(chat, Some(r.lang), country).await;
                r.lang
            }
        };
        let last = |r: &MatchResult| {
            Some(LastQuestion {
                text: text.clone(),
                nearest: candidates(r),
            })
        };
        let entry = r.entry.as_deref().and_then(|id| kb.entry(id));
        match (r.status, entry) {
            (Status::Answered, Some(entry)) => {
                state.last_question = last(&r);
                self.count(Some(entry), ui, country, "answered");
                if self.keep_faq_texts {
                    self.guard
                        .soft(
                            "an answered question's text was not kept",
                            self.store.keep_faq_text(chat, text, &entry.id, r.lang),
                        )
                        .await;
                }
                let mut reply =
                    screens::answer_or_ask_variant(kb, entry, ui, country, r.variant, false);
                // A second question in the same message: offered as a button.
                if let Some(i) = r.also.as_ref().and_then(|c| kb.entry_index(&c.entry)) {
                    reply
                        .buttons
                        .extend(screens::entry_buttons(kb, std::iter::once(i), ui));
                }
                if r.lang != ui {
                    let note = kb.interface.fill(
                        "lang_note",
                        ui,
                        &[
                            ("detected", kb.t("language_name", r.lang)),
                            ("language", kb.t("language_name", ui)),
                        ],
                    );
                    reply.text = format!("<i>{}</i>\n\n{}", note, reply.text);
                }
                if r.urgent {
                    // A danger signal: the answer now, and the message to experts as urgent.
                    let q = said.for_experts(ui, &r);
                    return self.danger_to_experts(k, ui, q, reply, state).await;
                }
                let lead_in = flows::lead_in(k, ui, entry, text, state, self.clock.today());
                Output {
                    replies: std::iter::once(reply).chain(lead_in).collect(),
                    ..Output::default()
                }
            }
            (Status::Clarify, _) => {
                state.last_question = last(&r);
                self.count(None, ui, country, "clarify");
                let indexes = r.candidates.iter().filter_map(|c| kb.entry_index(&c.entry));
                let mut buttons = screens::entry_buttons(kb, indexes, ui);
                buttons.push(vec![Button::to(
                    kb.t("btn_none", ui),
                    kb,
                    Callback::NoneOfThese,
                )]);
                Output::one(Reply {
                    text: kb.t("clarify", ui).to_string(),
                    buttons,
                    edit: false,
                })
            }
            (Status::Answered, None) | (Status::Unmet, _) => {
                if r.status == Status::Unmet {
                    self.count(None, ui, country, "unmet");
                }
                self.to_experts(k, ui, said.for_experts(ui, &r), state)
                    .await
            }
        }
    }
}

/// One text message being handled, with what the profile says of its sender.
struct Said {
    chat: i64,
    /// The message it came as (see [`Conversation::handle_message`]).
    source: Option<i32>,
    text: String,
    lang: Option<Lang>,
    country: Option<Country>,
    /// Telegram's language of the sender's app.
    language_code: Option<String>,
}

impl Said {
    /// The message as a question for the experts, with the matcher's nearest entries; a
    /// country named in the message wins over the profile's.
    fn for_experts(&self, ui: Lang, r: &MatchResult) -> NewQuestion {
        let q = NewQuestion::text(self.chat, &self.text, ui);
        NewQuestion {
            country: r.country.or(self.country),
            candidates: candidates(r),
            source_message: self.source,
            group_key: match &r.gap {
                Some(gap) if !r.urgent => crate::text::gap_group_key(gap, &self.text),
                _ => q.group_key.clone(),
            },
            ..q
        }
    }
}

fn candidates(r: &MatchResult) -> Vec<(String, f32)> {
    r.candidates
        .iter()
        .map(|c| (c.entry.clone(), c.score))
        .collect()
}
