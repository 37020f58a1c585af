//! Evaluation of the matcher on a labelled set (`jardam eval`), and the plain word-level TF-IDF
//! baseline it is compared with.

use crate::kb::KnowledgeBase;
use crate::lang::Lang;
use crate::matcher::{Corpus, Matcher, Params, Status};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Limits that make `jardam eval` fail (percentages).
pub struct Limits {
    pub min_direct: f64,
    pub min_reachable: f64,
    pub max_wrong: f64,
    pub min_unmet: f64,
    pub max_oos_answered: f64,
}

/// `jardam eval`: trains the matcher with `params`, reports each file (and the baseline, and
/// cross-validation over the phrasings), and fails when a file's figures miss the limits.
pub fn command(
    kb: &KnowledgeBase,
    files: &[PathBuf],
    params: Params,
    cv: Option<usize>,
    baseline: bool,
    failures: bool,
    limits: &Limits,
) -> Result<(), String> {
    let started = std::time::Instant::now();
    let matcher = Matcher::with_params(kb, &[], params);
    println!(
        "matcher: {} classes, {} weights, trained in {:.2} s",
        matcher.class_count(),
        matcher.weight_count(),
        started.elapsed().as_secs_f64()
    );
    let base = baseline.then(|| Baseline::new(kb));
    let mut failed = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let cases = parse_tsv(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        let report = run_matcher(&matcher, &cases);
        println!("== {}: matcher", file.display());
        print!("{}", report.render(failures));
        if let Some(b) = &base {
            let r = run(&cases, |c| b.decide(&c.question));
            println!("== {}: baseline, word-level TF-IDF cosine", file.display());
            print!("{}", r.render(false));
        }
        let f = report.figures();
        // (name, measured, limit, true when the limit is a minimum)
        let checks = [
            ("direct", f.direct, limits.min_direct, true),
            ("direct-or-clarify", f.reachable, limits.min_reachable, true),
            ("wrong", f.wrong, limits.max_wrong, false),
            ("out-of-scope unmet", f.oos_unmet, limits.min_unmet, true),
            (
                "out-of-scope answered",
                f.oos_answered,
                limits.max_oos_answered,
                false,
            ),
        ];
        for (name, value, limit, min) in checks {
            if if min { value < limit } else { value > limit } {
                let op = if min { "<" } else { ">" };
                failed.push(format!(
                    "{}: {name} {value:.1}% {op} {limit}%",
                    file.display()
                ));
            }
        }
    }
    if let Some(k) = cv {
        println!("== {k}-fold cross-validation over the knowledge base's own texts");
        print!("{}", cross_validate(kb, params, k).render(false));
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("below target: {}", failed.join("; ")))
    }
}

/// Trains on all but one fold of the knowledge base's texts (phrasings, keywords, titles, gaps,
/// background) and asks the held-out fold, `k` times.
pub fn cross_validate(kb: &KnowledgeBase, params: Params, k: usize) -> Report {
    let k = k.max(2);
    let full = Corpus::of(kb, &[]);
    let mut cases = Vec::new();
    let mut decisions = Vec::new();
    for fold in 0..k {
        let mut corpus = Corpus::of(kb, &[]);
        let (train, held): (Vec<_>, Vec<_>) = full
            .texts
            .iter()
            .enumerate()
            .partition(|(i, _)| (i * 7 + 3) % k != fold);
        corpus.texts = train.into_iter().map(|(_, t)| *t).collect();
        let m = Matcher::train(&corpus, params);
        for (_, &(class, lang, text)) in held {
            let r = m.ask(text, lang, None);
            cases.push(Case {
                line: cases.len() + 1,
                expected: if full.is_entry(class) {
                    vec![full.ids[class as usize].clone()]
                } else {
                    Vec::new()
                },
                lang: lang.map(|l| l.code().to_string()).unwrap_or_default(),
                style: "phrasing".to_string(),
                question: text.to_string(),
            });
            decisions.push(Decision {
                status: r.status,
                entry: r.entry,
                candidates: r.candidates.into_iter().map(|c| c.entry).collect(),
                urgent: r.urgent,
            });
        }
    }
    let mut it = decisions.into_iter();
    run(&cases, |_| it.next().expect("one decision per case"))
}

/// One labelled question.
#[derive(Clone, Debug)]
pub struct Case {
    pub line: usize,
    /// Acceptable entry ids; empty means "should be unmet".
    pub expected: Vec<String>,
    pub lang: String,
    pub style: String,
    pub question: String,
}

/// Reads a TSV with the columns `expected lang style question` (a header line is skipped).
pub fn parse_tsv(text: &str) -> Result<Vec<Case>, String> {
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty()
            || line.starts_with('#')
            || (n == 1 && line.starts_with("expected"))
        {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 4 {
            errors.push(format!(
                "line {n}: expected 4 tab-separated columns, found {}",
                cols.len()
            ));
            continue;
        }
        let expected = if cols[0].trim() == "-" {
            Vec::new()
        } else {
            cols[0].split('|').map(|s| s.trim().to_string()).collect()
        };
        cases.push(Case {
            line: n,
            expected,
            lang: cols[1].trim().to_string(),
            style: cols[2].trim().to_string(),
            question: cols[3].to_string(),
        });
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(errors.join("\n"))
    }
}

/// What happened to one question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// In scope, answered with a right entry.
    Direct,
    /// In scope, a right entry among the "Did you mean…?" options.
    InClarify,
    /// In scope, answered with a wrong entry.
    Wrong,
    /// In scope, not answered and not offered.
    Missed,
    /// Out of scope, reported unmet.
    OosUnmet,
    /// Out of scope, offered candidates.
    OosClarify,
    /// Out of scope, answered anyway.
    OosAnswered,
}

/// A decision of any matcher under evaluation.
pub struct Decision {
    pub status: Status,
    pub entry: Option<String>,
    pub candidates: Vec<String>,
    /// Flagged as a danger signal (sent to the experts as urgent).
    pub urgent: bool,
}

/// Results of a run.
#[derive(Default)]
pub struct Report {
    pub outcomes: Vec<(usize, Outcome, String)>,
    /// Per case: flagged urgent although the question is not about the entry the flag gave.
    false_alarms: Vec<bool>,
    urgent: usize,
    cases: Vec<Case>,
}

#[derive(Default, Clone, Copy)]
struct Tally {
    n: usize,
    direct: usize,
    clarify: usize,
    wrong: usize,
}

impl Tally {
    fn pct(x: usize, n: usize) -> f64 {
        if n == 0 {
            0.0
        } else {
            100.0 * x as f64 / n as f64
        }
    }
}

/// The figures of one style.
#[derive(Clone, Copy, Debug)]
pub struct StyleFigures {
    pub n: usize,
    pub direct: f64,
    pub wrong: f64,
}

/// The headline figures.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    pub in_scope: usize,
    pub direct: f64,
    pub reachable: f64,
    pub wrong: f64,
    pub out_of_scope: usize,
    pub oos_unmet: f64,
    pub oos_answered: f64,
    /// Messages flagged urgent, and those of them whose question is not about the flag's entry.
    pub urgent: usize,
    pub false_alarms: usize,
}

pub fn run(cases: &[Case], mut decide: impl FnMut(&Case) -> Decision) -> Report {
    let mut report = Report {
        cases: cases.to_vec(),
        ..Report::default()
    };
    for case in cases {
        let d = decide(case);
        let ok = |id: &String| case.expected.contains(id);
        report.urgent += d.urgent as usize;
        report
            .false_alarms
            .push(d.urgent && !d.entry.as_ref().is_some_and(ok));
        let outcome = if case.expected.is_empty() {
            match d.status {
                Status::Unmet => Outcome::OosUnmet,
                Status::Clarify => Outcome::OosClarify,
                Status::Answered => Outcome::OosAnswered,
            }
        } else {
            match d.status {
                Status::Answered if d.entry.as_ref().is_some_and(ok) => Outcome::Direct,
                Status::Answered => Outcome::Wrong,
                Status::Clarify if d.candidates.iter().any(ok) => Outcome::InClarify,
                _ => Outcome::Missed,
            }
        };
        let got = match d.status {
            Status::Answered => format!("answered {}", d.entry.unwrap_or_default()),
            Status::Clarify => format!("clarify [{}]", d.candidates.join(", ")),
            Status::Unmet => format!(
                "unmet (nearest: {})",
                d.candidates.first().cloned().unwrap_or_default()
            ),
        };
        report.outcomes.push((case.line, outcome, got));
    }
    report
}

/// Runs the matcher itself.
pub fn run_matcher(matcher: &Matcher, cases: &[Case]) -> Report {
    run(cases, |case| {
        let r = matcher.ask(&case.question, case.lang.parse::<Lang>().ok(), None);
        Decision {
            status: r.status,
            entry: r.entry,
            candidates: r.candidates.into_iter().map(|c| c.entry).collect(),
            urgent: r.urgent,
        }
    })
}

impl Report {
    pub fn figures(&self) -> Figures {
        let count = |o: Outcome| self.outcomes.iter().filter(|x| x.1 == o).count();
        let in_scope = self.cases.iter().filter(|c| !c.expected.is_empty()).count();
        let oos = self.cases.len() - in_scope;
        Figures {
            in_scope,
            direct: Tally::pct(count(Outcome::Direct), in_scope),
            reachable: Tally::pct(count(Outcome::Direct) + count(Outcome::InClarify), in_scope),
            wrong: Tally::pct(count(Outcome::Wrong), in_scope),
            out_of_scope: oos,
            oos_unmet: Tally::pct(count(Outcome::OosUnmet), oos),
            oos_answered: Tally::pct(count(Outcome::OosAnswered), oos),
            urgent: self.urgent,
            false_alarms: self.false_alarms.iter().filter(|x| **x).count(),
        }
    }

    fn tallies(&self, key: impl Fn(&Case) -> String) -> BTreeMap<String, Tally> {
        let mut map: BTreeMap<String, Tally> = BTreeMap::new();
        for (case, (_, outcome, _)) in self.cases.iter().zip(&self.outcomes) {
            if case.expected.is_empty() {
                continue;
            }
            let t = map.entry(key(case)).or_default();
            t.n += 1;
            match outcome {
                Outcome::Direct => t.direct += 1,
                Outcome::InClarify => t.clarify += 1,
                Outcome::Wrong => t.wrong += 1,
                _ => {}
            }
        }
        map
    }

    /// The printed report.
    pub fn render(&self, failures: bool) -> String {
        let f = self.figures();
        let mut out = String::new();
        let _ = writeln!(out, "in scope: {} questions", f.in_scope);
        let _ = writeln!(out, "  correct direct answer:        {:5.1}%", f.direct);
        let _ = writeln!(out, "  correct direct or in clarify: {:5.1}%", f.reachable);
        let _ = writeln!(out, "  wrong direct answer:          {:5.1}%", f.wrong);
        let _ = writeln!(
            out,
            "  missed:                       {:5.1}%",
            100.0 - f.reachable - f.wrong
        );
        let _ = writeln!(out, "out of scope: {} questions", f.out_of_scope);
        let _ = writeln!(out, "  reported unmet:   {:5.1}%", f.oos_unmet);
        let _ = writeln!(out, "  wrongly answered: {:5.1}%", f.oos_answered);
        let _ = writeln!(
            out,
            "danger signals: {} flagged urgent, {} of them false alarms",
            f.urgent, f.false_alarms
        );
        for (title, map) in [
            ("by language", self.tallies(|c| c.lang.clone())),
            ("by style", self.tallies(|c| c.style.clone())),
        ] {
            let _ = writeln!(
                out,
                "{title} (in scope): n, direct, direct-or-clarify, wrong"
            );
            for (k, t) in map {
                let _ = writeln!(
                    out,
                    "  {k:<10} {:4} {:5.1}% {:5.1}% {:5.1}%",
                    t.n,
                    Tally::pct(t.direct, t.n),
                    Tally::pct(t.direct + t.clarify, t.n),
                    Tally::pct(t.wrong, t.n)
                );
            }
        }
        let mut oos_lang: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for (case, (_, o, _)) in self.cases.iter().zip(&self.outcomes) {
            if case.expected.is_empty() {
                let e = oos_lang.entry(case.lang.as_str()).or_default();
                e.0 += 1;
                e.1 += (*o == Outcome::OosUnmet) as usize;
            }
        }
        let _ = writeln!(out, "out of scope by language: n, unmet");
        for (k, (n, u)) in oos_lang {
            let _ = writeln!(out, "  {k:<10} {n:4} {:5.1}%", Tally::pct(u, n));
        }
        let mut pairs: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (case, (_, o, got)) in self.cases.iter().zip(&self.outcomes) {
            if matches!(o, Outcome::Wrong | Outcome::OosAnswered) {
                let expected = if case.expected.is_empty() {
                    "-".to_string()
                } else {
                    case.expected.join("|")
                };
                let got = got.trim_start_matches("answered ").to_string();
                *pairs.entry((expected, got)).or_default() += 1;
            }
        }
        if !pairs.is_empty() {
            let mut pairs: Vec<_> = pairs.into_iter().collect();
            pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let _ = writeln!(out, "confusion pairs (expected → answered: count):");
            for ((e, g), n) in pairs.iter().take(12) {
                let _ = writeln!(out, "  {e} → {g}: {n}");
            }
        }
        if failures {
            let _ = writeln!(out, "failures (line: expected → got: question):");
            for ((case, (line, o, got)), alarm) in self
                .cases
                .iter()
                .zip(&self.outcomes)
                .zip(&self.false_alarms)
            {
                if matches!(o, Outcome::Direct | Outcome::OosUnmet) && !alarm {
                    continue;
                }
                let got = if *alarm {
                    format!("{got} (false urgent)")
                } else {
                    got.clone()
                };
                let expected = if case.expected.is_empty() {
                    "-".to_string()
                } else {
                    case.expected.join("|")
                };
                let _ = writeln!(out, "  {line}: {expected} → {got}: {}", case.question);
            }
        }
        out
    }

    /// Figures of the in-scope questions of one style.
    pub fn style_figures(&self, style: &str) -> StyleFigures {
        let t = self
            .tallies(|c| c.style.clone())
            .remove(style)
            .unwrap_or_default();
        StyleFigures {
            n: t.n,
            direct: Tally::pct(t.direct, t.n),
            wrong: Tally::pct(t.wrong, t.n),
        }
    }

    pub fn per_lang_direct(&self) -> HashMap<String, f64> {
        self.tallies(|c| c.lang.clone())
            .into_iter()
            .map(|(k, t)| (k, Tally::pct(t.direct, t.n)))
            .collect()
    }
}

/// The baseline: word-level TF-IDF cosine over the raw phrasings (lower-cased words, no
/// normalisation of scripts or spellings), answering when the best cosine is ≥ 0.5 and ahead of
/// the runner-up, offering candidates from 0.3.
pub struct Baseline {
    ids: Vec<String>,
    docs: Vec<(usize, HashMap<String, f32>, f32)>,
    idf: HashMap<String, f32>,
}

fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

impl Baseline {
    pub fn new(kb: &KnowledgeBase) -> Baseline {
        let mut raw = Vec::new();
        for (i, e) in kb.entries.iter().enumerate() {
            for (_, qs) in e.questions.iter() {
                raw.extend(qs.iter().map(|q| (i, words(q))));
            }
        }
        let mut df: HashMap<String, f32> = HashMap::new();
        for (_, ws) in &raw {
            for w in ws.iter().collect::<HashSet<_>>() {
                *df.entry(w.clone()).or_default() += 1.0;
            }
        }
        let n = raw.len() as f32;
        let idf: HashMap<String, f32> = df
            .into_iter()
            .map(|(w, d)| (w, (n / d).ln() + 1.0))
            .collect();
        let docs = raw
            .into_iter()
            .map(|(i, ws)| {
                let mut v: HashMap<String, f32> = HashMap::new();
                for w in ws {
                    *v.entry(w.clone()).or_default() += idf[&w];
                }
                let norm = v.values().map(|x| x * x).sum::<f32>().sqrt();
                (i, v, norm)
            })
            .collect();
        Baseline {
            ids: kb.entries.iter().map(|e| e.id.clone()).collect(),
            docs,
            idf,
        }
    }

    pub fn decide(&self, text: &str) -> Decision {
        let mut q: HashMap<String, f32> = HashMap::new();
        for w in words(text) {
            if let Some(idf) = self.idf.get(&w) {
                *q.entry(w).or_default() += idf;
            }
        }
        let qn = q.values().map(|x| x * x).sum::<f32>().sqrt();
        let mut best = vec![0f32; self.ids.len()];
        if qn > 0.0 {
            for (i, v, n) in &self.docs {
                let dot: f32 = q
                    .iter()
                    .map(|(w, x)| x * v.get(w).copied().unwrap_or(0.0))
                    .sum();
                let cos = dot / (qn * n);
                best[*i] = best[*i].max(cos);
            }
        }
        let mut ranked: Vec<(usize, f32)> = best.into_iter().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (top, second) = (ranked[0].1, ranked.get(1).map(|r| r.1).unwrap_or(0.0));
        let candidates: Vec<String> = ranked
            .iter()
            .take(3)
            .map(|r| self.ids[r.0].clone())
            .collect();
        if top >= 0.5 && top - second >= 0.05 {
            Decision {
                status: Status::Answered,
                entry: Some(self.ids[ranked[0].0].clone()),
                candidates,
                urgent: false,
            }
        } else if top >= 0.3 {
            Decision {
                status: Status::Clarify,
                entry: None,
                candidates,
                urgent: false,
            }
        } else {
            Decision {
                status: Status::Unmet,
                entry: None,
                candidates,
                urgent: false,
            }
        }
    }
}
