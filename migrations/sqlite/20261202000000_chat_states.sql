-- What the conversation remembers of a chat between two of its messages (the last question,
-- for "None of these — ask an expert" and 👎; "waiting for your question"), so that the next
-- message behaves the same on any instance. Written as the conversation serialised it; kept
-- for a short while only (the retention clean-up erases old ones).
CREATE TABLE chat_states (
    chat_id    INTEGER PRIMARY KEY,
    state      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX chat_states_updated ON chat_states (updated_at);

-- When each expert post was last re-rendered ("asked by N people"): every instance refreshes
-- a post at most once in a few seconds, however many people join it.
CREATE TABLE post_refreshes (
    expert_chat_id    INTEGER NOT NULL,
    expert_message_id INTEGER NOT NULL,
    refreshed_at      TEXT NOT NULL,
    PRIMARY KEY (expert_chat_id, expert_message_id)
);

-- The lead post of a group is found by its oldest open question without reading the group.
DROP INDEX questions_group;
CREATE INDEX questions_group ON questions (group_key, created_at, id) WHERE status = 'open';
