-- People who asked to be told when an answer changes ("🔔 Tell me if this changes"), per chat
-- and entry, in the language they used. noted_on: the date of the newest change note this chat
-- has had, or that existed when it began following (so that only later notes are sent); the
-- instance that moves it on to a new note's date is the one that sends that note, so each
-- note reaches each follower once across instances.
CREATE TABLE follows (
    chat_id    INTEGER NOT NULL,
    entry      TEXT NOT NULL,
    lang       TEXT NOT NULL,
    noted_on   TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (chat_id, entry)
);
CREATE INDEX follows_entry ON follows (entry, noted_on);
