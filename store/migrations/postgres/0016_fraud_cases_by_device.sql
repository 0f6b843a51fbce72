-- A device's cases by reason and time: the worker's device rule of place consensus counts,
-- for each capture its places neither hold nor vouch for, the captures of that device held
-- unlike-place lately (Db::device_captures_held), which the status index cannot find
-- without a scan of every case.
CREATE INDEX fraud_cases_by_device ON fraud_cases (device_id, reason, first_frame_ms);
