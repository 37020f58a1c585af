//! Reminders, on SQLite.

use super::{SqliteStorage, lease_end, ts};
use crate::storage::rows::{REMINDER_COLUMNS as COLUMNS, ReminderRow, reminders};
use crate::storage::{NewReminder, Reminder, Reminders, Result, now};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

#[async_trait]
impl Reminders for SqliteStorage {
    async fn add_reminder(&self, r: NewReminder) -> Result<Reminder> {
        sqlx::query(
            "INSERT INTO reminders (chat_id, entry, lang, due_on, remind_on, send_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id, entry, due_on) DO NOTHING",
        )
        .bind(r.chat_id)
        .bind(&r.entry)
        .bind(r.lang.code())
        .bind(r.due_on)
        .bind(r.remind_on)
        .bind(ts(r.send_at))
        .bind(ts(now()))
        .execute(&self.pool)
        .await?;
        let row: ReminderRow = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM reminders WHERE chat_id = ? AND entry = ? AND due_on = ?"
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
            "SELECT {COLUMNS} FROM reminders WHERE chat_id = ? AND status = 'pending' \
             ORDER BY send_at, id"
        ))
        .bind(chat_id)
        .fetch_all(&self.pool)
        .await?;
        reminders(rows)
    }

    async fn cancel_reminder(&self, chat_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM reminders WHERE id = ? AND chat_id = ? AND status = 'pending'",
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
        let now = now();
        // One statement: SQLite runs writes one at a time, so no two claimants interleave.
        let rows: Vec<ReminderRow> = sqlx::query_as(&format!(
            "UPDATE reminders SET claimed_by = ?, claimed_until = ? WHERE id IN \
             (SELECT id FROM reminders WHERE status = 'pending' AND send_at <= ? \
             AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY send_at, id LIMIT ?) \
             RETURNING {COLUMNS}"
        ))
        .bind(instance)
        .bind(ts(lease_end(now, lease)))
        .bind(ts(due))
        .bind(ts(now))
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
            "UPDATE reminders SET claimed_by = NULL, claimed_until = NULL, send_at = ? \
             WHERE id = ? AND claimed_by = ? AND status = 'pending'",
        )
        .bind(ts(send_at))
        .bind(id)
        .bind(instance)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn finish_reminder(&self, id: i64, delivered: bool) -> Result<()> {
        sqlx::query(
            "UPDATE reminders SET status = ?, claimed_by = NULL, claimed_until = NULL, \
             finished_at = ? WHERE id = ?",
        )
        .bind(if delivered { "sent" } else { "undeliverable" })
        .bind(ts(now()))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn erase_finished_reminders(&self, before: DateTime<Utc>) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM reminders WHERE status <> 'pending' AND finished_at < ?")
                .bind(ts(before))
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }
}
