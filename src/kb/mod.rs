//! The knowledge base: the curated FAQ in `dialogues/`, loaded, validated and rendered.
//!
//! Knows nothing of Telegram or databases. [`load`] either returns a knowledge base that passed
//! every check, or every problem found, as `file:line: message`.

pub mod changes;
mod entry;
pub mod flow;
mod flow_check;
mod glossary;
pub mod html;
mod load;
mod render;
pub mod stamps;
pub mod templates;
mod vocab;

pub use load::{CheckOptions, load};

#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod tests;

use crate::lang::{Lang, PerLang, Variant};
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;

/// Interface texts the code uses, each with the placeholders it fills in. `jardam check`
/// requires every one of them in every language, with exactly these placeholders.
pub const INTERFACE_TEXTS: &[(&str, &[&str])] = &[
    ("language_name", &[]),
    ("choose_language", &[]),
    ("language_set", &[]),
    ("choose_country", &[]),
    ("country_ru", &[]),
    ("country_kz", &[]),
    ("country_kg", &[]),
    ("country_other", &[]),
    ("country_skip", &[]),
    ("country_set", &["country"]),
    ("welcome", &[]),
    ("disclaimer", &[]),
    ("menu", &[]),
    ("topic_pick", &["topic"]),
    ("btn_helpful", &[]),
    ("btn_not_helpful", &[]),
    ("btn_related", &[]),
    ("btn_ask_expert", &[]),
    ("btn_menu", &[]),
    ("btn_share", &[]),
    ("btn_back", &[]),
    ("btn_talk_now", &[]),
    ("btn_none", &[]),
    ("btn_yes_delete", &[]),
    ("btn_cancel", &[]),
    ("btn_send_expert", &[]),
    ("related", &[]),
    ("checked_on", &["date"]),
    ("sources", &[]),
    ("lang_note", &["detected", "language"]),
    ("clarify", &[]),
    ("choose_variant", &[]),
    ("unmet_saved", &["number"]),
    ("save_failed", &[]),
    ("ask_expert_prompt", &[]),
    ("feedback_thanks", &[]),
    ("feedback_missing", &[]),
    ("help", &[]),
    (
        "privacy",
        &["answered_days", "inactive_days", "state_hours"],
    ),
    ("forget_confirm", &[]),
    ("forget_done", &[]),
    ("forget_cancelled", &[]),
    ("out_of_date", &[]),
    ("non_text", &[]),
    ("media_sent", &["number"]),
    ("unknown_entry", &[]),
    ("shared_by", &["link"]),
    ("inline_open_bot", &[]),
    ("slow_down", &[]),
    ("expert_answer_header", &[]),
    ("urgent_sent", &[]),
    ("urgent_already_open", &["number"]),
    ("btn_flow", &[]),
    ("flow_bad_date", &[]),
    ("flow_future_date", &[]),
    ("flow_need_day", &[]),
    ("btn_today", &[]),
    ("btn_week_ago", &[]),
    ("flow_pick_month", &[]),
    ("month_names", &[]),
    ("flow_bad_number", &["min", "max"]),
    ("btn_remind", &[]),
    ("reminder_set", &["remind_on", "due"]),
    ("reminder_too_close", &["due"]),
    ("reminders_none", &[]),
    ("reminders_list", &[]),
    ("reminders_line", &["n", "title", "due", "remind_on"]),
    ("btn_cancel_reminder", &["n"]),
    ("reminder_cancelled", &[]),
    ("reminder_due", &["title", "due", "days"]),
    ("reminder_due_now", &["title", "due"]),
    ("btn_open_answer", &[]),
    ("btn_follow", &[]),
    ("btn_unfollow", &[]),
    ("follow_set", &[]),
    ("follow_stopped", &[]),
    ("change_note", &["title", "date", "note"]),
    ("saved_no_experts", &["number"]),
    ("urgent_no_experts", &[]),
    ("expert_post_withdrawn", &[]),
    ("expert_question", &["number", "language", "country"]),
    ("expert_asked_by", &["count"]),
    ("expert_nearest", &[]),
    ("expert_btn_dismiss", &[]),
    ("expert_btn_answer_with", &["entry"]),
    ("expert_delivered", &["count"]),
    ("expert_not_delivered", &["count"]),
    ("expert_urgent", &[]),
    ("expert_only", &[]),
    ("expert_dismissed", &["number"]),
    ("expert_already_answered", &["number"]),
    ("expert_btn_send_again", &[]),
    ("expert_reply_empty", &[]),
    ("expert_reply_unknown", &[]),
    ("expert_queue_empty", &[]),
    ("expert_queue_title", &["count"]),
    ("expert_send_failed", &["count"]),
    ("expert_learned", &["entry"]),
    ("expert_no_entry", &["entry"]),
    ("expert_export_usage", &[]),
    ("expert_reload_ok", &["entries"]),
    ("expert_reload_failed", &[]),
    ("expert_btn_next", &[]),
    ("expert_btn_prev", &[]),
    ("expert_kind_voice", &[]),
    ("expert_kind_photo", &[]),
    ("expert_learned_empty", &[]),
    ("expert_full_text_above", &[]),
    ("expert_btn_take", &[]),
    ("expert_btn_templates", &[]),
    ("expert_taken_yours", &["number", "until"]),
    ("expert_taken_by", &["expert", "until"]),
    ("expert_closed", &["number"]),
    ("expert_post_answered", &["expert"]),
    ("expert_post_rating", &["up", "down"]),
    ("expert_post_dismissed", &[]),
    ("expert_post_taken", &["expert", "until"]),
    ("expert_notes", &[]),
    ("expert_note_empty", &[]),
    ("expert_note_too_long", &["limit"]),
    ("expert_note_saved", &["number"]),
    ("expert_reply_to_post", &[]),
    ("expert_same_usage", &[]),
    ("expert_same_done", &["number", "into", "count"]),
    ("expert_same_self", &[]),
    ("expert_same_target_closed", &["into"]),
    ("expert_post_merged", &["into"]),
    ("expert_templates_none", &[]),
    ("expert_templates_title", &[]),
    ("expert_templates_for", &["number"]),
    ("expert_no_template", &["name"]),
    ("expert_template_unknown", &["name"]),
    ("expert_overdue_title", &["count"]),
    ("overdue_person", &["number"]),
    ("overdue_person_urgent", &["number"]),
    ("btn_rate_up", &[]),
    ("btn_rate_down", &[]),
    ("rate_thanks", &[]),
    ("rate_already", &[]),
    ("expert_report_usage", &[]),
    ("expert_report_reversed", &["since", "until"]),
    ("expert_report_too_long", &["days"]),
    ("expert_report_empty", &["since", "until"]),
    ("expert_report_caption", &["since", "until"]),
    ("expert_digest_caption", &["since", "until"]),
    ("report_title", &[]),
    ("report_per_day", &[]),
    ("report_outcomes", &[]),
    ("report_faq", &[]),
    ("report_experts", &[]),
    ("report_open", &[]),
    ("report_top_unmet", &[]),
    ("report_languages", &[]),
    ("report_countries", &[]),
    ("report_median", &[]),
    ("report_rating", &[]),
    ("report_none", &[]),
    ("report_small", &[]),
    ("report_hours", &[]),
    ("report_minutes", &[]),
    ("report_helpful", &[]),
    ("report_not_helpful", &[]),
    ("report_no_topic", &[]),
    ("report_other_topics", &[]),
    ("report_country_unknown", &[]),
    ("report_no_entry", &[]),
    ("cmd_start", &[]),
    ("cmd_help", &[]),
    ("cmd_menu", &[]),
    ("cmd_language", &[]),
    ("cmd_country", &[]),
    ("cmd_privacy", &[]),
    ("cmd_forget", &[]),
    ("cmd_contacts", &[]),
    ("cmd_reminders", &[]),
];

/// A menu topic.
#[derive(Clone, Debug)]
pub struct Topic {
    pub id: String,
    pub emoji: String,
    pub title: PerLang<String>,
}

/// A source an answer relies on.
#[derive(Clone, Debug)]
pub struct Source {
    /// The original title, shown where `titles` has none for the language.
    pub title: String,
    /// The title in each language, where a curator gave one.
    pub titles: PerLang<Option<String>>,
    /// The variants it applies to; empty = all.
    pub variants: Vec<Variant>,
    /// The date the source speaks of: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub date: String,
    pub url: Option<String>,
}

/// One FAQ entry.
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: String,
    pub topic: String,
    pub title: PerLang<String>,
    pub questions: PerLang<Vec<String>>,
    pub keywords: PerLang<Vec<String>>,
    /// Answers by variant. An entry written with a single `[answer]` has only [`Variant::Any`].
    pub answers: BTreeMap<Variant, PerLang<String>>,
    pub see_also: Vec<String>,
    pub sources: Vec<Source>,
    pub checked: NaiveDate,
    pub urgent: bool,
    /// The guided answer, when the curators wrote one.
    pub flow: Option<flow::Flow>,
    /// Notes of changes to its facts, oldest first.
    pub changes: Vec<changes::ChangeNote>,
    pub file: PathBuf,
}

impl Source {
    /// The title to show in `lang`.
    pub fn title_in(&self, lang: Lang) -> &str {
        self.titles.get(lang).as_deref().unwrap_or(&self.title)
    }

    /// Whether it stands behind the answer of `variant`.
    pub fn applies_to(&self, variant: Variant) -> bool {
        self.variants.is_empty() || self.variants.contains(&variant)
    }
}

impl Entry {
    /// The newest note of a change to its facts.
    pub fn latest_change(&self) -> Option<&changes::ChangeNote> {
        self.changes.last()
    }

    /// The sources behind the answer of `variant`, in the curators' order.
    pub fn sources_for(&self, variant: Variant) -> impl Iterator<Item = &Source> {
        self.sources.iter().filter(move |s| s.applies_to(variant))
    }

    /// Whether the answer differs by country (so the bot must know or ask the country).
    pub fn has_variants(&self) -> bool {
        self.answers.keys().any(|v| *v != Variant::Any)
    }

    /// The answer text for a variant, falling back to the general one.
    pub fn answer(&self, variant: Variant, lang: Lang) -> &str {
        self.answers
            .get(&variant)
            .or_else(|| self.answers.get(&Variant::Any))
            .or_else(|| self.answers.values().next())
            .map(|a| a.get(lang).as_str())
            .unwrap_or_default()
    }

    /// The variant actually used for a requested one.
    pub fn resolve_variant(&self, variant: Variant) -> Variant {
        if self.answers.contains_key(&variant) {
            variant
        } else {
            Variant::Any
        }
    }
}

/// A topic the FAQ deliberately does not cover (`gaps.toml`). Questions close to a gap go to
/// experts instead of getting the nearest, wrong, answer.
#[derive(Clone, Debug)]
pub struct Gap {
    pub id: String,
    pub note: String,
    pub questions: PerLang<Vec<String>>,
}

/// A group of everyday messages that are not questions the FAQ answers (`background.toml`):
/// the matcher learns from them what is "not ours".
#[derive(Clone, Debug)]
pub struct Background {
    pub id: String,
    pub note: String,
    /// Messages that carry no question at all (greetings, thanks): in a long message, sentences
    /// like these are set aside so that the question around them decides.
    pub chatter: bool,
    pub questions: PerLang<Vec<String>>,
}

/// Words and phrases that mean the same thing to the matcher (`synonyms.toml`, `danger.toml`).
#[derive(Clone, Debug)]
pub struct Concept {
    pub id: String,
    pub note: String,
    /// Stems and phrases of stems, as the curator wrote them.
    pub forms: Vec<String>,
}

/// A danger signal (`danger.toml`): when every concept of `all` is in one or two neighbouring
/// sentences of a message, the person gets `entry` and the message goes to experts as urgent.
#[derive(Clone, Debug)]
pub struct Danger {
    pub entry: String,
    pub note: String,
    pub all: Vec<String>,
}

/// The bot's own texts in the four languages.
#[derive(Clone, Debug, Default)]
pub struct Interface {
    texts: HashMap<String, PerLang<String>>,
}

impl Interface {
    /// The text for `key`. Keys the code uses are all checked at load; an unknown key shows
    /// itself rather than panicking.
    pub fn get<'a>(&'a self, key: &'a str, lang: Lang) -> &'a str {
        self.texts
            .get(key)
            .map(|t| t.get(lang).as_str())
            .unwrap_or(key)
    }

    /// The text for `key` with `{name}` placeholders replaced.
    pub fn fill(&self, key: &str, lang: Lang, values: &[(&str, &str)]) -> String {
        let mut text = self.get(key, lang).to_string();
        for (name, value) in values {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }
}

/// The loaded, validated knowledge base.
#[derive(Clone, Debug)]
pub struct KnowledgeBase {
    pub topics: Vec<Topic>,
    pub entries: Vec<Entry>,
    pub gaps: Vec<Gap>,
    pub background: Vec<Background>,
    pub concepts: Vec<Concept>,
    pub dangers: Vec<Danger>,
    pub interface: Interface,
    /// The experts' ready replies (`templates.toml`).
    pub templates: Vec<templates::Template>,
    by_id: HashMap<String, usize>,
    /// A short hash of the content, carried in callback data so that buttons from an older
    /// knowledge base are recognised as out of date.
    pub version: u16,
}

impl KnowledgeBase {
    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.by_id.get(id).map(|&i| &self.entries[i])
    }

    pub fn entry_index(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    pub fn template(&self, name: &str) -> Option<&templates::Template> {
        self.templates.iter().find(|t| t.name == name)
    }

    pub fn topic(&self, id: &str) -> Option<&Topic> {
        self.topics.iter().find(|t| t.id == id)
    }

    pub fn topic_entries<'a>(&'a self, topic: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| e.topic == topic)
    }

    pub fn t<'a>(&'a self, key: &'a str, lang: Lang) -> &'a str {
        self.interface.get(key, lang)
    }

    /// Counts for the one-line summary of `jardam check`.
    pub fn summary(&self) -> String {
        let per_lang: Vec<String> = Lang::ALL
            .iter()
            .map(|&l| {
                let n: usize = self.entries.iter().map(|e| e.questions.get(l).len()).sum();
                format!("{l} {n}")
            })
            .collect();
        format!(
            "ok: {} entries in {} topics, {} languages, {} interface texts; phrasings: {}",
            self.entries.len(),
            self.topics.len(),
            Lang::ALL.len(),
            self.interface.texts.len(),
            per_lang.join(", ")
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding of the check, printed as `file:line: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
    pub severity: Severity,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        write!(
            f,
            "{}:{}: {kind}{}",
            self.file.display(),
            self.line,
            self.message
        )
    }
}

/// Every error of a failed load, printable as one block.
#[derive(Debug)]
pub struct LoadError(pub Vec<Problem>);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self
            .0
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count();
        writeln!(f, "the knowledge base has {errors} error(s):")?;
        for p in &self.0 {
            writeln!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}
