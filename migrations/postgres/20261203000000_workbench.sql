-- The experts' workbench. taken_by/taken_until: the expert who pressed "✋ I'll answer" and
-- until when that holds (it lapses without a reply); rating: the person's "Did this help?"
-- after an expert's answer (true yes, false no), given once; overdue_at: when the question was listed
-- as overdue and its asker told so, which happens once across instances.
ALTER TABLE questions ADD COLUMN taken_by TEXT;
ALTER TABLE questions ADD COLUMN taken_until TIMESTAMPTZ;
ALTER TABLE questions ADD COLUMN rating BOOLEAN;
ALTER TABLE questions ADD COLUMN overdue_at TIMESTAMPTZ;

CREATE INDEX questions_overdue ON questions (created_at) WHERE status = 'open' AND overdue_at IS NULL;

-- Experts' internal notes on a question (a reply starting with /note): never sent to the person,
-- forgotten with the question's text.
CREATE TABLE question_notes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    question_id BIGINT NOT NULL,
    expert      TEXT NOT NULL,
    text        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX question_notes_question ON question_notes (question_id);

-- Jobs done once across instances (the weekly digest of a given week): the instance whose
-- insert succeeds does it.
CREATE TABLE done_once (
    key        TEXT PRIMARY KEY,
    done_by    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
