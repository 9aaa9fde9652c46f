-- What was alerted, to whom, when: each anomaly goes to each recipient once; a failed send
-- stays queued and is tried again on the next run.
CREATE TABLE alerts (
    platform   VARCHAR NOT NULL,
    handle     VARCHAR NOT NULL,
    day        DATE NOT NULL,
    kind       VARCHAR NOT NULL,
    recipient  VARCHAR NOT NULL,
    status     VARCHAR NOT NULL CHECK (status IN ('queued', 'sent')),
    channel    VARCHAR,              -- smtp, or outbox:<file>
    message_id VARCHAR,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error VARCHAR,
    queued_at  TIMESTAMPTZ NOT NULL,
    sent_at    TIMESTAMPTZ,
    PRIMARY KEY (platform, handle, day, kind, recipient)
);
