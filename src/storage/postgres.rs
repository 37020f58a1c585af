//! The PostgreSQL backend: for several instances sharing one database.
//!
//! Lease times (`claimed_until`) use the database's clock, not the instance's: instances may
//! disagree about the time, the database is the one clock they all see.

use super::rows::{
    ChatRow, LearnedRow, ProfileRow, QUESTION_COLUMNS, QuestionRow, candidates_json,
    group_post_sql, questions, select_questions,
};
use super::{
    Backend, Count, Delivery, Error, ExportRow, Learned, NewQuestion, Profile, Question,
    QuestionStatus, Result, Stats, Storage, now,
};
use crate::lang::{Country, Lang};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::{PgArguments, PgPoolOptions};
use sqlx::{PgPool, Postgres};
use std::time::Duration;

mod follows;
mod inbox;
mod reminders;
mod reports;
mod state;
mod workbench;

pub struct PgStorage {
    pool: PgPool,
}

impl PgStorage {
    pub async fn connect(url: &str) -> Result<PgStorage> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|source| Error::Connect {
                backend: Backend::Postgres,
                source,
            })?;
        // The migrator takes an advisory lock, so instances starting together do not race.
        sqlx::migrate!("migrations/postgres")
            .run(&pool)
            .await
            .map_err(|source| Error::Migrate {
                backend: Backend::Postgres,
                source,
            })?;
        Ok(PgStorage { pool })
    }

    async fn fetch_questions<'q>(
        &self,
        query: sqlx::query::QueryAs<'q, Postgres, QuestionRow, PgArguments>,
    ) -> Result<Vec<Question>> {
        questions(query.fetch_all(&self.pool).await?)
    }
}

#[async_trait]
impl Storage for PgStorage {
    async fn close(&self) {
        self.pool.close().await;
    }

    async fn ping(&self) -> Result<()> {
        // A real read of a table and a real committed write.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT COUNT(*) FROM questions WHERE id < 0")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO readiness (id, checked_at) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
        )
        .bind(now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_profile(&self, chat_id: i64) -> Result<Option<Profile>> {
        let row: Option<ProfileRow> = sqlx::query_as(
            "SELECT chat_id, lang, country, first_seen, last_seen FROM profiles \
             WHERE chat_id = $1",
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
                 (SELECT state FROM chat_states WHERE chat_id = $1 AND updated_at > $2) \
                 AS state FROM (SELECT 1 AS one) AS o \
                 LEFT JOIN profiles p ON p.chat_id = $1",
            )
            .bind(chat_id)
            .bind(since)
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
        sqlx::query(
            "INSERT INTO profiles (chat_id, lang, country, first_seen, last_seen) \
             VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (chat_id) DO UPDATE SET \
             lang = excluded.lang, country = excluded.country, last_seen = excluded.last_seen",
        )
        .bind(chat_id)
        .bind(lang.map(Lang::code))
        .bind(country.map(Country::code))
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn touch(&self, chat_id: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO profiles (chat_id, first_seen, last_seen) VALUES ($1, $2, $2) \
             ON CONFLICT (chat_id) DO UPDATE SET last_seen = excluded.last_seen",
        )
        .bind(chat_id)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn forget(&self, chat_id: i64) -> Result<Vec<(i64, i32)>> {
        let mut tx = self.pool.begin().await?;
        let posts: Vec<(i64, i32)> = sqlx::query_as(
            "SELECT DISTINCT expert_chat_id, expert_message_id FROM questions \
             WHERE chat_id = $1 AND expert_chat_id IS NOT NULL AND expert_message_id IS NOT NULL",
        )
        .bind(chat_id)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM question_notes WHERE question_id IN \
             (SELECT id FROM questions WHERE chat_id = $1)",
        )
        .bind(chat_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM learned WHERE source_chat_id = $1")
            .bind(chat_id)
            .execute(&mut *tx)
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
            sqlx::query(&format!("DELETE FROM {table} WHERE chat_id = $1"))
                .bind(chat_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(posts)
    }

    async fn add_question(&self, q: NewQuestion) -> Result<Question> {
        // In a transaction of its own, committed before the number is given out.
        let mut tx = self.pool.begin().await?;
        // The open post of its group it joins, if any, found in the same statement.
        let rows: Vec<QuestionRow> = sqlx::query_as(&format!(
            "WITH lead AS ({lead}) \
             INSERT INTO questions (chat_id, text, lang, country, candidates, status, urgent, \
             kind, media_chat_id, media_message_id, group_key, source_message_id, created_at, \
             updated_at, expert_chat_id, expert_message_id, posted_at) \
             VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $10, $11, $12, $12, \
             (SELECT expert_chat_id FROM lead), (SELECT expert_message_id FROM lead), \
             (SELECT $12 FROM lead)) \
             ON CONFLICT (chat_id, source_message_id) WHERE source_message_id IS NOT NULL \
             DO NOTHING RETURNING {QUESTION_COLUMNS}",
            lead = group_post_sql("$10", "$13")
        ))
        .bind(q.chat_id)
        // PostgreSQL cannot store a NUL byte in text, and no one means one.
        .bind(q.text.replace('\0', ""))
        .bind(q.lang.code())
        .bind(q.country.map(Country::code))
        .bind(candidates_json(&q.candidates)?)
        .bind(q.urgent)
        .bind(q.kind.code())
        .bind(q.media.map(|m| m.from_chat_id))
        .bind(q.media.map(|m| m.message_id))
        .bind(&q.group_key)
        .bind(q.source_message)
        .bind(now())
        .bind(q.joins_in())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        if let Some(row) = rows.into_iter().next() {
            return row.try_into();
        }
        // Only a message stored before conflicts: return its question.
        let sql = select_questions("chat_id = $1 AND source_message_id = $2");
        self.fetch_questions(sqlx::query_as(&sql).bind(q.chat_id).bind(q.source_message))
            .await?
            .pop()
            .ok_or(Error::ConflictVanished)
    }

    async fn question(&self, id: i64) -> Result<Option<Question>> {
        let sql = select_questions("id = $1");
        Ok(self
            .fetch_questions(sqlx::query_as(&sql).bind(id))
            .await?
            .pop())
    }

    async fn posted_as(&self, chat_id: i64, message_id: i32) -> Result<Vec<Question>> {
        let sql = select_questions("expert_chat_id = $1 AND expert_message_id = $2 ORDER BY id");
        self.fetch_questions(sqlx::query_as(&sql).bind(chat_id).bind(message_id))
            .await
    }

    async fn set_expert_message(&self, id: i64, chat_id: i64, message_id: i32) -> Result<()> {
        sqlx::query(
            "UPDATE questions SET expert_chat_id = $1, expert_message_id = $2, posted_at = $3, \
             updated_at = $3 WHERE id = $4",
        )
        .bind(chat_id)
        .bind(message_id)
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn unposted_questions(&self, limit: u32) -> Result<Vec<Question>> {
        let sql = select_questions(
            "status = 'open' AND expert_message_id IS NULL \
             AND (claimed_until IS NULL OR claimed_until < now()) \
             ORDER BY created_at, id LIMIT $1",
        );
        self.fetch_questions(sqlx::query_as(&sql).bind(i64::from(limit)))
            .await
    }

    async fn claim_for_posting(
        &self,
        id: i64,
        instance: &str,
        lease: Duration,
    ) -> Result<Option<Question>> {
        // SKIP LOCKED: a second claimant does not wait for the first one's transaction, it
        // finds no row and loses at once. Should the first commit in between, PostgreSQL
        // re-checks the WHERE on the new row version, which then has a live lease.
        let sql = format!(
            "UPDATE questions SET claimed_by = $2, \
             claimed_until = now() + make_interval(secs => $3) \
             WHERE id = (SELECT id FROM questions WHERE id = $1 AND status = 'open' \
             AND expert_message_id IS NULL AND (claimed_until IS NULL OR claimed_until < now()) \
             FOR UPDATE SKIP LOCKED) RETURNING {QUESTION_COLUMNS}"
        );
        let query = sqlx::query_as(&sql)
            .bind(id)
            .bind(instance)
            .bind(lease.as_secs_f64());
        Ok(self.fetch_questions(query).await?.pop())
    }

    async fn release_claim(&self, id: i64, instance: &str) -> Result<()> {
        sqlx::query(
            "UPDATE questions SET claimed_by = NULL, claimed_until = NULL \
             WHERE id = $1 AND claimed_by = $2",
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
        let sql = select_questions("status = 'open' AND group_key = $1 ORDER BY created_at, id");
        self.fetch_questions(sqlx::query_as(&sql).bind(group_key))
            .await
    }

    async fn open_questions(&self, limit: u32, offset: u32) -> Result<Vec<Question>> {
        let sql = select_questions(
            "status = 'open' ORDER BY urgent DESC, created_at, id LIMIT $1 OFFSET $2",
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
            "chat_id = $1 AND status = 'open' AND urgent ORDER BY created_at, id LIMIT 1",
        );
        Ok(self
            .fetch_questions(sqlx::query_as(&sql).bind(chat_id))
            .await?
            .pop())
    }

    async fn open_posts_of(&self, chat_id: i64, limit: u32) -> Result<Vec<(i64, i32)>> {
        Ok(sqlx::query_as(
            "SELECT expert_chat_id, expert_message_id FROM questions \
             WHERE chat_id = $1 AND status = 'open' AND NOT urgent \
             AND expert_chat_id IS NOT NULL AND expert_message_id IS NOT NULL \
             GROUP BY expert_chat_id, expert_message_id ORDER BY MAX(id) DESC LIMIT $2",
        )
        .bind(chat_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn mark_answered(&self, id: i64, answer: &str, expert: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE questions SET status = 'answered', answer = $1, answered_by = $2, \
             answered_at = $3, resolved_at = $3, updated_at = $3 \
             WHERE id = $4 AND status <> 'answered'",
        )
        .bind(answer)
        .bind(expert)
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_status(&self, id: i64, status: QuestionStatus) -> Result<bool> {
        let now = now();
        let resolved = (status != QuestionStatus::Open).then_some(now);
        let done = sqlx::query(
            "UPDATE questions SET status = $1, updated_at = $2, \
             resolved_at = CASE WHEN $3::TIMESTAMPTZ IS NULL THEN NULL \
             ELSE COALESCE(resolved_at, $3) END \
             WHERE id = $4",
        )
        .bind(status.code())
        .bind(now)
        .bind(resolved)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_delivery(&self, id: i64, delivered: bool) -> Result<()> {
        sqlx::query("UPDATE questions SET delivery = $1, updated_at = $2 WHERE id = $3")
            .bind(Delivery::from_flag(delivered).code())
            .bind(now())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn keep_faq_text(&self, chat_id: i64, text: &str, entry: &str, lang: Lang) -> Result<()> {
        sqlx::query(
            "INSERT INTO faq_texts (chat_id, text, entry, lang, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(chat_id)
        .bind(text)
        .bind(entry)
        .bind(lang.code())
        .bind(now())
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
            "INSERT INTO feedback (chat_id, entry, helpful, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(chat_id)
        .bind(entry)
        .bind(helpful)
        .bind(now())
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
        let mut tx = self.pool.begin().await?;
        // Writers one at a time, so ids become visible in increasing order: otherwise a reader
        // could see id 11 committed before id 10 and `learned_since(11)` would skip 10 forever.
        // EXCLUSIVE mode still lets readers read.
        sqlx::query("LOCK TABLE learned IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM learned WHERE text = $1")
            .bind(text)
            .execute(&mut *tx)
            .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO learned (text, entry, expert, created_at, source_chat_id) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(text)
        .bind(entry)
        .bind(expert)
        .bind(now())
        .bind(from_chat)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
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
            "SELECT id, text, entry, expert, created_at FROM learned WHERE id > $1 ORDER BY id",
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
