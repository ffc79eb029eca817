-- Evergreen countdowns: each visitor's deadline, set on their first view and final.
CREATE TABLE countdown_starts (
    site_id    INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    visitor_id INTEGER NOT NULL REFERENCES visitors (id) ON DELETE CASCADE,
    slug       TEXT NOT NULL,
    started_at REAL NOT NULL,
    deadline   REAL NOT NULL,
    PRIMARY KEY (site_id, visitor_id, slug)
);

-- Every saved version of a widget's config, with who saved it: deadlines never move unseen.
CREATE TABLE widget_history (
    id        INTEGER PRIMARY KEY,
    widget_id INTEGER NOT NULL REFERENCES widgets (id) ON DELETE CASCADE,
    version   INTEGER NOT NULL,
    config    TEXT NOT NULL,
    enabled   INTEGER NOT NULL,
    actor_id  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    at        REAL NOT NULL
);
CREATE INDEX widget_history_widget ON widget_history (widget_id, version);
