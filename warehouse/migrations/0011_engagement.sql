-- Engagement on recent posts (issue 15.1): one row per account and day, read each night after
-- the counts. `engagement_rate` is the median interactions per post over the day's followers.
-- GitHub publishes no interaction figure: its rows keep the releases (the trigger) instead.
CREATE TABLE engagement (
    platform            VARCHAR NOT NULL,
    handle              VARCHAR NOT NULL,
    day                 DATE NOT NULL,
    outcome             VARCHAR NOT NULL,   -- ok, no_posts, no_interaction_figure, skipped, or a collector outcome
    reason              VARCHAR,
    posts_sampled       INTEGER CHECK (posts_sampled >= 0),
    median_interactions DOUBLE CHECK (median_interactions >= 0),
    total_interactions  BIGINT CHECK (total_interactions >= 0),
    followers           DOUBLE,             -- the day's audience the rate divides by
    engagement_rate     DOUBLE,             -- median_interactions / followers
    views               BIGINT,             -- YouTube: the sampled videos' views
    latest_release      DATE,               -- GitHub repositories: the newest release
    releases_30         INTEGER,            -- ... and the releases of the 30 days before the day
    requests            INTEGER,
    observed_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (platform, handle, day)
);
-- the account's rate against the tracked accounts of its platform and size tier
ALTER TABLE account_metrics ADD COLUMN engagement_rate DOUBLE;
ALTER TABLE account_metrics ADD COLUMN engagement_day DATE;
ALTER TABLE account_metrics ADD COLUMN engagement_tier_median DOUBLE;
ALTER TABLE account_metrics ADD COLUMN engagement_tier_accounts INTEGER;
ALTER TABLE account_metrics ADD COLUMN engagement_vs_tier DOUBLE;
ALTER TABLE account_metrics ADD COLUMN engagement_comparison VARCHAR;
