-- Hardening (issue 20).
--
-- Who uploaded each original: an original belongs to the devices that sent its bytes, and a
-- manifest may only name frames its own device uploaded. The first upload's device is the
-- frame's maker; another device naming it is replaying. Uploads that no pending frame needs
-- are collected (blob and rows) after a grace period.
CREATE TABLE frame_uploads (
    sha256          TEXT NOT NULL,
    device_id       TEXT NOT NULL REFERENCES devices (id),
    first_at_ms     BIGINT NOT NULL,           -- this device's first upload of these bytes
    last_at_ms      BIGINT NOT NULL,           -- its latest (a resume refreshes the grace period)
    PRIMARY KEY (sha256, device_id)
);
CREATE INDEX frame_uploads_last ON frame_uploads (last_at_ms);

-- Operators: an admin may read any capture's status (and, later, review flagged frames).
ALTER TABLE contributors ADD COLUMN role TEXT NOT NULL DEFAULT 'contributor';

-- A fleet owner names a driver; the split counts only once the driver accepted it. Devices
-- registered before consent existed keep their split.
ALTER TABLE devices ADD COLUMN driver_accepted_at_ms BIGINT;
UPDATE devices SET driver_accepted_at_ms = registered_at_ms WHERE driver_id IS NOT NULL;

-- The queue's oldest runnable job, for /health.
CREATE INDEX jobs_state_created ON jobs (state, created_at_ms);
