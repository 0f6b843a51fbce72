//! A whole MP4/MOV file as `waymark-agent import` opens it: the top-level box walk, the
//! `moov/trak/…/stbl` sample table, reading each sample and its GPMF payload. The reader
//! works on paths (it seeks instead of loading hour-long recordings), so each input is
//! written to a file in memory-backed `/dev/shm` when there is one.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("waymark-fuzz-{}.mp4", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("write the scratch file");
    let _ = dashcam_agent::gps::gpmf::read_mp4(path);
    if let Ok(moov) = dashcam_agent::gps::mp4::read_moov(path) {
        let _ = dashcam_agent::gps::mp4::find_track(&moov, b"gpmd", "fuzz.mp4");
    }
});
