//! The experts' workbench on PostgreSQL: claims, notes, merges, ratings, overdue questions,
//! jobs done once and the radar's facts. A claim or a mark is one statement (row locks, SKIP
//! LOCKED where several instances take at once).

use super::PgStorage;
use crate::storage::rows::{
    CounterRow, FACT_COLUMNS, FactsRow, NoteRow, QUESTION_COLUMNS, QuestionRow, counters, facts,
    questions, select_questions,
};
use crate::storage::{
    Count, Merged, Note, Question, QuestionFacts, QuestionStatus, Result, Storage, Taken,
    Workbench, now,
};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

#[async_trait]
impl Workbench for PgStorage {
    async fn take_question(
        &self,
        id: i64,
        expert: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Taken> {
        let done = sqlx::query(
            "UPDATE questions SET taken_by = $1, taken_until = $2 WHERE id = $3 AND status = 'open' \
             AND (taken_by IS NULL OR taken_by = $4 OR taken_until IS NULL OR taken_until <= $5)",
        )
        .bind(expert)
        .bind(until)
        .bind(id)
        .bind(expert)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(Taken::Yours);
        }
        let Some(q) = Storage::question(self, id).await? else {
            return Ok(Taken::Gone);
        };
        Ok(match (q.status, q.taken) {
            (QuestionStatus::Open, Some((by, until))) => Taken::Held { by, until },
            (QuestionStatus::Open, None) => Taken::Gone,
            _ => Taken::Closed,
        })
    }

    async fn add_note(&self, id: i64, expert: &str, text: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO question_notes (question_id, expert, text) \
             SELECT id, $1, $2 FROM questions WHERE id = $3",
        )
        .bind(expert)
        .bind(text)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn notes_of(&self, ids: &[i64]) -> Result<Vec<Note>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as::<_, NoteRow>(
            "SELECT question_id, expert, text, created_at FROM question_notes \
             WHERE question_id = ANY($1) ORDER BY created_at, id",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(Note::from)
        .collect())
    }

    async fn merge_post(&self, id: i64, into: i64) -> Result<Merged> {
        let mut tx = self.pool.begin().await?;
        let merged: Result<Merged> = async {
            let pick = |qid: i64| {
                sqlx::query_as::<_, (String, Option<i64>, Option<i32>)>(
                    "SELECT status, expert_chat_id, expert_message_id FROM questions WHERE id = $1 \
                     FOR UPDATE",
                )
                .bind(qid)
            };
            let from = pick(id).fetch_optional(&mut *tx).await?;
            let to = pick(into).fetch_optional(&mut *tx).await?;
            let (Some(from), Some(to)) = (from, to) else {
                return Ok(Merged::Gone);
            };
            let post = |(_, c, m): &(String, Option<i64>, Option<i32>)| c.zip(*m);
            if id == into || (post(&from).is_some() && post(&from) == post(&to)) {
                return Ok(Merged::Same);
            }
            if from.0 != "open" {
                return Ok(Merged::Closed);
            }
            let Some((chat, message)) = post(&to).filter(|_| to.0 == "open") else {
                return Ok(Merged::TargetClosed);
            };
            let (old_chat, old_message) = post(&from).unwrap_or((0, 0));
            let done = sqlx::query(
                "UPDATE questions SET expert_chat_id = $1, expert_message_id = $2, updated_at = $3 \
                 WHERE status = 'open' AND (id = $4 OR (expert_chat_id = $5 AND expert_message_id = $6))",
            )
            .bind(chat)
            .bind(message)
            .bind(now())
            .bind(id)
            .bind(old_chat)
            .bind(old_message)
            .execute(&mut *tx)
            .await?;
            Ok(Merged::Joined(done.rows_affected()))
        }
        .await;
        let merged = merged?;
        tx.commit().await?;
        Ok(merged)
    }

    async fn rate_answer(&self, id: i64, chat_id: i64, helpful: bool) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE questions SET rating = $1 WHERE id = $2 AND chat_id = $3 \
             AND status = 'answered' AND rating IS NULL",
        )
        .bind(helpful)
        .bind(id)
        .bind(chat_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn take_overdue(
        &self,
        now: DateTime<Utc>,
        before: DateTime<Utc>,
        urgent_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Question>> {
        let rows: Vec<QuestionRow> = sqlx::query_as(&format!(
            "UPDATE questions SET overdue_at = $1 WHERE id IN (SELECT id FROM questions \
             WHERE status = 'open' AND overdue_at IS NULL \
             AND created_at < (CASE WHEN urgent THEN $2 ELSE $3 END) \
             ORDER BY created_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING {QUESTION_COLUMNS}"
        ))
        .bind(now)
        .bind(urgent_before)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut out = questions(rows)?;
        out.sort_by_key(|q| (q.created_at, q.id));
        Ok(out)
    }

    async fn overdue(
        &self,
        before: DateTime<Utc>,
        urgent_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Question>> {
        let sql = select_questions(
            "status = 'open' AND created_at < (CASE WHEN urgent THEN $1 ELSE $2 END) \
             ORDER BY urgent DESC, created_at, id LIMIT $3",
        );
        let rows: Vec<QuestionRow> = sqlx::query_as(&sql)
            .bind(urgent_before)
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        questions(rows)
    }

    async fn once(&self, key: &str, by: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO done_once (key, done_by) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(by)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn counts_between(
        &self,
        since: NaiveDate,
        until: NaiveDate,
    ) -> Result<Vec<(Count, i64)>> {
        let rows: Vec<CounterRow> = sqlx::query_as(
            "SELECT day, entry, topic, lang, country, outcome, count FROM daily_counts \
             WHERE day >= $1 AND day <= $2 ORDER BY day, topic, entry, lang, country, outcome",
        )
        .bind(since)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        counters(rows)
    }

    async fn question_facts(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<QuestionFacts>> {
        let rows: Vec<FactsRow> = sqlx::query_as(&format!(
            "SELECT {FACT_COLUMNS} FROM questions WHERE created_at >= $1 AND created_at < $2 \
             ORDER BY created_at, id"
        ))
        .bind(since)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        facts(rows)
    }
}
