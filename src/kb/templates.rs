//! `templates.toml`: the experts' ready replies ("Answer with template…" under a post), each
//! named and written in the four languages, curated like the FAQ and checked at load.
//!
//! ```toml
//! [[template]]
//! name = "wait-for-patent"
//! text.ky = "…"
//! text.ru = "…"
//! text.uz = "…"
//! text.en = "…"
//! ```
//!
//! A name is 1–32 lower-case letters, digits and '-' (it goes into button data, so nothing
//! else); the texts are Telegram HTML and are sent under the "Answer from an expert" header.

use super::html;
use super::load::{FileText, Problems, RawLangMap, lang_map, parse_toml, read_file, valid_name};
use crate::lang::{Lang, PerLang};
use serde::Deserialize;
use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::path::Path;
use toml::Spanned;

/// The longest template name: it is carried in a button's 64 bytes with a question number.
pub const NAME_MAX: usize = 32;
/// The longest template text, in visible characters: it must fit one message with its header.
const TEXT_MAX: usize = 3500;

/// One ready reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    pub text: PerLang<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    name: String,
    text: RawLangMap<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplates {
    #[serde(default)]
    template: Vec<Spanned<RawTemplate>>,
}

/// Reads `dir/templates.toml` (optional: no file, no templates), reporting every problem.
pub(super) fn load(dir: &Path, problems: &mut Problems, hash: &mut DefaultHasher) -> Vec<Template> {
    let path = dir.join("templates.toml");
    if !path.exists() {
        return Vec::new();
    }
    let Some(text) = read_file(dir, &path, problems, hash) else {
        return Vec::new();
    };
    let src = FileText {
        path: &path,
        text: &text,
    };
    let Some(raw) = parse_toml::<RawTemplates>(&src, problems) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for t in raw.template {
        let line = src.line(&t.span());
        let t = t.into_inner();
        let name = t.name.trim().to_string();
        if name.len() > NAME_MAX || !valid_name(&name) {
            problems.error(
                &path,
                line,
                format!(
                    "template name '{name}' must be 1–{NAME_MAX} lower-case letters, digits and '-'"
                ),
            );
        }
        if let Some(first) = seen.insert(name.clone(), line) {
            problems.error(
                &path,
                line,
                format!("template '{name}' is repeated (first at line {first})"),
            );
        }
        let text = lang_map(
            t.text,
            |s: &String| !s.trim().is_empty(),
            |lang| problems.error(&path, line, format!("template '{name}' has no {lang} text")),
        );
        for (lang, s) in text.iter() {
            if let Err(e) = html::validate(s) {
                problems.error(&path, line, format!("template '{name}' ({lang}): {e}"));
            } else if html::visible_len(s) > TEXT_MAX {
                problems.error(
                    &path,
                    line,
                    format!("template '{name}' ({lang}) is longer than {TEXT_MAX} characters"),
                );
            }
        }
        out.push(Template { name, text });
    }
    out
}

impl Template {
    pub fn text(&self, lang: Lang) -> &str {
        self.text.get(lang).trim()
    }
}
