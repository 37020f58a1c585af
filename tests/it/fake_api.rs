//! Tests of the fake Bot API itself, driven by a real teloxide `Bot`: if teloxide cannot parse
//! what the fake returns, every end-to-end test built on it would be meaningless.

use std::time::{Duration, Instant};

use fake_bot_api::{FakeBotApi, Fault, Outcome};
use serde_json::{Value, json};
use teloxide::{
    ApiError, RequestError,
    prelude::*,
    types::{
        BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, MessageEntityKind,
        MessageId, ParseMode, UpdateKind,
    },
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(5);

fn keyboard(data: &str) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(vec![vec![
        InlineKeyboardButton::callback("Yes", data),
        InlineKeyboardButton::url("Docs", url::Url::parse("https://example.com/").unwrap()),
    ]])
}

/// A hand-written HTTP/1.1 exchange, for what teloxide never sends (GET, urlencoded, typos).
async fn raw_http(fake: &FakeBotApi, head: &str, content_type: &str, body: &str) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(fake.addr()).await.unwrap();
    let request = format!(
        "{head} HTTP/1.1\r\nHost: fake\r\nConnection: close\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    (status, serde_json::from_str(body).unwrap())
}

#[tokio::test]
async fn get_me_reports_the_bot() {
    let fake = FakeBotApi::start().await;
    let me = fake.bot().get_me().await.unwrap();
    assert_eq!(me.username(), "jardam_test_bot");
    assert_eq!(
        me.id.0, 123456,
        "the id comes from the token, as on Telegram"
    );

    fake.set_bot_username("other_bot");
    assert_eq!(fake.bot().get_me().await.unwrap().username(), "other_bot");
    assert_eq!(fake.calls_of("getMe").len(), 2);
    assert_eq!(
        fake.calls_of("GETME").len(),
        2,
        "method names are case-insensitive"
    );
    fake.shutdown().await;
}

#[tokio::test]
async fn send_message_with_inline_keyboard_round_trips() {
    let fake = FakeBotApi::start().await;
    let bot = fake.bot();
    let kb = keyboard("ans:yes");
    let first = bot
        .send_message(ChatId(42), "<b>Hi</b> &amp; welcome")
        .parse_mode(ParseMode::Html)
        .reply_markup(kb.clone())
        .await
        .unwrap();
    assert_eq!(first.text(), Some("Hi & welcome"), "markup is parsed away");
    assert_eq!(first.reply_markup(), Some(&kb));
    assert_eq!(first.chat.id, ChatId(42));
    assert!(first.chat.is_private());
    assert!(first.from.as_ref().unwrap().is_bot);

    let second = bot.send_message(ChatId(42), "again").await.unwrap();
    assert!(second.id.0 > first.id.0);
    assert!(second.reply_markup().is_none());

    let calls = fake.calls_of("sendMessage");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].chat_id(), Some(42));
    assert_eq!(
        calls[0].body["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
        "ans:yes"
    );
    assert_eq!(fake.sent_to(42), ["<b>Hi</b> &amp; welcome", "again"]);
    assert!(fake.sent_to(43).is_empty());

    fake.clear();
    assert!(fake.calls().is_empty());
    assert_eq!(
        fake.messages(42).len(),
        2,
        "clear() forgets calls, not messages"
    );
    fake.shutdown().await;
}

#[tokio::test]
async fn edits_return_the_edited_message() {
    let fake = FakeBotApi::start().await;
    let bot = fake.bot();
    let sent = bot
        .send_message(ChatId(7), "Question?")
        .reply_markup(keyboard("q"))
        .await
        .unwrap();

    let edited = bot
        .edit_message_text(ChatId(7), sent.id, "Answered")
        .await
        .unwrap();
    assert_eq!(edited.id, sent.id);
    assert_eq!(edited.text(), Some("Answered"));
    assert!(edited.edit_date().is_some());
    assert!(
        edited.reply_markup().is_none(),
        "an edit without markup drops the keyboard"
    );

    let same = bot.edit_message_text(ChatId(7), sent.id, "Answered").await;
    assert!(
        matches!(same, Err(RequestError::Api(ApiError::MessageNotModified))),
        "{same:?}"
    );

    let kb = keyboard("again");
    let remarked = bot
        .edit_message_reply_markup(ChatId(7), sent.id)
        .reply_markup(kb.clone())
        .await
        .unwrap();
    assert_eq!(remarked.reply_markup(), Some(&kb));
    assert_eq!(remarked.text(), Some("Answered"));

    assert_eq!(
        fake.sent_to(7),
        ["Question?", "Answered"],
        "failed edits are not sent"
    );
    fake.shutdown().await;
}

#[tokio::test]
async fn get_updates_long_polls_and_honours_offset() {
    let fake = FakeBotApi::start().await;
    let bot = fake.bot();

    let poll = tokio::spawn({
        let bot = bot.clone();
        async move {
            let started = Instant::now();
            let updates = bot.get_updates().timeout(5).await.unwrap();
            (updates, started.elapsed())
        }
    });
    fake.wait_calls("getUpdates", 1, WAIT).await.unwrap();
    let id = fake.push_update(fake.text_message(42, 42, "hello"));
    let (updates, waited) = poll.await.unwrap();
    assert!(
        waited < Duration::from_secs(2),
        "answered on push, not on timeout"
    );
    assert_eq!(updates.len(), 1);
    assert_eq!(i64::from(updates[0].id.0), id);

    // Unconfirmed updates are delivered again, as on Telegram.
    assert_eq!(fake.pending_updates().len(), 1);
    assert_eq!(bot.get_updates().await.unwrap().len(), 1);

    let offset = updates[0].id.as_offset();
    let started = Instant::now();
    let rest = bot.get_updates().offset(offset).timeout(1).await.unwrap();
    assert!(rest.is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "timeout is honoured"
    );
    assert_eq!(fake.confirmed_offset(), id + 1);
    assert!(fake.pending_updates().is_empty());

    for text in ["a", "b", "c"] {
        fake.push_update(fake.text_message(42, 42, text));
    }
    let two = bot.get_updates().offset(offset).limit(2).await.unwrap();
    assert_eq!(two.len(), 2);
    assert!(two[0].id.0 < two[1].id.0);
    fake.shutdown().await;
}

#[tokio::test]
async fn update_builders_parse_as_teloxide_updates() {
    let fake = FakeBotApi::start().await;
    let bot = fake.bot();
    let sent = bot
        .send_message(ChatId(5), "Pick")
        .reply_markup(keyboard("pick:1"))
        .await
        .unwrap();

    fake.push_update(fake.text_message(5, 5, "/start ky"));
    fake.push_update(fake.group_message(300, 5, "hi all"));
    fake.push_update(fake.text_message(-1_001_234_567_890, 5, "hi super"));
    fake.push_update(fake.voice_message(5, 5, 7));
    fake.push_update(fake.photo_message(5, 5, Some("my permit")));
    fake.push_update(fake.callback(5, 5, sent.id.0, "pick:1"));
    fake.push_update(fake.callback(5, 5, 9_999, "unknown message"));
    fake.push_update(fake.inline_query(5, "patent"));
    let updates = bot.get_updates().await.unwrap();
    assert_eq!(updates.len(), 8);
    let kinds: Vec<_> = updates.into_iter().map(|u| u.kind).collect();

    let UpdateKind::Message(m) = &kinds[0] else {
        panic!("{:?}", kinds[0])
    };
    assert_eq!(m.text(), Some("/start ky"));
    assert_eq!(m.entities().unwrap()[0].kind, MessageEntityKind::BotCommand);
    assert!(
        m.id.0 > sent.id.0,
        "users' and the bot's messages share a chat's id sequence"
    );
    let UpdateKind::Message(m) = &kinds[1] else {
        panic!("{:?}", kinds[1])
    };
    assert!(m.chat.is_group());
    assert_eq!(m.chat.id, ChatId(-300));
    let UpdateKind::Message(m) = &kinds[2] else {
        panic!("{:?}", kinds[2])
    };
    assert!(m.chat.is_supergroup());
    let UpdateKind::Message(m) = &kinds[3] else {
        panic!("{:?}", kinds[3])
    };
    assert_eq!(m.voice().unwrap().duration.seconds(), 7);
    let UpdateKind::Message(m) = &kinds[4] else {
        panic!("{:?}", kinds[4])
    };
    assert_eq!(m.photo().unwrap().len(), 2);
    assert_eq!(m.caption(), Some("my permit"));
    let UpdateKind::CallbackQuery(q) = &kinds[5] else {
        panic!("{:?}", kinds[5])
    };
    assert_eq!(q.data.as_deref(), Some("pick:1"));
    let message = q.regular_message().unwrap();
    assert_eq!(message.text(), Some("Pick"), "the real message is attached");
    assert!(message.reply_markup().is_some());
    let UpdateKind::CallbackQuery(q) = &kinds[6] else {
        panic!("{:?}", kinds[6])
    };
    assert_eq!(q.regular_message().unwrap().id, MessageId(9_999));
    let UpdateKind::InlineQuery(q) = &kinds[7] else {
        panic!("{:?}", kinds[7])
    };
    assert_eq!(q.query, "patent");
    fake.shutdown().await;
}

#[tokio::test]
async fn dispatcher_echoes_through_the_fake() {
    let fake = FakeBotApi::start().await;
    let handler = Update::filter_message().endpoint(|bot: Bot, msg: Message| async move {
        let text = format!("echo: {}", msg.text().unwrap_or_default());
        bot.send_message(msg.chat.id, text).await?;
        respond(())
    });
    let mut dispatcher = Dispatcher::builder(fake.bot(), handler).build();
    let shutdown = dispatcher.shutdown_token();
    let running = tokio::spawn(async move { dispatcher.dispatch().await });

    fake.push_update(fake.text_message(42, 42, "salam"));
    let reply = fake
        .wait_for(
            |c| c.method == "sendMessage" && c.chat_id() == Some(42),
            WAIT,
        )
        .await
        .expect("the dispatcher answered");
    assert_eq!(reply.text(), Some("echo: salam"));

    let stopping = Instant::now();
    shutdown
        .shutdown()
        .expect("the dispatcher is running")
        .await;
    running.await.unwrap();
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "shutdown does not wait out the long poll"
    );
    assert!(
        fake.wait_drained(WAIT).await,
        "the stop poll confirms the update"
    );
    assert_eq!(fake.calls_of("getMe").len(), 1);
    fake.shutdown().await;
}

#[tokio::test]
async fn too_many_requests_is_a_retry_after_error() {
    let fake = FakeBotApi::start().await;
    let bot = fake.bot();
    fake.fail_next("sendMessage", 1, Fault::TooManyRequests { retry_after: 3 });

    let err = bot.send_message(ChatId(1), "x").await.unwrap_err();
    assert!(
        matches!(err, RequestError::RetryAfter(s) if s.seconds() == 3),
        "{err:?}"
    );
    bot.send_message(ChatId(1), "x").await.unwrap();
    let outcomes: Vec<_> = fake.calls().iter().map(|c| c.outcome).collect();
    assert_eq!(outcomes, [Outcome::Error(429), Outcome::Ok]);
    assert_eq!(fake.sent_to(1), ["x"]);
    fake.shutdown().await;
}

#[tokio::test]
async fn blocked_chat_is_forbidden() {
    let fake = FakeBotApi::start().await;
    let bot = fake.bot();
    fake.block_chat(99);

    let err = bot.send_message(ChatId(99), "hi").await.unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::BotBlocked)),
        "{err:?}"
    );
    assert!(fake.sent_to(99).is_empty());
    bot.send_message(ChatId(100), "hi").await.unwrap();

    fake.unblock_chat(99);
    bot.send_message(ChatId(99), "hi").await.unwrap();
    fake.shutdown().await;
}

#[tokio::test]
async fn dropped_and_delayed_calls() {
    let fake = FakeBotApi::start().await;
    let bot = fake.bot();

    fake.fail_next("*", 1, Fault::Drop);
    let err = bot.get_me().await.unwrap_err();
    assert!(matches!(err, RequestError::Network(_)), "{err:?}");
    bot.get_me().await.unwrap();
    assert_eq!(fake.calls()[0].outcome, Outcome::Dropped);

    fake.fail_next("getMe", 1, Fault::Delay(Duration::from_millis(300)));
    let started = Instant::now();
    bot.get_me().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));

    // teloxide sleeps 10 s after a 5xx, so the server error is checked over raw HTTP.
    fake.fail_next("getMe", 1, Fault::ServerError);
    let (status, body) = raw_http(&fake, "POST /bot1:T/getMe", "application/json", "{}").await;
    assert_eq!(status, 500);
    assert_eq!(body["ok"], false);
    fake.shutdown().await;
}

#[tokio::test]
async fn raw_http_transports_and_unknown_methods() {
    let fake = FakeBotApi::start().await;
    let (status, body) =
        raw_http(&fake, "POST /bot1:T/noSuchMethod", "application/json", "{}").await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"ok": false, "error_code": 404, "description": "Not Found: method not found"})
    );

    let (status, body) = raw_http(&fake, "GET /bot1:T/sendMessage?chat_id=5&text=hi", "", "").await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["chat"]["id"], 5);

    let form = "chat_id=6&text=caf%C3%A9";
    let (status, body) = raw_http(
        &fake,
        "POST /bot1:T/sendMessage",
        "application/x-www-form-urlencoded",
        form,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["text"], "café");
    assert_eq!(fake.sent_to(6), ["café"]);

    let (status, _) = raw_http(&fake, "POST /nobot/getMe", "application/json", "{}").await;
    assert_eq!(status, 404);
    let (status, body) = raw_http(&fake, "POST /bot1:T/getMe", "application/json", "{oops").await;
    assert_eq!(status, 400);
    assert_eq!(body["ok"], false);
    fake.shutdown().await;
}

#[tokio::test]
async fn send_document_multipart_is_recorded() {
    let fake = FakeBotApi::start().await;
    let bot = fake.bot();
    let file = InputFile::memory(b"hello".as_slice()).file_name("faq.txt");
    let msg = bot
        .send_document(ChatId(5), file)
        .caption("The FAQ")
        .reply_markup(keyboard("doc"))
        .await
        .unwrap();
    assert_eq!(
        msg.document().unwrap().file_name.as_deref(),
        Some("faq.txt")
    );
    assert_eq!(msg.caption(), Some("The FAQ"));
    assert!(msg.reply_markup().is_some());

    let call = &fake.calls_of("sendDocument")[0];
    assert_eq!(
        call.body["document"],
        json!({"file_name": "faq.txt", "size": 5})
    );
    assert_eq!(call.chat_id(), Some(5));
    assert_eq!(call.text(), Some("The FAQ"));
    assert_eq!(
        call.body["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
        "doc"
    );
    fake.shutdown().await;
}

#[tokio::test]
async fn telegram_validation_errors() {
    let fake = FakeBotApi::start().await;
    let bot = fake.bot();

    let err = bot
        .send_message(ChatId(1), "line<br>break")
        .parse_mode(ParseMode::Html)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RequestError::Api(ApiError::CantParseEntities(_))),
        "{err:?}"
    );
    let err = bot
        .send_message(ChatId(1), "я".repeat(4097))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageIsTooLong)),
        "{err:?}"
    );
    let err = bot.send_message(ChatId(1), " ").await.unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageTextIsEmpty)),
        "{err:?}"
    );
    let err = bot
        .send_message(ChatId(1), "x")
        .reply_markup(keyboard(&"d".repeat(65)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RequestError::Api(ApiError::ButtonDataInvalid)),
        "{err:?}"
    );
    bot.send_message(ChatId(1), "я".repeat(4096)).await.unwrap();
    fake.shutdown().await;
}

#[tokio::test]
async fn copy_forward_and_other_methods() {
    let fake = FakeBotApi::start().await;
    let bot = fake.bot();
    fake.push_update(fake.text_message(5, 5, "original"));
    let original = MessageId(fake.messages(5)[0]["message_id"].as_i64().unwrap() as i32);

    let forwarded = bot
        .forward_message(ChatId(77), ChatId(5), original)
        .await
        .unwrap();
    assert_eq!(forwarded.text(), Some("original"));
    assert_eq!(forwarded.chat.id, ChatId(77));
    assert!(forwarded.forward_origin().is_some());
    let copied = bot
        .copy_message(ChatId(77), ChatId(5), original)
        .await
        .unwrap();
    assert!(copied.0 > forwarded.id.0);
    assert_eq!(fake.messages(77).len(), 2);

    bot.pin_chat_message(ChatId(77), copied).await.unwrap();
    bot.send_chat_action(ChatId(77), teloxide::types::ChatAction::Typing)
        .await
        .unwrap();
    bot.answer_callback_query(teloxide::types::CallbackQueryId("1".to_string()))
        .await
        .unwrap();
    bot.answer_inline_query(teloxide::types::InlineQueryId("2".to_string()), vec![])
        .await
        .unwrap();

    bot.set_my_commands(vec![BotCommand::new("start", "Start")])
        .await
        .unwrap();
    assert_eq!(bot.get_my_commands().await.unwrap().len(), 1);
    bot.delete_my_commands().await.unwrap();
    assert!(bot.get_my_commands().await.unwrap().is_empty());

    bot.set_webhook(url::Url::parse("https://example.com/hook").unwrap())
        .await
        .unwrap();
    assert_eq!(
        bot.get_webhook_info().await.unwrap().url.unwrap().as_str(),
        "https://example.com/hook"
    );
    assert!(
        bot.get_updates().await.is_err(),
        "no polling while a webhook is set"
    );
    bot.delete_webhook().await.unwrap();
    bot.get_updates().await.unwrap();
    fake.shutdown().await;
}

#[tokio::test]
async fn a_newer_poll_terminates_the_older_one() {
    let fake = FakeBotApi::start().await;
    let bot = fake.bot();
    let older = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(5).await }
    });
    fake.wait_calls("getUpdates", 1, WAIT).await.unwrap();
    let started = Instant::now();
    bot.get_updates().await.unwrap();
    let older = older.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not at its timeout"
    );
    assert!(
        matches!(
            older,
            Err(RequestError::Api(ApiError::TerminatedByOtherGetUpdates))
        ),
        "{older:?}"
    );
    fake.shutdown().await;
}

#[tokio::test]
async fn many_updates_drain_quickly() {
    let fake = FakeBotApi::start().await;
    let bot = fake.bot();
    let n = 5_000;
    for i in 0..n {
        fake.push_update(fake.text_message(1 + i % 50, 1 + i % 50, "q"));
    }
    let started = Instant::now();
    let mut seen = 0;
    let mut offset = 0;
    while seen < n {
        let updates = bot.get_updates().offset(offset).timeout(1).await.unwrap();
        seen += updates.len() as i64;
        offset = updates.last().unwrap().id.as_offset();
    }
    bot.get_updates().offset(offset).await.unwrap();
    assert!(fake.wait_drained(WAIT).await);
    assert_eq!(fake.confirmed_offset(), n + 1);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        fake.wait_calls("getUpdates", 51, WAIT)
            .await
            .map(|c| c.len()),
        Some(51)
    );
    assert!(
        fake.wait_for(|_| false, Duration::from_millis(50))
            .await
            .is_none()
    );
    fake.shutdown().await;
}

#[tokio::test]
async fn shutdown_releases_long_polls_and_stops_serving() {
    let fake = FakeBotApi::start().await;
    let bot = fake.bot();
    let poll = tokio::spawn({
        let bot = bot.clone();
        async move { bot.get_updates().timeout(10).await }
    });
    fake.wait_calls("getUpdates", 1, WAIT).await.unwrap();
    let started = Instant::now();
    fake.shutdown().await;
    assert!(poll.await.unwrap().unwrap().is_empty());
    assert!(started.elapsed() < Duration::from_secs(3));
    let err = bot.get_me().await.unwrap_err();
    assert!(matches!(err, RequestError::Network(_)), "{err:?}");
}
