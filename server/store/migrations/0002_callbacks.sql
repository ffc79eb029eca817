-- Callbacks: the promise made to a visitor and how it was kept.

ALTER TABLE users ADD COLUMN available INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN phone TEXT;

CREATE TABLE callbacks (
    lead_id         INTEGER PRIMARY KEY REFERENCES leads (id) ON DELETE CASCADE,
    site_id         INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    state           TEXT NOT NULL CHECK (state IN ('ringing', 'claimed', 'missed', 'scheduled', 'done')),
    promise_seconds INTEGER NOT NULL,
    promised_by     REAL,
    due_at          REAL NOT NULL,
    stage           INTEGER NOT NULL DEFAULT 0,
    stage_until     REAL,
    offered_to      TEXT NOT NULL DEFAULT '[]',
    scheduled_for   REAL,
    window_end      REAL,
    claimed_by      INTEGER REFERENCES users (id) ON DELETE SET NULL,
    claimed_at      REAL,
    called_at       REAL,
    outcome         TEXT,
    outcome_at      REAL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    promise_kept    INTEGER,
    missed_at       REAL,
    updated_at      REAL NOT NULL
);
CREATE INDEX callbacks_site_state ON callbacks (site_id, state);
CREATE INDEX callbacks_state ON callbacks (state);
