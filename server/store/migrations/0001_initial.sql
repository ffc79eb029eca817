-- Times are unix seconds (REAL). JSON columns hold UTF-8 JSON text.

CREATE TABLE sites (
    id              INTEGER PRIMARY KEY,
    key             TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    allowed_domains TEXT NOT NULL DEFAULT '[]',
    timezone        TEXT NOT NULL DEFAULT 'UTC',
    working_hours   TEXT NOT NULL DEFAULT '{}',
    locale          TEXT NOT NULL DEFAULT '',
    settings        TEXT NOT NULL DEFAULT '{}',
    created_at      REAL NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'manager')),
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    REAL NOT NULL
);

CREATE TABLE site_members (
    site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (site_id, user_id)
);
CREATE INDEX site_members_user ON site_members (user_id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE widgets (
    id         INTEGER PRIMARY KEY,
    site_id    INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    slug       TEXT NOT NULL DEFAULT '',
    config     TEXT NOT NULL DEFAULT '{}',
    enabled    INTEGER NOT NULL DEFAULT 1,
    version    INTEGER NOT NULL DEFAULT 1,
    updated_at REAL NOT NULL,
    UNIQUE (site_id, kind, slug)
);

CREATE TABLE visitors (
    id           INTEGER PRIMARY KEY,
    site_id      INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    visitor_key  TEXT NOT NULL,
    first_seen   REAL NOT NULL,
    last_seen    REAL NOT NULL,
    user_agent   TEXT NOT NULL DEFAULT '',
    referrer     TEXT NOT NULL DEFAULT '',
    landing_page TEXT NOT NULL DEFAULT '',
    utm          TEXT NOT NULL DEFAULT '{}',
    page_trail   TEXT NOT NULL DEFAULT '[]',
    UNIQUE (site_id, visitor_key)
);

CREATE TABLE leads (
    id              INTEGER PRIMARY KEY,
    ref             TEXT NOT NULL UNIQUE,
    site_id         INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    visitor_id      INTEGER REFERENCES visitors (id) ON DELETE SET NULL,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'new'
                    CHECK (status IN ('new', 'in_progress', 'won', 'lost', 'spam', 'missed', 'partial')),
    temperature     TEXT CHECK (temperature IN ('hot', 'warm', 'cold')),
    assignee_id     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    phone           TEXT,
    email           TEXT,
    name            TEXT,
    answers         TEXT NOT NULL DEFAULT '{}',
    source          TEXT NOT NULL DEFAULT '',
    context         TEXT NOT NULL DEFAULT '{}',
    client_frame_id TEXT NOT NULL,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    UNIQUE (site_id, client_frame_id)
);
CREATE INDEX leads_site_created ON leads (site_id, id DESC);
CREATE INDEX leads_visitor ON leads (visitor_id);

-- Append only: the story of a lead.
CREATE TABLE lead_events (
    id         INTEGER PRIMARY KEY,
    lead_id    INTEGER NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    at         REAL NOT NULL,
    type       TEXT NOT NULL,
    actor_type TEXT NOT NULL CHECK (actor_type IN ('visitor', 'user', 'system')),
    actor_id   INTEGER,
    data       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX lead_events_lead ON lead_events (lead_id, id);

CREATE TABLE visitor_events (
    id              INTEGER PRIMARY KEY,
    site_id         INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    visitor_id      INTEGER NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    client_frame_id TEXT NOT NULL,
    name            TEXT NOT NULL,
    props           TEXT NOT NULL DEFAULT '{}',
    at              REAL NOT NULL,
    UNIQUE (site_id, client_frame_id)
);
