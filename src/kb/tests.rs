//! One broken fixture per validation rule: each asserts the message and the line.

use super::{CheckOptions, INTERFACE_TEXTS, Severity, load};
use crate::lang::Lang;
use chrono::NaiveDate;
use std::path::Path;

const TOPICS: &str = r#"[[topic]]
id = "stay"
emoji = "🏠"
[topic.title]
ky = "Жашоо"
ru = "Пребывание"
uz = "Yashash"
en = "Stay"
"#;

pub(super) const ENTRY: &str = r#"id = "stay.registration"
topic = "stay"
checked = "2026-11-01"
see_also = []

[title]
ky = "Каттоо"
ru = "Учёт"
uz = "Roʻyxat"
en = "Registration"

[questions]
ky = ["каттоо кантип"]
ru = ["как встать на учет"]
uz = ["qanday roʻyxatdan oʻtaman"]
en = ["how do I register"]

[answer]
ky = "<b>30</b> күн"
ru = "<b>30</b> дней"
uz = "<b>30</b> kun"
en = "<b>30</b> days"

[[sources]]
title = "EAEU Treaty, art. 97"
date = "2014-05-29"
"#;

fn interface() -> String {
    let mut s = String::new();
    for (key, placeholders) in INTERFACE_TEXTS {
        let ph: String = placeholders.iter().map(|p| format!(" {{{p}}}")).collect();
        s.push_str(&format!(
            "[{key}]\nky = \"k{ph}\"\nru = \"r{ph}\"\nuz = \"u{ph}\"\nen = \"e{ph}\"\n\n"
        ));
    }
    s
}

fn opts() -> CheckOptions {
    CheckOptions {
        today: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
        max_age_days: 180,
    }
}

/// Writes a knowledge base with `entries` as (relative path, text) and returns the problems.
fn check(entries: &[(&str, &str)], topics: &str, interface: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("topics.toml"), topics).unwrap();
    std::fs::write(dir.path().join("interface.toml"), interface).unwrap();
    for (path, text) in entries {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let shown = |p: &super::Problem| {
        let rel = p
            .file
            .strip_prefix(dir.path())
            .unwrap_or(&p.file)
            .display()
            .to_string();
        format!("{rel}:{}: {}", p.line, p.message)
    };
    match load(dir.path(), &opts()) {
        Ok((_, warnings)) => warnings
            .iter()
            .map(|w| format!("warning {}", shown(w)))
            .collect(),
        Err(e) => {
            e.0.iter()
                .filter(|p| p.severity == Severity::Error)
                .map(shown)
                .collect()
        }
    }
}

pub(super) fn entry_problems(text: &str) -> Vec<String> {
    check(&[("stay/registration.toml", text)], TOPICS, &interface())
}

#[test]
fn a_valid_knowledge_base_has_no_problems() {
    assert_eq!(entry_problems(ENTRY), Vec::<String>::new());
}

#[test]
fn the_shipped_knowledge_base_passes_without_warnings() {
    let (kb, warnings) =
        load(Path::new("dialogues"), &CheckOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(kb.entries.len() >= 38);
}

#[test]
fn malformed_toml_is_reported_with_its_line() {
    let broken = ENTRY.replace("checked = \"2026-11-01\"", "checked = \"2026-11-01");
    let p = entry_problems(&broken);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("stay/registration.toml:3: "), "{p:?}");
}

#[test]
fn unknown_field_is_rejected() {
    let p = entry_problems(&ENTRY.replace("see_also = []", "see_also = []\nsee_allso = []"));
    assert!(
        p[0].starts_with("stay/registration.toml:5: ") && p[0].contains("see_allso"),
        "{p:?}"
    );
}

#[test]
fn wrong_type_is_rejected() {
    let p = entry_problems(&ENTRY.replace("see_also = []", "see_also = \"stay.term\""));
    assert!(p[0].starts_with("stay/registration.toml:4: "), "{p:?}");
}

#[test]
fn id_must_be_topic_dot_name() {
    let p = entry_problems(&ENTRY.replace("id = \"stay.registration\"", "id = \"Registration\""));
    assert_eq!(
        p,
        vec![
            "stay/registration.toml:1: id 'Registration' is not of the form topic.name (lower-case letters, digits, '-')"
        ]
    );
    let p =
        entry_problems(&ENTRY.replace("id = \"stay.registration\"", "id = \"work.registration\""));
    assert_eq!(
        p,
        vec!["stay/registration.toml:1: id 'work.registration' must start with its topic 'stay.'"]
    );
}

#[test]
fn unknown_topic() {
    let text = ENTRY
        .replace("stay.registration", "home.registration")
        .replace("topic = \"stay\"", "topic = \"home\"");
    assert_eq!(
        entry_problems(&text),
        vec!["stay/registration.toml:2: unknown topic 'home' (not in topics.toml)"]
    );
}

#[test]
fn duplicate_ids() {
    let other = ENTRY
        .replace("каттоо кантип", "x1")
        .replace("как встать на учет", "x2")
        .replace("qanday roʻyxatdan oʻtaman", "x3")
        .replace("how do I register", "x4");
    let p = check(
        &[("stay/registration.toml", ENTRY), ("stay/zz.toml", &other)],
        TOPICS,
        &interface(),
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("stay/zz.toml:1: duplicate id 'stay.registration' (also in "),
        "{p:?}"
    );
}

#[test]
fn missing_language_in_questions_and_answers() {
    let p = entry_problems(
        &ENTRY
            .replace("uz = [\"qanday roʻyxatdan oʻtaman\"]\n", "")
            .replace("en = \"<b>30</b> days\"\n", ""),
    );
    assert_eq!(
        p,
        vec![
            "stay/registration.toml:12: questions missing in 'uz'",
            "stay/registration.toml:17: answer missing in 'en'",
        ]
    );
}

#[test]
fn missing_language_in_a_variant_and_missing_any() {
    let text = ENTRY
        .replace("[answer]", "[variants.ru]")
        .replace("en = \"<b>30</b> days\"\n", "");
    let p = entry_problems(&text);
    assert_eq!(
        p,
        vec![
            "stay/registration.toml:18: variant 'ru' missing in 'en'",
            "stay/registration.toml:18: variants need [variants.any] for everyone else",
        ]
    );
}

#[test]
fn see_also_pointing_nowhere() {
    let p = entry_problems(&ENTRY.replace("see_also = []", "see_also = [\"stay.nowhere\"]"));
    assert_eq!(
        p,
        vec!["stay/registration.toml:4: see_also 'stay.nowhere' is not an entry id"]
    );
}

#[test]
fn missing_sources_and_checked_date() {
    let text = ENTRY.replace("checked = \"2026-11-01\"\n", "");
    let text = &text[..text.find("[[sources]]").unwrap()];
    let p = entry_problems(text);
    assert_eq!(
        p,
        vec![
            "stay/registration.toml:1: missing 'checked' date (YYYY-MM-DD)",
            "stay/registration.toml:1: no [[sources]]: every entry needs at least one",
        ]
    );
}

#[test]
fn dates_in_the_future_and_old_ones() {
    let p = entry_problems(&ENTRY.replace("2026-11-01", "2027-01-01"));
    assert_eq!(
        p,
        vec!["stay/registration.toml:3: checked date 2027-01-01 is in the future"]
    );
    let p = entry_problems(&ENTRY.replace("2026-11-01", "2025-01-01"));
    assert_eq!(
        p,
        vec![
            "warning stay/registration.toml:3: checked 692 days ago (over 180): re-verify the facts"
        ]
    );
}

#[test]
fn html_telegram_rejects() {
    let p = entry_problems(&ENTRY.replace(
        "ru = \"<b>30</b> дней\"",
        "ru = \"<h1>30</h1> дней & ночей\"",
    ));
    assert_eq!(
        p,
        vec![
            "stay/registration.toml:20: answer (ru): tag <h1> is not allowed by Telegram (use b, i, u, s, code, pre, blockquote, a)"
        ]
    );
}

#[test]
fn answer_longer_than_telegram_allows() {
    let long = "я".repeat(4100);
    let p = entry_problems(&ENTRY.replace("<b>30</b> дней", &long));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("stay/registration.toml:1: answer any/ru is 41"),
        "{p:?}"
    );
}

#[test]
fn the_same_question_in_two_entries() {
    let other = ENTRY
        .replace("stay.registration", "stay.term")
        .replace("как встать на учет", "Как встать на учёт?!");
    let other = other
        .replace("каттоо кантип", "x1")
        .replace("qanday roʻyxatdan oʻtaman", "x3")
        .replace("how do I register", "x4");
    let p = check(
        &[
            ("stay/registration.toml", ENTRY),
            ("stay/term.toml", &other),
        ],
        TOPICS,
        &interface(),
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with(
            "stay/term.toml:14: question \"Как встать на учёт?!\" is also in stay.registration"
        ),
        "{p:?}"
    );
}

#[test]
fn missing_interface_texts() {
    let iface = interface().replace("uz = \"u\"\n", "");
    let p = check(&[("stay/registration.toml", ENTRY)], TOPICS, &iface);
    assert!(
        p.contains(&"interface.toml:1: interface text 'language_name' missing in 'uz'".to_string()),
        "{p:?}"
    );
    let iface = interface().replacen("[language_name]", "[language_nam]", 1);
    let p = check(&[("stay/registration.toml", ENTRY)], TOPICS, &iface);
    assert!(
        p.contains(&"interface.toml:1: unknown interface text 'language_nam'".to_string()),
        "{p:?}"
    );
    assert!(
        p.contains(&"interface.toml:1: interface text 'language_name' is missing".to_string()),
        "{p:?}"
    );
}

#[test]
fn placeholders_must_match() {
    let iface = interface().replace("ru = \"r {number}\"", "ru = \"r {nomer}\"");
    let p = check(&[("stay/registration.toml", ENTRY)], TOPICS, &iface);
    assert!(
        p.iter()
            .any(|m| m.contains("must use the placeholders {number}, found {nomer}")),
        "{p:?}"
    );
}

#[test]
fn non_utf8_and_empty_directory() {
    let mut bytes = ENTRY.as_bytes().to_vec();
    bytes.extend_from_slice(b"\n# \xff\xfe\n");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("topics.toml"), TOPICS).unwrap();
    std::fs::write(dir.path().join("interface.toml"), interface()).unwrap();
    std::fs::create_dir_all(dir.path().join("stay")).unwrap();
    std::fs::write(dir.path().join("stay/registration.toml"), bytes).unwrap();
    let e = load(dir.path(), &opts()).unwrap_err();
    let bad_line = ENTRY.lines().count() + 2;
    assert!(
        e.0.iter()
            .any(|p| p.line == bad_line && p.message.contains("not valid UTF-8")),
        "{e}"
    );

    let empty = tempfile::tempdir().unwrap();
    let e = load(empty.path(), &opts()).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("topics.toml:0: cannot read"), "{text}");
    assert!(text.contains("no entry files"), "{text}");
}

/// The knowledge base with one extra file at the top of `dialogues/`.
fn with_file(name: &str, text: &str) -> Vec<String> {
    check(
        &[("stay/registration.toml", ENTRY), (name, text)],
        TOPICS,
        &interface(),
    )
}

#[test]
fn background_file_problems_have_their_lines() {
    let ok = "[[group]]\nid = \"weather\"\n[group.questions]\nky = [\"аба ырайы\"]\nru = [\"погода\"]\nuz = [\"ob-havo\"]\nen = [\"weather\"]\n";
    assert!(with_file("background.toml", ok).is_empty());
    let unknown = ok.replace("id = \"weather\"", "id = \"weather\"\ncolour = 1");
    let p = with_file("background.toml", &unknown);
    assert!(p[0].starts_with("background.toml:3:"), "{p:?}");
    let wrong_type = ok.replace("ru = [\"погода\"]", "ru = \"погода\"");
    let p = with_file("background.toml", &wrong_type);
    assert!(p[0].starts_with("background.toml:5:"), "{p:?}");
    let repeated = ok.replace("uz = [\"ob-havo\"]", "uz = [\"ob-havo\", \"Ob-havo!\"]");
    let p = with_file("background.toml", &repeated);
    assert!(
        p[0].starts_with("background.toml:6:") && p[0].contains("already at line 6"),
        "{p:?}"
    );
    // A question an entry answers is not background.
    let ours = ok.replace("ru = [\"погода\"]", "ru = [\"Как встать на учет?\"]");
    let p = with_file("background.toml", &ours);
    assert!(
        p[0].starts_with("background.toml:5:") && p[0].contains("stay.registration"),
        "{p:?}"
    );
}

#[test]
fn synonym_and_danger_problems_have_their_lines() {
    let ok = "[[concept]]\nid = \"registration\"\nforms = [\"регистрац\", \"рега\"]\n";
    assert!(with_file("synonyms.toml", ok).is_empty());
    let p = with_file(
        "synonyms.toml",
        &format!("{ok}[[concept]]\nid = \"reg\"\nforms = [\"РЕГА\"]\n"),
    );
    assert!(
        p.len() == 1
            && p[0].starts_with(
                "synonyms.toml:6: concept 'reg': form \"РЕГА\" is also a form of 'registration'"
            )
            && p[0].ends_with("synonyms.toml:3)"),
        "{p:?}"
    );
    let p = with_file(
        "synonyms.toml",
        "[[concept]]\nid = \"x\"\nforms = [\"a\"]\n",
    );
    assert!(
        p[0].starts_with("synonyms.toml:3:") && p[0].contains("too short"),
        "{p:?}"
    );
    let p = with_file(
        "synonyms.toml",
        "[[concept]]\nid = \"x\"\nforms = \"abc\"\n",
    );
    assert!(p[0].starts_with("synonyms.toml:3:"), "{p:?}");
    let danger = "[[danger]]\nentry = \"safety.nothing\"\nall = [\"registration\", \"nope\"]\n";
    let p = check(
        &[
            ("stay/registration.toml", ENTRY),
            ("synonyms.toml", ok),
            ("danger.toml", danger),
        ],
        TOPICS,
        &interface(),
    );
    assert!(
        p.iter()
            .any(|m| m.starts_with("danger.toml:3:") && m.contains("'nope'")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.starts_with("danger.toml:2:") && m.contains("'safety.nothing'")),
        "{p:?}"
    );
}

#[test]
fn glossary_rejected_forms_warn_and_a_broken_glossary_fails_with_its_line() {
    let ok = "[[term]]\nid = \"days\"\nru = { use = \"суток\", reject = [\"дней\"] }\n";
    let p = with_file("glossary.toml", ok);
    assert_eq!(
        p,
        [
            "warning stay/registration.toml:1: answer any/ru uses \"дней\"; the glossary \
          (glossary.toml:3, term 'days') uses \"суток\""
        ],
    );
    assert!(
        with_file(
            "glossary.toml",
            "[[term]]\nid = \"x\"\nru = { use = \"a\", reject = [\"b\"] }\n"
        )
        .is_empty()
    );
    let wrong_type = "[[term]]\nid = \"days\"\nru = { use = \"суток\", reject = \"дней\" }\n";
    assert!(
        with_file("glossary.toml", wrong_type)[0].starts_with("glossary.toml:3: "),
        "{:?}",
        with_file("glossary.toml", wrong_type)
    );
    let unknown = "[[term]]\nid = \"days\"\nru = { use = \"суток\", refuse = [\"дней\"] }\n";
    let p = with_file("glossary.toml", unknown);
    assert!(
        p[0].starts_with("glossary.toml:3: ") && p[0].contains("refuse"),
        "{p:?}"
    );
    let twice = "[[term]]\nid = \"days\"\nru = { use = \"суток\", reject = [\"дней\"] }\n\n\
                 [[term]]\nid = \"days\"\nru = { use = \"день\", reject = [\"дней\"] }\n";
    let p = with_file("glossary.toml", twice);
    assert!(
        p.contains(&"glossary.toml:5: term 'days' is repeated (first at line 1)".to_string()),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.starts_with("glossary.toml:7: ") && m.contains("already rejected by 'days'")),
        "{p:?}"
    );
    let empty = "[[term]]\nid = \"days\"\nnote = \"nothing\"\n";
    assert_eq!(
        with_file("glossary.toml", empty),
        ["glossary.toml:1: term 'days' has no language"]
    );
}

#[test]
fn translation_stamps_tell_when_a_translation_falls_behind_the_russian_answer() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("topics.toml"), TOPICS).unwrap();
    std::fs::write(dir.path().join("interface.toml"), interface()).unwrap();
    std::fs::create_dir_all(dir.path().join("stay")).unwrap();
    let entry = dir.path().join("stay/registration.toml");
    std::fs::write(&entry, ENTRY).unwrap();
    let warnings = |dir: &std::path::Path| -> Vec<String> {
        match load(dir, &opts()) {
            Ok((_, w)) => w.iter().map(|p| p.message.clone()).collect(),
            Err(e) => {
                e.0.iter()
                    .map(|p| format!("error {}: {}", p.line, p.message))
                    .collect()
            }
        }
    };
    let stamp = |translated: &[(Lang, Option<String>)]| {
        let (kb, _) = load(dir.path(), &opts()).unwrap();
        super::stamps::write(dir.path(), &kb, opts().today, translated).unwrap()
    };
    assert_eq!(stamp(&[]), 1, "the first stamp");
    assert!(
        warnings(dir.path()).is_empty(),
        "{:?}",
        warnings(dir.path())
    );

    // The Russian answer changes: stamped, every translation falls behind until marked.
    std::fs::write(
        &entry,
        ENTRY.replace("ru = \"<b>30</b> дней\"", "ru = \"<b>15</b> дней\""),
    )
    .unwrap();
    assert_eq!(
        warnings(dir.path()),
        [
            "ru answer any of stay.registration changed since it was stamped: run `jardam check --stamp`, then bring the translations up to date"
        ]
    );
    assert_eq!(stamp(&[]), 1);
    let w = warnings(dir.path());
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w[0].starts_with("ky answer any of stay.registration was translated from an older ru text (changed 2026-11-24)"), "{w:?}");
    stamp(&[
        (Lang::Ky, Some("stay.registration".into())),
        (Lang::Uz, None),
    ]);
    let w = warnings(dir.path());
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("en answer any"), "{w:?}");

    // A broken stamps file fails with its line.
    let path = dir.path().join("stamps.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("variant = ", "varient = ")).unwrap();
    let w = warnings(dir.path());
    assert!(
        w[0].starts_with("error ") && w[0].contains("varient"),
        "{w:?}"
    );
    let twice = format!("{text}\n{}", &text[text.find("[[stamp]]").unwrap()..]);
    std::fs::write(&path, twice).unwrap();
    let w = warnings(dir.path());
    assert!(
        w.iter()
            .any(|m| m.contains("a second stamp for stay.registration (any)")),
        "{w:?}"
    );
}

#[test]
fn template_problems_have_their_lines_and_good_ones_load() {
    let one = |name: &str, ru: &str| {
        format!(
            "[[template]]\nname = \"{name}\"\ntext.ky = \"ky\"\ntext.ru = \"{ru}\"\ntext.uz = \"uz\"\ntext.en = \"en\"\n"
        )
    };
    assert!(with_file("templates.toml", &one("need-details", "<b>ru</b>")).is_empty());
    for (bad, says) in [
        (one("", "ru"), "template name '' must be"),
        (one(&"x".repeat(33), "ru"), "must be 1–32"),
        (one("<b>x</b>", "ru"), "must be 1–32 lower-case"),
        (one("ok", "<b>ru"), "(ru): <b> is never closed"),
        (one("ok", ""), "has no ru text"),
        (
            format!("{}\n{}", one("ok", "a"), one("ok", "b")),
            "repeated (first at line 1)",
        ),
    ] {
        let p = with_file("templates.toml", &bad);
        assert!(
            p.iter()
                .any(|m| m.starts_with("templates.toml:") && m.contains(says)),
            "{says}: {p:?}"
        );
    }
    let too_long = one("ok", &"я".repeat(3501));
    let p = with_file("templates.toml", &too_long);
    assert!(p.iter().any(|m| m.contains("longer than 3500")), "{p:?}");
}
