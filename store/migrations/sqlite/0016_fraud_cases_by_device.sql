-- A device's cases by reason and time: the place consensus's device rule counts, for every
-- capture the worker judges and for every device at a reward close, the captures of one
-- device held for one reason lately (Db::captures_held_by_device), which the status index
-- cannot find without a scan of every case.
CREATE INDEX fraud_cases_by_device ON fraud_cases (device_id, reason, first_frame_ms);
