-- Analysis outputs: per-day metrics, anomalies with their evidence, and the analysis watermark.

CREATE TABLE daily_metrics (
    platform            VARCHAR NOT NULL,
    handle              VARCHAR NOT NULL,
    day                 DATE NOT NULL,
    followers           DOUBLE,      -- observed, or interpolated across a gap (observed = false)
    following           DOUBLE,
    posts               DOUBLE,
    observed            BOOLEAN NOT NULL,
    spread_days         INTEGER,     -- length of the interval this day's change was spread over
    daily_gain          DOUBLE,      -- gap-aware daily change
    growth_abs_1 DOUBLE, growth_rel_1 DOUBLE, growth_abs_7 DOUBLE, growth_rel_7 DOUBLE,
    growth_abs_28 DOUBLE, growth_rel_28 DOUBLE, growth_abs_90 DOUBLE, growth_rel_90 DOUBLE,
    avg_daily_gain_28   DOUBLE,
    baseline_median     DOUBLE,      -- median daily gain of the previous baseline_days
    baseline_sigma      DOUBLE,      -- robust spread: max(IQR/1.349, sqrt(median), 1)
    robust_z            DOUBLE,      -- (daily_gain - baseline_median) / baseline_sigma
    spike_margin        DOUBLE,      -- > 1: every spike threshold crossed (see anomalies.thresholds)
    drop_margin         DOUBLE,
    drip_excess         DOUBLE,      -- excess gain over the drip window
    drip_z              DOUBLE,
    drip_margin         DOUBLE,
    churn_gross         DOUBLE,      -- follows + unfollows within the churn window
    churn_net           DOUBLE,
    following_churn_margin DOUBLE,
    posts_3d            DOUBLE,
    posts_usual_3d      DOUBLE,
    computed_at         TIMESTAMPTZ NOT NULL
    -- one row per account and day by construction (each analysis deletes the days it rewrites);
    -- no primary key: its index would cost more than half of a full rebuild's write
);

CREATE TABLE anomalies (
    platform           VARCHAR NOT NULL,
    handle             VARCHAR NOT NULL,
    day                DATE NOT NULL,
    kind               VARCHAR NOT NULL CHECK (kind IN ('spike', 'drop', 'drip', 'following_churn')),
    attribution        VARCHAR NOT NULL CHECK (attribution IN ('account', 'platform_event', 'data_artifact')),
    suspected_purchase BOOLEAN NOT NULL,
    severity           VARCHAR NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    score              DOUBLE,       -- the rule's statistic: robust z, window z, or gross churn
    margin             DOUBLE,       -- smallest statistic/threshold ratio (> 1 by construction)
    explanation        VARCHAR NOT NULL,
    detected_at        TIMESTAMPTZ NOT NULL,  -- first detected; kept when recomputed
    followers DOUBLE, followers_before DOUBLE, gain DOUBLE,
    baseline_median DOUBLE, baseline_sigma DOUBLE, excess DOUBLE, relative_excess DOUBLE,
    window_start DATE, retention_7 DOUBLE, retention_30 DOUBLE,
    posts_recent DOUBLE, posts_usual DOUBLE,   -- posts in the days the growth came in, and as usual
    posts_days INTEGER,                        -- how many days: 3 for a spike, the window for a drip
    thresholds         JSON NOT NULL,  -- the thresholds of the rule that fired
    check_name         VARCHAR,        -- the expectation that fired
    PRIMARY KEY (platform, handle, day, kind)
);

CREATE TABLE analysis_state (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    analysed_through   DATE NOT NULL,        -- the as_of of the last analysis
    written_watermark  TIMESTAMPTZ NOT NULL, -- snapshots written after this are new to it
    updated_at         TIMESTAMPTZ NOT NULL
);
