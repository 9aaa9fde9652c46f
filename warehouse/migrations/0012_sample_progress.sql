-- Queued follower samples continue where they stopped (issue 15.2): one row per jump sample
-- still `queued` in sample_summaries, holding its plan and how far it got, so that the next
-- night spends no request twice. Dropped when the sample is taken or refused. `state` is
-- pipeline.sample_progress's JSON: the list cursor (Bluesky) or max_id (Mastodon) or the next
-- stargazers page (GitHub), the positions read and the anchor count they count back from, and
-- the chosen followers' judged fields only (those of follower_samples; at most twice
-- [samples] size), never a name, bio, avatar address or e-mail.
CREATE TABLE sample_progress (
    sample_id  VARCHAR PRIMARY KEY,   -- platform:handle:day:jump
    platform   VARCHAR NOT NULL,
    handle     VARCHAR NOT NULL,
    day        DATE NOT NULL,
    requests   INTEGER NOT NULL CHECK (requests >= 0),  -- spent on it so far, all nights
    needed     INTEGER NOT NULL CHECK (needed >= 0),    -- the whole sample's estimate
    restarts   INTEGER NOT NULL CHECK (restarts >= 0),  -- walks begun again (a refused cursor)
    state      VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
