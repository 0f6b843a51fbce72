//! `waymark-agent run`: a live camera (GStreamer's test pattern, stamped with the wall clock)
//! and a serial NMEA receiver (a FIFO the test writes sentences into, as a tty would).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Timelike, Utc};

use crate::{agent_bin, exiftool, run_ok, spooled};

fn sentence(body: &str) -> String {
    let checksum = body.bytes().fold(0u8, |acc, b| acc ^ b);
    format!("${body}*{checksum:02X}\r\n")
}

/// GGA, GSA and RMC for one epoch at `lat` (degrees north) on 4.37° E, 12 m/s due north.
fn epoch(lat: f64) -> String {
    let now = Utc::now();
    let time = format!(
        "{:02}{:02}{:02}.{:02}",
        now.hour(),
        now.minute(),
        now.second(),
        now.timestamp_subsec_millis() / 10
    );
    let lat_field = format!("{:02}{:08.5}", lat.trunc() as u32, lat.fract() * 60.0);
    let lon_field = "00422.20000";
    let date = now.format("%d%m%y");
    [
        sentence(&format!(
            "GPGGA,{time},{lat_field},N,{lon_field},E,1,09,0.9,10.0,M,47.0,M,,"
        )),
        sentence("GPGSA,A,3,01,02,03,04,05,06,07,08,09,,,,1.5,0.9,1.2"),
        sentence(&format!(
            "GPRMC,{time},A,{lat_field},N,{lon_field},E,23.33,0.0,{date},,,A"
        )),
    ]
    .concat()
}

#[test]
fn run_captures_a_live_camera_with_a_serial_nmea_receiver() {
    let home = tempfile::tempdir().unwrap();
    run_ok(agent_bin(home.path()).arg("keygen"));
    let tty = home.path().join("ttyGPS");
    assert!(Command::new("mkfifo").arg(&tty).status().unwrap().success());
    let started = Utc::now().timestamp_millis();
    let mut child = agent_bin(home.path())
        .args(["run", "--camera", "videotestsrc", "--gps"])
        .arg(&tty)
        .args(["--duration-s", "6", "--trim-m", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Opening blocks until the agent opens its end, like a receiver plugged in.
    let mut receiver = std::fs::OpenOptions::new().write(true).open(&tty).unwrap();
    let begin = Instant::now();
    let mut lat = 52.0;
    while begin.elapsed() < Duration::from_secs(20) {
        if receiver.write_all(epoch(lat).as_bytes()).is_err() {
            break; // the agent finished and closed the port
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        lat += 12.0 * 0.2 / 111_195.0;
    }
    drop(receiver);
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let frames = spooled(&home.path().join("spool"));
    // ≈ 6 s at 12 m/s ≈ 70 m: a frame every 8 m once the first fix is in (a loaded machine
    // may start the camera late: at least a few frames, never more than the spacing allows).
    assert!(
        (3..=10).contains(&frames.len()),
        "{}: {stdout}",
        frames.len()
    );
    for pair in frames.windows(2) {
        let (a, b) = (pair[0].0.fix, pair[1].0.fix);
        assert!(dashcam_agent::geodesy::distance_m(a.lat, a.lon, b.lat, b.lon) >= 7.9);
    }
    let ended = Utc::now().timestamp_millis();
    for (entry, _) in &frames {
        assert!((started..=ended).contains(&entry.fix.time.as_millis()));
        assert_eq!(entry.fix.satellites, 9);
    }
    let tags = exiftool(&frames.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>());
    assert!(
        tags.iter()
            .all(|t| (t["GPSLatitude"].as_f64().unwrap() - 52.0) < 0.01)
    );
}
