//! Bad input never panics and always gives a well-formed result (random input: `fuzz.rs`).

use jardam::kb::{self, CheckOptions};
use jardam::matcher::{Matcher, Status};
use std::sync::OnceLock;

fn matcher() -> &'static Matcher {
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| {
        let (kb, _) = kb::load("dialogues".as_ref(), &CheckOptions::default()).unwrap();
        Matcher::new(&kb)
    })
}

fn well_formed(text: &str) {
    let r = matcher().ask(text, None, None);
    assert!(r.candidates.len() <= 3);
    assert!(r.candidates.iter().all(|c| c.score.is_finite()));
    match r.status {
        Status::Answered => assert!(r.entry.is_some()),
        Status::Clarify => assert!(r.entry.is_none() && r.candidates.len() >= 2),
        Status::Unmet => assert!(r.entry.is_none() && r.variant.is_none()),
    }
}

#[test]
fn bad_inputs_are_unmet() {
    let long = "паспорт ".repeat(512);
    for text in [
        "",
        "   \n\t ",
        "a",
        "ж",
        "😀😀😀",
        "1234567890",
        "\u{200b}\u{200d}\u{feff}",
        "\u{202e}مرحبا بالعالم",
        "'); DROP TABLE questions;--",
        "<b>&amp;</b><script>",
        "\u{0}\u{1}\u{7f}",
    ] {
        well_formed(text);
        assert_eq!(
            matcher().ask(text, None, None).status,
            Status::Unmet,
            "{text:?}"
        );
    }
    well_formed(&long);
}

fn answered(text: &str) -> jardam::matcher::MatchResult {
    let r = matcher().ask(text, None, None);
    assert_eq!(r.status, Status::Answered, "{text}: {r:?}");
    r
}

#[test]
fn a_long_message_is_answered_by_its_question_sentence() {
    // The story names the Amina app, the question asks how to register: registration, or a
    // choice between it and the Amina entry, never anything else.
    let r = matcher().ask(
        "Ассаламу алейкум братья, я в Москве уже 3 недели. Работаю на складе, живу у земляка. \
         Говорят регу сам делай через амину. Кто знает как правильно встать на учет?",
        None,
        None,
    );
    let ok = ["stay.registration", "stay.amina"];
    match r.status {
        Status::Answered => assert!(ok.contains(&r.entry.as_deref().unwrap()), "{r:?}"),
        Status::Clarify => assert!(
            r.candidates.iter().any(|c| c.entry == "stay.registration")
                && r.candidates.iter().all(|c| ok.contains(&c.entry.as_str())),
            "{r:?}"
        ),
        Status::Unmet => panic!("{r:?}"),
    }
    let sentence = r.sentence.unwrap();
    assert!(
        sentence.contains("учет") || sentence.contains("регу"),
        "{sentence}"
    );
    let r = answered(
        "Ассаламу алейкум братья, я в Москве уже 3 недели. Работаю на складе, живу у земляка. \
         Кто знает как правильно встать на учет?",
    );
    assert_eq!(r.entry.as_deref(), Some("stay.registration"));
    assert!(r.confidence > 0.5, "{r:?}");
}

#[test]
fn danger_signals_answer_the_safety_entry_and_are_urgent() {
    for (text, entry) in [
        (
            "hello, we came to work on a farm, the manager took our passports and now won't give them back. We can't leave",
            "safety.trafficking",
        ),
        (
            "Салам, хозяин паспортубузду алып койду, кайтарбай жатат, эмне кылабыз",
            "safety.trafficking",
        ),
        (
            "бригадир вчера избил меня на стройке, что делать",
            "safety.violence",
        ),
    ] {
        let r = answered(text);
        assert!(r.urgent, "{text}: {r:?}");
        assert_eq!(r.entry.as_deref(), Some(entry), "{text}");
    }
    // An ordinary question about a passport is not a danger.
    let r = matcher().ask(
        "паспорттун мөөнөтү бүтүп калды, кантип жаңыртам",
        None,
        None,
    );
    assert!(!r.urgent, "{r:?}");
}

#[test]
fn out_of_scope_questions_are_unmet() {
    for text in [
        "Какая столица Австралии?",
        "погода в оше на выходные",
        "Можно ли в России поменять кыргызские водительские права на российские?",
        "курс доллара на сегодня",
        "салам",
    ] {
        let r = matcher().ask(text, None, None);
        assert_eq!(r.status, Status::Unmet, "{text}: {r:?}");
    }
}

#[test]
fn confidence_is_a_probability_and_the_output_keeps_its_fields() {
    let r = answered("patent kerekpi Rossiyada");
    assert!((0.0..=1.0).contains(&r.confidence));
    let v = serde_json::to_value(&r).unwrap();
    for field in [
        "status",
        "entry",
        "candidates",
        "lang",
        "country",
        "variant",
        "confidence",
        "sentence",
        "also",
        "urgent",
    ] {
        assert!(v.get(field).is_some(), "{field} missing in {v}");
    }
}
