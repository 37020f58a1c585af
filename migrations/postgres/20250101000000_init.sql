-- Deliberately no names, usernames or phone numbers.
CREATE TABLE profiles (
    chat_id    BIGINT PRIMARY KEY,
    lang       TEXT,
    country    TEXT,
    first_seen TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL
);

CREATE TABLE questions (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chat_id           BIGINT NOT NULL,
    text              TEXT NOT NULL,
    lang              TEXT NOT NULL,
    country           TEXT,
    candidates        TEXT NOT NULL DEFAULT '[]',
    status            TEXT NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'answered', 'dismissed', 'merged')),
    urgent            BOOLEAN NOT NULL DEFAULT FALSE,
    kind              TEXT NOT NULL DEFAULT 'text' CHECK (kind IN ('text', 'voice', 'photo')),
    media_chat_id     BIGINT,
    media_message_id  INTEGER,
    group_key         TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    claimed_by        TEXT,
    claimed_until     TIMESTAMPTZ,
    expert_chat_id    BIGINT,
    expert_message_id INTEGER,
    posted_at         TIMESTAMPTZ,
    answer            TEXT,
    answered_by       TEXT,
    answered_at       TIMESTAMPTZ,
    resolved_at       TIMESTAMPTZ,
    delivery          TEXT CHECK (delivery IN ('delivered', 'blocked')),
    erased_at         TIMESTAMPTZ
);

CREATE INDEX questions_open ON questions (status, urgent DESC, created_at);
CREATE INDEX questions_group ON questions (group_key) WHERE status = 'open';
CREATE INDEX questions_chat ON questions (chat_id);
CREATE INDEX questions_expert_message ON questions (expert_chat_id, expert_message_id);
CREATE INDEX questions_to_erase ON questions (resolved_at) WHERE erased_at IS NULL;
CREATE INDEX questions_created ON questions (created_at);

CREATE TABLE feedback (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chat_id    BIGINT NOT NULL,
    entry      TEXT NOT NULL,
    helpful    BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX feedback_chat ON feedback (chat_id);
CREATE INDEX feedback_created ON feedback (created_at);

CREATE TABLE learned (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    text       TEXT NOT NULL UNIQUE,
    entry      TEXT NOT NULL,
    expert     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- Anonymous by construction: '' stands for "none" so that every column can be in the key.
CREATE TABLE daily_counts (
    day     DATE NOT NULL,
    entry   TEXT NOT NULL,
    topic   TEXT NOT NULL,
    lang    TEXT NOT NULL,
    country TEXT NOT NULL,
    outcome TEXT NOT NULL,
    count   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, entry, topic, lang, country, outcome)
);
