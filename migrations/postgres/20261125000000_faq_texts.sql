-- Texts of questions the FAQ answered. Written only when JARDAM_KEEP_TEXTS_DAYS is set, so that
-- curators can see how people ask; erased after that many days, and by /forget.
CREATE TABLE faq_texts (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chat_id    BIGINT NOT NULL,
    text       TEXT NOT NULL,
    entry      TEXT NOT NULL,
    lang       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX faq_texts_chat ON faq_texts (chat_id);
CREATE INDEX faq_texts_created ON faq_texts (created_at);
