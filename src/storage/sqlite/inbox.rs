//! The webhook inbox on SQLite: updates stored before Telegram is told they arrived.

use super::{SqliteStorage, lease_end, ts};
use crate::storage::{Error, Result, now};
use chrono::{DateTime, Utc};
use std::time::Duration;

impl SqliteStorage {
    pub(super) async fn put_in_inbox(
        &self,
        update_id: i64,
        body: &str,
        instance: &str,
        lease: Duration,
    ) -> Result<bool> {
        self.check_file()?;
        let now = now();
        let until = lease_end(now, lease);
        let mut conn = self.begin_write().await?;
        let work = sqlx::query(
            "INSERT INTO inbox (update_id, body, received_at, claimed_by, claimed_until) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (update_id) DO NOTHING",
        )
        .bind(update_id)
        .bind(body.replace('\0', ""))
        .bind(ts(now))
        .bind(instance)
        .bind(ts(until))
        .execute(&mut *conn)
        .await
        .map_err(Error::from);
        let done = Self::finish_write(conn, work).await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn inbox_mark_done(&self, update_id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE inbox SET done_at = ?, body = '' WHERE update_id = ? AND done_at IS NULL",
        )
        .bind(ts(now()))
        .bind(update_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn inbox_give_up(&self, update_id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE inbox SET claimed_until = received_at WHERE update_id = ? AND done_at IS NULL",
        )
        .bind(update_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn inbox_extend(&self, instance: &str, lease: Duration) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE inbox SET claimed_until = ? WHERE claimed_by = ? AND done_at IS NULL",
        )
        .bind(ts(lease_end(now(), lease)))
        .bind(instance)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    pub(super) async fn inbox_take_stale(
        &self,
        instance: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<(i64, String)>> {
        let now = now();
        // One statement: SQLite runs writes one at a time, so two claimants cannot both win.
        let mut rows: Vec<(i64, String)> = sqlx::query_as(
            "UPDATE inbox SET claimed_by = ?, claimed_until = ? WHERE update_id IN \
             (SELECT update_id FROM inbox WHERE done_at IS NULL AND claimed_until < ? \
             ORDER BY update_id LIMIT ?) RETURNING update_id, body",
        )
        .bind(instance)
        .bind(ts(lease_end(now, lease)))
        .bind(ts(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.sort_unstable_by_key(|r| r.0);
        Ok(rows)
    }

    pub(super) async fn inbox_delete_done(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM inbox WHERE done_at < ?")
            .bind(ts(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
