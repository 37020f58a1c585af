//! Reading `dialogues/` and checking every rule, collecting all problems instead of stopping at
//! the first: curators fix a whole batch at once.

use super::{
    Entry, INTERFACE_TEXTS, Interface, KnowledgeBase, LoadError, Problem, Severity, Source, Topic,
    html,
};
use crate::lang::{Lang, PerLang, Variant};
use crate::text::normalize;
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Telegram's limit for one message, in characters after entity parsing.
pub const TELEGRAM_MAX_MESSAGE: usize = 4096;

/// An answer longer than this (visible characters, without heading and footer) is hard to
/// read on a phone: `check` warns.
pub const ANSWER_READABLE_MAX: usize = 900;

/// Settings of the check.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// "Today", for future dates and the age warning.
    pub today: NaiveDate,
    /// Entries checked longer ago than this get a warning.
    pub max_age_days: i64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            today: chrono::Local::now().date_naive(),
            max_age_days: 180,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLangMap<T> {
    pub(super) ky: Option<T>,
    pub(super) ru: Option<T>,
    pub(super) uz: Option<T>,
    pub(super) en: Option<T>,
}

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
struct RawEntry {
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    id: Spanned<String>,
    #[serde(default)]
    emoji: String,
    title: Spanned<RawLangMap<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopics {
    topic: Vec<Spanned<RawTopic>>,
}

/// A file being read: its path and text, to turn byte offsets into line numbers.
pub(super) struct FileText<'a> {
    pub(super) path: &'a Path,
    pub(super) text: &'a str,
}

impl FileText<'_> {
    pub(super) fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }
}

#[derive(Default)]
pub(super) struct Problems(Vec<Problem>);

impl Problems {
    pub(super) fn error(&mut self, file: &Path, line: usize, message: impl Into<String>) {
        self.push(file, line, message, Severity::Error);
    }
    pub(super) fn warn(&mut self, file: &Path, line: usize, message: impl Into<String>) {
        self.push(file, line, message, Severity::Warning);
    }
    fn push(&mut self, file: &Path, line: usize, message: impl Into<String>, severity: Severity) {
        self.0.push(Problem {
            file: file.to_path_buf(),
            line,
            message: message.into(),
            severity,
        });
    }
    pub(super) fn has_errors(&self) -> bool {
        self.0.iter().any(|p| p.severity == Severity::Error)
    }

    /// Every problem, one per line.
    pub(super) fn lines(&self) -> String {
        self.0
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Loads and checks the knowledge base in `dir`. On success returns it with the warnings; on
/// failure every problem (errors and warnings), in file order.
pub fn load(dir: &Path, opts: &CheckOptions) -> Result<(KnowledgeBase, Vec<Problem>), LoadError> {
    let mut problems = Problems::default();
    if !dir.is_dir() {
        problems.error(
            dir,
            0,
            "not a directory (set JARDAM_DIALOGUES or pass the folder)",
        );
        return Err(LoadError(problems.0));
    }
    let topics_path = dir.join("topics.toml");
    let interface_path = dir.join("interface.toml");
    let mut hash = DefaultHasher::new();

    let topics = read_file(dir, &topics_path, &mut problems, &mut hash)
        .map(|text| parse_topics(&topics_path, &text, &mut problems))
        .unwrap_or_default();
    let interface = read_file(dir, &interface_path, &mut problems, &mut hash)
        .map(|text| parse_interface(&interface_path, &text, &mut problems))
        .unwrap_or_default();
    // Gaps, background, synonyms and danger signals: all optional.
    let vocab = super::vocab::load(dir, &mut problems, &mut hash);

    let mut files = Vec::new();
    collect_entry_files(dir, dir, &mut files, &mut problems);
    files.sort();
    if files.is_empty() {
        problems.error(dir, 0, "no entry files (*.toml in topic folders) found");
    }

    let topic_ids: HashSet<&str> = topics.iter().map(|t| t.id.as_str()).collect();
    let mut entries: Vec<Entry> = Vec::new();
    // For cross-entry checks: where each id and each see_also reference stands.
    let mut id_lines: HashMap<String, (PathBuf, usize)> = HashMap::new();
    let mut see_also_refs: Vec<(PathBuf, usize, String)> = Vec::new();
    let mut question_owner: HashMap<String, (String, PathBuf, usize)> = HashMap::new();

    for path in &files {
        let Some(text) = read_file(dir, path, &mut problems, &mut hash) else {
            continue;
        };
        let src = FileText { path, text: &text };
        let Some(raw) = parse_toml::<RawEntry>(&src, &mut problems) else {
            continue;
        };
        let Some(entry) = check_entry(&src, raw, &topic_ids, opts, &mut problems, |p, line, q| {
            see_also_refs.push((p.to_path_buf(), line, q))
        }) else {
            continue;
        };
        let id_line = 1;
        if let Some((other, line)) = id_lines.get(&entry.id) {
            problems.error(
                path,
                id_line,
                format!(
                    "duplicate id '{}' (also in {}:{line})",
                    entry.id,
                    other.display()
                ),
            );
            continue;
        }
        id_lines.insert(entry.id.clone(), (path.clone(), id_line));
        // The same question in two entries would make the matcher's choice arbitrary.
        for (line, q) in question_lines(&text, &entry) {
            let key = normalize(&q);
            if key.is_empty() {
                continue;
            }
            match question_owner.get(&key) {
                Some((owner, file, l)) if *owner != entry.id => problems.error(
                    path,
                    line,
                    format!(
                        "question \"{q}\" is also in {owner} ({}:{l})",
                        file.display()
                    ),
                ),
                Some(_) => {}
                None => {
                    question_owner.insert(key, (entry.id.clone(), path.clone(), line));
                }
            }
        }
        entries.push(entry);
    }

    let ids: HashSet<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    vocab.check_against(&ids, &question_owner, &mut problems);
    for (path, line, target) in &see_also_refs {
        if !ids.contains(target.as_str()) {
            problems.error(
                path,
                *line,
                format!("see_also '{target}' is not an entry id"),
            );
        }
    }
    for t in &topics {
        if !entries.iter().any(|e| e.topic == t.id) {
            problems.warn(&topics_path, 1, format!("topic '{}' has no entries", t.id));
        }
    }

    // Menu order: topics as listed, entries by file name inside their topic.
    entries.sort_by_key(|e| {
        (
            topics
                .iter()
                .position(|t| t.id == e.topic)
                .unwrap_or(usize::MAX),
            e.file.clone(),
        )
    });
    let by_id = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.clone(), i))
        .collect();
    let mut kb = KnowledgeBase {
        topics,
        entries,
        gaps: vocab.gaps,
        background: vocab.background,
        concepts: vocab.concepts,
        dangers: vocab.dangers,
        interface,
        by_id,
        version: 0,
    };
    let v = hash.finish();
    kb.version = ((v >> 48) ^ (v >> 32) ^ (v >> 16) ^ v) as u16;

    if !problems.has_errors() {
        super::glossary::check(dir, &kb, &mut problems, &mut hash);
        super::stamps::check(dir, &kb, &mut problems, &mut hash);
    }
    // Rendered length, now that titles, topics and interface texts are known.
    if !problems.has_errors() {
        for e in &kb.entries {
            for &variant in e.answers.keys() {
                for lang in Lang::ALL {
                    let own = html::visible_len(e.answer(variant, lang).trim());
                    if own > ANSWER_READABLE_MAX {
                        problems.warn(
                            &e.file,
                            1,
                            format!(
                                "answer {variant}/{lang} is {own} characters; keep it within {ANSWER_READABLE_MAX} to read on a phone"
                            ),
                        );
                    }
                    let rendered = kb.render_answer(e, variant, lang);
                    let len = html::visible_len(&rendered);
                    if len > TELEGRAM_MAX_MESSAGE {
                        problems.error(
                            &e.file,
                            1,
                            format!(
                                "answer {variant}/{lang} is {len} characters with heading and footer; Telegram allows {TELEGRAM_MAX_MESSAGE}"
                            ),
                        );
                    }
                    if let Err(msg) = html::validate(&rendered) {
                        problems.error(
                            &e.file,
                            1,
                            format!("rendered answer {variant}/{lang}: {msg}"),
                        );
                    }
                }
            }
        }
    }

    if problems.has_errors() {
        Err(LoadError(problems.0))
    } else {
        Ok((kb, problems.0))
    }
}

/// Parses a file's TOML, reporting a syntax or shape error at its line.
pub(super) fn parse_toml<T: serde::de::DeserializeOwned>(
    src: &FileText,
    problems: &mut Problems,
) -> Option<T> {
    match toml::from_str(src.text) {
        Ok(raw) => Some(raw),
        Err(e) => {
            let line = e.span().map(|s| src.line(&s)).unwrap_or(1);
            problems.error(src.path, line, toml_message(&e));
            None
        }
    }
}

/// The line on which `needle` first stands in `text` (1 when it is not found verbatim).
fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map(|pos| text[..pos].matches('\n').count() + 1)
        .unwrap_or(1)
}

/// Reads a file as UTF-8 and adds it to the content hash (`version`), so each file is read
/// once.
pub(super) fn read_file(
    dir: &Path,
    path: &Path,
    problems: &mut Problems,
    hash: &mut DefaultHasher,
) -> Option<String> {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => {
                path.strip_prefix(dir).unwrap_or(path).hash(hash);
                text.hash(hash);
                Some(text)
            }
            Err(e) => {
                let valid = e.utf8_error().valid_up_to();
                let line = e.as_bytes()[..valid]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1;
                problems.error(path, line, "not valid UTF-8 text (save the file as UTF-8)");
                None
            }
        },
        Err(e) => {
            problems.error(path, 0, format!("cannot read: {e}"));
            None
        }
    }
}

/// toml's message without its own multi-line excerpt: we print the location ourselves.
fn toml_message(e: &toml::de::Error) -> String {
    e.message().trim().replace('\n', " ")
}

fn collect_entry_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>, problems: &mut Problems) {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            problems.error(dir, 0, format!("cannot read folder: {e}"));
            return;
        }
    };
    for item in read.flatten() {
        let path = item.path();
        let name = item.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect_entry_files(root, &path, out, problems);
        } else if name.ends_with(".toml")
            && !(dir == root
                && matches!(
                    name.as_ref(),
                    "topics.toml"
                        | "interface.toml"
                        | "gaps.toml"
                        | "background.toml"
                        | "synonyms.toml"
                        | "danger.toml"
                        | "glossary.toml"
                        | "stamps.toml"
                ))
        {
            out.push(path);
        }
    }
}

fn parse_topics(path: &Path, text: &str, problems: &mut Problems) -> Vec<Topic> {
    let src = FileText { path, text };
    let Some(raw) = parse_toml::<RawTopics>(&src, problems) else {
        return Vec::new();
    };
    let mut seen = HashSet::new();
    let mut topics = Vec::new();
    for t in raw.topic {
        let line = src.line(&t.span());
        let t = t.into_inner();
        let id = t.id.get_ref().clone();
        if !valid_name(&id) {
            problems.error(
                path,
                line,
                format!("topic id '{id}' must be lower-case letters, digits and '-'"),
            );
        }
        if !seen.insert(id.clone()) {
            problems.error(path, line, format!("duplicate topic '{id}'"));
        }
        let title_line = src.line(&t.title.span());
        let title = lang_map(
            t.title.into_inner(),
            |s| !s.trim().is_empty(),
            |lang| {
                problems.error(
                    path,
                    title_line,
                    format!("topic '{id}': title missing in '{lang}'"),
                )
            },
        );
        topics.push(Topic {
            id,
            emoji: t.emoji,
            title,
        });
    }
    topics
}

fn parse_interface(path: &Path, text: &str, problems: &mut Problems) -> Interface {
    let src = FileText { path, text };
    let Some(raw) = parse_toml::<BTreeMap<String, Spanned<RawLangMap<String>>>>(&src, problems)
    else {
        return Interface::default();
    };
    let known: HashMap<&str, &[&str]> = INTERFACE_TEXTS.iter().copied().collect();
    let mut texts = HashMap::new();
    for (key, value) in raw {
        let line = src.line(&value.span());
        let Some(placeholders) = known.get(key.as_str()) else {
            problems.error(path, line, format!("unknown interface text '{key}'"));
            continue;
        };
        let map = lang_map(
            value.into_inner(),
            |s| !s.trim().is_empty(),
            |lang| {
                problems.error(
                    path,
                    line,
                    format!("interface text '{key}' missing in '{lang}'"),
                )
            },
        );
        for (lang, text) in map.iter() {
            let found = placeholders_in(text);
            let expected: HashSet<&str> = placeholders.iter().copied().collect();
            if found != expected {
                problems.error(
                    path,
                    line,
                    format!(
                        "interface text '{key}' ({lang}) must use the placeholders {{{}}}, found {{{}}}",
                        sorted(&expected).join("}, {"),
                        sorted(&found).join("}, {")
                    ),
                );
            }
            if let Err(msg) = html::validate(text) {
                problems.error(
                    path,
                    line,
                    format!("interface text '{key}' ({lang}): {msg}"),
                );
            }
        }
        texts.insert(key, map);
    }
    for (key, _) in INTERFACE_TEXTS {
        if !texts.contains_key(*key) {
            problems.error(path, 1, format!("interface text '{key}' is missing"));
        }
    }
    Interface { texts }
}

fn sorted<'a>(set: &HashSet<&'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = set.iter().copied().collect();
    v.sort();
    v
}

fn placeholders_in(text: &str) -> HashSet<&str> {
    let mut found = HashSet::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                found.insert(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    found
}

/// Turns a raw language map into a complete one, reporting each language that is missing or
/// fails `present`.
pub(super) fn lang_map<T: Default>(
    raw: RawLangMap<T>,
    present: impl Fn(&T) -> bool,
    mut missing: impl FnMut(Lang),
) -> PerLang<T> {
    let mut take = |v: Option<T>, lang: Lang| match v {
        Some(v) if present(&v) => v,
        _ => {
            missing(lang);
            T::default()
        }
    };
    let ky = take(raw.ky, Lang::Ky);
    let ru = take(raw.ru, Lang::Ru);
    let uz = take(raw.uz, Lang::Uz);
    let en = take(raw.en, Lang::En);
    PerLang([ky, ru, uz, en])
}

pub(super) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
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

fn check_entry(
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
        file: path.to_path_buf(),
    })
}

/// Each question of an entry with the line it stands on (first occurrence of its text).
fn question_lines(text: &str, entry: &Entry) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (_, qs) in entry.questions.iter() {
        for q in qs {
            out.push((line_of(text, q), q.clone()));
        }
    }
    out
}
