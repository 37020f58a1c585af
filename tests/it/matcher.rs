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
