//! A fake Telegram Bot API server on 127.0.0.1, so that end-to-end tests and the load benchmark
//! run the real bot without ever reaching Telegram.
//!
//! Point the bot at it with `TELOXIDE_API_URL=<FakeBotApi::url()>` (for `Bot::from_env()`) or
//! [`FakeBotApi::bot`]. The tests then play the user's side: they queue updates with
//! [`FakeBotApi::push_update`], which the bot receives through ordinary long polling, and they
//! observe what the bot did through the recorded [`Call`]s.
//!
//! The fake tries to fail where Telegram fails, so that bugs surface in tests rather than in
//! production: malformed HTML in `parse_mode=HTML` texts, texts over 4096 characters, empty
//! texts, `callback_data` over 64 bytes, edits that change nothing, `getUpdates` while a webhook
//! is set or from two pollers at once. Where its own knowledge is incomplete (e.g. editing a
//! message it never saw) it is lenient instead, because a false failure there would be the
//! fake's bug, not the bot's.
//!
//! It is a crate of its own, a dev-dependency of the bot, and takes Telegram's rules (the HTML
//! tags, the length limits, the error texts) from Telegram's documentation, not from the bot's
//! code: a rule the bot gets wrong then fails here instead of passing on both sides.
//!
//! ```no_run
//! use std::time::Duration;
//! use fake_bot_api::FakeBotApi;
//!
//! # async fn demo() {
//! let fake = FakeBotApi::start().await;
//! // SAFETY: set before any other thread reads the environment.
//! unsafe { std::env::set_var("TELOXIDE_API_URL", fake.url()) };
//! // ... start the bot with `Bot::from_env()` ...
//! fake.push_update(fake.text_message(42, 42, "/start"));
//! let reply = fake
//!     .wait_for(|c| c.method == "sendMessage" && c.chat_id() == Some(42), Duration::from_secs(5))
//!     .await
//!     .expect("the bot answered /start");
//! assert!(reply.text().is_some());
//! fake.shutdown().await;
//! # }
//! ```

use std::{
    collections::{HashMap, HashSet, VecDeque},
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    body::Bytes,
    extract::{ConnectInfo, DefaultBodyLimit, Path, RawQuery, State, connect_info::Connected},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::any,
    serve::{IncomingStream, Listener},
};
use serde_json::{Map, Value, json};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{Notify, watch},
    task::JoinHandle,
};

mod telegram;

use telegram::{
    BLOCKED_BY_USER, BUTTON_DATA_INVALID, CALLBACK_DATA_BYTES, CAPTION_TOO_LONG, HTML_TAGS,
    KICKED_FROM_GROUP, KICKED_FROM_SUPERGROUP, MAX_BODY_BYTES, MAX_CAPTION_LEN, MAX_TEXT_LEN,
    METHOD_NOT_FOUND, NO_CHAT_ID, NO_MESSAGE_ID, NOT_MODIFIED, OTHER_POLLER, TEXT_EMPTY,
    TEXT_TOO_LONG, UPDATES_LIMIT, WEBHOOK_ACTIVE,
};

/// The username `getMe` reports until [`FakeBotApi::set_bot_username`] changes it.
pub const DEFAULT_BOT_USERNAME: &str = "jardam_test_bot";

/// Used as the bot's user id until a request reveals the id embedded in the token.
const DEFAULT_BOT_ID: i64 = 100_000;

/// Only recent messages are needed (for edits, callbacks and copies); keeping every message of a
/// 50,000-update benchmark would be wasted memory.
const STORED_MESSAGES_PER_CHAT: usize = 64;

/// Method names as Telegram documents them. Telegram matches method names case-insensitively and
/// teloxide sends them capitalised (`SendMessage`), so calls are recorded under these spellings.
const KNOWN_METHODS: &[&str] = &[
    "getMe",
    "getUpdates",
    "deleteWebhook",
    "setWebhook",
    "getWebhookInfo",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "answerCallbackQuery",
    "answerInlineQuery",
    "sendDocument",
    "sendPhoto",
    "copyMessage",
    "forwardMessage",
    "pinChatMessage",
    "sendChatAction",
    "deleteMessage",
    "close",
    "logOut",
];

/// A failure to inject into the next calls of a method, see [`FakeBotApi::fail_next`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 429 with `parameters.retry_after`, which teloxide turns into
    /// `RequestError::RetryAfter`.
    TooManyRequests { retry_after: u32 },
    /// HTTP 500. Note that teloxide sleeps 10 s after any 5xx before returning the error.
    ServerError,
    /// Answer normally, but only after this long. The call's effects (e.g. the message being
    /// stored) happen on arrival, as they would on Telegram's side of a slow network.
    Delay(Duration),
    /// Close the connection without any response, which teloxide reports as a network error.
    Drop,
}

/// How the fake answered a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `{"ok": true, ...}`.
    Ok,
    /// `{"ok": false, ...}` with this HTTP status / `error_code`.
    Error(u16),
    /// The connection was closed without a response ([`Fault::Drop`]).
    Dropped,
}

/// One request the bot made, recorded on arrival.
#[derive(Clone, Debug)]
pub struct Call {
    /// The method in Telegram's documented spelling, e.g. `sendMessage`.
    pub method: String,
    /// The parameters as a JSON object, whatever the transport. Multipart text fields that hold
    /// JSON (`reply_markup`) or ids (`chat_id`) are decoded; an uploaded file appears as
    /// `{"file_name": ..., "size": ...}` under the parameter that referenced it.
    pub body: Value,
    pub at: Instant,
    pub outcome: Outcome,
}

impl Call {
    /// The target chat, if the method has one and it is numeric.
    pub fn chat_id(&self) -> Option<i64> {
        self.body.get("chat_id").and_then(as_i64_loose)
    }

    /// `text` (or, for media, `caption`) as the bot sent it, markup included.
    pub fn text(&self) -> Option<&str> {
        self.body
            .get("text")
            .or_else(|| self.body.get("caption"))
            .and_then(Value::as_str)
    }

    pub fn is_ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }
}

/// Handle to a running fake server. Cloning is cheap and every clone controls the same server;
/// the server stops on [`FakeBotApi::shutdown`] or when the last clone is dropped.
#[derive(Clone)]
pub struct FakeBotApi {
    shared: Arc<Shared>,
    server: Arc<Server>,
}

struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
    shared: Arc<Shared>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.close();
        let _ = self.stop.send(true);
    }
}

struct Shared {
    state: Mutex<FakeState>,
    /// Wakes long polls: an update was queued, a newer poll superseded them, or shutdown.
    updates_changed: Notify,
    /// Wakes `wait_*`: a call was recorded (confirmations also arrive as calls).
    calls_changed: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        // A test that panicked while holding the lock must not turn every later assertion into
        // a confusing PoisonError.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn close(&self) {
        self.lock().closed = true;
        self.updates_changed.notify_waiters();
    }
}

impl FakeBotApi {
    /// Binds 127.0.0.1 on a random port and starts serving.
    ///
    /// # Panics
    /// If the socket cannot be bound: without it there is nothing for a test to run against.
    pub async fn start() -> FakeBotApi {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake Bot API: cannot bind 127.0.0.1");
        let addr = listener
            .local_addr()
            .expect("fake Bot API: no local address");
        let shared = Arc::new(Shared {
            state: Mutex::new(FakeState::new()),
            updates_changed: Notify::new(),
            calls_changed: Notify::new(),
        });
        let app = Router::new()
            .route("/{token}/{method}", any(handle))
            .fallback(|| async { error_response(404, "Not Found") })
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(shared.clone());
        let (stop, mut stopped) = watch::channel(false);
        let serve = axum::serve(
            FakeListener(listener),
            app.into_make_service_with_connect_info::<ConnKill>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        });
        let task = tokio::spawn(async move {
            if let Err(e) = serve.await {
                log::warn!("fake Bot API server failed: {e}");
            }
        });
        FakeBotApi {
            server: Arc::new(Server {
                addr,
                stop,
                task: Mutex::new(Some(task)),
                shared: shared.clone(),
            }),
            shared,
        }
    }

    /// Base URL for `TELOXIDE_API_URL`, e.g. `http://127.0.0.1:40123/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.server.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// A teloxide bot (token `123456:TEST`) that talks to this server.
    pub fn bot(&self) -> teloxide::Bot {
        let url = url::Url::parse(&self.url()).expect("fake Bot API URL is valid");
        teloxide::Bot::new("123456:TEST").set_api_url(url)
    }

    /// Stops accepting connections, releases pending long polls with an empty result and waits
    /// (briefly) for in-flight requests. Idempotent.
    pub async fn shutdown(&self) {
        self.shared.close();
        let _ = self.server.stop.send(true);
        let task = self
            .server
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut task) = task {
            // A `Fault::Delay` in flight must not hold a test hostage.
            if tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }

    pub fn set_bot_username(&self, username: &str) {
        self.shared.lock().bot_username = username.to_owned();
    }

    // ----- updates -----

    /// Queues an update for `getUpdates` and returns its `update_id`, which is assigned when
    /// missing. Messages in the update are remembered, so that later callbacks, copies and
    /// forwards can refer to them.
    ///
    /// # Panics
    /// If `update` is not a JSON object.
    pub fn push_update(&self, mut update: Value) -> i64 {
        assert!(
            update.is_object(),
            "an update must be a JSON object: {update}"
        );
        let id = {
            let mut st = self.shared.lock();
            let id = match update.get("update_id").and_then(Value::as_i64) {
                Some(id) => id,
                None => {
                    let id = st.next_update_id;
                    update["update_id"] = id.into();
                    id
                }
            };
            st.next_update_id = st.next_update_id.max(id + 1);
            st.enqueue(id, update);
            id
        };
        self.shared.updates_changed.notify_waiters();
        id
    }

    /// Queues `update` with the first `find` in its JSON replaced by `raw`, verbatim: for what
    /// Telegram may send but a JSON value cannot hold, such as a text with a lone UTF-16
    /// surrogate (`raw` = `"\\ud800"`). Returns its `update_id`.
    ///
    /// # Panics
    /// If `update` is not a JSON object or `find` is not in it.
    pub fn push_update_raw(&self, update: Value, find: &str, raw: &str) -> i64 {
        let id = self.push_update(update);
        {
            let mut st = self.shared.lock();
            let queued = st
                .queue
                .iter_mut()
                .find(|u| u.id == id)
                .expect("the update was just queued");
            assert!(queued.json.contains(find), "{find} is not in the update");
            queued.json = queued.json.replacen(find, raw, 1);
        }
        self.shared.updates_changed.notify_waiters();
        id
    }

    /// Updates queued but not yet confirmed by a `getUpdates` offset.
    pub fn pending_updates(&self) -> Vec<Value> {
        let st = self.shared.lock();
        st.queue
            .iter()
            .map(|u| {
                serde_json::from_str(&u.json)
                    .unwrap_or_else(|_| serde_json::json!({ "update_id": u.id, "malformed": true }))
            })
            .collect()
    }

    /// The highest `offset` a `getUpdates` call has passed: every update below it is confirmed.
    pub fn confirmed_offset(&self) -> i64 {
        self.shared.lock().confirmed_offset
    }

    /// Update id → when `getUpdates` first returned it, and how many times it did (an update
    /// not confirmed comes again with every batch).
    pub fn deliveries(&self) -> HashMap<i64, (Instant, u32)> {
        self.shared.lock().deliveries.clone()
    }

    /// Waits until every queued update has been confirmed; `false` on timeout.
    pub async fn wait_drained(&self, timeout: Duration) -> bool {
        self.wait_state(timeout, |st| st.queue.is_empty().then_some(()))
            .await
            .is_some()
    }

    /// A private (positive `chat_id`) or group (negative) text message from `user_id`. A leading
    /// `/command` gets its `bot_command` entity, as Telegram adds one.
    ///
    /// Users have no `language_code`; set one with
    /// `update["message"]["from"]["language_code"] = "ky".into()`.
    pub fn text_message(&self, chat_id: i64, user_id: i64, text: &str) -> Value {
        let mut message = self.incoming_message(chat_id, user_id);
        message["text"] = text.into();
        if text.starts_with('/') {
            let command = text.split_whitespace().next().unwrap_or(text);
            message["entities"] = json!([{
                "type": "bot_command",
                "offset": 0,
                "length": command.encode_utf16().count(),
            }]);
        }
        json!({ "message": message })
    }

    /// A text message in a group chat; a positive `chat_id` is negated so that it denotes a
    /// group, and ids at or below -1 000 000 000 000 denote supergroups, as on Telegram.
    pub fn group_message(&self, chat_id: i64, user_id: i64, text: &str) -> Value {
        self.text_message(-chat_id.abs(), user_id, text)
    }

    /// A press of an inline button with `data` on message `message_id`. If the fake knows the
    /// message (the bot sent it), the real message, keyboard included, is attached.
    pub fn callback(&self, chat_id: i64, user_id: i64, message_id: i32, data: &str) -> Value {
        let (message, query_id, bot) = {
            let mut st = self.shared.lock();
            let message = st.find_message(chat_id, message_id).cloned();
            (message, st.next_serial(), st.bot_user())
        };
        let message = message.unwrap_or_else(|| {
            json!({
                "message_id": message_id,
                "date": unix_now(),
                "chat": chat_json(chat_id),
                "from": bot,
                "text": "",
            })
        });
        json!({ "callback_query": {
            "id": query_id.to_string(),
            "from": user_json(user_id),
            "message": message,
            "chat_instance": format!("instance{chat_id}"),
            "data": data,
        }})
    }

    pub fn inline_query(&self, user_id: i64, query: &str) -> Value {
        let query_id = self.shared.lock().next_serial();
        json!({ "inline_query": {
            "id": query_id.to_string(),
            "from": user_json(user_id),
            "query": query,
            "offset": "",
            "chat_type": "sender",
        }})
    }

    /// A voice note of `duration_secs`.
    pub fn voice_message(&self, chat_id: i64, user_id: i64, duration_secs: u32) -> Value {
        let mut message = self.incoming_message(chat_id, user_id);
        let n = self.shared.lock().next_serial();
        message["voice"] = json!({
            "file_id": format!("voice{n}"),
            "file_unique_id": format!("uvoice{n}"),
            "duration": duration_secs,
            "mime_type": "audio/ogg",
            "file_size": 2_000 * duration_secs.max(1),
        });
        json!({ "message": message })
    }

    /// A photo in two sizes, as Telegram sends them, with an optional caption.
    pub fn photo_message(&self, chat_id: i64, user_id: i64, caption: Option<&str>) -> Value {
        let mut message = self.incoming_message(chat_id, user_id);
        let n = self.shared.lock().next_serial();
        message["photo"] = json!([
            { "file_id": format!("photo{n}s"), "file_unique_id": format!("uphoto{n}s"),
              "width": 90, "height": 67, "file_size": 1_500 },
            { "file_id": format!("photo{n}"), "file_unique_id": format!("uphoto{n}"),
              "width": 1280, "height": 960, "file_size": 120_000 },
        ]);
        if let Some(caption) = caption {
            message["caption"] = caption.into();
        }
        json!({ "message": message })
    }

    fn incoming_message(&self, chat_id: i64, user_id: i64) -> Value {
        let message_id = self.shared.lock().next_message_id(chat_id);
        json!({
            "message_id": message_id,
            "date": unix_now(),
            "chat": chat_json(chat_id),
            "from": user_json(user_id),
        })
    }

    // ----- observing the bot -----

    /// Every call since the last [`FakeBotApi::clear`], in order of arrival.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    /// Calls of one method; the name is matched case-insensitively, as Telegram does.
    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        let method = canonical_method(method);
        let st = self.shared.lock();
        st.calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// Texts the bot successfully sent (`sendMessage`) or edited into (`editMessageText`) a
    /// chat, in order, exactly as sent (markup included).
    pub fn sent_to(&self, chat_id: i64) -> Vec<String> {
        let st = self.shared.lock();
        st.calls
            .iter()
            .filter(|c| {
                c.is_ok()
                    && (c.method == "sendMessage" || c.method == "editMessageText")
                    && c.chat_id() == Some(chat_id)
            })
            .filter_map(|c| c.text().map(str::to_owned))
            .collect()
    }

    /// Recent messages in a chat as Telegram would now return them (edits applied), oldest
    /// first, both the users' (pushed) and the bot's.
    pub fn messages(&self, chat_id: i64) -> Vec<Value> {
        let st = self.shared.lock();
        st.chats
            .get(&chat_id)
            .map(|chat| chat.recent.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The first call since the last [`FakeBotApi::clear`] (including calls made before this
    /// wait began, so there is no race with the bot) that satisfies `predicate`.
    ///
    /// `predicate` runs under the fake's lock, so it must not call back into the fake.
    pub async fn wait_for(
        &self,
        predicate: impl Fn(&Call) -> bool,
        timeout: Duration,
    ) -> Option<Call> {
        // Only calls not yet inspected are checked on each wake-up, so waiting stays linear in
        // the number of calls even during the load benchmark.
        let mut inspected = 0;
        self.wait_state(timeout, |st| {
            let start = inspected.max(st.calls_cleared) - st.calls_cleared;
            let found = st.calls[start..].iter().find(|c| predicate(c)).cloned();
            inspected = st.calls_cleared + st.calls.len();
            found
        })
        .await
    }

    /// Waits until at least `n` calls of `method` were recorded (since the last clear) and
    /// returns all of them; `None` on timeout.
    pub async fn wait_calls(&self, method: &str, n: usize, timeout: Duration) -> Option<Vec<Call>> {
        let method = canonical_method(method);
        let reached = self
            .wait_state(timeout, |st| {
                (st.call_counts.get(&method).copied().unwrap_or(0) >= n).then_some(())
            })
            .await;
        reached.map(|()| self.calls_of(&method))
    }

    /// Forgets the recorded calls (not updates, messages, faults or blocks).
    pub fn clear(&self) {
        let mut st = self.shared.lock();
        st.calls_cleared += st.calls.len();
        st.calls.clear();
        st.call_counts.clear();
    }

    /// Re-evaluates `check` whenever a call is recorded until it yields a value or time runs out.
    async fn wait_state<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&FakeState) -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before checking, so a call recorded in between still wakes us.
            let notified = self.shared.calls_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(found) = check(&self.shared.lock()) {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return check(&self.shared.lock());
            }
        }
    }

    // ----- fault injection -----

    /// The next `n` calls of `method` (case-insensitive; `"*"` for any method) fail with
    /// `fault`. Faults for one method queue up in order; method-specific ones go first.
    pub fn fail_next(&self, method: &str, n: u32, fault: Fault) {
        if n == 0 {
            return;
        }
        let key = fault_key(method);
        self.shared
            .lock()
            .faults
            .entry(key)
            .or_default()
            .push_back((fault, n));
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// From now on everything sent to `chat_id` fails with 403, as when a user blocks the bot
    /// (or, for a group, kicks it).
    pub fn block_chat(&self, chat_id: i64) {
        self.shared.lock().blocked.insert(chat_id);
    }

    pub fn unblock_chat(&self, chat_id: i64) {
        self.shared.lock().blocked.remove(&chat_id);
    }
}

// ----- state -----

struct QueuedUpdate {
    id: i64,
    kind: String,
    /// Serialised once on push: a long poll then only concatenates strings, which keeps
    /// `getUpdates` cheap when the benchmark has tens of thousands of updates queued.
    json: String,
}

#[derive(Default)]
struct ChatLog {
    last_message_id: i32,
    recent: VecDeque<Value>,
}

struct FakeState {
    bot_id: i64,
    bot_username: String,
    queue: VecDeque<QueuedUpdate>,
    next_update_id: i64,
    confirmed_offset: i64,
    /// Update id → when `getUpdates` first returned it, and how many times it did.
    deliveries: HashMap<i64, (Instant, u32)>,
    /// Persistent like Telegram's: teloxide sends `allowed_updates` on the first poll only.
    allowed_updates: Option<HashSet<String>>,
    /// Bumped by every `getUpdates`, so that an older long poll can notice it was superseded.
    poll_generation: u64,
    webhook_url: String,
    commands: HashMap<String, Value>,
    calls: Vec<Call>,
    /// Calls forgotten by `clear()`, so that waiters' cursors stay valid across it.
    calls_cleared: usize,
    call_counts: HashMap<String, usize>,
    faults: HashMap<String, VecDeque<(Fault, u32)>>,
    blocked: HashSet<i64>,
    chats: HashMap<i64, ChatLog>,
    serial: u64,
    closed: bool,
}

/// What the handler does once the state has been updated (outside the lock).
enum Reply {
    Json { status: u16, body: String },
    Poll(PollRequest),
    Drop,
}

impl Reply {
    fn outcome(&self) -> Outcome {
        match self {
            Reply::Json { status: 200, .. } | Reply::Poll(_) => Outcome::Ok,
            Reply::Json { status, .. } => Outcome::Error(*status),
            Reply::Drop => Outcome::Dropped,
        }
    }
}

struct PollRequest {
    generation: u64,
    limit: usize,
    deadline: tokio::time::Instant,
}

impl FakeState {
    fn new() -> Self {
        FakeState {
            bot_id: DEFAULT_BOT_ID,
            bot_username: DEFAULT_BOT_USERNAME.to_owned(),
            queue: VecDeque::new(),
            next_update_id: 1,
            confirmed_offset: 0,
            deliveries: HashMap::new(),
            allowed_updates: None,
            poll_generation: 0,
            webhook_url: String::new(),
            commands: HashMap::new(),
            calls: Vec::new(),
            calls_cleared: 0,
            call_counts: HashMap::new(),
            faults: HashMap::new(),
            blocked: HashSet::new(),
            chats: HashMap::new(),
            serial: 0,
            closed: false,
        }
    }

    fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    fn bot_user(&self) -> Value {
        json!({
            "id": self.bot_id,
            "is_bot": true,
            "first_name": "Jardam",
            "username": self.bot_username,
        })
    }

    fn enqueue(&mut self, id: i64, update: Value) {
        let Some(kind) = update_kind(&update) else {
            log::warn!("fake Bot API: update {id} has no content; dropped");
            return;
        };
        if let Some(message) = update.get("message") {
            self.remember_incoming(message);
        }
        if !self.is_allowed(&kind) {
            log::warn!("fake Bot API: `{kind}` update {id} discarded: not in allowed_updates");
            return;
        }
        if id < self.confirmed_offset {
            log::warn!("fake Bot API: update {id} is below the confirmed offset; never delivered");
            return;
        }
        let queued = QueuedUpdate {
            id,
            kind,
            json: update.to_string(),
        };
        match self.queue.back() {
            Some(last) if last.id > id => {
                let at = self.queue.partition_point(|u| u.id <= id);
                self.queue.insert(at, queued);
            }
            _ => self.queue.push_back(queued),
        }
    }

    fn is_allowed(&self, kind: &str) -> bool {
        self.allowed_updates
            .as_ref()
            .is_none_or(|allowed| allowed.contains(kind))
    }

    fn remember_incoming(&mut self, message: &Value) {
        let chat_id = message.pointer("/chat/id").and_then(Value::as_i64);
        let message_id = message
            .get("message_id")
            .and_then(Value::as_i64)
            .and_then(|id| i32::try_from(id).ok());
        if let (Some(chat_id), Some(message_id)) = (chat_id, message_id) {
            let chat = self.chats.entry(chat_id).or_default();
            chat.last_message_id = chat.last_message_id.max(message_id);
            self.store_message(chat_id, message.clone());
        }
    }

    fn next_message_id(&mut self, chat_id: i64) -> i32 {
        let chat = self.chats.entry(chat_id).or_default();
        chat.last_message_id += 1;
        chat.last_message_id
    }

    fn store_message(&mut self, chat_id: i64, message: Value) {
        let chat = self.chats.entry(chat_id).or_default();
        if chat.recent.len() == STORED_MESSAGES_PER_CHAT {
            chat.recent.pop_front();
        }
        chat.recent.push_back(message);
    }

    fn find_message(&mut self, chat_id: i64, message_id: i32) -> Option<&mut Value> {
        self.chats
            .get_mut(&chat_id)?
            .recent
            .iter_mut()
            .rev()
            .find(|m| m.get("message_id").and_then(Value::as_i64) == Some(i64::from(message_id)))
    }

    /// A new message from the bot, with its id allocated but no content yet.
    fn bot_message(&mut self, chat_id: i64) -> Value {
        let message_id = self.next_message_id(chat_id);
        json!({
            "message_id": message_id,
            "date": unix_now(),
            "chat": chat_json(chat_id),
            "from": self.bot_user(),
        })
    }

    fn take_fault(&mut self, method: &str) -> Option<Fault> {
        if self.faults.is_empty() {
            return None;
        }
        for key in [fault_key(method), "*".to_owned()] {
            let Some(queue) = self.faults.get_mut(&key) else {
                continue;
            };
            let Some((fault, left)) = queue.front_mut() else {
                continue;
            };
            let fault = fault.clone();
            *left -= 1;
            if *left == 0 {
                queue.pop_front();
                if queue.is_empty() {
                    self.faults.remove(&key);
                }
            }
            return Some(fault);
        }
        None
    }

    fn record(&mut self, call: Call) {
        *self.call_counts.entry(call.method.clone()).or_default() += 1;
        self.calls.push(call);
    }

    // ----- methods -----

    fn dispatch(&mut self, method: &str, p: &Value) -> Reply {
        match method {
            "getMe" => ok(json!({
                "id": self.bot_id,
                "is_bot": true,
                "first_name": "Jardam",
                "username": self.bot_username,
                "can_join_groups": true,
                "can_read_all_group_messages": false,
                "supports_inline_queries": true,
                "can_connect_to_business": false,
                "has_main_web_app": false,
            })),
            "getUpdates" => self.get_updates(p),
            "deleteWebhook" => {
                self.webhook_url.clear();
                if p.get("drop_pending_updates").and_then(Value::as_bool) == Some(true) {
                    self.queue.clear();
                }
                ok(true.into())
            }
            "setWebhook" => {
                self.webhook_url = str_param(p, "url").unwrap_or_default().to_owned();
                ok(true.into())
            }
            "getWebhookInfo" => ok(json!({
                "url": self.webhook_url,
                "has_custom_certificate": false,
                "pending_update_count": self.queue.len(),
            })),
            "setMyCommands" => {
                let commands = p.get("commands").cloned().unwrap_or_else(|| json!([]));
                self.commands.insert(commands_key(p), commands);
                ok(true.into())
            }
            "getMyCommands" => ok(self
                .commands
                .get(&commands_key(p))
                .cloned()
                .unwrap_or_else(|| json!([]))),
            "deleteMyCommands" => {
                self.commands.remove(&commands_key(p));
                ok(true.into())
            }
            "answerCallbackQuery" | "answerInlineQuery" | "close" | "logOut" => ok(true.into()),
            "sendMessage"
            | "editMessageText"
            | "editMessageReplyMarkup"
            | "sendDocument"
            | "sendPhoto"
            | "copyMessage"
            | "forwardMessage"
            | "pinChatMessage"
            | "sendChatAction"
            | "deleteMessage" => self.chat_method(method, p),
            _ => error(404, METHOD_NOT_FOUND),
        }
    }

    fn get_updates(&mut self, p: &Value) -> Reply {
        if !self.webhook_url.is_empty() {
            return error(409, WEBHOOK_ACTIVE);
        }
        if let Some(kinds) = p.get("allowed_updates").and_then(Value::as_array) {
            let kinds: HashSet<String> = kinds
                .iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect();
            // An empty list means "all kinds" (Telegram's default set, near enough).
            self.allowed_updates = (!kinds.is_empty()).then_some(kinds);
            if let Some(allowed) = &self.allowed_updates {
                self.queue.retain(|u| allowed.contains(&u.kind));
            }
        }
        let offset = p.get("offset").and_then(as_i64_loose).unwrap_or(0);
        if offset > 0 {
            while self.queue.front().is_some_and(|u| u.id < offset) {
                self.queue.pop_front();
            }
            self.confirmed_offset = self.confirmed_offset.max(offset);
        } else if offset < 0 {
            // Telegram: keep the last -offset updates, forget everything before them.
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            while self.queue.len() > keep {
                self.queue.pop_front();
            }
            let first_kept = self.queue.front().map_or(self.next_update_id, |u| u.id);
            self.confirmed_offset = self.confirmed_offset.max(first_kept);
        }
        let limit = p
            .get("limit")
            .and_then(as_i64_loose)
            .map_or(*UPDATES_LIMIT.end(), |l| {
                l.clamp(*UPDATES_LIMIT.start(), *UPDATES_LIMIT.end())
            }) as usize;
        let timeout = p
            .get("timeout")
            .and_then(as_i64_loose)
            .unwrap_or(0)
            .max(0)
            .unsigned_abs();
        self.poll_generation += 1;
        Reply::Poll(PollRequest {
            generation: self.poll_generation,
            limit,
            deadline: tokio::time::Instant::now() + Duration::from_secs(timeout),
        })
    }

    fn update_batch(&mut self, limit: usize) -> String {
        let mut out = String::from(r#"{"ok":true,"result":["#);
        let now = Instant::now();
        for (i, update) in self.queue.iter().take(limit).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&update.json);
            self.deliveries
                .entry(update.id)
                .and_modify(|d| d.1 += 1)
                .or_insert((now, 1));
        }
        out.push_str("]}");
        out
    }

    /// Methods addressed to a chat, which fail alike when the bot is blocked there.
    fn chat_method(&mut self, method: &str, p: &Value) -> Reply {
        let chat_id = match p.get("chat_id") {
            Some(id) => chat_id_of(id),
            // Edits of inline-mode messages have no chat: they return `true`.
            None if p.get("inline_message_id").is_some() => return self.edit_inline(method, p),
            None => return bad_request(NO_CHAT_ID),
        };
        if self.blocked.contains(&chat_id) {
            return if chat_id > 0 {
                error(403, BLOCKED_BY_USER)
            } else if is_supergroup(chat_id) {
                error(403, KICKED_FROM_SUPERGROUP)
            } else {
                error(403, KICKED_FROM_GROUP)
            };
        }
        match method {
            "sendMessage" => self.send_message(chat_id, p),
            "editMessageText" | "editMessageReplyMarkup" => self.edit_message(method, chat_id, p),
            "sendDocument" | "sendPhoto" => self.send_media(method, chat_id, p),
            "copyMessage" | "forwardMessage" => self.copy_message(method, chat_id, p),
            "deleteMessage" => {
                if let (Some(chat), Some(id)) = (self.chats.get_mut(&chat_id), message_id(p)) {
                    chat.recent
                        .retain(|m| m.get("message_id").and_then(Value::as_i64) != Some(id.into()));
                }
                ok(true.into())
            }
            _ => ok(true.into()),
        }
    }

    fn send_message(&mut self, chat_id: i64, p: &Value) -> Reply {
        let text = match checked_text(p, "text", MAX_TEXT_LEN, TEXT_TOO_LONG) {
            Ok(text) => text,
            Err(reply) => return reply,
        };
        if text.trim().is_empty() {
            return bad_request(TEXT_EMPTY);
        }
        let markup = match inline_markup(p) {
            Ok(markup) => markup,
            Err(reply) => return reply,
        };
        let mut message = self.bot_message(chat_id);
        message["text"] = text.into();
        if let Some(markup) = markup {
            message["reply_markup"] = markup;
        }
        self.store_message(chat_id, message.clone());
        ok(message)
    }

    fn edit_message(&mut self, method: &str, chat_id: i64, p: &Value) -> Reply {
        let Some(message_id) = message_id(p) else {
            return bad_request(NO_MESSAGE_ID);
        };
        let text = if method == "editMessageText" {
            match checked_text(p, "text", MAX_TEXT_LEN, TEXT_TOO_LONG) {
                Ok(text) if text.trim().is_empty() => return bad_request(TEXT_EMPTY),
                Ok(text) => Some(text),
                Err(reply) => return reply,
            }
        } else {
            None
        };
        let markup = match inline_markup(p) {
            Ok(markup) => markup,
            Err(reply) => return reply,
        };
        if self.find_message(chat_id, message_id).is_none() {
            // Unknown to the fake (e.g. beyond the stored history): accept the edit rather than
            // fail a test for the fake's own forgetfulness.
            let message = json!({
                "message_id": message_id,
                "date": unix_now(),
                "chat": chat_json(chat_id),
                "from": self.bot_user(),
                "text": "",
            });
            self.store_message(chat_id, message);
        }
        let message = self
            .find_message(chat_id, message_id)
            .expect("stored above if it was missing");
        let unchanged_text = text
            .as_deref()
            .is_none_or(|t| message.get("text").and_then(Value::as_str) == Some(t));
        if unchanged_text && message.get("reply_markup") == markup.as_ref() {
            return bad_request(NOT_MODIFIED);
        }
        let fields = message
            .as_object_mut()
            .expect("stored messages are objects");
        if let Some(text) = text {
            fields.insert("text".into(), text.into());
        }
        // Like Telegram, an edit without `reply_markup` removes the inline keyboard.
        match markup {
            Some(markup) => fields.insert("reply_markup".into(), markup),
            None => fields.remove("reply_markup"),
        };
        fields.insert("edit_date".into(), unix_now().into());
        ok(message.clone())
    }

    fn edit_inline(&mut self, method: &str, p: &Value) -> Reply {
        if method == "editMessageText" {
            if let Err(reply) = checked_text(p, "text", MAX_TEXT_LEN, TEXT_TOO_LONG) {
                return reply;
            }
        }
        match inline_markup(p) {
            Ok(_) => ok(true.into()),
            Err(reply) => reply,
        }
    }

    fn send_media(&mut self, method: &str, chat_id: i64, p: &Value) -> Reply {
        let field = if method == "sendPhoto" {
            "photo"
        } else {
            "document"
        };
        let Some(media) = p.get(field) else {
            return bad_request(&format!("there is no {field} in the request"));
        };
        let caption = match checked_text(p, "caption", MAX_CAPTION_LEN, CAPTION_TOO_LONG) {
            Ok(caption) => caption,
            Err(reply) => return reply,
        };
        let markup = match inline_markup(p) {
            Ok(markup) => markup,
            Err(reply) => return reply,
        };
        let n = self.next_serial();
        // An upload gets a fresh file id; a resend by file id or URL keeps what it was given.
        let (file_id, file_name, size) = match media {
            Value::String(id) => (id.clone(), None, 0),
            upload => (
                format!("{field}{n}"),
                upload
                    .get("file_name")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                upload.get("size").and_then(Value::as_u64).unwrap_or(0),
            ),
        };
        let mut message = self.bot_message(chat_id);
        if field == "photo" {
            message["photo"] = json!([{
                "file_id": file_id,
                "file_unique_id": format!("u{field}{n}"),
                "width": 512,
                "height": 512,
                "file_size": size,
            }]);
        } else {
            let mut document = json!({
                "file_id": file_id,
                "file_unique_id": format!("u{field}{n}"),
                "file_size": size,
            });
            if let Some(name) = file_name {
                document["file_name"] = name.into();
            }
            message["document"] = document;
        }
        if !caption.is_empty() {
            message["caption"] = caption.into();
        }
        if let Some(markup) = markup {
            message["reply_markup"] = markup;
        }
        self.store_message(chat_id, message.clone());
        ok(message)
    }

    fn copy_message(&mut self, method: &str, chat_id: i64, p: &Value) -> Reply {
        let from_chat = p.get("from_chat_id").map(chat_id_of);
        let original = match (from_chat, message_id(p)) {
            (Some(from_chat), Some(id)) => self.find_message(from_chat, id).cloned(),
            _ => return bad_request(NO_MESSAGE_ID),
        };
        let markup = match inline_markup(p) {
            Ok(markup) => markup,
            Err(reply) => return reply,
        };
        // Lenient when the original is unknown to the fake, see `edit_message`.
        let original = original.unwrap_or_else(|| json!({ "text": "" }));
        let mut message = self.bot_message(chat_id);
        let fields = message.as_object_mut().expect("built as an object");
        for (key, value) in original.as_object().into_iter().flatten() {
            if !matches!(
                key.as_str(),
                "message_id"
                    | "date"
                    | "chat"
                    | "from"
                    | "forward_origin"
                    | "edit_date"
                    | "reply_markup"
                    | "reply_to_message"
            ) {
                fields.insert(key.clone(), value.clone());
            }
        }
        if method == "forwardMessage" {
            let sender = original
                .get("from")
                .cloned()
                .unwrap_or_else(|| user_json(from_chat.unwrap_or_default()));
            let date = original
                .get("date")
                .cloned()
                .unwrap_or_else(|| unix_now().into());
            fields.insert(
                "forward_origin".into(),
                json!({ "type": "user", "sender_user": sender, "date": date }),
            );
        } else {
            if let Some(caption) = p.get("caption") {
                fields.insert("caption".into(), caption.clone());
            }
            if let Some(markup) = markup {
                fields.insert("reply_markup".into(), markup);
            }
        }
        let new_id = message["message_id"].clone();
        self.store_message(chat_id, message.clone());
        if method == "forwardMessage" {
            ok(message)
        } else {
            ok(json!({ "message_id": new_id }))
        }
    }
}

// ----- HTTP -----

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnKill>,
    Path((token, method)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(token) = token.strip_prefix("bot") else {
        return error_response(404, "Not Found");
    };
    let arrived = Instant::now();
    let method = canonical_method(&method);
    let (params, parse_error) = match parse_params(&headers, query.as_deref(), &body) {
        Ok(params) => (params, None),
        Err(e) => (Value::Object(Map::new()), Some(e)),
    };

    let (reply, delay) = {
        let mut st = shared.lock();
        if let Some(id) = token.split_once(':').and_then(|(id, _)| id.parse().ok()) {
            st.bot_id = id;
        }
        let fault = st.take_fault(&method);
        let reply = match (&fault, parse_error) {
            (Some(Fault::TooManyRequests { retry_after }), _) => too_many_requests(*retry_after),
            (Some(Fault::ServerError), _) => error(500, "Internal Server Error"),
            (Some(Fault::Drop), _) => Reply::Drop,
            (_, Some(e)) => bad_request(&e),
            _ => st.dispatch(&method, &params),
        };
        st.record(Call {
            method,
            body: params,
            at: arrived,
            outcome: reply.outcome(),
        });
        let delay = match fault {
            Some(Fault::Delay(delay)) => Some(delay),
            _ => None,
        };
        (reply, delay)
    };
    shared.calls_changed.notify_waiters();
    if matches!(reply, Reply::Poll(_)) {
        // Lets a superseded long poll answer 409 now rather than at its timeout.
        shared.updates_changed.notify_waiters();
    }

    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    match reply {
        Reply::Json { status, body } => json_response(status, body),
        Reply::Poll(request) => long_poll(&shared, request).await,
        Reply::Drop => {
            // The response below is never written: the killed connection fails hyper's write,
            // so the client sees the connection close mid-request.
            conn.0.store(true, Ordering::Release);
            StatusCode::OK.into_response()
        }
    }
}

async fn long_poll(shared: &Shared, request: PollRequest) -> Response {
    loop {
        let notified = shared.updates_changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut st = shared.lock();
            if st.poll_generation != request.generation && !st.closed {
                return error_response(409, OTHER_POLLER);
            }
            if !st.queue.is_empty() || st.closed || tokio::time::Instant::now() >= request.deadline
            {
                return json_response(200, st.update_batch(request.limit));
            }
        }
        // Timing out just loops once more, to answer with whatever is queued by then.
        let _ = tokio::time::timeout_at(request.deadline, notified).await;
    }
}

fn ok(result: Value) -> Reply {
    Reply::Json {
        status: 200,
        body: json!({ "ok": true, "result": result }).to_string(),
    }
}

fn error(code: u16, description: &str) -> Reply {
    Reply::Json {
        status: code,
        body: error_body(code, description),
    }
}

fn bad_request(description: &str) -> Reply {
    error(400, &format!("Bad Request: {description}"))
}

fn too_many_requests(retry_after: u32) -> Reply {
    Reply::Json {
        status: 429,
        body: json!({
            "ok": false,
            "error_code": 429,
            "description": format!("Too Many Requests: retry after {retry_after}"),
            "parameters": { "retry_after": retry_after },
        })
        .to_string(),
    }
}

fn error_body(code: u16, description: &str) -> String {
    json!({ "ok": false, "error_code": code, "description": description }).to_string()
}

fn error_response(code: u16, description: &str) -> Response {
    json_response(code, error_body(code, description))
}

fn json_response(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Accepts connections whose IO the handler can kill, which is the only way to answer a request
/// with no response at all through axum.
struct FakeListener(TcpListener);

impl Listener for FakeListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => {
                    // Without it Nagle's algorithm and delayed ACKs add ~40 ms to some replies,
                    // which would dominate the load benchmark.
                    let _ = stream.set_nodelay(true);
                    let kill = ConnKill::default();
                    return (KillableStream { stream, kill }, addr);
                }
                Err(e) => {
                    // Usually descriptor exhaustion under load: back off instead of spinning.
                    log::warn!("fake Bot API: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

#[derive(Clone, Default)]
struct ConnKill(Arc<AtomicBool>);

impl Connected<IncomingStream<'_, FakeListener>> for ConnKill {
    fn connect_info(stream: IncomingStream<'_, FakeListener>) -> Self {
        stream.io().kill.clone()
    }
}

struct KillableStream {
    stream: TcpStream,
    kill: ConnKill,
}

impl KillableStream {
    fn killed(&self) -> Option<io::Error> {
        self.kill.0.load(Ordering::Acquire).then(|| {
            io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "dropped by fault injection",
            )
        })
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.killed() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

// ----- request parsing -----

/// Parameters from the query string and the body, whichever of Telegram's accepted encodings
/// (JSON, urlencoded, multipart) the body uses.
fn parse_params(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Result<Value, String> {
    let mut params = Map::new();
    if let Some(query) = query {
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            params.insert(key.to_string(), loose_value(&key, &value));
        }
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if body.iter().all(u8::is_ascii_whitespace) {
        // Nothing to parse: parameterless calls may come with an empty body.
    } else if mime == "multipart/form-data" {
        parse_multipart(content_type, body, &mut params)?;
    } else if mime == "application/x-www-form-urlencoded" {
        for (key, value) in url::form_urlencoded::parse(body) {
            params.insert(key.to_string(), loose_value(&key, &value));
        }
    } else {
        match serde_json::from_slice(body) {
            Ok(Value::Object(fields)) => params.extend(fields),
            Ok(_) => return Err("parameters must be a JSON object".into()),
            Err(e) => return Err(format!("can't parse JSON: {e}")),
        }
    }
    Ok(Value::Object(params))
}

/// Form fields are all strings; decode the ones whose JSON meaning a test would compare against.
fn loose_value(name: &str, raw: &str) -> Value {
    let trimmed = raw.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        if let Ok(value) = serde_json::from_str(raw) {
            return value;
        }
    }
    let numeric = matches!(
        name,
        "chat_id"
            | "from_chat_id"
            | "message_id"
            | "user_id"
            | "message_thread_id"
            | "reply_to_message_id"
            | "offset"
            | "limit"
            | "timeout"
            | "duration"
    );
    if numeric {
        if let Ok(n) = raw.parse::<i64>() {
            return n.into();
        }
    }
    if !matches!(name, "text" | "caption") && (raw == "true" || raw == "false") {
        return (raw == "true").into();
    }
    raw.into()
}

fn parse_multipart(
    content_type: &str,
    body: &[u8],
    params: &mut Map<String, Value>,
) -> Result<(), String> {
    let boundary = content_type
        .split(';')
        .filter_map(|part| part.trim().strip_prefix("boundary="))
        .next()
        .map(|b| b.trim_matches('"'))
        .ok_or("multipart boundary is missing")?;
    let delimiter = format!("--{boundary}").into_bytes();
    let separator = [b"\r\n".as_slice(), &delimiter].concat();
    let malformed = || "malformed multipart body".to_owned();

    let mut files = Map::new();
    let mut pos = find(body, &delimiter, 0).ok_or_else(malformed)? + delimiter.len();
    while !body[pos..].starts_with(b"--") {
        let head_start = pos
            + if body[pos..].starts_with(b"\r\n") {
                2
            } else {
                0
            };
        let head_end = find(body, b"\r\n\r\n", head_start).ok_or_else(malformed)?;
        let head = String::from_utf8_lossy(&body[head_start..head_end]);
        let content_start = head_end + 4;
        let content_end = find(body, &separator, content_start).ok_or_else(malformed)?;
        let content = &body[content_start..content_end];
        let (name, file_name) = content_disposition(&head).ok_or_else(malformed)?;
        match file_name {
            Some(file_name) => {
                files.insert(
                    name,
                    json!({ "file_name": file_name, "size": content.len() }),
                );
            }
            None => {
                let value = loose_value(&name, &String::from_utf8_lossy(content));
                params.insert(name, value);
            }
        }
        pos = content_end + separator.len();
    }
    // teloxide names file parts randomly and refers to them as `attach://<name>`; resolving the
    // reference lets tests read `body["document"]["file_name"]`.
    for value in params.values_mut() {
        let reference = value.as_str().and_then(|s| s.strip_prefix("attach://"));
        if let Some(file) = reference.and_then(|name| files.remove(name)) {
            *value = file;
        }
    }
    params.extend(files);
    Ok(())
}

/// `name` and `filename` of a part's `Content-Disposition: form-data; ...` header.
fn content_disposition(head: &str) -> Option<(String, Option<String>)> {
    let line = head.lines().find(|line| {
        line.get(..20)
            .is_some_and(|p| p.eq_ignore_ascii_case("content-disposition:"))
    })?;
    let mut rest = &line[20..];
    let (mut name, mut file_name) = (None, None);
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq]
            .trim_matches(|c: char| c == ';' || c.is_whitespace())
            .rsplit(|c: char| c == ';' || c.is_whitespace())
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let after = &rest[eq + 1..];
        let (value, consumed) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, 1 + end)
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (after[..end].trim().to_owned(), end)
        };
        match key.as_str() {
            "name" => name = Some(value),
            "name*" => name = Some(percent_decode(value.trim_start_matches("utf-8''"))),
            "filename" => file_name = Some(value),
            _ => {}
        }
        rest = &after[consumed.min(after.len())..];
    }
    Some((name?, file_name))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

// ----- Telegram validation -----

/// The text as Telegram would store it (HTML markup parsed away) or the error it would give.
fn checked_text(p: &Value, field: &str, max_len: usize, too_long: &str) -> Result<String, Reply> {
    let raw = str_param(p, field).unwrap_or_default();
    let html = str_param(p, "parse_mode").is_some_and(|m| m.eq_ignore_ascii_case("html"));
    let text = if html {
        strip_html(raw).map_err(|e| bad_request(&format!("can't parse entities: {e}")))?
    } else {
        raw.to_owned()
    };
    // Telegram counts UTF-16 code units, so an emoji counts twice.
    if text.encode_utf16().count() > max_len {
        return Err(bad_request(too_long));
    }
    Ok(text)
}

/// Telegram's HTML subset: an unsupported or unbalanced tag is an error, while a stray `&` or
/// `>` is tolerated, as Telegram does.
fn strip_html(src: &str) -> Result<String, String> {
    let mut out = String::with_capacity(src.len());
    let mut open: Vec<&str> = Vec::new();
    let mut i = 0;
    while let Some(c) = src[i..].chars().next() {
        match c {
            '<' => {
                let end = src[i..]
                    .find('>')
                    .map(|e| i + e)
                    .ok_or_else(|| format!("Can't find end of the tag at byte offset {i}"))?;
                let tag = &src[i + 1..end];
                if let Some(closing) = tag.strip_prefix('/') {
                    let name = closing.trim().to_ascii_lowercase();
                    match open.pop() {
                        Some(top) if top == name => {}
                        Some(top) => {
                            return Err(format!(
                                "Unmatched end tag at byte offset {i}, expected \"</{top}>\", \
                                 found \"</{name}>\""
                            ));
                        }
                        None => return Err(format!("Unexpected end tag at byte offset {i}")),
                    }
                } else {
                    let name_end = tag
                        .find(|c: char| c.is_whitespace() || c == '/')
                        .unwrap_or(tag.len());
                    let name = tag[..name_end].to_ascii_lowercase();
                    let Some((known, _)) = HTML_TAGS.iter().find(|(t, _)| *t == name) else {
                        return Err(format!(
                            "Unsupported start tag \"{name}\" at byte offset {i}"
                        ));
                    };
                    open.push(known);
                }
                i = end + 1;
            }
            '&' => match decode_entity(&src[i..]) {
                Some((decoded, len)) => {
                    out.push(decoded);
                    i += len;
                }
                None => {
                    out.push('&');
                    i += 1;
                }
            },
            c => {
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    match open.last() {
        Some(top) => Err(format!(
            "Can't find end tag corresponding to start tag \"{top}\""
        )),
        None => Ok(out),
    }
}

/// An entity at the start of `s` (which begins with `&`): its character and byte length.
fn decode_entity(s: &str) -> Option<(char, usize)> {
    let semi = s.get(..12).unwrap_or(s).find(';')?;
    let name = &s[1..semi];
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        _ => {
            let code = name.strip_prefix('#')?;
            let n = match code.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => code.parse().ok()?,
            };
            char::from_u32(n)?
        }
    };
    Some((c, semi + 1))
}

/// The inline keyboard to echo back: Telegram returns only inline keyboards in a Message (and
/// teloxide would fail to parse anything else there), and rejects oversized callback data.
fn inline_markup(p: &Value) -> Result<Option<Value>, Reply> {
    let Some(markup) = p
        .get("reply_markup")
        .filter(|m| m.get("inline_keyboard").is_some())
    else {
        return Ok(None);
    };
    let buttons = markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten();
    for button in buttons {
        if button
            .get("callback_data")
            .and_then(Value::as_str)
            .is_some_and(|data| !CALLBACK_DATA_BYTES.contains(&data.len()))
        {
            return Err(bad_request(BUTTON_DATA_INVALID));
        }
    }
    Ok(Some(markup.clone()))
}

// ----- small helpers -----

fn canonical_method(raw: &str) -> String {
    // teloxide's `*Inline` payloads are the same Telegram methods.
    let raw = raw.strip_suffix("Inline").unwrap_or(raw);
    match KNOWN_METHODS.iter().find(|m| m.eq_ignore_ascii_case(raw)) {
        Some(known) => (*known).to_owned(),
        None => {
            let mut chars = raw.chars();
            chars
                .next()
                .map(|first| first.to_ascii_lowercase().to_string() + chars.as_str())
                .unwrap_or_default()
        }
    }
}

fn fault_key(method: &str) -> String {
    if method == "*" {
        method.to_owned()
    } else {
        canonical_method(method).to_ascii_lowercase()
    }
}

fn update_kind(update: &Value) -> Option<String> {
    update
        .as_object()?
        .keys()
        .find(|k| *k != "update_id")
        .cloned()
}

fn commands_key(p: &Value) -> String {
    let scope = p
        .get("scope")
        .cloned()
        .unwrap_or_else(|| json!({ "type": "default" }));
    let language = str_param(p, "language_code").unwrap_or_default();
    format!("{scope}|{language}")
}

fn str_param<'a>(p: &'a Value, name: &str) -> Option<&'a str> {
    p.get(name).and_then(Value::as_str)
}

fn as_i64_loose(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.parse().ok())
}

fn message_id(p: &Value) -> Option<i32> {
    p.get("message_id")
        .and_then(as_i64_loose)
        .and_then(|id| i32::try_from(id).ok())
}

/// Numeric chat ids as given; `@username`s map to a stable made-up supergroup id, as they only
/// ever name public chats.
fn chat_id_of(v: &Value) -> i64 {
    if let Some(id) = as_i64_loose(v) {
        return id;
    }
    let name = v.as_str().unwrap_or_default();
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    -1_000_000_000_000 - (hash % 1_000_000_000) as i64
}

fn is_supergroup(chat_id: i64) -> bool {
    chat_id <= -1_000_000_000_000
}

fn chat_json(chat_id: i64) -> Value {
    if chat_id > 0 {
        json!({
            "id": chat_id,
            "type": "private",
            "first_name": format!("User{chat_id}"),
            "username": format!("user{chat_id}"),
        })
    } else if is_supergroup(chat_id) {
        json!({ "id": chat_id, "type": "supergroup", "title": format!("Supergroup {chat_id}") })
    } else {
        json!({ "id": chat_id, "type": "group", "title": format!("Group {chat_id}") })
    }
}

fn user_json(user_id: i64) -> Value {
    json!({
        "id": user_id,
        "is_bot": false,
        "first_name": format!("User{user_id}"),
        "username": format!("user{user_id}"),
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_checked_like_telegram() {
        assert_eq!(
            strip_html("<b>a</b> &amp; b & c > d").unwrap(),
            "a & b & c > d"
        );
        assert_eq!(strip_html("<a href=\"x\">l</a>&#33;&#x21;").unwrap(), "l!!");
        assert!(
            strip_html("a<br>b")
                .unwrap_err()
                .contains("Unsupported start tag \"br\"")
        );
        assert!(
            strip_html("<b>a")
                .unwrap_err()
                .contains("Can't find end tag")
        );
        assert!(
            strip_html("<b><i>a</b></i>")
                .unwrap_err()
                .contains("Unmatched end tag")
        );
        assert!(strip_html("1 < 2").is_err());
        assert_eq!(
            strip_html("<tg-spoiler>a</tg-spoiler><blockquote expandable>b</blockquote>").unwrap(),
            "ab"
        );
    }

    #[test]
    fn method_names_are_canonical() {
        assert_eq!(canonical_method("SendMessage"), "sendMessage");
        assert_eq!(canonical_method("EditMessageTextInline"), "editMessageText");
        assert_eq!(canonical_method("getme"), "getMe");
        assert_eq!(canonical_method("SomethingNew"), "somethingNew");
    }

    #[test]
    fn multipart_fields_and_files_are_recorded() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n42\r\n\
            --XyZ\r\nContent-Disposition: form-data; name=\"document\"\r\n\r\nattach://f1\r\n\
            --XyZ\r\nContent-Disposition: form-data; name=\"reply_markup\"\r\n\r\n{\"inline_keyboard\":[]}\r\n\
            --XyZ\r\nContent-Disposition: form-data; name=\"f1\"; filename=\"a \\\"b\\\".txt\"\r\n\
            Content-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n";
        let mut params = Map::new();
        parse_multipart("multipart/form-data; boundary=XyZ", body, &mut params).unwrap();
        assert_eq!(params["chat_id"], json!(42));
        assert_eq!(
            params["document"],
            json!({ "file_name": "a \"b\".txt", "size": 5 })
        );
        assert_eq!(params["reply_markup"], json!({ "inline_keyboard": [] }));
        assert!(!params.contains_key("f1"));
    }
}
