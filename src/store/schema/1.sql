CREATE TABLE runs (
        run INTEGER PRIMARY KEY,
        slide TEXT NOT NULL,
        path TEXT NOT NULL,
        open TEXT,
        results INTEGER NOT NULL,
        explore INTEGER NOT NULL,
        started INTEGER
    );
    CREATE TABLE closed (
        run INTEGER NOT NULL,
        position INTEGER NOT NULL,
        decision TEXT NOT NULL,
        tally TEXT NOT NULL,
        PRIMARY KEY (run, position)
    );
    CREATE TABLE ballots (
        run INTEGER NOT NULL,
        decision TEXT NOT NULL,
        voter TEXT NOT NULL,
        choice TEXT NOT NULL,
        sticky INTEGER NOT NULL,
        PRIMARY KEY (run, decision, voter)
    ) WITHOUT ROWID;
    CREATE TABLE deliveries (
        sid TEXT PRIMARY KEY,
        until_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX deliveries_until ON deliveries (until_ms);