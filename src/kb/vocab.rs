//! The matcher's vocabulary files: `gaps.toml` (topics the FAQ does not answer),
//! `background.toml` (everyday messages that are not ours), `synonyms.toml` (concepts: words
//! that mean the same thing) and `danger.toml` (concepts and the danger signals built from
//! them). All are optional; each problem is reported with its `file:line`.

use super::load::{FileText, Problems, RawLangMap, lang_map, parse_toml, read_file, valid_name};
use super::{Background, Concept, Danger, Gap};
use crate::lang::PerLang;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGaps {
    #[serde(default)]
    gap: Vec<Spanned<RawGroup>>,
}

/// What the files hold, with where each item stands for the checks that need the entries.
#[derive(Default)]
pub(super) struct Vocab {
    pub(super) gaps: Vec<Gap>,
    pub(super) background: Vec<Background>,
    pub(super) concepts: Vec<Concept>,
    pub(super) dangers: Vec<Danger>,
    /// Questions of gaps and background groups, which no entry may have: (normalised text,
    /// text, what holds it, file, line).
    questions: Vec<(String, String, String, PathBuf, usize)>,
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
    if let Some((path, text)) = read("gaps.toml", problems) {
        let src = FileText {
            path: &path,
            text: &text,
        };
        if let Some(raw) = parse_toml::<RawGaps>(&src, problems) {
            for g in parse_groups(&src, raw.gap, "gap", &mut vocab.questions, problems) {
                if g.chatter {
                    problems.error(
                        &path,
                        g.line,
                        format!("gap '{}': 'chatter' is for background groups only", g.id),
                    );
                }
                vocab.gaps.push(Gap {
                    id: g.id,
                    note: g.note,
                    questions: g.questions,
                });
            }
        }
    }
    if let Some((path, text)) = read("background.toml", problems) {
        let src = FileText {
            path: &path,
            text: &text,
        };
        if let Some(raw) = parse_toml::<RawBackground>(&src, problems) {
            let first = vocab.questions.len();
            let groups = parse_groups(
                &src,
                raw.group,
                "background group",
                &mut vocab.questions,
                problems,
            );
            distinct(&vocab.questions[first..], problems);
            vocab
                .background
                .extend(groups.into_iter().map(|g| Background {
                    id: g.id,
                    note: g.note,
                    chatter: g.chatter,
                    questions: g.questions,
                }));
        }
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
                let d = d.into_inner();
                if d.all.is_empty() {
                    problems.error(&path, line, "danger signal: 'all' lists no concept");
                }
                let all: Vec<(String, usize)> = d
                    .all
                    .into_iter()
                    .map(|c| {
                        let l = src.line(&c.span());
                        (c.into_inner(), l)
                    })
                    .collect();
                vocab.danger_entries.push((
                    d.entry.get_ref().clone(),
                    path.clone(),
                    src.line(&d.entry.span()),
                ));
                vocab.dangers.push(Danger {
                    entry: d.entry.into_inner(),
                    note: d.note,
                    all: all.iter().map(|(c, _)| c.clone()).collect(),
                });
                rules.push((path.clone(), all));
            }
        }
    }
    // Concepts may be defined in either file: each signal's are checked once all are known.
    for (path, all) in rules {
        for (c, line) in all {
            if !concept_ids.contains(&c) {
                problems.error(
                    &path,
                    line,
                    format!("danger signal: '{c}' is not a concept id"),
                );
            }
        }
    }
    vocab
}

/// A gap or a background group as read, with the line of its table.
struct Group {
    id: String,
    note: String,
    chatter: bool,
    questions: PerLang<Vec<String>>,
    line: usize,
}

/// Reads `[[gap]]` or `[[group]]` tables (`what` names them in messages); each question goes
/// to `questions` with its line, for the checks against the entries.
fn parse_groups(
    src: &FileText,
    raw: Vec<Spanned<RawGroup>>,
    what: &str,
    questions: &mut Vec<(String, String, String, PathBuf, usize)>,
    problems: &mut Problems,
) -> Vec<Group> {
    let path = src.path;
    let mut seen = HashSet::new();
    let mut groups = Vec::new();
    for g in raw {
        let line = src.line(&g.span());
        let g = g.into_inner();
        if !valid_name(&g.id) || !seen.insert(g.id.clone()) {
            problems.error(
                path,
                line,
                format!("{what} id '{}' is invalid or repeated", g.id),
            );
        }
        let q_line = src.line(&g.questions.span());
        let mut plain = |v: Option<Vec<Spanned<String>>>| {
            v.map(|v| {
                v.into_iter()
                    .map(|s| {
                        let l = src.line(&s.span());
                        let s = s.into_inner();
                        let label = format!("{what} '{}'", g.id);
                        questions.push((normalize(&s), s.clone(), label, path.to_path_buf(), l));
                        s
                    })
                    .collect::<Vec<String>>()
            })
        };
        let raw_questions = g.questions.into_inner();
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
                    format!("{what} '{}': questions missing in '{lang}'", g.id),
                )
            },
        );
        groups.push(Group {
            id: g.id,
            note: g.note,
            chatter: g.chatter,
            questions,
            line,
        });
    }
    groups
}

/// Background questions must have words, and each may stand only once in the file.
fn distinct(questions: &[(String, String, String, PathBuf, usize)], problems: &mut Problems) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (key, q, _, path, l) in questions {
        if key.is_empty() {
            problems.error(
                path,
                *l,
                format!("background question \"{q}\" has no words"),
            );
        } else if let Some(at) = first.insert(key, *l) {
            problems.error(
                path,
                *l,
                format!("background question \"{q}\" is already at line {at}"),
            );
        }
    }
}

impl Vocab {
    /// The checks that need the entries: a gap or background question that an entry also has,
    /// and a danger signal that points to no entry.
    pub(super) fn check_against(
        &self,
        ids: &HashSet<&str>,
        question_owner: &HashMap<String, (String, PathBuf, usize)>,
        problems: &mut Problems,
    ) {
        for (key, q, holder, path, line) in &self.questions {
            if let Some((owner, file, l)) = question_owner.get(key) {
                problems.error(
                    path,
                    *line,
                    format!(
                        "{holder}: question \"{q}\" is also in {owner} ({}:{l})",
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
