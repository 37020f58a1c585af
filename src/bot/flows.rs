//! Guided answers in the conversation: "Work out my dates" under an answer starts the entry's
//! flow, each step asks (with buttons, or for a typed date or number), and the outcome answers
//! with the person's own dates.
//!
//! Where the person is stays in the chat state (by entry and step ids), so a restart or another
//! instance carries on. A text that does not answer the step but is a question of its own
//! leaves the flow and is answered; so do `/menu` and any other button. A step's button pressed
//! twice, or from an older message, asks the current step again. A state that no longer
//! fits the flow after a reload (the entry, the step or its kind gone) gets a fresh menu.

use super::callback::{Callback, DatePick, Pressed};
use super::reply::{Button, Event, Output, Reply};
use super::state::{ChatState, FlowState};
use super::{Conversation, Knowledge, screens};
use crate::dates::{self, Approx, DateError, Precision};
use crate::kb::flow::{Flow, NodeKind, Value};
use crate::lang::Lang;
use crate::matcher::Status;
use chrono::{Datelike, Days, NaiveDate};
use std::collections::BTreeMap;

/// An entry with a flow, where the chat state points.
struct At<'a> {
    entry: usize,
    flow: &'a Flow,
    node: usize,
}

impl Conversation {
    /// "Work out my dates" under the answer of entry `entry`: the flow's first step.
    pub(super) async fn flow_start(
        &self,
        k: &Knowledge,
        chat: i64,
        ui: Lang,
        entry: usize,
        before: ChatState,
    ) -> Output {
        let Some(flow) = k.kb.entries.get(entry).and_then(|e| e.flow.as_ref()) else {
            return Output::one(screens::stale(&k.kb, ui));
        };
        let at = At {
            entry,
            flow,
            node: flow.start,
        };
        self.go(k, chat, ui, &before, &at, BTreeMap::new()).await
    }

    /// A button of a step: honoured only at the step the chat is at.
    pub(super) async fn flow_choice(
        &self,
        k: &Knowledge,
        chat: i64,
        ui: Lang,
        (entry, node, choice): (usize, usize, usize),
        before: ChatState,
    ) -> Output {
        let at = current(k, &before).filter(|(at, _)| at.entry == entry && at.node == node);
        let Some((at, mut values)) = at else {
            return self.elsewhere(k, chat, ui, before).await;
        };
        let c = match &at.flow.nodes[node].kind {
            NodeKind::Choice { choices, .. } => choices.get(choice),
            _ => None,
        };
        let Some(c) = c else {
            return Output::one(screens::stale(&k.kb, ui));
        };
        for (f, n) in &c.set {
            values.insert(f.clone(), Value::Number(*n));
        }
        let next = At { node: c.next, ..at };
        self.go(k, chat, ui, &before, &next, values).await
    }

    /// A date step's button: today, a week ago, a month; a year offers its months.
    pub(super) async fn flow_date(
        &self,
        k: &Knowledge,
        chat: i64,
        ui: Lang,
        (entry, node): (usize, usize),
        pick: DatePick,
        before: ChatState,
    ) -> Output {
        let today = self.clock.today();
        let at = current(k, &before).filter(|(at, _)| at.entry == entry && at.node == node);
        let Some((at, mut values)) = at else {
            return self.elsewhere(k, chat, ui, before).await;
        };
        let NodeKind::Date {
            field, next, exact, ..
        } = &at.flow.nodes[node].kind
        else {
            return Output::one(screens::stale(&k.kb, ui));
        };
        let date = match pick {
            DatePick::Today => Some(Approx::day(today)),
            DatePick::WeekAgo => today.checked_sub_days(Days::new(7)).map(Approx::day),
            DatePick::Year(y) => return Output::one(months(k, ui, &at, i32::from(y), today)),
            // A month is no answer where the day is needed (no such button is shown there).
            DatePick::Month(y, m) => Approx::month(i32::from(y), u32::from(m))
                .filter(|_| !exact)
                .and_then(|a| a.up_to(today).ok()),
        };
        let Some(date) = date else {
            return Output::one(screens::stale(&k.kb, ui));
        };
        values.insert(field.clone(), Value::Date(date));
        let next = At { node: *next, ..at };
        self.go(k, chat, ui, &before, &next, values).await
    }

    /// Arrives at `at` with `values`, and writes the state it leaves (`before` is the stored
    /// one). A flow is no longer waiting for a question to the experts.
    async fn go(
        &self,
        k: &Knowledge,
        chat: i64,
        ui: Lang,
        before: &ChatState,
        at: &At<'_>,
        values: BTreeMap<String, Value>,
    ) -> Output {
        let mut after = ChatState {
            awaiting_question: false,
            ..before.clone()
        };
        let reply = enter(k, ui, at, values, &mut after, self.clock.today());
        self.save_state(chat, before, &after).await;
        Output::one(reply)
    }

    /// A step's button pressed when the chat is not at that step (pressed twice, or an older
    /// message's): the step the chat is at is asked again; with no flow in progress (or one a
    /// reload broke), a fresh menu.
    async fn elsewhere(&self, k: &Knowledge, chat: i64, ui: Lang, before: ChatState) -> Output {
        if let Some((at, values)) = current(k, &before) {
            let mut state = before.clone();
            let today = self.clock.today();
            return Output::one(enter(k, ui, &at, values, &mut state, today));
        }
        let state = ChatState {
            flow: None,
            ..before.clone()
        };
        self.save_state(chat, &before, &state).await;
        Output::one(screens::stale(&k.kb, ui))
    }

    /// A text while a flow is in progress: the answer to a date or number step, or a new
    /// question (`None`: the flow is left and the text is to be matched), or, when it is
    /// neither, the step asked again with what went wrong.
    pub(super) fn flow_text(
        &self,
        k: &Knowledge,
        ui: Lang,
        text: &str,
        state: &mut ChatState,
    ) -> Option<Reply> {
        state.flow.as_ref()?;
        let kb = &k.kb;
        let Some((at, mut values)) = current(k, state) else {
            state.flow = None;
            return Some(screens::stale(kb, ui));
        };
        let (field, next, answer) = match &at.flow.nodes[at.node].kind {
            NodeKind::Date {
                field, next, exact, ..
            } => {
                let answer = match dates::parse_past(text, self.clock.today()) {
                    Ok(d) if *exact && d.precision != Precision::Day => {
                        Err(kb.t("flow_need_day", ui).to_string())
                    }
                    Ok(d) => Ok(Value::Date(d)),
                    Err(DateError::Unreadable) => Err(kb.t("flow_bad_date", ui).to_string()),
                    Err(DateError::Future) => Err(kb.t("flow_future_date", ui).to_string()),
                };
                (field, next, answer)
            }
            NodeKind::Number {
                field,
                min,
                max,
                next,
                ..
            } => {
                let answer = match text.trim().parse::<u32>() {
                    Ok(n) if (*min..=*max).contains(&n) => Ok(Value::Number(n)),
                    _ => Err(kb.interface.fill(
                        "flow_bad_number",
                        ui,
                        &[("min", &min.to_string()), ("max", &max.to_string())],
                    )),
                };
                (field, next, answer)
            }
            // At a step with buttons, a typed text is a question of its own.
            _ => {
                state.flow = None;
                return None;
            }
        };
        match answer {
            Ok(v) => {
                values.insert(field.clone(), v);
                let next = At { node: *next, ..at };
                Some(enter(k, ui, &next, values, state, self.clock.today()))
            }
            // Not an answer to the step, but a question of its own: the flow is left.
            Err(_) if k.matcher.ask(text, Some(ui), None).status == Status::Answered => {
                state.flow = None;
                None
            }
            Err(problem) => Some(Reply::text(problem)),
        }
    }
}

/// Whether `event` leaves a guided answer in progress: a command or another of our buttons
/// does; a text (which the flow reads first), the flow's own buttons and a stale button (which
/// gets a fresh menu anyway) do not.
pub(super) fn leaves_flow(event: &Event, version: u16) -> bool {
    match event {
        Event::Text { .. } => false,
        Event::Button(d) => matches!(Callback::parse(d, version), Pressed::Now(c) if !c.is_flow()),
        _ => true,
    }
}

/// A question answered by an entry with a flow that gives a date or a number of the person's
/// own ("deported in 2023, when can I come back?") goes straight on to the flow's first step,
/// after the answer.
pub(super) fn lead_in(
    k: &Knowledge,
    ui: Lang,
    entry: &crate::kb::Entry,
    text: &str,
    state: &mut ChatState,
    today: NaiveDate,
) -> Option<Reply> {
    let flow = entry.flow.as_ref().filter(|f| f.lead_in)?;
    if !text.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let at = At {
        entry: k.kb.entry_index(&entry.id)?,
        flow,
        node: flow.start,
    };
    Some(enter(k, ui, &at, BTreeMap::new(), state, today))
}

/// The flow and step the chat state points at, with the answers so far; `None` when it no
/// longer fits the knowledge base.
fn current<'a>(k: &'a Knowledge, state: &ChatState) -> Option<(At<'a>, BTreeMap<String, Value>)> {
    let f: &FlowState = state.flow.as_ref()?;
    let entry = k.kb.entry_index(&f.entry)?;
    let flow = k.kb.entries[entry].flow.as_ref()?;
    let node = flow.index(&f.node)?;
    if matches!(flow.nodes[node].kind, NodeKind::Outcome { .. }) {
        return None;
    }
    Some((At { entry, flow, node }, f.values.clone()))
}

/// Arrives at a node: a step is asked (and remembered as where the chat is), an outcome
/// answers (and the flow ends), with "🔔 Remind me" when it has a date still to come.
fn enter(
    k: &Knowledge,
    ui: Lang,
    at: &At,
    values: BTreeMap<String, Value>,
    state: &mut ChatState,
    today: NaiveDate,
) -> Reply {
    let kb = &k.kb;
    let node = &at.flow.nodes[at.node];
    let b = |key: &str, cb: Callback| Button::to(kb.t(key, ui), kb, cb);
    let ask = match &node.kind {
        NodeKind::Outcome { .. } => {
            state.flow = None;
            let Some(text) = at.flow.outcome_text(at.node, ui, &values) else {
                // A date past the calendar's end, or a field a reload took away.
                return screens::stale(kb, ui);
            };
            let remind = at.flow.reminder(at.node, &values).and_then(|(due, _)| {
                let cb = Callback::Remind {
                    entry: at.entry,
                    node: at.node,
                    due,
                };
                (due > today).then(|| vec![b("btn_remind", cb)])
            });
            let mut buttons: Vec<Vec<Button>> = remind.into_iter().collect();
            buttons.extend([
                vec![b("btn_flow", Callback::FlowStart(at.entry))],
                vec![
                    b("btn_ask_expert", Callback::AskExpert(at.entry)),
                    b("btn_menu", Callback::Menu),
                ],
            ]);
            return Reply {
                text,
                buttons,
                edit: false,
            };
        }
        NodeKind::Choice { ask, .. }
        | NodeKind::Date { ask, .. }
        | NodeKind::Number { ask, .. } => ask,
    };
    state.flow = Some(FlowState {
        entry: kb.entries[at.entry].id.clone(),
        node: node.id.clone(),
        values,
    });
    let mut buttons = Vec::new();
    match &node.kind {
        NodeKind::Choice { choices, .. } => {
            for (i, c) in choices.iter().enumerate() {
                let cb = Callback::FlowChoice {
                    entry: at.entry,
                    node: at.node,
                    choice: i,
                };
                buttons.push(vec![Button::to(c.label.get(ui), kb, cb)]);
            }
        }
        NodeKind::Date { exact, .. } => {
            let pick = |pick| Callback::FlowDate {
                entry: at.entry,
                node: at.node,
                pick,
            };
            buttons.push(vec![
                b("btn_today", pick(DatePick::Today)),
                b("btn_week_ago", pick(DatePick::WeekAgo)),
            ]);
            // A month is enough where the day is not needed: the last five years.
            if !exact {
                let year = today.year();
                let years = (0..5)
                    .rev()
                    .filter_map(|back| u16::try_from(year - back).ok());
                buttons.push(
                    years
                        .map(|y| Button::to(y.to_string(), kb, pick(DatePick::Year(y))))
                        .collect(),
                );
            }
        }
        _ => {}
    }
    buttons.push(vec![b("btn_menu", Callback::Menu)]);
    Reply {
        text: ask.get(ui).clone(),
        buttons,
        edit: false,
    }
}

/// The months of `year` up to today, as buttons (names from the interface texts), for a date
/// step the chat is at.
fn months(k: &Knowledge, ui: Lang, at: &At, year: i32, today: NaiveDate) -> Reply {
    let kb = &k.kb;
    let names: Vec<&str> = kb.t("month_names", ui).split(',').map(str::trim).collect();
    let last = if year == today.year() {
        today.month()
    } else {
        12
    };
    let buttons: Vec<Vec<Button>> = (1..=last)
        .filter_map(|m| {
            let pick = DatePick::Month(u16::try_from(year).ok()?, m as u8);
            let label = match names.get(m as usize - 1) {
                Some(name) if names.len() == 12 => format!("{name} {year}"),
                _ => format!("{m:02}.{year}"),
            };
            let cb = Callback::FlowDate {
                entry: at.entry,
                node: at.node,
                pick,
            };
            Some(Button::to(label, kb, cb))
        })
        .collect::<Vec<_>>()
        .chunks(3)
        .map(<[Button]>::to_vec)
        .collect();
    let mut buttons = buttons;
    buttons.push(vec![Button::to(kb.t("btn_menu", ui), kb, Callback::Menu)]);
    Reply {
        text: kb.t("flow_pick_month", ui).to_string(),
        buttons,
        edit: false,
    }
}
