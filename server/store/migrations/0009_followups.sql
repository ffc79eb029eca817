-- Leads CRM: follow-up reminders fire once per follow-up time (remembered here, so a restart neither
-- repeats nor loses them), the lead timeline reads a visitor's events, and people's own photos.

ALTER TABLE leads ADD COLUMN follow_up_fired_at REAL;
-- The reminder loop and the "follow-up due" filter look only at leads that have a follow-up.
CREATE INDEX leads_follow_up ON leads (follow_up_at) WHERE follow_up_at IS NOT NULL;

CREATE INDEX visitor_events_visitor ON visitor_events (visitor_id, at);

-- A photo a person uploaded on /app/me, served publicly under a name that changes with its bytes.
CREATE TABLE user_photos (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    mime       TEXT NOT NULL,
    digest     TEXT NOT NULL,
    body       BLOB NOT NULL,
    updated_at REAL NOT NULL
);
