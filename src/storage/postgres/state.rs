//! Chat states and the refresh marks of expert posts, on PostgreSQL.

use super::PgStorage;
use crate::storage::Result;
use crate::storage::rows::group_post_sql;
use chrono::{DateTime, Utc};
use std::time::Duration;

impl PgStorage {
    pub(super) async fn read_chat_state(
        &self,
        chat_id: i64,
        since: DateTime<Utc>,
    ) -> Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT state FROM chat_states WHERE chat_id = $1 AND updated_at > $2")
                .bind(chat_id)
                .bind(since)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.0))
    }

    pub(super) async fn write_chat_state(&self, chat_id: i64, state: Option<&str>) -> Result<()> {
        match state {
            Some(state) => {
                sqlx::query(
                    "INSERT INTO chat_states (chat_id, state, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (chat_id) DO UPDATE SET state = excluded.state, \
                     updated_at = excluded.updated_at",
                )
                .bind(chat_id)
                .bind(state.replace('\0', ""))
                .bind(crate::storage::now())
                .execute(&self.pool)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM chat_states WHERE chat_id = $1")
                    .bind(chat_id)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    pub(super) async fn delete_chat_states(&self, before: DateTime<Utc>) -> Result<u64> {
        sqlx::query("DELETE FROM post_refreshes WHERE refreshed_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        let done = sqlx::query("DELETE FROM chat_states WHERE updated_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    pub(super) async fn take_post_refresh(
        &self,
        chat_id: i64,
        message_id: i32,
        every: Duration,
    ) -> Result<bool> {
        // The database's clock, as for leases. A post refreshed for the first time is
        // inserted; after that the row is updated, and a second claimant waits for the first
        // one's row lock, then re-checks the time on the row the first one wrote, and loses.
        let inserted = sqlx::query(
            "INSERT INTO post_refreshes (expert_chat_id, expert_message_id, refreshed_at) \
             VALUES ($1, $2, clock_timestamp()) ON CONFLICT DO NOTHING",
        )
        .bind(chat_id)
        .bind(message_id)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(true);
        }
        let done = sqlx::query(
            "UPDATE post_refreshes SET refreshed_at = clock_timestamp() \
             WHERE expert_chat_id = $1 AND expert_message_id = $2 \
             AND refreshed_at <= clock_timestamp() - make_interval(secs => $3)",
        )
        .bind(chat_id)
        .bind(message_id)
        .bind(every.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn lead_post(&self, group_key: &str, expert_chat: i64) -> Result<Option<i32>> {
        if group_key.is_empty() {
            return Ok(None);
        }
        let row: Option<(i64, i32)> = sqlx::query_as(&group_post_sql("$1", "$2"))
            .bind(group_key)
            .bind(expert_chat)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.1))
    }
}
