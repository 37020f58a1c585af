//! Bad input never panics and always gives a well-formed result.

use jardam::kb::{self, CheckOptions};
use jardam::matcher::{Matcher, Status};
use proptest::prelude::*;
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn arbitrary_unicode_never_panics(text in "\\PC{0,200}") {
        well_formed(&text);
    }

    #[test]
    fn arbitrary_bytes_as_lossy_text_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        well_formed(&String::from_utf8_lossy(&bytes));
    }
}

/// Callback data is whatever a client sends: forged, truncated or stale data gets a defined
/// answer (a fresh menu for a user's button, `None` for an expert's), never a panic.
mod callback_data {
    use jardam::conversation::{Conversation, Event, Knowledge};
    use jardam::experts::ExpertAction;
    use jardam::kb::{self, CheckOptions};
    use proptest::prelude::*;

    fn data() -> impl Strategy<Value = String> {
        let version = {
            let (kb, _) = kb::load("dialogues".as_ref(), &CheckOptions::default()).unwrap();
            format!("{:x}", kb.version)
        };
        prop_oneof![
            any::<String>(),
            // Shaped like real data, so the parsers get past the first checks.
            (
                prop_oneof![Just(version), Just("0".to_string()), "[0-9a-f]{1,5}"],
                "[LCDMTEWFRXNU]",
                proptest::collection::vec("[a-z0-9.:-]{0,12}", 0..4)
            )
                .prop_map(|(v, a, args)| {
                    std::iter::once(format!("{v}:{a}"))
                        .chain(args)
                        .collect::<Vec<_>>()
                        .join(":")
                }),
            (
                "[QDAS]",
                proptest::collection::vec("-?[0-9a-z.]{0,20}", 0..4)
            )
                .prop_map(|(a, args)| format!("x:{a}:{}", args.join(":"))),
        ]
    }

    /// One conversation for all cases (building the matcher is the slow part), on one runtime.
    fn conversation() -> &'static (tokio::runtime::Runtime, Conversation) {
        static C: std::sync::OnceLock<(tokio::runtime::Runtime, Conversation)> =
            std::sync::OnceLock::new();
        C.get_or_init(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let c = rt.block_on(async {
                let (kb, _) = kb::load("dialogues".as_ref(), &CheckOptions::default()).unwrap();
                let store = jardam::storage::connect("sqlite::memory:").await.unwrap();
                Conversation::new(Knowledge::new(kb, &[]), store)
            });
            (rt, c)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn any_button_data_gets_a_reply(d in data()) {
            let (rt, c) = conversation();
            let out = rt.block_on(c.handle(1, Event::Button(d.clone())));
            prop_assert!(!out.replies.is_empty(), "{:?}", d);
            prop_assert!(out.replies.iter().all(|r| !r.text.is_empty()), "{:?}", d);
            if let Some(action) = ExpertAction::parse(&d) {
                prop_assert!(d.starts_with("x:"), "{:?}", action);
            }
        }
    }
}
