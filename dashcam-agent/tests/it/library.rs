//! The library API the demo drives: simulated frames (real JPEGs at fixes of a real drive)
//! through sampling, privacy, spool, signing and upload to a real ingest server.

use std::collections::HashSet;

use dashcam_agent::gps::gpx;
use dashcam_agent::{Agent, AgentConfig, DropReason, Offer, PrivacyZone, Track, UploadConfig};
use model::{DeviceKeypair, Fix};

use crate::{Server, dataset, spooled};

/// The Delft drive (real fixes with quality), and the six real Udacity frames to cycle.
fn drive() -> (Vec<Fix>, Vec<Vec<u8>>) {
    let fixes = gpx::parse(
        &std::fs::read(dataset("gps/gpsbabel_sbn-v13.gpx")).unwrap(),
        "sbn",
    )
    .unwrap();
    let frames = std::fs::read_dir(dataset("images/udacity_lanes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    (Track::new(fixes).fixes().to_vec(), frames)
}

#[test]
fn offered_frames_are_sampled_trimmed_kept_out_of_zones_and_uploaded_once() {
    let (fixes, frames) = drive();
    let window = &fixes[300..700];
    let home = window[150];
    let server_dir = tempfile::tempdir().unwrap();
    let server = Server::start(server_dir.path());
    let key = DeviceKeypair::from_seed([9; 32]);
    server.register(&key);
    let spool_dir = tempfile::tempdir().unwrap();
    let config = AgentConfig {
        privacy_zones: vec![PrivacyZone::around(home.lat, home.lon)],
        ..AgentConfig::default()
    };
    let mut agent = Agent::new(config, spool_dir.path(), key).unwrap();
    let mut kept = 0;
    for (i, fix) in window.iter().enumerate() {
        if let Offer::Kept { .. } = agent.offer(&frames[i % frames.len()], fix).unwrap() {
            kept += 1;
        }
    }
    let trip = agent.finish_trip().unwrap();
    assert_eq!(trip.offered, window.len() as u64);
    for reason in [
        DropReason::PrivacyZone,
        DropReason::TripStart,
        DropReason::TripEnd,
    ] {
        assert!(
            trip.drops.get(&reason).copied().unwrap_or(0) > 0,
            "{reason:?}: {trip:?}"
        );
    }
    let on_disk = spooled(spool_dir.path());
    assert_eq!(on_disk.len() as u64, trip.spooled);
    assert_eq!(kept - trip.drops[&DropReason::TripEnd], trip.spooled);
    for (entry, _) in &on_disk {
        let from_home =
            dashcam_agent::geodesy::distance_m(home.lat, home.lon, entry.fix.lat, entry.fix.lon);
        assert!(
            from_home > 200.0,
            "a frame {from_home} m from home was spooled"
        );
    }

    let summary = agent
        .upload_pending(&UploadConfig::new(&server.url), &mut || {})
        .unwrap();
    assert_eq!(summary.captures_acknowledged, 1);
    assert_eq!(summary.frames_sent as u64, trip.spooled);
    assert!(spooled(spool_dir.path()).is_empty());
    // Uploading again has nothing to do.
    let again = agent
        .upload_pending(&UploadConfig::new(&server.url), &mut || {})
        .unwrap();
    assert_eq!(again.captures_acknowledged, 0);
    let captures = std::fs::read_dir(server_dir.path().join("blobs/captures")).unwrap();
    let mut shas = Vec::new();
    for entry in captures {
        let id = entry
            .unwrap()
            .path()
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for frame in server.capture(&id)["frames"].as_array().unwrap() {
            shas.push(frame["sha256"].as_str().unwrap().to_owned());
        }
    }
    let unique: HashSet<_> = shas.iter().collect();
    assert_eq!(unique.len(), shas.len());
    assert_eq!(shas.len() as u64, trip.spooled);
    let state = agent.spool().state().unwrap();
    assert_eq!(state.frames_uploaded, trip.spooled);
    assert!(state.drops.contains_key("privacy_zone"));
}

#[test]
fn a_folder_of_geotagged_jpegs_imports_by_their_own_exif() {
    let (fixes, frames) = drive();
    let folder = tempfile::tempdir().unwrap();
    // Six real frames geotagged 1 s apart along the real drive (≈ 20 m/s)…
    let window = &fixes[340..346];
    for (i, (fix, jpeg)) in window.iter().zip(&frames).enumerate() {
        let tagged = dashcam_agent::geotag::tag_jpeg(jpeg, fix, "phone").unwrap();
        std::fs::write(folder.path().join(format!("IMG_{i:04}.JPG")), tagged).unwrap();
    }
    // …and a real 3 MB camera photo from Portland, over the 2 MB frame limit.
    std::fs::copy(
        dataset("images/geotagged/mapillary_DSC00001.JPG"),
        folder.path().join("DSC00001.JPG"),
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    crate::run_ok(crate::agent_bin(home.path()).arg("keygen"));
    let out = crate::run_ok(
        crate::agent_bin(home.path())
            .arg("import")
            .arg(folder.path())
            .args(["--trim-m", "0"]),
    );
    let spooled = spooled(&home.path().join("spool"));
    assert_eq!(spooled.len(), 6, "{out}");
    for ((entry, _), fix) in spooled.iter().zip(window) {
        assert_eq!(entry.fix.time, fix.time);
        assert!((entry.fix.lat - fix.lat).abs() < 1e-7);
    }
    assert!(out.contains("frame_too_large"), "{out}");
}
