//! What can go wrong in the storage, as one error type for both backends.
//!
//! Messages keep the cause out of their own text and carry it as the error's source, so that
//! `{:#}` (as the log and the commands print errors) shows the whole chain once.

use crate::model::UnknownCode;
use std::fmt;
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query, a transaction or the pool failed (the database is down, a constraint was
    /// violated, the pool was closed…). sqlx's own message says which.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The pool could not be opened: the file cannot be created, the server does not answer.
    #[error("{}", backend.cannot_open())]
    Connect {
        backend: Backend,
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date.
    #[error("cannot migrate the {backend} database")]
    Migrate {
        backend: Backend,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// The URL names the backend but is not a valid URL for it.
    #[error("bad {backend} URL")]
    BadUrl {
        backend: Backend,
        #[source]
        source: sqlx::Error,
    },
    /// The URL names no backend. It is never echoed: it may carry a password.
    #[error("unsupported database URL: use sqlite:… or postgres://…")]
    UnsupportedUrl,
    /// The SQLite file just opened cannot be looked at.
    #[error("cannot read the SQLite file {}", path.display())]
    FileUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another file now has the path of the open one: writes would go into the old one and be
    /// lost at the next restart.
    #[error("the SQLite file {} was replaced while the bot was running", path.display())]
    FileReplaced { path: PathBuf },
    /// The path of the open SQLite file names nothing any more (or cannot be looked at).
    #[error("the SQLite file {} is gone or unreadable", path.display())]
    FileGone {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The free space next to the SQLite file cannot be read.
    #[error("cannot read the free space")]
    FreeSpaceUnknown {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file system of the SQLite file is (nearly) full.
    #[error("only {free} bytes free next to the SQLite file {}", path.display())]
    DiskFull { free: u64, path: PathBuf },
    /// COMMIT failed (SQLite on a full disk): nothing of the transaction was stored.
    #[error("the commit failed")]
    Commit(#[source] sqlx::Error),
    /// A row read back holds a value this program cannot read.
    #[error("{row} in the database is malformed")]
    Malformed {
        row: Row,
        #[source]
        source: BadValue,
    },
    /// A question's candidates could not be written as JSON.
    #[error("a question's candidates cannot be written")]
    EncodeCandidates(#[source] serde_json::Error),
    /// An argument outside what the times can be computed with (a number of days that makes the
    /// date overflow); `what` names it.
    #[error("{what} is out of range")]
    OutOfRange { what: &'static str },
    /// A question that conflicted with the one being added (the same source message) was not
    /// there when it was read back.
    #[error("a conflicting question vanished")]
    ConflictVanished,
}

/// The two databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn cannot_open(self) -> &'static str {
        match self {
            Backend::Sqlite => "cannot open the SQLite database",
            Backend::Postgres => "cannot connect to PostgreSQL",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// Which row was malformed. A profile is not named by its chat id: the message goes to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Question(i64),
    Profile,
    Counter,
    Reminder(i64),
    /// A follower of an entry's changes (not named by chat either).
    Follow,
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Row::Question(id) => write!(f, "question {id}"),
            Row::Profile => f.write_str("a profile"),
            Row::Counter => f.write_str("a daily counter"),
            Row::Reminder(id) => write!(f, "reminder {id}"),
            Row::Follow => f.write_str("a follower of an entry"),
        }
    }
}

/// What in a malformed row cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum BadValue {
    /// A language code (the parser's message names it and the known ones).
    #[error("{0}")]
    Language(String),
    /// A country code (as for [`BadValue::Language`]).
    #[error("{0}")]
    Country(String),
    /// A question status, question kind or delivery code.
    #[error(transparent)]
    Code(#[from] UnknownCode),
    /// A question's candidates are not the JSON they were written as.
    #[error("candidates")]
    Candidates(#[source] serde_json::Error),
}

#[cfg(test)]
mod tests {
    use super::{Backend, Error};

    /// The message with its causes, each after ": ", as `{:#}` shows it at the top.
    fn shown(e: Error) -> String {
        let mut out = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            out = format!("{out}: {c}");
            cause = c.source();
        }
        out
    }

    #[tokio::test]
    async fn a_sqlite_file_that_cannot_be_created_is_a_connect_error_with_its_cause() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}",
            dir.path().join("missing/jardam.db").display()
        );
        let err = crate::storage::connect(&url).await.err().unwrap();
        let Error::Connect {
            backend: Backend::Sqlite,
            source,
        } = &err
        else {
            panic!("{err:?}");
        };
        let cause = source.to_string();
        // The message leaves the cause to the chain, which shows it next.
        assert_eq!(err.to_string(), "cannot open the SQLite database");
        let shown = shown(err);
        assert!(
            shown.starts_with(&format!("cannot open the SQLite database: {cause}")),
            "{shown}"
        );
    }

    #[tokio::test]
    async fn a_sqlite_url_with_a_bad_parameter_is_a_bad_url() {
        let err = crate::storage::connect("sqlite:jardam.db?mode=bogus")
            .await
            .err()
            .unwrap();
        assert!(
            matches!(
                err,
                Error::BadUrl {
                    backend: Backend::Sqlite,
                    ..
                }
            ),
            "{err:?}"
        );
        let shown = shown(err);
        assert!(shown.starts_with("bad SQLite URL: "), "{shown}");
        assert!(shown.contains("bogus"), "{shown}");
    }
}
