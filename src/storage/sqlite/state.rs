//! Chat states and the refresh marks of expert posts, on SQLite.

use super::{SqliteStorage, ts};
use crate::storage::rows::group_post_sql;
use crate::storage::{Error, Result, now};
use chrono::{DateTime, Utc};
use std::time::Duration;

impl SqliteStorage {
    pub(super) async fn read_chat_state(
        &self,
        chat_id: i64,
        since: DateTime<Utc>,
    ) -> Result<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT state FROM chat_states WHERE chat_id = ? AND updated_at > ?")
                .bind(chat_id)
                .bind(ts(since))
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.0))
    }

    pub(super) async fn write_chat_state(&self, chat_id: i64, state: Option<&str>) -> Result<()> {
        match state {
            Some(state) => {
                sqlx::query(
                    "INSERT INTO chat_states (chat_id, state, updated_at) VALUES (?, ?, ?) \
                     ON CONFLICT (chat_id) DO UPDATE SET state = excluded.state, \
                     updated_at = excluded.updated_at",
                )
                .bind(chat_id)
                .bind(state.replace('\0', ""))
                .bind(ts(now()))
                .execute(&self.pool)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM chat_states WHERE chat_id = ?")
                    .bind(chat_id)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    pub(super) async fn delete_chat_states(&self, before: DateTime<Utc>) -> Result<u64> {
        let before = ts(before);
        sqlx::query("DELETE FROM post_refreshes WHERE refreshed_at < ?")
            .bind(&before)
            .execute(&self.pool)
            .await?;
        let done = sqlx::query("DELETE FROM chat_states WHERE updated_at < ?")
            .bind(&before)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() > 0 {
            self.truncate_wal().await;
        }
        Ok(done.rows_affected())
    }

    pub(super) async fn take_post_refresh(
        &self,
        chat_id: i64,
        message_id: i32,
        every: Duration,
    ) -> Result<bool> {
        let now = now();
        let every = chrono::TimeDelta::from_std(every).map_err(|_| Error::OutOfRange {
            what: "the refresh interval",
        })?;
        let due = now - every;
        // One statement: SQLite runs writes one at a time, so two claimants cannot both win.
        let done = sqlx::query(
            "INSERT INTO post_refreshes (expert_chat_id, expert_message_id, refreshed_at) \
             VALUES (?, ?, ?) ON CONFLICT (expert_chat_id, expert_message_id) DO UPDATE \
             SET refreshed_at = excluded.refreshed_at WHERE post_refreshes.refreshed_at <= ?",
        )
        .bind(chat_id)
        .bind(message_id)
        .bind(ts(now))
        .bind(ts(due))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn lead_post(&self, group_key: &str, expert_chat: i64) -> Result<Option<i32>> {
        if group_key.is_empty() {
            return Ok(None);
        }
        let row: Option<(i64, i32)> = sqlx::query_as(&group_post_sql("?", "?"))
            .bind(group_key)
            .bind(expert_chat)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.1))
    }
}
