//! The matcher on the labelled evaluation set: fails when accuracy falls below the floors.
//! The floors are the figures reached when they were set, so any regression fails the build.

use jardam::eval::{self, Baseline};
use jardam::kb::{self, CheckOptions};
use jardam::matcher::Matcher;

#[test]
fn matcher_meets_the_accuracy_floors_and_beats_the_baseline() {
    let (kb, _) = kb::load("dialogues".as_ref(), &CheckOptions::default()).unwrap();
    let text = std::fs::read_to_string("tests/eval/eval.tsv").unwrap();
    let cases = eval::parse_tsv(&text).unwrap();
    let matcher = Matcher::new(&kb);
    let report = eval::run_matcher(&matcher, &cases);
    let f = report.figures();
    println!("{}", report.render(false));
    assert!(f.in_scope >= 38 * 10 && f.out_of_scope >= 60, "{f:?}");
    assert!(f.direct >= 88.0, "direct {f:?}");
    assert!(f.reachable >= 95.5, "direct or clarify {f:?}");
    assert!(f.wrong <= 2.5, "wrong {f:?}");
    assert!(f.oos_unmet >= 91.0, "out of scope unmet {f:?}");
    assert!(f.oos_answered <= 4.5, "out of scope answered {f:?}");

    let baseline = Baseline::new(&kb);
    let base = eval::run(&cases, |c| baseline.decide(&c.question));
    let ours = report.per_lang_direct();
    for (lang, theirs) in base.per_lang_direct() {
        assert!(
            ours[&lang] >= theirs + 20.0,
            "{lang}: {} vs baseline {theirs}",
            ours[&lang]
        );
    }
}

#[test]
fn eval_rejects_malformed_lines() {
    let err = eval::parse_tsv("expected\tlang\tstyle\tquestion\nstay.term\tru\tstd\n").unwrap_err();
    assert!(err.contains("line 2"), "{err}");
}
