//! The question radar: what people ask, in which languages and from where, how their questions
//! end and how fast and how well experts answer, over a range of days, as a picture for the
//! expert chat (`/report`, the weekly digest) and for `jardam report`.
//!
//! Aggregates only: no chat ids and no texts of people's questions reach it (the unanswered
//! groups are named by their nearest FAQ entry), and any count below 5 is drawn and written
//! as "<5" (see [`shown`]).

mod digest;
pub mod render;
#[cfg(test)]
mod render_tests;

pub use digest::{Digest, DigestAt};

use crate::kb::KnowledgeBase;
use crate::lang::Lang;
use crate::model::QuestionStatus;
use crate::storage::{Storage, day_start};
use chrono::NaiveDate;
use std::collections::HashMap;

/// Topics drawn in their own colour; the rest are folded into one.
const TOPICS_SHOWN: usize = 8;
/// Unanswered groups listed.
const UNMET_SHOWN: usize = 8;
/// The longest range a report covers, in days.
pub const MAX_DAYS: i64 = 366;

/// Aggregates for the question radar over a range of days. No chat ids, no texts of questions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Radar {
    /// First and last day, both included.
    pub since: NaiveDate,
    pub until: NaiveDate,
    /// Topic labels in display order.
    pub topics: Vec<String>,
    /// One row per day from `since` to `until`, each with one count per topic in `topics`
    /// order: questions asked that day on that topic.
    pub per_day: Vec<Vec<u64>>,
    /// How the questions of the range ended: answered by the FAQ, by an expert, still open.
    pub by_faq: u64,
    pub by_experts: u64,
    pub open: u64,
    /// The largest groups of questions the FAQ could not answer, as (label, count), largest
    /// first. Labels are entry titles, never a person's text.
    pub top_unmet: Vec<(String, u64)>,
    /// (language label, count), largest first.
    pub languages: Vec<(String, u64)>,
    /// (country label, count), largest first.
    pub countries: Vec<(String, u64)>,
    /// Median time from question to expert answer, in minutes.
    pub median_answer_minutes: Option<f64>,
    /// Ratings of experts' answers by the people: helpful, not helpful.
    pub rated_up: u64,
    pub rated_down: u64,
}

/// Every text the picture shows besides the data, in the experts' language.
#[derive(Clone, Debug, PartialEq)]
pub struct Labels {
    pub title: String,
    pub per_day: String,
    pub outcomes: String,
    pub faq: String,
    pub experts: String,
    pub open: String,
    pub top_unmet: String,
    pub languages: String,
    pub countries: String,
    pub median: String,
    pub rating: String,
    pub none: String,
    pub small: String,
    pub hours: String,
    pub minutes: String,
    pub helpful: String,
    pub not_helpful: String,
}

impl Default for Labels {
    fn default() -> Labels {
        Labels {
            title: "Question radar".into(),
            per_day: "Questions per day, by topic".into(),
            outcomes: "How questions ended".into(),
            faq: "FAQ".into(),
            experts: "experts".into(),
            open: "still open".into(),
            top_unmet: "Largest unanswered groups".into(),
            languages: "Languages".into(),
            countries: "Countries".into(),
            median: "Median time to an expert's answer".into(),
            rating: "Rating of experts' answers".into(),
            none: "none".into(),
            small: "fewer than 5 each".into(),
            hours: "h".into(),
            minutes: "min".into(),
            helpful: "helpful".into(),
            not_helpful: "not helpful".into(),
        }
    }
}

impl Labels {
    /// The labels from the interface texts, in `lang`.
    pub fn of(kb: &KnowledgeBase, lang: Lang) -> Labels {
        let t = |key: &str| kb.t(key, lang).to_string();
        Labels {
            title: t("report_title"),
            per_day: t("report_per_day"),
            outcomes: t("report_outcomes"),
            faq: t("report_faq"),
            experts: t("report_experts"),
            open: t("report_open"),
            top_unmet: t("report_top_unmet"),
            languages: t("report_languages"),
            countries: t("report_countries"),
            median: t("report_median"),
            rating: t("report_rating"),
            none: t("report_none"),
            small: t("report_small"),
            hours: t("report_hours"),
            minutes: t("report_minutes"),
            helpful: t("report_helpful"),
            not_helpful: t("report_not_helpful"),
        }
    }
}

/// A count for display: below 5 (and above 0) it is "<5".
pub fn shown(count: u64) -> String {
    if (1..5).contains(&count) {
        "<5".to_string()
    } else {
        count.to_string()
    }
}

/// The median of `values`; `None` for none.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        n if n % 2 == 1 => Some(values[n / 2]),
        n => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// Why a range cannot be reported.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RangeError {
    #[error("the range is reversed: {since} is after {until}")]
    Reversed { since: NaiveDate, until: NaiveDate },
    #[error("the range is longer than {MAX_DAYS} days")]
    TooLong,
    #[error("no questions from {since} to {until}")]
    Empty { since: NaiveDate, until: NaiveDate },
}

/// Checks a range before anything is read.
pub fn check_range(since: NaiveDate, until: NaiveDate) -> Result<(), RangeError> {
    if since > until {
        return Err(RangeError::Reversed { since, until });
    }
    if (until - since).num_days() >= MAX_DAYS {
        return Err(RangeError::TooLong);
    }
    Ok(())
}

/// A label as the picture's font can draw it: without emoji (the flags of the country names)
/// and the spaces they leave.
fn drawable(label: &str) -> String {
    label
        .chars()
        .filter(|&c| !(u32::from(c) >= 0x1F000 || ('\u{FE00}'..='\u{FE0F}').contains(&c)))
        .collect::<String>()
        .trim()
        .to_string()
}

/// `(label, count)` pairs, largest first (ties by label).
fn ranked(counts: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(label, n)| (drawable(&label), n))
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Reads and counts the days from `since` to `until` (both included). Labels are in `lang`.
/// A range without a single question is [`RangeError::Empty`].
pub async fn build(
    store: &dyn Storage,
    kb: &KnowledgeBase,
    lang: Lang,
    since: NaiveDate,
    until: NaiveDate,
) -> anyhow::Result<Radar> {
    check_range(since, until)?;
    let counts = store.counts_between(since, until).await?;
    let facts = store
        .question_facts(day_start(since), day_start(until + chrono::Days::new(1)))
        .await?;
    let days = usize::try_from((until - since).num_days() + 1).unwrap_or(0);
    // Typed questions per day and topic; a question the FAQ did not answer has no topic.
    let no_topic = kb.t("report_no_topic", lang).to_string();
    let mut by_topic: HashMap<String, u64> = HashMap::new();
    let mut cells: HashMap<(usize, String), u64> = HashMap::new();
    let (mut languages, mut countries) = (HashMap::new(), HashMap::new());
    let mut by_faq = 0;
    for (c, n) in &counts {
        if !matches!(c.outcome.as_str(), "answered" | "clarify" | "unmet") {
            continue;
        }
        let n = u64::try_from(*n).unwrap_or(0);
        let topic = match kb.topic(&c.topic) {
            Some(t) if c.outcome == "answered" => drawable(t.title.get(lang)),
            _ => no_topic.clone(),
        };
        if c.outcome == "answered" {
            by_faq += n;
        }
        let day = usize::try_from((c.day - since).num_days()).unwrap_or(0);
        *by_topic.entry(topic.clone()).or_default() += n;
        *cells.entry((day, topic)).or_default() += n;
        *languages
            .entry(kb.t("language_name", c.lang).to_string())
            .or_default() += n;
        let country = match c.country {
            Some(x) => kb.t(&format!("country_{}", x.code()), lang).to_string(),
            None => kb.t("report_country_unknown", lang).to_string(),
        };
        *countries.entry(country).or_default() += n;
    }
    let ranked_topics = ranked(by_topic);
    let other = kb.t("report_other_topics", lang).to_string();
    let mut topics: Vec<String> = ranked_topics
        .iter()
        .take(TOPICS_SHOWN)
        .map(|(t, _)| t.clone())
        .collect();
    if ranked_topics.len() > TOPICS_SHOWN {
        topics.push(other.clone());
    }
    let mut per_day = vec![vec![0u64; topics.len()]; days];
    for ((day, topic), n) in cells {
        let column = topics
            .iter()
            .position(|t| *t == topic)
            .or_else(|| topics.iter().position(|t| *t == other));
        if let (Some(row), Some(col)) = (per_day.get_mut(day), column) {
            row[col] += n;
        }
    }
    let (mut by_experts, mut open, mut up, mut down) = (0, 0, 0, 0);
    let mut unmet: HashMap<String, u64> = HashMap::new();
    let mut minutes = Vec::new();
    for f in &facts {
        match f.status {
            QuestionStatus::Answered => by_experts += 1,
            QuestionStatus::Open => open += 1,
            _ => {}
        }
        match f.rating {
            Some(true) => up += 1,
            Some(false) => down += 1,
            None => {}
        }
        if let Some(at) = f.answered_at {
            minutes.push((at - f.created_at).num_seconds() as f64 / 60.0);
        }
        if f.status == QuestionStatus::Dismissed {
            continue;
        }
        let label = match f.nearest.as_deref().and_then(|e| kb.entry(e)) {
            Some(e) => format!("≈ {}", e.title.get(lang)),
            None => kb.t("report_no_entry", lang).to_string(),
        };
        *unmet.entry(label).or_default() += 1;
    }
    if counts.is_empty() && facts.is_empty() {
        return Err(RangeError::Empty { since, until }.into());
    }
    let median_answer_minutes = median(minutes);
    let mut top_unmet = ranked(unmet);
    top_unmet.truncate(UNMET_SHOWN);
    Ok(Radar {
        since,
        until,
        topics,
        per_day,
        by_faq,
        by_experts,
        open,
        top_unmet,
        languages: ranked(languages),
        countries: ranked(countries),
        median_answer_minutes,
        rated_up: up,
        rated_down: down,
    })
}
