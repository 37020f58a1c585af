//! "This answer changed": dated notes a curator adds to an entry's file (`[[change]]`) when
//! its facts change, in the four languages. People who follow the entry get the newest note
//! once (see `bot::follows`).

use super::html;
use super::load::{FileText, Problems, RawLangMap, lang_map};
use crate::lang::PerLang;
use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChange {
    /// YYYY-MM-DD: when the facts changed (or the note was written).
    date: Spanned<String>,
    text: RawLangMap<String>,
}

/// One change of an entry's facts, as its followers are told.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeNote {
    pub date: NaiveDate,
    pub text: PerLang<String>,
}

/// The notes of an entry, oldest first; each problem at its line.
pub(super) fn check(
    src: &FileText,
    entry: &str,
    raw: Vec<Spanned<RawChange>>,
    today: NaiveDate,
    problems: &mut Problems,
) -> Vec<ChangeNote> {
    let path = src.path;
    let mut out: Vec<ChangeNote> = Vec::new();
    for c in raw {
        let line = src.line(&c.span());
        let c = c.into_inner();
        let date = NaiveDate::parse_from_str(c.date.get_ref().trim(), "%Y-%m-%d").ok();
        let date = match date {
            None => {
                let what = format!(
                    "change of {entry}: date '{}' is not YYYY-MM-DD",
                    c.date.get_ref()
                );
                problems.error(path, line, what);
                continue;
            }
            Some(d) if d > today => {
                problems.error(
                    path,
                    line,
                    format!("change of {entry}: date {d} is in the future"),
                );
                continue;
            }
            Some(d) => d,
        };
        if out.iter().any(|n| n.date == date) {
            let what = format!("change of {entry}: two notes dated {date}; write one");
            problems.error(path, line, what);
            continue;
        }
        let text = lang_map(
            c.text,
            |t: &String| !t.trim().is_empty(),
            |lang| {
                let what = format!("change of {entry} ({date}): the text in {lang} is missing");
                problems.error(path, line, what);
            },
        );
        for (lang, t) in text.iter() {
            if let Err(msg) = html::validate(t) {
                problems.error(
                    path,
                    line,
                    format!("change of {entry} ({date}, {lang}): {msg}"),
                );
            }
        }
        out.push(ChangeNote {
            date,
            text: PerLang(text.0.map(|t| t.trim().to_string())),
        });
    }
    out.sort_by_key(|n| n.date);
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ENTRY, entry_problems};

    fn with(change: &str) -> Vec<String> {
        entry_problems(&format!("{ENTRY}\n{change}"))
    }

    const GOOD: &str = r#"
[[change]]
date = "2026-11-01"
text.ky = "ky <b>жаңы</b>"
text.ru = "ru"
text.uz = "uz"
text.en = "en"
"#;

    #[test]
    fn a_change_note_needs_a_past_date_every_language_and_valid_markup() {
        assert_eq!(with(GOOD), Vec::<String>::new());
        let line = ENTRY.lines().count() + 3;
        for (from, to, message) in [
            (
                "2026-11-01",
                "1.11.2026",
                "date '1.11.2026' is not YYYY-MM-DD",
            ),
            (
                "2026-11-01",
                "2099-01-01",
                "date 2099-01-01 is in the future",
            ),
            (
                "text.uz = \"uz\"\n",
                "",
                "(2026-11-01): the text in uz is missing",
            ),
            ("<b>жаңы</b>", "<b>жаңы", "(2026-11-01, ky)"),
        ] {
            let problems = with(&GOOD.replacen(from, to, 1));
            assert_eq!(problems.len(), 1, "{to}: {problems:?}");
            assert!(problems[0].contains(message), "{problems:?}");
            assert!(
                problems[0].starts_with(&format!("stay/registration.toml:{line}:")),
                "{problems:?}"
            );
        }
        let twice = with(&format!("{GOOD}{GOOD}"));
        assert!(
            twice[0].ends_with("two notes dated 2026-11-01; write one"),
            "{twice:?}"
        );
    }
}
