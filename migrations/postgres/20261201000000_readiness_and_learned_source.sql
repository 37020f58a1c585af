-- /readyz writes this one row: a real write, not only a ping.
CREATE TABLE readiness (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at TIMESTAMPTZ NOT NULL
);

-- The person whose question a learned phrasing was taught from ("Answer with"), so that
-- /forget removes it too; NULL for phrasings of no one's question.
ALTER TABLE learned ADD COLUMN source_chat_id BIGINT;
