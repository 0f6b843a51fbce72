//! GPS sources on real receiver output: NMEA logs damaged on purpose, a real gpsd fed by
//! gpsfake, and the track files through the one entry point `read_track_file`.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dashcam_agent::gps::gpsd::GpsdClient;
use dashcam_agent::gps::{nmea, read_track_file};
use dashcam_agent::{Error, Track};
use model::FixType;

use crate::dataset;

#[test]
fn nmea_with_flipped_checksums_and_binary_noise_keeps_only_intact_sentences() {
    let clean = std::fs::read(dataset("gps/gpsd_nmea/nl2008u.log")).unwrap();
    let (clean_fixes, clean_stats) = nmea::parse_log(&clean);
    // Damage every GGA's checksum and splice UBX-like binary between lines.
    let mut damaged = Vec::new();
    let mut broken = 0;
    for line in clean.split(|&b| b == b'\n') {
        let mut line = line.to_vec();
        if line.windows(3).any(|w| w == b"GGA") && line.len() > 4 {
            let star = line.iter().rposition(|&b| b == b'*').unwrap();
            line[star + 1] = if line[star + 1] == b'0' { b'1' } else { b'0' };
            broken += 1;
        }
        damaged.extend(line);
        damaged.extend(b"\n\xb5\x62\x01\x07\x5c\x00\xff\xfe\n");
    }
    let (fixes, stats) = nmea::parse_log(&damaged);
    assert_eq!(stats.bad_checksums, clean_stats.bad_checksums + broken);
    assert!(stats.noise + stats.malformed > clean_stats.noise + clean_stats.malformed);
    // Without GGA no satellites or altitude: RMC alone still positions every epoch.
    assert_eq!(fixes.len(), clean_fixes.len());
    for (fix, clean) in fixes.iter().zip(&clean_fixes) {
        assert_eq!(
            (fix.time, fix.lat, fix.lon),
            (clean.time, clean.lat, clean.lon)
        );
        assert_eq!(fix.alt, None);
    }
    let err = nmea::parse_line(
        b"$GNGGA,091232.000,4813.0535,N,00824.8697,E,1,12,0.7,765.8,M,47.4,M,,0000*44",
    );
    assert!(matches!(err, Err(nmea::LineError::Checksum { .. })));
}

#[test]
fn track_files_of_every_format_read_through_one_entry_point() {
    for (file, min) in [
        ("gps/gpsbabel_sbn-v13.gpx", 3000),
        ("gps/gpsbabel_garmin-virb-ultra-30.fit", 145),
        ("gps/gpsd_nmea/nmea-rtk.log", 10),
        ("video/gopro/gpmf_max-heromode.mp4", 150),
    ] {
        let fixes = read_track_file(&dataset(file)).unwrap();
        assert!(fixes.len() >= min, "{file}: {}", fixes.len());
        assert!(!Track::new(fixes).is_empty());
    }
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.nmea");
    std::fs::write(&empty, b"\x00\x01garbage\n").unwrap();
    assert!(matches!(read_track_file(&empty), Err(Error::NoFixes(_))));
    let video = dataset("video/udacity_solidWhiteRight.mp4");
    assert!(matches!(read_track_file(&video), Err(Error::NoFixes(_))));
}

#[test]
fn a_real_gpsd_fed_by_gpsfake_gives_3d_fixes() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    // Its own process group, so the gpsd it starts is stopped with it.
    let gpsfake = Command::new("gpsfake")
        .args(["-q", "-1", "-c", "0.05", "-P"])
        .arg(port.to_string())
        .arg(dataset("gps/gpsd_nmea/nl2008u.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("gpsfake is installed (gpsd-clients)");
    let _stop = StopGroup(gpsfake);
    let address = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut client = loop {
        match GpsdClient::connect(&address, Duration::from_secs(5)) {
            Ok(client) => break client,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(err) => panic!("{err}"),
        }
    };
    let mut fixes = Vec::new();
    // Until gpsd has sent the whole log: it then goes quiet and the read times out.
    while let Ok(Some(fix)) = client.next_fix() {
        fixes.push(fix);
        if fixes.iter().any(|f| f.fix_type == FixType::Fix3d) && fixes.len() >= 3 {
            break;
        }
    }
    assert!(fixes.len() >= 3, "{fixes:?}");
    let first = fixes[0];
    assert!(
        (first.lat - (48.0 + 13.0535 / 60.0)).abs() < 1e-4,
        "{first:?}"
    );
    // gpsd reports 2D until it has seen the GSA of the epoch, then 3D with satellites.
    assert!(
        fixes
            .iter()
            .any(|fix| fix.fix_type == FixType::Fix3d && fix.satellites >= 4),
        "{fixes:?}"
    );
    std::io::stderr().flush().unwrap();
}

/// Kills a child's whole process group when dropped (also when an assertion fails).
struct StopGroup(std::process::Child);

impl Drop for StopGroup {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}
