-- Times are TEXT in one fixed-width UTC format (written by the application), so that comparing
-- the strings compares the times.

-- Deliberately no names, usernames or phone numbers.
CREATE TABLE profiles (
    chat_id    INTEGER PRIMARY KEY,
    lang       TEXT,
    country    TEXT,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL
);

CREATE TABLE questions (
    -- AUTOINCREMENT: ids of forgotten questions are never handed out again, so an old
    -- reference (an expert's note, an export) cannot come to mean someone else's question.
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id           INTEGER NOT NULL,
    text              TEXT NOT NULL,
    lang              TEXT NOT NULL,
    country           TEXT,
    candidates        TEXT NOT NULL DEFAULT '[]',
    status            TEXT NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'answered', 'dismissed', 'merged')),
    urgent            INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1)),
    kind              TEXT NOT NULL DEFAULT 'text' CHECK (kind IN ('text', 'voice', 'photo')),
    media_chat_id     INTEGER,
    media_message_id  INTEGER,
    group_key         TEXT NOT NULL DEFAULT '',
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    claimed_by        TEXT,
    claimed_until     TEXT,
    expert_chat_id    INTEGER,
    expert_message_id INTEGER,
    posted_at         TEXT,
    answer            TEXT,
    answered_by       TEXT,
    answered_at       TEXT,
    resolved_at       TEXT,
    delivery          TEXT CHECK (delivery IN ('delivered', 'blocked')),
    erased_at         TEXT
);

CREATE INDEX questions_open ON questions (status, urgent DESC, created_at);
CREATE INDEX questions_group ON questions (group_key) WHERE status = 'open';
CREATE INDEX questions_chat ON questions (chat_id);
CREATE INDEX questions_expert_message ON questions (expert_chat_id, expert_message_id);
CREATE INDEX questions_to_erase ON questions (resolved_at) WHERE erased_at IS NULL;
CREATE INDEX questions_created ON questions (created_at);

CREATE TABLE feedback (
    id         INTEGER PRIMARY KEY,
    chat_id    INTEGER NOT NULL,
    entry      TEXT NOT NULL,
    helpful    INTEGER NOT NULL CHECK (helpful IN (0, 1)),
    created_at TEXT NOT NULL
);

CREATE INDEX feedback_chat ON feedback (chat_id);
CREATE INDEX feedback_created ON feedback (created_at);

CREATE TABLE learned (
    -- AUTOINCREMENT: ids must only grow, or a phrasing re-taught right after the newest one
    -- was deleted would reuse its id and incremental reloads would miss it.
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    text       TEXT NOT NULL UNIQUE,
    entry      TEXT NOT NULL,
    expert     TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Anonymous by construction: "" stands for "none" so that every column can be in the key.
CREATE TABLE daily_counts (
    day     TEXT NOT NULL,
    entry   TEXT NOT NULL,
    topic   TEXT NOT NULL,
    lang    TEXT NOT NULL,
    country TEXT NOT NULL,
    outcome TEXT NOT NULL,
    count   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, entry, topic, lang, country, outcome)
) WITHOUT ROWID;
