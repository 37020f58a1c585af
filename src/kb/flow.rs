//! Guided answers: the steps a curator attaches to an entry (`[flow]` in its file) to ask a
//! few facts of the person and answer with their own dates.
//!
//! A flow is a set of nodes: steps that ask (a question with buttons, a date, a number) and
//! outcomes that answer, with fields computed from what was asked ("left + 5 years"). The
//! checks (in `flow_check`) make every flow safe to run: every `next` names a node, no path
//! loops, every node is reachable, every path ends in an outcome, every text is in all four
//! languages, and an outcome uses only fields that every path to it has asked or computes.

use super::load::valid_name;
use crate::dates::{Approx, Precision, days_after, years_after};
use crate::lang::{Lang, PerLang};
use chrono::{Datelike, Days, Months, NaiveDate};
use std::collections::BTreeMap;

/// An entry's guided answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    /// Index of the first node.
    pub start: usize,
    pub nodes: Vec<Node>,
    /// A typed question this entry answers that gives a date or number of the person's own
    /// goes on to the first step by itself (the curators choose where that helps).
    pub lead_in: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub id: String,
    pub kind: NodeKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Choice {
        ask: PerLang<String>,
        choices: Vec<Choice>,
    },
    Date {
        ask: PerLang<String>,
        field: String,
        /// The day is needed, not only the month or year.
        exact: bool,
        next: usize,
    },
    Number {
        ask: PerLang<String>,
        field: String,
        min: u32,
        max: u32,
        next: usize,
    },
    Outcome {
        compute: Vec<(String, Expr)>,
        text: PerLang<String>,
        /// "🔔 Remind me" under it, for one of its dates.
        remind: Option<Remind>,
    },
}

/// The reminder an outcome offers: some days before one of its dates (the earliest the
/// answers allow).
#[derive(Clone, Debug, PartialEq)]
pub struct Remind {
    pub field: String,
    pub days_before: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub label: PerLang<String>,
    pub next: usize,
    /// Number fields the choice sets.
    pub set: Vec<(String, u32)>,
}

/// A computed date: a date field (or another computed one) plus or minus amounts.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub base: String,
    pub terms: Vec<Term>,
    /// A limit of days per calendar year (`new_year_limit`): a result that falls in a later
    /// year than the base date is the limit's last day counted from 1 January of the next
    /// year, since that year's count starts afresh (a stay under "90 days in a calendar year"
    /// that runs into January).
    pub new_year_limit: Option<u32>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    pub minus: bool,
    pub amount: Amount,
    pub unit: Unit,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Amount {
    Fixed(u32),
    /// A number field.
    Field(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Days,
    Months,
    Years,
}

/// What a person answered (or an outcome computed) for one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Value {
    Date(Approx),
    Number(u32),
}

impl Expr {
    /// Parses `left + 5 years`, `arrived + 90 days - used days`, `left - 1 day`.
    pub fn parse(s: &str) -> Result<Expr, String> {
        let mut words = s.split_whitespace();
        let base = words.next().ok_or("an empty value")?;
        if !valid_name(base) {
            return Err(format!("'{base}' is not a field name"));
        }
        let mut terms = Vec::new();
        while let Some(sign) = words.next() {
            let minus = match sign {
                "+" => false,
                "-" => true,
                _ => return Err(format!("expected + or - before '{sign}'")),
            };
            let amount = words.next().ok_or("an amount is missing at the end")?;
            let amount = match amount.parse::<u32>() {
                Ok(n) => Amount::Fixed(n),
                Err(_) if valid_name(amount) => Amount::Field(amount.to_string()),
                Err(_) => return Err(format!("'{amount}' is neither a number nor a field")),
            };
            let unit = match words
                .next()
                .ok_or("a unit (days, months, years) is missing")?
            {
                "day" | "days" => Unit::Days,
                "month" | "months" => Unit::Months,
                "year" | "years" => Unit::Years,
                other => return Err(format!("'{other}' is not days, months or years")),
            };
            terms.push(Term {
                minus,
                amount,
                unit,
            });
        }
        Ok(Expr {
            base: base.to_string(),
            terms,
            new_year_limit: None,
        })
    }

    /// The fields it reads: (name, is a date).
    pub(super) fn reads(&self) -> impl Iterator<Item = (&str, bool)> {
        std::iter::once((self.base.as_str(), true)).chain(self.terms.iter().filter_map(|t| {
            match &t.amount {
                Amount::Field(f) => Some((f.as_str(), false)),
                Amount::Fixed(_) => None,
            }
        }))
    }

    /// Its value from `values`: the earliest and latest date the answers allow.
    pub fn eval(&self, values: &BTreeMap<String, Value>) -> Option<Approx> {
        let Value::Date(base) = values.get(&self.base)? else {
            return None;
        };
        let shift = |from: NaiveDate| -> Option<NaiveDate> {
            let mut d = from;
            for t in &self.terms {
                let n = match &t.amount {
                    Amount::Fixed(n) => *n,
                    Amount::Field(f) => match values.get(f)? {
                        Value::Number(n) => *n,
                        Value::Date(_) => return None,
                    },
                };
                d = match (t.unit, t.minus) {
                    (Unit::Days, false) => days_after(d, n)?,
                    (Unit::Days, true) => d.checked_sub_days(Days::new(n.into()))?,
                    (Unit::Months, false) => d.checked_add_months(Months::new(n))?,
                    (Unit::Months, true) => d.checked_sub_months(Months::new(n))?,
                    (Unit::Years, false) => years_after(d, n)?,
                    (Unit::Years, true) => d.checked_sub_months(Months::new(n.checked_mul(12)?))?,
                };
            }
            match self.new_year_limit {
                Some(limit) if d.year() > from.year() => {
                    let january = NaiveDate::from_ymd_opt(from.year() + 1, 1, 1)?;
                    days_after(january, limit.checked_sub(1)?)
                }
                _ => Some(d),
            }
        };
        Some(Approx {
            first: shift(base.first)?,
            last: shift(base.last)?,
            precision: base.precision,
        })
    }
}

/// The placeholders of a text: `{name}` or `{name.earliest}`.
pub(crate) fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        out.push(&after[..close]);
        rest = &after[close + 1..];
    }
    out
}

impl Flow {
    /// The nodes a node leads to.
    pub fn next_of(&self, node: usize) -> Vec<usize> {
        self.edges(node).into_iter().map(|(m, _)| m).collect()
    }

    /// The nodes a node leads to, each with the fields (name, is a date) it has given on the
    /// way: the field a date or number step asks, or the numbers a choice sets.
    pub(super) fn edges(&self, node: usize) -> Vec<(usize, Vec<(&str, bool)>)> {
        match &self.nodes[node].kind {
            NodeKind::Choice { choices, .. } => choices
                .iter()
                .map(|c| {
                    (
                        c.next,
                        c.set.iter().map(|(f, _)| (f.as_str(), false)).collect(),
                    )
                })
                .collect(),
            NodeKind::Date { next, field, .. } => vec![(*next, vec![(field.as_str(), true)])],
            NodeKind::Number { next, field, .. } => vec![(*next, vec![(field.as_str(), false)])],
            NodeKind::Outcome { .. } => Vec::new(),
        }
    }

    pub fn index(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }
}

/// A date as an outcome shows it: the day (15.03.2023), or the month (03.2023) or year when
/// that is all the person gave; the latest possible one, or with `.earliest` the first.
pub fn show_date(a: &Approx, earliest: bool) -> String {
    let d = if earliest { a.first } else { a.last };
    match a.precision {
        Precision::Day => show_day(d),
        Precision::Month => d.format("%m.%Y").to_string(),
        Precision::Year => d.format("%Y").to_string(),
    }
}

/// A day as every message shows it: 15.03.2023.
pub fn show_day(d: NaiveDate) -> String {
    d.format("%d.%m.%Y").to_string()
}

impl Flow {
    /// The fields at an outcome: what the person answered and the choices set, and what the
    /// outcome computes; `None` when a field it needs is missing or a date falls outside the
    /// calendar.
    fn outcome_values(
        &self,
        node: usize,
        values: &BTreeMap<String, Value>,
    ) -> Option<BTreeMap<String, Value>> {
        let NodeKind::Outcome { compute, .. } = &self.nodes[node].kind else {
            return None;
        };
        let mut values = values.clone();
        for (name, e) in compute {
            let v = e.eval(&values)?;
            values.insert(name.clone(), Value::Date(v));
        }
        Some(values)
    }

    /// An outcome's text in `lang` with its fields filled in (see [`Flow::outcome_values`]).
    pub fn outcome_text(
        &self,
        node: usize,
        lang: Lang,
        values: &BTreeMap<String, Value>,
    ) -> Option<String> {
        let NodeKind::Outcome { text, .. } = &self.nodes[node].kind else {
            return None;
        };
        let values = self.outcome_values(node, values)?;
        let t = text.get(lang);
        let mut out = t.clone();
        for p in placeholders(t) {
            let (name, earliest) = match p.strip_suffix(".earliest") {
                Some(n) => (n, true),
                None => (p, false),
            };
            let shown = match values.get(name)? {
                Value::Date(a) => show_date(a, earliest),
                Value::Number(n) => n.to_string(),
            };
            out = out.replace(&format!("{{{p}}}"), &shown);
        }
        Some(out)
    }

    /// The reminder outcome `node` offers, if any.
    fn remind_of(&self, node: usize) -> Option<&Remind> {
        match &self.nodes.get(node)?.kind {
            NodeKind::Outcome { remind, .. } => remind.as_ref(),
            _ => None,
        }
    }

    /// The date an outcome offers a reminder for (the earliest its answers allow), with how
    /// many days before it the reminder comes; `None` when it offers none.
    pub fn reminder(
        &self,
        node: usize,
        values: &BTreeMap<String, Value>,
    ) -> Option<(NaiveDate, u32)> {
        let r = self.remind_of(node)?;
        match self.outcome_values(node, values)?.get(&r.field)? {
            Value::Date(a) => Some((a.first, r.days_before)),
            Value::Number(_) => None,
        }
    }

    /// How many days before its date the reminder of outcome `node` comes, if it offers one.
    pub fn reminder_days_before(&self, node: usize) -> Option<u32> {
        self.remind_of(node).map(|r| r.days_before)
    }
}
