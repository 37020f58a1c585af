//! Reminders, on SQLite.

use super::{SqliteStorage, lease_end, ts};
use crate::lang::Lang;
use crate::storage::{BadValue, Error, NewReminder, Reminder, Result, Row, now};
use chrono::NaiveDate;
use std::time::Duration;

type ReminderRow = (i64, i64, String, String, String, String);

const COLUMNS: &str = "id, chat_id, entry, lang, due_on, remind_on";

fn reminder(row: ReminderRow) -> Result<Reminder> {
    let (id, chat_id, entry, lang, due_on, remind_on) = row;
    let bad = |source| Error::Malformed {
        row: Row::Reminder(id),
        source,
    };
    let day = |s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad(BadValue::Date(s.to_string())))
    };
    Ok(Reminder {
        id,
        chat_id,
        entry,
        lang: lang
            .parse::<Lang>()
            .map_err(|e| bad(BadValue::Language(e)))?,
        due_on: day(&due_on)?,
        remind_on: day(&remind_on)?,
    })
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

impl SqliteStorage {
    pub(super) async fn insert_reminder(&self, r: NewReminder) -> Result<Reminder> {
        sqlx::query(
            "INSERT INTO reminders (chat_id, entry, lang, due_on, remind_on, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id, entry, due_on) DO NOTHING",
        )
        .bind(r.chat_id)
        .bind(&r.entry)
        .bind(r.lang.code())
        .bind(day(r.due_on))
        .bind(day(r.remind_on))
        .bind(ts(now()))
        .execute(&self.pool)
        .await?;
        let row: ReminderRow = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM reminders WHERE chat_id = ? AND entry = ? AND due_on = ?"
        ))
        .bind(r.chat_id)
        .bind(&r.entry)
        .bind(day(r.due_on))
        .fetch_one(&self.pool)
        .await?;
        reminder(row)
    }

    pub(super) async fn pending_reminders(&self, chat_id: i64) -> Result<Vec<Reminder>> {
        let rows: Vec<ReminderRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM reminders WHERE chat_id = ? AND status = 'pending' \
             ORDER BY remind_on, id"
        ))
        .bind(chat_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(reminder).collect()
    }

    pub(super) async fn delete_reminder(&self, chat_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM reminders WHERE id = ? AND chat_id = ? AND status = 'pending'",
        )
        .bind(id)
        .bind(chat_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn claim_reminders(
        &self,
        up_to: NaiveDate,
        instance: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Reminder>> {
        let now = now();
        // One statement: SQLite runs writes one at a time, so no two claimants interleave.
        let rows: Vec<ReminderRow> = sqlx::query_as(&format!(
            "UPDATE reminders SET claimed_by = ?, claimed_until = ? WHERE id IN \
             (SELECT id FROM reminders WHERE status = 'pending' AND remind_on <= ? \
             AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY remind_on, id LIMIT ?) \
             RETURNING {COLUMNS}"
        ))
        .bind(instance)
        .bind(ts(lease_end(now, lease)))
        .bind(day(up_to))
        .bind(ts(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<Reminder> = rows.into_iter().map(reminder).collect::<Result<_>>()?;
        out.sort_by_key(|r| (r.remind_on, r.id));
        Ok(out)
    }

    pub(super) async fn unclaim_reminder(&self, id: i64, instance: &str) -> Result<()> {
        sqlx::query(
            "UPDATE reminders SET claimed_by = NULL, claimed_until = NULL \
             WHERE id = ? AND claimed_by = ?",
        )
        .bind(id)
        .bind(instance)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(super) async fn end_reminder(&self, id: i64, delivered: bool) -> Result<()> {
        sqlx::query(
            "UPDATE reminders SET status = ?, claimed_by = NULL, claimed_until = NULL WHERE id = ?",
        )
        .bind(if delivered { "sent" } else { "undeliverable" })
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
