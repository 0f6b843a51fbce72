-- Map consumers: API keys, credits and metered use. A consumer is an account (a row of
-- `contributors`, which holds every account) that also holds keys.

-- A key is `wmk_<id>_<secret>`: the id is public (listing, revoking), only the secret's
-- sha256 is stored, and it is compared in constant time.
CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,          -- 16 hex
    account_id      TEXT NOT NULL REFERENCES contributors (id),
    name            TEXT NOT NULL DEFAULT '',
    scopes          TEXT NOT NULL,             -- comma list of tiles, imagery, search
    secret_sha256   TEXT NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    revoked_at_ms   BIGINT
);
CREATE INDEX api_keys_account ON api_keys (account_id);

-- Every change of a balance: grants by an operator (+), metered use (−). The balance is
-- the sum; rows are never updated.
CREATE TABLE credit_ledger (
    id              BIGSERIAL PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES contributors (id),
    amount          BIGINT NOT NULL,
    reason          TEXT NOT NULL CHECK (reason IN ('grant', 'usage')),
    at_ms           BIGINT NOT NULL
);
CREATE INDEX credit_ledger_account ON credit_ledger (account_id);

-- Metered use, summed per key, UTC day of the requests, kind, and H3 res-9 cell-week of
-- coverage consumed (`week`: the ISO week the consumed frames were captured in).
CREATE TABLE usage (
    key_id          TEXT NOT NULL REFERENCES api_keys (id),
    day             TEXT NOT NULL,             -- YYYY-MM-DD, UTC
    kind            TEXT NOT NULL CHECK (kind IN ('tiles', 'imagery', 'search')),
    cell            BIGINT NOT NULL,
    week            TEXT NOT NULL,
    requests        BIGINT NOT NULL,
    credits         BIGINT NOT NULL,
    PRIMARY KEY (key_id, day, kind, cell, week)
);
CREATE INDEX usage_day ON usage (day);
