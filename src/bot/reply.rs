//! What arrives from a person and what the bot answers: events in, replies (HTML text and
//! buttons) out, with the questions to pass on to experts.

use super::callback::Callback;
use crate::kb::KnowledgeBase;
use crate::model::{MediaRef, QuestionKind};

/// What arrives from a user.
#[derive(Clone, Debug)]
pub enum Event {
    /// `/start`, with the entry a deep link opens (its id) and Telegram's language code, if
    /// any.
    Start {
        entry: Option<String>,
        language_code: Option<String>,
    },
    Help,
    Menu,
    Language,
    Country,
    Privacy,
    Forget,
    Contacts,
    /// `/reminders`: the chat's reminders, each with a cancel button.
    Reminders,
    Text {
        text: String,
        language_code: Option<String>,
    },
    /// A button press with its callback data, as it came (parsed by the conversation).
    Button(String),
    /// A voice message or a photo: passed to experts as it is.
    Media {
        kind: QuestionKind,
        media: MediaRef,
    },
    /// Anything else the bot cannot read (stickers, documents, locations…).
    Unsupported,
}

impl Event {
    /// The event of a command typed as text (`/menu`, `/start <entry id>`…), for adapters
    /// without their own command parser; `None` for anything else.
    pub fn command(text: &str) -> Option<Event> {
        let text = text.trim();
        let (name, arg) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        Some(match name.strip_prefix('/')? {
            "start" => Event::Start {
                entry: Some(arg.trim().to_string()).filter(|a| !a.is_empty()),
                language_code: None,
            },
            "help" => Event::Help,
            "menu" => Event::Menu,
            "language" => Event::Language,
            "country" => Event::Country,
            "privacy" => Event::Privacy,
            "forget" => Event::Forget,
            "contacts" => Event::Contacts,
            "reminders" => Event::Reminders,
            _ => return None,
        })
    }
}

/// What a button does.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Callback(String),
    /// Opens inline mode in a chat the user picks, with this query (the Share button).
    SwitchInline(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Button {
    pub label: String,
    pub action: Action,
}

impl Button {
    /// A button with raw callback data (the experts' buttons, see [`crate::experts::data`]).
    pub fn cb(label: impl Into<String>, data: String) -> Button {
        Button {
            label: label.into(),
            action: Action::Callback(data),
        }
    }

    /// A person's button: `callback` stamped with the knowledge base's version.
    pub fn to(label: impl Into<String>, kb: &KnowledgeBase, callback: Callback) -> Button {
        Button::cb(label, callback.data(kb.version))
    }
}

/// One message to show: HTML text and rows of buttons.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub buttons: Vec<Vec<Button>>,
    /// Replace the message whose button was pressed instead of sending a new one.
    pub edit: bool,
}

impl Reply {
    /// A reply with text only.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            ..Reply::default()
        }
    }
}

/// Everything the conversation wants done for one event.
#[derive(Clone, Debug, Default)]
pub struct Output {
    pub replies: Vec<Reply>,
    /// Questions stored for experts by this event (the adapter posts them).
    pub new_questions: Vec<i64>,
    /// Questions to post as urgent (the "Talk to a person now" button).
    pub urgent: Vec<i64>,
    /// Expert posts (chat, message) of questions the person had deleted (`/forget`): the
    /// adapter replaces their text with a note, so that no copy of them stays with experts.
    pub withdrawn_posts: Vec<(i64, i32)>,
    /// Expert posts (chat, message) to write again: the person rated the answer.
    pub refreshed_posts: Vec<(i64, i32)>,
    /// Expert posts (chat, message) a question stored by this event joined (another asker of
    /// a posted question): their count of askers is refreshed, coalesced with others.
    pub joined_posts: Vec<(i64, i32)>,
}

impl Output {
    pub fn one(reply: Reply) -> Output {
        Output {
            replies: vec![reply],
            ..Output::default()
        }
    }
}
