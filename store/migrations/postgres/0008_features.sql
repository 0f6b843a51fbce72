-- Map features (issue 22): one row per real-world object the pipeline positioned from sign
-- detections, with every observation (frame, ray) that placed it, and a marker per capture
-- already applied so a retried job never applies a capture twice.

-- The capture's camera, as its manifest names it: picks the field of view features use.
ALTER TABLE captures ADD COLUMN camera TEXT NOT NULL DEFAULT '';

CREATE TABLE features (
    id                    TEXT PRIMARY KEY,          -- ft- + 24 hex, stable for its life
    class                 TEXT NOT NULL,
    lat                   DOUBLE PRECISION NOT NULL,
    lon                   DOUBLE PRECISION NOT NULL,
    cell                  BIGINT NOT NULL,           -- H3 res 12 of its position (tiles)
    uncertainty_m         DOUBLE PRECISION NOT NULL, -- 1σ, worst axis
    method                TEXT NOT NULL CHECK (method IN ('intersection', 'size_only')),
    facing_deg            DOUBLE PRECISION,
    first_seen_ms         BIGINT NOT NULL,
    last_seen_ms          BIGINT NOT NULL,
    first_contributor_id  TEXT NOT NULL,
    passes                BIGINT NOT NULL,          -- passes that should have seen it
    misses                BIGINT NOT NULL,          -- of those in a row that did not
    gone_at_ms            BIGINT,
    changed_at_ms         BIGINT NOT NULL,           -- appeared, moved status, or came back
    observation_count     BIGINT NOT NULL,
    updated_at_ms         BIGINT NOT NULL
);
CREATE INDEX features_lat_lon ON features (lat, lon);
CREATE INDEX features_cell ON features (cell);
CREATE INDEX features_changed ON features (changed_at_ms);

CREATE TABLE feature_observations (
    feature_id      TEXT NOT NULL REFERENCES features (id),
    capture_id      TEXT NOT NULL REFERENCES captures (id),
    frame_sha256    TEXT NOT NULL,
    sequence_id     TEXT,
    contributor_id  TEXT NOT NULL,
    time_ms         BIGINT NOT NULL,
    class           TEXT NOT NULL,
    lat             DOUBLE PRECISION NOT NULL,   -- the camera
    lon             DOUBLE PRECISION NOT NULL,
    bearing_deg     DOUBLE PRECISION NOT NULL,
    range_m         DOUBLE PRECISION NOT NULL,   -- from the box's size
    heading_source  TEXT NOT NULL CHECK (heading_source IN ('receiver', 'track')),
    PRIMARY KEY (feature_id, capture_id, frame_sha256)
);
CREATE INDEX feature_observations_frame ON feature_observations (frame_sha256);

CREATE TABLE feature_captures (
    capture_id      TEXT PRIMARY KEY REFERENCES captures (id),
    applied_at_ms   BIGINT NOT NULL
);
