//! The matcher's vocabulary files: `background.toml` (everyday messages that are not ours),
//! `synonyms.toml` (concepts: words that mean the same thing) and `danger.toml` (concepts and
//! the danger signals built from them). All three are optional; each problem is reported with
//! its `file:line`.

use super::load::{FileText, Problems, RawLangMap, lang_map, parse_toml, read_file, valid_name};
use super::{Background, Concept, Danger};
use crate::text::{normalize, skeleton};
use serde::Deserialize;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    id: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    chatter: bool,
    questions: Spanned<RawLangMap<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackground {
    #[serde(default)]
    group: Vec<Spanned<RawGroup>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConcept {
    id: String,
    #[serde(default)]
    note: String,
    forms: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDanger {
    entry: Spanned<String>,
    #[serde(default)]
    note: String,
    all: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConcepts {
    #[serde(default)]
    concept: Vec<Spanned<RawConcept>>,
    #[serde(default)]
    danger: Vec<Spanned<RawDanger>>,
}

/// What the three files hold, with where each item stands for the checks that need the
/// entries.
#[derive(Default)]
pub(super) struct Vocab {
    pub(super) background: Vec<Background>,
    pub(super) concepts: Vec<Concept>,
    pub(super) dangers: Vec<Danger>,
    /// Background questions: normalised text → (file, line).
    questions: Vec<(String, String, PathBuf, usize)>,
    /// Danger rules' entries: (entry, file, line).
    danger_entries: Vec<(String, PathBuf, usize)>,
}

/// The shortest single-word form, in skeleton letters: shorter ones match too many words.
const MIN_FORM: usize = 2;

pub(super) fn load(dir: &Path, problems: &mut Problems, hash: &mut DefaultHasher) -> Vocab {
    let mut vocab = Vocab::default();
    let mut read = |name: &str, problems: &mut Problems| {
        let path = dir.join(name);
        path.exists()
            .then(|| read_file(dir, &path, problems, hash).map(|t| (path, t)))
            .flatten()
    };
    if let Some((path, text)) = read("background.toml", problems) {
        parse_background(&path, &text, &mut vocab, problems);
    }
    // Forms already taken, by skeleton: (concept, file, line).
    let mut forms: HashMap<String, (String, PathBuf, usize)> = HashMap::new();
    let mut concept_ids: HashSet<String> = HashSet::new();
    let mut rules = Vec::new();
    for name in ["synonyms.toml", "danger.toml"] {
        if let Some((path, text)) = read(name, problems) {
            let src = FileText {
                path: &path,
                text: &text,
            };
            let Some(raw) = parse_toml::<RawConcepts>(&src, problems) else {
                continue;
            };
            for c in raw.concept {
                let line = src.line(&c.span());
                let c = c.into_inner();
                if !valid_name(&c.id) || !concept_ids.insert(c.id.clone()) {
                    problems.error(
                        &path,
                        line,
                        format!("concept id '{}' is invalid or repeated", c.id),
                    );
                }
                if c.forms.is_empty() {
                    problems.error(&path, line, format!("concept '{}' has no forms", c.id));
                }
                let mut kept = Vec::new();
                for f in c.forms {
                    let fline = src.line(&f.span());
                    let form = f.into_inner();
                    let key = skeleton(&normalize(&form));
                    let single_short = !key.contains(' ') && key.chars().count() < MIN_FORM;
                    if key.is_empty() || single_short {
                        problems.error(
                            &path,
                            fline,
                            format!(
                                "concept '{}': form \"{form}\" is too short (at least {MIN_FORM} letters, or a phrase)",
                                c.id
                            ),
                        );
                        continue;
                    }
                    match forms.get(&key) {
                        Some((other, ofile, oline)) => {
                            if *other != c.id {
                                problems.error(
                                    &path,
                                    fline,
                                    format!(
                                        "concept '{}': form \"{form}\" is also a form of '{other}' ({}:{oline})",
                                        c.id,
                                        ofile.display()
                                    ),
                                );
                            }
                        }
                        None => {
                            forms.insert(key, (c.id.clone(), path.clone(), fline));
                        }
                    }
                    kept.push(form);
                }
                vocab.concepts.push(Concept {
                    id: c.id,
                    note: c.note,
                    forms: kept,
                });
            }
            for d in raw.danger {
                let line = src.line(&d.span());
                rules.push((path.clone(), line, d.into_inner(), text.clone()));
            }
        }
    }
    for (path, line, d, text) in rules {
        let src = FileText {
            path: &path,
            text: &text,
        };
        if d.all.is_empty() {
            problems.error(&path, line, "danger signal: 'all' lists no concept");
        }
        let mut all = Vec::new();
        for c in d.all {
            let cline = src.line(&c.span());
            let c = c.into_inner();
            if !concept_ids.contains(&c) {
                problems.error(
                    &path,
                    cline,
                    format!("danger signal: '{c}' is not a concept id"),
                );
            }
            all.push(c);
        }
        let eline = src.line(&d.entry.span());
        let entry = d.entry.into_inner();
        vocab
            .danger_entries
            .push((entry.clone(), path.clone(), eline));
        vocab.dangers.push(Danger {
            entry,
            note: d.note,
            all,
        });
    }
    vocab
}

fn parse_background(path: &Path, text: &str, vocab: &mut Vocab, problems: &mut Problems) {
    let src = FileText { path, text };
    let Some(raw) = parse_toml::<RawBackground>(&src, problems) else {
        return;
    };
    let mut seen = HashSet::new();
    let mut texts: HashMap<String, usize> = HashMap::new();
    for g in raw.group {
        let line = src.line(&g.span());
        let g = g.into_inner();
        if !valid_name(&g.id) || !seen.insert(g.id.clone()) {
            problems.error(
                path,
                line,
                format!("background group id '{}' is invalid or repeated", g.id),
            );
        }
        let q_line = src.line(&g.questions.span());
        let raw_questions = g.questions.into_inner();
        let mut lines = Vec::new();
        let mut plain = |v: Option<Vec<Spanned<String>>>| {
            v.map(|v| {
                v.into_iter()
                    .map(|s| {
                        let l = src.line(&s.span());
                        let s = s.into_inner();
                        lines.push((s.clone(), l));
                        s
                    })
                    .collect::<Vec<String>>()
            })
        };
        let raw_plain = RawLangMap {
            ky: plain(raw_questions.ky),
            ru: plain(raw_questions.ru),
            uz: plain(raw_questions.uz),
            en: plain(raw_questions.en),
        };
        let questions = lang_map(
            raw_plain,
            |v: &Vec<String>| !v.is_empty(),
            |lang| {
                problems.error(
                    path,
                    q_line,
                    format!("background group '{}': questions missing in '{lang}'", g.id),
                )
            },
        );
        for (q, l) in lines {
            let key = normalize(&q);
            if key.is_empty() {
                problems.error(path, l, format!("background question \"{q}\" has no words"));
            } else if let Some(first) = texts.insert(key.clone(), l) {
                problems.error(
                    path,
                    l,
                    format!("background question \"{q}\" is already at line {first}"),
                );
            }
            vocab.questions.push((key, q, path.to_path_buf(), l));
        }
        vocab.background.push(Background {
            id: g.id,
            note: g.note,
            chatter: g.chatter,
            questions,
        });
    }
}

impl Vocab {
    /// The checks that need the entries: a background question that an entry also has, and a
    /// danger signal that points to no entry.
    pub(super) fn check_against(
        &self,
        ids: &HashSet<&str>,
        question_owner: &HashMap<String, (String, PathBuf, usize)>,
        problems: &mut Problems,
    ) {
        for (key, q, path, line) in &self.questions {
            if let Some((owner, file, l)) = question_owner.get(key) {
                problems.error(
                    path,
                    *line,
                    format!(
                        "background question \"{q}\" is also in {owner} ({}:{l}): an entry answers it",
                        file.display()
                    ),
                );
            }
        }
        for (entry, path, line) in &self.danger_entries {
            if !ids.contains(entry.as_str()) {
                problems.error(
                    path,
                    *line,
                    format!("danger signal: '{entry}' is not an entry id"),
                );
            }
        }
    }
}
