//! Followers of entries' changes, on PostgreSQL.

use super::PgStorage;
use crate::lang::Lang;
use crate::storage::rows::followers;
use crate::storage::{Follows, Result};
use async_trait::async_trait;
use chrono::NaiveDate;

#[async_trait]
impl Follows for PgStorage {
    async fn follow(
        &self,
        chat_id: i64,
        entry: &str,
        lang: Lang,
        noted_on: Option<NaiveDate>,
    ) -> Result<bool> {
        // xmax = 0 only on a row this statement inserted.
        let (inserted,): (bool,) = sqlx::query_as(
            "INSERT INTO follows (chat_id, entry, lang, noted_on) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (chat_id, entry) DO UPDATE SET lang = excluded.lang \
             RETURNING (xmax = 0)",
        )
        .bind(chat_id)
        .bind(entry)
        .bind(lang.code())
        .bind(noted_on)
        .fetch_one(&self.pool)
        .await?;
        Ok(inserted)
    }

    async fn unfollow(&self, chat_id: i64, entry: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM follows WHERE chat_id = $1 AND entry = $2")
            .bind(chat_id)
            .bind(entry)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn take_change_followers(
        &self,
        entry: &str,
        note: NaiveDate,
        limit: u32,
    ) -> Result<Vec<(i64, Lang)>> {
        // SKIP LOCKED: rows another instance is taking are passed over, not waited for; the
        // condition is checked again on the locked row, so none is taken twice.
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "UPDATE follows SET noted_on = $2 WHERE entry = $1 AND chat_id IN \
             (SELECT chat_id FROM follows WHERE entry = $1 \
             AND (noted_on IS NULL OR noted_on < $2) ORDER BY chat_id LIMIT $3 \
             FOR UPDATE SKIP LOCKED) AND (noted_on IS NULL OR noted_on < $2) \
             RETURNING chat_id, lang",
        )
        .bind(entry)
        .bind(note)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        followers(rows)
    }

    async fn follower_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT entry, COUNT(*) AS n FROM follows GROUP BY entry ORDER BY n DESC, entry",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
