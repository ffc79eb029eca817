-- Where each site's snippet has been seen running: the dashboard's install check.
CREATE TABLE site_installs (
    site_id   INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    domain    TEXT NOT NULL,
    last_seen REAL NOT NULL,
    PRIMARY KEY (site_id, domain)
);
