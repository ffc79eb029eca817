-- Invitations to join a team: a link with an expiry; only the token's hash is kept.
CREATE TABLE invitations (
    id          INTEGER PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    email       TEXT NOT NULL COLLATE NOCASE,
    role        TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'manager')),
    site_ids    TEXT NOT NULL DEFAULT '[]',
    invited_by  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at  REAL NOT NULL,
    expires_at  REAL NOT NULL,
    accepted_at REAL
);
