//! What the conversation remembers of a chat between two of its messages, kept in the
//! database so that the next message behaves the same on any instance.
//!
//! It is stored as versioned JSON. A state written by another version of the bot, or one that
//! cannot be read, is dropped: the chat starts afresh (a "None of these" then asks for the
//! question again), never a panic. It holds a person's last question, so it is kept
//! [`STATE_KEEP`] only.

use crate::kb::flow::Value;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a chat state is used after it was written; the retention clean-up erases older
/// ones.
pub const STATE_KEEP: Duration = Duration::from_secs(3600);

/// The chat's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatState {
    /// The last question (for "None of these — ask an expert" and 👎), with the matcher's
    /// nearest entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_question: Option<LastQuestion>,
    /// The next text is a question for the experts (after 👎 or "Ask an expert").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_question: bool,
    /// A guided answer in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<FlowState>,
}

/// Where a person is in an entry's guided answer, by ids (not positions), so that a reload
/// that changes the flow is noticed: a node that is gone, or of another kind, starts afresh.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowState {
    pub entry: String,
    /// The step waiting for an answer.
    pub node: String,
    /// What was answered and set so far.
    pub values: BTreeMap<String, Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LastQuestion {
    pub text: String,
    /// (entry id, score), best first.
    pub nearest: Vec<(String, f32)>,
}

/// The stored form, tagged with its version.
#[derive(Serialize, Deserialize)]
#[serde(tag = "v")]
enum Stored {
    #[serde(rename = "1")]
    V1(ChatState),
}

impl ChatState {
    /// The stored form; `None` for the empty state (nothing is stored).
    pub fn encode(&self) -> Option<String> {
        if *self == ChatState::default() {
            return None;
        }
        serde_json::to_string(&Stored::V1(self.clone())).ok()
    }

    /// The state in `stored`; the empty state for one this version cannot read.
    pub fn decode(stored: &str) -> ChatState {
        match serde_json::from_str::<Stored>(stored) {
            Ok(Stored::V1(s)) => s,
            Err(e) => {
                log::debug!("a chat state that cannot be read is dropped: {e}");
                ChatState::default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_reads_back_and_the_empty_one_is_not_stored() {
        assert_eq!(ChatState::default().encode(), None);
        let s = ChatState {
            last_question: Some(LastQuestion {
                text: "патент \"цена\" \u{1F600}".into(),
                nearest: vec![("work.patent".into(), 0.5)],
            }),
            awaiting_question: true,
            flow: Some(FlowState {
                entry: "stay.ban-duration".into(),
                node: "left".into(),
                values: BTreeMap::from([("years".into(), Value::Number(5))]),
            }),
        };
        assert_eq!(ChatState::decode(&s.encode().unwrap()), s);
    }

    #[test]
    fn states_of_other_versions_or_broken_ones_are_dropped() {
        for stored in [
            "",
            "{",
            "null",
            "{}",
            r#"{"v":"2","awaiting_question":true}"#,
            r#"{"v":1,"awaiting_question":true}"#,
            r#"{"v":"1","awaiting_question":"yes"}"#,
            r#"{"v":"1","last_question":{"text":5}}"#,
        ] {
            assert_eq!(ChatState::decode(stored), ChatState::default(), "{stored}");
        }
        let old = r#"{"v":"1","awaiting_question":true,"other":"x"}"#;
        assert!(
            ChatState::decode(old).awaiting_question,
            "unknown fields are ignored"
        );
        let broken_flow = r#"{"v":"1","awaiting_question":true,"flow":"x"}"#;
        assert_eq!(ChatState::decode(broken_flow), ChatState::default());
    }
}
