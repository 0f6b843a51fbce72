-- The direction a fingerprinted frame looked (degrees clockwise from north; the fix's
-- heading, or the course between its neighbours): place consensus compares a frame only
-- with views looking the same way. NULL for frames stored before, which then never judge.
ALTER TABLE fingerprints ADD COLUMN heading DOUBLE PRECISION;
