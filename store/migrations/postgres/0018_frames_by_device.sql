-- A frame's device, copied from its capture when the frame is stored, and an index of each
-- device's kept frames (accepted or pending) by time. The judge reads a device's fix of
-- each of the 600 seconds before and after a capture (Db::device_history_before,
-- Db::device_later_after) and its fixes around a moment (Db::device_fixes_between); through
-- captures_device every such read scanned all of the device's frames, 2 s a capture for a
-- device of a million frames. With this index each second read is one index seek.
ALTER TABLE frames ADD COLUMN device_id TEXT REFERENCES devices (id);
UPDATE frames SET device_id = (SELECT c.device_id FROM captures c WHERE c.id = frames.capture_id);
CREATE INDEX frames_kept_by_device ON frames (device_id, time_ms) WHERE status IN ('accepted', 'pending');
