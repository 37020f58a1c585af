//! The conversation: turns an incoming event plus the user's profile into replies (text and
//! buttons). Transport-free: the Telegram adapter and the terminal `chat` share it.

use crate::kb::{Entry, KnowledgeBase};
use crate::lang::{Country, Lang, Variant};
use crate::matcher::{MatchResult, Matcher, Status};
use crate::storage::{MediaRef, NewQuestion, Profile, QuestionKind, Storage};
use crate::text::normalize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use teloxide::utils::html::escape;

/// The longest a database call that only remembers something may hold up a reply.
const SOFT_DB_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
/// How long the database is left alone after such a call failed.
const DB_DOWN_PAUSE: std::time::Duration = std::time::Duration::from_secs(5);

/// The knowledge base with its matcher: swapped as one on reload.
pub struct Knowledge {
    pub kb: KnowledgeBase,
    pub matcher: Matcher,
}

impl Knowledge {
    pub fn new(kb: KnowledgeBase, learned: &[(String, String)]) -> Knowledge {
        let matcher = Matcher::with_learned(&kb, learned);
        Knowledge { kb, matcher }
    }

    /// As [`Knowledge::new`], on a blocking thread: training the matcher takes about a second
    /// of CPU, which must not hold up the replies the async threads are sending.
    pub async fn train(kb: KnowledgeBase, learned: Vec<(String, String)>) -> Knowledge {
        tokio::task::spawn_blocking(move || Knowledge::new(kb, &learned))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
    }
}

/// What arrives from a user.
#[derive(Clone, Debug)]
pub enum Event {
    /// `/start`, with a deep-link payload and Telegram's language code, if any.
    Start {
        payload: Option<String>,
        language_code: Option<String>,
    },
    Help,
    Menu,
    Language,
    Country,
    Privacy,
    Forget,
    Contacts,
    Text {
        text: String,
        language_code: Option<String>,
    },
    /// A button press with its callback data.
    Button(String),
    /// A voice message or a photo: passed to experts as it is.
    Media {
        kind: QuestionKind,
        media: MediaRef,
    },
    /// Anything else the bot cannot read (stickers, documents, locations…).
    Unsupported,
}

/// What a button does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Callback(String),
    /// Opens inline mode in a chat the user picks, with this query (the Share button).
    SwitchInline(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub action: Action,
}

impl Reply {
    /// A reply with text only.
    fn text(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            ..Reply::default()
        }
    }
}

impl Button {
    pub fn cb(label: impl Into<String>, data: String) -> Button {
        Button {
            label: label.into(),
            action: Action::Callback(data),
        }
    }
}

/// One message to show: HTML text and rows of buttons.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub buttons: Vec<Vec<Button>>,
    /// Replace the message whose button was pressed instead of sending a new one.
    pub edit: bool,
}

/// Everything the conversation wants done for one event.
#[derive(Clone, Debug, Default)]
pub struct Output {
    pub replies: Vec<Reply>,
    /// Questions stored for experts by this event (the adapter posts them).
    pub new_questions: Vec<i64>,
    /// Questions to post as urgent (the "Talk to a person now" button).
    pub urgent: Vec<i64>,
    /// Expert posts (chat, message) of questions the person had deleted (`/forget`): the
    /// adapter replaces their text with a note, so that no copy of them stays with experts.
    pub withdrawn_posts: Vec<(i64, i32)>,
}

impl Output {
    fn one(reply: Reply) -> Output {
        Output {
            replies: vec![reply],
            ..Output::default()
        }
    }
}

/// What the bot remembers between two messages of a chat, in memory only: the last question
/// (for "None of these — ask an expert" and 👎) and whether it waits for a question to pass on.
#[derive(Default, Clone)]
struct ChatState {
    last_question: Option<(String, Vec<(String, f32)>)>,
    awaiting_question: bool,
}

/// The conversation logic, shared by all chats.
pub struct Conversation {
    knowledge: RwLock<Arc<Knowledge>>,
    store: Arc<dyn Storage>,
    state: Mutex<HashMap<i64, ChatState>>,
    /// The newest learned phrasing in the matcher: newer ones (taught on any instance) are
    /// picked up by [`Conversation::refresh_learned`].
    learned_seen: AtomicI64,
    /// Whether an expert chat is configured: without one, questions are saved for experts,
    /// not "passed" to them.
    experts: bool,
    /// How many learned phrasings the matcher has: fewer in the database means some were
    /// deleted.
    learned_count: AtomicI64,
    /// The per-chat flood limit (in this process: each instance paces what it receives).
    flood: crate::flood::FloodLimit,
    /// Until when the database is taken to be down (milliseconds since `started`), after a
    /// call that failed or took too long. Meanwhile the calls that only remember things
    /// (profiles, counters, feedback) are skipped, so FAQ answers come from memory at once;
    /// questions for experts are always tried, and the person is told if it failed.
    db_down_until: AtomicI64,
    started: std::time::Instant,
    /// Whether texts of questions the FAQ answered are kept (`JARDAM_KEEP_TEXTS_DAYS` > 0);
    /// by default only the daily counters remember them.
    keep_faq_texts: bool,
    /// What the retention clean-up keeps, as `/privacy` states it.
    retention: crate::storage::Retention,
}

/// Callback data is `<version>:<action>[:args]`; the version is the knowledge base's content
/// hash, so buttons of an older knowledge base are recognised after a reload.
fn data(kb: &KnowledgeBase, action: &str) -> String {
    format!("{:x}:{action}", kb.version)
}

/// Deep-link payloads may use only `A-Za-z0-9_-`; entry ids use `.` where the payload uses `_`.
pub fn encode_start(entry_id: &str) -> String {
    entry_id.replace('.', "_")
}

pub fn decode_start(payload: &str) -> String {
    payload.replace('_', ".")
}

impl Conversation {
    pub fn new(knowledge: Knowledge, store: Arc<dyn Storage>) -> Conversation {
        Conversation {
            knowledge: RwLock::new(Arc::new(knowledge)),
            store,
            state: Mutex::new(HashMap::new()),
            learned_seen: AtomicI64::new(0),
            learned_count: AtomicI64::new(0),
            experts: true,
            keep_faq_texts: false,
            retention: crate::storage::Retention::default(),
            flood: crate::flood::FloodLimit::default(),
            db_down_until: AtomicI64::new(0),
            started: std::time::Instant::now(),
        }
    }

    /// A database call the conversation can do without: skipped while the database is down,
    /// given at most [`SOFT_DB_TIMEOUT`]; a failure marks the database down for
    /// [`DB_DOWN_PAUSE`].
    async fn soft<T>(
        &self,
        what: &str,
        call: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> Option<T> {
        let now = self.started.elapsed().as_millis() as i64;
        if now < self.db_down_until.load(Ordering::Relaxed) {
            return None;
        }
        let failure = match tokio::time::timeout(SOFT_DB_TIMEOUT, call).await {
            Ok(Ok(v)) => return Some(v),
            Ok(Err(e)) => format!("{e:#}"),
            Err(_) => format!("no answer within {SOFT_DB_TIMEOUT:?}"),
        };
        log::error!("{what}: {failure}; the database is skipped for {DB_DOWN_PAUSE:?}");
        let until = self.started.elapsed() + DB_DOWN_PAUSE;
        self.db_down_until
            .store(until.as_millis() as i64, Ordering::Relaxed);
        None
    }

    /// Whether a message of `chat` may be handled now, or must wait (see [`crate::flood`]).
    pub fn admit(&self, chat: i64) -> crate::flood::Admission {
        self.flood.admit(chat)
    }

    /// The chat's profile; `None` also while the database is down (see [`Conversation::soft`]).
    async fn profile(&self, chat: i64) -> Option<Profile> {
        self.soft("profile not read", self.store.get_profile(chat))
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

    /// Keeps the texts of questions the FAQ answered, for curators (erased after the
    /// configured days by the retention task).
    /// Tells the conversation whether experts are connected (an expert chat is configured);
    /// without them people are told their questions are saved, not passed on.
    pub fn with_experts(mut self, connected: bool) -> Conversation {
        self.experts = connected;
        self
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

    /// The retention `/privacy` states (the clean-up task applies it).
    pub fn with_retention(mut self, retention: crate::storage::Retention) -> Conversation {
        self.retention = retention;
        self
    }

    pub fn keeping_faq_texts(mut self, keep: bool) -> Conversation {
        self.keep_faq_texts = keep;
        self
    }

    /// The conversation over `kb` with every phrasing experts taught so far.
    pub async fn load(kb: KnowledgeBase, store: Arc<dyn Storage>) -> anyhow::Result<Conversation> {
        let learned = store.learned_since(0).await?;
        let seen = learned.iter().map(|l| l.id).max().unwrap_or(0);
        let pairs: Vec<(String, String)> = learned.into_iter().map(|l| (l.entry, l.text)).collect();
        let count = pairs.len() as i64;
        let c = Conversation::new(Knowledge::train(kb, pairs).await, store);
        c.learned_seen.store(seen, Ordering::SeqCst);
        c.learned_count.store(count, Ordering::SeqCst);
        Ok(c)
    }

    /// Puts phrasings taught since the last call (on this or another instance) into the
    /// matcher, and drops those deleted meanwhile (a /forget). Returns how many were new.
    pub async fn refresh_learned(&self) -> anyhow::Result<usize> {
        let seen = self.learned_seen.load(Ordering::SeqCst);
        let new = self.store.learned_since(seen).await?;
        let count = self.store.count_learned().await?;
        // Nothing new and nothing deleted (a person's /forget, on any instance).
        if new.is_empty() && count == self.learned_count.load(Ordering::SeqCst) {
            return Ok(0);
        }
        // Rebuilt from the full list: a phrasing taught again for another entry replaces
        // the old pairing.
        let all = self.store.learned().await?;
        let newest = new.iter().map(|l| l.id).max().unwrap_or(seen);
        let kb = self.knowledge().kb.clone();
        self.learned_count.store(all.len() as i64, Ordering::SeqCst);
        self.replace_knowledge(Knowledge::train(kb, all).await);
        self.learned_seen.fetch_max(newest, Ordering::SeqCst);
        Ok(new.len())
    }

    /// Loads `dir` and, if it is valid, puts it in service with the learned phrasings. A
    /// broken knowledge base is refused with the `check` messages; the old one stays.
    pub async fn reload(&self, dir: &Path) -> Result<usize, String> {
        let (kb, warnings) =
            crate::kb::load(dir, &crate::kb::CheckOptions::default()).map_err(|e| e.to_string())?;
        for w in &warnings {
            log::warn!("{w}");
        }
        let learned = self.store.learned().await.map_err(|e| format!("{e:#}"))?;
        let entries = kb.entries.len();
        self.replace_knowledge(Knowledge::train(kb, learned).await);
        Ok(entries)
    }

    /// The FAQ answer of `entry` as this chat would get it (its language, its country's
    /// variant), for an expert's "Answer with" button.
    pub async fn faq_reply(&self, chat: i64, entry: &str, lang: Lang) -> Option<Reply> {
        let k = self.knowledge();
        let e = k.kb.entry(entry)?.clone();
        let profile = self.profile(chat).await;
        let ui = profile.as_ref().and_then(|p| p.lang).unwrap_or(lang);
        let country = profile.as_ref().and_then(|p| p.country);
        Some(self.answer_or_ask_variant(&k, &e, ui, country, None, false))
    }

    pub fn knowledge(&self) -> Arc<Knowledge> {
        self.knowledge.read().expect("knowledge lock").clone()
    }

    /// Puts a new knowledge base in service; buttons of the old one become "out of date".
    pub fn replace_knowledge(&self, knowledge: Knowledge) {
        *self.knowledge.write().expect("knowledge lock") = Arc::new(knowledge);
    }

    pub fn store(&self) -> &Arc<dyn Storage> {
        &self.store
    }

    /// Reads or changes a chat's state under one lock.
    fn chat_state<R>(&self, chat: i64, f: impl FnOnce(&mut ChatState) -> R) -> R {
        f(self
            .state
            .lock()
            .expect("state lock")
            .entry(chat)
            .or_default())
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
        let profile = self.profile(chat).await;
        // The last visit, which the retention clean-up goes by: written once a day at most.
        if profile
            .as_ref()
            .is_some_and(|p| chrono::Utc::now() - p.last_seen > chrono::TimeDelta::hours(20))
        {
            self.soft("last visit not saved", self.store.touch(chat))
                .await;
        }
        let lang = profile.as_ref().and_then(|p| p.lang);
        let ui = lang.unwrap_or(Lang::Ru);
        match event {
            Event::Start {
                payload,
                language_code,
            } => {
                let guess = language_code.as_deref().and_then(Lang::from_telegram);
                if let Some(entry) = payload
                    .as_deref()
                    .filter(|p| !p.is_empty())
                    .map(decode_start)
                    .and_then(|id| k.kb.entry(&id).cloned())
                {
                    let l = lang.or(guess).unwrap_or(Lang::Ru);
                    if profile.is_none() {
                        self.save_profile(chat, Some(l), None).await;
                    }
                    let country = profile.as_ref().and_then(|p| p.country);
                    return Output::one(
                        self.answer_or_ask_variant(&k, &entry, l, country, None, false),
                    );
                }
                if payload.as_deref().is_some_and(|p| !p.is_empty()) {
                    let l = lang.or(guess).unwrap_or(Lang::Ru);
                    let mut r = self.menu(&k.kb, l, false);
                    r.text = format!("{}\n\n{}", k.kb.t("unknown_entry", l), r.text);
                    return Output::one(r);
                }
                Output::one(self.language_picker(&k.kb, true, lang.or(guess)))
            }
            Event::Help => Output::one(Reply {
                text: k.kb.t("help", ui).to_string(),
                buttons: vec![vec![Button::cb(k.kb.t("btn_menu", ui), data(&k.kb, "M"))]],
                edit: false,
            }),
            Event::Menu => Output::one(self.menu(&k.kb, ui, false)),
            Event::Language => Output::one(self.language_picker(&k.kb, false, lang)),
            Event::Country => Output::one(self.country_picker(&k.kb, ui, false)),
            Event::Privacy => Output::one(Reply::text(k.kb.interface.fill(
                "privacy",
                ui,
                &[
                    ("answered_days", &self.retention.answered_days.to_string()),
                    ("inactive_days", &self.retention.inactive_days.to_string()),
                ],
            ))),
            Event::Forget => Output::one(Reply {
                text: k.kb.t("forget_confirm", ui).to_string(),
                buttons: vec![vec![
                    Button::cb(k.kb.t("btn_yes_delete", ui), data(&k.kb, "D:y")),
                    Button::cb(k.kb.t("btn_cancel", ui), data(&k.kb, "D:n")),
                ]],
                edit: false,
            }),
            Event::Contacts => Output::one(self.topic(&k.kb, "contacts", ui, false)),
            Event::Unsupported => Output::one(Reply::text(k.kb.t("non_text", ui).to_string())),
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
                        replies: vec![Reply {
                            text: k.kb.interface.fill(
                                self.notice("media_sent", "saved_no_experts"),
                                ui,
                                &[("number", &q.id.to_string())],
                            ),
                            ..Reply::default()
                        }],
                        new_questions: vec![q.id],
                        ..Output::default()
                    },
                    Err(e) => {
                        log::error!("a media question could not be stored: {e:#}");
                        Output::one(Reply::text(k.kb.t("save_failed", ui).to_string()))
                    }
                }
            }
            Event::Text {
                text,
                language_code,
            } => {
                self.text(&k, chat, source, profile, text, language_code)
                    .await
            }
            Event::Button(d) => self.button(&k, chat, profile, &d).await,
        }
    }

    async fn save_profile(&self, chat: i64, lang: Option<Lang>, country: Option<Country>) {
        self.soft(
            "profile not saved",
            self.store.save_profile(chat, lang, country),
        )
        .await;
    }

    async fn count(
        &self,
        entry: Option<&Entry>,
        lang: Lang,
        country: Option<Country>,
        outcome: &str,
    ) {
        let day = chrono::Utc::now().date_naive();
        let (id, topic) = entry
            .map(|e| (e.id.as_str(), e.topic.as_str()))
            .unwrap_or(("", ""));
        self.soft(
            "counter not updated",
            self.store
                .bump_counter(day, id, topic, lang, country, outcome),
        )
        .await;
    }

    async fn text(
        &self,
        k: &Knowledge,
        chat: i64,
        source: Option<i32>,
        profile: Option<Profile>,
        text: String,
        language_code: Option<String>,
    ) -> Output {
        let country = profile.as_ref().and_then(|p| p.country);
        let profile_lang = profile.as_ref().and_then(|p| p.lang);
        if normalize(&text).is_empty() {
            let ui = profile_lang.unwrap_or(Lang::Ru);
            return Output::one(self.menu(&k.kb, ui, false));
        }
        if self.chat_state(chat, |s| std::mem::take(&mut s.awaiting_question)) {
            let ui = profile_lang.unwrap_or(Lang::Ru);
            let r = k.matcher.ask(&text, profile_lang, country);
            return self
                .to_experts(k, ui, unmet_question(chat, source, &text, ui, country, &r))
                .await;
        }
        // Telegram's language stands in for the profile's at first contact, when the text
        // itself does not tell the language.
        let hint = profile_lang.or(language_code.as_deref().and_then(Lang::from_telegram));
        let r = k.matcher.ask(&text, hint, country);
        // First contact by free text: answer at once in the language the person wrote in.
        let ui = match profile_lang {
            Some(l) => l,
            None => {
                self.save_profile(chat, Some(r.lang), country).await;
                r.lang
            }
        };
        match r.status {
            Status::Answered => {
                let entry = r.entry.as_deref().and_then(|id| k.kb.entry(id)).cloned();
                let Some(entry) = entry else {
                    return self
                        .to_experts(k, ui, unmet_question(chat, source, &text, ui, country, &r))
                        .await;
                };
                self.chat_state(chat, |s| {
                    s.last_question = Some((text.clone(), candidates(&r)));
                });
                self.count(Some(&entry), ui, country, "answered").await;
                if self.keep_faq_texts {
                    self.soft(
                        "an answered question's text was not kept",
                        self.store.keep_faq_text(chat, &text, &entry.id, r.lang),
                    )
                    .await;
                }
                let mut reply =
                    self.answer_or_ask_variant(k, &entry, ui, country, r.variant, false);
                // A second question in the same message: offered as a button.
                if let Some(i) = r.also.as_ref().and_then(|c| k.kb.entry_index(&c.entry)) {
                    reply
                        .buttons
                        .extend(entry_buttons(&k.kb, std::iter::once(i), ui));
                }
                if r.lang != ui {
                    let note = k.kb.interface.fill(
                        "lang_note",
                        ui,
                        &[
                            ("detected", k.kb.t("language_name", r.lang)),
                            ("language", k.kb.t("language_name", ui)),
                        ],
                    );
                    reply.text = format!("<i>{}</i>\n\n{}", note, reply.text);
                }
                if r.urgent {
                    // A danger signal: the answer now, and the message to experts as urgent.
                    return self
                        .danger_to_experts(
                            k,
                            ui,
                            unmet_question(chat, source, &text, ui, country, &r),
                            reply,
                        )
                        .await;
                }
                Output::one(reply)
            }
            Status::Clarify => {
                self.chat_state(chat, |s| {
                    s.last_question = Some((text.clone(), candidates(&r)));
                });
                self.count(None, ui, country, "clarify").await;
                let indexes = r
                    .candidates
                    .iter()
                    .filter_map(|c| k.kb.entry_index(&c.entry));
                let mut buttons = entry_buttons(&k.kb, indexes, ui);
                buttons.push(vec![Button::cb(k.kb.t("btn_none", ui), data(&k.kb, "N"))]);
                Output::one(Reply {
                    text: k.kb.t("clarify", ui).to_string(),
                    buttons,
                    edit: false,
                })
            }
            Status::Unmet => {
                self.count(None, ui, country, "unmet").await;
                self.to_experts(k, ui, unmet_question(chat, source, &text, ui, country, &r))
                    .await
            }
        }
    }

    /// A message with a danger signal: the safety answer first, then the message `q` is stored
    /// and posted to experts as urgent, and the person is told so (or, when it could not be
    /// stored, that the answer is all they have for now).
    async fn danger_to_experts(
        &self,
        k: &Knowledge,
        ui: Lang,
        q: NewQuestion,
        answer: Reply,
    ) -> Output {
        // One open urgent post per person: a further message joins the queue as an ordinary
        // question, and the person is told the first is with the experts.
        if let Some(open) = self.open_urgent(q.chat_id).await {
            let mut out = self.to_experts(k, ui, q).await;
            let notice =
                k.kb.interface
                    .fill("urgent_already_open", ui, &[("number", &open.to_string())]);
            out.replies = vec![answer, Reply::text(notice)];
            return out;
        }
        let q = NewQuestion { urgent: true, ..q };
        let mut out = self.to_experts(k, ui, q).await;
        let notice = if out.urgent.is_empty() {
            k.kb.t("save_failed", ui)
        } else {
            k.kb.t(self.notice("urgent_sent", "urgent_no_experts"), ui)
        };
        out.replies = vec![answer, Reply::text(notice.to_string())];
        out
    }

    /// Stores a question for experts and tells the person honestly what happens next.
    async fn to_experts(&self, k: &Knowledge, ui: Lang, q: NewQuestion) -> Output {
        let (chat, urgent) = (q.chat_id, q.urgent);
        match self.store.add_question(q).await {
            Ok(q) => {
                self.chat_state(chat, |s| s.last_question = None);
                let mut out = Output::one(Reply {
                    text: k.kb.interface.fill(
                        self.notice("unmet_saved", "saved_no_experts"),
                        ui,
                        &[("number", &q.id.to_string())],
                    ),
                    buttons: vec![vec![Button::cb(k.kb.t("btn_menu", ui), data(&k.kb, "M"))]],
                    edit: false,
                });
                if urgent {
                    out.urgent.push(q.id);
                } else {
                    out.new_questions.push(q.id);
                }
                out
            }
            Err(e) => {
                // Nothing is acknowledged that was not committed.
                log::error!("a question could not be stored: {e:#}");
                Output::one(Reply::text(k.kb.t("save_failed", ui).to_string()))
            }
        }
    }

    async fn button(&self, k: &Knowledge, chat: i64, profile: Option<Profile>, d: &str) -> Output {
        let ui = profile.as_ref().and_then(|p| p.lang).unwrap_or(Lang::Ru);
        let country = profile.as_ref().and_then(|p| p.country);
        let stale = || {
            let mut r = self.menu(&k.kb, ui, false);
            r.text = format!("{}\n\n{}", k.kb.t("out_of_date", ui), r.text);
            Output::one(r)
        };
        let Some((version, rest)) = d.split_once(':') else {
            return stale();
        };
        let parts: Vec<&str> = rest.split(':').collect();
        let current = version == format!("{:x}", k.kb.version);
        let entry_at = |s: &str| -> Option<Entry> {
            let i: usize = s.parse().ok()?;
            k.kb.entries.get(i).cloned()
        };
        match parts.as_slice() {
            // Language and country choices do not depend on the content: always honoured.
            ["L", code, rest @ ..] => {
                let Ok(l) = code.parse::<Lang>() else {
                    return stale();
                };
                self.save_profile(chat, Some(l), country).await;
                let onboarding = rest.first() == Some(&"o");
                let mut r = if onboarding {
                    self.country_picker(&k.kb, l, true)
                } else {
                    self.menu(&k.kb, l, true)
                };
                r.text = format!("{}\n\n{}", k.kb.t("language_set", l), r.text);
                Output::one(r)
            }
            ["C", code, rest @ ..] => {
                let c = match *code {
                    "skip" => None,
                    c => match c.parse::<Country>() {
                        Ok(c) => Some(c),
                        Err(_) => return stale(),
                    },
                };
                self.save_profile(chat, Some(ui), c.or(country)).await;
                let onboarding = rest.first() == Some(&"o");
                let mut text = String::new();
                if let Some(c) = c {
                    let name = k.kb.t(&format!("country_{}", c.code()), ui).to_string();
                    text =
                        k.kb.interface
                            .fill("country_set", ui, &[("country", &name)]);
                    text.push_str("\n\n");
                }
                if onboarding {
                    text.push_str(k.kb.t("welcome", ui));
                    text.push_str("\n\n<i>");
                    text.push_str(k.kb.t("disclaimer", ui));
                    text.push_str("</i>\n\n");
                }
                let mut r = self.menu(&k.kb, ui, true);
                r.text = format!("{text}{}", r.text);
                Output::one(r)
            }
            ["D", answer] => {
                if *answer == "y" {
                    self.state.lock().expect("state lock").remove(&chat);
                    match self.store.forget(chat).await {
                        Ok(posts) => {
                            // Phrasings taught from this person's questions are gone from the
                            // database: the matcher forgets them too.
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
                } else {
                    Output::one(Reply {
                        text: k.kb.t("forget_cancelled", ui).to_string(),
                        edit: true,
                        ..Reply::default()
                    })
                }
            }
            _ if !current => stale(),
            ["M"] => Output::one(self.menu(&k.kb, ui, true)),
            ["T", i] => match i.parse::<usize>().ok().and_then(|i| k.kb.topics.get(i)) {
                Some(t) => Output::one(self.topic(&k.kb, &t.id.clone(), ui, true)),
                None => stale(),
            },
            ["E", i] => match entry_at(i) {
                Some(e) => {
                    self.count(Some(&e), ui, country, "menu").await;
                    Output::one(self.answer_or_ask_variant(k, &e, ui, country, None, true))
                }
                None => stale(),
            },
            ["E", i, v] => match (entry_at(i), Variant::parse(v)) {
                (Some(e), Some(v)) => Output::one(self.answer(k, &e, ui, v, true)),
                _ => stale(),
            },
            ["W", i, c] => match (entry_at(i), c.parse::<Country>()) {
                (Some(e), Ok(c)) => {
                    self.save_profile(chat, Some(ui), Some(c)).await;
                    Output::one(self.answer(k, &e, ui, c.variant(), true))
                }
                _ => stale(),
            },
            ["F", i, helpful] => match entry_at(i) {
                Some(e) => {
                    let helpful = *helpful == "1";
                    self.soft(
                        "feedback not stored",
                        self.store.record_feedback(chat, &e.id, helpful),
                    )
                    .await;
                    if helpful {
                        Output::one(Reply::text(k.kb.t("feedback_thanks", ui).to_string()))
                    } else {
                        let has_question = self.chat_state(chat, |s| {
                            s.awaiting_question = true;
                            s.last_question.is_some()
                        });
                        let mut buttons = Vec::new();
                        if has_question {
                            buttons.push(vec![Button::cb(
                                k.kb.t("btn_send_expert", ui),
                                data(&k.kb, "N"),
                            )]);
                        }
                        Output::one(Reply {
                            text: k.kb.t("feedback_missing", ui).to_string(),
                            buttons,
                            edit: false,
                        })
                    }
                }
                None => stale(),
            },
            ["R", i] => match entry_at(i) {
                Some(e) => {
                    let indexes = e.see_also.iter().filter_map(|id| k.kb.entry_index(id));
                    let mut buttons = entry_buttons(&k.kb, indexes, ui);
                    buttons.push(vec![Button::cb(k.kb.t("btn_menu", ui), data(&k.kb, "M"))]);
                    Output::one(Reply {
                        text: k.kb.t("related", ui).to_string(),
                        buttons,
                        edit: false,
                    })
                }
                None => stale(),
            },
            ["X", _] => {
                self.chat_state(chat, |s| s.awaiting_question = true);
                Output::one(Reply::text(k.kb.t("ask_expert_prompt", ui).to_string()))
            }
            ["N"] => match self.chat_state(chat, |s| s.last_question.clone()) {
                Some((text, nearest)) => {
                    self.chat_state(chat, |s| s.awaiting_question = false);
                    let country = crate::matcher::detect_country(&text).or(country);
                    let q = NewQuestion {
                        country,
                        candidates: nearest,
                        ..NewQuestion::text(chat, &text, ui)
                    };
                    self.to_experts(k, ui, q).await
                }
                None => {
                    // The question was not kept (a restart): ask for it again.
                    self.chat_state(chat, |s| s.awaiting_question = true);
                    Output::one(Reply::text(k.kb.t("ask_expert_prompt", ui).to_string()))
                }
            },
            ["U", i] => match entry_at(i) {
                Some(_) if let Some(open) = self.open_urgent(chat).await => {
                    Output::one(Reply::text(k.kb.interface.fill(
                        "urgent_already_open",
                        ui,
                        &[("number", &open.to_string())],
                    )))
                }
                Some(e) => {
                    let text = format!("[{}] {}", e.id, k.kb.t("expert_urgent", ui));
                    let mut out = self
                        .to_experts(
                            k,
                            ui,
                            NewQuestion {
                                country,
                                urgent: true,
                                ..NewQuestion::text(chat, &text, ui)
                            },
                        )
                        .await;
                    if !out.urgent.is_empty() {
                        out.replies = vec![Reply::text(
                            k.kb.t(self.notice("urgent_sent", "urgent_no_experts"), ui)
                                .to_string(),
                        )];
                    }
                    out
                }
                None => stale(),
            },
            _ => stale(),
        }
    }

    fn language_picker(
        &self,
        kb: &KnowledgeBase,
        onboarding: bool,
        preselect: Option<Lang>,
    ) -> Reply {
        // Shown before the language is known: the prompt in all four languages, the likely
        // one first.
        let mut order: Vec<Lang> = Lang::ALL.to_vec();
        if let Some(p) = preselect {
            order.retain(|&l| l != p);
            order.insert(0, p);
        }
        let text = order
            .iter()
            .map(|&l| kb.t("choose_language", l).to_string())
            .collect::<Vec<_>>()
            .join("\n");
        let suffix = if onboarding { ":o" } else { "" };
        let buttons = order
            .chunks(2)
            .map(|pair| {
                pair.iter()
                    .map(|&l| {
                        Button::cb(
                            kb.t("language_name", l),
                            data(kb, &format!("L:{}{suffix}", l.code())),
                        )
                    })
                    .collect()
            })
            .collect();
        Reply {
            text,
            buttons,
            edit: false,
        }
    }

    fn country_picker(&self, kb: &KnowledgeBase, ui: Lang, edit: bool) -> Reply {
        let suffix = if edit { ":o" } else { "" };
        let b = |key: &str, code: &str| {
            Button::cb(kb.t(key, ui), data(kb, &format!("C:{code}{suffix}")))
        };
        Reply {
            text: kb.t("choose_country", ui).to_string(),
            buttons: vec![
                vec![b("country_ru", "ru"), b("country_kz", "kz")],
                vec![b("country_kg", "kg"), b("country_other", "other")],
                vec![b("country_skip", "skip")],
            ],
            edit,
        }
    }

    fn menu(&self, kb: &KnowledgeBase, ui: Lang, edit: bool) -> Reply {
        let buttons = kb
            .topics
            .iter()
            .enumerate()
            .map(|(i, t)| {
                vec![Button::cb(
                    format!("{} {}", t.emoji, t.title.get(ui))
                        .trim()
                        .to_string(),
                    data(kb, &format!("T:{i}")),
                )]
            })
            .collect();
        Reply {
            text: kb.t("menu", ui).to_string(),
            buttons,
            edit,
        }
    }

    fn topic(&self, kb: &KnowledgeBase, topic: &str, ui: Lang, edit: bool) -> Reply {
        let title = kb
            .topic(topic)
            .map(|t| t.title.get(ui).clone())
            .unwrap_or_default();
        let indexes = (0..kb.entries.len()).filter(|&i| kb.entries[i].topic == topic);
        let mut buttons = entry_buttons(kb, indexes, ui);
        buttons.push(vec![Button::cb(kb.t("btn_back", ui), data(kb, "M"))]);
        Reply {
            text: kb
                .interface
                .fill("topic_pick", ui, &[("topic", &escape(&title))]),
            buttons,
            edit,
        }
    }

    /// The answer, or — for an entry whose answer depends on the country when the country is
    /// not known — the question "which country?" first.
    fn answer_or_ask_variant(
        &self,
        k: &Knowledge,
        e: &Entry,
        ui: Lang,
        country: Option<Country>,
        variant: Option<Variant>,
        edit: bool,
    ) -> Reply {
        let variant = variant.or(country.map(Country::variant));
        match variant {
            Some(v) => self.answer(k, e, ui, v, edit),
            None if !e.has_variants() => self.answer(k, e, ui, Variant::Any, edit),
            None => {
                let i = k.kb.entry_index(&e.id).unwrap_or_default();
                let b = |key: &str, c: &str| {
                    Button::cb(k.kb.t(key, ui), data(&k.kb, &format!("W:{i}:{c}")))
                };
                Reply {
                    text: k.kb.t("choose_variant", ui).to_string(),
                    buttons: vec![
                        vec![b("country_ru", "ru"), b("country_kz", "kz")],
                        vec![b("country_kg", "kg"), b("country_other", "other")],
                    ],
                    edit,
                }
            }
        }
    }

    fn answer(&self, k: &Knowledge, e: &Entry, ui: Lang, variant: Variant, edit: bool) -> Reply {
        let kb = &k.kb;
        let i = kb.entry_index(&e.id).unwrap_or_default();
        let mut buttons = vec![vec![
            Button::cb(kb.t("btn_helpful", ui), data(kb, &format!("F:{i}:1"))),
            Button::cb(kb.t("btn_not_helpful", ui), data(kb, &format!("F:{i}:0"))),
        ]];
        if e.urgent {
            buttons.push(vec![Button::cb(
                kb.t("btn_talk_now", ui),
                data(kb, &format!("U:{i}")),
            )]);
        }
        let mut row = Vec::new();
        if !e.see_also.is_empty() {
            row.push(Button::cb(
                kb.t("btn_related", ui),
                data(kb, &format!("R:{i}")),
            ));
        }
        row.push(Button {
            label: kb.t("btn_share", ui).to_string(),
            action: Action::SwitchInline(e.id.clone()),
        });
        buttons.push(row);
        buttons.push(vec![
            Button::cb(kb.t("btn_ask_expert", ui), data(kb, &format!("X:{i}"))),
            Button::cb(kb.t("btn_menu", ui), data(kb, "M")),
        ]);
        Reply {
            text: kb.render_answer(e, e.resolve_variant(variant), ui),
            buttons,
            edit,
        }
    }
}

/// A person's message for the experts, with the matcher's nearest entries; a country named in
/// the message wins over the profile's.
fn unmet_question(
    chat: i64,
    source: Option<i32>,
    text: &str,
    ui: Lang,
    country: Option<Country>,
    r: &MatchResult,
) -> NewQuestion {
    NewQuestion {
        country: r.country.or(country),
        candidates: candidates(r),
        source_message: source,
        ..NewQuestion::text(chat, text, ui)
    }
}

/// One button per entry, each opening its answer; one entry a row (titles are long).
fn entry_buttons(
    kb: &KnowledgeBase,
    indexes: impl Iterator<Item = usize>,
    ui: Lang,
) -> Vec<Vec<Button>> {
    indexes
        .map(|i| {
            let title = kb.entries[i].title.get(ui).clone();
            vec![Button::cb(title, data(kb, &format!("E:{i}")))]
        })
        .collect()
}

fn candidates(r: &MatchResult) -> Vec<(String, f32)> {
    r.candidates
        .iter()
        .map(|c| (c.entry.clone(), c.score))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kb::{self, CheckOptions};

    async fn conversation() -> Conversation {
        let (kb, _) = kb::load("dialogues".as_ref(), &CheckOptions::default()).unwrap();
        let store = crate::storage::connect("sqlite::memory:").await.unwrap();
        Conversation::new(Knowledge::new(kb, &[]), store)
    }

    fn press(reply: &Reply, label_part: &str) -> Event {
        for b in reply.buttons.iter().flatten() {
            if b.label.contains(label_part) {
                if let Action::Callback(d) = &b.action {
                    return Event::Button(d.clone());
                }
            }
        }
        panic!("no button {label_part:?} in {:?}", reply.buttons);
    }

    fn text(t: &str) -> Event {
        Event::Text {
            text: t.to_string(),
            language_code: None,
        }
    }

    #[tokio::test]
    async fn faq_answered_texts_are_kept_only_when_configured() {
        let question = "how do I register my address in Moscow";
        let c = conversation().await;
        c.handle(1, text(question)).await;
        assert_eq!(
            c.store.faq_texts().await.unwrap(),
            [],
            "not kept by default"
        );

        let c = conversation().await.keeping_faq_texts(true);
        c.handle(1, text(question)).await;
        assert_eq!(
            c.store.faq_texts().await.unwrap(),
            [("stay.registration".to_string(), question.to_string())]
        );
    }

    #[tokio::test]
    async fn onboarding_language_country_welcome_menu() {
        let c = conversation().await;
        let out = c
            .handle(
                7,
                Event::Start {
                    payload: None,
                    language_code: Some("ky".into()),
                },
            )
            .await;
        let picker = &out.replies[0];
        // Telegram's language pre-selects Kyrgyz: its button comes first.
        assert_eq!(picker.buttons[0][0].label, "Кыргызча");
        let out = c.handle(7, press(picker, "Кыргызча")).await;
        assert!(
            out.replies[0]
                .text
                .contains(c.knowledge().kb.t("choose_country", Lang::Ky))
        );
        let out = c.handle(7, press(&out.replies[0], "Россия")).await;
        let menu = &out.replies[0];
        let kb = &c.knowledge().kb;
        assert!(menu.text.contains(kb.t("welcome", Lang::Ky)));
        assert!(menu.text.contains(kb.t("disclaimer", Lang::Ky)));
        assert_eq!(menu.buttons.len(), kb.topics.len());
        let p = c.store.get_profile(7).await.unwrap().unwrap();
        assert_eq!((p.lang, p.country), (Some(Lang::Ky), Some(Country::Ru)));
    }

    #[tokio::test]
    async fn menu_navigation_edits_in_place_and_shows_the_answer() {
        let c = conversation().await;
        c.store
            .save_profile(1, Some(Lang::En), Some(Country::Kz))
            .await
            .unwrap();
        let menu = c.handle(1, Event::Menu).await.replies.remove(0);
        let topic = c.handle(1, press(&menu, "Work")).await.replies.remove(0);
        assert!(topic.edit);
        let kb = &c.knowledge().kb;
        let permit = kb.entry("work.permit").unwrap();
        let answer = c
            .handle(1, press(&topic, permit.title.get(Lang::En)))
            .await
            .replies
            .remove(0);
        assert!(answer.edit);
        // The profile's country picks the Kazakhstan variant.
        assert!(
            answer
                .text
                .contains(permit.answer(Variant::Kz, Lang::En).trim()),
            "{}",
            answer.text
        );
        for label in [
            "👍",
            "👎",
            kb.t("btn_share", Lang::En),
            kb.t("btn_menu", Lang::En),
        ] {
            assert!(
                answer.buttons.iter().flatten().any(|b| b.label == label),
                "{label}"
            );
        }
    }

    #[tokio::test]
    async fn free_text_in_another_language_is_answered_in_the_users_language() {
        let c = conversation().await;
        c.store.save_profile(2, Some(Lang::En), None).await.unwrap();
        let out = c.handle(2, text("Москвада каттоодон кантип өтөм?")).await;
        let reply = &out.replies[0];
        let kb = &c.knowledge().kb;
        let e = kb.entry("stay.registration").unwrap();
        // The city names the country, so the Russian variant is chosen without asking.
        assert!(
            reply.text.contains(e.answer(Variant::Ru, Lang::En).trim()),
            "{}",
            reply.text
        );
        assert!(
            reply.text.contains("Кыргызча"),
            "language note: {}",
            reply.text
        );
    }

    #[tokio::test]
    async fn variant_entry_without_country_asks_once() {
        let c = conversation().await;
        c.store.save_profile(3, Some(Lang::Ru), None).await.unwrap();
        let kb = c.knowledge();
        let i = kb.kb.entry_index("stay.term").unwrap();
        let out = c
            .handle(3, Event::Button(format!("{:x}:E:{i}", kb.kb.version)))
            .await;
        let ask = &out.replies[0];
        assert_eq!(ask.text, kb.kb.t("choose_variant", Lang::Ru));
        let out = c.handle(3, press(ask, "Казахстан")).await;
        let e = kb.kb.entry("stay.term").unwrap();
        assert!(
            out.replies[0]
                .text
                .contains(e.answer(Variant::Kz, Lang::Ru).trim())
        );
        // Asked once: the country is now in the profile.
        let p = c.store.get_profile(3).await.unwrap().unwrap();
        assert_eq!(p.country, Some(Country::Kz));
    }

    #[tokio::test]
    async fn unmet_question_is_stored_before_the_user_is_told() {
        let c = conversation().await;
        c.store.save_profile(4, Some(Lang::Ru), None).await.unwrap();
        let q = "Где в Бишкеке купить дешёвый билет на самолёт до Стамбула <b>&</b>?";
        let out = c.handle(4, text(q)).await;
        assert_eq!(out.new_questions.len(), 1);
        let stored = c
            .store
            .question(out.new_questions[0])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.text, q);
        assert!(
            out.replies[0].text.contains(&format!("№ {}", stored.id))
                || out.replies[0].text.contains(&stored.id.to_string())
        );
    }

    #[tokio::test]
    async fn clarify_then_none_of_these_sends_the_question_to_experts() {
        let c = conversation().await;
        c.store.save_profile(5, Some(Lang::Ru), None).await.unwrap();
        let kb = c.knowledge();
        // Find a question the matcher is unsure about, from the shipped phrasings mixed.
        let q = "паспорт";
        let r = kb.matcher.ask(q, Some(Lang::Ru), None);
        if r.status != Status::Clarify {
            return assert!(matches!(r.status, Status::Answered | Status::Unmet));
        }
        let out = c.handle(5, text(q)).await;
        let reply = &out.replies[0];
        assert_eq!(reply.text, kb.kb.t("clarify", Lang::Ru));
        let out = c
            .handle(5, press(reply, kb.kb.t("btn_none", Lang::Ru)))
            .await;
        assert_eq!(out.new_questions.len(), 1);
        assert_eq!(
            c.store
                .question(out.new_questions[0])
                .await
                .unwrap()
                .unwrap()
                .text,
            q
        );
    }

    #[tokio::test]
    async fn stale_or_forged_buttons_get_a_fresh_menu() {
        let c = conversation().await;
        c.store.save_profile(6, Some(Lang::Uz), None).await.unwrap();
        let kb = c.knowledge();
        for forged in [
            "0:E:1",
            "nonsense",
            &format!("{:x}:E:99999", kb.kb.version),
            &format!("{:x}:Z", kb.kb.version),
            "",
        ] {
            let out = c.handle(6, Event::Button(forged.to_string())).await;
            assert!(
                out.replies[0]
                    .text
                    .starts_with(kb.kb.t("out_of_date", Lang::Uz)),
                "{forged}"
            );
            assert_eq!(out.replies[0].buttons.len(), kb.kb.topics.len());
        }
    }

    #[tokio::test]
    async fn deep_link_opens_the_answer() {
        let c = conversation().await;
        let payload = encode_start("birth.registration");
        assert!(
            payload
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
        );
        let out = c
            .handle(
                8,
                Event::Start {
                    payload: Some(payload),
                    language_code: Some("uz".into()),
                },
            )
            .await;
        let kb = &c.knowledge().kb;
        let e = kb.entry("birth.registration").unwrap();
        // A variant entry and no country yet: it asks, in the Telegram language.
        assert_eq!(out.replies[0].text, kb.t("choose_variant", Lang::Uz));
        let _ = e;
    }

    #[tokio::test]
    async fn thumbs_down_offers_an_expert_and_forget_deletes_everything() {
        let c = conversation().await;
        c.store
            .save_profile(9, Some(Lang::En), Some(Country::Ru))
            .await
            .unwrap();
        let kb = c.knowledge();
        let answer = c
            .handle(9, text("how do I register my address in Moscow"))
            .await
            .replies
            .remove(0);
        let out = c.handle(9, press(&answer, "👎")).await;
        assert_eq!(out.replies[0].text, kb.kb.t("feedback_missing", Lang::En));
        let out = c
            .handle(9, text("My landlord refuses to register me, what then?"))
            .await;
        assert_eq!(
            out.new_questions.len(),
            1,
            "the next message goes to experts"
        );
        let confirm = c.handle(9, Event::Forget).await.replies.remove(0);
        let out = c
            .handle(9, press(&confirm, kb.kb.t("btn_yes_delete", Lang::En)))
            .await;
        assert_eq!(out.replies[0].text, kb.kb.t("forget_done", Lang::En));
        assert!(c.store.get_profile(9).await.unwrap().is_none());
        assert!(
            c.store
                .question(out.new_questions.first().copied().unwrap_or(1))
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn first_contact_uses_telegrams_language_when_the_text_does_not_tell() {
        let c = conversation().await;
        let out = c
            .handle(
                11,
                Event::Text {
                    text: "12345".into(),
                    language_code: Some("uz-UZ".into()),
                },
            )
            .await;
        assert_eq!(out.new_questions.len(), 1);
        let p = c.store.get_profile(11).await.unwrap().unwrap();
        assert_eq!(p.lang, Some(Lang::Uz));
    }

    #[tokio::test]
    async fn unsupported_messages_and_empty_text() {
        let c = conversation().await;
        c.store
            .save_profile(10, Some(Lang::Ky), None)
            .await
            .unwrap();
        let kb = c.knowledge();
        let out = c.handle(10, Event::Unsupported).await;
        assert_eq!(out.replies[0].text, kb.kb.t("non_text", Lang::Ky));
        let out = c.handle(10, text("🙂🙂 \u{200b} !!!")).await;
        assert!(out.new_questions.is_empty());
        assert_eq!(out.replies[0].text, kb.kb.t("menu", Lang::Ky));
    }
}
