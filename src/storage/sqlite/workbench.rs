//! The experts' workbench on SQLite: claims, notes, merges, ratings, overdue questions, jobs
//! done once and the radar's facts. SQLite runs one write at a time, so a claim or a mark in
//! one statement cannot interleave with another instance's.

use super::{SqliteStorage, ts};
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
impl Workbench for SqliteStorage {
    async fn take_question(
        &self,
        id: i64,
        expert: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Taken> {
        self.check_file()?;
        let done = sqlx::query(
            "UPDATE questions SET taken_by = ?, taken_until = ? WHERE id = ? AND status = 'open' \
             AND (taken_by IS NULL OR taken_by = ? OR taken_until IS NULL OR taken_until <= ?)",
        )
        .bind(expert)
        .bind(ts(until))
        .bind(id)
        .bind(expert)
        .bind(ts(now))
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
        self.check_file()?;
        let mut conn = self.begin_write().await?;
        let work = async {
            let done = sqlx::query(
                "INSERT INTO question_notes (question_id, expert, text, created_at) \
                 SELECT id, ?, ?, ? FROM questions WHERE id = ?",
            )
            .bind(expert)
            .bind(text)
            .bind(ts(now()))
            .bind(id)
            .execute(&mut *conn)
            .await?;
            Ok(done.rows_affected() == 1)
        }
        .await;
        Self::finish_write(conn, work).await
    }

    async fn notes_of(&self, ids: &[i64]) -> Result<Vec<Note>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; ids.len()].join(", ");
        let sql = format!(
            "SELECT question_id, expert, text, created_at FROM question_notes \
             WHERE question_id IN ({marks}) ORDER BY created_at, id"
        );
        let mut q = sqlx::query_as::<_, NoteRow>(&sql);
        for id in ids {
            q = q.bind(id);
        }
        Ok(q.fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(Note::from)
            .collect())
    }

    async fn merge_post(&self, id: i64, into: i64) -> Result<Merged> {
        self.check_file()?;
        let mut conn = self.begin_write().await?;
        let work = async {
            let pick = |qid: i64| {
                sqlx::query_as::<_, (String, Option<i64>, Option<i32>)>(
                    "SELECT status, expert_chat_id, expert_message_id FROM questions WHERE id = ?",
                )
                .bind(qid)
            };
            let from = pick(id).fetch_optional(&mut *conn).await?;
            let to = pick(into).fetch_optional(&mut *conn).await?;
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
                "UPDATE questions SET expert_chat_id = ?, expert_message_id = ?, updated_at = ? \
                 WHERE status = 'open' AND (id = ? OR (expert_chat_id = ? AND expert_message_id = ?))",
            )
            .bind(chat)
            .bind(message)
            .bind(ts(now()))
            .bind(id)
            .bind(old_chat)
            .bind(old_message)
            .execute(&mut *conn)
            .await?;
            Ok(Merged::Joined(done.rows_affected()))
        }
        .await;
        Self::finish_write(conn, work).await
    }

    async fn rate_answer(&self, id: i64, chat_id: i64, helpful: bool) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE questions SET rating = ? WHERE id = ? AND chat_id = ? \
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
            "UPDATE questions SET overdue_at = ? WHERE id IN (SELECT id FROM questions \
             WHERE status = 'open' AND overdue_at IS NULL \
             AND created_at < (CASE WHEN urgent THEN ? ELSE ? END) \
             ORDER BY created_at, id LIMIT ?) RETURNING {QUESTION_COLUMNS}"
        ))
        .bind(ts(now))
        .bind(ts(urgent_before))
        .bind(ts(before))
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
            "status = 'open' AND created_at < (CASE WHEN urgent THEN ? ELSE ? END) \
             ORDER BY urgent DESC, created_at, id LIMIT ?",
        );
        let rows: Vec<QuestionRow> = sqlx::query_as(&sql)
            .bind(ts(urgent_before))
            .bind(ts(before))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        questions(rows)
    }

    async fn once(&self, key: &str, by: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO done_once (key, done_by, created_at) VALUES (?, ?, ?) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(by)
        .bind(ts(now()))
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
             WHERE day >= ? AND day <= ? ORDER BY day, topic, entry, lang, country, outcome",
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
            "SELECT {FACT_COLUMNS} FROM questions WHERE created_at >= ? AND created_at < ? \
             ORDER BY created_at, id"
        ))
        .bind(ts(since))
        .bind(ts(until))
        .fetch_all(&self.pool)
        .await?;
        facts(rows)
    }
}
