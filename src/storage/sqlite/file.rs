//! The SQLite file: opening it, the readiness check, and the writes that must survive a full
//! disk or a file replaced under the running bot.

use super::{SqliteStorage, ts};
use crate::storage::{Backend, Error, Result, now};
use sqlx::Sqlite;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Which file the pool has open. A file deleted or replaced under a running bot still takes
/// writes (into the unlinked inode) that vanish at the next restart, so every write that a
/// promise depends on first checks that the path still names this file.
pub(super) struct OpenFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

/// Below this much free space on the database's file system the bot reports itself not ready:
/// SQLite needs room for its write-ahead log before a question can be committed.
const MIN_FREE_BYTES: u64 = 256 * 1024;

impl OpenFile {
    fn of(path: &Path) -> Result<OpenFile> {
        let m = std::fs::metadata(path).map_err(|source| Error::FileUnreadable {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(OpenFile {
            path: path.to_path_buf(),
            dev: m.dev(),
            ino: m.ino(),
        })
    }

    /// Fails when the path no longer names the file that is open.
    fn check(&self) -> Result<()> {
        match std::fs::metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => Ok(()),
            Ok(_) => Err(Error::FileReplaced {
                path: self.path.clone(),
            }),
            Err(source) => Err(Error::FileGone {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Fails when the file system is (nearly) full.
    fn check_space(&self) -> Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let st = rustix::fs::statvfs(dir).map_err(|e| Error::FreeSpaceUnknown {
            path: self.path.clone(),
            source: e.into(),
        })?;
        let free = st.f_bavail.saturating_mul(st.f_frsize);
        if free < MIN_FREE_BYTES {
            return Err(Error::DiskFull {
                free,
                path: self.path.clone(),
            });
        }
        Ok(())
    }
}

impl SqliteStorage {
    pub async fn connect(url: &str) -> Result<SqliteStorage> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut options = SqliteConnectOptions::from_str(url)
            .map_err(|source| Error::BadUrl {
                backend: Backend::Sqlite,
                source,
            })?
            .create_if_missing(true)
            // Writers wait for each other instead of failing at once with "database is locked".
            .busy_timeout(Duration::from_secs(10))
            // Deleted rows (a person's /forget, the retention clean-up) are overwritten, not
            // left readable in free pages of the file.
            .pragma("secure_delete", "on");
        let filename = options.get_filename().to_path_buf();
        let pool = if in_memory {
            // Every connection to ":memory:" is a database of its own, so there must be exactly
            // one, and it must never be closed for idleness or age: that would drop the data.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await
        } else {
            // WAL lets readers work while one connection writes; NORMAL sync is safe with WAL
            // (a power cut may lose the last commits, never corrupt the file).
            options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            SqlitePoolOptions::new()
                .max_connections(4)
                // A connection to a local file does not go stale like a network one: no ping
                // (a round trip to its worker thread) before every statement. A broken file
                // fails the statement itself.
                .test_before_acquire(false)
                .connect_with(options)
                .await
        }
        .map_err(|source| Error::Connect {
            backend: Backend::Sqlite,
            source,
        })?;
        sqlx::migrate!("migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|source| Error::Migrate {
                backend: Backend::Sqlite,
                source,
            })?;
        let file = if in_memory {
            None
        } else {
            Some(OpenFile::of(&filename)?)
        };
        Ok(SqliteStorage { pool, file })
    }

    /// A connection inside `BEGIN IMMEDIATE` (the write lock taken at once, so no snapshot
    /// conflict surfaces half-way). Finish it with [`finish_write`].
    pub(super) async fn begin_write(&self) -> Result<PoolConnection<Sqlite>> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        Ok(conn)
    }

    /// Commits when `work` succeeded; otherwise, or when the commit fails, rolls back. A failed
    /// COMMIT (a full disk) leaves SQLite's transaction open, holding the write lock, and a
    /// later commit on that connection would store what was refused: such a connection is
    /// rolled back, and closed if even that fails, never handed out again as it is.
    pub(super) async fn finish_write<T>(
        mut conn: PoolConnection<Sqlite>,
        work: Result<T>,
    ) -> Result<T> {
        let committed = match work {
            Ok(v) => match sqlx::query("COMMIT").execute(&mut *conn).await {
                Ok(_) => return Ok(v),
                Err(e) => Error::Commit(e),
            },
            Err(e) => e,
        };
        if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
            let _ = conn.close().await;
        }
        Err(committed)
    }

    /// Copies the log into the database file and empties it: with `secure_delete` the deleted
    /// rows are then overwritten in the file, and no older copy of them stays in the log.
    pub(super) async fn truncate_wal(&self) {
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            log::warn!("the SQLite log was not emptied after a deletion: {e}");
        }
    }

    /// Fails when the open file is no longer the one at its path.
    pub(super) fn check_file(&self) -> Result<()> {
        self.file.as_ref().map_or(Ok(()), OpenFile::check)
    }

    pub(super) async fn check_ready(&self) -> Result<()> {
        if let Some(f) = &self.file {
            f.check()?;
            f.check_space()?;
        }
        // A real read of a table and a real committed write.
        let mut conn = self.begin_write().await?;
        let work: Result<()> = async {
            sqlx::query("SELECT COUNT(*) FROM questions WHERE id < 0")
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "INSERT INTO readiness (id, checked_at) VALUES (1, ?) \
                 ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
            )
            .bind(ts(now()))
            .execute(&mut *conn)
            .await?;
            Ok(())
        }
        .await;
        Self::finish_write(conn, work).await
    }
}
