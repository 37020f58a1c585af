//! Webhooks and stopping: the bot in webhook mode in-process, with its HTTP server on 127.0.0.1
//! and the fake Bot API behind it, requests written by hand; and the real `jardam run` binary
//! stopped with SIGTERM.

use crate::e2e::start_bot as start_polling;
use fake_bot_api::{FakeBotApi, Fault};
use jardam::app;
use jardam::config::Config;
use jardam::server::{MAX_BODY_BYTES, Stop, StopHandle};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Only to keep a broken build from hanging; nothing here measures speed.
const WAIT: Duration = Duration::from_secs(30);
const SECRET: &str = "Test_secret-42";
const PATH: &str = "/telegram/hook";

struct Webhooked {
    addr: SocketAddr,
    stop: StopHandle,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

/// The bot in webhook mode, once it has called setWebhook (the knowledge base and database
/// are loaded by then).
async fn start_webhook(fake: &FakeBotApi) -> Webhooked {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("webhook.db");
    let vars: HashMap<String, String> = [
        ("TELOXIDE_TOKEN", "123456:TEST".to_string()),
        ("TELOXIDE_API_URL", fake.url()),
        ("DATABASE_URL", format!("sqlite:{}?mode=rwc", db.display())),
        ("JARDAM_DIALOGUES", "dialogues".to_string()),
        (
            "JARDAM_WEBHOOK_URL",
            format!("https://bot.example.org{PATH}"),
        ),
        ("JARDAM_WEBHOOK_SECRET", SECRET.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let config = Config::from_vars_for_run(vars, true).expect("a valid configuration");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = Stop::new();
    let task = tokio::spawn(app::serve(config, Some(listener), stopped));
    fake.wait_calls("setWebhook", 1, WAIT)
        .await
        .expect("the bot calls setWebhook");
    Webhooked {
        addr,
        stop,
        task,
        _dir: dir,
    }
}

impl Webhooked {
    async fn post(&self, secret: Option<&str>, body: &[u8]) -> (u16, String) {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(s) = secret {
            headers.push(("X-Telegram-Bot-Api-Secret-Token", s));
        }
        request(self.addr, "POST", PATH, &headers, body).await
    }

    /// Posts `update`, numbered like Telegram numbers them when it has no `update_id` yet.
    async fn post_update(&self, update: &Value) -> (u16, String) {
        static NEXT_ID: AtomicI64 = AtomicI64::new(1);
        let mut update = update.clone();
        if update.get("update_id").is_none() {
            update["update_id"] = NEXT_ID.fetch_add(1, Ordering::Relaxed).into();
        }
        self.post(Some(SECRET), update.to_string().as_bytes()).await
    }

    async fn stop(self) {
        self.stop.stop();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the bot stops")
            .expect("the bot's task does not panic")
            .expect("the bot stops without an error");
    }
}

/// One HTTP/1.1 request on a fresh connection: the status and the body. The body is written
/// while the response is read, since the server may answer (413) before reading it all.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    try_request(addr, method, path, headers, body)
        .await
        .expect("an HTTP answer")
}

/// [`request`], or `None` when the connection fails or brings no HTTP answer (the server was
/// killed, say).
async fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, String)> {
    let exchange = async {
        let stream = TcpStream::connect(addr).await.ok()?;
        let (mut rd, mut wr) = stream.into_split();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let body = body.to_vec();
        let writer = tokio::spawn(async move {
            // The server may close early on a rejected body; the answer is what counts.
            let _ = wr.write_all(head.as_bytes()).await;
            let _ = wr.write_all(&body).await;
            wr
        });
        let mut raw = Vec::new();
        // A reset after an early answer still leaves the answer in `raw`.
        let _ = rd.read_to_end(&mut raw).await;
        drop(writer.await);
        Some(raw)
    };
    let raw = tokio::time::timeout(WAIT, exchange).await.ok()??;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    request(addr, "GET", path, &[], b"").await
}

async fn reply_to(fake: &FakeBotApi, chat: i64, contains: &str) -> String {
    fake.wait_for(
        |c| {
            c.method == "sendMessage"
                && c.chat_id() == Some(chat)
                && c.text().is_some_and(|t| t.contains(contains))
        },
        WAIT,
    )
    .await
    .unwrap_or_else(|| {
        let calls: Vec<_> = fake
            .calls()
            .iter()
            .map(|c| (c.method.clone(), c.outcome, c.text().map(str::to_string)))
            .collect();
        panic!("no reply containing {contains:?} to chat {chat}; calls: {calls:?}")
    })
    .text()
    .unwrap_or_default()
    .to_string()
}

const PICKER: &str = "Choose your language";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_with_the_secret_is_answered_and_health_is_served() {
    let fake = FakeBotApi::start().await;
    let bot = start_webhook(&fake).await;

    let set = &fake.calls_of("setWebhook")[0];
    assert_eq!(
        set.body["url"],
        json!(format!("https://bot.example.org{PATH}"))
    );
    assert_eq!(set.body["secret_token"], json!(SECRET));
    let allowed = set.body["allowed_updates"].to_string();
    for kind in ["message", "callback_query", "inline_query"] {
        assert!(allowed.contains(kind), "{allowed}");
    }

    let (status, _) = bot
        .post_update(&fake.text_message(601, 601, "/start"))
        .await;
    assert_eq!(status, 200);
    reply_to(&fake, 601, PICKER).await;

    assert_eq!(get(bot.addr, "/healthz").await, (200, "ok\n".to_string()));
    assert_eq!(get(bot.addr, "/readyz").await, (200, "ready\n".to_string()));
    assert_eq!(get(bot.addr, "/nothing-here").await.0, 404);

    let addr = bot.addr;
    bot.stop().await;
    // Left set: other instances behind the same URL keep receiving.
    assert!(fake.calls_of("deleteWebhook").is_empty());
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the HTTP server is down"
    );
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_secret_is_refused_and_not_processed() {
    let fake = FakeBotApi::start().await;
    let bot = start_webhook(&fake).await;
    let mut help = fake.text_message(602, 602, "/help");
    help["update_id"] = 1_000.into();
    let help = help.to_string();
    let refused_before = jardam::server::REFUSALS.counts().0;
    for secret in [
        None,
        Some("wrong"),
        Some("Test_secret-43"),
        Some("not allowed!"),
    ] {
        let (status, _) = bot.post(secret, help.as_bytes()).await;
        assert_eq!(status, 401, "secret {secret:?}");
    }
    // Counted (and logged at most once a minute), not logged one by one.
    assert!(jardam::server::REFUSALS.counts().0 >= refused_before + 4);
    // Same chat, so one worker in order: had any /help been taken, its answer would come
    // before this one's.
    bot.post_update(&fake.text_message(602, 602, "/start"))
        .await;
    let picker = reply_to(&fake, 602, PICKER).await;
    assert_eq!(fake.sent_to(602), [picker]);
    bot.stop().await;
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_refused_and_the_next_update_is_answered() {
    let fake = FakeBotApi::start().await;
    let bot = start_webhook(&fake).await;

    for body in [
        &b"{\"update_id\": 5, \"message\": {"[..],
        b"not json at all",
        b"",
        b"[1, 2, 3]",
        b"{\"no_update_id\": true}",
    ] {
        let (status, _) = bot.post(Some(SECRET), body).await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(body));
    }

    let mut huge = fake.text_message(603, 603, "/help");
    huge["update_id"] = 1_001.into();
    huge["message"]["text"] = "x".repeat(MAX_BODY_BYTES).into();
    let (status, _) = bot.post_update(&huge).await;
    assert_eq!(status, 413);

    // An update of a kind this version does not know: taken (Telegram would only retry it)
    // and dropped.
    let (status, _) = bot
        .post_update(&json!({ "update_id": 900, "kind_from_the_future": { "x": 1 } }))
        .await;
    assert_eq!(status, 200);

    bot.post_update(&fake.text_message(603, 603, "/start"))
        .await;
    let picker = reply_to(&fake, 603, PICKER).await;
    assert_eq!(fake.sent_to(603), [picker]);
    assert_eq!(
        fake.calls_of("sendMessage").len(),
        1,
        "nothing else was answered"
    );
    bot.stop().await;
    fake.shutdown().await;
}

// ----- the real binary and SIGTERM -----

/// Up: the menus registered and the first poll made.
async fn wait_polling(fake: &FakeBotApi) {
    fake.wait_calls("setMyCommands", 4, WAIT)
        .await
        .expect("setMyCommands");
    fake.wait_calls("getUpdates", 1, WAIT)
        .await
        .expect("getUpdates");
}

/// After a restart, every update of `chat` before `/help` has been answered once the help is:
/// one worker per chat, in order.
async fn answers_after_restart(fake: &FakeBotApi, chat: i64) -> Vec<String> {
    fake.push_update(fake.text_message(chat, chat, "/help"));
    fake.wait_for(
        |c| {
            c.method == "sendMessage"
                && c.chat_id() == Some(chat)
                && c.text().is_some_and(|t| !t.contains(PICKER))
        },
        WAIT,
    )
    .await
    .expect("the restarted bot answers /help");
    fake.sent_to(chat)
}

#[tokio::test]
async fn sigterm_lets_a_running_handler_finish_and_nothing_is_answered_twice() {
    let fake = FakeBotApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stop.db");
    let mut bot = start_polling(&fake, &db);
    wait_polling(&fake).await;

    // The reply is held up, so the handler is still running when the signal comes.
    fake.fail_next("sendMessage", 1, Fault::Delay(Duration::from_secs(2)));
    fake.push_update(fake.text_message(701, 701, "/start"));
    fake.wait_for(
        |c| c.method == "sendMessage" && c.chat_id() == Some(701),
        WAIT,
    )
    .await
    .expect("the handler runs");
    bot.terminate();
    assert!(bot.exit_status().await.success());
    // The handler finished: its reply was answered before the exit, and the update confirmed.
    assert!(fake.pending_updates().is_empty());

    let _bot = start_polling(&fake, &db);
    let sent = answers_after_restart(&fake, 701).await;
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[0].contains(PICKER), "{sent:?}");
    fake.shutdown().await;
}

#[tokio::test]
async fn an_update_pushed_just_before_sigterm_is_answered_once() {
    let fake = FakeBotApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stop.db");
    let mut bot = start_polling(&fake, &db);
    wait_polling(&fake).await;

    fake.push_update(fake.text_message(702, 702, "/start"));
    bot.terminate();
    assert!(bot.exit_status().await.success());
    let before = fake.sent_to(702).len();
    assert!(before <= 1);

    // Either answered before the exit, or still queued and answered now; never both.
    let _bot = start_polling(&fake, &db);
    let sent = answers_after_restart(&fake, 702).await;
    assert_eq!(
        sent.iter().filter(|t| t.contains(PICKER)).count(),
        1,
        "{sent:?}"
    );
    assert_eq!(sent.len(), 2, "{sent:?}");
    fake.shutdown().await;
}

/// `jardam run` in webhook mode on `port`, with the SQLite database `db`.
fn start_webhook_binary(fake: &FakeBotApi, db: &std::path::Path, port: u16) -> crate::e2e::Bot {
    let url = format!("sqlite:{}?mode=rwc", db.display());
    start_instance(fake, &url, port, &[])
}

/// `jardam run` in webhook mode on `port`, with the database at `url` and `env` besides (or
/// instead of the defaults).
pub(crate) fn start_instance(
    fake: &FakeBotApi,
    url: &str,
    port: u16,
    env: &[(&str, &str)],
) -> crate::e2e::Bot {
    crate::e2e::Bot(
        std::process::Command::new(env!("CARGO_BIN_EXE_jardam"))
            .arg("run")
            .env("TELOXIDE_TOKEN", "123456:TEST")
            .env("TELOXIDE_API_URL", fake.url())
            .env("DATABASE_URL", url)
            .env("JARDAM_DIALOGUES", "dialogues")
            .env(
                "JARDAM_WEBHOOK_URL",
                format!("https://bot.example.org{PATH}"),
            )
            .env("JARDAM_WEBHOOK_SECRET", SECRET)
            .env("JARDAM_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("jardam run starts"),
    )
}

#[tokio::test]
async fn a_kill_in_webhook_mode_loses_no_acknowledged_update() {
    const FIRST: i64 = 30_000;
    const CHATS: i64 = 300;
    let fake = FakeBotApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut bot = start_webhook_binary(&fake, &db, port);
    fake.wait_calls("setWebhook", 1, WAIT)
        .await
        .expect("the bot calls setWebhook");
    // A burst from 300 people at once, 20 connections at a time, as Telegram sends them.
    let posted = Arc::new(Mutex::new(Vec::new()));
    let sender = {
        let posted = posted.clone();
        let updates: Vec<Value> = (FIRST..FIRST + CHATS)
            .map(|chat| {
                let mut u = fake.text_message(
                    chat,
                    chat,
                    "where can I buy cheap plane tickets to Istanbul",
                );
                u["update_id"] = (chat - FIRST + 1).into();
                u
            })
            .collect();
        tokio::spawn(async move {
            let updates = Arc::new(Mutex::new(updates));
            let mut workers = Vec::new();
            for _ in 0..20 {
                let (updates, posted) = (updates.clone(), posted.clone());
                workers.push(tokio::spawn(async move {
                    loop {
                        let Some(u) = updates.lock().unwrap().pop() else {
                            return;
                        };
                        let body = u.to_string();
                        let headers = [
                            ("Content-Type", "application/json"),
                            ("X-Telegram-Bot-Api-Secret-Token", SECRET),
                        ];
                        let answer =
                            try_request(addr, "POST", PATH, &headers, body.as_bytes()).await;
                        if answer.is_some_and(|(status, _)| status == 200) {
                            posted
                                .lock()
                                .unwrap()
                                .push(u["message"]["chat"]["id"].as_i64().unwrap());
                        }
                    }
                }));
            }
            for w in workers {
                let _ = w.await;
            }
        })
    };
    tokio::time::timeout(WAIT, async {
        while posted.lock().unwrap().len() < 60 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("some updates taken");
    // SIGKILL mid-burst: requests in flight fail, Telegram would send those again.
    bot.0.kill().unwrap();
    bot.0.wait().unwrap();
    let _ = sender.await;
    let acknowledged: Vec<i64> = posted.lock().unwrap().clone();
    assert!((acknowledged.len() as i64) < CHATS, "killed mid-burst");
    let answered_before = fake
        .calls_of("sendMessage")
        .iter()
        .filter(|c| c.is_ok() && c.chat_id().is_some_and(|c| acknowledged.contains(&c)))
        .count();

    // Restarted: what was acknowledged and not handled is taken up from the inbox once the
    // killed instance's lease has run out.
    let _bot = start_webhook_binary(&fake, &db, port);
    let answered = |fake: &FakeBotApi| -> std::collections::HashSet<i64> {
        fake.calls_of("sendMessage")
            .iter()
            .filter(|c| c.is_ok())
            .filter_map(|c| c.chat_id())
            .filter(|c| (FIRST..FIRST + CHATS).contains(c))
            .collect()
    };
    let deadline = jardam::telegram::inbox::LEASE + Duration::from_secs(40);
    let all_answered = tokio::time::timeout(deadline, async {
        while !acknowledged.iter().all(|c| answered(&fake).contains(c)) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    let missing: Vec<&i64> = acknowledged
        .iter()
        .filter(|c| !answered(&fake).contains(c))
        .collect();
    assert!(
        all_answered.is_ok(),
        "acknowledged and never answered: {missing:?}"
    );

    // Each person's question is stored once, and each acknowledgement names it.
    let store = jardam::storage::connect(&format!("sqlite:{}", db.display()))
        .await
        .unwrap();
    let mut numbers: HashMap<i64, std::collections::HashSet<i64>> = HashMap::new();
    for c in fake.calls_of("sendMessage").iter().filter(|c| c.is_ok()) {
        if let (Some(chat), Some(n)) = (c.chat_id(), c.text().and_then(crate::e2e::ack_number)) {
            numbers.entry(chat).or_default().insert(n);
        }
    }
    for chat in &acknowledged {
        let told = numbers.get(chat).cloned().unwrap_or_default();
        assert_eq!(told.len(), 1, "chat {chat} told numbers {told:?}");
        let n = *told.iter().next().unwrap();
        let q = store.question(n).await.unwrap();
        assert_eq!(q.map(|q| q.chat_id), Some(*chat));
    }
    let twice = fake
        .calls_of("sendMessage")
        .iter()
        .filter(|c| c.is_ok() && c.chat_id().is_some_and(|c| acknowledged.contains(&c)))
        .count()
        .saturating_sub(acknowledged.len());
    eprintln!(
        "webhook kill -9: {} updates acknowledged before the kill, {answered_before} of them \
         answered by then, all after the restart; {twice} answer(s) sent twice (handled, not \
         yet marked done at the kill)",
        acknowledged.len()
    );
    store.close().await;
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_no_headers_is_closed() {
    let fake = FakeBotApi::start().await;
    let bot = start_webhook(&fake).await;
    // Half-open: a connection that never completes its headers.
    let mut idle = TcpStream::connect(bot.addr).await.unwrap();
    idle.write_all(b"POST /telegram/hook HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(
        jardam::server::HEADER_TIMEOUT + Duration::from_secs(10),
        idle.read_to_end(&mut buf),
    )
    .await;
    assert!(closed.is_ok(), "still open after {:?}", started.elapsed());
    // Meanwhile the server answers others.
    assert_eq!(get(bot.addr, "/healthz").await.0, 200);
    bot.stop().await;
    fake.shutdown().await;
}

const INSTANCE_EXPERTS: i64 = -100_777;

/// Posts `update` to the instance at `addr`, as Telegram would, and expects it taken.
pub(crate) async fn push_to(addr: SocketAddr, update: &Value) {
    static NEXT_ID: AtomicI64 = AtomicI64::new(900_000);
    let mut update = update.clone();
    update["update_id"] = NEXT_ID.fetch_add(1, Ordering::Relaxed).into();
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Telegram-Bot-Api-Secret-Token", SECRET),
    ];
    let (status, body) = request(addr, "POST", PATH, &headers, update.to_string().as_bytes()).await;
    assert_eq!(status, 200, "{body}");
}

/// The bot's first message to `chat` (sent, or edited into) whose text contains `contains`,
/// once it is there: its id and its buttons as (label, callback data).
pub(crate) async fn sent_with(
    fake: &FakeBotApi,
    chat: i64,
    contains: &str,
) -> (i32, Vec<(String, String)>) {
    let call = fake
        .wait_for(
            |c| {
                matches!(c.method.as_str(), "sendMessage" | "editMessageText")
                    && c.is_ok()
                    && c.chat_id() == Some(chat)
                    && c.text().is_some_and(|t| t.contains(contains))
            },
            WAIT,
        )
        .await
        .unwrap_or_else(|| {
            let calls: Vec<_> = fake
                .calls()
                .iter()
                .filter(|c| c.method != "getUpdates")
                .map(|c| (c.method.clone(), c.outcome, c.text().map(str::to_string)))
                .collect();
            panic!("no message with {contains:?} to {chat}; calls: {calls:?}")
        });
    let id = match call.body.get("message_id").and_then(Value::as_i64) {
        Some(id) => id,
        None => fake
            .messages(chat)
            .into_iter()
            .rev()
            .find(|m| m["text"].as_str().is_some_and(|t| t.contains(contains)))
            .and_then(|m| m["message_id"].as_i64())
            .expect("the sent message is kept"),
    };
    let markup = match &call.body["reply_markup"] {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        v => v.clone(),
    };
    let buttons = markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .filter_map(|b| {
            Some((
                b["text"].as_str()?.to_string(),
                b["callback_data"].as_str()?.to_string(),
            ))
        })
        .collect();
    (id as i32, buttons)
}

pub(crate) fn button<'a>(buttons: &'a [(String, String)], label_part: &str) -> &'a str {
    buttons
        .iter()
        .find(|(l, _)| l.contains(label_part))
        .map(|(_, d)| d.as_str())
        .unwrap_or_else(|| panic!("no button {label_part:?} in {buttons:?}"))
}

/// Two instances in webhook mode on `db`, with `env`, once both are up.
pub(crate) async fn two_instances(
    fake: &FakeBotApi,
    db: &str,
    env: &[(&str, &str)],
) -> ([crate::e2e::Bot; 2], [SocketAddr; 2]) {
    let ports: Vec<u16> = (0..2)
        .map(|_| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        })
        .collect();
    // One after the other: the first creates the schema.
    let a = start_instance(fake, db, ports[0], env);
    fake.wait_calls("setWebhook", 1, WAIT)
        .await
        .expect("A is up");
    let b = start_instance(fake, db, ports[1], env);
    fake.wait_calls("setWebhook", 2, WAIT)
        .await
        .expect("B is up");
    let addrs = [0, 1].map(|i| format!("127.0.0.1:{}", ports[i]).parse().unwrap());
    ([a, b], addrs)
}

/// Two bot processes on one PostgreSQL, a chat's updates alternating between them: what one
/// instance remembers of the chat (the last question, "waiting for your question") is what
/// the other acts on.
#[tokio::test]
async fn two_instances_on_one_database_behave_as_one() {
    let Some(db) = crate::storage::PgTestDb::create().await else {
        return;
    };
    let fake = FakeBotApi::start().await;
    let chat = INSTANCE_EXPERTS.to_string();
    let experts = [("JARDAM_EXPERT_CHAT", chat.as_str())];
    let (_bots, [a, b]) = two_instances(&fake, &db.url, &experts).await;
    const CHAT: i64 = 4_242;
    let question = "how do I register my address in Moscow";

    // A asks for the country, B shows the answer; 👎 pressed on A, and B offers to pass on
    // the question only A saw.
    let press = |message: i32, buttons: &[(String, String)], label: &str| {
        fake.callback(CHAT, CHAT, message, button(buttons, label))
    };
    push_to(a, &fake.text_message(CHAT, CHAT, question)).await;
    let (asked, countries) = sent_with(&fake, CHAT, "Which country").await;
    push_to(b, &press(asked, &countries, "Russia")).await;
    let (answer, buttons) = sent_with(&fake, CHAT, "Checked").await;
    push_to(a, &press(answer, &buttons, "👎")).await;
    let (sorry, offer) = sent_with(&fake, CHAT, "Sorry").await;
    // "Send to an expert", pressed on B: stored with the text B never saw.
    push_to(b, &press(sorry, &offer, "expert")).await;
    sent_with(&fake, CHAT, "No. ").await;
    let store = jardam::storage::connect(&db.url).await.unwrap();
    let open = store.open_questions(10, 0).await.unwrap();
    assert_eq!(
        open.iter().map(|q| q.text.as_str()).collect::<Vec<_>>(),
        [question]
    );

    // "Ask an expert" on B; the next text, on A, goes to the experts, not to the FAQ.
    push_to(b, &press(answer, &buttons, "Ask an expert")).await;
    sent_with(&fake, CHAT, "Write your question").await;
    let second = "how do I register my address in Kazan, the landlord refuses";
    push_to(a, &fake.text_message(CHAT, CHAT, second)).await;
    tokio::time::timeout(WAIT, async {
        while store.count_open().await.unwrap() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the second text is stored for the experts");
    let open = store.open_questions(10, 0).await.unwrap();
    assert!(open.iter().any(|q| q.text == second), "{open:?}");
    // Each question posted once to the experts, by one instance or the other.
    let posted = || {
        fake.calls_of("sendMessage")
            .iter()
            .filter(|c| c.is_ok() && c.chat_id() == Some(INSTANCE_EXPERTS))
            .count()
    };
    tokio::time::timeout(WAIT, async {
        while posted() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("both questions are posted");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(posted(), 2);
    store.close().await;
    db.drop().await;
    fake.shutdown().await;
}
