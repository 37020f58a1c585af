//! Guided answers in the conversation: "Work out my dates" under an answer starts the entry's
//! flow, each step asks (with buttons, or for a typed date or number), and the outcome answers
//! with the person's own dates.
//!
//! Where the person is stays in the chat state (by entry and step ids), so a restart or another
//! instance carries on. A text that does not answer the step but is a question of its own
//! leaves the flow and is answered; so do `/menu` and any other button. A state that no longer
//! fits the flow after a reload (the entry, the step or its kind gone) gets a fresh menu.

use super::callback::Callback;
use super::reply::{Button, Output, Reply};
use super::state::{ChatState, FlowState};
use super::{Conversation, Knowledge, screens};
use crate::dates::{self, DateError, Precision};
use crate::kb::flow::{Flow, NodeKind, Value};
use crate::lang::Lang;
use crate::matcher::Status;
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
        let mut state = ChatState {
            awaiting_question: false,
            ..before.clone()
        };
        let at = At {
            entry,
            flow,
            node: flow.start,
        };
        let reply = enter(k, ui, &at, BTreeMap::new(), &mut state);
        self.save_state(chat, &before, &state).await;
        Output::one(reply)
    }

    /// A button of a step: honoured only at the step the chat is at (an older step's button
    /// gets a fresh menu).
    pub(super) async fn flow_choice(
        &self,
        k: &Knowledge,
        chat: i64,
        ui: Lang,
        (entry, node, choice): (usize, usize, usize),
        before: ChatState,
    ) -> Output {
        let kb = &k.kb;
        let at = current(k, &before).filter(|(at, _)| at.entry == entry && at.node == node);
        let Some((at, values)) = at else {
            let state = ChatState {
                flow: None,
                ..before.clone()
            };
            self.save_state(chat, &before, &state).await;
            return Output::one(screens::stale(kb, ui));
        };
        let NodeKind::Choice { choices, .. } = &at.flow.nodes[node].kind else {
            return Output::one(screens::stale(kb, ui));
        };
        let Some(c) = choices.get(choice) else {
            return Output::one(screens::stale(kb, ui));
        };
        let mut values = values;
        for (f, n) in &c.set {
            values.insert(f.clone(), Value::Number(*n));
        }
        let mut state = before.clone();
        let next = At { node: c.next, ..at };
        let reply = enter(k, ui, &next, values, &mut state);
        self.save_state(chat, &before, &state).await;
        Output::one(reply)
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
        let question = || k.matcher.ask(text, Some(ui), None).status == Status::Answered;
        let problem = match &at.flow.nodes[at.node].kind {
            NodeKind::Date {
                field, next, exact, ..
            } => match dates::parse_past(text, chrono::Utc::now().date_naive()) {
                Ok(date) if *exact && date.precision != Precision::Day => {
                    kb.t("flow_need_day", ui).to_string()
                }
                Ok(date) => {
                    values.insert(field.clone(), Value::Date(date));
                    let next = At { node: *next, ..at };
                    return Some(enter(k, ui, &next, values, state));
                }
                Err(DateError::Unreadable) => kb.t("flow_bad_date", ui).to_string(),
                Err(DateError::Future) => kb.t("flow_future_date", ui).to_string(),
            },
            NodeKind::Number {
                field,
                min,
                max,
                next,
                ..
            } => match text.trim().parse::<u32>() {
                Ok(n) if (*min..=*max).contains(&n) => {
                    values.insert(field.clone(), Value::Number(n));
                    let next = At { node: *next, ..at };
                    return Some(enter(k, ui, &next, values, state));
                }
                _ => kb.interface.fill(
                    "flow_bad_number",
                    ui,
                    &[("min", &min.to_string()), ("max", &max.to_string())],
                ),
            },
            // At a step with buttons, a typed text is a question of its own.
            _ => {
                state.flow = None;
                return None;
            }
        };
        if question() {
            state.flow = None;
            return None;
        }
        Some(Reply::text(problem))
    }
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
/// answers (and the flow ends).
fn enter(
    k: &Knowledge,
    ui: Lang,
    at: &At,
    values: BTreeMap<String, Value>,
    state: &mut ChatState,
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
            return Reply {
                text,
                buttons: vec![
                    vec![b("btn_flow", Callback::FlowStart(at.entry))],
                    vec![
                        b("btn_ask_expert", Callback::AskExpert(at.entry)),
                        b("btn_menu", Callback::Menu),
                    ],
                ],
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
    if let NodeKind::Choice { choices, .. } = &node.kind {
        for (i, c) in choices.iter().enumerate() {
            let cb = Callback::FlowChoice {
                entry: at.entry,
                node: at.node,
                choice: i,
            };
            buttons.push(vec![Button::to(c.label.get(ui), kb, cb)]);
        }
    }
    buttons.push(vec![b("btn_menu", Callback::Menu)]);
    Reply {
        text: ask.get(ui).clone(),
        buttons,
        edit: false,
    }
}
