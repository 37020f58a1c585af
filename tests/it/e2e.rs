//! End to end: the real `jardam run` binary against our fake Bot API on 127.0.0.1, walking a
//! newcomer's whole session, then a restart in between that keeps the person's settings.

use fake_bot_api::{Call, FakeBotApi};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const CHAT: i64 = 5001;

pub(crate) struct Bot(pub(crate) Child);

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Bot {
    /// Stops the bot the way systemd does.
    pub(crate) fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    pub(crate) async fn exit_status(&mut self) -> std::process::ExitStatus {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(status) = self.0.try_wait().expect("the child can be waited for") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "jardam run did not exit after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub(crate) fn start_bot(fake: &FakeBotApi, db: &std::path::Path) -> Bot {
    start_bot_with(fake, db, &[])
}

fn start_bot_with(fake: &FakeBotApi, db: &std::path::Path, env: &[(&str, &str)]) -> Bot {
    Bot(Command::new(env!("CARGO_BIN_EXE_jardam"))
        .arg("run")
        .envs(env.iter().copied())
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

const EXPERTS: i64 = -1_000_000_777_000;
const EXPERT: i64 = 9001;

/// The bot's latest message in the expert chat that contains `text`.
fn post_containing(fake: &FakeBotApi, text: &str) -> Value {
    fake.messages(EXPERTS)
        .into_iter()
        .rev()
        .find(|m| {
            m["from"]["is_bot"].as_bool() == Some(true)
                && m["text"].as_str().is_some_and(|t| t.contains(text))
        })
        .unwrap_or_else(|| panic!("no post with {text:?}"))
}

/// The expert-chat message question `id` was posted as, once that is stored.
async fn recorded_post(store: &dyn jardam::storage::Storage, id: i64) -> i32 {
    tokio::time::timeout(WAIT, async {
        loop {
            let q = store.question(id).await.unwrap().unwrap();
            if let Some(message) = q.expert_message_id {
                return message;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the post is recorded")
}

/// An expert's reply to `post` in the expert chat.
fn expert_reply(fake: &FakeBotApi, post: &Value, text: &str) -> Value {
    let mut update = fake.text_message(EXPERTS, EXPERT, text);
    update["message"]["reply_to_message"] = post.clone();
    update
}

#[tokio::test]
async fn an_unmet_question_reaches_experts_and_their_answer_comes_back_across_restarts() {
    let fake = FakeBotApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("experts.db");
    let chat = EXPERTS.to_string();
    let env = [
        ("JARDAM_EXPERT_CHAT", chat.as_str()),
        ("JARDAM_EXPERT_LANG", "en"),
    ];

    // The expert chat is unreachable at first: the question is stored and acknowledged, but
    // its post fails.
    fake.block_chat(EXPERTS);
    let bot = start_bot_with(&fake, &db, &env);
    fake.push_update(fake.text_message(CHAT, CHAT, "/language"));
    let picker = next_reply(&fake, "sendMessage", "Choose your language").await;
    let msg = last_bot_message(&fake);
    fake.push_update(fake.callback(CHAT, CHAT, msg, &button(&picker, "English")));
    next_reply(&fake, "editMessageText", "Choose a topic").await;
    fake.push_update(fake.text_message(
        CHAT,
        CHAT,
        "where can I buy cheap plane tickets to Istanbul",
    ));
    next_reply(&fake, "sendMessage", "No. 1").await;
    fake.wait_for(
        |c| c.method == "sendMessage" && c.chat_id() == Some(EXPERTS) && !c.is_ok(),
        WAIT,
    )
    .await
    .expect("a post was tried");
    // The failed post gives up its claim, so the next instance need not wait for the lease.
    let store = jardam::storage::connect(&format!("sqlite:{}", db.display()))
        .await
        .unwrap();
    tokio::time::timeout(WAIT, async {
        while store.unposted_questions(10).await.unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the claim is released");
    drop(bot);

    // After a restart, with the expert chat back, the retry posts it.
    fake.unblock_chat(EXPERTS);
    fake.clear();
    let bot = start_bot_with(&fake, &db, &env);
    fake.wait_for(
        |c| {
            c.method == "sendMessage"
                && c.chat_id() == Some(EXPERTS)
                && c.is_ok()
                && c.text().is_some_and(|t| t.contains("Question No. 1"))
        },
        WAIT,
    )
    .await
    .expect("posted after the restart");
    // Stopped only once the post is on record: sending a post and recording it are not one
    // transaction, so a kill in between would post it again after the restart.
    let posted = recorded_post(store.as_ref(), 1).await;
    let post = post_containing(&fake, "Question No. 1");
    assert_eq!(post["message_id"].as_i64(), Some(i64::from(posted)));
    drop(bot);

    // Restarted again: the expert's reply still finds its question (the mapping is stored).
    fake.clear();
    let _bot = start_bot_with(&fake, &db, &env);
    fake.push_update(expert_reply(
        &fake,
        &post,
        "Buy early on the airline's own website.",
    ));
    let delivered = next_reply(&fake, "sendMessage", "airline's own website").await;
    assert!(
        delivered
            .text()
            .unwrap()
            .starts_with("<b>Answer from an expert</b>"),
        "{}",
        delivered.body
    );
    fake.wait_for(
        |c| c.chat_id() == Some(EXPERTS) && c.text().is_some_and(|t| t.starts_with("✅")),
        WAIT,
    )
    .await
    .expect("the expert sees it was delivered");

    // A person who blocked the bot: the expert is told, and it is recorded.
    const OTHER: i64 = 5002;
    fake.push_update(fake.text_message(OTHER, OTHER, "сколько стоит авиабилет до Стамбула"));
    fake.wait_for(
        |c| c.chat_id() == Some(EXPERTS) && c.text().is_some_and(|t| t.contains("Question No. 2")),
        WAIT,
    )
    .await
    .expect("second post");
    // A reply before the post is on record would find no question: wait for it, as an expert
    // (who needs a few seconds to read and type) always does.
    recorded_post(store.as_ref(), 2).await;
    let post = post_containing(&fake, "Question No. 2");
    fake.block_chat(OTHER);
    fake.push_update(expert_reply(&fake, &post, "Смотрите сайты авиакомпаний."));
    fake.wait_for(
        |c| c.chat_id() == Some(EXPERTS) && c.text().is_some_and(|t| t.starts_with("⚠️")),
        WAIT,
    )
    .await
    .expect("the expert is told it was not delivered");
    let q = store.question(2).await.unwrap().unwrap();
    assert_eq!(q.delivery, Some(jardam::storage::Delivery::Blocked));
    assert_eq!(
        store.question(1).await.unwrap().unwrap().delivery,
        Some(jardam::storage::Delivery::Delivered)
    );
    fake.shutdown().await;
}

/// The question number in an "unmet, saved as No. N" acknowledgement.
pub(crate) fn ack_number(text: &str) -> Option<i64> {
    let rest = &text[text.find("No. ")? + 4..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

#[tokio::test]
async fn a_kill_in_a_burst_of_unmet_questions_loses_none_and_stores_none_twice() {
    const CHATS: i64 = 60;
    const FIRST: i64 = 7000;
    let fake = FakeBotApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kill.db");
    let mut bot = start_bot(&fake, &db);
    for chat in FIRST..FIRST + CHATS {
        fake.push_update(fake.text_message(
            chat,
            chat,
            "where can I buy cheap plane tickets to Istanbul",
        ));
    }
    let acks = |fake: &FakeBotApi| -> Vec<(i64, i64)> {
        fake.calls_of("sendMessage")
            .iter()
            .filter(|c| c.is_ok())
            .filter_map(|c| Some((c.chat_id()?, ack_number(c.text()?)?)))
            .collect()
    };
    tokio::time::timeout(WAIT, async {
        while acks(&fake).len() < 10 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("some questions acknowledged");
    // SIGKILL in the middle of the burst: no chance to finish or confirm anything.
    bot.0.kill().unwrap();
    bot.0.wait().unwrap();
    let before = acks(&fake);
    assert!(before.len() < CHATS as usize, "killed mid-burst");

    // After the restart the bot handles what Telegram delivers again: the polling offset had
    // moved only past updates that were handled, so whatever the killed process had fetched
    // and not finished comes again.
    let _bot = start_bot(&fake, &db);
    assert!(fake.wait_drained(WAIT).await);
    let mut seen = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = acks(&fake).len();
        if now == seen {
            break;
        }
        seen = now;
    }

    let store = jardam::storage::connect(&format!("sqlite:{}", db.display()))
        .await
        .unwrap();
    // Every acknowledgement, before or after the kill, names a stored question of its chat.
    let all = acks(&fake);
    assert!(all.len() >= before.len());
    for (chat, number) in &all {
        let q = store.question(*number).await.unwrap();
        assert_eq!(q.map(|q| q.chat_id), Some(*chat), "No. {number}");
    }
    // Nobody's question is lost: every person is told a number, after the restart if not before.
    let told: std::collections::HashSet<i64> = all.iter().map(|(chat, _)| *chat).collect();
    assert_eq!(
        told.len(),
        CHATS as usize,
        "people never told their question's number"
    );
    // And nothing is stored twice: one number per person, however often they were told it.
    let mut numbers: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
    for (chat, number) in all {
        assert_eq!(
            *numbers.entry(chat).or_insert(number),
            number,
            "chat {chat}"
        );
    }
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", db.display()))
        .await
        .unwrap();
    let twice: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT chat_id FROM questions GROUP BY chat_id HAVING COUNT(*) > 1)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(twice, 0, "a person's question stored twice");
    fake.shutdown().await;
}

#[tokio::test]
async fn replies_survive_dropped_connections_server_errors_and_rate_limits_and_arrive_once() {
    use fake_bot_api::Fault;
    let fake = FakeBotApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let _bot = start_bot(&fake, &dir.path().join("faults.db"));
    fake.wait_calls("setMyCommands", 4, WAIT)
        .await
        .expect("started");
    let faults = [
        Fault::Drop,
        Fault::ServerError,
        Fault::TooManyRequests { retry_after: 1 },
    ];
    for (i, fault) in faults.into_iter().enumerate() {
        let chat = 6000 + i as i64;
        fake.clear();
        let name = format!("{fault:?}");
        fake.fail_next("sendMessage", 1, fault);
        fake.push_update(fake.text_message(chat, chat, "/start"));
        // Teloxide waits 10 s after a 5xx before it reports the error.
        fake.wait_for(
            |c| c.method == "sendMessage" && c.chat_id() == Some(chat) && c.is_ok(),
            WAIT * 2,
        )
        .await
        .unwrap_or_else(|| panic!("{name}: the reply never arrived"));
        let delivered = fake
            .calls_of("sendMessage")
            .iter()
            .filter(|c| c.chat_id() == Some(chat) && c.is_ok())
            .count();
        assert_eq!(delivered, 1, "{name}: delivered once");
    }
    fake.shutdown().await;
}
