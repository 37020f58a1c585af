//! The expert workflow on teloxide_tests' MockBot: unmet question → post in the expert chat →
//! reply or "Answer with" → the person gets the answer; grouping, refusals, /export, /forget.

use jardam::bot::Conversation;
use jardam::config::Config;
use jardam::kb::{self, CheckOptions};
use jardam::lang::Lang;
use jardam::matcher::Status;
use jardam::storage::{Delivery, QuestionStatus};
use jardam::telegram::limits::{DEFAULT_SEND_RATE, Limits};
use jardam::telegram::{self, Deps};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButtonKind, Message};
use teloxide::utils::html::escape;
use teloxide_tests::{
    MockBot, MockCallbackQuery, MockMessageText, MockPrivateChat, MockSupergroupChat, MockUser,
};

pub(crate) const EXPERTS: i64 = -100_555_000;
pub(crate) const EXPERT_USER: u64 = 4242;
pub(crate) const USER: i64 = MockUser::ID as i64;

/// Deps on a SQLite file. Not `:memory:`: MockBot runs each dispatch on a runtime of its own
/// and drops it afterwards, which can drop the pool's only connection, and with it an
/// in-memory database.
pub(crate) async fn deps() -> (Deps, tempfile::TempDir) {
    let (kb, _) = kb::load("dialogues".as_ref(), &CheckOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("desk.db").display());
    let store = jardam::storage::connect(&url).await.unwrap();
    let vars = HashMap::from([
        ("JARDAM_EXPERT_CHAT".to_string(), EXPERTS.to_string()),
        ("JARDAM_EXPERT_LANG".to_string(), "en".to_string()),
    ]);
    let conversation = Conversation::load(kb, store).await.unwrap();
    // The person writes in Russian and has chosen it.
    for chat in [USER, 2, 3] {
        conversation
            .store()
            .save_profile(chat, Some(Lang::Ru), None)
            .await
            .unwrap();
    }
    let deps = Deps::new(
        Arc::new(conversation),
        Arc::new(Config::from_vars(vars).unwrap()),
    );
    (deps, dir)
}

pub(crate) fn tree() -> UpdateHandler<anyhow::Error> {
    dptree::entry()
        .map(|bot: Bot| telegram::TgBot::new(bot, Limits::telegram(DEFAULT_SEND_RATE)))
        .chain(telegram::schema())
}

/// A question the shipped FAQ does not cover, with at least one near entry for the buttons.
pub(crate) const UNMET: &str = "сколько стоит авиабилет из Оша в Москву в декабре";

pub(crate) fn expert() -> teloxide::types::User {
    MockUser::new()
        .id(EXPERT_USER)
        .first_name("Aida")
        .is_bot(false)
        .build()
}

pub(crate) fn in_expert_chat(text: &str) -> MockMessageText {
    MockMessageText::new()
        .text(text)
        .chat(MockSupergroupChat::new().id(EXPERTS).build())
        .from(expert())
}

pub(crate) fn from_user(chat: i64, text: &str) -> MockMessageText {
    MockMessageText::new()
        .text(text)
        .chat(MockPrivateChat::new().id(chat).build())
        .from(MockUser::new().id(chat as u64).build())
}

pub(crate) fn posts(r: &teloxide_tests::server::Responses) -> Vec<Message> {
    r.sent_messages
        .iter()
        .filter(|m| m.chat.id.0 == EXPERTS)
        .cloned()
        .collect()
}

pub(crate) fn to_chat(r: &teloxide_tests::server::Responses, chat: i64) -> Vec<String> {
    r.sent_messages
        .iter()
        .filter(|m| m.chat.id.0 == chat)
        .map(|m| m.text().unwrap_or_default().to_string())
        .collect()
}

/// The person asks `text`; an expert presses the first "Answer with" button of its post.
async fn ask_and_answer_with_first(d: &Deps, text: &str) -> Mock {
    let mut bot = MockBot::new(from_user(USER, text), tree());
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    let post = posts(&bot.get_responses()).pop().unwrap();
    press_as_expert(&mut bot, post, "Answer with ").await;
    bot
}

pub(crate) type Mock = MockBot<anyhow::Error, teloxide_tests::mock_bot::DistributionKey>;

/// An expert presses the button of `message` whose label contains `label_part`.
pub(crate) async fn press_as_expert(bot: &mut Mock, message: Message, label_part: &str) {
    let data = button_data(&message, label_part);
    bot.update(
        MockCallbackQuery::new()
            .data(data)
            .message(message)
            .from(expert()),
    );
    bot.dispatch().await;
}

pub(crate) fn button_data(m: &Message, label_part: &str) -> String {
    let markup = m.reply_markup().expect("buttons");
    for b in markup.inline_keyboard.iter().flatten() {
        if b.text.contains(label_part) {
            if let InlineKeyboardButtonKind::CallbackData(d) = &b.kind {
                return d.clone();
            }
        }
    }
    panic!("no button {label_part:?} in {markup:?}");
}

#[tokio::test]
async fn unmet_question_is_posted_and_the_expert_reply_reaches_the_person() {
    let (d, _dir) = deps().await;
    let k = d.conversation.knowledge();
    let r = k.matcher.ask(UNMET, Some(Lang::Ru), None);
    assert_eq!(r.status, Status::Unmet, "{r:?}");

    let mut bot = MockBot::new(from_user(USER, UNMET), tree());
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    let r = bot.get_responses();
    // Stored first, then posted: the person's acknowledgement carries the number.
    let ack = to_chat(&r, USER).pop().unwrap();
    assert!(ack.contains("1"), "{ack}");
    let post = posts(&r).pop().expect("a post in the expert chat");
    let text = post.text().unwrap();
    assert!(text.contains("Question No. 1"), "{text}");
    assert!(text.contains(UNMET), "{text}");
    // The country comes from the text (Москва), the language from the profile.
    assert!(
        text.contains("Русский") && text.contains("Russia"),
        "{text}"
    );
    button_data(&post, "Dismiss");
    let store = d.conversation.store();
    let q = store.question(1).await.unwrap().unwrap();
    assert_eq!(q.expert_message_id, Some(post.id.0));

    // A message that is not a reply is the experts' own talk: no answer from the bot.
    bot.update(in_expert_chat("who takes this one?"));
    bot.dispatch().await;
    assert!(bot.get_responses().sent_messages.is_empty());

    // The expert replies to the post.
    let answer = "Билеты дешевле за 2–3 месяца & на сайте <авиакомпании>.";
    bot.update(in_expert_chat(answer).reply_to_message(post.clone()));
    bot.dispatch().await;
    let r = bot.get_responses();
    let delivered = to_chat(&r, USER)
        .pop()
        .expect("the answer reaches the person");
    // MockBot shows the HTML as sent: the expert's text escaped, under the bold header.
    assert!(
        delivered.starts_with("<b>Ответ эксперта</b>\n\n"),
        "{delivered}"
    );
    assert!(
        delivered.contains(&escape(answer)),
        "exactly as written: {delivered}"
    );
    let confirm = to_chat(&r, EXPERTS).pop().unwrap();
    assert!(confirm.starts_with("✅"), "{confirm}");
    let q = store.question(1).await.unwrap().unwrap();
    assert_eq!(q.status, QuestionStatus::Answered);
    assert_eq!(q.delivery, Some(Delivery::Delivered));
    assert!(q.answered_by.unwrap().contains("Aida"));

    // A second reply to an answered question asks before sending again.
    bot.update(in_expert_chat("И ещё: проверьте багаж.").reply_to_message(post.clone()));
    bot.dispatch().await;
    let r = bot.get_responses();
    assert!(to_chat(&r, USER).is_empty(), "nothing sent without asking");
    let ask = r.sent_messages.last().unwrap().clone();
    assert!(ask.text().unwrap().contains("already answered"));
    press_as_expert(&mut bot, ask, "Send again").await;
    let r = bot.get_responses();
    assert_eq!(to_chat(&r, USER).first().unwrap(), "<b>Ответ эксперта</b>");
    assert_eq!(
        r.sent_messages
            .iter()
            .filter(|m| m.chat.id.0 == USER)
            .count(),
        2
    );

    // A reply to one of the bot's messages that is not a post, and an empty reply.
    let not_a_post = r.sent_messages.last().unwrap().clone();
    bot.update(in_expert_chat("hello").reply_to_message(not_a_post));
    bot.dispatch().await;
    let last = to_chat(&bot.get_responses(), EXPERTS).pop().unwrap();
    assert!(last.starts_with("This is not a question post"), "{last}");
}

#[tokio::test]
async fn answer_with_an_entry_teaches_the_matcher() {
    let (d, _dir) = deps().await;
    let k = d.conversation.knowledge();
    let r = k.matcher.ask(UNMET, Some(Lang::Ru), None);
    // An entry with one answer for every country (one with variants asks for the country).
    let near = r
        .candidates
        .iter()
        .find(|c| k.kb.entry(&c.entry).is_some_and(|e| e.answers.len() == 1))
        .expect("a near entry")
        .entry
        .clone();
    drop(k);

    let mut bot = MockBot::new(from_user(USER, UNMET), tree());
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    let post = posts(&bot.get_responses()).pop().unwrap();
    press_as_expert(&mut bot, post, &format!("Answer with {near}")).await;
    let r = bot.get_responses();
    let got = to_chat(&r, USER).pop().unwrap();
    assert!(got.starts_with("<b>Ответ эксперта</b>"), "{got}");
    let k = d.conversation.knowledge();
    let title = k.kb.entry(&near).unwrap().title.get(Lang::Ru).clone();
    assert!(got.contains(&title), "the FAQ answer of {near}: {got}");
    let confirm = to_chat(&r, EXPERTS).join("\n");
    assert!(
        confirm.contains("✅") && confirm.contains("new phrasing"),
        "{confirm}"
    );
    let learned = d.conversation.store().learned().await.unwrap();
    assert_eq!(learned, [(near.clone(), UNMET.to_string())]);

    // The next person asking the same is answered at once, without experts.
    bot.update(from_user(2, UNMET));
    bot.dispatch().await;
    let r = bot.get_responses();
    assert!(posts(&r).is_empty(), "not posted again");
    let answer = to_chat(&r, 2).pop().unwrap();
    assert!(answer.contains(&title), "{answer}");
}

#[tokio::test]
async fn the_same_question_from_several_people_is_one_post_and_one_answer() {
    let (d, _dir) = deps().await;
    let mut bot = MockBot::new(from_user(USER, UNMET), tree());
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    let post = posts(&bot.get_responses()).pop().unwrap();

    // Another person, other case and punctuation: the post is updated, not repeated.
    bot.update(from_user(2, &format!("{}??", UNMET.to_uppercase())));
    bot.dispatch().await;
    let r = bot.get_responses();
    assert!(posts(&r).is_empty(), "no second post");
    let edited = r.edited_messages_text.last().expect("the post is updated");
    assert_eq!(edited.message.id, post.id);
    assert!(
        edited.message.text().unwrap().contains("Asked by 2 people"),
        "{:?}",
        edited.message.text()
    );

    bot.update(in_expert_chat("Смотрите сайты авиакомпаний.").reply_to_message(post));
    bot.dispatch().await;
    let r = bot.get_responses();
    assert_eq!(to_chat(&r, USER).len(), 1);
    assert_eq!(to_chat(&r, 2).len(), 1);
    assert!(to_chat(&r, EXPERTS).pop().unwrap().contains("2 person(s)"));
    let store = d.conversation.store();
    for id in [1, 2] {
        let q = store.question(id).await.unwrap().unwrap();
        assert_eq!(
            (q.status, q.delivery),
            (QuestionStatus::Answered, Some(Delivery::Delivered))
        );
    }
}

#[tokio::test]
async fn questions_that_differ_in_a_number_are_never_one_post() {
    let (d, _dir) = deps().await;
    let first = format!("{UNMET}, мой номер дела 1100 паспорт AN7755");
    let second = format!("{UNMET}, мой номер дела 10 паспорт AN75");
    let mut bot = MockBot::new(from_user(USER, &first), tree());
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    let post1 = posts(&bot.get_responses()).pop().unwrap();
    bot.update(from_user(2, &second));
    bot.dispatch().await;
    let r = bot.get_responses();
    let post2 = posts(&r).pop().expect("a post of its own");
    assert_ne!(post1.id, post2.id);
    assert!(!post2.text().unwrap().contains("Asked by 2"));

    // A personal answer to the first reaches the first person only.
    bot.update(in_expert_chat("Ваше дело 1100 (паспорт AN7755) закрыто.").reply_to_message(post1));
    bot.dispatch().await;
    let r = bot.get_responses();
    assert_eq!(to_chat(&r, USER).len(), 1);
    assert!(to_chat(&r, 2).is_empty(), "the other person gets nothing");
    let store = d.conversation.store();
    assert_eq!(
        store.question(2).await.unwrap().unwrap().status,
        QuestionStatus::Open
    );
}

#[tokio::test]
async fn expert_commands_are_refused_to_others_and_forged_buttons_do_nothing() {
    let (d, _dir) = deps().await;
    let mut bot = MockBot::new(from_user(USER, UNMET), tree());
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;

    bot.update(from_user(USER, "/queue"));
    bot.dispatch().await;
    let r = bot.get_responses();
    let k = d.conversation.knowledge();
    assert_eq!(
        to_chat(&r, USER).pop().unwrap(),
        k.kb.t("expert_only", Lang::Ru)
    );

    // A forged "Dismiss" pressed in the user's own chat.
    let own = r.sent_messages.last().unwrap().clone();
    bot.update(
        MockCallbackQuery::new()
            .data("x:D:1")
            .message(own)
            .from(MockUser::new().build()),
    );
    bot.dispatch().await;
    let r = bot.get_responses();
    assert_eq!(
        r.answered_callback_queries.last().unwrap().text.as_deref(),
        Some(k.kb.t("expert_only", Lang::En))
    );
    let q = d.conversation.store().question(1).await.unwrap().unwrap();
    assert_eq!(q.status, QuestionStatus::Open);

    // In the expert chat, /queue lists it.
    bot.update(in_expert_chat("/queue"));
    bot.dispatch().await;
    let list = to_chat(&bot.get_responses(), EXPERTS).pop().unwrap();
    assert!(
        list.contains("Open questions (1)") && list.contains(UNMET),
        "{list}"
    );
}

#[tokio::test]
async fn export_is_a_csv_without_chat_ids_and_forget_removes_the_question() {
    let (d, _dir) = deps().await;
    let hostile = "<b>&amp; '; DROP TABLE questions; --\u{200b} *bold*";
    let mut bot = MockBot::new(from_user(USER, hostile), tree());
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    let post = posts(&bot.get_responses()).pop().unwrap();
    assert!(
        post.text().unwrap().contains(&escape(hostile)),
        "shown exactly, escaped"
    );

    bot.update(in_expert_chat("/export"));
    bot.dispatch().await;
    let r = bot.get_responses();
    let doc = r.sent_messages_document.last().expect("a CSV document");
    assert!(doc.bot_request.file_name.ends_with(".csv"));
    let csv = &doc.bot_request.file_data;
    assert!(csv.starts_with("id,lang,country,status,created_at,answered_at,text"));
    assert!(!csv.contains(&USER.to_string()), "no chat ids: {csv}");
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let row = rows.records().next().unwrap().unwrap();
    assert_eq!(&row[3], "open");
    assert_eq!(&row[6], hostile);

    bot.update(in_expert_chat("/export yesterday"));
    bot.dispatch().await;
    let usage = to_chat(&bot.get_responses(), EXPERTS).pop().unwrap();
    assert!(usage.starts_with("Usage: /export"), "{usage}");

    // The person deletes their data; the post then leads nowhere.
    let k = d.conversation.knowledge();
    let v = format!("{:x}", k.kb.version);
    bot.update(
        MockCallbackQuery::new()
            .data(format!("{v}:D:y"))
            .message(MockMessageText::new().text("?").build()),
    );
    bot.dispatch().await;
    assert_eq!(d.conversation.store().question(1).await.unwrap(), None);
    bot.update(in_expert_chat("answer").reply_to_message(post));
    bot.dispatch().await;
    let r = bot.get_responses();
    assert!(to_chat(&r, USER).is_empty());
    assert!(
        to_chat(&r, EXPERTS)
            .pop()
            .unwrap()
            .starts_with("This is not a question post")
    );
}

#[tokio::test]
async fn dismiss_closes_the_question_and_urgent_cases_are_pinned() {
    let (d, _dir) = deps().await;
    let mut bot = MockBot::new(from_user(USER, UNMET), tree());
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    let post = posts(&bot.get_responses()).pop().unwrap();
    press_as_expert(&mut bot, post, "Dismiss").await;
    let r = bot.get_responses();
    assert_eq!(
        to_chat(&r, EXPERTS).pop().unwrap(),
        "Question No. 1 dismissed."
    );
    assert!(to_chat(&r, USER).is_empty());
    let store = d.conversation.store();
    assert_eq!(
        store.question(1).await.unwrap().unwrap().status,
        QuestionStatus::Dismissed
    );

    // "Talk to a person now" on a safety answer: an URGENT post, pinned, first in /queue.
    let k = d.conversation.knowledge();
    let i = k.kb.entries.iter().position(|e| e.urgent).unwrap();
    let v = format!("{:x}", k.kb.version);
    bot.update(
        MockCallbackQuery::new()
            .data(format!("{v}:U:{i}"))
            .message(MockMessageText::new().text("?").build()),
    );
    bot.dispatch().await;
    let r = bot.get_responses();
    let urgent = posts(&r).pop().expect("an urgent post");
    assert!(urgent.text().unwrap().contains("URGENT"));
    assert_eq!(r.pinned_chat_messages.len(), 1);
    bot.update(from_user(2, UNMET));
    bot.dispatch().await;
    bot.update(in_expert_chat("/queue"));
    bot.dispatch().await;
    let list = to_chat(&bot.get_responses(), EXPERTS).pop().unwrap();
    let urgent_at = list.find("🆘").expect("urgent listed");
    assert!(
        urgent_at < list.find(UNMET).unwrap(),
        "urgent first: {list}"
    );
}

#[tokio::test]
async fn a_voice_question_is_copied_to_the_experts_and_answered_by_reply() {
    let (d, _dir) = deps().await;
    let voice = teloxide_tests::MockMessageVoice::new()
        .chat(MockPrivateChat::new().id(USER).build())
        .from(MockUser::new().id(USER as u64).build());
    let mut bot = MockBot::new(voice, tree());
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    let r = bot.get_responses();
    let copy = r
        .copied_messages
        .last()
        .expect("the voice message is copied");
    assert_eq!(copy.bot_request.from_chat_id.id(), USER);
    let caption = copy.bot_request.caption.clone().unwrap();
    assert!(
        caption.contains("Question No. 1") && caption.contains("voice"),
        "{caption}"
    );
    let post = posts(&r).pop().unwrap();
    assert_eq!(post.id, copy.message_id);
    // No "Answer with" and no template for a voice message: there is no text to learn from,
    // and a template answers a written question. "I'll answer" and "Dismiss" stay.
    let buttons = post.reply_markup().unwrap().inline_keyboard.concat();
    let labels: Vec<&str> = buttons.iter().map(|b| b.text.as_str()).collect();
    assert_eq!(labels, ["✋ I'll answer", "Dismiss"]);

    bot.update(in_expert_chat("Позвоните в посольство.").reply_to_message(post));
    bot.dispatch().await;
    let got = to_chat(&bot.get_responses(), USER).pop().unwrap();
    assert!(got.contains("Позвоните в посольство."), "{got}");
}

#[tokio::test]
async fn a_dismissed_question_can_still_be_answered_and_long_texts_reach_experts_whole() {
    let (d, _dir) = deps().await;
    // 4,096 characters with markup and a zero-width space: stored and shown exactly.
    let long: String = "<я&>\u{200b}ab ".repeat(512);
    assert_eq!(long.chars().count(), 4096);
    // Through "Ask an expert", so that the matcher does not decide where it goes.
    let v = format!("{:x}", d.conversation.knowledge().kb.version);
    let mut bot = MockBot::new(
        MockCallbackQuery::new()
            .data(format!("{v}:X:0"))
            .message(MockMessageText::new().text("?").build()),
        tree(),
    );
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    bot.update(from_user(USER, &long));
    bot.dispatch().await;
    let r = bot.get_responses();
    let sent = posts(&r);
    // The full text first, as plain text (no parse mode), then the post with a preview.
    assert!(sent.len() >= 2, "{}", sent.len());
    let whole: String = sent[..sent.len() - 1]
        .iter()
        .map(|m| m.text().unwrap().to_string())
        .collect();
    assert_eq!(whole, long);
    let post = sent.last().unwrap().clone();
    assert!(post.text().unwrap().contains("(full text above)"));
    let store = d.conversation.store();
    assert_eq!(store.question(1).await.unwrap().unwrap().text, long);

    press_as_expert(&mut bot, post.clone(), "Dismiss").await;
    bot.update(in_expert_chat("Sorry, one more thing.").reply_to_message(post));
    bot.dispatch().await;
    let r = bot.get_responses();
    assert!(to_chat(&r, USER).pop().unwrap().contains("one more thing"));
    assert_eq!(
        store.question(1).await.unwrap().unwrap().status,
        QuestionStatus::Answered
    );
}

#[tokio::test]
async fn listed_experts_use_the_commands_privately() {
    let (base, _dir) = deps().await;
    // The same bot, with user 77 listed in JARDAM_EXPERTS.
    let vars = HashMap::from([
        ("JARDAM_EXPERT_CHAT".to_string(), EXPERTS.to_string()),
        ("JARDAM_EXPERT_LANG".to_string(), "en".to_string()),
        ("JARDAM_EXPERTS".to_string(), "77, 78".to_string()),
    ]);
    let d = Deps::new(
        base.conversation.clone(),
        Arc::new(Config::from_vars(vars).unwrap()),
    );
    d.conversation
        .store()
        .add_learned("прописка кайда", "stay.registration", "Aida (4242)", None)
        .await
        .unwrap();
    let mut bot = MockBot::new(from_user(77, "/stats"), tree());
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    let stats = to_chat(&bot.get_responses(), 77).join("\n");
    assert!(
        stats.contains("last 7 days") && stats.contains("last 30 days"),
        "{stats}"
    );

    bot.update(from_user(77, "/learned"));
    bot.dispatch().await;
    let learned = to_chat(&bot.get_responses(), 77).pop().unwrap();
    assert!(
        learned.contains("stay.registration") && learned.contains("прописка кайда"),
        "{learned}"
    );

    bot.update(from_user(77, "/reload"));
    bot.dispatch().await;
    let reloaded = to_chat(&bot.get_responses(), 77).pop().unwrap();
    let entries = d.conversation.knowledge().kb.entries.len();
    assert_eq!(
        reloaded,
        format!("Knowledge base reloaded: {entries} entries.")
    );
    // The learned phrasing survives the reload.
    let r = d
        .conversation
        .knowledge()
        .matcher
        .ask("прописка кайда", Some(Lang::Ky), None);
    assert_eq!(r.entry.as_deref(), Some("stay.registration"));

    // A broken knowledge base is refused with the check's messages; the old one stays.
    let broken = tempfile::tempdir().unwrap();
    copy_dir(std::path::Path::new("dialogues"), broken.path());
    let topics = broken.path().join("topics.toml");
    std::fs::write(&topics, "this is [not toml").unwrap();
    let vars = HashMap::from([
        ("JARDAM_EXPERTS".to_string(), "77".to_string()),
        (
            "JARDAM_DIALOGUES".to_string(),
            broken.path().display().to_string(),
        ),
    ]);
    let version = d.conversation.knowledge().kb.version;
    let b = Deps::new(
        d.conversation.clone(),
        Arc::new(Config::from_vars(vars).unwrap()),
    );
    bot.dependencies(dptree::deps![b]);
    bot.update(from_user(77, "/reload"));
    bot.dispatch().await;
    let refused = to_chat(&bot.get_responses(), 77).pop().unwrap();
    let failed = d
        .conversation
        .knowledge()
        .kb
        .t("expert_reload_failed", Lang::Ru)
        .to_string();
    assert!(refused.starts_with(&failed), "{refused}");
    assert!(
        refused.contains("topics.toml:1:"),
        "file:line as `check` says: {refused}"
    );
    assert_eq!(d.conversation.knowledge().kb.version, version);
    bot.dependencies(dptree::deps![d.clone()]);

    // Someone not on the list is refused, in their own language.
    bot.update(from_user(2, "/export"));
    bot.dispatch().await;
    let k = d.conversation.knowledge();
    assert_eq!(
        to_chat(&bot.get_responses(), 2).pop().unwrap(),
        k.kb.t("expert_only", Lang::Ru)
    );
}

pub(crate) fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn one_persons_many_questions_join_their_newest_post_past_the_cap() {
    use jardam::bot::desk::MAX_OPEN_POSTS_PER_PERSON;
    let (d, _dir) = deps().await;
    // Each differs in a number, so none groups with another by its wording.
    let texts: Vec<String> = (1..=7).map(|i| format!("{UNMET}, вопрос {i}")).collect();
    let mut bot = MockBot::new(from_user(USER, &texts[0]), tree());
    bot.dependencies(dptree::deps![d.clone()]);
    bot.dispatch().await;
    let mut all_posts = posts(&bot.get_responses());
    for t in &texts[1..] {
        bot.update(from_user(USER, t));
        bot.dispatch().await;
        all_posts.extend(posts(&bot.get_responses()));
    }
    let store = d.conversation.store();
    let mut ids = HashSet::new();
    for id in 1..=texts.len() as i64 {
        let q = store.question(id).await.unwrap().unwrap();
        ids.insert(q.expert_message_id.expect("every question is in a post"));
    }
    assert_eq!(ids.len(), MAX_OPEN_POSTS_PER_PERSON, "{ids:?}");
    let last = store.question(texts.len() as i64).await.unwrap().unwrap();
    let joined = store
        .posted_as(
            last.expert_chat_id.unwrap(),
            last.expert_message_id.unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(joined.len(), texts.len() - MAX_OPEN_POSTS_PER_PERSON + 1);

    // Another person's question is never joined to theirs.
    bot.update(from_user(2, &format!("{UNMET}, вопрос 99")));
    bot.dispatch().await;
    let theirs = store
        .question(texts.len() as i64 + 1)
        .await
        .unwrap()
        .unwrap();
    assert!(!ids.contains(&theirs.expert_message_id.unwrap()));

    // One reply to the joined post answers the person once, and all its questions.
    let post = all_posts
        .iter()
        .find(|m| m.id.0 == last.expert_message_id.unwrap())
        .expect("the joined post")
        .clone();
    bot.update(in_expert_chat("Ответ на все ваши вопросы.").reply_to_message(post));
    bot.dispatch().await;
    let r = bot.get_responses();
    assert_eq!(to_chat(&r, USER).len(), 1, "{:?}", to_chat(&r, USER));
    for q in joined {
        let q = store.question(q.id).await.unwrap().unwrap();
        assert_eq!(q.status, QuestionStatus::Answered);
    }
}

#[tokio::test]
async fn answer_with_teaches_the_question_without_phone_numbers_documents_or_names() {
    let (d, _dir) = deps().await;
    let text = format!(
        "{UNMET}? Меня зовут Нургуль Асанова, мой номер +996 555 123 456, паспорт AN1234567"
    );
    ask_and_answer_with_first(&d, &text).await;
    let learned = d.conversation.store().learned().await.unwrap();
    assert_eq!(learned.len(), 1, "{learned:?}");
    let taught = &learned[0].1;
    for personal in ["Нургуль", "Асанова", "555", "123", "AN1234567", "996"] {
        assert!(!taught.contains(personal), "{personal} in {taught}");
    }
    assert!(
        taught.starts_with(UNMET),
        "the question itself is kept: {taught}"
    );
}

#[tokio::test]
async fn thirty_presses_of_talk_to_a_person_make_one_urgent_post_and_one_pin() {
    let (d, _dir) = deps().await;
    let k = d.conversation.knowledge();
    let i = k.kb.entries.iter().position(|e| e.urgent).unwrap();
    let press = MockCallbackQuery::new()
        .data(format!("{:x}:U:{i}", k.kb.version))
        .message(MockMessageText::new().text("?").build());
    drop(k);
    let mut bot = MockBot::new(press.clone(), tree());
    bot.dependencies(dptree::deps![d.clone()]);
    let (mut urgent_posts, mut pins, mut told_open) = (0, 0, 0);
    for n in 0..30 {
        if n > 0 {
            bot.update(press.clone());
        }
        bot.dispatch().await;
        let r = bot.get_responses();
        urgent_posts += posts(&r)
            .iter()
            .filter(|m| m.text().is_some_and(|t| t.contains("URGENT")))
            .count();
        pins += r.pinned_chat_messages.len();
        told_open += r
            .sent_messages
            .iter()
            .filter_map(|m| m.text())
            .filter(|t| t.contains("уже у экспертов"))
            .count();
    }
    assert_eq!((urgent_posts, pins), (1, 1), "one urgent post, pinned once");
    assert!(
        told_open >= 29,
        "the further presses are told it is with the experts ({told_open})"
    );
    let open = d.conversation.store().open_questions(100, 0).await.unwrap();
    assert_eq!(open.iter().filter(|q| q.urgent).count(), 1);
}

#[tokio::test]
async fn forget_after_answer_with_leaves_the_phone_number_nowhere_in_the_database_file() {
    let (d, dir) = deps().await;
    let text = format!("{UNMET}, мой телефон +996 700 918 273, звоните вечером");
    let mut bot = ask_and_answer_with_first(&d, &text).await;
    assert_eq!(d.conversation.store().learned().await.unwrap().len(), 1);
    let v = format!("{:x}", d.conversation.knowledge().kb.version);
    bot.update(
        MockCallbackQuery::new()
            .data(format!("{v}:D:y"))
            .message(MockMessageText::new().text("?").build()),
    );
    bot.dispatch().await;
    let store = d.conversation.store();
    assert!(
        store.learned().await.unwrap().is_empty(),
        "the taught phrasing is gone"
    );
    store.close().await;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        // The log files may go away as the pool closes: a file that is gone holds nothing.
        let Ok(bytes) = std::fs::read(&path) else {
            assert!(!path.exists(), "{} cannot be read", path.display());
            continue;
        };
        let raw = String::from_utf8_lossy(&bytes).into_owned();
        for trace in ["918 273", "звоните вечером"] {
            assert!(
                !raw.contains(trace),
                "{trace} is still in {}",
                path.display()
            );
        }
    }
}
