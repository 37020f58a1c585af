//! End to end: the real `jardam run` binary against our fake Bot API on 127.0.0.1, walking a
//! newcomer's whole session, then a restart in between that keeps the person's settings.

use jardam::testing::fake_bot_api::{Call, FakeBotApi};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const CHAT: i64 = 5001;

struct Bot(Child);

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_bot(fake: &FakeBotApi, db: &std::path::Path) -> Bot {
    Bot(Command::new(env!("CARGO_BIN_EXE_jardam"))
        .arg("run")
        .env("TELOXIDE_TOKEN", "123456:TEST")
        .env("TELOXIDE_API_URL", fake.url())
        .env("DATABASE_URL", format!("sqlite:{}?mode=rwc", db.display()))
        .env("JARDAM_DIALOGUES", "dialogues")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("jardam run starts"))
}

/// The callback data of the button whose label contains `label`.
fn button(call: &Call, label: &str) -> String {
    let rows = call.body["reply_markup"]["inline_keyboard"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    rows.iter()
        .flat_map(|r| r.as_array().cloned().unwrap_or_default())
        .find(|b| b["text"].as_str().is_some_and(|t| t.contains(label)))
        .and_then(|b| b["callback_data"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no button {label:?} in {}", call.body))
}

/// The id of the bot's latest message in the chat.
fn last_bot_message(fake: &FakeBotApi) -> i32 {
    fake.messages(CHAT)
        .iter()
        .rev()
        .find(|m| m["from"]["is_bot"].as_bool() == Some(true))
        .and_then(|m| m["message_id"].as_i64())
        .expect("a bot message") as i32
}

async fn next_reply(fake: &FakeBotApi, method: &str, contains: &str) -> Call {
    let call = fake
        .wait_for(
            |c| {
                c.method == method
                    && c.chat_id() == Some(CHAT)
                    && c.text().is_some_and(|t| t.contains(contains))
            },
            WAIT,
        )
        .await
        .unwrap_or_else(|| {
            panic!(
                "no {method} containing {contains:?}; calls: {:?}",
                fake.calls()
                    .iter()
                    .map(|c| (&c.method, c.text().map(str::to_string)))
                    .collect::<Vec<_>>()
            )
        });
    fake.clear();
    call
}

#[tokio::test]
async fn a_newcomers_session_and_a_restart() {
    let fake = FakeBotApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e2e.db");
    let bot = start_bot(&fake, &db);

    // Command menus are registered in the four languages.
    let commands = fake
        .wait_calls("setMyCommands", 4, WAIT)
        .await
        .expect("setMyCommands");
    let codes: Vec<&str> = commands
        .iter()
        .filter_map(|c| c.body["language_code"].as_str())
        .collect();
    assert_eq!(codes, ["ky", "ru", "uz", "en"]);
    fake.clear();

    fake.push_update(fake.text_message(CHAT, CHAT, "/start"));
    let picker = next_reply(&fake, "sendMessage", "Choose your language").await;
    let msg = last_bot_message(&fake);
    fake.push_update(fake.callback(CHAT, CHAT, msg, &button(&picker, "English")));
    let countries = next_reply(&fake, "editMessageText", "Which country").await;
    fake.push_update(fake.callback(CHAT, CHAT, msg, &button(&countries, "Russia")));
    let menu = next_reply(&fake, "editMessageText", "Choose a topic").await;

    fake.push_update(fake.callback(CHAT, CHAT, msg, &button(&menu, "Work")));
    let topic = next_reply(&fake, "editMessageText", "choose a question").await;
    fake.push_update(fake.callback(CHAT, CHAT, msg, &button(&topic, "permit")));
    let answer = next_reply(&fake, "editMessageText", "Checked:").await;
    assert_eq!(answer.body["parse_mode"], Value::from("HTML"));
    button(&answer, "👍");

    fake.push_update(fake.text_message(CHAT, CHAT, "how do I register my address in Moscow"));
    next_reply(&fake, "sendMessage", "Checked:").await;

    fake.push_update(fake.text_message(
        CHAT,
        CHAT,
        "where can I buy cheap plane tickets to Istanbul",
    ));
    next_reply(&fake, "sendMessage", "No. 1").await;

    // Sharing: inline mode offers the answer (the Share button's query is the entry id), and a
    // free-text inline query offers the matcher's candidates.
    for query in ["stay.registration", "как встать на учет"] {
        fake.push_update(fake.inline_query(CHAT, query));
        let call = fake
            .wait_for(|c| c.method == "answerInlineQuery", WAIT)
            .await
            .expect("answerInlineQuery");
        let ids: Vec<&str> = call.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["id"].as_str())
            .collect();
        assert_eq!(
            ids.first(),
            Some(&"stay.registration"),
            "{query}: {}",
            call.body
        );
        fake.clear();
    }

    // Restart: the settings are in the database, so the bot answers in English at once.
    drop(bot);
    let _bot = start_bot(&fake, &db);
    fake.push_update(fake.text_message(CHAT, CHAT, "/menu"));
    next_reply(&fake, "sendMessage", "Choose a topic").await;
    fake.shutdown().await;
}
