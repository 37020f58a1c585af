//! The SQLite backend: one file (or memory), one instance.

use super::rows::{
    CountRow, ExportDbRow, FeedbackRow, LearnedRow, MissedRow, ProfileRow, QUESTION_COLUMNS,
    QuestionRow, StatsRows, candidates_json, country_code, questions, select_questions,
};
use super::{
    Delivery, ExportRow, Learned, NewQuestion, Profile, Question, QuestionStatus, Stats, Storage,
    TOP_MISSED, day_start, now,
};
use crate::lang::{Country, Lang};
use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, SqlitePool};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

mod inbox;
mod state;

pub struct SqliteStorage {
    pool: SqlitePool,
    /// The database file as it was opened; `None` in memory.
    file: Option<OpenFile>,
}

/// Which file the pool has open. A file deleted or replaced under a running bot still takes
/// writes (into the unlinked inode) that vanish at the next restart, so every write that a
/// promise depends on first checks that the path still names this file.
struct OpenFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

/// Below this much free space on the database's file system the bot reports itself not ready:
/// SQLite needs room for its write-ahead log before a question can be committed.
const MIN_FREE_BYTES: u64 = 256 * 1024;

impl OpenFile {
    fn of(path: &Path) -> anyhow::Result<OpenFile> {
        let m = std::fs::metadata(path)
            .with_context(|| format!("cannot read the SQLite file {}", path.display()))?;
        Ok(OpenFile {
            path: path.to_path_buf(),
            dev: m.dev(),
            ino: m.ino(),
        })
    }

    /// Fails when the path no longer names the file that is open.
    fn check(&self) -> anyhow::Result<()> {
        match std::fs::metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => Ok(()),
            Ok(_) => anyhow::bail!(
                "the SQLite file {} was replaced while the bot was running",
                self.path.display()
            ),
            Err(e) => anyhow::bail!(
                "the SQLite file {} is gone or unreadable: {e}",
                self.path.display()
            ),
        }
    }

    /// Fails when the file system is (nearly) full.
    fn check_space(&self) -> anyhow::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let st = rustix::fs::statvfs(dir).context("cannot read the free space")?;
        let free = st.f_bavail.saturating_mul(st.f_frsize);
        anyhow::ensure!(
            free >= MIN_FREE_BYTES,
            "only {free} bytes free next to the SQLite file {}",
            self.path.display()
        );
        Ok(())
    }
}

/// When a lease taken at `now` runs out.
fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(lease)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// SQLite has no time type; times are written in one fixed-width format so that comparing
/// the strings in SQL compares the times (sqlx's own encoding varies the number of digits).
fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl SqliteStorage {
    pub async fn connect(url: &str) -> anyhow::Result<SqliteStorage> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut options = SqliteConnectOptions::from_str(url)
            .context("bad SQLite URL")?
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
                .connect_with(options)
                .await
        }
        .context("cannot open the SQLite database")?;
        sqlx::migrate!("migrations/sqlite")
            .run(&pool)
            .await
            .context("cannot migrate the SQLite database")?;
        let file = if in_memory {
            None
        } else {
            Some(OpenFile::of(&filename)?)
        };
        Ok(SqliteStorage { pool, file })
    }

    /// A connection inside `BEGIN IMMEDIATE` (the write lock taken at once, so no snapshot
    /// conflict surfaces half-way). Finish it with [`finish_write`].
    async fn begin_write(&self) -> anyhow::Result<PoolConnection<Sqlite>> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        Ok(conn)
    }

    /// Commits when `work` succeeded; otherwise, or when the commit fails, rolls back. A failed
    /// COMMIT (a full disk) leaves SQLite's transaction open, holding the write lock, and a
    /// later commit on that connection would store what was refused: such a connection is
    /// rolled back, and closed if even that fails, never handed out again as it is.
    async fn finish_write<T>(
        mut conn: PoolConnection<Sqlite>,
        work: anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let committed = match work {
            Ok(v) => match sqlx::query("COMMIT").execute(&mut *conn).await {
                Ok(_) => return Ok(v),
                Err(e) => anyhow::Error::from(e).context("the commit failed"),
            },
            Err(e) => e,
        };
        if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
            let _ = conn.close().await;
        }
        Err(committed)
    }

    /// Fails when the open file is no longer the one at its path.
    /// Copies the log into the database file and empties it: with `secure_delete` the deleted
    /// rows are then overwritten in the file, and no older copy of them stays in the log.
    async fn truncate_wal(&self) {
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            log::warn!("the SQLite log was not emptied after a deletion: {e}");
        }
    }

    fn check_file(&self) -> anyhow::Result<()> {
        self.file.as_ref().map_or(Ok(()), OpenFile::check)
    }

    async fn fetch_questions<'q>(
        &self,
        query: sqlx::query::QueryAs<'q, Sqlite, QuestionRow, SqliteArguments<'q>>,
    ) -> anyhow::Result<Vec<Question>> {
        questions(query.fetch_all(&self.pool).await?)
    }

    /// Counter totals per value of `column` ("" included only if `with_empty`).
    async fn counts(
        &self,
        column: &str,
        with_empty: bool,
        since: NaiveDate,
    ) -> anyhow::Result<Vec<CountRow>> {
        let skip = if with_empty {
            String::new()
        } else {
            format!("AND {column} <> ''")
        };
        let sql = format!(
            "SELECT {column} AS key, SUM(count) AS n FROM daily_counts \
             WHERE day >= ? {skip} GROUP BY {column} ORDER BY n DESC, {column}"
        );
        Ok(sqlx::query_as(&sql)
            .bind(since)
            .fetch_all(&self.pool)
            .await?)
    }
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn close(&self) {
        self.pool.close().await;
    }

    async fn ping(&self) -> anyhow::Result<()> {
        if let Some(f) = &self.file {
            f.check()?;
            f.check_space()?;
        }
        // A real read of a table and a real committed write.
        let mut conn = self.begin_write().await?;
        let work: anyhow::Result<()> = async {
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

    async fn get_profile(&self, chat_id: i64) -> anyhow::Result<Option<Profile>> {
        let row: Option<ProfileRow> = sqlx::query_as(
            "SELECT chat_id, lang, country, first_seen, last_seen FROM profiles WHERE chat_id = ?",
        )
        .bind(chat_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Profile::try_from).transpose()
    }

    async fn save_profile(
        &self,
        chat_id: i64,
        lang: Option<Lang>,
        country: Option<Country>,
    ) -> anyhow::Result<()> {
        let now = ts(now());
        sqlx::query(
            "INSERT INTO profiles (chat_id, lang, country, first_seen, last_seen) \
             VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (chat_id) DO UPDATE SET \
             lang = excluded.lang, country = excluded.country, last_seen = excluded.last_seen",
        )
        .bind(chat_id)
        .bind(lang.map(Lang::code))
        .bind(country.map(Country::code))
        .bind(&now)
        .bind(&now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn touch(&self, chat_id: i64) -> anyhow::Result<()> {
        let now = ts(now());
        sqlx::query(
            "INSERT INTO profiles (chat_id, first_seen, last_seen) VALUES (?, ?, ?) \
             ON CONFLICT (chat_id) DO UPDATE SET last_seen = excluded.last_seen",
        )
        .bind(chat_id)
        .bind(&now)
        .bind(&now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn forget(&self, chat_id: i64) -> anyhow::Result<Vec<(i64, i32)>> {
        let mut conn = self.begin_write().await?;
        let work = async {
            let posts: Vec<(i64, i32)> = sqlx::query_as(
                "SELECT DISTINCT expert_chat_id, expert_message_id FROM questions \
                 WHERE chat_id = ? AND expert_chat_id IS NOT NULL \
                 AND expert_message_id IS NOT NULL",
            )
            .bind(chat_id)
            .fetch_all(&mut *conn)
            .await?;
            sqlx::query("DELETE FROM learned WHERE source_chat_id = ?")
                .bind(chat_id)
                .execute(&mut *conn)
                .await?;
            for table in [
                "questions",
                "faq_texts",
                "feedback",
                "profiles",
                "chat_states",
            ] {
                sqlx::query(&format!("DELETE FROM {table} WHERE chat_id = ?"))
                    .bind(chat_id)
                    .execute(&mut *conn)
                    .await?;
            }
            anyhow::Ok(posts)
        }
        .await;
        let posts = Self::finish_write(conn, work).await?;
        self.truncate_wal().await;
        Ok(posts)
    }

    async fn add_question(&self, q: NewQuestion) -> anyhow::Result<Question> {
        self.check_file()?;
        let now = ts(now());
        // In a transaction of its own, and every row fetched: SQLite hands out the RETURNING
        // row before the commit, and a commit that fails (a full disk) after the first row was
        // taken would go unseen, the question lost and its number given again.
        let candidates = candidates_json(&q.candidates)?;
        let mut conn = self.begin_write().await?;
        let work = sqlx::query_as::<_, QuestionRow>(&format!(
            "INSERT INTO questions (chat_id, text, lang, country, candidates, status, urgent, \
             kind, media_chat_id, media_message_id, group_key, source_message_id, created_at, \
             updated_at) VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (chat_id, source_message_id) WHERE source_message_id IS NOT NULL \
             DO NOTHING RETURNING {QUESTION_COLUMNS}"
        ))
        .bind(q.chat_id)
        // PostgreSQL cannot store a NUL byte in text, and no one means one.
        .bind(q.text.replace('\0', ""))
        .bind(q.lang.code())
        .bind(q.country.map(Country::code))
        .bind(&candidates)
        .bind(q.urgent)
        .bind(q.kind.code())
        .bind(q.media.map(|m| m.from_chat_id))
        .bind(q.media.map(|m| m.message_id))
        .bind(&q.group_key)
        .bind(q.source_message)
        .bind(&now)
        .bind(&now)
        .fetch_all(&mut *conn)
        .await
        .map_err(anyhow::Error::from);
        let rows = Self::finish_write(conn, work).await?;
        if let Some(row) = rows.into_iter().next() {
            return row.try_into();
        }
        // Only a message stored before conflicts: return its question.
        let sql = select_questions("chat_id = ? AND source_message_id = ?");
        self.fetch_questions(sqlx::query_as(&sql).bind(q.chat_id).bind(q.source_message))
            .await?
            .pop()
            .context("a conflicting question vanished")
    }

    async fn question(&self, id: i64) -> anyhow::Result<Option<Question>> {
        let sql = select_questions("id = ?");
        Ok(self
            .fetch_questions(sqlx::query_as(&sql).bind(id))
            .await?
            .pop())
    }

    async fn posted_as(&self, chat_id: i64, message_id: i32) -> anyhow::Result<Vec<Question>> {
        let sql = select_questions("expert_chat_id = ? AND expert_message_id = ? ORDER BY id");
        self.fetch_questions(sqlx::query_as(&sql).bind(chat_id).bind(message_id))
            .await
    }

    async fn set_expert_message(
        &self,
        id: i64,
        chat_id: i64,
        message_id: i32,
    ) -> anyhow::Result<()> {
        let now = ts(now());
        sqlx::query(
            "UPDATE questions SET expert_chat_id = ?, expert_message_id = ?, posted_at = ?, \
             updated_at = ? WHERE id = ?",
        )
        .bind(chat_id)
        .bind(message_id)
        .bind(&now)
        .bind(&now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn unposted_questions(&self, limit: u32) -> anyhow::Result<Vec<Question>> {
        let now = ts(now());
        let sql = select_questions(
            "status = 'open' AND expert_message_id IS NULL \
             AND (claimed_until IS NULL OR claimed_until < ?) \
             ORDER BY created_at, id LIMIT ?",
        );
        self.fetch_questions(sqlx::query_as(&sql).bind(now).bind(i64::from(limit)))
            .await
    }

    async fn claim_for_posting(
        &self,
        id: i64,
        instance: &str,
        lease: Duration,
    ) -> anyhow::Result<bool> {
        let now = now();
        let until = lease_end(now, lease);
        // One statement: SQLite runs writes one at a time, so the check and the claim cannot
        // interleave with another claimant's.
        let done = sqlx::query(
            "UPDATE questions SET claimed_by = ?, claimed_until = ? \
             WHERE id = ? AND status = 'open' AND expert_message_id IS NULL \
             AND (claimed_until IS NULL OR claimed_until < ?)",
        )
        .bind(instance)
        .bind(ts(until))
        .bind(id)
        .bind(ts(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_claim(&self, id: i64, instance: &str) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE questions SET claimed_by = NULL, claimed_until = NULL \
             WHERE id = ? AND claimed_by = ?",
        )
        .bind(id)
        .bind(instance)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn open_group(&self, group_key: &str) -> anyhow::Result<Vec<Question>> {
        if group_key.is_empty() {
            return Ok(Vec::new());
        }
        let sql = select_questions("status = 'open' AND group_key = ? ORDER BY created_at, id");
        self.fetch_questions(sqlx::query_as(&sql).bind(group_key))
            .await
    }

    async fn open_questions(&self, limit: u32, offset: u32) -> anyhow::Result<Vec<Question>> {
        let sql = select_questions(
            "status = 'open' ORDER BY urgent DESC, created_at, id LIMIT ? OFFSET ?",
        );
        self.fetch_questions(
            sqlx::query_as(&sql)
                .bind(i64::from(limit))
                .bind(i64::from(offset)),
        )
        .await
    }

    async fn count_open(&self) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM questions WHERE status = 'open'")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn open_urgent_of(&self, chat_id: i64) -> anyhow::Result<Option<Question>> {
        let sql = select_questions(
            "chat_id = ? AND status = 'open' AND urgent ORDER BY created_at, id LIMIT 1",
        );
        Ok(self
            .fetch_questions(sqlx::query_as(&sql).bind(chat_id))
            .await?
            .pop())
    }

    async fn open_posts_of(&self, chat_id: i64, limit: u32) -> anyhow::Result<Vec<(i64, i32)>> {
        Ok(sqlx::query_as(
            "SELECT expert_chat_id, expert_message_id FROM questions \
             WHERE chat_id = ? AND status = 'open' AND NOT urgent \
             AND expert_chat_id IS NOT NULL AND expert_message_id IS NOT NULL \
             GROUP BY expert_chat_id, expert_message_id ORDER BY MAX(id) DESC LIMIT ?",
        )
        .bind(chat_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn mark_answered(&self, id: i64, answer: &str, expert: &str) -> anyhow::Result<bool> {
        let now = ts(now());
        let done = sqlx::query(
            "UPDATE questions SET status = 'answered', answer = ?, answered_by = ?, \
             answered_at = ?, resolved_at = ?, updated_at = ? \
             WHERE id = ? AND status <> 'answered'",
        )
        .bind(answer)
        .bind(expert)
        .bind(&now)
        .bind(&now)
        .bind(&now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_status(&self, id: i64, status: QuestionStatus) -> anyhow::Result<bool> {
        let now = ts(now());
        let resolved = (status != QuestionStatus::Open).then_some(&now);
        let done = sqlx::query(
            "UPDATE questions SET status = ?, updated_at = ?, \
             resolved_at = CASE WHEN ? IS NULL THEN NULL ELSE COALESCE(resolved_at, ?) END \
             WHERE id = ?",
        )
        .bind(status.code())
        .bind(&now)
        .bind(resolved)
        .bind(resolved)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_delivery(&self, id: i64, delivered: bool) -> anyhow::Result<()> {
        sqlx::query("UPDATE questions SET delivery = ?, updated_at = ? WHERE id = ?")
            .bind(Delivery::from_flag(delivered).code())
            .bind(ts(now()))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn keep_faq_text(
        &self,
        chat_id: i64,
        text: &str,
        entry: &str,
        lang: Lang,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO faq_texts (chat_id, text, entry, lang, created_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(chat_id)
        .bind(text)
        .bind(entry)
        .bind(lang.code())
        .bind(ts(now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn faq_texts(&self) -> anyhow::Result<Vec<(String, String)>> {
        Ok(
            sqlx::query_as("SELECT entry, text FROM faq_texts ORDER BY created_at, id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn erase_faq_texts(&self, before: DateTime<Utc>) -> anyhow::Result<u64> {
        let done = sqlx::query("DELETE FROM faq_texts WHERE created_at < ?")
            .bind(ts(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn record_feedback(
        &self,
        chat_id: i64,
        entry: &str,
        helpful: bool,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO feedback (chat_id, entry, helpful, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(chat_id)
        .bind(entry)
        .bind(helpful)
        .bind(ts(now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn add_learned(
        &self,
        text: &str,
        entry: &str,
        expert: &str,
        from_chat: Option<i64>,
    ) -> anyhow::Result<i64> {
        let mut conn = self.begin_write().await?;
        let work = async {
            sqlx::query("DELETE FROM learned WHERE text = ?")
                .bind(text)
                .execute(&mut *conn)
                .await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO learned (text, entry, expert, created_at, source_chat_id) \
                 VALUES (?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(text)
            .bind(entry)
            .bind(expert)
            .bind(ts(now()))
            .bind(from_chat)
            .fetch_one(&mut *conn)
            .await?;
            anyhow::Ok(id)
        }
        .await;
        Self::finish_write(conn, work).await
    }

    async fn count_learned(&self) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM learned")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn learned(&self) -> anyhow::Result<Vec<(String, String)>> {
        Ok(
            sqlx::query_as("SELECT entry, text FROM learned ORDER BY id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn learned_since(&self, after_id: i64) -> anyhow::Result<Vec<Learned>> {
        let rows: Vec<LearnedRow> = sqlx::query_as(
            "SELECT id, text, entry, expert, created_at FROM learned WHERE id > ? ORDER BY id",
        )
        .bind(after_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Learned::from).collect())
    }

    async fn bump_counter(
        &self,
        day: NaiveDate,
        entry: &str,
        topic: &str,
        lang: Lang,
        country: Option<Country>,
        outcome: &str,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO daily_counts (day, entry, topic, lang, country, outcome, count) \
             VALUES (?, ?, ?, ?, ?, ?, 1) \
             ON CONFLICT (day, entry, topic, lang, country, outcome) \
             DO UPDATE SET count = daily_counts.count + 1",
        )
        .bind(day)
        .bind(entry)
        .bind(topic)
        .bind(lang.code())
        .bind(country_code(country))
        .bind(outcome)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn stats(&self, since: NaiveDate) -> anyhow::Result<Stats> {
        let from = ts(day_start(since));
        let feedback = sqlx::query_as::<_, FeedbackRow>(
            "SELECT entry, SUM(CASE WHEN helpful THEN 1 ELSE 0 END) AS up, \
             SUM(CASE WHEN helpful THEN 0 ELSE 1 END) AS down \
             FROM feedback WHERE created_at >= ? GROUP BY entry \
             ORDER BY COUNT(*) DESC, entry",
        )
        .bind(&from)
        .fetch_all(&self.pool)
        .await?;
        // Dismissed questions are left out: those are spam or off topic, not gaps in the FAQ.
        let missed = sqlx::query_as::<_, MissedRow>(
            "SELECT MAX(text) AS text, COUNT(*) AS n FROM questions \
             WHERE created_at >= ? AND group_key <> '' AND status <> 'dismissed' \
             GROUP BY group_key ORDER BY n DESC, MAX(text) LIMIT ?",
        )
        .bind(&from)
        .bind(TOP_MISSED)
        .fetch_all(&self.pool)
        .await?;
        StatsRows {
            by_topic: self.counts("topic", false, since).await?,
            by_lang: self.counts("lang", false, since).await?,
            by_country: self.counts("country", true, since).await?,
            outcomes: self.counts("outcome", false, since).await?,
            feedback,
            missed,
        }
        .try_into()
    }

    async fn export(&self, since: Option<DateTime<Utc>>) -> anyhow::Result<Vec<ExportRow>> {
        let sql = "SELECT id, lang, country, status, text, created_at, answered_at FROM questions";
        let rows: Vec<ExportDbRow> = match since {
            Some(since) => {
                sqlx::query_as(&format!("{sql} WHERE created_at >= ? ORDER BY id"))
                    .bind(ts(since))
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query_as(&format!("{sql} ORDER BY id"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.into_iter().map(ExportRow::try_from).collect()
    }

    async fn inbox_put(
        &self,
        update_id: i64,
        body: &str,
        instance: &str,
        lease: Duration,
    ) -> anyhow::Result<bool> {
        self.put_in_inbox(update_id, body, instance, lease).await
    }

    async fn inbox_done(&self, update_id: i64) -> anyhow::Result<()> {
        self.inbox_mark_done(update_id).await
    }

    async fn inbox_release(&self, update_id: i64) -> anyhow::Result<()> {
        self.inbox_give_up(update_id).await
    }

    async fn inbox_renew(&self, instance: &str, lease: Duration) -> anyhow::Result<u64> {
        self.inbox_extend(instance, lease).await
    }

    async fn inbox_claim_stale(
        &self,
        instance: &str,
        lease: Duration,
        limit: u32,
    ) -> anyhow::Result<Vec<(i64, String)>> {
        self.inbox_take_stale(instance, lease, limit).await
    }

    async fn inbox_prune(&self, before: DateTime<Utc>) -> anyhow::Result<u64> {
        self.inbox_delete_done(before).await
    }

    async fn chat_state(
        &self,
        chat_id: i64,
        since: DateTime<Utc>,
    ) -> anyhow::Result<Option<String>> {
        self.read_chat_state(chat_id, since).await
    }

    async fn set_chat_state(&self, chat_id: i64, state: Option<&str>) -> anyhow::Result<()> {
        self.write_chat_state(chat_id, state).await
    }

    async fn erase_chat_states(&self, before: DateTime<Utc>) -> anyhow::Result<u64> {
        self.delete_chat_states(before).await
    }

    async fn group_post(&self, group_key: &str, expert_chat: i64) -> anyhow::Result<Option<i32>> {
        self.lead_post(group_key, expert_chat).await
    }

    async fn claim_post_refresh(
        &self,
        chat_id: i64,
        message_id: i32,
        every: Duration,
    ) -> anyhow::Result<bool> {
        self.take_post_refresh(chat_id, message_id, every).await
    }

    async fn inactive_chats(&self, before: DateTime<Utc>, limit: u32) -> anyhow::Result<Vec<i64>> {
        let before = ts(before);
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT chat_id FROM profiles WHERE last_seen < ? \
             UNION SELECT chat_id FROM questions \
             WHERE chat_id NOT IN (SELECT chat_id FROM profiles) \
             GROUP BY chat_id HAVING MAX(created_at) < ? LIMIT ?",
        )
        .bind(&before)
        .bind(&before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn erase_old_texts(
        &self,
        now: DateTime<Utc>,
        answered_keep_days: i64,
    ) -> anyhow::Result<u64> {
        let cutoff = TimeDelta::try_days(answered_keep_days)
            .and_then(|keep| now.checked_sub_signed(keep))
            .context("answered_keep_days is out of range")?;
        let done = sqlx::query(
            "UPDATE questions SET text = '', group_key = '', media_chat_id = NULL, \
             media_message_id = NULL, answer = NULL, erased_at = ? \
             WHERE erased_at IS NULL AND status <> 'open' AND resolved_at < ?",
        )
        .bind(ts(now))
        .bind(ts(cutoff))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() > 0 {
            self.truncate_wal().await;
        }
        Ok(done.rows_affected())
    }
}
