//! The checks of a flow as a curator wrote it (`[flow]` in an entry file): the shapes of its
//! steps and outcomes, then its graph and the fields each outcome may use. Every problem is
//! reported at its `file:line`; a flow with any is not loaded.

use super::flow::{Choice, Expr, Flow, Node, NodeKind, Remind, placeholders};
use super::html;
use super::load::{FileText, Problems, RawLangMap, lang_map, valid_name};
use crate::lang::Lang;
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use toml::Spanned;

/// The furthest ahead of its date a reminder may come.
const MAX_DAYS_BEFORE: u32 = 365;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFlow {
    start: Spanned<String>,
    #[serde(default)]
    lead_in: bool,
    #[serde(default)]
    step: Vec<Spanned<RawStep>>,
    #[serde(default)]
    outcome: Vec<Spanned<RawOutcome>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: String,
    ask: RawLangMap<String>,
    /// A question with buttons.
    choices: Option<Vec<Spanned<RawChoice>>>,
    /// A date in the past, kept as this field.
    date: Option<String>,
    /// A date step that needs the day, not only the month or year (for deadlines).
    #[serde(default)]
    exact: bool,
    /// A whole number, kept as this field, between `min` and `max`.
    number: Option<String>,
    min: Option<u32>,
    max: Option<u32>,
    next: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChoice {
    label: RawLangMap<String>,
    next: String,
    /// Number fields this choice sets ("years = 5").
    #[serde(default)]
    set: std::collections::BTreeMap<String, u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutcome {
    id: String,
    #[serde(default)]
    compute: Vec<Spanned<RawCompute>>,
    text: RawLangMap<String>,
    remind: Option<RawRemind>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemind {
    /// A date field the outcome shows.
    date: String,
    days_before: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompute {
    name: String,
    value: String,
    /// Days allowed per calendar year: a result in the next year starts that year's count.
    new_year_limit: Option<u32>,
}
/// Checks a raw flow; `None` when it has errors (all of them reported).
pub(super) fn check(
    src: &FileText,
    entry: &str,
    raw: Spanned<RawFlow>,
    problems: &mut Problems,
) -> Option<Flow> {
    let path = src.path;
    let errors_before = problems.0.len();
    let flow_line = src.line(&raw.span());
    let raw = raw.into_inner();
    // Ids first, so that `next` can point forward.
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut lines = Vec::new();
    let ids = raw
        .step
        .iter()
        .map(|s| (s.get_ref().id.trim(), src.line(&s.span())))
        .chain(
            raw.outcome
                .iter()
                .map(|o| (o.get_ref().id.trim(), src.line(&o.span()))),
        );
    for (id, line) in ids {
        if !valid_name(id) {
            problems.error(
                path,
                line,
                format!(
                    "flow of {entry}: '{id}' is not a valid id (lower-case letters, digits, '-')"
                ),
            );
        } else if index.contains_key(id) {
            problems.error(
                path,
                line,
                format!("flow of {entry}: '{id}' is defined twice"),
            );
        }
        index.entry(id.to_string()).or_insert(lines.len());
        lines.push(line);
    }
    let resolve = |name: &str, line: usize, problems: &mut Problems| -> usize {
        match index.get(name.trim()) {
            Some(&i) => i,
            None => {
                problems.error(
                    path,
                    line,
                    format!(
                        "flow of {entry}: '{}' is not a step or outcome",
                        name.trim()
                    ),
                );
                usize::MAX
            }
        }
    };
    let texts = |what: &str, raw: RawLangMap<String>, line: usize, problems: &mut Problems| {
        let mut missing = Vec::new();
        let t = lang_map(raw, |s: &String| !s.trim().is_empty(), |l| missing.push(l));
        for l in missing {
            problems.error(
                path,
                line,
                format!("flow of {entry}: {what} has no {l} text"),
            );
        }
        t
    };
    let start = resolve(raw.start.get_ref(), src.line(&raw.start.span()), problems);
    let mut nodes = Vec::new();
    for step in raw.step {
        let line = src.line(&step.span());
        let s = step.into_inner();
        let what = format!("step '{}'", s.id.trim());
        let ask = texts(&what, s.ask, line, problems);
        let kinds = [s.choices.is_some(), s.date.is_some(), s.number.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            problems.error(
                path,
                line,
                format!("flow of {entry}: {what} needs exactly one of 'choices', 'date', 'number'"),
            );
            continue;
        }
        let field = |name: &str, problems: &mut Problems| {
            if !valid_name(name) {
                problems.error(
                    path,
                    line,
                    format!("flow of {entry}: {what}: '{name}' is not a valid field name"),
                );
            }
            name.to_string()
        };
        let next = |problems: &mut Problems| match &s.next {
            Some(n) => resolve(n.get_ref(), src.line(&n.span()), problems),
            None => {
                problems.error(path, line, format!("flow of {entry}: {what} has no 'next'"));
                usize::MAX
            }
        };
        if s.exact && s.date.is_none() {
            problems.error(
                path,
                line,
                format!("flow of {entry}: {what}: 'exact' is for date steps"),
            );
        }
        let kind = if let Some(choices) = s.choices {
            if s.next.is_some() || s.min.is_some() || s.max.is_some() {
                problems.error(path, line, format!("flow of {entry}: {what}: a step with choices takes its 'next' from each choice, and no 'min' or 'max'"));
            }
            if choices.len() < 2 {
                problems.error(
                    path,
                    line,
                    format!("flow of {entry}: {what} needs at least two choices"),
                );
            }
            let choices = choices
                .into_iter()
                .map(|c| {
                    let line = src.line(&c.span());
                    let c = c.into_inner();
                    for name in c.set.keys() {
                        if !valid_name(name) {
                            problems.error(
                                path,
                                line,
                                format!(
                                    "flow of {entry}: {what}: '{name}' is not a valid field name"
                                ),
                            );
                        }
                    }
                    Choice {
                        label: texts(&format!("a choice of {what}"), c.label, line, problems),
                        next: resolve(&c.next, line, problems),
                        set: c.set.into_iter().collect(),
                    }
                })
                .collect();
            NodeKind::Choice { ask, choices }
        } else if let Some(name) = s.date {
            if s.min.is_some() || s.max.is_some() {
                problems.error(
                    path,
                    line,
                    format!("flow of {entry}: {what}: 'min' and 'max' are for number steps"),
                );
            }
            NodeKind::Date {
                ask,
                field: field(&name, problems),
                exact: s.exact,
                next: next(problems),
            }
        } else {
            let name = s.number.unwrap_or_default();
            let (min, max) = (s.min.unwrap_or(0), s.max.unwrap_or(10_000));
            if min > max {
                problems.error(
                    path,
                    line,
                    format!("flow of {entry}: {what}: min {min} is above max {max}"),
                );
            }
            NodeKind::Number {
                ask,
                field: field(&name, problems),
                min,
                max,
                next: next(problems),
            }
        };
        nodes.push(Node {
            id: s.id.trim().to_string(),
            kind,
        });
    }
    for outcome in raw.outcome {
        let line = src.line(&outcome.span());
        let o = outcome.into_inner();
        let what = format!("outcome '{}'", o.id.trim());
        let mut compute = Vec::new();
        for c in o.compute {
            let cline = src.line(&c.span());
            let c = c.into_inner();
            if !valid_name(c.name.trim()) {
                problems.error(
                    path,
                    cline,
                    format!(
                        "flow of {entry}: {what}: '{}' is not a valid field name",
                        c.name
                    ),
                );
            }
            if c.new_year_limit.is_some_and(|l| !(1..=366).contains(&l)) {
                problems.error(
                    path,
                    cline,
                    format!("flow of {entry}: {what}: new_year_limit must be 1–366 days"),
                );
            }
            match Expr::parse(&c.value) {
                Ok(e) => compute.push((
                    c.name.trim().to_string(),
                    Expr {
                        new_year_limit: c.new_year_limit,
                        ..e
                    },
                )),
                Err(msg) => problems.error(
                    path,
                    cline,
                    format!("flow of {entry}: {what}: \"{}\": {msg}", c.value),
                ),
            }
        }
        let text = texts(&what, o.text, line, problems);
        let remind = o.remind.map(|r| Remind {
            field: r.date.trim().to_string(),
            days_before: r.days_before,
        });
        if let Some(r) = &remind
            && !(1..=MAX_DAYS_BEFORE).contains(&r.days_before)
        {
            problems.error(
                path,
                line,
                format!(
                    "flow of {entry}: {what}: remind.days_before must be 1–{MAX_DAYS_BEFORE}, \
                     not {}",
                    r.days_before
                ),
            );
        }
        nodes.push(Node {
            id: o.id.trim().to_string(),
            kind: NodeKind::Outcome {
                compute,
                text,
                remind,
            },
        });
    }
    if problems.0.len() > errors_before {
        return None;
    }
    let flow = Flow {
        start,
        nodes,
        lead_in: raw.lead_in,
    };
    check_graph(&flow, &lines, entry, flow_line, src, problems);
    (problems.0.len() == errors_before).then_some(flow)
}

/// No cycle, every node reachable, and every outcome's fields known on every path to it.
fn check_graph(
    flow: &Flow,
    lines: &[usize],
    entry: &str,
    flow_line: usize,
    src: &FileText,
    problems: &mut Problems,
) {
    let path = src.path;
    let n = flow.nodes.len();
    // Depth-first from the start: 0 unseen, 1 on the current path, 2 done.
    let mut state = vec![0u8; n];
    let mut order = Vec::new();
    let mut stack = vec![(flow.start, 0usize)];
    state[flow.start] = 1;
    while let Some((node, i)) = stack.pop() {
        let next = flow.next_of(node);
        if let Some(&m) = next.get(i) {
            stack.push((node, i + 1));
            match state[m] {
                0 => {
                    state[m] = 1;
                    stack.push((m, 0));
                }
                1 => {
                    problems.error(
                        path,
                        lines[node],
                        format!(
                            "flow of {entry}: '{}' leads back to '{}', a loop",
                            flow.nodes[node].id, flow.nodes[m].id
                        ),
                    );
                    return;
                }
                _ => {}
            }
        } else {
            state[node] = 2;
            order.push(node);
        }
    }
    for (i, node) in flow.nodes.iter().enumerate() {
        if state[i] == 0 {
            problems.error(
                path,
                lines[i],
                format!(
                    "flow of {entry}: '{}' cannot be reached from the start",
                    node.id
                ),
            );
        }
    }
    if matches!(flow.nodes[flow.start].kind, NodeKind::Outcome { .. }) {
        problems.error(
            path,
            flow_line,
            format!("flow of {entry}: the start is an outcome; a flow asks something first"),
        );
    }
    // Fields known at each node on every path (start to it, not counting its own).
    order.reverse();
    let mut known: Vec<Option<BTreeSet<(String, bool)>>> = vec![None; n];
    known[flow.start] = Some(BTreeSet::new());
    for &node in &order {
        let Some(before) = known[node].clone() else {
            continue;
        };
        for (m, gives) in flow.edges(node) {
            let mut here = before.clone();
            here.extend(gives.into_iter().map(|(f, date)| (f.to_string(), date)));
            known[m] = Some(match known[m].take() {
                None => here.clone(),
                Some(k) => k.intersection(&here).cloned().collect(),
            });
        }
    }
    for &node in &order {
        let NodeKind::Outcome {
            compute,
            text,
            remind,
        } = &flow.nodes[node].kind
        else {
            continue;
        };
        let mut fields = known[node].clone().unwrap_or_default();
        for (name, e) in compute {
            for (f, date) in e.reads() {
                if !fields.contains(&(f.to_string(), date)) {
                    let kind = if date { "date" } else { "number" };
                    problems.error(path, lines[node], format!("flow of {entry}: outcome '{}' computes {name} from the {kind} '{f}', which not every path to it asks", flow.nodes[node].id));
                }
            }
            fields.insert((name.clone(), true));
        }
        if let Some(r) = remind
            && !fields.contains(&(r.field.clone(), true))
        {
            problems.error(path, lines[node], format!("flow of {entry}: outcome '{}' reminds of '{}', which is no date that every path to it asks or computes", flow.nodes[node].id, r.field));
        }
        for lang in Lang::ALL {
            let t = text.get(lang);
            for p in placeholders(t) {
                let name = p.strip_suffix(".earliest").unwrap_or(p);
                if !fields.iter().any(|(f, _)| f == name) {
                    problems.error(path, lines[node], format!("flow of {entry}: outcome '{}' ({lang}) uses {{{p}}}, which not every path to it asks or computes", flow.nodes[node].id));
                }
            }
            let sample = placeholders(t).iter().fold(t.clone(), |s, p| {
                s.replace(&format!("{{{p}}}"), "01.01.2030")
            });
            if let Err(msg) = html::validate(&sample) {
                problems.error(
                    path,
                    lines[node],
                    format!(
                        "flow of {entry}: outcome '{}' ({lang}): {msg}",
                        flow.nodes[node].id
                    ),
                );
            }
        }
    }
}
