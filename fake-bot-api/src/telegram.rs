//! Telegram's rules as the fake enforces them, written from the Bot API documentation
//! (<https://core.telegram.org/bots/api>) rather than shared with the bot, so that a mistake in
//! the bot's copy fails against the fake instead of passing both.

use std::ops::RangeInclusive;

/// The tags of the `HTML` parse mode
/// (<https://core.telegram.org/bots/api#html-style>), each with the attributes Telegram gives
/// meaning to: `span` is a spoiler only with `class="tg-spoiler"`, `code` takes
/// `class="language-…"` inside `pre`, `blockquote` may be `expandable`. Any other tag is
/// "Unsupported start tag". The fake checks the tag names; the attributes are listed so that the
/// table reads like Telegram's own.
pub(crate) const HTML_TAGS: &[(&str, &[&str])] = &[
    ("b", &[]),
    ("strong", &[]),
    ("i", &[]),
    ("em", &[]),
    ("u", &[]),
    ("ins", &[]),
    ("s", &[]),
    ("strike", &[]),
    ("del", &[]),
    ("span", &["class"]),
    ("tg-spoiler", &[]),
    ("a", &["href"]),
    ("tg-emoji", &["emoji-id"]),
    ("tg-time", &["unix", "format"]),
    ("code", &["class"]),
    ("pre", &[]),
    ("blockquote", &["expandable"]),
];

/// `text` of a message, in UTF-16 code units after entity parsing.
pub(crate) const MAX_TEXT_LEN: usize = 4096;

/// `caption` of a media message, counted like [`MAX_TEXT_LEN`].
pub(crate) const MAX_CAPTION_LEN: usize = 1024;

/// `callback_data` of an inline keyboard button, in bytes.
pub(crate) const CALLBACK_DATA_BYTES: RangeInclusive<usize> = 1..=64;

/// `getUpdates`' `limit`: its range, and its value when not given.
pub(crate) const UPDATES_LIMIT: RangeInclusive<i64> = 1..=100;

/// Telegram's own upload limit; axum's 2 MB default would reject legitimate documents.
pub(crate) const MAX_BODY_BYTES: usize = 50 << 20;

// Error descriptions, as Telegram words them. "Bad Request: " is prepended to the 400s.

pub(crate) const TEXT_TOO_LONG: &str = "message is too long";
pub(crate) const CAPTION_TOO_LONG: &str = "message caption is too long";
pub(crate) const TEXT_EMPTY: &str = "message text is empty";
pub(crate) const BUTTON_DATA_INVALID: &str = "BUTTON_DATA_INVALID";
pub(crate) const NOT_MODIFIED: &str = "message is not modified: specified new message content and \
     reply markup are exactly the same as a current content and reply markup of the message";
pub(crate) const NO_MESSAGE_ID: &str = "message identifier is not specified";
pub(crate) const NO_CHAT_ID: &str = "chat_id is empty";
pub(crate) const BLOCKED_BY_USER: &str = "Forbidden: bot was blocked by the user";
pub(crate) const KICKED_FROM_SUPERGROUP: &str =
    "Forbidden: bot was kicked from the supergroup chat";
pub(crate) const KICKED_FROM_GROUP: &str = "Forbidden: bot was kicked from the group chat";
pub(crate) const WEBHOOK_ACTIVE: &str = "Conflict: can't use getUpdates method while webhook is \
     active; use deleteWebhook to delete the webhook first";
pub(crate) const OTHER_POLLER: &str = "Conflict: terminated by other getUpdates request; make \
     sure that only one bot instance is running";
pub(crate) const METHOD_NOT_FOUND: &str = "Not Found: method not found";
