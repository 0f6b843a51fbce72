-- Oracles' signed reports of closed epochs (rewards::report): one row per epoch and oracle,
-- the latest it sent. `agrees` is 1 when its report is the network's own (root, total,
-- inputs); a report that differs is kept as a disagreement, never averaged.
CREATE TABLE oracle_signatures (
    epoch_id        TEXT NOT NULL REFERENCES epochs (id),
    oracle          TEXT NOT NULL,             -- 0x address its signature recovers to
    report_json     TEXT NOT NULL,
    signature       TEXT NOT NULL,             -- 0x r s v
    agrees          BIGINT NOT NULL,
    received_at_ms  BIGINT NOT NULL,
    PRIMARY KEY (epoch_id, oracle)
);
