-- What a contributor earned in an epoch for finding new map features (rewards rule 10,
-- off unless `discovery_share_ppm` is set). Rows from before stay NULL (nothing was paid).
ALTER TABLE rewards ADD COLUMN discovery_amount TEXT;
