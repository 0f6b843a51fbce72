//! The spool on a full disk: a frame that does not fit is a clear `SpoolFull` error, leaves
//! no half-written file behind, and every frame spooled before stays intact.

use dashcam_agent::{Error, Spool};
use model::{Fix, FixType, FrameId, TimestampMs};

use crate::dataset;

/// A tmpfs of `megabytes` on a fresh directory (the tests run as root, as CI does).
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(megabytes: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(
            mounted.success(),
            "mounting a tmpfs needs root (CI runs as root)"
        );
        Self(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        std::process::Command::new("umount")
            .arg(self.0.path())
            .status()
            .ok();
    }
}

fn fix(second: i64) -> Fix {
    Fix {
        time: TimestampMs(1_763_000_000_000 + second * 1000),
        lat: 48.137,
        lon: 11.575 + second as f64 * 1e-4,
        alt: None,
        heading: None,
        speed: None,
        fix_type: FixType::Fix3d,
        satellites: 9,
        hdop: 0.9,
    }
}

#[test]
fn a_full_spool_disk_is_a_clear_error_and_keeps_every_spooled_frame() {
    let disk = SmallDisk::mount(8);
    let root = disk.0.path().join("spool");
    let stills: Vec<Vec<u8>> = (0..6)
        .map(|i| {
            std::fs::read(dataset(&format!(
                "frames/udacity_solidWhiteRight/frame_{i:03}.jpg"
            )))
            .unwrap()
        })
        .collect();
    let spool = Spool::open(&root).unwrap();
    for (i, jpeg) in stills[..5].iter().enumerate() {
        spool.add(jpeg, fix(i as i64)).unwrap();
    }

    // Something else fills the disk.
    let filler = disk.0.path().join("filler");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        while file.write_all(&[0]).is_ok() {}
    }
    let err = spool.add(&stills[5], fix(5)).unwrap_err();
    assert!(matches!(err, Error::SpoolFull { .. }), "{err}");
    assert!(err.to_string().contains("disk is full"), "{err}");
    let leftovers: Vec<_> = std::fs::read_dir(root.join("tmp")).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Reopened (the dashcam restarted), every earlier frame is there, byte for byte.
    drop(spool);
    let spool = Spool::open(&root).unwrap();
    let frames = spool.frames().unwrap();
    assert_eq!(frames.len(), 5);
    for (entry, jpeg) in frames.iter().zip(&stills[..5]) {
        assert_eq!(entry.sha256, FrameId::of_bytes(jpeg));
        assert_eq!(spool.frame(&entry.sha256).unwrap(), *jpeg);
    }

    // Space again: spooling carries on.
    std::fs::remove_file(filler).unwrap();
    spool.add(&stills[5], fix(5)).unwrap();
    assert_eq!(spool.frames().unwrap().len(), 6);
}
