//! Followers of entries' changes, on SQLite.

use super::{SqliteStorage, ts};
use crate::lang::Lang;
use crate::storage::rows::followers;
use crate::storage::{Follows, Result, now};
use async_trait::async_trait;
use chrono::NaiveDate;

#[async_trait]
impl Follows for SqliteStorage {
    async fn follow(
        &self,
        chat_id: i64,
        entry: &str,
        lang: Lang,
        noted_on: Option<NaiveDate>,
    ) -> Result<bool> {
        let added = sqlx::query(
            "INSERT INTO follows (chat_id, entry, lang, noted_on, created_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat_id, entry) DO NOTHING",
        )
        .bind(chat_id)
        .bind(entry)
        .bind(lang.code())
        .bind(noted_on)
        .bind(ts(now()))
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        if !added {
            sqlx::query("UPDATE follows SET lang = ? WHERE chat_id = ? AND entry = ?")
                .bind(lang.code())
                .bind(chat_id)
                .bind(entry)
                .execute(&self.pool)
                .await?;
        }
        Ok(added)
    }

    async fn unfollow(&self, chat_id: i64, entry: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM follows WHERE chat_id = ? AND entry = ?")
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
        // One statement: SQLite runs writes one at a time, so no two callers take the same.
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "UPDATE follows SET noted_on = ? WHERE entry = ? AND chat_id IN \
             (SELECT chat_id FROM follows WHERE entry = ? AND (noted_on IS NULL OR noted_on < ?) \
             ORDER BY chat_id LIMIT ?) RETURNING chat_id, lang",
        )
        .bind(note)
        .bind(entry)
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
