//! Fuzzing for a set time rather than a set number of cases: random input for the text
//! normaliser and the matcher, and for the data of buttons (users' and experts'), for
//! `FUZZ_SECONDS` each (2 by default, so that `cargo test` stays quick; CI gives each 30).
//!
//! A failing input is shrunk to a small one and saved in `tests/it/fuzz.regressions`, which
//! every later run replays first: commit that file, and the crash stays a regression test.

use jardam::bot::{Conversation, Event, Knowledge};
use jardam::experts::ExpertAction;
use jardam::kb::{self, CheckOptions};
use jardam::matcher::{Matcher, Status};
use proptest::strategy::{BoxedStrategy, Strategy};
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestError, TestRunner};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn budget() -> Duration {
    let secs = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(2.0);
    Duration::from_secs_f64(secs)
}

/// Runs `test` on inputs from `strategy` in rounds of fresh random cases until the budget is
/// spent; panics with the shrunk input on the first failure (saved for later runs).
fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        cases: 200,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    };
    let deadline = Instant::now() + budget();
    let mut cases = 0u64;
    loop {
        // A new runner draws a new random seed.
        let mut runner = TestRunner::new(config.clone());
        match runner.run(&strategy, &test) {
            Ok(()) => cases += u64::from(config.cases),
            Err(TestError::Fail(reason, input)) => {
                panic!("{name}: {reason} for input {input:?} (saved for later runs)")
            }
            Err(TestError::Abort(reason)) => panic!("{name}: aborted: {reason}"),
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    eprintln!("fuzz {name}: {cases} cases, no failure");
}

fn matcher() -> &'static Matcher {
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| {
        let (kb, _) = kb::load("dialogues".as_ref(), &CheckOptions::default()).unwrap();
        Matcher::new(&kb)
    })
}

/// Text as people type it, and as nobody does: any Unicode, runs of the letters and marks the
/// normaliser treats specially (Kyrgyz and Uzbek letters, apostrophes, zero-width and
/// direction marks, combining accents), markup, and lossy bytes.
fn text() -> BoxedStrategy<String> {
    let special = proptest::sample::select(vec![
        "ө",
        "Ө",
        "ү",
        "Ү",
        "ң",
        "Ң",
        "o'",
        "g'",
        "oʻ",
        "gʼ",
        "ё",
        "й",
        "\u{301}",
        "\u{308}",
        "\u{200b}",
        "\u{200d}",
        "\u{feff}",
        "\u{202e}",
        "\u{0}",
        "\t",
        "\n",
        "  ",
        "<b>",
        "&amp;",
        "патент",
        "kattoo",
        "регистрация",
        "pasport",
        "?",
        "!!!",
        "-",
        "'",
        "1",
        "٣",
        "ﬁ",
        "ß",
        "İ",
        "😀",
    ]);
    proptest::prop_oneof![
        "\\PC{0,200}",
        proptest::collection::vec(special, 0..40).prop_map(|parts| parts.concat()),
        proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
    .boxed()
}

#[test]
fn the_normaliser_and_the_matcher_take_any_text() {
    fuzz("normaliser and matcher", text(), |text| {
        let normalized = jardam::text::normalize(&text);
        // Normalising is idempotent: the index and the query meet on the same form.
        proptest::prop_assert_eq!(jardam::text::normalize(&normalized), normalized.clone());
        let skeleton = jardam::text::skeleton(&normalized);
        proptest::prop_assert_eq!(jardam::text::skeleton(&skeleton), skeleton);
        let r = matcher().ask(&text, None, None);
        proptest::prop_assert!(r.candidates.len() <= 3);
        proptest::prop_assert!(r.candidates.iter().all(|c| c.score.is_finite()));
        match r.status {
            Status::Answered => proptest::prop_assert!(r.entry.is_some()),
            Status::Clarify => {
                proptest::prop_assert!(r.entry.is_none() && r.candidates.len() >= 2)
            }
            Status::Unmet => proptest::prop_assert!(r.entry.is_none()),
        }
        Ok(())
    });
}

/// Button data as a client may send it: anything, or shaped like ours (a knowledge-base
/// version, an action letter, arguments) so that the parsers get past their first checks.
fn button_data() -> BoxedStrategy<String> {
    let version = {
        let (kb, _) = kb::load("dialogues".as_ref(), &CheckOptions::default()).unwrap();
        format!("{:x}", kb.version)
    };
    proptest::prop_oneof![
        proptest::prelude::any::<String>(),
        (
            proptest::prop_oneof![
                proptest::strategy::Just(version),
                proptest::strategy::Just("0".to_string()),
                "[0-9a-f]{1,5}"
            ],
            "[A-Z]",
            proptest::collection::vec("[a-z0-9.:_-]{0,12}", 0..4)
        )
            .prop_map(|(v, a, args)| {
                std::iter::once(format!("{v}:{a}"))
                    .chain(args)
                    .collect::<Vec<_>>()
                    .join(":")
            }),
        (
            "[A-Z]",
            proptest::collection::vec("-?[0-9a-z.]{0,20}", 0..4)
        )
            .prop_map(|(a, args)| format!("x:{a}:{}", args.join(":"))),
    ]
    .boxed()
}

#[test]
fn any_button_data_gets_a_reply_and_expert_actions_parse_only_their_own() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let conversation = rt.block_on(async {
        let (kb, _) = kb::load("dialogues".as_ref(), &CheckOptions::default()).unwrap();
        let store = jardam::storage::connect("sqlite::memory:").await.unwrap();
        Conversation::new(Knowledge::new(kb, &[]), store)
    });
    fuzz("button data", button_data(), |data| {
        let out = rt.block_on(conversation.handle(1, Event::Button(data.clone())));
        proptest::prop_assert!(!out.replies.is_empty());
        proptest::prop_assert!(out.replies.iter().all(|r| !r.text.is_empty()));
        if ExpertAction::parse(&data).is_some() {
            proptest::prop_assert!(data.starts_with("x:"));
        }
        Ok(())
    });
}
