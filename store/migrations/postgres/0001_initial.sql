-- Waymark metadata, SQLite flavour. Kept to SQL that PostgreSQL also reads (BIGINT ids,
-- TEXT, DOUBLE PRECISION, ms timestamps as BIGINT) so the PostgreSQL migrations stay a
-- near copy. H3 cells are stored as BIGINT: H3 indexes never set the top bit.

CREATE TABLE contributors (
    id              TEXT PRIMARY KEY,          -- UUID
    name            TEXT NOT NULL,
    token_sha256    TEXT NOT NULL UNIQUE,      -- API token, hashed; never stored in clear
    payout_address  TEXT,                      -- EIP-55 checksummed EVM address
    created_at_ms   BIGINT NOT NULL
);

CREATE TABLE devices (
    id                TEXT PRIMARY KEY,        -- UUID
    public_key        TEXT NOT NULL UNIQUE,    -- ed25519, 64 hex
    contributor_id    TEXT NOT NULL REFERENCES contributors (id),  -- who registered it (owner)
    driver_id         TEXT REFERENCES contributors (id),           -- fleet driver, if any
    driver_share_bps  BIGINT NOT NULL DEFAULT 10000 CHECK (driver_share_bps BETWEEN 0 AND 10000),
    label             TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    last_sequence     BIGINT,                  -- highest capture sequence number seen
    registered_at_ms  BIGINT NOT NULL
);
CREATE INDEX devices_contributor ON devices (contributor_id);

CREATE TABLE captures (
    id               TEXT PRIMARY KEY,         -- UUID chosen by the agent
    device_id        TEXT NOT NULL REFERENCES devices (id),
    sequence_number  BIGINT NOT NULL,
    manifest_sha256  TEXT NOT NULL,            -- of the exact signed body
    manifest_key     TEXT NOT NULL,            -- blob holding the signed body
    signature        TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('received', 'processing', 'done', 'failed')),
    frame_count      BIGINT NOT NULL,
    received_at_ms   BIGINT NOT NULL,
    processed_at_ms  BIGINT
);
CREATE INDEX captures_device ON captures (device_id, sequence_number);

CREATE TABLE sequences (
    id              TEXT PRIMARY KEY,
    capture_id      TEXT NOT NULL REFERENCES captures (id),
    device_id       TEXT NOT NULL REFERENCES devices (id),
    started_at_ms   BIGINT NOT NULL,
    ended_at_ms     BIGINT NOT NULL,
    frame_count     BIGINT NOT NULL,
    length_m        DOUBLE PRECISION NOT NULL,
    geometry        TEXT NOT NULL             -- GeoJSON LineString
);
CREATE INDEX sequences_capture ON sequences (capture_id);

CREATE TABLE frames (
    capture_id      TEXT NOT NULL REFERENCES captures (id),
    idx             BIGINT NOT NULL,          -- position in the manifest
    sha256          TEXT NOT NULL,
    time_ms         BIGINT NOT NULL,
    lat             DOUBLE PRECISION NOT NULL,
    lon             DOUBLE PRECISION NOT NULL,
    alt             DOUBLE PRECISION,
    heading         DOUBLE PRECISION,
    speed           DOUBLE PRECISION,
    fix_type        TEXT NOT NULL,
    satellites      BIGINT NOT NULL,
    hdop            DOUBLE PRECISION NOT NULL,
    cell            BIGINT,                    -- H3 res 12
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
    reject_reason   TEXT,                      -- model::RejectReason slug
    quality         DOUBLE PRECISION,          -- 0..1 from vision
    sequence_id     TEXT REFERENCES sequences (id),
    width           BIGINT,
    height          BIGINT,
    PRIMARY KEY (capture_id, idx)
);
CREATE INDEX frames_sha256 ON frames (sha256);
CREATE INDEX frames_cell_time ON frames (cell, time_ms);
CREATE INDEX frames_time ON frames (time_ms);

CREATE TABLE detections (
    id              TEXT PRIMARY KEY,
    capture_id      TEXT NOT NULL REFERENCES captures (id),
    frame_sha256    TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('sign', 'face', 'plate')),
    class           TEXT,                      -- sign class for signs
    confidence      DOUBLE PRECISION NOT NULL,
    x BIGINT NOT NULL, y BIGINT NOT NULL, w BIGINT NOT NULL, h BIGINT NOT NULL,
    lat             DOUBLE PRECISION NOT NULL,
    lon             DOUBLE PRECISION NOT NULL
);
CREATE INDEX detections_frame ON detections (frame_sha256);

-- Coverage state per H3 res-12 cell: what freshness and rewards are computed from.
CREATE TABLE cells (
    cell                  BIGINT PRIMARY KEY,
    first_mapped_at_ms    BIGINT NOT NULL,
    last_mapped_at_ms     BIGINT NOT NULL,
    frame_count           BIGINT NOT NULL,
    last_contributor_id   TEXT REFERENCES contributors (id)
);

-- Cells whose tiles must be rebuilt; cleared in the transaction that writes the tiles.
CREATE TABLE dirty_cells (
    cell            BIGINT PRIMARY KEY,
    marked_at_ms    BIGINT NOT NULL
);

CREATE TABLE epochs (
    id              TEXT PRIMARY KEY,          -- e.g. 2026-W48
    starts_at_ms    BIGINT NOT NULL,
    ends_at_ms      BIGINT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('open', 'closing', 'closed')),
    emission        TEXT NOT NULL,             -- integer amount in the smallest unit, decimal
    merkle_root     TEXT,
    manifest_key    TEXT,
    closed_at_ms    BIGINT
);

CREATE TABLE rewards (
    epoch_id        TEXT NOT NULL REFERENCES epochs (id),
    contributor_id  TEXT NOT NULL REFERENCES contributors (id),
    amount          TEXT NOT NULL,             -- integer, decimal (may exceed 64 bits)
    PRIMARY KEY (epoch_id, contributor_id)
);

-- The durable job queue: at-least-once with leases; a job is marked done in the same
-- transaction as what it produced.
CREATE TABLE jobs (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,             -- JSON
    dedup_key       TEXT UNIQUE,               -- enqueueing the same key twice is a no-op
    state           TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'done', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    max_attempts    BIGINT NOT NULL,
    run_after_ms    BIGINT NOT NULL,
    lease_token     TEXT,
    lease_until_ms  BIGINT,
    last_error      TEXT,
    created_at_ms   BIGINT NOT NULL,
    updated_at_ms   BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs (kind, state, run_after_ms, id);
