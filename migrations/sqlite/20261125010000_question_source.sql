-- The user's message a question came from. Telegram may deliver a message twice (again after a
-- crash before its update was confirmed, or a retried webhook): it must store one question.
ALTER TABLE questions ADD COLUMN source_message_id INTEGER;
CREATE UNIQUE INDEX questions_source ON questions (chat_id, source_message_id)
    WHERE source_message_id IS NOT NULL;
