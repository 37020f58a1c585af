//! Reading and checking one entry file: its id, topic, dates, titles, questions, answers and
//! sources, each problem reported at its line.

use super::load::{CheckOptions, FileText, Problems, RawLangMap, lang_map, valid_name};
use super::{Entry, Severity, Source, html};
use crate::lang::{PerLang, Variant};
use crate::text::normalize;
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// A text with the place it stands in its file.
#[derive(Default)]
struct Text {
    span: Range<usize>,
    text: String,
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Spanned::<String>::deserialize(d)?;
        Ok(Text {
            span: s.span(),
            text: s.into_inner(),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    title: Option<Spanned<String>>,
    /// The title in the users' languages; a language left out shows `title`.
    titles: Option<RawLangMap<String>>,
    /// The answer variants this source stands behind; none = every variant.
    variants: Option<Spanned<Vec<String>>>,
    date: Option<Spanned<String>>,
    url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEntry {
    id: Spanned<String>,
    topic: Spanned<String>,
    checked: Option<Spanned<String>>,
    #[serde(default)]
    urgent: bool,
    see_also: Option<Vec<Spanned<String>>>,
    title: Spanned<RawLangMap<String>>,
    questions: Spanned<RawLangMap<Vec<Spanned<String>>>>,
    keywords: Option<RawLangMap<Vec<String>>>,
    answer: Option<Spanned<RawLangMap<Text>>>,
    variants: Option<Spanned<BTreeMap<String, Spanned<RawLangMap<Text>>>>>,
    sources: Option<Spanned<Vec<Spanned<RawSource>>>>,
    flow: Option<Spanned<super::flow_check::RawFlow>>,
    #[serde(default)]
    change: Vec<Spanned<super::changes::RawChange>>,
}

pub(super) fn check_entry(
    src: &FileText,
    raw: RawEntry,
    topic_ids: &HashSet<&str>,
    opts: &CheckOptions,
    problems: &mut Problems,
    mut see_also_ref: impl FnMut(&Path, usize, String),
) -> Option<Entry> {
    let path = src.path;
    let errors_before = problems.0.len();
    let id_line = src.line(&raw.id.span());
    let id = raw.id.get_ref().trim().to_string();
    let topic = raw.topic.get_ref().trim().to_string();
    match id.split_once('.') {
        Some((t, name)) if valid_name(t) && valid_name(name) => {
            if t != topic {
                problems.error(
                    path,
                    id_line,
                    format!("id '{id}' must start with its topic '{topic}.'"),
                );
            }
        }
        _ => problems.error(
            path,
            id_line,
            format!("id '{id}' is not of the form topic.name (lower-case letters, digits, '-')"),
        ),
    }
    if !topic_ids.is_empty() && !topic_ids.contains(topic.as_str()) {
        problems.error(
            path,
            src.line(&raw.topic.span()),
            format!("unknown topic '{topic}' (not in topics.toml)"),
        );
    }

    let checked = match &raw.checked {
        None => {
            problems.error(path, id_line, "missing 'checked' date (YYYY-MM-DD)");
            None
        }
        Some(c) => {
            let line = src.line(&c.span());
            match parse_date(c.get_ref()) {
                None => {
                    problems.error(
                        path,
                        line,
                        format!("checked = '{}' is not a date YYYY-MM-DD", c.get_ref()),
                    );
                    None
                }
                Some(d) if d > opts.today => {
                    problems.error(path, line, format!("checked date {d} is in the future"));
                    None
                }
                Some(d) => {
                    let age = (opts.today - d).num_days();
                    if age > opts.max_age_days {
                        problems.warn(
                            path,
                            line,
                            format!(
                                "checked {age} days ago (over {}): re-verify the facts",
                                opts.max_age_days
                            ),
                        );
                    }
                    Some(d)
                }
            }
        }
    };

    let title_line = src.line(&raw.title.span());
    let title = lang_map(
        raw.title.into_inner(),
        |s| !s.trim().is_empty(),
        |lang| problems.error(path, title_line, format!("title missing in '{lang}'")),
    );

    let q_line = src.line(&raw.questions.span());
    let questions_raw = lang_map(
        raw.questions.into_inner(),
        |v| !v.is_empty(),
        |lang| problems.error(path, q_line, format!("questions missing in '{lang}'")),
    );
    let mut questions: PerLang<Vec<String>> = PerLang::default();
    for (lang, qs) in questions_raw.iter() {
        for q in qs {
            if normalize(q.get_ref()).is_empty() {
                problems.error(path, src.line(&q.span()), "empty question");
            }
        }
        questions.0[lang.index()] = qs.iter().map(|q| q.get_ref().trim().to_string()).collect();
    }
    let keywords = raw
        .keywords
        .map(|k| PerLang([k.ky, k.ru, k.uz, k.en].map(Option::unwrap_or_default)))
        .unwrap_or_default();

    let mut answers = BTreeMap::new();
    let answer_map = |raw: Spanned<RawLangMap<Text>>, what: &str, problems: &mut Problems| {
        let line = src.line(&raw.span());
        let map = lang_map(
            raw.into_inner(),
            |s| !s.text.trim().is_empty(),
            |lang| problems.error(path, line, format!("{what} missing in '{lang}'")),
        );
        for (lang, text) in map.iter() {
            if let Err(msg) = html::validate(&text.text) {
                problems.error(
                    path,
                    src.line(&text.span),
                    format!("{what} ({lang}): {msg}"),
                );
            }
        }
        PerLang(map.0.map(|s| s.text))
    };
    match (raw.answer, raw.variants) {
        (Some(_), Some(v)) => problems.error(
            path,
            src.line(&v.span()),
            "use either [answer] or [variants.*], not both",
        ),
        (None, None) => problems.error(path, id_line, "no answer: add [answer] or [variants.any]"),
        (Some(a), None) => {
            answers.insert(Variant::Any, answer_map(a, "answer", problems));
        }
        (None, Some(v)) => {
            let v_line = src.line(&v.span());
            for (name, text) in v.into_inner() {
                match Variant::parse(&name) {
                    Some(variant) => {
                        let what = format!("variant '{name}'");
                        answers.insert(variant, answer_map(text, &what, problems));
                    }
                    None => problems.error(
                        path,
                        src.line(&text.span()),
                        format!("unknown variant '{name}' (use ru, kz or any)"),
                    ),
                }
            }
            if !answers.contains_key(&Variant::Any) {
                problems.error(
                    path,
                    v_line,
                    "variants need [variants.any] for everyone else",
                );
            }
        }
    }

    let mut see_also = Vec::new();
    for s in raw.see_also.unwrap_or_default() {
        let line = src.line(&s.span());
        let target = s.into_inner();
        if target == id {
            problems.error(path, line, "see_also points to the entry itself");
        } else {
            see_also_ref(path, line, target.clone());
            see_also.push(target);
        }
    }

    let mut sources = Vec::new();
    match raw.sources {
        None => problems.error(
            path,
            id_line,
            "no [[sources]]: every entry needs at least one",
        ),
        Some(list) if list.get_ref().is_empty() => problems.error(
            path,
            src.line(&list.span()),
            "no [[sources]]: every entry needs at least one",
        ),
        Some(list) => {
            for s in list.into_inner() {
                let line = src.line(&s.span());
                let s = s.into_inner();
                let title = s.title.map(|t| t.into_inner()).unwrap_or_default();
                if title.trim().is_empty() {
                    problems.error(path, line, "source without a title");
                }
                let date = match s.date {
                    None => {
                        problems.error(
                            path,
                            line,
                            "source without a date (YYYY, YYYY-MM or YYYY-MM-DD)",
                        );
                        String::new()
                    }
                    Some(d) => {
                        let dl = src.line(&d.span());
                        let d = d.into_inner();
                        if !valid_source_date(&d) {
                            problems.error(
                                path,
                                dl,
                                format!("source date '{d}' is not YYYY, YYYY-MM or YYYY-MM-DD"),
                            );
                        } else if parse_date(&d).is_some_and(|d| d > opts.today) {
                            problems.error(path, dl, format!("source date {d} is in the future"));
                        }
                        d
                    }
                };
                let mut variants = Vec::new();
                if let Some(vs) = s.variants {
                    let vl = src.line(&vs.span());
                    for v in vs.into_inner() {
                        match Variant::parse(&v) {
                            Some(v) if answers.contains_key(&v) => variants.push(v),
                            Some(_) => problems.error(
                                path,
                                vl,
                                format!(
                                    "source names variant '{v}', which this entry has no answer for"
                                ),
                            ),
                            None => problems.error(
                                path,
                                vl,
                                format!("unknown variant '{v}' (ru, kz or any)"),
                            ),
                        }
                    }
                }
                let titles = s.titles.map(|t| {
                    let clean = |v: Option<String>| {
                        v.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
                    };
                    PerLang([clean(t.ky), clean(t.ru), clean(t.uz), clean(t.en)])
                });
                sources.push(Source {
                    title: title.trim().to_string(),
                    titles: titles.unwrap_or_default(),
                    variants,
                    date: date.trim().to_string(),
                    url: s.url,
                });
            }
        }
    }

    let flow = raw
        .flow
        .and_then(|f| super::flow_check::check(src, &id, f, problems));
    let changes = super::changes::check(src, &id, raw.change, opts.today, problems);
    let failed = problems.0[errors_before..]
        .iter()
        .any(|p| p.severity == Severity::Error);
    if failed {
        return None;
    }
    Some(Entry {
        id,
        topic,
        title,
        questions,
        keywords,
        answers,
        see_also,
        sources,
        checked: checked?,
        urgent: raw.urgent,
        flow,
        changes,
        file: path.to_path_buf(),
    })
}

/// Each question of an entry with the line it stands on (first occurrence of its text).
pub(super) fn question_lines(text: &str, entry: &Entry) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (_, qs) in entry.questions.iter() {
        for q in qs {
            out.push((line_of(text, q), q.clone()));
        }
    }
    out
}

/// The line on which `needle` first stands in `text` (1 when it is not found verbatim).
fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map(|pos| text[..pos].matches('\n').count() + 1)
        .unwrap_or(1)
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

fn valid_source_date(s: &str) -> bool {
    let s = s.trim();
    parse_date(s).is_some()
        || NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").is_ok()
        || (s.len() == 4 && s.parse::<u16>().is_ok_and(|y| (1900..=2100).contains(&y)))
}
