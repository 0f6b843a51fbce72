//! Integration tests of the wire vocabulary on a real drive: the Munich car drive of
//! bmwcarit/barefoot (`datasets/gps/barefoot_munich_x0001-001.json`).

mod manifest;
