//! The product's records: profiles, questions for experts, learned phrasings, statistics,
//! export rows and the retention settings. The storage hands them out and takes them in; the
//! core and the adapters work with them.

use crate::lang::{Country, Lang};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

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
    /// The expert chat whose open post of the same group this question joins as it is stored,
    /// when there is one (a text question, not urgent): a new asker of a posted question then
    /// costs the one write that stores it.
    pub join_post_in: Option<i64>,
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
            join_post_in: None,
        }
    }

    /// The expert chat to look for a post to join in: only a text question that is not urgent
    /// and has a group joins one.
    pub fn joins_in(&self) -> Option<i64> {
        self.join_post_in
            .filter(|_| joins_posts(self.kind, self.urgent) && !self.group_key.is_empty())
    }
}

/// Whether a question may share a post with others: a text question that is not urgent (an
/// urgent one or a voice message or photo always gets its own).
pub fn joins_posts(kind: QuestionKind, urgent: bool) -> bool {
    kind == QuestionKind::Text && !urgent
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
    /// The expert who pressed "✋ I'll answer", and until when that holds.
    pub taken: Option<(String, DateTime<Utc>)>,
    /// The person's "Did this help?" after an expert's answer.
    pub rating: Option<bool>,
}

impl Question {
    /// The expert holding the question at `now`, if a claim holds.
    pub fn taken_at(&self, now: DateTime<Utc>) -> Option<&str> {
        self.taken
            .as_ref()
            .filter(|(_, until)| *until > now)
            .map(|(by, _)| by.as_str())
    }
}

/// An expert's internal note on a question: shown on its post, never sent to the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub question_id: i64,
    pub expert: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

/// What pressing "✋ I'll answer" came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Taken {
    /// The expert holds it now (again, if they held it already).
    Yours,
    /// Another expert holds it until then.
    Held { by: String, until: DateTime<Utc> },
    /// Answered, dismissed or merged already.
    Closed,
    /// No such question (forgotten, or forged data).
    Gone,
}

/// What joining one post's questions to another's came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Merged {
    /// This many questions now belong to the other post.
    Joined(u64),
    /// Both are the same post.
    Same,
    /// The question to join is not open (answered, dismissed).
    Closed,
    /// The question to join them to is not open, or not posted yet.
    TargetClosed,
    /// No such question.
    Gone,
}

/// One question as the radar counts it: no chat id, no text.
#[derive(Clone, Debug, PartialEq)]
pub struct QuestionFacts {
    pub created_at: DateTime<Utc>,
    pub lang: Lang,
    pub country: Option<Country>,
    pub status: QuestionStatus,
    /// The nearest FAQ entry the matcher saw, if any.
    pub nearest: Option<String>,
    /// When an expert's answer (a reply, a template or an entry) was stored.
    pub answered_at: Option<DateTime<Utc>>,
    pub rating: Option<bool>,
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

/// A code (of a question status, question kind or delivery) that names nothing this program
/// knows: a value in the database that a newer or older version wrote, or that was edited.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{code}'")]
pub struct UnknownCode {
    /// What the code was to name ("question status", …).
    pub what: &'static str,
    pub code: String,
}

impl UnknownCode {
    fn new(what: &'static str, code: &str) -> UnknownCode {
        UnknownCode {
            what,
            code: code.to_owned(),
        }
    }
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
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, UnknownCode> {
        Ok(match s {
            "open" => QuestionStatus::Open,
            "answered" => QuestionStatus::Answered,
            "dismissed" => QuestionStatus::Dismissed,
            "merged" => QuestionStatus::Merged,
            other => return Err(UnknownCode::new("question status", other)),
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
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, UnknownCode> {
        Ok(match s {
            "text" => QuestionKind::Text,
            "voice" => QuestionKind::Voice,
            "photo" => QuestionKind::Photo,
            other => return Err(UnknownCode::new("question kind", other)),
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

    pub(super) fn from_flag(delivered: bool) -> Delivery {
        if delivered {
            Delivery::Delivered
        } else {
            Delivery::Blocked
        }
    }
}

impl FromStr for Delivery {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, UnknownCode> {
        Ok(match s {
            "delivered" => Delivery::Delivered,
            "blocked" => Delivery::Blocked,
            other => return Err(UnknownCode::new("delivery status", other)),
        })
    }
}

/// The key of one daily counter (`/stats`). Anonymous by construction: no chat, no text; ""
/// stands for "no entry" and "no topic".
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Count {
    pub day: NaiveDate,
    pub entry: String,
    pub topic: String,
    pub lang: Lang,
    pub country: Option<Country>,
    /// "answered", "unmet", "clarify"…
    pub outcome: String,
}

/// A reminder a person asks for under a guided answer's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReminder {
    pub chat_id: i64,
    /// The entry whose flow gave the date.
    pub entry: String,
    pub lang: Lang,
    /// The date the outcome is about: a deadline, the end of a ban.
    pub due_on: NaiveDate,
    /// The day to send it, where the person lives.
    pub remind_on: NaiveDate,
    /// From when it may be sent: that day's morning where the person lives.
    pub send_at: DateTime<Utc>,
}

/// A stored reminder, not yet sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reminder {
    pub id: i64,
    pub chat_id: i64,
    pub entry: String,
    pub lang: Lang,
    pub due_on: NaiveDate,
    pub remind_on: NaiveDate,
    pub send_at: DateTime<Utc>,
}
