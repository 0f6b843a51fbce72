-- The footage index's keys by frame: re-keying (a new key scheme, model::footage::KEY_SCHEME)
-- finds the frames still keyed by an earlier scheme and replaces their keys, which the
-- primary key (key first) cannot find without a scan.
CREATE INDEX footage_keys_by_frame ON footage_keys (sha256, key);
