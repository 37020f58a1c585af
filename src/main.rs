//! The `jardam` command line: one binary, one subcommand per job.

use clap::{Parser, Subcommand};
use jardam::kb::{self, CheckOptions, Severity};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "jardam", version, about = "Jardam: answers for labour migrants, in Telegram and in a terminal")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the knowledge base and list every problem as file:line: message
    Check {
        /// The knowledge-base folder (default: $JARDAM_DIALOGUES or ./dialogues)
        dir: Option<PathBuf>,
        /// Warn about entries whose `checked` date is older than this many days
        #[arg(long, default_value_t = 180)]
        max_age_days: i64,
    },
}

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    match cli.command {
        Command::Check { dir, max_age_days } => {
            let dir = dir.unwrap_or_else(default_dialogues);
            check(&dir, max_age_days)
        }
    }
}

/// `RUST_LOG` is respected; info by default.
fn init_logging() {
    let mut builder = pretty_env_logger::formatted_builder();
    builder.parse_filters(&std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()));
    let _ = builder.try_init();
}

fn default_dialogues() -> PathBuf {
    std::env::var_os("JARDAM_DIALOGUES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("dialogues"))
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
