-- Verdicts as a ladder (issue #13): each anomaly says what its evidence supports, how sure,
-- and which evidence; alerts remember which stage of an anomaly's story they told.
ALTER TABLE anomalies ADD COLUMN verdict VARCHAR;     -- suspected_purchase, unexplained, organic,
                                                      -- platform_event, data_artifact, data_gap, pending
ALTER TABLE anomalies ADD COLUMN confidence VARCHAR;  -- high, medium, low
ALTER TABLE anomalies ADD COLUMN evidence VARCHAR[];  -- codes: attrition, step, flat_drip, trigger, ...
ALTER TABLE anomalies ADD COLUMN delivered DOUBLE;    -- what the growth brought beyond the baseline
ALTER TABLE anomalies ADD COLUMN lost DOUBLE;         -- of it, lost after beyond the baseline
UPDATE anomalies SET
    verdict = CASE WHEN suspected_purchase THEN 'suspected_purchase'
                   WHEN attribution = 'account' THEN 'unexplained'
                   ELSE attribution END,
    confidence = 'low',
    evidence = [];
-- the stored anomalies predate the ladder: the next run re-analyses the whole history
DELETE FROM analysis_state;

CREATE TABLE alerts_staged (
    platform   VARCHAR NOT NULL,
    handle     VARCHAR NOT NULL,
    day        DATE NOT NULL,
    kind       VARCHAR NOT NULL,
    recipient  VARCHAR NOT NULL,
    -- first: the anomaly's first alert (its verdict, or "under watch" while pending);
    -- verdict: sent once when a watched or unexplained anomaly becomes a suspected purchase;
    -- closed: the watch ended without one (in the next digest)
    stage      VARCHAR NOT NULL CHECK (stage IN ('first', 'verdict', 'closed')),
    verdict    VARCHAR,              -- the verdict the message told
    status     VARCHAR NOT NULL CHECK (status IN ('queued', 'sent')),
    channel    VARCHAR,
    message_id VARCHAR,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error VARCHAR,
    queued_at  TIMESTAMPTZ NOT NULL,
    sent_at    TIMESTAMPTZ,
    PRIMARY KEY (platform, handle, day, kind, recipient, stage)
);
INSERT INTO alerts_staged BY NAME SELECT *, 'first' AS stage FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_staged RENAME TO alerts;

-- each account's verdict, from all its anomalies up to the analysed day (audit and report use it)
ALTER TABLE account_metrics ADD COLUMN account_verdict VARCHAR;    -- bought_audience_likely,
    -- unusual_growth_to_review, no_sign_of_bought_audience, not_enough_history
ALTER TABLE account_metrics ADD COLUMN account_confidence VARCHAR;  -- high, medium, low, none
ALTER TABLE account_metrics ADD COLUMN suspected_purchases_all INTEGER;  -- all time, not only 90 days
