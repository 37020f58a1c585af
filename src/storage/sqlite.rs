//! The SQLite backend: one file (or memory), one instance.

use super::rows::{
    ChatRow, LearnedRow, ProfileRow, QUESTION_COLUMNS, QuestionRow, candidates_json,
    group_post_sql, questions, select_questions,
};
use super::{
    Count, Delivery, Error, ExportRow, Learned, NewQuestion, Profile, Question, QuestionStatus,
    Result, Stats, Storage, now,
};
use crate::lang::{Country, Lang};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use file::OpenFile;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Sqlite, SqlitePool};
use std::time::Duration;

mod file;
mod follows;
mod inbox;
mod reminders;
mod reports;
mod state;
mod workbench;

pub struct SqliteStorage {
    pool: SqlitePool,
    /// The database file as it was opened; `None` in memory.
    file: Option<OpenFile>,
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
    async fn fetch_questions<'q>(
        &self,
        query: sqlx::query::QueryAs<'q, Sqlite, QuestionRow, SqliteArguments<'q>>,
    ) -> Result<Vec<Question>> {
        questions(query.fetch_all(&self.pool).await?)
    }
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn close(&self) {
        self.pool.close().await;
    }

    async fn ping(&self) -> Result<()> {
        self.check_ready().await
    }

    async fn get_profile(&self, chat_id: i64) -> Result<Option<Profile>> {
        let row: Option<ProfileRow> = sqlx::query_as(
            "SELECT chat_id, lang, country, first_seen, last_seen FROM profiles WHERE chat_id = ?",
        )
        .bind(chat_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Profile::try_from).transpose()
    }

    async fn chat(
        &self,
        chat_id: i64,
        since: DateTime<Utc>,
    ) -> Result<(Option<Profile>, Option<String>)> {
        // One row whether or not there is a profile or a state.
        let (profile, state): (Option<ProfileRow>, Option<String>) = {
            let row: ChatRow = sqlx::query_as(
                "SELECT p.chat_id, p.lang, p.country, p.first_seen, p.last_seen, \
                 (SELECT state FROM chat_states WHERE chat_id = ?1 AND updated_at > ?2) \
                 AS state FROM (SELECT 1 AS one) AS o \
                 LEFT JOIN profiles p ON p.chat_id = ?1",
            )
            .bind(chat_id)
            .bind(ts(since))
            .fetch_one(&self.pool)
            .await?;
            row.split()
        };
        Ok((profile.map(Profile::try_from).transpose()?, state))
    }

    async fn save_profile(
        &self,
        chat_id: i64,
        lang: Option<Lang>,
        country: Option<Country>,
    ) -> Result<()> {
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

    async fn touch(&self, chat_id: i64) -> Result<()> {
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

    async fn forget(&self, chat_id: i64) -> Result<Vec<(i64, i32)>> {
        let mut conn = self.begin_write().await?;
        let work: Result<_> = async {
            let posts: Vec<(i64, i32)> = sqlx::query_as(
                "SELECT DISTINCT expert_chat_id, expert_message_id FROM questions \
                 WHERE chat_id = ? AND expert_chat_id IS NOT NULL \
                 AND expert_message_id IS NOT NULL",
            )
            .bind(chat_id)
            .fetch_all(&mut *conn)
            .await?;
            sqlx::query(
                "DELETE FROM question_notes WHERE question_id IN \
                 (SELECT id FROM questions WHERE chat_id = ?)",
            )
            .bind(chat_id)
            .execute(&mut *conn)
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
                "reminders",
                "follows",
            ] {
                sqlx::query(&format!("DELETE FROM {table} WHERE chat_id = ?"))
                    .bind(chat_id)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(posts)
        }
        .await;
        let posts = Self::finish_write(conn, work).await?;
        self.truncate_wal().await;
        Ok(posts)
    }

    async fn add_question(&self, q: NewQuestion) -> Result<Question> {
        self.check_file()?;
        let now = ts(now());
        // In a transaction of its own, and every row fetched: SQLite hands out the RETURNING
        // row before the commit, and a commit that fails (a full disk) after the first row was
        // taken would go unseen, the question lost and its number given again.
        let candidates = candidates_json(&q.candidates)?;
        let mut conn = self.begin_write().await?;
        // The open post of its group it joins, if any, found in the same statement.
        let work = sqlx::query_as::<_, QuestionRow>(&format!(
            "WITH lead AS ({lead}) \
             INSERT INTO questions (chat_id, text, lang, country, candidates, status, urgent, \
             kind, media_chat_id, media_message_id, group_key, source_message_id, created_at, \
             updated_at, expert_chat_id, expert_message_id, posted_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, \
             (SELECT expert_chat_id FROM lead), (SELECT expert_message_id FROM lead), \
             (SELECT ?12 FROM lead)) \
             ON CONFLICT (chat_id, source_message_id) WHERE source_message_id IS NOT NULL \
             DO NOTHING RETURNING {QUESTION_COLUMNS}",
            lead = group_post_sql("?10", "?13")
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
        .bind(q.joins_in())
        .fetch_all(&mut *conn)
        .await
        .map_err(Error::from);
        let rows = Self::finish_write(conn, work).await?;
        if let Some(row) = rows.into_iter().next() {
            return row.try_into();
        }
        // Only a message stored before conflicts: return its question.
        let sql = select_questions("chat_id = ? AND source_message_id = ?");
        self.fetch_questions(sqlx::query_as(&sql).bind(q.chat_id).bind(q.source_message))
            .await?
            .pop()
            .ok_or(Error::ConflictVanished)
    }

    async fn question(&self, id: i64) -> Result<Option<Question>> {
        let sql = select_questions("id = ?");
        Ok(self
            .fetch_questions(sqlx::query_as(&sql).bind(id))
            .await?
            .pop())
    }

    async fn posted_as(&self, chat_id: i64, message_id: i32) -> Result<Vec<Question>> {
        let sql = select_questions("expert_chat_id = ? AND expert_message_id = ? ORDER BY id");
        self.fetch_questions(sqlx::query_as(&sql).bind(chat_id).bind(message_id))
            .await
    }

    async fn set_expert_message(&self, id: i64, chat_id: i64, message_id: i32) -> Result<()> {
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

    async fn unposted_questions(&self, limit: u32) -> Result<Vec<Question>> {
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
    ) -> Result<Option<Question>> {
        let now = now();
        let until = lease_end(now, lease);
        // One statement: SQLite runs writes one at a time, so the check and the claim cannot
        // interleave with another claimant's. Every row fetched: the statement runs to its
        // end, so a commit that fails is seen.
        let sql = format!(
            "UPDATE questions SET claimed_by = ?, claimed_until = ? \
             WHERE id = ? AND status = 'open' AND expert_message_id IS NULL \
             AND (claimed_until IS NULL OR claimed_until < ?) RETURNING {QUESTION_COLUMNS}"
        );
        let query = sqlx::query_as(&sql)
            .bind(instance)
            .bind(ts(until))
            .bind(id)
            .bind(ts(now));
        Ok(self.fetch_questions(query).await?.pop())
    }

    async fn release_claim(&self, id: i64, instance: &str) -> Result<()> {
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

    async fn open_group(&self, group_key: &str) -> Result<Vec<Question>> {
        if group_key.is_empty() {
            return Ok(Vec::new());
        }
        let sql = select_questions("status = 'open' AND group_key = ? ORDER BY created_at, id");
        self.fetch_questions(sqlx::query_as(&sql).bind(group_key))
            .await
    }

    async fn open_questions(&self, limit: u32, offset: u32) -> Result<Vec<Question>> {
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

    async fn count_open(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM questions WHERE status = 'open'")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn open_urgent_of(&self, chat_id: i64) -> Result<Option<Question>> {
        let sql = select_questions(
            "chat_id = ? AND status = 'open' AND urgent ORDER BY created_at, id LIMIT 1",
        );
        Ok(self
            .fetch_questions(sqlx::query_as(&sql).bind(chat_id))
            .await?
            .pop())
    }

    async fn open_posts_of(&self, chat_id: i64, limit: u32) -> Result<Vec<(i64, i32)>> {
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

    async fn mark_answered(&self, id: i64, answer: &str, expert: &str) -> Result<bool> {
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

    async fn set_status(&self, id: i64, status: QuestionStatus) -> Result<bool> {
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

    async fn set_delivery(&self, id: i64, delivered: bool) -> Result<()> {
        sqlx::query("UPDATE questions SET delivery = ?, updated_at = ? WHERE id = ?")
            .bind(Delivery::from_flag(delivered).code())
            .bind(ts(now()))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn keep_faq_text(&self, chat_id: i64, text: &str, entry: &str, lang: Lang) -> Result<()> {
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

    async fn faq_texts(&self) -> Result<Vec<(String, String)>> {
        self.kept_faq_texts().await
    }

    async fn erase_faq_texts(&self, before: DateTime<Utc>) -> Result<u64> {
        self.delete_faq_texts(before).await
    }

    async fn record_feedback(&self, chat_id: i64, entry: &str, helpful: bool) -> Result<()> {
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
    ) -> Result<i64> {
        let mut conn = self.begin_write().await?;
        let work: Result<_> = async {
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
            Ok(id)
        }
        .await;
        Self::finish_write(conn, work).await
    }

    async fn count_learned(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM learned")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn learned(&self) -> Result<Vec<(String, String)>> {
        Ok(
            sqlx::query_as("SELECT entry, text FROM learned ORDER BY id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn learned_since(&self, after_id: i64) -> Result<Vec<Learned>> {
        let rows: Vec<LearnedRow> = sqlx::query_as(
            "SELECT id, text, entry, expert, created_at FROM learned WHERE id > ? ORDER BY id",
        )
        .bind(after_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Learned::from).collect())
    }

    async fn add_counts(&self, counts: &[(Count, i64)]) -> Result<()> {
        self.add_to_counters(counts).await
    }

    async fn stats(&self, since: NaiveDate) -> Result<Stats> {
        self.collect_stats(since).await
    }

    async fn export(&self, since: Option<DateTime<Utc>>) -> Result<Vec<ExportRow>> {
        self.export_rows(since).await
    }

    async fn inbox_put(
        &self,
        update_id: i64,
        body: &str,
        instance: &str,
        lease: Duration,
    ) -> Result<bool> {
        self.put_in_inbox(update_id, body, instance, lease).await
    }

    async fn inbox_done(&self, update_id: i64) -> Result<()> {
        self.inbox_mark_done(update_id).await
    }

    async fn inbox_release(&self, update_id: i64) -> Result<()> {
        self.inbox_give_up(update_id).await
    }

    async fn inbox_renew(&self, instance: &str, lease: Duration) -> Result<u64> {
        self.inbox_extend(instance, lease).await
    }

    async fn inbox_claim_stale(
        &self,
        instance: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<(i64, String)>> {
        self.inbox_take_stale(instance, lease, limit).await
    }

    async fn inbox_prune(&self, before: DateTime<Utc>) -> Result<u64> {
        self.inbox_delete_done(before).await
    }

    async fn chat_state(&self, chat_id: i64, since: DateTime<Utc>) -> Result<Option<String>> {
        self.read_chat_state(chat_id, since).await
    }

    async fn set_chat_state(&self, chat_id: i64, state: Option<&str>) -> Result<()> {
        self.write_chat_state(chat_id, state).await
    }

    async fn erase_chat_states(&self, before: DateTime<Utc>) -> Result<u64> {
        self.delete_chat_states(before).await
    }

    async fn group_post(&self, group_key: &str, expert_chat: i64) -> Result<Option<i32>> {
        self.lead_post(group_key, expert_chat).await
    }

    async fn claim_post_refresh(
        &self,
        chat_id: i64,
        message_id: i32,
        every: Duration,
    ) -> Result<bool> {
        self.take_post_refresh(chat_id, message_id, every).await
    }

    async fn inactive_chats(&self, before: DateTime<Utc>, limit: u32) -> Result<Vec<i64>> {
        self.find_inactive_chats(before, limit).await
    }

    async fn erase_old_texts(&self, now: DateTime<Utc>, answered_keep_days: i64) -> Result<u64> {
        self.erase_resolved_texts(now, answered_keep_days).await
    }
}
