-- History on day one (issue 15.3): `audience backfill github:owner/repo` rebuilds a
-- repository's daily star counts from its stargazers' `starred_at`. The stargazer pages read
-- so far are kept here until the rebuild is written into `snapshots` (source 'backfill:github',
-- estimated days 'backfill:github:estimated'), in the same transaction that deletes them: an
-- interrupted backfill continues from the page after the last one stored (the cursor). Only
-- the timestamps are kept: no stargazer's name or profile.
CREATE TABLE backfill_pages (
    platform   VARCHAR NOT NULL,
    handle     VARCHAR NOT NULL,
    page       INTEGER NOT NULL CHECK (page >= 1),   -- GitHub's page number, 100 stars a page
    starred_at TIMESTAMPTZ[] NOT NULL,                -- the page's stars, oldest first
    fetched_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (platform, handle, page)
);
