-- Per-account standing as of the last analysis: growth, milestone projection, quality.
CREATE TABLE account_metrics (
    platform                 VARCHAR NOT NULL,
    handle                   VARCHAR NOT NULL,
    as_of                    DATE NOT NULL,
    last_day                 DATE,          -- the newest day with a figure
    followers DOUBLE, following DOUBLE, posts DOUBLE,
    size_tier                VARCHAR,       -- <1k, 1k-10k, 10k-100k, 100k-1M, 1M+
    growth_abs_7 DOUBLE, growth_abs_28 DOUBLE, growth_rel_28 DOUBLE, growth_abs_90 DOUBLE, growth_rel_90 DOUBLE,
    avg_daily_gain_28        DOUBLE,
    growth_percentile        DOUBLE,        -- of growth_rel_28 among the platform's accounts of the same tier
    next_milestone           BIGINT,        -- the next 1, 2 or 5 times a power of ten
    days_to_milestone        DOUBLE,        -- at the average daily gain of the last 28 days
    milestone_date           DATE,
    follower_following_ratio DOUBLE,
    followers_per_post_90    DOUBLE,        -- followers gained per post over 90 days
    growth_consistency       DOUBLE,        -- share of the last 13 weeks with net growth
    flagged_gain_90          DOUBLE,        -- growth above normal on suspected-purchase days, 90 days
    flagged_growth_share_90  DOUBLE,        -- ... as a share of the 90 days' growth
    suspected_purchases_90   INTEGER,
    spike_retention_7        DOUBLE,        -- mean share of its spikes still there after 7 days
    spike_retention_30       DOUBLE,
    PRIMARY KEY (platform, handle)
);
