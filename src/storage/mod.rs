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

mod error;
mod postgres;
mod rows;
mod sqlite;

use crate::lang::{Country, Lang};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use std::sync::Arc;
use std::time::Duration;

pub use error::{Backend, BadValue, Error, Result, Row};
pub use postgres::PgStorage;
// The records it stores are the product's nouns, in their own module; re-exported here for the
// backends and for callers that name them through the storage.
pub use crate::model::*;
pub use sqlite::SqliteStorage;

/// Opens the database named by `url` and brings its schema up to date.
///
/// `sqlite:path`, `sqlite://path`, `sqlite:///abs/path` and `sqlite::memory:` open SQLite;
/// `postgres://…` and `postgresql://…` open PostgreSQL.
pub async fn connect(url: &str) -> Result<Arc<dyn Storage>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStorage::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStorage::connect(url).await?))
    } else {
        // Never echo the URL: it may carry a password.
        Err(Error::UnsupportedUrl)
    }
}

#[async_trait]
pub trait Storage: Reminders + Follows + Workbench + Send + Sync {
    /// Readiness check: succeeds when the database answers.
    async fn ping(&self) -> Result<()>;
    /// Waits for running queries and closes the connections (at shutdown); later calls fail.
    async fn close(&self);

    async fn get_profile(&self, chat_id: i64) -> Result<Option<Profile>>;
    /// The chat's profile and its state written after `since` (as [`Storage::get_profile`]
    /// and [`Storage::chat_state`] give them), in one read: what every event of a chat needs.
    async fn chat(
        &self,
        chat_id: i64,
        since: DateTime<Utc>,
    ) -> Result<(Option<Profile>, Option<String>)>;
    /// Creates or updates the profile; `first_seen` is kept, `last_seen` set to now.
    async fn save_profile(
        &self,
        chat_id: i64,
        lang: Option<Lang>,
        country: Option<Country>,
    ) -> Result<()>;
    /// Sets `last_seen` to now, creating an empty profile if there is none.
    async fn touch(&self, chat_id: i64) -> Result<()>;
    /// Deletes the profile, chat state, questions, kept FAQ texts, feedback and the phrasings
    /// taught from the chat's questions; the daily counters stay. Returns the expert posts of the deleted
    /// questions (chat, message), to be marked as deleted.
    async fn forget(&self, chat_id: i64) -> Result<Vec<(i64, i32)>>;

    /// Stores a new open question; it is committed when this returns. A question from a
    /// source message already stored returns the stored one.
    async fn add_question(&self, q: NewQuestion) -> Result<Question>;
    async fn question(&self, id: i64) -> Result<Option<Question>>;
    /// Every question posted as this message (a group shares one post), by id, whatever its
    /// status.
    async fn posted_as(&self, chat_id: i64, message_id: i32) -> Result<Vec<Question>>;
    /// Records where the question was posted; it then leaves `unposted_questions`.
    async fn set_expert_message(&self, id: i64, chat_id: i64, message_id: i32) -> Result<()>;
    /// Open questions not yet posted to the experts and not claimed by a live lease,
    /// oldest first.
    async fn unposted_questions(&self, limit: u32) -> Result<Vec<Question>>;
    /// Takes the right to post question `id` for `lease`, and returns the question so taken
    /// (open and not posted). `Some` for exactly one caller until the lease runs out, so two
    /// instances never post the same question.
    async fn claim_for_posting(
        &self,
        id: i64,
        instance: &str,
        lease: Duration,
    ) -> Result<Option<Question>>;
    /// Gives up `instance`'s claim on question `id` (its post failed), so that any instance
    /// may retry at once instead of after the lease.
    async fn release_claim(&self, id: i64, instance: &str) -> Result<()>;
    /// Open questions with this group key, oldest first; none for an empty key.
    async fn open_group(&self, group_key: &str) -> Result<Vec<Question>>;
    /// The post of a group: the expert message (in `expert_chat`) of the oldest open, not
    /// urgent question with this group key that is posted there. One indexed row, however
    /// many people asked: a surge of one question costs each new asker the same.
    async fn group_post(&self, group_key: &str, expert_chat: i64) -> Result<Option<i32>>;
    /// Takes the right to re-render expert post (chat, message) now: true for one caller
    /// when the post was not refreshed (by any instance) within `every`.
    async fn claim_post_refresh(
        &self,
        chat_id: i64,
        message_id: i32,
        every: Duration,
    ) -> Result<bool>;
    /// Open questions, urgent first, then oldest first.
    async fn open_questions(&self, limit: u32, offset: u32) -> Result<Vec<Question>>;
    async fn count_open(&self) -> Result<i64>;
    /// A chat's open urgent question, if it has one (the oldest).
    async fn open_urgent_of(&self, chat_id: i64) -> Result<Option<Question>>;
    /// The expert posts (expert chat, message) that hold a chat's open, not urgent questions,
    /// the one with the newest question first; at most `limit`.
    async fn open_posts_of(&self, chat_id: i64, limit: u32) -> Result<Vec<(i64, i32)>>;
    /// Stores the expert's answer. False if the question does not exist or was already
    /// answered: when two experts answer at once, only one answer is delivered.
    async fn mark_answered(&self, id: i64, answer: &str, expert: &str) -> Result<bool>;
    /// False if there is no such question.
    async fn set_status(&self, id: i64, status: QuestionStatus) -> Result<bool>;
    async fn set_delivery(&self, id: i64, delivered: bool) -> Result<()>;

    /// Keeps the text of a question the FAQ answered (only when `JARDAM_KEEP_TEXTS_DAYS` is
    /// set).
    async fn keep_faq_text(&self, chat_id: i64, text: &str, entry: &str, lang: Lang) -> Result<()>;
    /// Kept FAQ texts as (entry, text), oldest first.
    async fn faq_texts(&self) -> Result<Vec<(String, String)>>;
    /// Erases kept FAQ texts written before `before`. Returns how many.
    async fn erase_faq_texts(&self, before: DateTime<Utc>) -> Result<u64>;

    async fn record_feedback(&self, chat_id: i64, entry: &str, helpful: bool) -> Result<()>;

    /// Teaches a phrasing; a phrasing taught again replaces the old one (and gets a new id,
    /// so `learned_since` picks up the change). Returns the id.
    /// `from_chat` is the person whose question it was taught from, if any (see `forget`).
    async fn add_learned(
        &self,
        text: &str,
        entry: &str,
        expert: &str,
        from_chat: Option<i64>,
    ) -> Result<i64>;
    /// How many phrasings are taught: with `learned_since`, tells another instance that some
    /// were deleted.
    async fn count_learned(&self) -> Result<i64>;
    /// All phrasings as (entry, text), oldest first.
    async fn learned(&self) -> Result<Vec<(String, String)>>;
    /// Phrasings with an id above `after_id`, for reloading only what is new.
    async fn learned_since(&self, after_id: i64) -> Result<Vec<Learned>>;

    /// Adds `n` to each counter, in one transaction (all or none).
    async fn add_counts(&self, counts: &[(Count, i64)]) -> Result<()>;
    /// Adds one to the counter for this day and combination; `entry` and `topic` may be "".
    async fn bump_counter(
        &self,
        day: NaiveDate,
        entry: &str,
        topic: &str,
        lang: Lang,
        country: Option<Country>,
        outcome: &str,
    ) -> Result<()> {
        let count = Count {
            day,
            entry: entry.to_string(),
            topic: topic.to_string(),
            lang,
            country,
            outcome: outcome.to_string(),
        };
        self.add_counts(&[(count, 1)]).await
    }
    /// Aggregates from `since` (inclusive, UTC) on.
    async fn stats(&self, since: NaiveDate) -> Result<Stats>;
    /// Questions created at or after `since` (all without it), by id.
    async fn export(&self, since: Option<DateTime<Utc>>) -> Result<Vec<ExportRow>>;
    /// Webhook mode: stores an update before Telegram is told it arrived, claimed by
    /// `instance` for `lease`. `false`: it is stored already (Telegram sent it again), and it
    /// is not to be handled again.
    async fn inbox_put(
        &self,
        update_id: i64,
        body: &str,
        instance: &str,
        lease: Duration,
    ) -> Result<bool>;
    /// Marks a stored update as handled, and drops its text (the id stays, so that a
    /// redelivery is recognised until [`Storage::inbox_prune`]).
    async fn inbox_done(&self, update_id: i64) -> Result<()>;
    /// Gives up the claim on an unfinished update (it was not taken after all), so that
    /// [`Storage::inbox_claim_stale`] hands it out at once.
    async fn inbox_release(&self, update_id: i64) -> Result<()>;
    /// Extends the lease of every unfinished update `instance` has claimed.
    async fn inbox_renew(&self, instance: &str, lease: Duration) -> Result<u64>;
    /// Claims for `instance` at most `limit` unfinished updates whose lease ran out (their
    /// instance died), oldest first: (update id, body). Each is claimed by one instance only.
    async fn inbox_claim_stale(
        &self,
        instance: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<(i64, String)>>;
    /// Deletes handled updates marked done before `before`.
    async fn inbox_prune(&self, before: DateTime<Utc>) -> Result<u64>;
    /// The chat's state between two messages as the conversation wrote it, if it was written
    /// after `since` (an older one is as good as none).
    async fn chat_state(&self, chat_id: i64, since: DateTime<Utc>) -> Result<Option<String>>;
    /// Writes the chat's state (`None` deletes it).
    async fn set_chat_state(&self, chat_id: i64, state: Option<&str>) -> Result<()>;
    /// Deletes chat states written, and post refresh marks taken, before `before`. Returns
    /// how many chat states.
    async fn erase_chat_states(&self, before: DateTime<Utc>) -> Result<u64>;
    /// Chats whose last visit (or, without a profile, newest question) is before `before`:
    /// the retention clean-up forgets them. A chat waiting for a reminder is not one of them.
    /// At most `limit`.
    async fn inactive_chats(&self, before: DateTime<Utc>, limit: u32) -> Result<Vec<i64>>;
    /// Erases the text (with the group key, the media reference and the expert's answer) of
    /// questions resolved more than `answered_keep_days` before `now`. Returns how many.
    async fn erase_old_texts(&self, now: DateTime<Utc>, answered_keep_days: i64) -> Result<u64>;
}

/// Reminders under guided answers: stored, claimed by one instance when due, sent once.
#[async_trait]
pub trait Reminders: Send + Sync {
    /// Stores a reminder; the same one asked for again (chat, entry, date) is stored once and
    /// returned as it is.
    async fn add_reminder(&self, r: NewReminder) -> Result<Reminder>;
    /// The chat's reminders not yet sent, soonest first.
    async fn reminders_of(&self, chat_id: i64) -> Result<Vec<Reminder>>;
    /// Cancels reminder `id` of chat `chat_id`; `false` when the chat has no such reminder.
    async fn cancel_reminder(&self, chat_id: i64, id: i64) -> Result<bool>;
    /// Claims for `instance`, for `lease`, at most `limit` reminders whose sending time is
    /// `now` or earlier (`now` is the bot's clock; leases run on the real one) and that no
    /// live lease holds, soonest first: each goes to one instance only.
    async fn claim_due_reminders(
        &self,
        now: DateTime<Utc>,
        instance: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Reminder>>;
    /// Gives a reminder claimed by `instance` back, to be sent from `send_at` on (it came at
    /// night where the person lives, or Telegram could not be reached).
    async fn postpone_reminder(
        &self,
        id: i64,
        instance: &str,
        send_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Marks a reminder sent, or undeliverable (the person blocked the bot).
    async fn finish_reminder(&self, id: i64, delivered: bool) -> Result<()>;
    /// Erases reminders sent or found undeliverable before `before`. Returns how many.
    async fn erase_finished_reminders(&self, before: DateTime<Utc>) -> Result<u64>;
}

/// Who follows which answer's changes, and who has had its newest note.
#[async_trait]
pub trait Follows: Send + Sync {
    /// The chat follows `entry`'s changes, told in `lang`; `noted_on` is the date of the
    /// entry's newest change note now (only later ones are to be sent). Following again only
    /// updates the language. `true` when the chat did not follow it yet.
    async fn follow(
        &self,
        chat_id: i64,
        entry: &str,
        lang: Lang,
        noted_on: Option<NaiveDate>,
    ) -> Result<bool>;
    /// The chat no longer follows `entry`; `false` when it did not.
    async fn unfollow(&self, chat_id: i64, entry: &str) -> Result<bool>;
    /// Takes at most `limit` followers of `entry` who have not had its note of `note` yet
    /// (chat, language), and marks it as theirs: each follower is taken by one caller only,
    /// on any instance.
    async fn take_change_followers(
        &self,
        entry: &str,
        note: NaiveDate,
        limit: u32,
    ) -> Result<Vec<(i64, Lang)>>;
    /// How many people follow each entry, most followed first.
    async fn follower_counts(&self) -> Result<Vec<(String, i64)>>;
}

/// The experts' workbench: claims, notes, merges, ratings, overdue questions, jobs done once,
/// and the facts the question radar counts.
#[async_trait]
pub trait Workbench: Send + Sync {
    /// `expert` takes open question `id` until `until`, unless another expert holds it at
    /// `now` (the bot's clock). One statement: of two experts at once, one wins.
    async fn take_question(
        &self,
        id: i64,
        expert: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Taken>;
    /// Keeps an expert's note on question `id`; `false` when there is no such question.
    async fn add_note(&self, id: i64, expert: &str, text: &str) -> Result<bool>;
    /// The notes on these questions, oldest first.
    async fn notes_of(&self, ids: &[i64]) -> Result<Vec<Note>>;
    /// Joins the open questions posted as question `id`'s post (or `id` alone, not posted
    /// yet) to the post of open question `into`: an answer there reaches them all.
    async fn merge_post(&self, id: i64, into: i64) -> Result<Merged>;
    /// Stores the person's rating of the expert's answer to their question `id`, once:
    /// `false` when it is not theirs, not answered, or rated already.
    async fn rate_answer(&self, id: i64, chat_id: i64, helpful: bool) -> Result<bool>;
    /// Takes at most `limit` open questions asked before `before` (urgent ones: before
    /// `urgent_before`) that were not listed as overdue yet, and marks them listed at `now`:
    /// each is taken once, on any instance. Oldest first.
    async fn take_overdue(
        &self,
        now: DateTime<Utc>,
        before: DateTime<Utc>,
        urgent_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Question>>;
    /// The open questions overdue by those times, listed or not (nothing is marked).
    async fn overdue(
        &self,
        before: DateTime<Utc>,
        urgent_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Question>>;
    /// `true` for the one caller, on any instance, that names `key` first: a job done once.
    async fn once(&self, key: &str, by: &str) -> Result<bool>;
    /// The daily counters of the days from `since` to `until`, both included.
    async fn counts_between(&self, since: NaiveDate, until: NaiveDate)
    -> Result<Vec<(Count, i64)>>;
    /// Questions asked from `since` up to (not including) `until`: facts, no texts.
    async fn question_facts(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<QuestionFacts>>;
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

/// How many texts the statistics list as most missed.
const TOP_MISSED: i64 = 10;
