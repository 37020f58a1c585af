//! The `jardam` command line: one binary, one subcommand per job.

use clap::{Parser, Subcommand};
use jardam::app;
use jardam::eval;
use jardam::kb::{self, CheckOptions, KnowledgeBase, Severity};
use jardam::lang::{Country, Lang};
use jardam::matcher::Matcher;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "jardam",
    version,
    about = "Jardam: answers for labour migrants, in Telegram and in a terminal"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Telegram bot (long polling, or webhooks with --webhook); needs TELOXIDE_TOKEN
    Run {
        /// Receive updates by webhook (JARDAM_WEBHOOK_URL, JARDAM_WEBHOOK_SECRET, JARDAM_LISTEN)
        #[arg(long)]
        webhook: bool,
    },
    /// Talk to the bot in this terminal, on the local database (no token needed)
    Chat {
        /// Skip the language question and use this language (ky, ru, uz, en)
        #[arg(long)]
        lang: Option<Lang>,
        /// The chat id the console uses in the database
        #[arg(long, default_value_t = 1)]
        chat_id: i64,
    },
    /// Print the t.me deep link that opens one answer (for posters and leaflets)
    Link {
        /// The entry id, e.g. stay.registration
        entry: String,
        /// The bot's username
        #[arg(long, env = "JARDAM_BOT_USERNAME")]
        bot: Option<String>,
    },
    /// Render the QR code of an answer's deep link as PNG or SVG
    Qr {
        /// The entry id, e.g. stay.registration
        entry: String,
        /// The output file: .png or .svg
        #[arg(short, long)]
        output: PathBuf,
        /// The bot's username
        #[arg(long, env = "JARDAM_BOT_USERNAME")]
        bot: Option<String>,
    },
    /// List the open questions for experts, urgent first, then oldest
    Queue {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u32,
        /// Only questions open past the promised time (JARDAM_OVERDUE_HOURS, urgent ones
        /// JARDAM_URGENT_OVERDUE_HOURS)
        #[arg(long)]
        overdue: bool,
    },
    /// Draw the question radar (aggregates only) as PNG, SVG or HTML, by the file's ending
    Report {
        /// First day (YYYY-MM-DD; default: 6 days before --until)
        #[arg(long)]
        since: Option<chrono::NaiveDate>,
        /// Last day, included (YYYY-MM-DD; default: today)
        #[arg(long)]
        until: Option<chrono::NaiveDate>,
        /// Where to write it: report.png, report.svg or report.html
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Statistics of the last 7 and 30 days
    Stats,
    /// Export the questions (no chat ids) as CSV or JSON Lines
    Export {
        #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
        format: ExportFormat,
        /// Only questions asked on or after this day (YYYY-MM-DD)
        #[arg(long)]
        since: Option<chrono::NaiveDate>,
    },
    /// Print the phrasings experts taught, as TOML lines to paste into dialogues/
    Learned,
    /// Validate the knowledge base and list every problem as file:line: message
    Check {
        /// The knowledge-base folder (default: $JARDAM_DIALOGUES or ./dialogues)
        dir: Option<PathBuf>,
        /// Warn about entries whose `checked` date is older than this many days
        #[arg(long, default_value_t = 180)]
        max_age_days: i64,
        /// Record the Russian answers' current versions in stamps.toml first (see
        /// dialogues/README.md, "Keeping languages in step")
        #[arg(long)]
        stamp: bool,
        /// With --stamp: LANG or LANG:ENTRY whose translation is now up to date with the
        /// Russian answer (repeatable)
        #[arg(long, value_name = "LANG[:ENTRY]", requires = "stamp")]
        translated: Vec<String>,
    },
    /// Answer one question (or one per line from stdin) with the matcher
    Ask {
        /// The question; without it, questions are read from stdin, one per line (JSON Lines out)
        text: Option<String>,
        /// The user's language (ky, ru, uz, en), used when the text does not tell
        #[arg(long)]
        lang: Option<Lang>,
        /// The user's country (ru, kz, kg, other), used when the text does not tell
        #[arg(long)]
        country: Option<Country>,
        /// Print one JSON object instead of the answer
        #[arg(long)]
        json: bool,
    },
    /// Evaluate the matcher on labelled TSVs (expected, lang, style, question); by default the
    /// frozen test part, tests/eval/test.tsv
    Eval {
        #[arg(default_value = "tests/eval/test.tsv")]
        files: Vec<PathBuf>,
        /// Set a matcher parameter (NAME=VALUE, repeatable), for tuning on the development part
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Also report K-fold cross-validation over the knowledge base's own phrasings
        #[arg(long, value_name = "K")]
        cv: Option<usize>,
        /// Also run the word-level TF-IDF baseline and print both
        #[arg(long)]
        baseline: bool,
        /// Do not list the failures
        #[arg(long)]
        quiet: bool,
        /// Fail when correct direct answers (in scope) are below this percentage
        #[arg(long, default_value_t = 0.0)]
        min_direct: f64,
        /// Fail when correct direct-or-clarify (in scope) is below this percentage
        #[arg(long, default_value_t = 0.0)]
        min_reachable: f64,
        /// Fail when wrong direct answers (in scope) exceed this percentage
        #[arg(long, default_value_t = 100.0)]
        max_wrong: f64,
        /// Fail when out-of-scope questions reported unmet are below this percentage
        #[arg(long, default_value_t = 0.0)]
        min_unmet: f64,
        /// Fail when out-of-scope questions answered exceed this percentage
        #[arg(long, default_value_t = 100.0)]
        max_oos_answered: f64,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    Csv,
    Json,
}

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    match cli.command {
        Command::Run { webhook } => block_on(app::run(webhook)),
        Command::Queue {
            limit,
            offset,
            overdue,
        } => block_on(async move {
            let store = app::open_storage().await?;
            let text = if overdue {
                let config = jardam::config::Config::from_env()?;
                let now = config.clock.now();
                jardam::experts::overdue(store.as_ref(), config.promise, now, limit).await?
            } else {
                jardam::experts::queue(store.as_ref(), limit, offset).await?
            };
            print!("{text}");
            Ok(())
        }),
        Command::Report {
            since,
            until,
            output,
        } => block_on(app::report(since, until, output)),
        Command::Stats => block_on(async {
            let store = app::open_storage().await?;
            let today = chrono::Utc::now().date_naive();
            print!("{}", jardam::experts::stats(store.as_ref(), today).await?);
            Ok(())
        }),
        Command::Export { format, since } => block_on(async move {
            let store = app::open_storage().await?;
            let rows = store.export(since.map(jardam::storage::day_start)).await?;
            match format {
                ExportFormat::Csv => print!("{}", jardam::experts::export_csv(&rows)?),
                ExportFormat::Json => print!("{}", jardam::experts::export_json(&rows)?),
            }
            Ok(())
        }),
        Command::Learned => block_on(async {
            let config = jardam::config::Config::from_env()?;
            let (kb, _) = kb::load(&config.dialogues, &CheckOptions::default())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let store = app::open_storage().await?;
            print!(
                "{}",
                jardam::experts::learned_snippet(store.as_ref(), &kb).await?
            );
            Ok(())
        }),
        Command::Chat { lang, chat_id } => block_on(app::chat(lang, chat_id)),
        Command::Check {
            dir,
            max_age_days,
            stamp,
            translated,
        } => {
            let dir = dir.unwrap_or_else(jardam::config::Config::dialogues_from_env);
            if stamp && let Err(e) = write_stamps(&dir, &translated) {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
            check(&dir, max_age_days)
        }
        Command::Link { entry, bot } => with_kb(|kb| {
            println!("{}", link(kb, bot, &entry)?);
            Ok(())
        }),
        Command::Qr { entry, output, bot } => with_kb(|kb| {
            let url = link(kb, bot, &entry)?;
            jardam::telegram::links::write_qr(&url, &output).map_err(|e| format!("{e:#}"))?;
            println!("{} → {}", url, output.display());
            Ok(())
        }),
        Command::Ask {
            text,
            lang,
            country,
            json,
        } => with_kb(|kb| ask(kb, text, lang, country, json)),
        Command::Eval {
            files,
            params,
            cv,
            baseline,
            quiet,
            min_direct,
            min_reachable,
            max_wrong,
            min_unmet,
            max_oos_answered,
        } => with_kb(|kb| {
            let mut p = jardam::matcher::Params::default();
            for a in &params {
                p.set(a)?;
            }
            let limits = eval::Limits {
                min_direct,
                min_reachable,
                max_wrong,
                min_unmet,
                max_oos_answered,
            };
            eval::command(kb, &files, p, cv, baseline, !quiet, &limits)
        }),
    }
}

/// Loads the knowledge base from `JARDAM_DIALOGUES` (or ./dialogues) and runs `f` on it;
/// an invalid knowledge base stops the command with the `check` messages.
fn with_kb(f: impl FnOnce(&KnowledgeBase) -> Result<(), String>) -> ExitCode {
    let dir = jardam::config::Config::dialogues_from_env();
    let kb = match kb::load(&dir, &CheckOptions::default()) {
        Ok((kb, _)) => kb,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match f(&kb) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The deep link for `entry`, with the bot's username from `--bot` or the configuration.
fn link(kb: &KnowledgeBase, bot: Option<String>, entry: &str) -> Result<String, String> {
    let bot =
        bot.ok_or("the bot's username is unknown: pass --bot NAME or set JARDAM_BOT_USERNAME")?;
    jardam::telegram::links::deep_link(kb, &bot, entry).map_err(|e| format!("{e:#}"))
}

fn ask(
    kb: &KnowledgeBase,
    text: Option<String>,
    lang: Option<Lang>,
    country: Option<Country>,
    json: bool,
) -> Result<(), String> {
    let matcher = Matcher::new(kb);
    let one = |q: &str, json: bool| {
        let r = matcher.ask(q, lang, country);
        if json {
            // Every field of the result (status, entry, variant, candidates, lang, country,
            // confidence, sentence, also, urgent) and the entry's sources, keys in alphabetical
            // order.
            let mut v = serde_json::to_value(&r).expect("a match result is plain data");
            // The full list of the shown variant's sources (the chat shows at most three).
            if let (Some(e), Some(map)) = (
                r.entry.as_deref().and_then(|id| kb.entry(id)),
                v.as_object_mut(),
            ) {
                let variant = r.variant.unwrap_or(jardam::lang::Variant::Any);
                let shown = lang.unwrap_or(r.lang);
                let sources: Vec<serde_json::Value> = e
                    .sources_for(variant)
                    .map(|s| {
                        serde_json::json!({
                            "title": s.title_in(shown),
                            "date": s.date,
                            "url": s.url,
                        })
                    })
                    .collect();
                map.insert("sources".into(), sources.into());
            }
            println!("{v}");
        } else {
            print_answer(kb, &r, lang);
        }
    };
    match text {
        Some(q) => one(&q, json),
        None => {
            // One question per line; JSON Lines out, for curators testing many at once.
            for line in std::io::stdin().lock().lines() {
                let line = line.map_err(|e| format!("stdin: {e}"))?;
                one(&line, true);
            }
        }
    }
    Ok(())
}

fn print_answer(kb: &KnowledgeBase, r: &jardam::matcher::MatchResult, lang: Option<Lang>) {
    let lang = lang.unwrap_or(r.lang);
    match r.status {
        jardam::matcher::Status::Answered => {
            let id = r.entry.as_deref().unwrap_or_default();
            if let Some(e) = kb.entry(id) {
                let variant = r.variant.unwrap_or(jardam::lang::Variant::Any);
                println!("[{id} {variant}]");
                println!("{}", kb.render_answer(e, variant, lang));
            }
        }
        jardam::matcher::Status::Clarify => {
            println!("{}", kb.t("clarify", lang));
            for c in &r.candidates {
                let title = kb
                    .entry(&c.entry)
                    .map(|e| e.title.get(lang).as_str())
                    .unwrap_or("");
                println!("  {} — {title} ({:.2})", c.entry, c.score);
            }
        }
        jardam::matcher::Status::Unmet => {
            println!("unmet: no answer in the FAQ; this question would go to experts");
        }
    }
}

fn block_on(f: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(f) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `RUST_LOG` is respected; info by default.
fn init_logging() {
    let mut builder = pretty_env_logger::formatted_builder();
    builder.parse_filters(&std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()));
    let _ = builder.try_init();
}

/// `check --stamp`: the knowledge base must load (warnings aside) before stamps are written.
fn write_stamps(dir: &std::path::Path, translated: &[String]) -> Result<(), String> {
    let marks = translated
        .iter()
        .map(|t| {
            let (lang, entry) = match t.split_once(':') {
                Some((l, e)) => (l, Some(e.to_string())),
                None => (t.as_str(), None),
            };
            let lang: Lang = lang.parse().map_err(|e| format!("--translated {t}: {e}"))?;
            if lang == Lang::Ru {
                return Err(format!(
                    "--translated {t}: the Russian answers are the source"
                ));
            }
            Ok((lang, entry))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let kb = match kb::load(dir, &CheckOptions::default()) {
        Ok((kb, _)) => kb,
        Err(e) => {
            return Err(e
                .0
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"));
        }
    };
    for (_, entry) in &marks {
        if let Some(id) = entry
            && kb.entry(id).is_none()
        {
            return Err(format!("--translated: '{id}' is not an entry"));
        }
    }
    let today = chrono::Local::now().date_naive();
    let changed = kb::stamps::write(dir, &kb, today, &marks)?;
    eprintln!("stamps.toml: {changed} stamp(s) changed");
    Ok(())
}

fn check(dir: &std::path::Path, max_age_days: i64) -> ExitCode {
    let opts = CheckOptions {
        max_age_days,
        ..CheckOptions::default()
    };
    match kb::load(dir, &opts) {
        Ok((kb, warnings)) => {
            for w in &warnings {
                eprintln!("{w}");
            }
            println!("{}", kb.summary());
            ExitCode::SUCCESS
        }
        Err(e) => {
            for p in &e.0 {
                eprintln!("{p}");
            }
            let n = e.0.iter().filter(|p| p.severity == Severity::Error).count();
            eprintln!("{n} error(s)");
            ExitCode::FAILURE
        }
    }
}
