ALTER TABLE runs ADD COLUMN label TEXT;
    CREATE TABLE recipients (
        run INTEGER NOT NULL,
        decision TEXT NOT NULL,
        phone TEXT NOT NULL,
        sealed BLOB NOT NULL,
        PRIMARY KEY (run, decision, phone)
    ) WITHOUT ROWID;
    CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        due_ms INTEGER NOT NULL,
        sealed BLOB NOT NULL
    ) WITHOUT ROWID;