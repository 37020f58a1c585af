//! Handler tests on teloxide_tests' MockBot (which serialises its tests).

use jardam::bot::{Conversation, Knowledge};
use jardam::config::Config;
use jardam::kb::{self, CheckOptions};
use jardam::telegram::limits::{DEFAULT_SEND_RATE, Limits};
use jardam::telegram::{self, Deps};
use std::collections::HashMap;
use std::sync::Arc;
use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use teloxide_tests::{MockBot, MockCallbackQuery, MockMessageSticker, MockMessageText};

/// Deps on a SQLite file. Not `:memory:`: MockBot runs each dispatch on a runtime of its own
/// and drops it afterwards, which can drop the pool's only connection, and with it an
/// in-memory database.
async fn deps() -> (Deps, tempfile::TempDir) {
    let (kb, _) = kb::load("dialogues".as_ref(), &CheckOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("bot.db").display());
    let store = jardam::storage::connect(&url).await.unwrap();
    let deps = Deps::new(
        Arc::new(Conversation::new(Knowledge::new(kb, &[]), store)),
        Arc::new(Config::from_vars(HashMap::new()).unwrap()),
    );
    (deps, dir)
}

/// The production tree, with the mock's plain `Bot` under Telegram's limits as in production.
fn tree() -> UpdateHandler<anyhow::Error> {
    dptree::entry()
        .map(|bot: Bot| telegram::TgBot::new(bot, Limits::telegram(DEFAULT_SEND_RATE)))
        .chain(telegram::schema())
}

#[tokio::test]
async fn start_shows_the_language_picker_and_free_text_is_answered() {
    let (d, _dir) = deps().await;
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
    let (d, _dir) = deps().await;
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
    let (d, _dir) = deps().await;
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

/// The text of the bot's last edit or, if none, its last sent message.
fn last_text(r: &teloxide_tests::server::Responses) -> String {
    r.edited_messages_text
        .last()
        .map(|e| e.message.text().unwrap_or_default().to_string())
        .or_else(|| {
            r.sent_messages
                .last()
                .map(|m| m.text().unwrap_or_default().to_string())
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn language_choice_menu_navigation_and_feedback_edit_in_place() {
    use jardam::lang::{Country, Lang};
    let (d, _dir) = deps().await;
    let k = d.conversation.knowledge();
    let v = format!("{:x}", k.kb.version);
    let chat = teloxide_tests::MockUser::ID as i64;

    let mut bot = MockBot::new(MockCallbackQuery::new().data(format!("{v}:L:en:o")), tree());
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    let r = bot.get_responses();
    assert_eq!(
        r.edited_messages_text.len(),
        1,
        "the picker is edited, not repeated"
    );
    assert!(last_text(&r).contains(k.kb.t("choose_country", Lang::En)));
    let p = d
        .conversation
        .store()
        .get_profile(chat)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.lang, Some(Lang::En));

    d.conversation
        .store()
        .save_profile(chat, Some(Lang::En), Some(Country::Ru))
        .await
        .unwrap();
    let work = k.kb.topics.iter().position(|t| t.id == "work").unwrap();
    bot.update(MockCallbackQuery::new().data(format!("{v}:T:{work}")));
    bot.dispatch().await;
    let r = bot.get_responses();
    assert_eq!(r.edited_messages_text.len(), 1);
    assert!(
        last_text(&r).contains("choose a question"),
        "{}",
        last_text(&r)
    );

    let permit = k.kb.entry_index("work.permit").unwrap();
    bot.update(MockCallbackQuery::new().data(format!("{v}:E:{permit}")));
    bot.dispatch().await;
    let r = bot.get_responses();
    let e = k.kb.entry("work.permit").unwrap();
    assert!(last_text(&r).contains(e.title.get(Lang::En).as_str()));

    bot.update(MockCallbackQuery::new().data(format!("{v}:F:{permit}:1")));
    bot.dispatch().await;
    let r = bot.get_responses();
    assert_eq!(last_text(&r), k.kb.t("feedback_thanks", Lang::En));
}

#[tokio::test]
async fn deep_link_opens_an_answer_and_unmet_questions_are_stored() {
    use jardam::lang::{Country, Lang};
    let (d, _dir) = deps().await;
    let k = d.conversation.knowledge();
    let chat = teloxide_tests::MockUser::ID as i64;
    d.conversation
        .store()
        .save_profile(chat, Some(Lang::Ru), Some(Country::Kz))
        .await
        .unwrap();

    let mut bot = MockBot::new(MockMessageText::new().text("/start stay_term"), tree());
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    let text = last_text(&bot.get_responses());
    let e = k.kb.entry("stay.term").unwrap();
    assert!(text.contains(e.title.get(Lang::Ru).as_str()), "{text}");

    let question = "где купить дешёвый авиабилет до Стамбула <script>";
    bot.update(MockMessageText::new().text(question));
    bot.dispatch().await;
    let text = last_text(&bot.get_responses());
    assert!(text.contains("№ 1") || text.contains(" 1 "), "{text}");
    let stored = d.conversation.store().question(1).await.unwrap().unwrap();
    assert_eq!(stored.text, question);
    assert_eq!(stored.chat_id, chat);
}

#[tokio::test]
async fn unsure_questions_offer_did_you_mean_buttons() {
    use jardam::lang::Lang;
    use jardam::matcher::Status;
    let (d, _dir) = deps().await;
    let k = d.conversation.knowledge();
    let chat = teloxide_tests::MockUser::ID as i64;
    d.conversation
        .store()
        .save_profile(chat, Some(Lang::Ru), None)
        .await
        .unwrap();
    // A question the matcher is unsure about, taken from the evaluation set.
    let eval = std::fs::read_to_string("tests/eval/dev.tsv").unwrap();
    let question = eval
        .lines()
        .filter_map(|l| l.split('\t').nth(3))
        .find(|q| k.matcher.ask(q, Some(Lang::Ru), None).status == Status::Clarify)
        .expect("some question needs clarifying");
    let mut bot = MockBot::new(MockMessageText::new().text(question), tree());
    bot.dependencies(dptree::deps![d]);
    bot.dispatch().await;
    let r = bot.get_responses();
    let sent = &r.sent_messages_text.last().unwrap().bot_request;
    assert_eq!(sent.text, k.kb.t("clarify", Lang::Ru));
    let Some(teloxide::types::ReplyMarkup::InlineKeyboard(markup)) = &sent.reply_markup else {
        panic!("an inline keyboard: {:?}", sent.reply_markup)
    };
    let labels: Vec<&str> = markup
        .inline_keyboard
        .iter()
        .flatten()
        .map(|b| b.text.as_str())
        .collect();
    assert!(
        labels.len() >= 3,
        "2–3 options and 'none of these': {labels:?}"
    );
    assert!(labels.contains(&k.kb.t("btn_none", Lang::Ru)), "{labels:?}");
}

#[tokio::test]
async fn a_flood_is_told_to_slow_down_once_and_every_message_is_still_answered() {
    let (d, _dir) = deps().await;
    let chat = teloxide_tests::MockUser::ID as i64;
    d.conversation
        .store()
        .save_profile(chat, Some(jardam::lang::Lang::En), None)
        .await
        .unwrap();
    let flood: Vec<MockMessageText> = (0..12)
        .map(|i| MockMessageText::new().text(format!("how do I register my address {i}")))
        .collect();
    let mut bot = MockBot::new(flood, tree());
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    let r = bot.get_responses();
    let k = d.conversation.knowledge();
    let slow = k.kb.t("slow_down", jardam::lang::Lang::En);
    let texts: Vec<&str> = r.sent_messages.iter().filter_map(|m| m.text()).collect();
    assert_eq!(
        texts.iter().filter(|t| **t == slow).count(),
        1,
        "warned once: {texts:?}"
    );
    assert_eq!(texts.len(), 13, "all twelve answered, none dropped");
}

#[tokio::test]
async fn a_guided_answer_runs_through_the_telegram_adapter() {
    use jardam::lang::{Country, Lang};
    let (d, _dir) = deps().await;
    let k = d.conversation.knowledge();
    let v = format!("{:x}", k.kb.version);
    let chat = teloxide_tests::MockUser::ID as i64;
    d.conversation
        .store()
        .save_profile(chat, Some(Lang::En), Some(Country::Ru))
        .await
        .unwrap();
    let ban = k.kb.entry_index("stay.ban-duration").unwrap();
    let mut bot = MockBot::new(
        MockCallbackQuery::new().data(format!("{v}:G:{ban}")),
        tree(),
    );
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    let r = bot.get_responses();
    let sent = r.sent_messages.last().expect("the first step");
    assert!(
        sent.text()
            .unwrap_or_default()
            .contains("ban on entering Russia"),
        "{sent:?}"
    );
    let markup = sent.reply_markup().expect("the causes as buttons");
    assert!(markup.inline_keyboard.len() >= 5, "{markup:?}");
    // The first cause (deported once), then the date typed as people type it.
    let start = k.kb.entries[ban].flow.as_ref().unwrap().start;
    bot.update(MockCallbackQuery::new().data(format!("{v}:H:{ban}:{start}:0")));
    bot.dispatch().await;
    assert!(last_text(&bot.get_responses()).contains("When did you leave Russia"));
    bot.update(MockMessageText::new().text("March 15, 2023"));
    bot.dispatch().await;
    let out = last_text(&bot.get_responses());
    assert!(out.contains("15.03.2028"), "{out}");
    assert!(out.contains("only an estimate"), "{out}");
}
