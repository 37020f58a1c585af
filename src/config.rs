//! Configuration from the environment (12-factor, the teloxide convention), validated once at
//! start into typed values. Every problem is reported at once, with the variable's name.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
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
    /// `JARDAM_KEEP_ANSWERED_DAYS` (default 90) and `JARDAM_FORGET_INACTIVE_DAYS` (default 365).
    pub retention: crate::storage::Retention,
    /// `JARDAM_OVERDUE_HOURS` (default 24) and `JARDAM_URGENT_OVERDUE_HOURS` (default 1): when
    /// an open question is listed as overdue and its asker told it is taking longer.
    pub promise: crate::bot::workbench::Promise,
    /// `JARDAM_DIGEST` (default `mon 03:00`, UTC; `off`): when the weekly question radar is
    /// posted to the expert chat.
    pub digest: Option<crate::radar::Digest>,
    /// `JARDAM_BOT_USERNAME`: for deep links printed by `jardam link` without asking Telegram.
    pub bot_username: Option<String>,
    /// Webhook mode (`jardam run --webhook`, or `JARDAM_WEBHOOK_URL` set); `None`: long polling.
    pub webhook: Option<Webhook>,
    /// `JARDAM_LISTEN`: where the HTTP server (webhook, `/healthz`, `/readyz`) binds.
    pub listen: Option<SocketAddr>,
    /// `JARDAM_SEND_RATE`: messages per second the bot sends in all (Telegram's limit is about
    /// 30; more only with paid broadcasts, or against a local Bot API server).
    pub send_rate: u32,
    /// The time the bot goes by: the system's, or with `JARDAM_CLOCK_FILE` (for tests that
    /// move time) the time written in that file.
    pub clock: crate::clock::Clock,
}

/// Where Telegram posts updates, and the secret it must send along.
#[derive(Clone, Debug)]
pub struct Webhook {
    /// `JARDAM_WEBHOOK_URL`: public, https; its path is also the path served locally.
    pub url: url::Url,
    /// `JARDAM_WEBHOOK_SECRET`: sent by Telegram in `X-Telegram-Bot-Api-Secret-Token`.
    pub secret: Secret,
}

/// Paths the HTTP server keeps for itself, so the webhook cannot take them.
pub const HEALTH_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// Telegram's rule for webhook secrets: 1–256 characters of `A-Z a-z 0-9 _ -`.
pub fn valid_webhook_secret(s: &str) -> bool {
    (1..=256).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Config {
    /// Loopback by default: Telegram only posts to https, so a TLS-terminating proxy sits in
    /// front, usually on the same host.
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:8080";

    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_vars(std::env::vars().collect())
    }

    /// The knowledge base's directory as [`Config::dialogues`] reads it, for the commands that
    /// need nothing else of the configuration (`check`, `ask`, `link`…).
    pub fn dialogues_from_env() -> PathBuf {
        PathBuf::from(std::env::var("JARDAM_DIALOGUES").unwrap_or_else(|_| "dialogues".into()))
    }

    /// The configuration of `jardam run`; `webhook` is its `--webhook` flag.
    pub fn for_run(webhook: bool) -> Result<Config, ConfigError> {
        Self::from_vars_for_run(std::env::vars().collect(), webhook)
    }

    /// Builds the configuration from a set of variables (the environment, or a test's map).
    pub fn from_vars(vars: HashMap<String, String>) -> Result<Config, ConfigError> {
        Self::from_vars_for_run(vars, false)
    }

    /// Like [`Config::from_vars`]; `want_webhook` asks for webhook mode even without
    /// `JARDAM_WEBHOOK_URL`, which then is reported missing along with any other problem.
    pub fn from_vars_for_run(
        vars: HashMap<String, String>,
        want_webhook: bool,
    ) -> Result<Config, ConfigError> {
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
        // A whole number from `min` to `max` in `unit`s; out of range or unreadable, reported.
        let mut within =
            |name: &str, default: u32, (min, max): (u32, u32), what: &str| match get(name) {
                None => default,
                Some(v) => match v.parse::<u32>() {
                    Ok(n) if (min..=max).contains(&n) => n,
                    _ => {
                        errors.push(format!("{name}: '{v}' is not {what}"));
                        default
                    }
                },
            };
        let days = "a positive whole number of days";
        let defaults = crate::storage::Retention::default();
        let retention = crate::storage::Retention {
            answered_days: within(
                "JARDAM_KEEP_ANSWERED_DAYS",
                defaults.answered_days,
                (1, u32::MAX),
                days,
            ),
            inactive_days: within(
                "JARDAM_FORGET_INACTIVE_DAYS",
                defaults.inactive_days,
                (1, u32::MAX),
                days,
            ),
        };
        let hours = "a whole number of hours from 1 to 720";
        let promised = crate::bot::workbench::Promise::default();
        let promise = crate::bot::workbench::Promise {
            hours: within("JARDAM_OVERDUE_HOURS", promised.hours, (1, 720), hours),
            urgent_hours: within(
                "JARDAM_URGENT_OVERDUE_HOURS",
                promised.urgent_hours,
                (1, 720),
                hours,
            ),
        };
        let digest = match get("JARDAM_DIGEST") {
            None => Some(crate::radar::Digest::default()),
            Some(v) => v.parse::<crate::radar::DigestAt>().map_or_else(
                |e| {
                    errors.push(format!("JARDAM_DIGEST: {e}"));
                    None
                },
                |d| d.0,
            ),
        };
        let send_rate = match get("JARDAM_SEND_RATE") {
            None => crate::telegram::limits::DEFAULT_SEND_RATE,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n > 0 => n,
                _ => {
                    errors.push(format!(
                        "JARDAM_SEND_RATE: '{v}' is not a positive whole number of messages per \
                         second"
                    ));
                    crate::telegram::limits::DEFAULT_SEND_RATE
                }
            },
        };
        let bot_username =
            get("JARDAM_BOT_USERNAME").map(|u| u.trim_start_matches('@').to_string());
        let webhook_url = get("JARDAM_WEBHOOK_URL").and_then(|u| match url::Url::parse(u) {
            Ok(url) if url.scheme() != "https" => {
                errors.push(format!(
                    "JARDAM_WEBHOOK_URL: scheme '{}' is not https (Telegram posts to https only)",
                    url.scheme()
                ));
                None
            }
            Ok(url) if HEALTH_PATHS.contains(&url.path()) => {
                errors.push(format!(
                    "JARDAM_WEBHOOK_URL: the path {} is taken by the health check",
                    url.path()
                ));
                None
            }
            Ok(url) => Some(url),
            Err(e) => {
                errors.push(format!("JARDAM_WEBHOOK_URL: {e}"));
                None
            }
        });
        // Never echo the value: a mistyped secret is still mostly the secret.
        let webhook_secret = get("JARDAM_WEBHOOK_SECRET").and_then(|s| {
            if valid_webhook_secret(s) {
                Some(Secret(s.to_string()))
            } else {
                errors.push(
                    "JARDAM_WEBHOOK_SECRET: must be 1–256 characters of A-Z a-z 0-9 _ -".into(),
                );
                None
            }
        });
        let listen = get("JARDAM_LISTEN").and_then(|v| {
            v.parse::<SocketAddr>()
                .map_err(|_| {
                    errors.push(format!(
                        "JARDAM_LISTEN: '{v}' is not an address to listen on (like 0.0.0.0:8080)"
                    ))
                })
                .ok()
        });
        let clock = match get("JARDAM_CLOCK_FILE") {
            Some(path) => crate::clock::Clock::from_file(PathBuf::from(path)),
            None => crate::clock::Clock::system(),
        };
        let mut webhook = None;
        if want_webhook || get("JARDAM_WEBHOOK_URL").is_some() {
            let has = |k: &str| get(k).is_some();
            if !has("JARDAM_WEBHOOK_URL") {
                errors.push(
                    "JARDAM_WEBHOOK_URL is not set: webhook mode needs the public https URL \
                     Telegram posts updates to"
                        .into(),
                );
            }
            // Required rather than generated: instances behind one URL must share it, and each
            // start would otherwise replace the secret the others check.
            if !has("JARDAM_WEBHOOK_SECRET") {
                errors.push(
                    "JARDAM_WEBHOOK_SECRET is not set: webhook mode needs a secret of 1–256 \
                     characters of A-Z a-z 0-9 _ -"
                        .into(),
                );
            }
            if let (Some(url), Some(secret)) = (webhook_url, webhook_secret) {
                webhook = Some(Webhook { url, secret });
            }
        }

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
                retention,
                promise,
                digest,
                bot_username,
                webhook,
                listen,
                send_rate,
                clock,
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

impl Config {
    /// Where the HTTP server binds: `JARDAM_LISTEN`, or the default in webhook mode. `None`:
    /// no server (long polling without `JARDAM_LISTEN`).
    pub fn http_listen(&self) -> Option<SocketAddr> {
        self.listen.or_else(|| {
            self.webhook
                .as_ref()
                .map(|_| Self::DEFAULT_LISTEN.parse().expect("a valid address"))
        })
    }
}

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
        assert_eq!(c.send_rate, 30);
    }

    #[test]
    fn the_send_rate_is_a_positive_number() {
        let c = Config::from_vars(vars(&[("JARDAM_SEND_RATE", "15")])).unwrap();
        assert_eq!(c.send_rate, 15);
        for bad in ["0", "-3", "fast"] {
            let e = Config::from_vars(vars(&[("JARDAM_SEND_RATE", bad)])).unwrap_err();
            assert!(e.0[0].starts_with("JARDAM_SEND_RATE:"), "{e}");
        }
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

    #[test]
    fn webhook_mode_from_the_url_with_its_secret_redacted() {
        let c = Config::from_vars(vars(&[
            ("JARDAM_WEBHOOK_URL", "https://bot.example.org/tg/hook"),
            ("JARDAM_WEBHOOK_SECRET", "s3cret_VALUE-1"),
        ]))
        .unwrap();
        let w = c.webhook.as_ref().expect("webhook mode");
        assert_eq!(w.url.path(), "/tg/hook");
        assert_eq!(w.secret.expose(), "s3cret_VALUE-1");
        assert_eq!(
            c.http_listen(),
            Some(Config::DEFAULT_LISTEN.parse().unwrap())
        );
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret_VALUE"), "{shown}");
    }

    #[test]
    fn polling_without_webhook_variables() {
        let c = Config::from_vars(HashMap::new()).unwrap();
        assert!(c.webhook.is_none() && c.http_listen().is_none());
        let c = Config::from_vars(vars(&[("JARDAM_LISTEN", "0.0.0.0:9000")])).unwrap();
        assert!(c.webhook.is_none());
        assert_eq!(c.http_listen(), Some("0.0.0.0:9000".parse().unwrap()));
    }

    #[test]
    fn webhook_flag_names_the_missing_variables() {
        let e = Config::from_vars_for_run(HashMap::new(), true).unwrap_err();
        assert_eq!(e.0.len(), 2, "{e}");
        assert!(e.0[0].starts_with("JARDAM_WEBHOOK_URL is not set"), "{e}");
        assert!(
            e.0[1].starts_with("JARDAM_WEBHOOK_SECRET is not set"),
            "{e}"
        );
    }

    #[test]
    fn webhook_problems_are_reported_together_without_the_secret() {
        let e = Config::from_vars_for_run(
            vars(&[
                ("JARDAM_WEBHOOK_URL", "http://bot.example.org/hook"),
                ("JARDAM_WEBHOOK_SECRET", "has spaces!"),
                ("JARDAM_LISTEN", "localhost"),
                ("JARDAM_EXPERT_CHAT", "abc"),
            ]),
            true,
        )
        .unwrap_err();
        let shown = e.to_string();
        assert_eq!(e.0.len(), 4, "{shown}");
        assert!(!shown.contains("has spaces"), "{shown}");
        let e = Config::from_vars(vars(&[
            ("JARDAM_WEBHOOK_URL", "https://bot.example.org/healthz"),
            ("JARDAM_WEBHOOK_SECRET", "ok"),
        ]))
        .unwrap_err();
        assert!(e.0[0].contains("health check"), "{e}");
    }

    #[test]
    fn webhook_secrets_follow_telegram() {
        assert!(valid_webhook_secret("a"));
        assert!(valid_webhook_secret(&"A-z_9".repeat(52)[..256]));
        assert!(!valid_webhook_secret(""));
        assert!(!valid_webhook_secret(&"a".repeat(257)));
        assert!(!valid_webhook_secret("ключ"));
        assert!(!valid_webhook_secret("a.b"));
    }
}
