//! The database rows as the queries return them, and their conversion into the records.

use super::{
    BadValue, Error, ExportRow, FeedbackCount, Learned, MediaRef, Missed, Note, Profile, Question,
    QuestionFacts, Reminder, Result, Row, Stats,
};
use crate::lang::{Country, Lang};
use crate::model::Count;
use chrono::{DateTime, NaiveDate, Utc};

fn parse_lang(s: &str) -> Result<Lang, BadValue> {
    s.parse().map_err(BadValue::Language)
}

/// Country columns hold "" for "not known" where they are part of a key (the counters).
fn parse_country(s: Option<&str>) -> Result<Option<Country>, BadValue> {
    match s {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(BadValue::Country),
    }
}

/// `row` is malformed because of `source`.
fn malformed(row: Row) -> impl FnOnce(BadValue) -> Error {
    move |source| Error::Malformed { row, source }
}

/// A counter's key in the order its primary key sorts.
pub(super) fn count_key(c: &Count) -> (NaiveDate, &str, &str, &'static str, &'static str, &str) {
    (
        c.day,
        &c.entry,
        &c.topic,
        c.lang.code(),
        country_code(c.country),
        &c.outcome,
    )
}

pub(super) fn country_code(c: Option<Country>) -> &'static str {
    c.map_or("", Country::code)
}

pub(super) fn candidates_json(c: &[(String, f32)]) -> Result<String> {
    serde_json::to_string(c).map_err(Error::EncodeCandidates)
}

#[derive(sqlx::FromRow)]
pub(super) struct ProfileRow {
    chat_id: i64,
    lang: Option<String>,
    country: Option<String>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

/// A profile, if there is one, and the chat's state, as [`crate::storage::Storage::chat`]
/// reads them.
#[derive(sqlx::FromRow)]
pub(super) struct ChatRow {
    chat_id: Option<i64>,
    lang: Option<String>,
    country: Option<String>,
    first_seen: Option<DateTime<Utc>>,
    last_seen: Option<DateTime<Utc>>,
    state: Option<String>,
}

impl ChatRow {
    pub(super) fn split(self) -> (Option<ProfileRow>, Option<String>) {
        let profile = match (self.chat_id, self.first_seen, self.last_seen) {
            (Some(chat_id), Some(first_seen), Some(last_seen)) => Some(ProfileRow {
                chat_id,
                lang: self.lang,
                country: self.country,
                first_seen,
                last_seen,
            }),
            _ => None,
        };
        (profile, self.state)
    }
}

impl TryFrom<ProfileRow> for Profile {
    type Error = Error;
    fn try_from(r: ProfileRow) -> Result<Profile> {
        let malformed = || malformed(Row::Profile);
        Ok(Profile {
            chat_id: r.chat_id,
            lang: r
                .lang
                .as_deref()
                .map(parse_lang)
                .transpose()
                .map_err(malformed())?,
            country: parse_country(r.country.as_deref()).map_err(malformed())?,
            first_seen: r.first_seen,
            last_seen: r.last_seen,
        })
    }
}

/// The column list every question query selects, in [`QuestionRow`]'s shape.
pub(super) const QUESTION_COLUMNS: &str = "id, chat_id, text, lang, country, candidates, status, urgent, \
    kind, media_chat_id, media_message_id, group_key, created_at, updated_at, expert_chat_id, \
    expert_message_id, posted_at, answer, answered_by, answered_at, delivery, taken_by, taken_until, \
    rating";

/// `SELECT` of every question column, followed by `tail` (conditions and ordering).
pub(super) fn select_questions(tail: &str) -> String {
    format!("SELECT {QUESTION_COLUMNS} FROM questions WHERE {tail}")
}

/// The post a new asker of a group joins: that of the group's oldest open question posted to
/// the expert chat, never an urgent one's. `group` and `chat` are the placeholders of the group
/// key and the expert chat (each backend has its own).
pub(super) fn group_post_sql(group: &str, chat: &str) -> String {
    format!(
        "SELECT expert_chat_id, expert_message_id FROM questions \
         WHERE status = 'open' AND group_key = {group} AND expert_chat_id = {chat} AND NOT urgent \
         AND expert_message_id IS NOT NULL ORDER BY created_at, id LIMIT 1"
    )
}

#[derive(sqlx::FromRow)]
pub(super) struct QuestionRow {
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
    taken_by: Option<String>,
    taken_until: Option<DateTime<Utc>>,
    rating: Option<bool>,
}

impl TryFrom<QuestionRow> for Question {
    type Error = Error;
    fn try_from(r: QuestionRow) -> Result<Question> {
        let id = r.id;
        (|| -> Result<Question, BadValue> {
            Ok(Question {
                id: r.id,
                chat_id: r.chat_id,
                text: r.text,
                lang: parse_lang(&r.lang)?,
                country: parse_country(r.country.as_deref())?,
                candidates: serde_json::from_str(&r.candidates).map_err(BadValue::Candidates)?,
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
                taken: r.taken_by.zip(r.taken_until),
                rating: r.rating,
            })
        })()
        .map_err(malformed(Row::Question(id)))
    }
}

pub(super) fn questions(rows: Vec<QuestionRow>) -> Result<Vec<Question>> {
    rows.into_iter().map(Question::try_from).collect()
}

#[derive(sqlx::FromRow)]
pub(super) struct LearnedRow {
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
pub(super) struct CountRow {
    key: String,
    n: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct FeedbackRow {
    entry: String,
    up: i64,
    down: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct MissedRow {
    text: String,
    n: i64,
}

/// The parts of [`Stats`] as the queries return them.
pub(super) struct StatsRows {
    pub(super) by_topic: Vec<CountRow>,
    pub(super) by_lang: Vec<CountRow>,
    pub(super) by_country: Vec<CountRow>,
    pub(super) outcomes: Vec<CountRow>,
    pub(super) feedback: Vec<FeedbackRow>,
    pub(super) missed: Vec<MissedRow>,
}

impl TryFrom<StatsRows> for Stats {
    type Error = Error;
    fn try_from(r: StatsRows) -> Result<Stats> {
        let malformed = || malformed(Row::Counter);
        let pairs = |rows: Vec<CountRow>| rows.into_iter().map(|r| (r.key, r.n)).collect();
        Ok(Stats {
            by_topic: pairs(r.by_topic),
            by_lang: r
                .by_lang
                .into_iter()
                .map(|r| Ok((parse_lang(&r.key)?, r.n)))
                .collect::<Result<_, BadValue>>()
                .map_err(malformed())?,
            by_country: r
                .by_country
                .into_iter()
                .map(|r| Ok((parse_country(Some(&r.key))?, r.n)))
                .collect::<Result<_, BadValue>>()
                .map_err(malformed())?,
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
pub(super) struct ExportDbRow {
    id: i64,
    lang: String,
    country: Option<String>,
    status: String,
    text: String,
    created_at: DateTime<Utc>,
    answered_at: Option<DateTime<Utc>>,
}

impl TryFrom<ExportDbRow> for ExportRow {
    type Error = Error;
    fn try_from(r: ExportDbRow) -> Result<ExportRow> {
        let malformed = || malformed(Row::Question(r.id));
        Ok(ExportRow {
            id: r.id,
            lang: parse_lang(&r.lang).map_err(malformed())?,
            country: parse_country(r.country.as_deref()).map_err(malformed())?,
            status: r
                .status
                .parse()
                .map_err(BadValue::from)
                .map_err(malformed())?,
            text: r.text,
            created_at: r.created_at,
            answered_at: r.answered_at,
        })
    }
}

/// The columns of a reminder as [`reminders`] reads them.
pub(super) const REMINDER_COLUMNS: &str = "id, chat_id, entry, lang, due_on, remind_on, send_at";

#[derive(sqlx::FromRow)]
pub(super) struct ReminderRow {
    id: i64,
    chat_id: i64,
    entry: String,
    lang: String,
    due_on: NaiveDate,
    remind_on: NaiveDate,
    send_at: DateTime<Utc>,
}

/// Reminders from their rows, soonest first (an `UPDATE … RETURNING` keeps no order).
pub(super) fn reminders(rows: Vec<ReminderRow>) -> Result<Vec<Reminder>> {
    let mut out = rows
        .into_iter()
        .map(|r| {
            Ok(Reminder {
                lang: parse_lang(&r.lang).map_err(malformed(Row::Reminder(r.id)))?,
                id: r.id,
                chat_id: r.chat_id,
                entry: r.entry,
                due_on: r.due_on,
                remind_on: r.remind_on,
                send_at: r.send_at,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|r| (r.send_at, r.id));
    Ok(out)
}

/// Followers (chat, language) from their rows.
pub(super) fn followers(rows: Vec<(i64, String)>) -> Result<Vec<(i64, Lang)>> {
    rows.into_iter()
        .map(|(chat, lang)| Ok((chat, parse_lang(&lang).map_err(malformed(Row::Follow))?)))
        .collect()
}

/// The workbench's rows: counters of a range, facts of questions, notes.
#[derive(sqlx::FromRow)]
pub(super) struct CounterRow {
    day: NaiveDate,
    entry: String,
    topic: String,
    lang: String,
    country: String,
    outcome: String,
    count: i64,
}

pub(super) fn counters(rows: Vec<CounterRow>) -> Result<Vec<(Count, i64)>> {
    rows.into_iter()
        .map(|r| {
            let key = (|| -> Result<Count, BadValue> {
                Ok(Count {
                    day: r.day,
                    entry: r.entry,
                    topic: r.topic,
                    lang: parse_lang(&r.lang)?,
                    country: parse_country(Some(&r.country))?,
                    outcome: r.outcome,
                })
            })()
            .map_err(malformed(Row::Counter))?;
            Ok((key, r.count))
        })
        .collect()
}

/// The columns [`FactsRow`] reads.
pub(super) const FACT_COLUMNS: &str =
    "id, created_at, lang, country, status, candidates, answered_at, rating";

#[derive(sqlx::FromRow)]
pub(super) struct FactsRow {
    id: i64,
    created_at: DateTime<Utc>,
    lang: String,
    country: Option<String>,
    status: String,
    candidates: String,
    answered_at: Option<DateTime<Utc>>,
    rating: Option<bool>,
}

pub(super) fn facts(rows: Vec<FactsRow>) -> Result<Vec<QuestionFacts>> {
    rows.into_iter()
        .map(|r| {
            let id = r.id;
            (|| -> Result<QuestionFacts, BadValue> {
                let candidates: Vec<(String, f32)> =
                    serde_json::from_str(&r.candidates).map_err(BadValue::Candidates)?;
                Ok(QuestionFacts {
                    created_at: r.created_at,
                    lang: parse_lang(&r.lang)?,
                    country: parse_country(r.country.as_deref())?,
                    status: r.status.parse()?,
                    nearest: candidates.into_iter().next().map(|(e, _)| e),
                    answered_at: r.answered_at,
                    rating: r.rating,
                })
            })()
            .map_err(malformed(Row::Question(id)))
        })
        .collect()
}

#[derive(sqlx::FromRow)]
pub(super) struct NoteRow {
    question_id: i64,
    expert: String,
    text: String,
    created_at: DateTime<Utc>,
}

impl From<NoteRow> for Note {
    fn from(r: NoteRow) -> Note {
        Note {
            question_id: r.question_id,
            expert: r.expert,
            text: r.text,
            created_at: r.created_at,
        }
    }
}
