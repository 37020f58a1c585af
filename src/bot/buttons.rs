//! A person's button press: the data parsed once into a [`Callback`], each kind handled by its
//! own small function.

use super::callback::{Callback, Pressed};
use super::reply::{Button, Output, Reply};
use super::state::ChatState;
use super::{Conversation, Knowledge, screens};
use crate::kb::Entry;
use crate::lang::{Country, Lang};
use crate::model::{NewQuestion, Profile};

impl Conversation {
    pub(super) async fn button(
        &self,
        k: &Knowledge,
        chat: i64,
        profile: Option<Profile>,
        state: ChatState,
        data: &str,
    ) -> Output {
        let ui = profile.as_ref().and_then(|p| p.lang).unwrap_or(Lang::Ru);
        let country = profile.as_ref().and_then(|p| p.country);
        let kb = &k.kb;
        let Pressed::Now(callback) = Callback::parse(data, kb.version) else {
            return Output::one(screens::stale(kb, ui));
        };
        // Buttons point at entries and topics by position; the version check above makes the
        // position current, this one keeps a forged one in range.
        let entry = |i: usize| kb.entries.get(i);
        let one = Output::one;
        match callback {
            Callback::Language { lang, onboarding } => {
                self.save_profile(chat, Some(lang), country).await;
                let mut r = if onboarding {
                    screens::country_picker(kb, lang, true)
                } else {
                    screens::menu(kb, lang, true)
                };
                r.text = format!("{}\n\n{}", kb.t("language_set", lang), r.text);
                one(r)
            }
            Callback::Country {
                country: chosen,
                onboarding,
            } => {
                self.save_profile(chat, Some(ui), chosen.or(country)).await;
                one(country_set(k, ui, chosen, onboarding))
            }
            Callback::Forget { confirmed: true } => self.forget(k, chat, ui).await,
            Callback::Forget { confirmed: false } => one(Reply {
                text: kb.t("forget_cancelled", ui).to_string(),
                edit: true,
                ..Reply::default()
            }),
            Callback::Menu => one(screens::menu(kb, ui, true)),
            Callback::Topic(i) => match kb.topics.get(i) {
                Some(t) => one(screens::topic(kb, &t.id, ui, true)),
                None => one(screens::stale(kb, ui)),
            },
            Callback::Entry(i) => match entry(i) {
                Some(e) => {
                    self.count(Some(e), ui, country, "menu");
                    one(screens::answer_or_ask_variant(
                        kb, e, ui, country, None, true,
                    ))
                }
                None => one(screens::stale(kb, ui)),
            },
            Callback::EntryVariant(i, v) => match entry(i) {
                Some(e) => one(screens::answer(kb, e, ui, v, true)),
                None => one(screens::stale(kb, ui)),
            },
            Callback::EntryForCountry(i, c) => match entry(i) {
                Some(e) => {
                    self.save_profile(chat, Some(ui), Some(c)).await;
                    one(screens::answer(kb, e, ui, c.variant(), true))
                }
                None => one(screens::stale(kb, ui)),
            },
            Callback::Feedback { entry: i, helpful } => match entry(i) {
                Some(e) => self.feedback(k, chat, ui, e, helpful, state).await,
                None => one(screens::stale(kb, ui)),
            },
            Callback::Related(i) => match entry(i) {
                Some(e) => one(related(k, e, ui)),
                None => one(screens::stale(kb, ui)),
            },
            Callback::AskExpert(i) => match entry(i) {
                Some(_) => {
                    self.await_question(chat, state).await;
                    one(Reply::text(kb.t("ask_expert_prompt", ui).to_string()))
                }
                None => one(screens::stale(kb, ui)),
            },
            Callback::NoneOfThese => self.none_of_these(k, chat, ui, country, state).await,
            Callback::Urgent(i) => match entry(i) {
                Some(e) => self.urgent(k, chat, ui, country, e).await,
                None => one(screens::stale(kb, ui)),
            },
            Callback::FlowStart(i) => self.flow_start(k, chat, ui, i, state).await,
            Callback::FlowChoice {
                entry,
                node,
                choice,
            } => {
                self.flow_choice(k, chat, ui, (entry, node, choice), state)
                    .await
            }
            Callback::FlowDate { entry, node, pick } => {
                self.flow_date(k, chat, ui, (entry, node), pick, state)
                    .await
            }
            Callback::Remind { entry, node, due } => {
                self.remind(k, chat, ui, country, (entry, node, due)).await
            }
            Callback::CancelReminder(id) => self.cancel_reminder(k, chat, ui, id).await,
            Callback::Follow(i) => match entry(i) {
                Some(e) => self.follow(k, chat, ui, e).await,
                None => one(screens::stale(kb, ui)),
            },
            Callback::Unfollow(i) => match entry(i) {
                Some(e) => self.unfollow(k, chat, ui, e).await,
                None => one(screens::stale(kb, ui)),
            },
            Callback::RateAnswer { question, helpful } => {
                self.rate_answer(k, chat, ui, (question, helpful)).await
            }
        }
    }

    /// `/forget` confirmed: everything about the person is deleted, their expert posts
    /// withdrawn.
    async fn forget(&self, k: &Knowledge, chat: i64, ui: Lang) -> Output {
        match self.store.forget(chat).await {
            Ok(posts) => {
                // Phrasings taught from this person's questions are gone from the database:
                // the matcher forgets them too.
                if let Err(e) = self.refresh_learned().await {
                    log::error!("learned phrasings not reloaded after forget: {e:#}");
                }
                let mut out = Output::one(Reply {
                    text: k.kb.t("forget_done", ui).to_string(),
                    edit: true,
                    ..Reply::default()
                });
                out.withdrawn_posts = posts;
                out
            }
            Err(e) => {
                log::error!("forget failed: {e:#}");
                Output::one(Reply::text(k.kb.t("save_failed", ui).to_string()))
            }
        }
    }

    /// 👍 is thanked; 👎 waits for the question to pass on, and offers to pass on the last
    /// one when there is one.
    async fn feedback(
        &self,
        k: &Knowledge,
        chat: i64,
        ui: Lang,
        e: &Entry,
        helpful: bool,
        state: ChatState,
    ) -> Output {
        let kb = &k.kb;
        self.guard
            .soft(
                "feedback not stored",
                self.store.record_feedback(chat, &e.id, helpful),
            )
            .await;
        if helpful {
            return Output::one(Reply::text(kb.t("feedback_thanks", ui).to_string()));
        }
        let has_question = state.last_question.is_some();
        self.await_question(chat, state).await;
        let mut buttons = Vec::new();
        if has_question {
            buttons.push(vec![Button::to(
                kb.t("btn_send_expert", ui),
                kb,
                Callback::NoneOfThese,
            )]);
        }
        Output::one(Reply {
            text: kb.t("feedback_missing", ui).to_string(),
            buttons,
            edit: false,
        })
    }

    /// The next text of the chat goes to the experts; `before` is the chat's state now.
    async fn await_question(&self, chat: i64, before: ChatState) {
        let after = ChatState {
            awaiting_question: true,
            ..before.clone()
        };
        self.save_state(chat, &before, &after).await;
    }

    /// "None of these — ask an expert": the chat's last question goes to the experts with
    /// its nearest entries; without one (too old, or another version's), it is asked for.
    async fn none_of_these(
        &self,
        k: &Knowledge,
        chat: i64,
        ui: Lang,
        country: Option<Country>,
        before: ChatState,
    ) -> Output {
        let Some(last) = before.last_question.clone() else {
            self.await_question(chat, before).await;
            return Output::one(Reply::text(k.kb.t("ask_expert_prompt", ui).to_string()));
        };
        let country = crate::matcher::detect_country(&last.text).or(country);
        // Entries gone in a reload since are no use to the experts.
        let nearest = last
            .nearest
            .into_iter()
            .filter(|(id, _)| k.kb.entry(id).is_some())
            .collect();
        let q = NewQuestion {
            country,
            candidates: nearest,
            ..NewQuestion::text(chat, &last.text, ui)
        };
        let mut state = ChatState {
            awaiting_question: false,
            ..before.clone()
        };
        let out = self.to_experts(k, ui, q, &mut state).await;
        self.save_state(chat, &before, &state).await;
        out
    }

    /// "Talk to a person now" under an urgent entry: one open urgent question per person.
    async fn urgent(
        &self,
        k: &Knowledge,
        chat: i64,
        ui: Lang,
        country: Option<Country>,
        e: &Entry,
    ) -> Output {
        if let Some(open) = self.open_urgent(chat).await {
            return Output::one(Reply::text(k.kb.interface.fill(
                "urgent_already_open",
                ui,
                &[("number", &open.to_string())],
            )));
        }
        let text = format!("[{}] {}", e.id, k.kb.t("expert_urgent", ui));
        let q = NewQuestion {
            country,
            urgent: true,
            ..NewQuestion::text(chat, &text, ui)
        };
        // The chat's last question stays: this is not it.
        let mut out = self.to_experts(k, ui, q, &mut ChatState::default()).await;
        if !out.urgent.is_empty() {
            let notice = self.notice("urgent_sent", "urgent_no_experts");
            out.replies = vec![Reply::text(k.kb.t(notice, ui).to_string())];
        }
        out
    }
}

/// The confirmation of a country choice; in onboarding with the welcome and the disclaimer.
fn country_set(k: &Knowledge, ui: Lang, chosen: Option<Country>, onboarding: bool) -> Reply {
    let kb = &k.kb;
    let mut text = String::new();
    if let Some(c) = chosen {
        let name = kb.t(&format!("country_{}", c.code()), ui).to_string();
        text = kb.interface.fill("country_set", ui, &[("country", &name)]);
        text.push_str("\n\n");
    }
    if onboarding {
        text.push_str(kb.t("welcome", ui));
        text.push_str("\n\n<i>");
        text.push_str(kb.t("disclaimer", ui));
        text.push_str("</i>\n\n");
    }
    let mut r = screens::menu(kb, ui, true);
    r.text = format!("{text}{}", r.text);
    r
}

/// An entry's related questions, as buttons.
fn related(k: &Knowledge, e: &Entry, ui: Lang) -> Reply {
    let kb = &k.kb;
    let indexes = e.see_also.iter().filter_map(|id| kb.entry_index(id));
    let mut buttons = screens::entry_buttons(kb, indexes, ui);
    buttons.push(vec![Button::to(kb.t("btn_menu", ui), kb, Callback::Menu)]);
    Reply {
        text: kb.t("related", ui).to_string(),
        buttons,
        edit: false,
    }
}
