//! `glossary.toml`: the one form each language uses for a term (the Embassy hotline, the
//! centre's name, the register, Russia's name…), and the forms it rejects. `jardam check` warns
//! about an answer or title that uses a rejected form; the file's own problems (a wrong type, an
//! unknown field, a repeated term or form) are errors at their `file:line`. Questions are not
//! checked: people write as they write.

use super::KnowledgeBase;
use super::load::{FileText, Problems, parse_toml, read_file, valid_name};
use crate::lang::Lang;
use serde::Deserialize;
use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::path::{Path, PathBuf};
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawForms {
    #[serde(rename = "use")]
    preferred: String,
    #[serde(default)]
    reject: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTerm {
    id: String,
    /// For curators; the check does not read it.
    #[serde(default, rename = "note")]
    _note: String,
    ky: Option<RawForms>,
    ru: Option<RawForms>,
    uz: Option<RawForms>,
    en: Option<RawForms>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGlossary {
    #[serde(default)]
    term: Vec<Spanned<RawTerm>>,
}

/// One rejected form: in which language, the form (lower case), the term and the form to use
/// instead, and where it stands.
struct Rejected {
    lang: Lang,
    form: String,
    term: String,
    preferred: String,
    file: PathBuf,
    line: usize,
}

/// Reads `dir/glossary.toml` (optional) and warns about every answer and title of `kb` that
/// uses a form it rejects.
pub(super) fn check(
    dir: &Path,
    kb: &KnowledgeBase,
    problems: &mut Problems,
    hash: &mut DefaultHasher,
) {
    let path = dir.join("glossary.toml");
    if !path.exists() {
        return;
    }
    let Some(text) = read_file(dir, &path, problems, hash) else {
        return;
    };
    let src = FileText {
        path: &path,
        text: &text,
    };
    let Some(raw) = parse_toml::<RawGlossary>(&src, problems) else {
        return;
    };
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut seen: HashMap<(Lang, String), (String, usize)> = HashMap::new();
    let mut rejected = Vec::new();
    for t in raw.term {
        let line = src.line(&t.span());
        let t = t.into_inner();
        if !valid_name(&t.id) {
            problems.error(
                &path,
                line,
                format!(
                    "term id '{}' must be lower-case letters, digits and '-'",
                    t.id
                ),
            );
        }
        if let Some(first) = ids.insert(t.id.clone(), line) {
            problems.error(
                &path,
                line,
                format!("term '{}' is repeated (first at line {first})", t.id),
            );
        }
        let langs = [
            (Lang::Ky, t.ky),
            (Lang::Ru, t.ru),
            (Lang::Uz, t.uz),
            (Lang::En, t.en),
        ];
        if langs.iter().all(|(_, f)| f.is_none()) {
            problems.error(&path, line, format!("term '{}' has no language", t.id));
        }
        for (lang, forms) in langs {
            let Some(forms) = forms else { continue };
            let preferred = forms.preferred.trim().to_string();
            if preferred.is_empty() {
                problems.error(
                    &path,
                    line,
                    format!("term '{}' ({lang}): 'use' is empty", t.id),
                );
            }
            for r in forms.reject {
                let rline = src.line(&r.span());
                let form = r.into_inner().trim().to_lowercase();
                if form.is_empty() || form == preferred.to_lowercase() {
                    problems.error(
                        &path,
                        rline,
                        format!(
                            "term '{}' ({lang}): a rejected form must be non-empty and differ from 'use'",
                            t.id
                        ),
                    );
                    continue;
                }
                if preferred.to_lowercase().contains(&form) {
                    problems.error(
                        &path,
                        rline,
                        format!(
                            "term '{}' ({lang}): the rejected form \"{form}\" is part of the form to use",
                            t.id
                        ),
                    );
                    continue;
                }
                match seen.get(&(lang, form.clone())) {
                    Some((other, oline)) => problems.error(
                        &path,
                        rline,
                        format!(
                            "term '{}' ({lang}): \"{form}\" is already rejected by '{other}' (line {oline})",
                            t.id
                        ),
                    ),
                    None => {
                        seen.insert((lang, form.clone()), (t.id.clone(), rline));
                        rejected.push(Rejected {
                            lang,
                            form,
                            term: t.id.clone(),
                            preferred: preferred.clone(),
                            file: path.clone(),
                            line: rline,
                        });
                    }
                }
            }
        }
    }
    for e in &kb.entries {
        for lang in Lang::ALL {
            let forms: Vec<&Rejected> = rejected.iter().filter(|r| r.lang == lang).collect();
            if forms.is_empty() {
                continue;
            }
            for (&variant, answer) in &e.answers {
                let text = visible_lower(answer.get(lang));
                for r in forms.iter().filter(|r| at_word_start(&text, &r.form)) {
                    problems.warn(
                        &e.file,
                        1,
                        format!(
                            "answer {variant}/{lang} uses \"{}\"; the glossary ({}:{}, term '{}') uses \"{}\"",
                            r.form,
                            r.file.file_name().unwrap_or_default().to_string_lossy(),
                            r.line,
                            r.term,
                            r.preferred
                        ),
                    );
                }
            }
            let title = visible_lower(e.title.get(lang));
            for r in forms.iter().filter(|r| at_word_start(&title, &r.form)) {
                problems.warn(
                    &e.file,
                    1,
                    format!(
                        "title ({lang}) uses \"{}\"; the glossary (term '{}') uses \"{}\"",
                        r.form, r.term, r.preferred
                    ),
                );
            }
        }
    }
}

/// `text` as it shows, lower-cased: markup tags (and the URLs in them) are not words.
fn visible_lower(text: &str) -> String {
    let mut lower = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                lower.push(' ');
            }
            c if !in_tag => lower.extend(c.to_lowercase()),
            _ => {}
        }
    }
    lower
}

/// Whether `lower` (see [`visible_lower`]) has `form` starting at a word's start; endings may
/// follow, so that a rejected stem catches its inflected forms too.
fn at_word_start(lower: &str, form: &str) -> bool {
    lower.match_indices(form).any(|(at, _)| {
        lower[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric())
    })
}

#[cfg(test)]
mod tests {
    use super::{at_word_start, visible_lower};

    fn uses(text: &str, form: &str) -> bool {
        at_word_start(&visible_lower(text), form)
    }

    #[test]
    fn a_rejected_form_matches_at_a_word_start_with_any_ending() {
        assert!(uses("Орусияда иштейсиз", "орусия"));
        assert!(uses("(Орусия)", "орусия"));
        assert!(!uses("Жаңыорусия", "орусия"));
        assert!(!uses("Россия", "орусия"));
        assert!(!uses("<b>30</b> дней", "b"), "tags are not words");
    }
}
