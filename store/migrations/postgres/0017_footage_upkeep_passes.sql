-- The footage index's upkeep passes (ingest::footage_upkeep): a pass of a key scheme that
-- finished covered every capture processed before it started. The next pass of that scheme
-- looks only at the captures processed since (less a margin), instead of every accepted
-- frame and every footage entry at each worker start.
CREATE TABLE footage_upkeep (
    scheme          BIGINT PRIMARY KEY,        -- model::footage::SCHEME_FLOOR
    started_at_ms   BIGINT NOT NULL            -- when the last finished pass began
);
CREATE INDEX captures_processed ON captures (processed_at_ms);
