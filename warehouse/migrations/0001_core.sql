-- Core tables: tracked accounts, one snapshot per account per day, runs and fetch outcomes.

CREATE TABLE accounts (
    platform      VARCHAR NOT NULL,
    handle        VARCHAR NOT NULL,          -- canonical form (see audience/platforms.py)
    platform_id   VARCHAR,                   -- the platform's own id, once a collector has seen it
    display_name  VARCHAR,
    tags          VARCHAR[] NOT NULL DEFAULT [],
    tracked       BOOLEAN NOT NULL DEFAULT false,   -- collected nightly (false: history only)
    status        VARCHAR NOT NULL DEFAULT 'active',
    status_reason VARCHAR,
    first_seen    DATE,                      -- first and last day with a snapshot
    last_seen     DATE,
    added_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ,
    PRIMARY KEY (platform, handle)
);

CREATE TABLE snapshots (
    platform    VARCHAR NOT NULL,
    handle      VARCHAR NOT NULL,
    day         DATE NOT NULL,
    followers   BIGINT NOT NULL CHECK (followers >= 0),  -- the audience: followers, stars, subscribers
    following   BIGINT CHECK (following >= 0),           -- NULL: the platform has no such figure
    posts       BIGINT CHECK (posts >= 0),
    views       BIGINT CHECK (views >= 0),
    observed_at TIMESTAMPTZ NOT NULL,
    source      VARCHAR NOT NULL,            -- 'api:<platform>' or 'import:<file>'
    run_id      VARCHAR,
    payload     JSON,                        -- raw API answer for collected rows; NULL for imports
    written_at  TIMESTAMPTZ NOT NULL DEFAULT now(),  -- when this row last changed (analysis watermark)
    PRIMARY KEY (platform, handle, day)      -- re-running a day replaces, never duplicates
);

CREATE TABLE runs (
    run_id      VARCHAR PRIMARY KEY,
    kind        VARCHAR NOT NULL,            -- import, analyze, nightly, demo ...
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    as_of       DATE,
    status      VARCHAR NOT NULL,            -- running, ok, partial, failed
    summary     JSON
);

CREATE TABLE collection_log (
    run_id      VARCHAR NOT NULL,
    platform    VARCHAR NOT NULL,
    handle      VARCHAR NOT NULL,
    day         DATE NOT NULL,
    outcome     VARCHAR NOT NULL CHECK (outcome IN ('ok', 'not_found', 'suspended', 'moved',
                    'rate_limited', 'auth_failed', 'malformed', 'unavailable', 'invalid_handle')),
    reason      VARCHAR,
    http_status INTEGER,
    attempts    INTEGER,
    observed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, platform, handle)
);

CREATE TABLE imports (
    run_id      VARCHAR NOT NULL,
    file_name   VARCHAR NOT NULL,
    sha256      VARCHAR NOT NULL,
    rows        BIGINT NOT NULL,
    imported_at TIMESTAMPTZ NOT NULL
);
