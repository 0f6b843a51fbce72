//! Loaders on the real recordings and on broken copies of them.

use std::path::{Path, PathBuf};

use datasets::{Error, path, read_barefoot, read_gpx, read_osrm_traces};
use model::{FixType, TimestampMs};
use rstest::rstest;

/// A copy of data file `relative` in a fresh temporary directory, changed by `edit`.
fn corrupted(
    relative: &str,
    edit: impl FnOnce(Vec<u8>) -> Vec<u8>,
) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(path(relative)).unwrap();
    let name = Path::new(relative).file_name().unwrap();
    let copy = dir.path().join(name);
    std::fs::write(&copy, edit(bytes)).unwrap();
    (dir, copy)
}

fn truncated(bytes: Vec<u8>) -> Vec<u8> {
    bytes[..bytes.len() / 2].to_vec()
}

#[test]
fn the_munich_drive_is_1194_fixes_at_1_hz_from_its_recorded_start() {
    let drive = read_barefoot(&path("gps/barefoot_munich_x0001-001.json")).unwrap();
    assert_eq!(drive.len(), 1194);
    // 2014-09-10 06:54:07+02:00
    assert_eq!(drive[0].time, TimestampMs(1_410_324_847_000));
    assert!((drive[0].lon - 11.564_388).abs() < 1e-6 && (drive[0].lat - 48.163_507).abs() < 1e-6);
    assert!(drive.windows(2).all(|pair| pair[0].time < pair[1].time));
    assert!(drive.iter().all(|fix| fix.fix_type == FixType::Fix3d));
}

#[test]
fn the_delft_drive_keeps_what_its_receiver_reported() {
    let drive = read_gpx(&path("gps/gpsbabel_sbn-v13.gpx")).unwrap();
    assert_eq!(drive.len(), 3453);
    let first = drive[0];
    assert_eq!(first.time, TimestampMs(1_265_027_498_545));
    assert_eq!((first.lat, first.lon), (51.995_454_3, 4.370_550_1));
    assert_eq!(first.heading, Some(338.779_999));
    assert_eq!(first.speed, Some(12.05));
    assert_eq!(
        (first.fix_type, first.satellites, first.hdop),
        (FixType::NoFix, 3, 3.2)
    );
    let three_d = drive
        .iter()
        .filter(|fix| fix.fix_type == FixType::Fix3d)
        .count();
    assert_eq!(three_d, 3307);
}

#[rstest]
#[case::rome_logger("gps/gpsbabel_mtk_logger_m241.gpx", 1199, FixType::Fix3d)]
#[case::visnjan_gpx_1_1("gps/gpxpy_around-visnjan-with-car.gpx", 104, FixType::NoFix)]
fn other_gpx_tracks_load_in_order(
    #[case] file: &str,
    #[case] points: usize,
    #[case] first: FixType,
) {
    let track = read_gpx(&path(file)).unwrap();
    assert_eq!(track.len(), points);
    assert_eq!(track[0].fix_type, first);
    assert!(track.windows(2).all(|pair| pair[0].time <= pair[1].time));
}

#[test]
fn the_berlin_traces_are_132_tracks_of_75000_points() {
    let traces = read_osrm_traces(&path("gps/osrm_berlin_gps_traces.csv.gz")).unwrap();
    assert_eq!(traces.len(), 132);
    assert_eq!(traces.iter().map(|t| t.points.len()).sum::<usize>(), 75_000);
    assert_eq!(traces[0].points[0], (12.924_943_3, 52.188_701_7));
    assert!(
        traces
            .iter()
            .flat_map(|t| &t.points)
            .all(|(lon, lat)| (12.0..15.0).contains(lon) && (51.0..54.0).contains(lat))
    );
}

#[test]
fn a_gpx_without_times_is_refused_with_the_point_named() {
    let (_dir, copy) = corrupted("gps/gpsbabel_sbn-v13.gpx", |bytes| {
        let text = String::from_utf8(bytes).unwrap();
        let second = text.match_indices("<time>2010").nth(1).unwrap().0;
        let end = second + text[second..].find("</time>").unwrap() + "</time>".len();
        format!("{}{}", &text[..second], &text[end..]).into_bytes()
    });
    let err = read_gpx(&copy).unwrap_err();
    assert!(
        matches!(err, Error::GpxWithoutTime { index: 1, .. }),
        "{err}"
    );
}

#[rstest]
#[case::truncated(truncated as fn(Vec<u8>) -> Vec<u8>, "not well-formed GPX")]
#[case::not_gpx(|_| b"<kml><Placemark/></kml>".to_vec(), "root element is <kml>")]
#[case::no_points(|_| b"<gpx version=\"1.1\"></gpx>".to_vec(), "no track points")]
#[case::bad_fix(|b| String::from_utf8(b).unwrap().replacen("<fix>3d</fix>", "<fix>4d</fix>", 1).into_bytes(), "fix \"4d\"")]
#[case::bad_lat(|b| String::from_utf8(b).unwrap().replacen("lat=\"51.995454300\"", "lat=\"95.1\"", 1).into_bytes(), "latitude 95.1")]
fn broken_gpx_files_say_what_is_wrong(#[case] edit: fn(Vec<u8>) -> Vec<u8>, #[case] says: &str) {
    let (_dir, copy) = corrupted("gps/gpsbabel_sbn-v13.gpx", edit);
    let message = read_gpx(&copy).unwrap_err().to_string();
    assert!(message.contains(says), "{message}");
    assert!(message.contains("sbn-v13.gpx"), "{message}");
}

#[rstest]
#[case::truncated(truncated as fn(Vec<u8>) -> Vec<u8>, "not a JSON array")]
#[case::bad_point(|b| String::from_utf8(b).unwrap().replacen("POINT(11.564388282625075 48.16350662940509)", "POINT(11.56)", 1).into_bytes(), "sample 0")]
#[case::bad_time(|b| String::from_utf8(b).unwrap().replacen("2014-09-10 06:54:08+0200", "yesterday", 1).into_bytes(), "sample 1")]
fn broken_barefoot_files_say_what_is_wrong(
    #[case] edit: fn(Vec<u8>) -> Vec<u8>,
    #[case] says: &str,
) {
    let (_dir, copy) = corrupted("gps/barefoot_munich_x0001-001.json", edit);
    let err = read_barefoot(&copy).unwrap_err();
    assert!(matches!(err, Error::Barefoot { .. }), "{err}");
    assert!(err.to_string().contains(says), "{err}");
}

#[test]
fn broken_osrm_traces_say_what_is_wrong() {
    let (_dir, copy) = corrupted("gps/osrm_berlin_gps_traces.csv.gz", truncated);
    let err = read_osrm_traces(&copy).unwrap_err();
    assert!(
        err.to_string().contains("not a complete gzip file"),
        "{err}"
    );

    let bad_row = "TrackID,Latitude,Longitude,Time\n0,52.1,12.9,\n0,north,12.9,\n";
    let err = datasets::parse_osrm_traces(bad_row, Path::new("traces.csv")).unwrap_err();
    assert!(matches!(err, Error::OsrmTraces { line: 3, .. }), "{err}");
    let err = datasets::parse_osrm_traces("id,lat,lon\n", Path::new("traces.csv")).unwrap_err();
    assert!(err.to_string().contains("header"), "{err}");
}

#[rstest]
#[case::truncated(truncated as fn(Vec<u8>) -> Vec<u8>)]
#[case::not_pbf(|_| b"this is not a protocol buffer".to_vec())]
fn broken_pbf_files_are_a_typed_error(#[case] edit: fn(Vec<u8>) -> Vec<u8>) {
    let (_dir, copy) = corrupted("roads/osrm_monaco.osm.pbf", edit);
    let err = datasets::RoadNetwork::from_pbf(&copy).unwrap_err();
    assert!(matches!(err, Error::Pbf { .. }), "{err}");
}

#[test]
fn a_missing_file_names_its_path() {
    let err = read_gpx(&path("gps/nowhere.gpx")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("nowhere.gpx"), "{err}");
}
