-- Leads CRM: follow-up reminders, filter indexes for keyset paging (newest first by id), and the
-- audit log of exports and erasures.

ALTER TABLE leads ADD COLUMN follow_up_at REAL;

CREATE INDEX leads_site_status ON leads (site_id, status, id);
CREATE INDEX leads_site_kind ON leads (site_id, kind, id);
CREATE INDEX leads_site_temperature ON leads (site_id, temperature, id);
CREATE INDEX leads_site_assignee ON leads (site_id, assignee_id, id);
CREATE INDEX leads_site_source ON leads (site_id, source, id);
CREATE INDEX leads_created ON leads (created_at);

-- Who exported or erased what, and when. Never holds the personal data itself.
CREATE TABLE lead_audit (
    id      INTEGER PRIMARY KEY,
    at      REAL NOT NULL,
    user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    action  TEXT NOT NULL,
    site_id INTEGER REFERENCES sites (id) ON DELETE SET NULL,
    detail  TEXT NOT NULL DEFAULT '{}',
    rows    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX lead_audit_site ON lead_audit (site_id, id);
