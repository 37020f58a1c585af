//! Reminders, on PostgreSQL.

use super::PgStorage;
use crate::storage::rows::{REMINDER_COLUMNS as COLUMNS, ReminderRow, reminders};
use crate::storage::{NewReminder, Reminder, Reminders, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

#[async_trait]
impl Reminders for PgStorage {
    async fn add_reminder(&self, r: NewReminder) -> Result<Reminder> {
        sqlx::query(
            "INSERT INTO reminders (chat_id, entry, lang, due_on, remind_on, send_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (chat_id, entry, due_on) DO NOTHING",
        )
        .bind(r.chat_id)
        .bind(&r.entry)
        .bind(r.lang.code())
        .bind(r.due_on)
        .bind(r.remind_on)
        .bind(r.send_at)
        .execute(&self.pool)
        .await?;
        let row: ReminderRow = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM reminders WHERE chat_id = $1 AND entry = $2 AND due_on = $3"
        ))
        .bind(r.chat_id)
        .bind(&r.entry)
        .bind(r.due_on)
        .fetch_one(&self.pool)
        .await?;
        Ok(reminders(vec![row])?.remove(0))
    }

    async fn reminders_of(&self, chat_id: i64) -> Result<Vec<Reminder>> {
        let rows: Vec<ReminderRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM reminders WHERE chat_id = $1 AND status = 'pending' \
             ORDER BY send_at, id"
        ))
        .bind(chat_id)
        .fetch_all(&self.pool)
        .await?;
        reminders(rows)
    }

    async fn cancel_reminder(&self, chat_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM reminders WHERE id = $1 AND chat_id = $2 AND status = 'pending'",
        )
        .bind(id)
        .bind(chat_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn claim_due_reminders(
        &self,
        due: DateTime<Utc>,
        instance: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Reminder>> {
        // SKIP LOCKED: rows another instance is claiming are passed over, not waited for.
        let rows: Vec<ReminderRow> = sqlx::query_as(&format!(
            "UPDATE reminders SET claimed_by = $2, \
             claimed_until = now() + make_interval(secs => $3) WHERE id IN \
             (SELECT id FROM reminders WHERE status = 'pending' AND send_at <= $1 \
             AND (claimed_until IS NULL OR claimed_until < now()) ORDER BY send_at, id \
             LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING {COLUMNS}"
        ))
        .bind(due)
        .bind(instance)
        .bind(lease.as_secs_f64())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        reminders(rows)
    }

    async fn postpone_reminder(
        &self,
        id: i64,
        instance: &str,
        send_at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE reminders SET claimed_by = NULL, claimed_until = NULL, send_at = $3 \
             WHERE id = $1 AND claimed_by = $2 AND status = 'pending'",
        )
        .bind(id)
        .bind(instance)
        .bind(send_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn finish_reminder(&self, id: i64, delivered: bool) -> Result<()> {
        sqlx::query(
            "UPDATE reminders SET status = $2, claimed_by = NULL, claimed_until = NULL, \
             finished_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(if delivered { "sent" } else { "undeliverable" })
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn erase_finished_reminders(&self, before: DateTime<Utc>) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM reminders WHERE status <> 'pending' AND finished_at < $1")
                .bind(before)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }
}
