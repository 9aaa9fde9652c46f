-- Follower samples on unusual growth (issue 15.2): for a growth anomaly, the newest followers
-- of the jump's days (stargazers of the jump's days on GitHub) and a baseline of followers
-- who arrived on ordinary days, each judged by transforms.profiles. Only the profile fields
-- the judgement reads are kept (no name, bio, avatar address or e-mail); a sample holds at
-- most [samples] size followers. Read by the analysis (the verdict's evidence) and shown only
-- in the audit, report and alert a user asks for.
CREATE TABLE follower_samples (
    sample_id         VARCHAR NOT NULL,   -- platform:handle:day:kind
    platform          VARCHAR NOT NULL,
    handle            VARCHAR NOT NULL,
    day               DATE NOT NULL,      -- the anomaly's day the sample is about
    kind              VARCHAR NOT NULL CHECK (kind IN ('jump', 'baseline')),
    follower_id       VARCHAR NOT NULL,   -- DID, Mastodon acct or GitHub login
    position          INTEGER,            -- in the newest-first list (0 = newest); null for stars
    arrival_day       DATE,               -- the day it followed (or starred), as placed
    followed_at       TIMESTAMPTZ,        -- where the platform gives it (starred_at)
    created_at        TIMESTAMPTZ,        -- the follower account's creation
    has_avatar        BOOLEAN,
    posts             BIGINT,
    followers         BIGINT,
    following         BIGINT,
    looks_inauthentic BOOLEAN NOT NULL,
    signals           VARCHAR[] NOT NULL, -- transforms.profiles.SIGNALS that fired
    sampled_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (sample_id, follower_id)
);

-- One row per sample: its flagged share with a Wilson interval and, for a jump sample, the
-- comparison with its baseline; or a sample still queued (the night's budget was spent, or
-- GitHub needs a token) and why.
CREATE TABLE sample_summaries (
    sample_id      VARCHAR PRIMARY KEY,
    platform       VARCHAR NOT NULL,
    handle         VARCHAR NOT NULL,
    day            DATE NOT NULL,
    kind           VARCHAR NOT NULL CHECK (kind IN ('jump', 'baseline')),
    status         VARCHAR NOT NULL CHECK (status IN ('done', 'queued', 'refused')),
    what           VARCHAR,            -- "followers who arrived on 2024-03-22", "stargazers of ..."
    size           INTEGER,
    flagged        INTEGER,
    share          DOUBLE,
    share_low      DOUBLE,
    share_high     DOUBLE,
    baseline_size  INTEGER,
    baseline_share DOUBLE,
    p_value        DOUBLE,             -- one-sided two-proportion z: higher than the baseline
    fisher_p_value DOUBLE,
    note           VARCHAR,            -- why queued or refused
    sampled_at     TIMESTAMPTZ NOT NULL
);
