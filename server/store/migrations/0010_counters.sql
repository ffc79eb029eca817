-- Daily widget counters that need no visitor id: page views that loaded a widget's config
-- (the impressions of always-on widgets such as the callback button and the chat launcher).
CREATE TABLE widget_counters (
    site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    day     INTEGER NOT NULL,  -- days since 1970-01-01, UTC
    widget  TEXT NOT NULL,
    counter TEXT NOT NULL,
    n       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, day, widget, counter)
);
