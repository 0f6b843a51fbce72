-- The global footage index (model::footage): every accepted frame's core fingerprint with
-- who took it, where and when, and its locality-sensitive keys. A new frame that copies
-- footage of another device (cropped, re-encoded, brightened) is a replay wherever it is
-- claimed. Frames accepted before this migration are not in it.
CREATE TABLE footage (
    sha256          TEXT PRIMARY KEY,
    device_id       TEXT NOT NULL,
    lat             DOUBLE PRECISION NOT NULL,
    lon             DOUBLE PRECISION NOT NULL,
    captured_at_ms  BIGINT NOT NULL,
    core            BLOB NOT NULL
);
CREATE TABLE footage_keys (
    key             BIGINT NOT NULL,           -- band << 14 | 14 hash bits
    sha256          TEXT NOT NULL REFERENCES footage (sha256),
    PRIMARY KEY (key, sha256)
);
