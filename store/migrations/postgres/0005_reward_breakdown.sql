-- Where each reward came from (issue 13): the emission for fresh coverage, bounties, and the
-- share of map consumers' spending on the contributor's coverage; and per epoch the
-- consumption pool and the credits it came from. Rows from before stay NULL (their whole
-- amount was emission and bounties).
ALTER TABLE rewards ADD COLUMN emission_amount TEXT;
ALTER TABLE rewards ADD COLUMN bounty_amount TEXT;
ALTER TABLE rewards ADD COLUMN consumption_amount TEXT;
ALTER TABLE epochs ADD COLUMN consumption_pool TEXT;
ALTER TABLE epochs ADD COLUMN credits_consumed TEXT;
