//! The webhook inbox on PostgreSQL: updates stored before Telegram is told they arrived.

use super::PgStorage;
use crate::storage::Result;
use chrono::{DateTime, Utc};
use std::time::Duration;

impl PgStorage {
    pub(super) async fn put_in_inbox(
        &self,
        update_id: i64,
        body: &str,
        instance: &str,
        lease: Duration,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO inbox (update_id, body, received_at, claimed_by, claimed_until) \
             VALUES ($1, $2, now(), $3, now() + make_interval(secs => $4)) \
             ON CONFLICT (update_id) DO NOTHING",
        )
        .bind(update_id)
        .bind(body.replace('\0', ""))
        .bind(instance)
        .bind(lease.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn inbox_mark_done(&self, update_id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE inbox SET done_at = now(), body = '' WHERE update_id = $1 AND done_at IS NULL",
        )
        .bind(update_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn inbox_give_up(&self, update_id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE inbox SET claimed_until = received_at WHERE update_id = $1 AND done_at IS NULL",
        )
        .bind(update_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn inbox_extend(&self, instance: &str, lease: Duration) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE inbox SET claimed_until = now() + make_interval(secs => $2) \
             WHERE claimed_by = $1 AND done_at IS NULL",
        )
        .bind(instance)
        .bind(lease.as_secs_f64())
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
        // SKIP LOCKED: two instances claiming at once get different rows.
        let mut rows: Vec<(i64, String)> = sqlx::query_as(
            "UPDATE inbox SET claimed_by = $1, claimed_until = now() + make_interval(secs => $2) \
             WHERE update_id IN (SELECT update_id FROM inbox WHERE done_at IS NULL \
             AND claimed_until < now() ORDER BY update_id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING update_id, body",
        )
        .bind(instance)
        .bind(lease.as_secs_f64())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.sort_unstable_by_key(|r| r.0);
        Ok(rows)
    }

    pub(super) async fn inbox_delete_done(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM inbox WHERE done_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
