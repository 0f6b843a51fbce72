-- Each contributor's claim in a closed epoch, kept when the epoch closes: the Merkle proof of
-- their address's leaf and their own part of the attribution (cells, consumed cell-weeks,
-- discoveries), as JSON. The proof route reads this one row instead of recomputing the
-- epoch per request. NULL for epochs closed before (the route recomputes those).
ALTER TABLE rewards ADD COLUMN claim_json TEXT;
