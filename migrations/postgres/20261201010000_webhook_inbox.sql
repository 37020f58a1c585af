-- Webhook mode: each update Telegram posts is stored here before Telegram is told it arrived,
-- handled by the instance that claimed it, and marked done; updates of an instance that died
-- are claimed by another once their lease runs out.
CREATE TABLE inbox (
    update_id     BIGINT PRIMARY KEY,
    body          TEXT NOT NULL,
    received_at   TIMESTAMPTZ NOT NULL,
    claimed_by    TEXT NOT NULL,
    claimed_until TIMESTAMPTZ NOT NULL,
    done_at       TIMESTAMPTZ
);

CREATE INDEX inbox_pending ON inbox (claimed_until) WHERE done_at IS NULL;
CREATE INDEX inbox_done ON inbox (done_at) WHERE done_at IS NOT NULL;
