//! GStreamer capture and `import` on the real recordings.

use dashcam_agent::capture::{Capture, Source};
use dashcam_agent::geodesy::distance_m;
use dashcam_agent::import::{ImportOptions, import_video};
use dashcam_agent::{Agent, AgentConfig, Error};
use model::DeviceKeypair;

use crate::{agent_bin, dataset, exiftool, run_ok, spooled};

#[test]
fn the_test_pattern_gives_jpeg_frames_in_time_order() {
    let mut capture = Capture::start(&Source::TestPattern {
        frames: 5,
        width: 640,
        height: 480,
        live: false,
    })
    .unwrap();
    let mut times = Vec::new();
    while let Some(frame) = capture.next_frame().unwrap() {
        assert!(frame.jpeg.starts_with(&[0xFF, 0xD8]));
        times.push(frame.time_ms);
    }
    assert_eq!(times, vec![0, 100, 200, 300, 400]);
}

/// `exiftool -ee` reading the GPMF GPS track of the GoPro file on its own.
fn gopro_track_by_exiftool() -> Vec<(f64, f64)> {
    let column = |tag: &str| -> Vec<f64> {
        let output = std::process::Command::new("exiftool")
            .args(["-ee", "-n", "-a", "-s3", tag])
            .arg(dataset("video/gopro/gpmf_max-heromode.mp4"))
            .output()
            .unwrap();
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|line| line.trim().parse().unwrap())
            .collect()
    };
    let lats = column("-GPSLatitude");
    let lons = column("-GPSLongitude");
    assert_eq!(lats.len(), lons.len());
    lats.into_iter().zip(lons).collect()
}

#[test]
fn gopro_import_geotags_frames_on_the_gpmf_track_every_8_m() {
    let home = tempfile::tempdir().unwrap();
    run_ok(agent_bin(home.path()).arg("keygen"));
    let out = run_ok(
        agent_bin(home.path())
            .arg("import")
            .arg(dataset("video/gopro/gpmf_max-heromode.mp4"))
            .args(["--trim-m", "0"]),
    );
    let frames = spooled(&home.path().join("spool"));
    // A 10.5 s walk of ≈ 13 m: the first frame and one 8 m later.
    assert_eq!(frames.len(), 2, "{out}");
    let tags = exiftool(&frames.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>());
    let gpmf = gopro_track_by_exiftool();
    assert!(gpmf.len() > 150, "{}", gpmf.len());
    let mut positions = Vec::new();
    for ((entry, _), tag) in frames.iter().zip(&tags) {
        let (lat, lon) = (
            tag["GPSLatitude"].as_f64().unwrap(),
            tag["GPSLongitude"].as_f64().unwrap(),
        );
        // EXIF = the manifest's fix (to the 3 mm of the EXIF rationals).
        assert!(distance_m(lat, lon, entry.fix.lat, entry.fix.lon) < 0.01);
        // …and lies on the GPMF track exiftool reads independently.
        let nearest = gpmf
            .iter()
            .map(|(a, b)| distance_m(lat, lon, *a, *b))
            .fold(f64::INFINITY, f64::min);
        assert!(nearest < 0.5, "{nearest} m from the GPMF track");
        assert_eq!(tag["GPSMeasureMode"].as_i64(), Some(3), "{tag}");
        assert!(
            tag["DateTimeOriginal"]
                .as_str()
                .unwrap()
                .starts_with("2019:11:18 23:45")
        );
        positions.push((lat, lon));
    }
    let spacing = distance_m(
        positions[0].0,
        positions[0].1,
        positions[1].0,
        positions[1].1,
    );
    // 8 m travelled along the fixes (a little more than the straight line between the
    // two frames, as a walker's GPS wobbles); at 1.3 m/s and 30 fps the first frame past
    // 8 m is within centimetres of it.
    assert!((7.5..8.5).contains(&spacing), "{spacing} m apart");
}

#[test]
fn udacity_with_a_gpx_sidecar_is_sampled_along_the_drive() {
    let dir = tempfile::tempdir().unwrap();
    let config = AgentConfig {
        trim_m: 0.0,
        ..AgentConfig::default()
    };
    let mut agent = Agent::new(config, dir.path(), DeviceKeypair::from_seed([5; 32])).unwrap();
    let start = chrono::DateTime::parse_from_rfc3339("2010-02-01T12:38:41Z").unwrap();
    let options = ImportOptions {
        gps: Some(dataset("gps/gpsbabel_sbn-v13.gpx")),
        start: Some(model::TimestampMs(start.timestamp_millis())),
        ..ImportOptions::default()
    };
    let report = import_video(
        &mut agent,
        &dataset("video/udacity_solidWhiteRight.mp4"),
        &options,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.trip.offered, 221);
    // ≈ 21 m/s for 8.8 s ≈ 185 m: a frame every 8 m.
    assert!((18..=26).contains(&report.trip.spooled), "{report:?}");
    let frames = spooled(dir.path());
    for pair in frames.windows(2) {
        let (a, b) = (pair[0].0.fix, pair[1].0.fix);
        assert!(distance_m(a.lat, a.lon, b.lat, b.lon) >= 7.5);
    }
    // A clock offset moves the same video to another part of the drive.
    let shifted = ImportOptions {
        align: dashcam_agent::AlignConfig {
            offset_ms: -27_000,
            ..Default::default()
        },
        ..options
    };
    let other = tempfile::tempdir().unwrap();
    let config = AgentConfig {
        trim_m: 0.0,
        ..AgentConfig::default()
    };
    let mut agent = Agent::new(config, other.path(), DeviceKeypair::from_seed([5; 32])).unwrap();
    import_video(
        &mut agent,
        &dataset("video/udacity_solidWhiteRight.mp4"),
        &shifted,
        &mut |_| {},
    )
    .unwrap();
    let moved = spooled(other.path());
    let (a, b) = (frames[0].0.fix, moved[0].0.fix);
    assert!(distance_m(a.lat, a.lon, b.lat, b.lon) > 200.0);
}

#[test]
fn corrupt_and_truncated_mp4s_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(dataset("video/gopro/gpmf_max-heromode.mp4")).unwrap();
    let truncated = dir.path().join("truncated.mp4");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let noise = dir.path().join("noise.mp4");
    std::fs::write(
        &noise,
        bytes
            .iter()
            .rev()
            .take(200_000)
            .copied()
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let mut agent = Agent::new(
        AgentConfig::default(),
        dir.path().join("spool"),
        DeviceKeypair::from_seed([5; 32]),
    )
    .unwrap();
    for path in [&truncated, &noise] {
        let err =
            import_video(&mut agent, path, &ImportOptions::default(), &mut |_| {}).unwrap_err();
        assert!(matches!(err, Error::Mp4 { .. }), "{err}");
    }
    // With a sidecar the MP4 reader is skipped: GStreamer itself reports the corruption.
    let options = ImportOptions {
        gps: Some(dataset("gps/gpsbabel_sbn-v13.gpx")),
        ..ImportOptions::default()
    };
    let err = import_video(&mut agent, &noise, &options, &mut |_| {}).unwrap_err();
    assert!(matches!(err, Error::Capture(_)), "{err}");
    assert!(spooled(&dir.path().join("spool")).is_empty());
}
