//! Reading `dialogues/` and checking every rule, collecting all problems instead of stopping at
//! the first: curators fix a whole batch at once.

use super::entry::{RawEntry, check_entry, question_lines};
use super::{
    Entry, INTERFACE_TEXTS, Interface, KnowledgeBase, LoadError, Problem, Severity, Topic, html,
};
use crate::lang::{Lang, PerLang};
use crate::text::normalize;
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

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
pub(super) struct Problems(pub(super) Vec<Problem>);

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
        templates: super::templates::load(dir, &mut problems, &mut hash),
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
                    if len > html::MESSAGE_LIMIT {
                        problems.error(
                            &e.file,
                            1,
                            format!(
                                "answer {variant}/{lang} is {len} characters with heading and footer; Telegram allows {}",
                                html::MESSAGE_LIMIT
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
                        | "templates.toml"
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
