//! Load benchmark: a burst of updates from many chats through the real handler tree, against a
//! fake Telegram Bot API on loopback. Run with `cargo bench --bench load`; `LOAD_UPDATES=5000`
//! for a quick run (10 updates per chat, so 500 chats), `LOAD_SKIP_PG=1` without PostgreSQL,
//! `LOAD_SURGE_UPDATES` for the size of the surge scenario, `LOAD_KIND_UPDATES` for each kind's,
//! `LOAD_ONLY=TEXT` to run only the scenarios whose name holds TEXT.
//!
//! What it reports, per scenario: throughput (updates handled per second of wall time),
//! handler latency percentiles, and the bot process's peak memory. Scenarios: Jardam on SQLite
//! (burst, a paced load, the paced load with one chat flooding, and a surge: with an expert
//! chat, 20,000 updates from 4,000 chats, one in five the same question the FAQ cannot answer,
//! reporting the posts and edits in the expert chat; then one kind of update at a time: FAQ
//! answers, button presses, new unmet questions, repeat askers of a grouped one), the bare
//! teloxide dispatcher
//! and polling with an echo handler (the ceiling
//! that teloxide, HTTP and the fake impose), Jardam on PostgreSQL, and two Jardam instances
//! sharing one PostgreSQL database.
//!
//! Design decisions:
//!
//! - The fake Bot API runs in a child process (this same binary, re-executed with
//!   `LOAD_ROLE=fake`), not in the bot's process. The fake keeps every call it receives and the
//!   recent messages of every chat; in-process, that bookkeeping would grow with the run and be
//!   counted as the bot's memory. In its own process it also has its own scheduler, as Telegram
//!   is a separate party. Both processes still share the machine's CPUs, so on a small machine
//!   the fake's work (JSON, HTTP) is taken out of the bot's throughput: the figures are a lower
//!   bound of the bot's capacity.
//! - The bot side is what `jardam run` builds: `app::build` (knowledge base, storage, matcher),
//!   `app::dispatcher` (`telegram::schema()`, a teloxide `Dispatcher`), the background task, and
//!   our long polling (`telegram::polling`). Only the send limits differ: Telegram allows ~30
//!   messages/s per bot and ~1/s per chat, which would cap any run by definition. They are
//!   raised far above that, so that the bench measures the bot's own capacity, not Telegram's
//!   policy.
//! - Each chat sends the same 10 updates: /start, the language and country buttons, three
//!   questions the FAQ answers, two it cannot (stored for the experts), the menu button and
//!   /help. The updates go out round-robin over the chats (every chat's first update, then
//!   every chat's second, ...), as traffic from many people arrives; a chat sending all 10 at
//!   once would hit the per-chat flood limit (burst 8, then 2/s), which is the limit doing its
//!   job, not the bot's speed.
//! - Completion: every update yields at least one reply (sendMessage, editMessageText,
//!   answerCallbackQuery). The replies each step yields are counted once on a calibration chat,
//!   handled one update at a time; the run is complete when the fake has received all the
//!   replies expected, and it ends at the last reply's arrival.
//! - Handler latency: from the moment `getUpdates` first handed the update to the bot (the fake
//!   records it) to the arrival of the bot's first reply to it. Replies are matched to updates
//!   per chat: one chat's updates are handled in order, so with the calibrated number of replies
//!   per step the n-th update's first reply is known. The polling listener takes in at most 256
//!   updates at a time, so in a burst the backlog waits at the fake (as it would at Telegram),
//!   and the latency is the handling of an update among at most 256 others in progress.
//! - Flood: in one scenario, one more chat sends 40 messages at once as the paced load starts
//!   (the flood limit lets 8 through, then 2 a second). Its replies are not measured; the other
//!   chats' latency is compared with the same paced load without it.
//! - CPU: the bot process's user and system time over the scenario (the fake runs in its
//!   own), divided by the updates.
//! - Memory: the bot process's `VmRSS` before the bot is built, and `VmHWM` (peak resident set)
//!   at the end of the scenario, from /proc/self/status; the peak is reset (`5` written to
//!   /proc/self/clear_refs) before each scenario. The difference is what the bot added. The
//!   allocator keeps freed memory, so only the first scenario starts from a clean process; the
//!   later ones' peaks include what earlier scenarios left resident.

use fake_bot_api::{Call, FakeBotApi};
use jardam::config::Config;
use jardam::telegram::limits::Limits;
use jardam::telegram::polling::{Polling, Running};
use jardam::telegram::{Deps, TgBot};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use teloxide::dispatching::ShutdownToken;
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const TOKEN: &str = "123456:LOAD";
const PER_CHAT: usize = 10;
/// Telegram's send limits (30 a second in all, 1 a second to a chat) would cap any run by
/// definition: the bench raises them far above, so that it measures the bot's own capacity.
const NO_LIMITS: Limits = Limits {
    per_second: 1_000_000,
    chat_per_second: 1_000_000,
    chat_burst: 1_000_000,
    group_per_minute: 1_000_000,
};
/// In the flood scenario, one more chat sends this many messages at once when the paced load
/// starts: a script, far past the flood limit (a burst of 8, then 2 a second).
const FLOOD: usize = 40;
/// The flooding chat's id.
const FLOOD_CHAT: i64 = 800_000_000;
/// A run that has not completed by then has stalled; it is reported as incomplete.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// The questions each chat asks; the first three the FAQ answers, the other two it cannot.
const ANSWERED: [&str; 3] = [
    "how do I register my address in Moscow",
    "patent price",
    "how to get a work patent in Russia",
];
const UNMET: [&str; 2] = [
    "cheap plane tickets to Istanbul",
    "where can I buy a used car in Bishkek",
];
/// The surge: the day a new rule is announced, everyone asks the same thing the FAQ does not
/// answer yet.
const SURGE: &str = "is it true that from january migrants need a new card for the metro";
/// The expert chat of the surge scenario.
const EXPERTS: i64 = -100_900;
/// Telegram's group limit is 20 messages a minute: one edit of a post every 3 s at most.
const EDIT_WINDOW: Duration = Duration::from_secs(3);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Script {
    Jardam,
    Echo,
    /// The least an FAQ bot does per update, as a reference: the matcher on a text, the
    /// chat's profile read and one row written (SQLite), one reply; no screens, no experts.
    Reference,
    /// Jardam with an expert chat, one update in five the same unmet question.
    Surge,
    /// Jardam with an expert chat, every update of one kind (for the CPU of each kind).
    Kind(Kind),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// A question the FAQ answers.
    Faq,
    /// A button press (the menu, a topic).
    Button,
    /// A question the FAQ cannot answer, new: stored and posted to the expert chat.
    NewUnmet,
    /// The question everyone asks, the FAQ cannot answer: joins the group's post.
    Repeat,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Faq, Kind::Button, Kind::NewUnmet, Kind::Repeat];

    fn name(self) -> &'static str {
        match self {
            Kind::Faq => "faq",
            Kind::Button => "button",
            Kind::NewUnmet => "new-unmet",
            Kind::Repeat => "repeat",
        }
    }
}

impl Script {
    fn name(self) -> String {
        match self {
            Script::Echo => "echo".into(),
            Script::Reference => "reference".into(),
            Script::Jardam => "jardam".into(),
            Script::Surge => "surge".into(),
            Script::Kind(k) => format!("kind-{}", k.name()),
        }
    }

    fn parse(s: &str) -> Script {
        match s {
            "echo" => Script::Echo,
            "reference" => Script::Reference,
            "surge" => Script::Surge,
            _ => Kind::ALL
                .into_iter()
                .find(|k| s.strip_prefix("kind-") == Some(k.name()))
                .map_or(Script::Jardam, Script::Kind),
        }
    }

    /// Whether the bot has an expert chat: its posts and edits are not replies to a chat of
    /// the fleet.
    fn has_experts(self) -> bool {
        matches!(self, Script::Surge | Script::Kind(_))
    }

    fn steps_per_chat(self) -> usize {
        steps(0, self).len()
    }
}

/// One step of a chat's script.
enum Step {
    Text(&'static str),
    /// A text made the chat's own (its id and the step's number appended).
    Own(&'static str, usize),
    Button(String),
}

fn steps(kb_version: u16, script: Script) -> Vec<Step> {
    let button = |action: &str| Step::Button(format!("{kb_version:x}:{action}"));
    if let Script::Kind(kind) = script {
        return (0..5)
            .map(|i| match kind {
                Kind::Faq => Step::Text(ANSWERED[i % ANSWERED.len()]),
                Kind::Button => button(["M", "T:0", "M", "T:1", "M"][i]),
                Kind::NewUnmet => Step::Own(UNMET[i % UNMET.len()], i),
                Kind::Repeat => Step::Text(SURGE),
            })
            .collect();
    }
    if script == Script::Surge {
        return vec![
            Step::Text(ANSWERED[0]),
            Step::Text(ANSWERED[1]),
            Step::Text(SURGE),
            Step::Text(ANSWERED[2]),
            Step::Text("/help"),
        ];
    }
    vec![
        Step::Text("/start"),
        button("L:en:o"),
        button("C:ru:o"),
        Step::Text(ANSWERED[0]),
        Step::Text(ANSWERED[1]),
        Step::Text(UNMET[0]),
        Step::Text(ANSWERED[2]),
        button("M"),
        Step::Text(UNMET[1]),
        Step::Text("/help"),
    ]
}

fn main() -> anyhow::Result<()> {
    // Two worker threads, whatever the machine: the bot shares the CPUs with the fake anyway,
    // and a fixed count makes runs on different machines comparable.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if std::env::var("LOAD_ROLE").as_deref() == Ok("fake") {
        runtime.block_on(fake_main())
    } else {
        runtime.block_on(run_all())
    }
}

// ===== the bot's side =====

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// One line of the final table.
struct Row {
    name: String,
    result: Value,
    rss_before_mb: f64,
    peak_mb: f64,
}

async fn run_all() -> anyhow::Result<()> {
    let updates = env_usize("LOAD_UPDATES", 50_000).max(PER_CHAT);
    let chats = updates / PER_CHAT;
    let paced_rate = env_usize("LOAD_PACED_RATE", 1_000);
    let paced_chats = env_usize("LOAD_PACED_UPDATES", 10_000).min(updates) / PER_CHAT;
    let peak_resets = reset_peak();
    println!(
        "load: {} updates from {chats} chats ({PER_CHAT} per chat), round-robin; the send limits \
         raised far above Telegram's (30 msg/s, 1/s per chat) so that the bot's own capacity is measured; the \
         fake Bot API runs in a child process on the same {} CPU(s)",
        chats * PER_CHAT,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    if !peak_resets {
        println!("note: /proc/self/clear_refs is not writable: peak RSS is the process's so far");
    }
    let mut rows = Vec::new();

    let dir = tempfile::tempdir()?;
    let sqlite = |name: &str| format!("sqlite:{}?mode=rwc", dir.path().join(name).display());
    rows.extend(
        scenario(
            "Jardam, SQLite, burst",
            Script::Jardam,
            &[sqlite("burst.db")],
            chats,
            0,
            0,
        )
        .await?,
    );
    rows.extend(
        scenario(
            &format!("Jardam, SQLite, paced {paced_rate}/s"),
            Script::Jardam,
            &[sqlite("paced.db")],
            paced_chats,
            paced_rate,
            0,
        )
        .await?,
    );
    rows.extend(
        scenario(
            &format!("Jardam, SQLite, paced, +flood {FLOOD}"),
            Script::Jardam,
            &[sqlite("flood.db")],
            paced_chats,
            paced_rate,
            FLOOD,
        )
        .await?,
    );
    // 20,000 updates (LOAD_SURGE_UPDATES): 4,000 chats of 5 steps, one of them the surge
    // question.
    let surge_chats = (env_usize("LOAD_SURGE_UPDATES", 20_000) / 5).max(1);
    rows.extend(
        scenario(
            "Jardam, SQLite, surge 1 in 5",
            Script::Surge,
            &[sqlite("surge.db")],
            surge_chats,
            0,
            0,
        )
        .await?,
    );
    // One kind of update at a time, for the CPU each costs (LOAD_KIND_UPDATES each).
    let kind_chats = (env_usize("LOAD_KIND_UPDATES", 10_000) / 5).max(1);
    for kind in Kind::ALL {
        rows.extend(
            scenario(
                &format!("kind: {}", kind.name()),
                Script::Kind(kind),
                &[sqlite(&format!("kind-{}.db", kind.name()))],
                kind_chats,
                0,
                0,
            )
            .await?,
        );
    }
    rows.extend(
        scenario(
            "reference FAQ handler, SQLite, burst",
            Script::Reference,
            &[sqlite("reference.db")],
            chats,
            0,
            0,
        )
        .await?,
    );
    rows.extend(
        scenario(
            "echo dispatcher, burst",
            Script::Echo,
            &[String::new()],
            chats,
            0,
            0,
        )
        .await?,
    );

    if std::env::var("LOAD_SKIP_PG").is_ok_and(|v| !v.is_empty() && v != "0") {
        println!("PostgreSQL scenarios skipped (LOAD_SKIP_PG)");
    } else {
        let admin = std::env::var("BENCH_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        match postgres_rows(&admin, chats).await {
            Ok(mut pg) => rows.append(&mut pg),
            Err(e) => println!("PostgreSQL scenarios skipped: {e:#}"),
        }
    }
    report(&rows, chats);
    Ok(())
}

/// A fresh database per scenario, dropped afterwards, so that no run sees another's data.
async fn postgres_rows(admin: &str, chats: usize) -> anyhow::Result<Vec<Row>> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin).await?;
    let mut rows = Vec::new();
    for (instances, name) in [
        (1, "Jardam, PostgreSQL, burst"),
        (2, "Jardam, PostgreSQL, 2 instances"),
    ] {
        let db = format!("jardam_bench_{}_{instances}", std::process::id());
        sqlx::query(&format!("DROP DATABASE IF EXISTS {db}"))
            .execute(&mut conn)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {db}"))
            .execute(&mut conn)
            .await?;
        let mut url = url::Url::parse(admin)?;
        url.set_path(&db);
        let urls = vec![url.to_string(); instances];
        let row = scenario(name, Script::Jardam, &urls, chats, 0, 0).await;
        // FORCE: a pool connection that outlived its pool must not keep the database alive.
        let dropped = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
        if let Err(e) = dropped {
            println!("warning: database {db} not dropped: {e}");
        }
        rows.extend(row?);
    }
    Ok(rows)
}

/// Runs one scenario: a child process with one fake Bot API per instance, one bot per instance
/// (`databases[i]` is instance i's DATABASE_URL; ignored by the echo bot).
async fn scenario(
    name: &str,
    script: Script,
    databases: &[String],
    chats: usize,
    rate: usize,
    flood: usize,
) -> anyhow::Result<Option<Row>> {
    // LOAD_ONLY=TEXT runs only the scenarios whose name holds TEXT (for profiling one of them).
    if std::env::var("LOAD_ONLY").is_ok_and(|only| !name.contains(only.as_str())) {
        return Ok(None);
    }
    let per_chat = script.steps_per_chat();
    println!(
        "\n== {name}: {} updates from {chats} chats",
        chats * per_chat
    );
    reset_peak();
    let rss_before_mb = proc_status_mb("VmRSS");
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .env("LOAD_ROLE", "fake")
        .env("LOAD_INSTANCES", databases.len().to_string())
        .env("LOAD_CHATS", chats.to_string())
        .env("LOAD_RATE", rate.to_string())
        .env("LOAD_FLOOD", flood.to_string())
        .env("LOAD_SCRIPT", script.name())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut to_child = child.stdin.take().expect("piped");
    let mut from_child = BufReader::new(child.stdout.take().expect("piped")).lines();
    let urls_line = from_child
        .next_line()
        .await?
        .ok_or_else(|| anyhow::anyhow!("the fake Bot API process exited at start"))?;
    let urls: Vec<&str> = urls_line
        .strip_prefix("URLS ")
        .unwrap_or_default()
        .split(' ')
        .collect();
    anyhow::ensure!(urls.len() == databases.len(), "unexpected: {urls_line}");

    let mut bots = Vec::new();
    for (url, database) in urls.iter().zip(databases) {
        bots.push(match script {
            Script::Jardam => start_jardam(url, database, None).await?,
            Script::Surge | Script::Kind(_) => start_jardam(url, database, Some(EXPERTS)).await?,
            Script::Echo => start_echo(url),
            Script::Reference => start_reference(url, database).await?,
        });
    }
    let cpu_before = cpu_seconds();
    to_child.write_all(b"go\n").await?;
    let mut result: Option<Value> = None;
    while let Some(line) = from_child.next_line().await? {
        match line.strip_prefix("RESULT ") {
            Some(json) => {
                result = Some(serde_json::from_str::<Value>(json)?);
                break;
            }
            None => println!("  {line}"),
        }
    }
    let peak_mb = proc_status_mb("VmHWM");
    if let Some(r) = result.as_mut() {
        // The bots' CPU in this process (the fake runs in its own), calibration included.
        let updates = r["updates"].as_f64().unwrap_or(0.0) + per_chat as f64;
        r["cpu_us_per_update"] = ((cpu_seconds() - cpu_before) / updates * 1e6).into();
    }
    for bot in &bots {
        // Initiated for all before waiting for any, so the instances stop together.
        let _ = bot.token.shutdown();
    }
    to_child.write_all(b"bye\n").await?;
    for bot in bots {
        if let Ok(stopping) = bot.token.shutdown() {
            stopping.await;
        }
        if let Some(background) = bot.background {
            background.abort();
        }
        let _ = bot.dispatch.await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    let result =
        result.ok_or_else(|| anyhow::anyhow!("the fake Bot API process gave no result"))?;
    println!("  {result}\n  RSS before the bot: {rss_before_mb:.1} MB, peak: {peak_mb:.1} MB");
    Ok(Some(Row {
        name: name.to_owned(),
        result,
        rss_before_mb,
        peak_mb,
    }))
}

struct RunningBot {
    token: ShutdownToken,
    dispatch: tokio::task::JoinHandle<()>,
    background: Option<tokio::task::JoinHandle<()>>,
}

fn client(url: &str) -> Bot {
    let url = url::Url::parse(url).expect("the fake's URL is valid");
    Bot::new(TOKEN).set_api_url(url)
}

/// The bot as `jardam run` builds it, with our long polling; with `experts`, its expert chat.
async fn start_jardam(
    url: &str,
    database: &str,
    experts: Option<i64>,
) -> anyhow::Result<RunningBot> {
    let mut vars = HashMap::from([
        ("DATABASE_URL".to_owned(), database.to_owned()),
        ("JARDAM_DIALOGUES".to_owned(), "dialogues".to_owned()),
    ]);
    if let Some(chat) = experts {
        vars.insert("JARDAM_EXPERT_CHAT".to_owned(), chat.to_string());
    }
    let config = Config::from_vars(vars).map_err(|e| anyhow::anyhow!("{e}"))?;
    let conversation = jardam::app::build(&config).await?;
    let deps = Deps::new(conversation, Arc::new(config));
    let client = client(url);
    let bot = TgBot::new(client.clone(), NO_LIMITS);
    let background = jardam::app::spawn_background(bot.clone(), deps.clone());
    let running = Running::default();
    let mut dispatcher = jardam::app::dispatcher(
        client.clone(),
        bot,
        deps,
        running.clone(),
        jardam::telegram::inbox::Inbox::default(),
    );
    let token = dispatcher.shutdown_token();
    let listener = Polling::new(client, running);
    let dispatch = tokio::spawn(async move {
        dispatcher
            .dispatch_with_listener(
                listener,
                LoggingErrorHandler::with_custom_text("receiving updates failed"),
            )
            .await
    });
    Ok(RunningBot {
        token,
        dispatch,
        background: Some(background),
    })
}

/// The baseline: teloxide's dispatcher and long polling with a handler that only echoes.
fn start_echo(url: &str) -> RunningBot {
    let handler = dptree::entry()
        .branch(
            Update::filter_message().endpoint(|bot: Bot, m: Message| async move {
                let text = m.text().unwrap_or("?").to_owned();
                bot.send_message(m.chat.id, text).await?;
                anyhow::Ok(())
            }),
        )
        .branch(Update::filter_callback_query().endpoint(
            |bot: Bot, q: CallbackQuery| async move {
                bot.answer_callback_query(q.id).await?;
                anyhow::Ok(())
            },
        ));
    let mut dispatcher = Dispatcher::builder(client(url), handler)
        .default_handler(|_| async {})
        .error_handler(LoggingErrorHandler::with_custom_text("a handler failed"))
        .build();
    let token = dispatcher.shutdown_token();
    let dispatch = tokio::spawn(async move { dispatcher.dispatch().await });
    RunningBot {
        token,
        dispatch,
        background: None,
    }
}

/// The reference: teloxide's dispatcher and long polling with the least an FAQ bot does per
/// update. A message: its profile read, the matcher on its text, the chat's state written (one
/// SQLite row), the answer's title sent. A button: the profile read and the press answered.
async fn start_reference(url: &str, database: &str) -> anyhow::Result<RunningBot> {
    let vars = HashMap::from([
        ("DATABASE_URL".to_owned(), database.to_owned()),
        ("JARDAM_DIALOGUES".to_owned(), "dialogues".to_owned()),
    ]);
    let config = Config::from_vars(vars).map_err(|e| anyhow::anyhow!("{e}"))?;
    let conversation = jardam::app::build(&config).await?;
    let handler = dptree::entry()
        .branch(Update::filter_message().endpoint(
            |bot: Bot, m: Message, c: Arc<jardam::bot::Conversation>| async move {
                let store = c.store();
                let profile = store.get_profile(m.chat.id.0).await?;
                let lang = profile.and_then(|p| p.lang);
                let k = c.knowledge();
                let r = k.matcher.ask(m.text().unwrap_or(""), lang, None);
                let entry = r.entry.unwrap_or_default();
                store.set_chat_state(m.chat.id.0, Some(&entry)).await?;
                let title =
                    k.kb.entry(&entry)
                        .map_or("?".to_owned(), |e| e.title.get(r.lang).clone());
                bot.send_message(m.chat.id, title).await?;
                anyhow::Ok(())
            },
        ))
        .branch(Update::filter_callback_query().endpoint(
            |bot: Bot, q: CallbackQuery, c: Arc<jardam::bot::Conversation>| async move {
                c.store().get_profile(q.from.id.0 as i64).await?;
                bot.answer_callback_query(q.id).await?;
                anyhow::Ok(())
            },
        ));
    let mut dispatcher = Dispatcher::builder(client(url), handler)
        .dependencies(dptree::deps![conversation])
        .default_handler(|_| async {})
        .error_handler(LoggingErrorHandler::with_custom_text("a handler failed"))
        .build();
    let token = dispatcher.shutdown_token();
    let dispatch = tokio::spawn(async move { dispatcher.dispatch().await });
    Ok(RunningBot {
        token,
        dispatch,
        background: None,
    })
}

/// `field` of /proc/self/status in MB (0 where there is no procfs).
fn proc_status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time (user and system) this process has used, from /proc/self/stat (in clock ticks of
/// 1/100 s, Linux's USER_HZ); 0 where there is no procfs.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Resets VmHWM to the current RSS, so that each scenario's peak is its own.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn report(rows: &[Row], chats: usize) {
    let num = |r: &Row, k: &str| r.result[k].as_f64().unwrap_or(f64::NAN);
    println!(
        "\n{:<34} {:>8} {:>9} {:>10} {:>7} {:>7} {:>7} {:>8} {:>9} {:>8} {:>8} {:>7} {:>10}",
        "scenario",
        "updates",
        "handled",
        "updates/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "RSS0 MB",
        "peak MB",
        "bot MB",
        "errors",
        "CPU µs/upd"
    );
    for r in rows {
        println!(
            "{:<34} {:>8} {:>9} {:>10.0} {:>7.1} {:>7.1} {:>7.1} {:>8.1} {:>9.1} {:>8.1} {:>8.1} {:>7} {:>10.0}",
            r.name,
            r.result["updates"],
            r.result["handled"],
            num(r, "updates_per_s"),
            num(r, "p50_ms"),
            num(r, "p90_ms"),
            num(r, "p99_ms"),
            num(r, "max_ms"),
            r.rss_before_mb,
            r.peak_mb,
            r.peak_mb - r.rss_before_mb,
            r.result["errors"],
            num(r, "cpu_us_per_update"),
        );
    }
    let rate = |prefix: &str| {
        rows.iter()
            .find(|r| r.name.starts_with(prefix))
            .map(|r| num(r, "updates_per_s"))
    };
    println!(
        "\nupdates/s: updates ÷ (last reply − first push); latency: hand-out by getUpdates → first \
         reply; RSS0: bot process before the bot is built; peak: its VmHWM during the scenario."
    );
    println!(
        "Latency includes waiting among the (at most 256) updates taken in at once; the rest \
         of a burst waits at the fake, as it would at Telegram."
    );
    println!(
        "Memory: only the first scenario starts in a clean process; the allocator keeps what \
         earlier scenarios freed, so later peaks include it."
    );
    if let (Some(j), Some(e)) = (rate("Jardam, SQLite, burst"), rate("echo")) {
        println!("Jardam (SQLite) ÷ echo dispatcher: {:.2}", j / e);
    }
    if let (Some(j), Some(r)) = (rate("Jardam, SQLite, burst"), rate("reference")) {
        println!("Jardam (SQLite) ÷ reference FAQ handler: {:.2}", j / r);
    }
    if let (Some(r), Some(e)) = (rate("reference"), rate("echo")) {
        println!("reference FAQ handler ÷ echo dispatcher: {:.2}", r / e);
    }
    if let (Some(surge), Some(burst)) = (
        row_named(rows, "Jardam, SQLite, surge"),
        row_named(rows, "Jardam, SQLite, burst"),
    ) {
        println!(
            "Surge ÷ burst (SQLite): {:.2} updates/s, CPU per update {:.2}×; expert chat: {} \
             post(s), {} edit(s), at most {} edit(s) of one post within {EDIT_WINDOW:?}",
            num(surge, "updates_per_s") / num(burst, "updates_per_s"),
            num(surge, "cpu_us_per_update") / num(burst, "cpu_us_per_update"),
            surge.result["expert_posts"],
            surge.result["expert_edits"],
            surge.result["max_edits_per_window"],
        );
    }
    if let Some(echo) = row_named(rows, "echo") {
        let measured = |r: &&Row| {
            r.name.starts_with("Jardam") || r.name.starts_with("kind") || r.name.starts_with("ref")
        };
        for r in rows.iter().filter(measured) {
            println!(
                "CPU per update ÷ echo handler's: {:.2} ({})",
                num(r, "cpu_us_per_update") / num(echo, "cpu_us_per_update"),
                r.name
            );
        }
    }
    if let (Some(j), Some(e)) = (rate("Jardam, PostgreSQL, burst"), rate("echo")) {
        println!("Jardam (PostgreSQL) ÷ echo dispatcher: {:.2}", j / e);
    }
    let row = |prefix: &str| rows.iter().find(|r| r.name.starts_with(prefix));
    if let (Some(calm), Some(flood)) = (
        row("Jardam, SQLite, paced").filter(|r| !r.name.contains("flood")),
        rows.iter().find(|r| r.name.contains("flood")),
    ) {
        println!(
            "Other chats while one floods: p50 {:.1} → {:.1} ms, p99 {:.1} → {:.1} ms",
            num(calm, "p50_ms"),
            num(flood, "p50_ms"),
            num(calm, "p99_ms"),
            num(flood, "p99_ms"),
        );
    }
    if let (Some(one), Some(two)) = (
        rate("Jardam, PostgreSQL, burst"),
        rate("Jardam, PostgreSQL, 2"),
    ) {
        println!(
            "PostgreSQL, 2 instances ÷ 1: {:.2} (both instances and both fakes share this \
             machine's CPUs)",
            two / one
        );
    }
    println!(
        "targets: SQLite ≥ 2,000 updates/s over 50,000 updates from 5,000 chats, p99 < 10 ms, \
         peak RSS < 80 MB; PostgreSQL ≥ 1,000 updates/s, 2 instances ≥ 1.6×. This run: {} \
         updates from {chats} chats.",
        chats * PER_CHAT
    );
}

fn row_named<'a>(rows: &'a [Row], prefix: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.name.starts_with(prefix))
}

// ===== the fake Telegram's side (child process) =====

/// A reply: the calls that count as the bot answering an update.
fn is_reply(method: &str) -> bool {
    matches!(
        method,
        "sendMessage" | "editMessageText" | "editMessageReplyMarkup" | "answerCallbackQuery"
    )
}

async fn fake_main() -> anyhow::Result<()> {
    let instances = env_usize("LOAD_INSTANCES", 1).max(1);
    let chats = env_usize("LOAD_CHATS", 5_000);
    let rate = env_usize("LOAD_RATE", 0);
    let flood = env_usize("LOAD_FLOOD", 0);
    let script = Script::parse(&std::env::var("LOAD_SCRIPT").unwrap_or_default());
    let kb_version = jardam::kb::load("dialogues".as_ref(), &Default::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .0
        .version;
    let steps = steps(kb_version, script);
    let mut fakes = Vec::new();
    for _ in 0..instances {
        fakes.push(FakeBotApi::start().await);
    }
    let urls: Vec<String> = fakes.iter().map(FakeBotApi::url).collect();
    println!("URLS {}", urls.join(" "));
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    anyhow::ensure!(stdin.next_line().await?.as_deref() == Some("go"));

    let mut out = Fleet::default();
    // The replies of each step, counted on one chat handled an update at a time.
    let calibration_chat = 900_000_000;
    let per_step: Vec<Vec<String>> = match script {
        Script::Echo | Script::Reference => steps
            .iter()
            .map(|s| {
                vec![match s {
                    Step::Text(_) | Step::Own(..) => "sendMessage".to_owned(),
                    Step::Button(_) => "answerCallbackQuery".to_owned(),
                }]
            })
            .collect(),
        Script::Jardam | Script::Surge | Script::Kind(_) => {
            let mut per_step = Vec::new();
            for (i, step) in steps.iter().enumerate() {
                let before = out.replies_of(&fakes[0], calibration_chat).len();
                out.push(&fakes[0], 0, calibration_chat, i, step);
                let mut seen = before;
                let deadline = Instant::now() + Duration::from_secs(30);
                // Quiet for 300 ms after the first reply: the step is fully answered.
                loop {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let now = out.replies_of(&fakes[0], calibration_chat).len();
                    if (now > before && now == seen) || Instant::now() > deadline {
                        break;
                    }
                    seen = now;
                }
                let replies = out.replies_of(&fakes[0], calibration_chat);
                per_step.push(replies[before..].iter().map(|c| c.method.clone()).collect());
            }
            per_step
        }
    };
    if !matches!(script, Script::Echo | Script::Reference) {
        println!("replies per step (calibration chat): {per_step:?}");
    }
    anyhow::ensure!(
        per_step.iter().all(|r| !r.is_empty()),
        "a step got no reply on the calibration chat: the bot is not answering"
    );
    // The echo bot needs no calibration chat: one reply per update by construction.
    let calibration: HashMap<String, usize> = match script {
        Script::Jardam | Script::Surge | Script::Kind(_) => {
            count_methods(per_step.iter().flatten())
        }
        Script::Echo | Script::Reference => HashMap::new(),
    };

    // Built before the clock starts, so that the burst is pushed as fast as possible.
    let mut planned = Vec::with_capacity(chats * steps.len());
    for (i, step) in steps.iter().enumerate() {
        for chat in 1..=chats as i64 {
            let fake = (chat as usize) % instances;
            planned.push((fake, chat, i, out.build(&fakes[fake], fake, chat, step)));
        }
    }
    let mut expected: Vec<HashMap<String, usize>> = vec![HashMap::new(); instances];
    for chat in 1..=chats {
        for (method, n) in count_methods(per_step.iter().flatten()) {
            *expected[chat % instances].entry(method).or_default() += n;
        }
    }
    for (method, n) in &calibration {
        *expected[0].entry(method.clone()).or_default() += n;
    }

    let started = Instant::now();
    // The flood is not the fleet's: its replies are neither expected nor measured.
    for _ in 0..flood {
        fakes[0].push_update(fakes[0].text_message(FLOOD_CHAT, FLOOD_CHAT, ANSWERED[1]));
    }
    if rate == 0 {
        for (fake, chat, step, update) in planned {
            out.push_built(&fakes[fake], fake, chat, step, update);
        }
    } else {
        let mut planned = planned.into_iter();
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        let mut pushed = 0usize;
        'pacing: loop {
            tick.tick().await;
            let due = (started.elapsed().as_secs_f64() * rate as f64) as usize;
            while pushed < due {
                let Some((fake, chat, step, update)) = planned.next() else {
                    break 'pacing;
                };
                out.push_built(&fakes[fake], fake, chat, step, update);
                pushed += 1;
            }
        }
    }
    let pushed_in = started.elapsed();

    // Done when every fake has every reply expected of it.
    let deadline = tokio::time::Instant::now() + RUN_TIMEOUT;
    let mut complete = true;
    for (fake, expected) in fakes.iter().zip(&expected) {
        for (method, n) in expected {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            complete &= fake.wait_calls(method, *n, left).await.is_some();
        }
    }
    // The flood's replies count in the totals above, and so do the posts and edits in the
    // expert chat: wait until every chat of the fleet has its own.
    while (flood > 0 || script.has_experts()) && complete {
        let per_chat: usize = per_step.iter().map(Vec::len).sum();
        let mut replies: HashMap<i64, usize> = HashMap::new();
        for c in fakes[0].calls().iter().filter(|c| is_reply(&c.method)) {
            if let Some(chat) = out.chat_of(0, c) {
                *replies.entry(chat).or_default() += 1;
            }
        }
        let done = (1..=chats as i64).all(|c| replies.get(&c).copied().unwrap_or(0) >= per_chat);
        if done {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            complete = false;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Anything beyond the expected replies (a slow-down notice, an error) shows up by now.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut result = out.analyse(&fakes, &per_step, started, calibration_chat);
    result["complete"] = complete.into();
    if script == Script::Surge {
        let calls = fakes[0].calls();
        let to_experts = |method: &str| {
            calls
                .iter()
                .filter(|c| c.method == method && c.chat_id() == Some(EXPERTS))
                .collect::<Vec<_>>()
        };
        result["expert_posts"] = to_experts("sendMessage").len().into();
        let edits = to_experts("editMessageText");
        result["expert_edits"] = edits.len().into();
        let mut by_post: HashMap<i64, Vec<Instant>> = HashMap::new();
        for e in &edits {
            let post = e
                .body
                .get("message_id")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            by_post.entry(post).or_default().push(e.at);
        }
        let most = by_post
            .values()
            .map(|times| {
                (0..times.len())
                    .map(|i| {
                        times[i..]
                            .iter()
                            .take_while(|t| t.duration_since(times[i]) < EDIT_WINDOW)
                            .count()
                    })
                    .max()
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0);
        result["max_edits_per_window"] = most.into();
    }
    result["push_s"] = pushed_in.as_secs_f64().into();
    if rate > 0 {
        result["offered_per_s"] = rate.into();
    }
    println!("RESULT {result}");
    // Serving until the bots have stopped polling, so that they stop cleanly.
    let _ = stdin.next_line().await;
    for fake in &fakes {
        fake.shutdown().await;
    }
    Ok(())
}

fn count_methods<'a>(methods: impl Iterator<Item = &'a String>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for m in methods {
        *counts.entry(m.clone()).or_default() += 1;
    }
    counts
}

/// What the fake side knows about the updates it pushed.
#[derive(Default)]
struct Fleet {
    /// Per fake: update id → (chat, step).
    pushed: Vec<HashMap<i64, (i64, usize)>>,
    /// (fake, callback query id) → chat, as answerCallbackQuery names no chat; each fake
    /// numbers its queries from 1, so the id alone is ambiguous with two instances.
    queries: HashMap<(usize, String), i64>,
}

impl Fleet {
    fn build(&mut self, fake: &FakeBotApi, index: usize, chat: i64, step: &Step) -> Value {
        match step {
            Step::Text(text) => fake.text_message(chat, chat, text),
            Step::Own(text, i) => fake.text_message(chat, chat, &format!("{text} {chat} {i}")),
            Step::Button(data) => {
                // The message the button sits on is usually not sent yet when the burst is
                // queued; the fake then attaches a stand-in, and accepts the edit of it.
                let update = fake.callback(chat, chat, 1_000, data);
                let id = update["callback_query"]["id"].as_str().unwrap_or_default();
                self.queries.insert((index, id.to_owned()), chat);
                update
            }
        }
    }

    fn push(&mut self, fake: &FakeBotApi, index: usize, chat: i64, step: usize, s: &Step) {
        let update = self.build(fake, index, chat, s);
        self.push_built(fake, index, chat, step, update);
    }

    fn push_built(&mut self, fake: &FakeBotApi, index: usize, chat: i64, step: usize, u: Value) {
        let id = fake.push_update(u);
        if self.pushed.len() <= index {
            self.pushed.resize_with(index + 1, HashMap::new);
        }
        self.pushed[index].insert(id, (chat, step));
    }

    fn chat_of(&self, index: usize, call: &Call) -> Option<i64> {
        call.chat_id().or_else(|| {
            let id = call.body.get("callback_query_id")?.as_str()?;
            self.queries.get(&(index, id.to_owned())).copied()
        })
    }

    fn replies_of(&self, fake: &FakeBotApi, chat: i64) -> Vec<Call> {
        fake.calls()
            .into_iter()
            .filter(|c| is_reply(&c.method) && self.chat_of(0, c) == Some(chat))
            .collect()
    }

    fn analyse(
        &self,
        fakes: &[FakeBotApi],
        per_step: &[Vec<String>],
        started: Instant,
        calibration_chat: i64,
    ) -> Value {
        let offsets: Vec<usize> = per_step
            .iter()
            .scan(0, |at, r| {
                let first = *at;
                *at += r.len();
                Some(first)
            })
            .collect();
        let per_chat: usize = per_step.iter().map(Vec::len).sum();
        let mut latencies = Vec::new();
        let (mut updates, mut handled, mut errors, mut mismatched) = (0, 0, 0, 0);
        let mut failures: Vec<String> = Vec::new();
        // Hand-outs of updates that had been handed out before (not yet confirmed).
        let mut repeated = 0;
        let mut last_reply = started;
        for (index, fake) in fakes.iter().enumerate() {
            let calls = fake.calls();
            let failed: Vec<&Call> = calls
                .iter()
                .filter(|c| !c.is_ok() && c.method != "getUpdates")
                .collect();
            errors += failed.len();
            // The first few, to tell what they were.
            for c in failed.iter().take(3) {
                failures.push(format!(
                    "{} {:?} chat {:?}",
                    c.method,
                    c.outcome,
                    c.chat_id()
                ));
            }
            let deliveries = fake.deliveries();
            repeated += deliveries.values().map(|d| d.1 as usize - 1).sum::<usize>();
            let mut replies: HashMap<i64, Vec<Instant>> = HashMap::new();
            for c in calls.iter().filter(|c| is_reply(&c.method)) {
                if let Some(chat) = self.chat_of(index, c).filter(|&c| c != calibration_chat) {
                    replies.entry(chat).or_default().push(c.at);
                    last_reply = last_reply.max(c.at);
                }
            }
            let empty = HashMap::new();
            let pushed = self.pushed.get(index).unwrap_or(&empty);
            let mut by_chat: HashMap<i64, Vec<(usize, i64)>> = HashMap::new();
            for (&id, &(chat, step)) in pushed {
                if chat != calibration_chat {
                    by_chat.entry(chat).or_default().push((step, id));
                }
            }
            for (chat, pushed) in by_chat {
                updates += pushed.len();
                let got = replies.get(&chat).map_or(&[][..], Vec::as_slice);
                if got.len() != per_chat {
                    mismatched += 1;
                    continue;
                }
                for (step, id) in pushed {
                    let Some(&(handed_out, _)) = deliveries.get(&id) else {
                        continue;
                    };
                    let first_reply = got[offsets[step]];
                    latencies.push(first_reply.saturating_duration_since(handed_out));
                    handled += 1;
                }
            }
        }
        latencies.sort();
        let pct = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p) as usize).min(latencies.len().max(1) - 1))
                .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
        };
        let wall = last_reply.duration_since(started).as_secs_f64();
        json!({
            "updates": updates,
            "handled": handled,
            "chats_with_unexpected_replies": mismatched,
            "repeated_hand_outs": repeated,
            "errors": errors,
            "failed_calls": failures,
            "wall_s": wall,
            "updates_per_s": updates as f64 / wall,
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "max_ms": latencies.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
        })
    }
}
