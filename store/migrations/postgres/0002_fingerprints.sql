-- Perceptual fingerprints of accepted frames, per H3 res-12 cell: what near-duplicate
-- checks compare a new frame against.
CREATE TABLE fingerprints (
    cell            BIGINT NOT NULL,
    sha256          TEXT NOT NULL,
    captured_at_ms  BIGINT NOT NULL,
    fingerprint     BYTEA NOT NULL,
    PRIMARY KEY (cell, sha256)
);
