//! Configuration from the environment (12-factor, the teloxide convention), validated once at
//! start into typed values. Every problem is reported at once, with the variable's name.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

/// A secret that never shows in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Where the data lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(String),
    Postgres(Secret),
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(url) => write!(f, "Sqlite({url})"),
            // The URL may carry a password.
            Database::Postgres(_) => f.write_str("Postgres(***)"),
        }
    }
}

impl Database {
    /// The default: a SQLite file in the working directory, created on first run.
    pub const DEFAULT_SQLITE: &'static str = "sqlite:jardam.db?mode=rwc";

    pub fn parse(url: &str) -> Result<Database, String> {
        let url = url.trim();
        let scheme = url
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Ok(Database::Sqlite(url.to_string())),
            "postgres" | "postgresql" => Ok(Database::Postgres(Secret(url.to_string()))),
            _ if !url.contains(':') => Err(format!(
                "DATABASE_URL: '{url}' has no scheme; use sqlite:FILE or postgres://…"
            )),
            other => Err(format!(
                "DATABASE_URL: unsupported scheme '{other}'; use sqlite: or postgres:"
            )),
        }
    }

    pub fn url(&self) -> &str {
        match self {
            Database::Sqlite(u) => u,
            Database::Postgres(s) => s.expose(),
        }
    }
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// `TELOXIDE_TOKEN`: needed only by `run`.
    pub token: Option<Secret>,
    /// `TELOXIDE_API_URL`: a local Bot API server (or our fake one in tests).
    pub api_url: Option<url::Url>,
    /// `DATABASE_URL`.
    pub database: Database,
    /// `JARDAM_DIALOGUES`, default `./dialogues`.
    pub dialogues: PathBuf,
    /// `JARDAM_EXPERT_CHAT`: the experts' group chat id.
    pub expert_chat: Option<i64>,
    /// `JARDAM_EXPERTS`: user ids allowed to use expert commands in private chat.
    pub experts: Vec<u64>,
    /// `JARDAM_EXPERT_LANG`: the language of the expert chat (default ru).
    pub expert_lang: crate::lang::Lang,
    /// `JARDAM_KEEP_TEXTS_DAYS`: how long texts of FAQ-answered questions are kept (0: not kept).
    pub keep_texts_days: u32,
    /// `JARDAM_BOT_USERNAME`: for deep links printed by `jardam link` without asking Telegram.
    pub bot_username: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_vars(std::env::vars().collect())
    }

    /// Builds the configuration from a set of variables (the environment, or a test's map).
    pub fn from_vars(vars: HashMap<String, String>) -> Result<Config, ConfigError> {
        let get = |k: &str| vars.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let mut errors = Vec::new();

        let token = get("TELOXIDE_TOKEN").map(|t| Secret(t.to_string()));
        if let Some(t) = &token {
            // Telegram tokens look like 123456:ABC-def…
            let ok = t
                .expose()
                .split_once(':')
                .is_some_and(|(id, rest)| id.parse::<u64>().is_ok() && !rest.is_empty());
            if !ok {
                errors.push("TELOXIDE_TOKEN: not a bot token (expected 123456:ABC…)".to_string());
            }
        }
        let api_url = get("TELOXIDE_API_URL").and_then(|u| match url::Url::parse(u) {
            Ok(url) if url.scheme() == "http" || url.scheme() == "https" => Some(url),
            Ok(url) => {
                errors.push(format!(
                    "TELOXIDE_API_URL: scheme '{}' is not http or https",
                    url.scheme()
                ));
                None
            }
            Err(e) => {
                errors.push(format!("TELOXIDE_API_URL: {e}"));
                None
            }
        });
        let database = match get("DATABASE_URL") {
            None => Database::Sqlite(Database::DEFAULT_SQLITE.to_string()),
            Some(u) => Database::parse(u).unwrap_or_else(|e| {
                errors.push(e);
                Database::Sqlite(Database::DEFAULT_SQLITE.to_string())
            }),
        };
        let dialogues = PathBuf::from(get("JARDAM_DIALOGUES").unwrap_or("dialogues"));
        let expert_chat = get("JARDAM_EXPERT_CHAT").and_then(|v| {
            v.parse::<i64>()
                .map_err(|_| {
                    errors.push(format!(
                        "JARDAM_EXPERT_CHAT: '{v}' is not a chat id (a number like -1001234567890)"
                    ))
                })
                .ok()
        });
        let mut experts = Vec::new();
        if let Some(list) = get("JARDAM_EXPERTS") {
            for part in list.split([',', ' ']).filter(|p| !p.is_empty()) {
                match part.parse::<u64>() {
                    Ok(id) => experts.push(id),
                    Err(_) => errors.push(format!(
                        "JARDAM_EXPERTS: '{part}' is not a user id (comma-separated numbers)"
                    )),
                }
            }
        }
        let expert_lang = match get("JARDAM_EXPERT_LANG") {
            None => crate::lang::Lang::Ru,
            Some(v) => v.parse().unwrap_or_else(|e| {
                errors.push(format!("JARDAM_EXPERT_LANG: {e}"));
                crate::lang::Lang::Ru
            }),
        };
        let keep_texts_days = match get("JARDAM_KEEP_TEXTS_DAYS") {
            None => 0,
            Some(v) => v.parse().unwrap_or_else(|_| {
                errors.push(format!(
                    "JARDAM_KEEP_TEXTS_DAYS: '{v}' is not a whole number of days"
                ));
                0
            }),
        };
        let bot_username =
            get("JARDAM_BOT_USERNAME").map(|u| u.trim_start_matches('@').to_string());

        if errors.is_empty() {
            Ok(Config {
                token,
                api_url,
                database,
                dialogues,
                expert_chat,
                experts,
                expert_lang,
                keep_texts_days,
                bot_username,
            })
        } else {
            Err(ConfigError(errors))
        }
    }
}

/// All configuration problems at once.
#[derive(Debug)]
pub struct ConfigError(pub Vec<String>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration:")?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_without_variables() {
        let c = Config::from_vars(HashMap::new()).unwrap();
        assert_eq!(
            c.database,
            Database::Sqlite(Database::DEFAULT_SQLITE.into())
        );
        assert_eq!(c.dialogues, PathBuf::from("dialogues"));
        assert!(c.token.is_none() && c.expert_chat.is_none());
    }

    #[test]
    fn rejects_unsupported_database_scheme() {
        let e = Config::from_vars(vars(&[("DATABASE_URL", "mysql://x")])).unwrap_err();
        assert_eq!(
            e.0,
            vec!["DATABASE_URL: unsupported scheme 'mysql'; use sqlite: or postgres:"]
        );
    }

    #[test]
    fn reports_every_problem_at_once() {
        let e = Config::from_vars(vars(&[
            ("TELOXIDE_TOKEN", "nonsense"),
            ("JARDAM_EXPERT_CHAT", "abc"),
            ("JARDAM_EXPERTS", "1,x"),
        ]))
        .unwrap_err();
        assert_eq!(e.0.len(), 3, "{e}");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let c = Config::from_vars(vars(&[
            ("TELOXIDE_TOKEN", "123:SECRETTOKEN"),
            ("DATABASE_URL", "postgres://u:hunter2@db/x"),
        ]))
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("SECRETTOKEN") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
