//! Handler tests on teloxide_tests' MockBot (which serialises its tests).

use jardam::config::Config;
use jardam::conversation::{Conversation, Knowledge};
use jardam::kb::{self, CheckOptions};
use jardam::telegram::{self, Deps};
use std::collections::HashMap;
use std::sync::Arc;
use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use teloxide_tests::{MockBot, MockCallbackQuery, MockMessageSticker, MockMessageText};

async fn deps() -> Deps {
    let (kb, _) = kb::load("dialogues".as_ref(), &CheckOptions::default()).unwrap();
    let store = jardam::storage::connect("sqlite::memory:").await.unwrap();
    Deps {
        conversation: Arc::new(Conversation::new(Knowledge::new(kb, &[]), store)),
        config: Arc::new(Config::from_vars(HashMap::new()).unwrap()),
    }
}

/// The production tree, with the mock's plain `Bot` wrapped in `Throttle` as in production.
fn tree() -> UpdateHandler<anyhow::Error> {
    dptree::entry()
        .map(|bot: Bot| bot.throttle(teloxide::adaptors::throttle::Limits::default()))
        .chain(telegram::schema())
}

#[tokio::test]
async fn start_shows_the_language_picker_and_free_text_is_answered() {
    let d = deps().await;
    let mut bot = MockBot::new(MockMessageText::new().text("/start"), tree());
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    let r = bot.get_responses();
    let msg = r.sent_messages.last().expect("a reply");
    assert!(msg.text().unwrap().contains("Choose your language"));
    assert!(msg.reply_markup().is_some());

    bot.update(MockMessageText::new().text("как встать на миграционный учет в Москве"));
    bot.dispatch().await;
    let r = bot.get_responses();
    let text = r.sent_messages.last().unwrap().text().unwrap().to_string();
    let k = d.conversation.knowledge();
    let title =
        k.kb.entry("stay.registration")
            .unwrap()
            .title
            .get(jardam::lang::Lang::Ru);
    assert!(text.contains(title.as_str()), "{text}");
}

#[tokio::test]
async fn stale_button_gets_a_fresh_menu_and_sticker_an_explanation() {
    let d = deps().await;
    let mut bot = MockBot::new(MockCallbackQuery::new().data("0:E:3"), tree());
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    let r = bot.get_responses();
    assert_eq!(r.answered_callback_queries.len(), 1);
    let k = d.conversation.knowledge();
    let out_of_date = k.kb.t("out_of_date", jardam::lang::Lang::Ru);
    let last = r
        .sent_messages
        .last()
        .map(|m| m.text().unwrap_or_default().to_string())
        .or_else(|| {
            r.edited_messages_text
                .last()
                .map(|e| e.message.text().unwrap_or_default().to_string())
        })
        .unwrap();
    assert!(last.starts_with(out_of_date), "{last}");

    bot.update(MockMessageSticker::new());
    bot.dispatch().await;
    let r = bot.get_responses();
    assert_eq!(
        r.sent_messages.last().unwrap().text().unwrap(),
        k.kb.t("non_text", jardam::lang::Lang::Ru)
    );
}

#[tokio::test]
async fn group_messages_are_ignored() {
    let d = deps().await;
    let group = teloxide::types::ChatId(-100_123);
    let mut bot = MockBot::new(
        MockMessageText::new()
            .text("как встать на учет")
            .chat(teloxide_tests::MockGroupChat::new().id(group.0).build()),
        tree(),
    );
    bot.dependencies(dptree::deps![d]);
    bot.dispatch().await;
    assert!(bot.get_responses().sent_messages.is_empty());
}
