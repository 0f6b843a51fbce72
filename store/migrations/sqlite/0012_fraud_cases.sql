-- The review queue (issue 24): one case per capture and fraud reason the upload judge gave,
-- opened with the capture in one transaction. An operator (admin) confirms or clears it; the
-- device's owner may appeal it once, which puts it back in the queue. Cases feed the
-- device's reputation (model::reputation): open, appealed and confirmed ones count, cleared
-- ones do not.
CREATE TABLE fraud_cases (
    id              TEXT PRIMARY KEY,          -- UUID v7
    device_id       TEXT NOT NULL REFERENCES devices (id),
    capture_id      TEXT NOT NULL REFERENCES captures (id),
    reason          TEXT NOT NULL,             -- a RejectReason slug that is a fraud signal
    frame_count     BIGINT NOT NULL,
    first_frame_ms  BIGINT NOT NULL,           -- the earliest flagged frame's time
    opened_at_ms    BIGINT NOT NULL,
    status          TEXT NOT NULL,             -- open | appealed | confirmed | cleared
    decided_by      TEXT REFERENCES contributors (id),
    decided_at_ms   BIGINT,
    decision_note   TEXT,
    appeal          TEXT,
    appealed_at_ms  BIGINT,
    UNIQUE (capture_id, reason)
);
CREATE INDEX fraud_cases_status ON fraud_cases (status, opened_at_ms);
CREATE INDEX fraud_cases_device ON fraud_cases (device_id, first_frame_ms);
