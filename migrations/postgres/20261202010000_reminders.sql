-- Reminders a person asked for under a guided answer's outcome ("🔔 Remind me"): the date the
-- outcome is about (a deadline, the end of a ban) and the day to send the reminder. Sent by
-- the background task of whichever instance claims it first (claimed_by / claimed_until, a
-- lease); then marked sent, or undeliverable when the person blocked the bot.
CREATE TABLE reminders (
    id            BIGSERIAL PRIMARY KEY,
    chat_id       BIGINT NOT NULL,
    entry         TEXT NOT NULL,
    lang          TEXT NOT NULL,
    due_on        DATE NOT NULL,
    remind_on     DATE NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending',
    claimed_by    TEXT,
    claimed_until TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (chat_id, entry, due_on)
);
CREATE INDEX reminders_due ON reminders (remind_on, id) WHERE status = 'pending';
