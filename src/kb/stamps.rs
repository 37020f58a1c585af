//! `stamps.toml`: which version of the Russian answer each translation was made from, so that
//! a changed Russian answer does not leave the Kyrgyz, Uzbek and English ones silently behind.
//!
//! Each entry and variant has a stamp: `ru`, a short hash of the Russian answer when it was last
//! stamped, `changed`, the day that hash last changed, and for ky, uz and en the `ru` hash their
//! text was translated from. `jardam check --stamp` records changed Russian answers (their
//! translations then fall behind); `--translated ky:stay.term` records that a curator brought
//! the Kyrgyz answer of `stay.term` up to date (`--translated ky` for every entry).

use super::KnowledgeBase;
use super::load::{FileText, Problems, parse_toml, read_file};
use crate::lang::Lang;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::path::Path;
use toml::Spanned;

const FILE: &str = "stamps.toml";

#[derive(Deserialize, Serialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct Stamp {
    entry: String,
    variant: String,
    ru: String,
    changed: String,
    ky: String,
    uz: String,
    en: String,
}

impl Stamp {
    fn of(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ky => &self.ky,
            Lang::Uz => &self.uz,
            Lang::En => &self.en,
            Lang::Ru => &self.ru,
        }
    }

    fn set(&mut self, lang: Lang, hash: String) {
        match lang {
            Lang::Ky => self.ky = hash,
            Lang::Uz => self.uz = hash,
            Lang::En => self.en = hash,
            Lang::Ru => self.ru = hash,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStamps {
    #[serde(default)]
    stamp: Vec<Spanned<Stamp>>,
}

#[derive(Serialize)]
struct Stamps<'a> {
    stamp: &'a [Stamp],
}

/// The languages translated from Russian.
const TRANSLATED: [Lang; 3] = [Lang::Ky, Lang::Uz, Lang::En];

/// A short hash of an answer text (the first 8 hex digits of its SHA-256).
fn text_hash(text: &str) -> String {
    let digest = Sha256::digest(text.trim().as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the stamps, reporting the file's problems; `None` without a file (or a broken one).
fn read(
    dir: &Path,
    problems: &mut Problems,
    hash: &mut DefaultHasher,
) -> Option<HashMap<(String, String), Stamp>> {
    let path = dir.join(FILE);
    if !path.exists() {
        return None;
    }
    let text = read_file(dir, &path, problems, hash)?;
    let src = FileText {
        path: &path,
        text: &text,
    };
    let raw = parse_toml::<RawStamps>(&src, problems)?;
    let mut stamps = HashMap::new();
    let mut lines: HashMap<(String, String), usize> = HashMap::new();
    for s in raw.stamp {
        let line = src.line(&s.span());
        let s = s.into_inner();
        let key = (s.entry.clone(), s.variant.clone());
        if let Some(first) = lines.insert(key.clone(), line) {
            problems.error(
                &path,
                line,
                format!(
                    "a second stamp for {} ({}); the first is at line {first}",
                    s.entry, s.variant
                ),
            );
            continue;
        }
        let well_formed = |h: &str| h.len() == 8 && h.chars().all(|c| c.is_ascii_hexdigit());
        if ![&s.ru, &s.ky, &s.uz, &s.en].iter().all(|h| well_formed(h)) {
            problems.error(&path, line, "a stamp's hashes are 8 hex digits".to_string());
        }
        if NaiveDate::parse_from_str(&s.changed, "%Y-%m-%d").is_err() {
            problems.error(
                &path,
                line,
                format!("'{}' is not a YYYY-MM-DD date", s.changed),
            );
        }
        stamps.insert(key, s);
    }
    Some(stamps)
}

/// Warns about every translation made from an older Russian text, every Russian text changed
/// since its stamp, and every answer without a stamp.
pub(super) fn check(
    dir: &Path,
    kb: &KnowledgeBase,
    problems: &mut Problems,
    hash: &mut DefaultHasher,
) {
    // Optional: a knowledge base without the file is not checked for it.
    let Some(stamps) = read(dir, problems, hash) else {
        return;
    };
    for e in &kb.entries {
        for (variant, answer) in &e.answers {
            let key = (e.id.clone(), variant.to_string());
            let Some(s) = stamps.get(&key) else {
                problems.warn(
                    &e.file,
                    1,
                    format!("answer {variant}: no translation stamp; run `jardam check --stamp`"),
                );
                continue;
            };
            if text_hash(answer.get(Lang::Ru)) != s.ru {
                problems.warn(
                    &e.file,
                    1,
                    format!(
                        "ru answer {variant} of {} changed since it was stamped: run `jardam check --stamp`, then bring the translations up to date",
                        e.id
                    ),
                );
            }
            for lang in TRANSLATED {
                if s.of(lang) != s.ru {
                    problems.warn(
                        &e.file,
                        1,
                        format!(
                            "{lang} answer {variant} of {} was translated from an older ru text (changed {}); once it is up to date, run `jardam check --stamp --translated {lang}:{}`",
                            e.id, s.changed, e.id
                        ),
                    );
                }
            }
        }
    }
}

/// `jardam check --stamp`: records each Russian answer's current hash (a changed one with
/// `today` as its date), marks as translated from it what `translated` names ((language,
/// entry id or every entry)), and writes `stamps.toml`. Returns how many stamps changed.
pub fn write(
    dir: &Path,
    kb: &KnowledgeBase,
    today: NaiveDate,
    translated: &[(Lang, Option<String>)],
) -> Result<usize, String> {
    let mut problems = Problems::default();
    let mut old = read(dir, &mut problems, &mut DefaultHasher::new()).unwrap_or_default();
    if problems.has_errors() {
        return Err(problems.lines());
    }
    let mut out = Vec::new();
    let mut changed = 0;
    for e in &kb.entries {
        for (variant, answer) in &e.answers {
            let cur = text_hash(answer.get(Lang::Ru));
            let key = (e.id.clone(), variant.to_string());
            let is_new = !old.contains_key(&key);
            let mut s = old.remove(&key).unwrap_or_else(|| Stamp {
                entry: e.id.clone(),
                variant: variant.to_string(),
                ru: cur.clone(),
                changed: today.to_string(),
                ky: cur.clone(),
                uz: cur.clone(),
                en: cur.clone(),
            });
            let before = s.clone();
            if s.ru != cur {
                s.ru = cur.clone();
                s.changed = today.to_string();
            }
            for (lang, entry) in translated {
                if entry.as_deref().is_none_or(|id| id == e.id) {
                    s.set(*lang, cur.clone());
                }
            }
            if is_new || before != s {
                changed += 1;
            }
            out.push(s);
        }
    }
    let body = toml::to_string(&Stamps { stamp: &out }).map_err(|e| e.to_string())?;
    let text = format!(
        "# Written by `jardam check --stamp` (see README.md, \"Keeping languages in step\"): for\n\
         # each answer, a hash of its Russian text, the day it last changed, and the Russian\n\
         # text each translation was made from.\n\n{body}"
    );
    std::fs::write(dir.join(FILE), text).map_err(|e| format!("{FILE}: {e}"))?;
    Ok(changed)
}
