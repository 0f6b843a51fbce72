-- The tile builder reads every sequence with the mean quality of its accepted frames; without
-- this index each sequence scanned the whole frames table (a full build of a 1 M-frame map
-- spent most of its 143 s there).
CREATE INDEX frames_sequence ON frames (sequence_id);
