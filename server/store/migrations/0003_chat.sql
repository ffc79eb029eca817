-- Live chat: conversations and their messages, numbered per conversation.

ALTER TABLE users ADD COLUMN photo TEXT;

CREATE TABLE conversations (
    id               INTEGER PRIMARY KEY,
    ref              TEXT NOT NULL UNIQUE,
    site_id          INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    visitor_id       INTEGER NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    lead_id          INTEGER REFERENCES leads (id) ON DELETE SET NULL,
    state            TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    assignee_id      INTEGER REFERENCES users (id) ON DELETE SET NULL,
    offered_to       TEXT NOT NULL DEFAULT '[]',
    last_seq         INTEGER NOT NULL DEFAULT 0,
    visitor_read_seq INTEGER NOT NULL DEFAULT 0,
    manager_read_seq INTEGER NOT NULL DEFAULT 0,
    visitor_name     TEXT,
    visitor_email    TEXT,
    visitor_phone    TEXT,
    current_page     TEXT NOT NULL DEFAULT '{}',
    rating           INTEGER CHECK (rating BETWEEN 1 AND 5),
    rating_comment   TEXT,
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL,
    closed_at        REAL
);
CREATE INDEX conversations_site_state ON conversations (site_id, state, updated_at);
CREATE INDEX conversations_visitor ON conversations (visitor_id, id);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    site_id         INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    author          TEXT NOT NULL CHECK (author IN ('visitor', 'manager', 'system')),
    user_id         INTEGER REFERENCES users (id) ON DELETE SET NULL,
    body            TEXT NOT NULL,
    client_frame_id TEXT,
    created_at      REAL NOT NULL,
    UNIQUE (conversation_id, seq),
    UNIQUE (site_id, client_frame_id)
);
