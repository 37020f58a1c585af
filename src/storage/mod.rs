//! Storage: one trait, [`Storage`], with a SQLite and a PostgreSQL implementation.
//!
//! SQLite is for a single instance (and tests); PostgreSQL is for running several instances
//! against one database. Each backend carries its own migrations (`migrations/sqlite`,
//! `migrations/postgres`), applied by [`connect`], because the two dialects differ in types
//! (identity columns, timestamps, booleans) and a shared schema would fit neither well.
//!
//! Queries are built at run time (`sqlx::query_as` with `FromRow`), not with the `query!`
//! macros, so the crate builds without a database.
//!
//! Privacy: a profile holds only the chat id, language, country and two dates. `forget` removes
//! everything tied to a chat id; the daily counters never hold one, so they survive it.

mod postgres;
mod sqlite;

use crate::lang::{Country, Lang};
use anyhow::{Context, anyhow, bail};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use postgres::PgStorage;
pub use sqlite::SqliteStorage;

/// Opens the database named by `url` and brings its schema up to date.
///
/// `sqlite:path`, `sqlite://path`, `sqlite:///abs/path` and `sqlite::memory:` open SQLite;
/// `postgres://…` and `postgresql://…` open PostgreSQL.
pub async fn connect(url: &str) -> anyhow::Result<Arc<dyn Storage>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStorage::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStorage::connect(url).await?))
    } else {
        // Never echo the URL: it may carry a password.
        bail!("unsupported database URL: use sqlite:… or postgres://…")
    }
}

/// What the bot remembers about a chat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub chat_id: i64,
    pub lang: Option<Lang>,
    pub country: Option<Country>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QuestionStatus {
    Open,
    Answered,
    Dismissed,
    /// Folded into another question with the same group key.
    Merged,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QuestionKind {
    Text,
    Voice,
    Photo,
}

/// Whether the expert's answer reached the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    Delivered,
    /// The user blocked the bot (or deleted the chat) before the answer came.
    Blocked,
}

/// A Telegram message to copy to the expert chat (voice and photo questions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MediaRef {
    pub from_chat_id: i64,
    pub message_id: i32,
}

/// A question the matcher could not answer, as it arrives.
#[derive(Clone, Debug, PartialEq)]
pub struct NewQuestion {
    pub chat_id: i64,
    pub text: String,
    pub lang: Lang,
    pub country: Option<Country>,
    /// The matcher's best candidates (entry id, score), best first.
    pub candidates: Vec<(String, f32)>,
    pub urgent: bool,
    pub kind: QuestionKind,
    pub media: Option<MediaRef>,
    /// The normalised text; questions with equal keys are "the same question".
    pub group_key: String,
    /// The user's message the question came from: a message delivered twice (again after a
    /// crash, or by a retried webhook) stores one question.
    pub source_message: Option<i32>,
}

impl NewQuestion {
    /// A text question with no candidates, not urgent, from no particular message.
    pub fn text(chat_id: i64, text: &str, lang: Lang) -> NewQuestion {
        NewQuestion {
            chat_id,
            text: text.to_string(),
            lang,
            country: None,
            candidates: Vec::new(),
            urgent: false,
            kind: QuestionKind::Text,
            media: None,
            // Questions that differ only in case, punctuation, script or Kyrgyz letters are one
            // group for the experts; any difference in a number keeps them apart.
            group_key: crate::text::group_key(text),
            source_message: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    pub id: i64,
    pub chat_id: i64,
    pub text: String,
    pub lang: Lang,
    pub country: Option<Country>,
    pub candidates: Vec<(String, f32)>,
    pub status: QuestionStatus,
    pub urgent: bool,
    pub kind: QuestionKind,
    pub media: Option<MediaRef>,
    pub group_key: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expert_chat_id: Option<i64>,
    pub expert_message_id: Option<i32>,
    pub posted_at: Option<DateTime<Utc>>,
    pub answer: Option<String>,
    pub answered_by: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub delivery: Option<Delivery>,
}

/// A phrasing an expert taught the bot: `text` should match `entry`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Learned {
    pub id: i64,
    pub text: String,
    pub entry: String,
    pub expert: String,
    pub created_at: DateTime<Utc>,
}

/// Thumbs up and down for one entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FeedbackCount {
    pub entry: String,
    pub up: i64,
    pub down: i64,
}

/// A question many people asked and the bot could not answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Missed {
    /// One of the texts in the group, as a sample.
    pub text: String,
    pub count: i64,
}

/// Aggregates since a day; every list is sorted by count, largest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    pub by_topic: Vec<(String, i64)>,
    pub by_lang: Vec<(Lang, i64)>,
    pub by_country: Vec<(Option<Country>, i64)>,
    /// Outcome name ("answered", "clarify", "unmet", …) and count.
    pub outcomes: Vec<(String, i64)>,
    pub feedback: Vec<FeedbackCount>,
    /// At most ten.
    pub top_missed: Vec<Missed>,
}

impl Stats {
    pub fn outcome(&self, name: &str) -> i64 {
        self.outcomes
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, c)| *c)
    }
}

/// One question for export to researchers: deliberately without any chat id.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExportRow {
    pub id: i64,
    pub lang: Lang,
    pub country: Option<Country>,
    pub status: QuestionStatus,
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// How long texts of resolved questions are kept by default.
pub const ANSWERED_KEEP_DAYS: i64 = 90;

/// Days after which a person who has not used the bot is forgotten, as by `/forget`.
pub const INACTIVE_FORGET_DAYS: i64 = 365;

/// What the retention clean-up keeps: `JARDAM_KEEP_ANSWERED_DAYS`, `JARDAM_FORGET_INACTIVE_DAYS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Days a resolved question's text and its expert's answer are kept after it was resolved.
    pub answered_days: u32,
    /// Days without a visit after which everything about a person is deleted.
    pub inactive_days: u32,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            answered_days: ANSWERED_KEEP_DAYS as u32,
            inactive_days: INACTIVE_FORGET_DAYS as u32,
        }
    }
}

#[async_trait]
pub trait Storage: Send + Sync {
    /// Readiness check: succeeds when the database answers.
    async fn ping(&self) -> anyhow::Result<()>;
    /// Waits for running queries and closes the connections (at shutdown); later calls fail.
    async fn close(&self);

    async fn get_profile(&self, chat_id: i64) -> anyhow::Result<Option<Profile>>;
    /// Creates or updates the profile; `first_seen` is kept, `last_seen` set to now.
    async fn save_profile(
        &self,
        chat_id: i64,
        lang: Option<Lang>,
        country: Option<Country>,
    ) -> anyhow::Result<()>;
    /// Sets `last_seen` to now, creating an empty profile if there is none.
    async fn touch(&self, chat_id: i64) -> anyhow::Result<()>;
    /// Deletes the profile, chat state, questions, kept FAQ texts, feedback and the phrasings
    /// taught from the chat's questions; the daily counters stay. Returns the expert posts of the deleted
    /// questions (chat, message), to be marked as deleted.
    async fn forget(&self, chat_id: i64) -> anyhow::Result<Vec<(i64, i32)>>;

    /// Stores a new open question; it is committed when this returns. A question from a
    /// source message already stored returns the stored one.
    async fn add_question(&self, q: NewQuestion) -> anyhow::Result<Question>;
    async fn question(&self, id: i64) -> anyhow::Result<Option<Question>>;
    /// Every question posted as this message (a group shares one post), by id, whatever its
    /// status.
    async fn posted_as(&self, chat_id: i64, message_id: i32) -> anyhow::Result<Vec<Question>>;
    /// Records where the question was posted; it then leaves `unposted_questions`.
    async fn set_expert_message(
        &self,
        id: i64,
        chat_id: i64,
        message_id: i32,
    ) -> anyhow::Result<()>;
    /// Open questions not yet posted to the experts and not claimed by a live lease,
    /// oldest first.
    async fn unposted_questions(&self, limit: u32) -> anyhow::Result<Vec<Question>>;
    /// Takes the right to post question `id` for `lease`. True for exactly one caller until
    /// the lease runs out, so two instances never post the same question.
    async fn claim_for_posting(
        &self,
        id: i64,
        instance: &str,
        lease: Duration,
    ) -> anyhow::Result<bool>;
    /// Gives up `instance`'s claim on question `id` (its post failed), so that any instance
    /// may retry at once instead of after the lease.
    async fn release_claim(&self, id: i64, instance: &str) -> anyhow::Result<()>;
    /// Open questions with this group key, oldest first; none for an empty key.
    async fn open_group(&self, group_key: &str) -> anyhow::Result<Vec<Question>>;
    /// The post of a group: the expert message (in `expert_chat`) of the oldest open, not
    /// urgent question with this group key that is posted there. One indexed row, however
    /// many people asked: a surge of one question costs each new asker the same.
    async fn group_post(&self, group_key: &str, expert_chat: i64) -> anyhow::Result<Option<i32>>;
    /// Takes the right to re-render expert post (chat, message) now: true for one caller
    /// when the post was not refreshed (by any instance) within `every`.
    async fn claim_post_refresh(
        &self,
        chat_id: i64,
        message_id: i32,
        every: Duration,
    ) -> anyhow::Result<bool>;
    /// Open questions, urgent first, then oldest first.
    async fn open_questions(&self, limit: u32, offset: u32) -> anyhow::Result<Vec<Question>>;
    async fn count_open(&self) -> anyhow::Result<i64>;
    /// A chat's open urgent question, if it has one (the oldest).
    async fn open_urgent_of(&self, chat_id: i64) -> anyhow::Result<Option<Question>>;
    /// The expert posts (expert chat, message) that hold a chat's open, not urgent questions,
    /// the one with the newest question first; at most `limit`.
    async fn open_posts_of(&self, chat_id: i64, limit: u32) -> anyhow::Result<Vec<(i64, i32)>>;
    /// Stores the expert's answer. False if the question does not exist or was already
    /// answered: when two experts answer at once, only one answer is delivered.
    async fn mark_answered(&self, id: i64, answer: &str, expert: &str) -> anyhow::Result<bool>;
    /// False if there is no such question.
    async fn set_status(&self, id: i64, status: QuestionStatus) -> anyhow::Result<bool>;
    async fn set_delivery(&self, id: i64, delivered: bool) -> anyhow::Result<()>;

    /// Keeps the text of a question the FAQ answered (only when `JARDAM_KEEP_TEXTS_DAYS` is
    /// set).
    async fn keep_faq_text(
        &self,
        chat_id: i64,
        text: &str,
        entry: &str,
        lang: Lang,
    ) -> anyhow::Result<()>;
    /// Kept FAQ texts as (entry, text), oldest first.
    async fn faq_texts(&self) -> anyhow::Result<Vec<(String, String)>>;
    /// Erases kept FAQ texts written before `before`. Returns how many.
    async fn erase_faq_texts(&self, before: DateTime<Utc>) -> anyhow::Result<u64>;

    async fn record_feedback(&self, chat_id: i64, entry: &str, helpful: bool)
    -> anyhow::Result<()>;

    /// Teaches a phrasing; a phrasing taught again replaces the old one (and gets a new id,
    /// so `learned_since` picks up the change). Returns the id.
    /// `from_chat` is the person whose question it was taught from, if any (see `forget`).
    async fn add_learned(
        &self,
        text: &str,
        entry: &str,
        expert: &str,
        from_chat: Option<i64>,
    ) -> anyhow::Result<i64>;
    /// How many phrasings are taught: with `learned_since`, tells another instance that some
    /// were deleted.
    async fn count_learned(&self) -> anyhow::Result<i64>;
    /// All phrasings as (entry, text), oldest first.
    async fn learned(&self) -> anyhow::Result<Vec<(String, String)>>;
    /// Phrasings with an id above `after_id`, for reloading only what is new.
    async fn learned_since(&self, after_id: i64) -> anyhow::Result<Vec<Learned>>;

    /// Adds one to the counter for this day and combination; `entry` and `topic` may be "".
    async fn bump_counter(
        &self,
        day: NaiveDate,
        entry: &str,
        topic: &str,
        lang: Lang,
        country: Option<Country>,
        outcome: &str,
    ) -> anyhow::Result<()>;
    /// Aggregates from `since` (inclusive, UTC) on.
    async fn stats(&self, since: NaiveDate) -> anyhow::Result<Stats>;
    /// Questions created at or after `since` (all without it), by id.
    async fn export(&self, since: Option<DateTime<Utc>>) -> anyhow::Result<Vec<ExportRow>>;
    /// Erases the text (and group key and media reference) of questions resolved more than
    /// `answered_keep_days` before `now`. Returns how many were erased.
    /// Webhook mode: stores an update before Telegram is told it arrived, claimed by
    /// `instance` for `lease`. `false`: it is stored already (Telegram sent it again), and it
    /// is not to be handled again.
    async fn inbox_put(
        &self,
        update_id: i64,
        body: &str,
        instance: &str,
        lease: Duration,
    ) -> anyhow::Result<bool>;
    /// Marks a stored update as handled, and drops its text (the id stays, so that a
    /// redelivery is recognised until [`Storage::inbox_prune`]).
    async fn inbox_done(&self, update_id: i64) -> anyhow::Result<()>;
    /// Gives up the claim on an unfinished update (it was not taken after all), so that
    /// [`Storage::inbox_claim_stale`] hands it out at once.
    async fn inbox_release(&self, update_id: i64) -> anyhow::Result<()>;
    /// Extends the lease of every unfinished update `instance` has claimed.
    async fn inbox_renew(&self, instance: &str, lease: Duration) -> anyhow::Result<u64>;
    /// Claims for `instance` at most `limit` unfinished updates whose lease ran out (their
    /// instance died), oldest first: (update id, body). Each is claimed by one instance only.
    async fn inbox_claim_stale(
        &self,
        instance: &str,
        lease: Duration,
        limit: u32,
    ) -> anyhow::Result<Vec<(i64, String)>>;
    /// Deletes handled updates marked done before `before`.
    async fn inbox_prune(&self, before: DateTime<Utc>) -> anyhow::Result<u64>;
    /// The chat's state between two messages as the conversation wrote it, if it was written
    /// after `since` (an older one is as good as none).
    async fn chat_state(
        &self,
        chat_id: i64,
        since: DateTime<Utc>,
    ) -> anyhow::Result<Option<String>>;
    /// Writes the chat's state (`None` deletes it).
    async fn set_chat_state(&self, chat_id: i64, state: Option<&str>) -> anyhow::Result<()>;
    /// Deletes chat states written, and post refresh marks taken, before `before`. Returns
    /// how many chat states.
    async fn erase_chat_states(&self, before: DateTime<Utc>) -> anyhow::Result<u64>;
    /// Chats whose last visit (or, without a profile, newest question) is before `before`:
    /// the retention clean-up forgets them. At most `limit`.
    async fn inactive_chats(&self, before: DateTime<Utc>, limit: u32) -> anyhow::Result<Vec<i64>>;
    async fn erase_old_texts(
        &self,
        now: DateTime<Utc>,
        answered_keep_days: i64,
    ) -> anyhow::Result<u64>;
}

// ---- shared between the backends ----

/// Both databases keep microseconds; rounding here makes a stored time compare equal to the
/// one returned, whichever backend is used.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The start of a UTC day (for `--since DATE` and the statistics' ranges).
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

impl QuestionStatus {
    pub fn code(self) -> &'static str {
        match self {
            QuestionStatus::Open => "open",
            QuestionStatus::Answered => "answered",
            QuestionStatus::Dismissed => "dismissed",
            QuestionStatus::Merged => "merged",
        }
    }
}

impl FromStr for QuestionStatus {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "open" => QuestionStatus::Open,
            "answered" => QuestionStatus::Answered,
            "dismissed" => QuestionStatus::Dismissed,
            "merged" => QuestionStatus::Merged,
            other => bail!("unknown question status '{other}'"),
        })
    }
}

impl fmt::Display for QuestionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl QuestionKind {
    pub fn code(self) -> &'static str {
        match self {
            QuestionKind::Text => "text",
            QuestionKind::Voice => "voice",
            QuestionKind::Photo => "photo",
        }
    }
}

impl FromStr for QuestionKind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "text" => QuestionKind::Text,
            "voice" => QuestionKind::Voice,
            "photo" => QuestionKind::Photo,
            other => bail!("unknown question kind '{other}'"),
        })
    }
}

impl Delivery {
    pub fn code(self) -> &'static str {
        match self {
            Delivery::Delivered => "delivered",
            Delivery::Blocked => "blocked",
        }
    }

    fn from_flag(delivered: bool) -> Delivery {
        if delivered {
            Delivery::Delivered
        } else {
            Delivery::Blocked
        }
    }
}

impl FromStr for Delivery {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "delivered" => Delivery::Delivered,
            "blocked" => Delivery::Blocked,
            other => bail!("unknown delivery status '{other}'"),
        })
    }
}

fn parse_lang(s: &str) -> anyhow::Result<Lang> {
    s.parse().map_err(|e: String| anyhow!(e))
}

/// Country columns hold "" for "not known" where they are part of a key (the counters).
fn parse_country(s: Option<&str>) -> anyhow::Result<Option<Country>> {
    match s {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|e: String| anyhow!(e)),
    }
}

fn country_code(c: Option<Country>) -> &'static str {
    c.map_or("", Country::code)
}

fn candidates_json(c: &[(String, f32)]) -> anyhow::Result<String> {
    Ok(serde_json::to_string(c)?)
}

#[derive(sqlx::FromRow)]
struct ProfileRow {
    chat_id: i64,
    lang: Option<String>,
    country: Option<String>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

impl TryFrom<ProfileRow> for Profile {
    type Error = anyhow::Error;
    fn try_from(r: ProfileRow) -> anyhow::Result<Profile> {
        Ok(Profile {
            chat_id: r.chat_id,
            lang: r.lang.as_deref().map(parse_lang).transpose()?,
            country: parse_country(r.country.as_deref())?,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
        })
    }
}

/// The column list every question query selects, in [`QuestionRow`]'s shape.
const QUESTION_COLUMNS: &str = "id, chat_id, text, lang, country, candidates, status, urgent, \
    kind, media_chat_id, media_message_id, group_key, created_at, updated_at, expert_chat_id, \
    expert_message_id, posted_at, answer, answered_by, answered_at, delivery";

/// `SELECT` of every question column, followed by `tail` (conditions and ordering).
fn select_questions(tail: &str) -> String {
    format!("SELECT {QUESTION_COLUMNS} FROM questions WHERE {tail}")
}

#[derive(sqlx::FromRow)]
struct QuestionRow {
    id: i64,
    chat_id: i64,
    text: String,
    lang: String,
    country: Option<String>,
    candidates: String,
    status: String,
    urgent: bool,
    kind: String,
    media_chat_id: Option<i64>,
    media_message_id: Option<i32>,
    group_key: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    expert_chat_id: Option<i64>,
    expert_message_id: Option<i32>,
    posted_at: Option<DateTime<Utc>>,
    answer: Option<String>,
    answered_by: Option<String>,
    answered_at: Option<DateTime<Utc>>,
    delivery: Option<String>,
}

impl TryFrom<QuestionRow> for Question {
    type Error = anyhow::Error;
    fn try_from(r: QuestionRow) -> anyhow::Result<Question> {
        let id = r.id;
        (|| -> anyhow::Result<Question> {
            Ok(Question {
                id: r.id,
                chat_id: r.chat_id,
                text: r.text,
                lang: parse_lang(&r.lang)?,
                country: parse_country(r.country.as_deref())?,
                candidates: serde_json::from_str(&r.candidates).context("candidates")?,
                status: r.status.parse()?,
                urgent: r.urgent,
                kind: r.kind.parse()?,
                media: match (r.media_chat_id, r.media_message_id) {
                    (Some(from_chat_id), Some(message_id)) => Some(MediaRef {
                        from_chat_id,
                        message_id,
                    }),
                    _ => None,
                },
                group_key: r.group_key,
                created_at: r.created_at,
                updated_at: r.updated_at,
                expert_chat_id: r.expert_chat_id,
                expert_message_id: r.expert_message_id,
                posted_at: r.posted_at,
                answer: r.answer,
                answered_by: r.answered_by,
                answered_at: r.answered_at,
                delivery: r.delivery.as_deref().map(str::parse).transpose()?,
            })
        })()
        .with_context(|| format!("question {id} in the database is malformed"))
    }
}

fn questions(rows: Vec<QuestionRow>) -> anyhow::Result<Vec<Question>> {
    rows.into_iter().map(Question::try_from).collect()
}

#[derive(sqlx::FromRow)]
struct LearnedRow {
    id: i64,
    text: String,
    entry: String,
    expert: String,
    created_at: DateTime<Utc>,
}

impl From<LearnedRow> for Learned {
    fn from(r: LearnedRow) -> Learned {
        Learned {
            id: r.id,
            text: r.text,
            entry: r.entry,
            expert: r.expert,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct CountRow {
    key: String,
    n: i64,
}

#[derive(sqlx::FromRow)]
struct FeedbackRow {
    entry: String,
    up: i64,
    down: i64,
}

#[derive(sqlx::FromRow)]
struct MissedRow {
    text: String,
    n: i64,
}

/// The parts of [`Stats`] as the queries return them.
struct StatsRows {
    by_topic: Vec<CountRow>,
    by_lang: Vec<CountRow>,
    by_country: Vec<CountRow>,
    outcomes: Vec<CountRow>,
    feedback: Vec<FeedbackRow>,
    missed: Vec<MissedRow>,
}

impl TryFrom<StatsRows> for Stats {
    type Error = anyhow::Error;
    fn try_from(r: StatsRows) -> anyhow::Result<Stats> {
        let pairs = |rows: Vec<CountRow>| rows.into_iter().map(|r| (r.key, r.n)).collect();
        Ok(Stats {
            by_topic: pairs(r.by_topic),
            by_lang: r
                .by_lang
                .into_iter()
                .map(|r| Ok((parse_lang(&r.key)?, r.n)))
                .collect::<anyhow::Result<_>>()?,
            by_country: r
                .by_country
                .into_iter()
                .map(|r| Ok((parse_country(Some(&r.key))?, r.n)))
                .collect::<anyhow::Result<_>>()?,
            outcomes: pairs(r.outcomes),
            feedback: r
                .feedback
                .into_iter()
                .map(|r| FeedbackCount {
                    entry: r.entry,
                    up: r.up,
                    down: r.down,
                })
                .collect(),
            top_missed: r
                .missed
                .into_iter()
                .map(|r| Missed {
                    text: r.text,
                    count: r.n,
                })
                .collect(),
        })
    }
}

#[derive(sqlx::FromRow)]
struct ExportDbRow {
    id: i64,
    lang: String,
    country: Option<String>,
    status: String,
    text: String,
    created_at: DateTime<Utc>,
    answered_at: Option<DateTime<Utc>>,
}

impl TryFrom<ExportDbRow> for ExportRow {
    type Error = anyhow::Error;
    fn try_from(r: ExportDbRow) -> anyhow::Result<ExportRow> {
        Ok(ExportRow {
            id: r.id,
            lang: parse_lang(&r.lang)?,
            country: parse_country(r.country.as_deref())?,
            status: r.status.parse()?,
            text: r.text,
            created_at: r.created_at,
            answered_at: r.answered_at,
        })
    }
}

/// How many texts the statistics list as most missed.
const TOP_MISSED: i64 = 10;
