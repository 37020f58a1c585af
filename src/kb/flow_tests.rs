//! Guided answers: one broken flow per rule (the message and its line), a valid one read back
//! and filled in, and every path of every shipped flow rendered in the four languages.

use super::flow::{Flow, NodeKind, Value};
use super::tests::{ENTRY, entry_problems};
use super::{CheckOptions, html, load};
use crate::dates::{Approx, Precision};
use crate::lang::Lang;
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::path::Path;

fn four(text: &str) -> String {
    format!(r#"{{ ky = "{text} ky", ru = "{text} ru", uz = "{text} uz", en = "{text} en" }}"#)
}

/// A valid flow: a choice setting `years`, a date step, an outcome computing from both.
fn valid_flow() -> String {
    format!(
        r#"
[flow]
start = "cause"

[[flow.step]]
id = "cause"
ask = {ask}
choices = [
  {{ label = {a}, next = "left", set = {{ years = 5 }} }},
  {{ label = {b}, next = "left", set = {{ years = 3 }} }},
  {{ label = {c}, next = "unsure" }},
]

[[flow.step]]
id = "left"
ask = {when}
date = "left"
next = "estimate"

[[flow.outcome]]
id = "estimate"
compute = [{{ name = "until", value = "left + years years - 1 day" }}]
remind = {{ date = "until", days_before = 30 }}
text = {{ ky = "{{until}} ky", ru = "до <b>{{until}}</b> ({{years}} лет с {{left}}, не раньше {{until.earliest}})", uz = "{{until}} uz", en = "until {{until}}" }}

[[flow.outcome]]
id = "unsure"
text = {unsure}
"#,
        ask = four("why"),
        a = four("deported"),
        b = four("overstayed"),
        c = four("not sure"),
        when = four("when"),
        unsure = four("check"),
    )
}

fn with_flow(flow: &str) -> Vec<String> {
    entry_problems(&format!("{ENTRY}{flow}"))
}

#[test]
fn a_valid_flow_loads_and_fills_in_its_outcomes() {
    let text = format!("{ENTRY}{}", valid_flow());
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(entry_problems(&text), Vec::<String>::new());
    std::fs::copy("dialogues/topics.toml", dir.path().join("topics.toml")).unwrap();
    std::fs::copy(
        "dialogues/interface.toml",
        dir.path().join("interface.toml"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("stay")).unwrap();
    std::fs::write(dir.path().join("stay/registration.toml"), &text).unwrap();
    let (kb, _) = load(dir.path(), &CheckOptions::default()).unwrap();
    let flow = kb.entries[0].flow.as_ref().unwrap();
    assert_eq!(flow.nodes[flow.start].id, "cause");
    let NodeKind::Choice { choices, .. } = &flow.nodes[flow.start].kind else {
        panic!("{flow:?}")
    };
    assert_eq!(choices.len(), 3);
    assert_eq!(choices[0].set, vec![("years".to_string(), 5)]);
    let estimate = flow.index("estimate").unwrap();
    let day = NaiveDate::from_ymd_opt(2023, 3, 15).unwrap();
    let values = BTreeMap::from([
        ("years".to_string(), Value::Number(5)),
        (
            "left".to_string(),
            Value::Date(Approx {
                first: day,
                last: day,
                precision: Precision::Day,
            }),
        ),
    ]);
    assert_eq!(
        flow.outcome_text(estimate, Lang::Ru, &values).unwrap(),
        "до <b>14.03.2028</b> (5 лет с 15.03.2023, не раньше 14.03.2028)"
    );
    // A month: the latest day it allows, shown as the month; `.earliest` the first.
    let march = Approx {
        first: NaiveDate::from_ymd_opt(2023, 3, 1).unwrap(),
        last: NaiveDate::from_ymd_opt(2023, 3, 31).unwrap(),
        precision: Precision::Month,
    };
    let mut by_month = values.clone();
    by_month.insert("left".to_string(), Value::Date(march));
    assert_eq!(
        flow.outcome_text(estimate, Lang::Ru, &by_month).unwrap(),
        "до <b>03.2028</b> (5 лет с 03.2023, не раньше 02.2028)"
    );
    // A missing answer is no text, never a wrong one.
    let mut missing = values.clone();
    missing.remove("years");
    assert_eq!(flow.outcome_text(estimate, Lang::Ru, &missing), None);
    // The reminder: for the earliest date the answers allow.
    let first = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    assert_eq!(
        flow.reminder(estimate, &values),
        Some((first(2028, 3, 14), 30))
    );
    assert_eq!(
        flow.reminder(estimate, &by_month),
        Some((first(2028, 2, 29), 30))
    );
    assert_eq!(flow.reminder(estimate, &missing), None);
    assert_eq!(flow.reminder(flow.index("unsure").unwrap(), &values), None);
    assert_eq!(flow.reminder_days_before(estimate), Some(30));
}

#[test]
fn a_reminder_of_no_date_or_too_far_ahead() {
    let problems = broken(r#"date = "until""#, r#"date = "years""#);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].ends_with(
            "outcome 'estimate' reminds of 'years', which is no date that every path to it asks or computes"
        ),
        "{problems:?}"
    );
    for days in ["0", "400"] {
        let problems = broken("days_before = 30", &format!("days_before = {days}"));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].ends_with(&format!(
                "outcome 'estimate': remind.days_before must be 1–365, not {days}"
            )),
            "{problems:?}"
        );
    }
    let problems = broken("days_before = 30", "days = 30");
    assert!(problems[0].contains("unknown field"), "{problems:?}");
}

/// The valid flow with `from` replaced by `to` (once).
fn broken(from: &str, to: &str) -> Vec<String> {
    let flow = valid_flow();
    assert!(flow.contains(from), "{from}");
    with_flow(&flow.replacen(from, to, 1))
}

/// The line of the valid flow (after the entry) holding `text`.
fn line_of(text: &str) -> usize {
    let full = format!("{ENTRY}{}", valid_flow());
    full.lines().position(|l| l.contains(text)).unwrap() + 1
}

#[test]
fn a_next_that_names_nothing() {
    assert_eq!(
        broken(r#"next = "estimate""#, r#"next = "estimat""#),
        [format!(
            "stay/registration.toml:{}: flow of stay.registration: 'estimat' is not a step or outcome",
            line_of(r#"next = "estimate""#)
        )]
    );
}

#[test]
fn a_loop() {
    let problems = broken(r#"next = "estimate""#, r#"next = "cause""#);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].ends_with("'left' leads back to 'cause', a loop"),
        "{problems:?}"
    );
}

#[test]
fn a_node_no_path_reaches() {
    let flow = format!(
        "{}\n[[flow.outcome]]\nid = \"orphan\"\ntext = {}\n",
        valid_flow(),
        four("nobody reads this")
    );
    let problems = with_flow(&flow);
    let line = format!("{ENTRY}{flow}")
        .lines()
        .position(|l| l.contains(r#"id = "orphan""#))
        .unwrap();
    assert_eq!(
        problems,
        [format!(
            "stay/registration.toml:{line}: flow of stay.registration: 'orphan' cannot be reached from the start"
        )]
    );
}

#[test]
fn a_text_missing_in_one_language() {
    let problems = broken(r#", en = "when en""#, "");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].ends_with("step 'left' has no en text"),
        "{problems:?}"
    );
}

#[test]
fn a_step_of_two_kinds_and_a_choice_step_with_one_choice() {
    let problems = broken(r#"date = "left""#, "date = \"left\"\nnumber = \"n\"");
    assert!(
        problems[0].ends_with("step 'left' needs exactly one of 'choices', 'date', 'number'"),
        "{problems:?}"
    );
    let one = valid_flow();
    let start = one.find("  { label = ").unwrap();
    let end = one.find("]\n\n[[flow.step]]\nid = \"left\"").unwrap();
    let only = format!(
        "{}  {{ label = {}, next = \"unsure\" }},\n{}",
        &one[..start],
        four("x"),
        &one[end..]
    );
    let problems = with_flow(&only);
    assert!(
        problems
            .iter()
            .any(|p| p.ends_with("step 'cause' needs at least two choices")),
        "{problems:?}"
    );
}

#[test]
fn an_outcome_using_what_not_every_path_asks() {
    // The second choice no longer sets `years`: the estimate cannot always compute.
    let problems = broken(", set = { years = 3 }", "");
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].ends_with(
            "outcome 'estimate' computes until from the number 'years', which not every path to it asks"
        ),
        "{problems:?}"
    );
    assert!(
        problems[1].ends_with(
            "outcome 'estimate' (ru) uses {years}, which not every path to it asks or computes"
        ),
        "{problems:?}"
    );
    let problems = broken("{until} ky", "{until} {days} ky");
    assert!(
        problems[0].ends_with(
            "outcome 'estimate' (ky) uses {days}, which not every path to it asks or computes"
        ),
        "{problems:?}"
    );
}

#[test]
fn a_computed_value_that_does_not_parse() {
    for (value, message) in [
        ("left + 5 weeks", "'weeks' is not days, months or years"),
        ("left * 2 days", "expected + or - before '*'"),
        ("left + 5", "a unit (days, months, years) is missing"),
        ("", "an empty value"),
    ] {
        let problems = broken("left + years years - 1 day", value);
        assert_eq!(problems.len(), 1, "{value}: {problems:?}");
        assert!(
            problems[0].ends_with(&format!("\"{value}\": {message}")),
            "{value}: {problems:?}"
        );
        assert!(
            problems[0].starts_with(&format!(
                "stay/registration.toml:{}:",
                line_of("compute = [")
            )),
            "{problems:?}"
        );
    }
}

#[test]
fn an_outcome_as_the_start_and_markup_telegram_rejects() {
    let problems = broken(r#"start = "cause""#, r#"start = "unsure""#);
    assert!(
        problems
            .iter()
            .any(|p| p.ends_with("the start is an outcome; a flow asks something first")),
        "{problems:?}"
    );
    let problems = broken("{until} uz", "<div>{until}</div> uz");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("outcome 'estimate' (uz)"),
        "{problems:?}"
    );
}

/// Every path from the start of `flow` to an outcome, with the answers given on the way: a
/// date step answered with `day`, a number step with its smallest value.
fn paths(flow: &Flow, day: Approx) -> Vec<(usize, BTreeMap<String, Value>)> {
    let mut out = Vec::new();
    let mut stack = vec![(flow.start, BTreeMap::new())];
    while let Some((node, values)) = stack.pop() {
        match &flow.nodes[node].kind {
            NodeKind::Outcome { .. } => out.push((node, values)),
            NodeKind::Choice { choices, .. } => {
                for c in choices {
                    let mut v = values.clone();
                    for (f, n) in &c.set {
                        v.insert(f.clone(), Value::Number(*n));
                    }
                    stack.push((c.next, v));
                }
            }
            NodeKind::Date { field, next, .. } => {
                let mut v = values.clone();
                v.insert(field.clone(), Value::Date(day));
                stack.push((*next, v));
            }
            NodeKind::Number {
                field, min, next, ..
            } => {
                let mut v = values.clone();
                v.insert(field.clone(), Value::Number(*min));
                stack.push((*next, v));
            }
        }
    }
    out
}

#[test]
fn every_path_of_every_shipped_flow_ends_in_a_readable_answer() {
    let (kb, _) = load(Path::new("dialogues"), &CheckOptions::default()).unwrap();
    let flows: Vec<_> = kb
        .entries
        .iter()
        .filter_map(|e| Some((e.id.as_str(), e.flow.as_ref()?)))
        .collect();
    assert!(
        flows.iter().any(|(id, _)| *id == "stay.ban-duration"),
        "the ban flow ships"
    );
    let day = NaiveDate::from_ymd_opt(2023, 3, 15).unwrap();
    let answers = [
        Approx {
            first: day,
            last: day,
            precision: Precision::Day,
        },
        Approx {
            first: NaiveDate::from_ymd_opt(2024, 2, 1).unwrap(),
            last: NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
            precision: Precision::Month,
        },
    ];
    for (id, flow) in flows {
        for answer in answers {
            let all = paths(flow, answer);
            assert!(!all.is_empty(), "{id}");
            for (outcome, values) in all {
                for lang in Lang::ALL {
                    let text = flow
                        .outcome_text(outcome, lang, &values)
                        .unwrap_or_else(|| panic!("{id} {}: {lang}", flow.nodes[outcome].id));
                    assert!(!text.contains('{'), "{id}: {text}");
                    html::validate(&text).unwrap_or_else(|e| panic!("{id}: {e}: {text}"));
                    assert!(
                        html::visible_len(&text) < html::MESSAGE_LIMIT,
                        "{id}: {text}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_stay_under_a_yearly_limit_that_runs_into_january_counts_the_new_year_afresh() {
    use super::flow::Expr;
    let expr = Expr {
        new_year_limit: Some(90),
        ..Expr::parse("entered + 89 days - used days").unwrap()
    };
    let at = |entered: NaiveDate, used: u32| {
        let values = BTreeMap::from([
            ("entered".to_string(), Value::Date(Approx::day(entered))),
            ("used".to_string(), Value::Number(used)),
        ]);
        expr.eval(&values).unwrap().first
    };
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    // Within the year: the 90th day, less those used.
    assert_eq!(at(day(2026, 3, 1), 20), day(2026, 5, 9));
    // 1 November with 20 used: 81 days by 31 December, then 90 from 1 January (worked by hand:
    // 31 + 28 + 31 = 90, so 31 March in a common year, 30 March in a leap year).
    assert_eq!(at(day(2026, 11, 1), 20), day(2027, 3, 31));
    assert_eq!(at(day(2027, 11, 1), 20), day(2028, 3, 30));
    // The same as the day-by-day count of the calendar-year rule.
    let stays = [crate::dates::Stay {
        entry: day(2026, 2, 1),
        exit: day(2026, 2, 20),
    }];
    assert_eq!(
        crate::dates::last_day_per_calendar_year(day(2026, 11, 1), &stays, 90),
        Some(day(2027, 3, 31))
    );
    // A bad limit is refused by the check.
    let flow = valid_flow().replacen(
        "value = \"left + years years - 1 day\" }",
        "value = \"left + years years - 1 day\", new_year_limit = 0 }",
        1,
    );
    let problems = with_flow(&flow);
    assert!(
        problems
            .iter()
            .any(|p| p.ends_with("new_year_limit must be 1–366 days")),
        "{problems:?}"
    );
}
