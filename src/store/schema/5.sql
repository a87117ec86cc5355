CREATE TABLE ballot_log (
        seq INTEGER PRIMARY KEY,
        run INTEGER NOT NULL,
        decision TEXT NOT NULL,
        voter TEXT NOT NULL,
        choice TEXT,
        sticky INTEGER
    );
ALTER TABLE recipients ADD COLUMN until_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN until_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX recipients_until ON recipients (until_ms);
CREATE INDEX outbox_until ON outbox (until_ms);
UPDATE recipients SET until_ms = CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 86400000;
UPDATE outbox SET until_ms = CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 86400000;
