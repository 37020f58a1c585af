//! Statistics, counters, export and the retention queries on PostgreSQL.

use super::PgStorage;
use crate::storage::rows::{
    CountRow, ExportDbRow, FeedbackRow, MissedRow, StatsRows, count_key, country_code,
};
use crate::storage::{Count, Error, ExportRow, Result, Stats, TOP_MISSED, day_start};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

impl PgStorage {
    /// Counter totals per value of `column` ("" included only if `with_empty`).
    async fn counts(
        &self,
        column: &str,
        with_empty: bool,
        since: NaiveDate,
    ) -> Result<Vec<CountRow>> {
        let skip = if with_empty {
            String::new()
        } else {
            format!("AND {column} <> ''")
        };
        // SUM of BIGINT is NUMERIC in PostgreSQL.
        let sql = format!(
            "SELECT {column} AS key, SUM(count)::BIGINT AS n FROM daily_counts \
             WHERE day >= $1 {skip} GROUP BY {column} ORDER BY n DESC, {column}"
        );
        Ok(sqlx::query_as(&sql)
            .bind(since)
            .fetch_all(&self.pool)
            .await?)
    }

    pub(super) async fn kept_faq_texts(&self) -> Result<Vec<(String, String)>> {
        Ok(
            sqlx::query_as("SELECT entry, text FROM faq_texts ORDER BY created_at, id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub(super) async fn delete_faq_texts(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM faq_texts WHERE created_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Adds to each counter in one transaction. Rows are taken in key order, so that two
    /// instances flushing at once cannot deadlock on each other's rows.
    pub(super) async fn add_to_counters(&self, counts: &[(Count, i64)]) -> Result<()> {
        if counts.is_empty() {
            return Ok(());
        }
        let mut counts: Vec<&(Count, i64)> = counts.iter().collect();
        counts.sort_by(|a, b| count_key(&a.0).cmp(&count_key(&b.0)));
        let mut tx = self.pool.begin().await?;
        for (c, n) in counts {
            add_count(&mut *tx, c, *n).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn collect_stats(&self, since: NaiveDate) -> Result<Stats> {
        let from = day_start(since);
        let feedback = sqlx::query_as::<_, FeedbackRow>(
            "SELECT entry, COUNT(*) FILTER (WHERE helpful) AS up, \
             COUNT(*) FILTER (WHERE NOT helpful) AS down \
             FROM feedback WHERE created_at >= $1 GROUP BY entry \
             ORDER BY COUNT(*) DESC, entry",
        )
        .bind(from)
        .fetch_all(&self.pool)
        .await?;
        // Dismissed questions are left out: those are spam or off topic, not gaps in the FAQ.
        let missed = sqlx::query_as::<_, MissedRow>(
            "SELECT MAX(text) AS text, COUNT(*) AS n FROM questions \
             WHERE created_at >= $1 AND group_key <> '' AND status <> 'dismissed' \
             GROUP BY group_key ORDER BY n DESC, MAX(text) LIMIT $2",
        )
        .bind(from)
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

    pub(super) async fn export_rows(&self, since: Option<DateTime<Utc>>) -> Result<Vec<ExportRow>> {
        let rows: Vec<ExportDbRow> = sqlx::query_as(
            "SELECT id, lang, country, status, text, created_at, answered_at FROM questions \
             WHERE $1::TIMESTAMPTZ IS NULL OR created_at >= $1 ORDER BY id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(ExportRow::try_from).collect()
    }

    pub(super) async fn find_inactive_chats(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<i64>> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT chat_id FROM (SELECT chat_id FROM profiles WHERE last_seen < $1 \
             UNION SELECT chat_id FROM questions \
             WHERE chat_id NOT IN (SELECT chat_id FROM profiles) \
             GROUP BY chat_id HAVING MAX(created_at) < $1) AS quiet \
             WHERE chat_id NOT IN (SELECT chat_id FROM reminders WHERE status = 'pending') \
             LIMIT $2",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    pub(super) async fn erase_resolved_texts(
        &self,
        now: DateTime<Utc>,
        answered_keep_days: i64,
    ) -> Result<u64> {
        let cutoff = TimeDelta::try_days(answered_keep_days)
            .and_then(|keep| now.checked_sub_signed(keep))
            .ok_or(Error::OutOfRange {
                what: "answered_keep_days",
            })?;
        let done = sqlx::query(
            "UPDATE questions SET text = '', group_key = '', media_chat_id = NULL, \
             media_message_id = NULL, answer = NULL, erased_at = $1 \
             WHERE erased_at IS NULL AND status <> 'open' AND resolved_at < $2",
        )
        .bind(now)
        .bind(cutoff)
        .execute(&self.pool)
        .await?;
        // The experts' notes may name the person or their case: they go with the text.
        sqlx::query(
            "DELETE FROM question_notes WHERE question_id IN \
             (SELECT id FROM questions WHERE erased_at IS NOT NULL)",
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

async fn add_count<'c, E: sqlx::Executor<'c, Database = sqlx::Postgres>>(
    conn: E,
    c: &Count,
    n: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO daily_counts (day, entry, topic, lang, country, outcome, count) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (day, entry, topic, lang, country, outcome) \
         DO UPDATE SET count = daily_counts.count + excluded.count",
    )
    .bind(c.day)
    .bind(&c.entry)
    .bind(&c.topic)
    .bind(c.lang.code())
    .bind(country_code(c.country))
    .bind(&c.outcome)
    .bind(n)
    .execute(conn)
    .await?;
    Ok(())
}
