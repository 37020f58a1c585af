-- Reminders a person asked for under a guided answer's outcome ("🔔 Remind me"): the date the
-- outcome is about (a deadline, the end of a ban), the day to send the reminder, and the
-- moment from which it may be sent (that day's morning where the person lives; moved on when
-- it comes at night there). Sent by the background task of whichever instance claims it first
-- (claimed_by / claimed_until, a lease); then marked sent, or undeliverable when the person
-- blocked the bot, and erased some days after (finished_at).
CREATE TABLE reminders (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id       INTEGER NOT NULL,
    entry         TEXT NOT NULL,
    lang          TEXT NOT NULL,
    due_on        TEXT NOT NULL,
    remind_on     TEXT NOT NULL,
    send_at       TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending',
    claimed_by    TEXT,
    claimed_until TEXT,
    created_at    TEXT NOT NULL,
    finished_at   TEXT,
    UNIQUE (chat_id, entry, due_on)
);
CREATE INDEX reminders_due ON reminders (send_at, id) WHERE status = 'pending';
CREATE INDEX reminders_finished ON reminders (finished_at) WHERE status <> 'pending';
