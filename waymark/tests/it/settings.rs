//! Settings layering and the one-line errors of bad configuration.

use std::net::TcpListener;

use rstest::rstest;

use crate::{output, waymark};

fn stderr_of(command: std::process::Command) -> (i32, String) {
    let out = output(command);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("waymark.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9001\"\ndata_dir = \"/srv/from-file\"\nlog = \"debug\"\n[store]\ndatabase_url = \"sqlite:///srv/db/waymark.db\"\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();

    let from_file = output(waymark(&["--config", config, "config"]));
    let text = String::from_utf8(from_file.stdout).unwrap();
    assert!(text.contains("listen = \"127.0.0.1:9001\""), "{text}");
    assert!(
        text.contains("database_url = \"sqlite:///srv/db/waymark.db\""),
        "{text}"
    );

    let mut with_env = waymark(&["--config", config, "config"]);
    with_env
        .env("WAYMARK_LISTEN", "127.0.0.1:9002")
        .env("WAYMARK_STORE__DATABASE_URL", "sqlite:///env.db");
    let text = String::from_utf8(output(with_env).stdout).unwrap();
    assert!(text.contains("listen = \"127.0.0.1:9002\""), "{text}");
    assert!(
        text.contains("database_url = \"sqlite:///env.db\""),
        "{text}"
    );
    assert!(
        text.contains("log = \"debug\""),
        "untouched keys keep the file's value: {text}"
    );

    let defaults = String::from_utf8(output(waymark(&["config"])).stdout).unwrap();
    assert!(
        defaults.contains("listen = \"127.0.0.1:8080\""),
        "{defaults}"
    );
    assert!(defaults.contains("data_dir = \"data\""), "{defaults}");
}

#[rstest]
#[case::unknown_key("listne = \"127.0.0.1:1\"\n", "listne")]
#[case::unknown_nested_key("[store]\ndatabse_url = \"x\"\n", "databse_url")]
#[case::bad_address("listen = \"not an address\"\n", "listen")]
#[case::not_toml("listen = \n", "invalid settings")]
#[case::curve_without_start("[rewards]\nemission_curve = \"halving\"\n", "emission_start")]
#[case::unknown_curve("[rewards]\nemission_curve = \"linear\"\n", "linear")]
#[case::share_over_all(
    "[rewards]\nconsumption_share_ppm = 1000001\n",
    "consumption_share_ppm"
)]
#[case::discovery_over_all("[rewards]\ndiscovery_share_ppm = 1000001\n", "discovery_share_ppm")]
fn bad_settings_files_are_one_line_errors(#[case] content: &str, #[case] named: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, content).unwrap();
    let (code, stderr) = stderr_of(waymark(&["--config", file.to_str().unwrap(), "serve"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(named), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn unknown_environment_keys_are_refused_too() {
    let mut command = waymark(&["config"]);
    command.env("WAYMARK_LISTNE", "127.0.0.1:1");
    let (code, stderr) = stderr_of(command);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("listne"), "{stderr}");
}

#[test]
fn a_missing_settings_file_says_so() {
    let (code, stderr) = stderr_of(waymark(&["--config", "/nonexistent/waymark.toml", "serve"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("/nonexistent/waymark.toml does not exist"),
        "{stderr}"
    );
}

#[test]
fn unsupported_store_urls_name_the_fix() {
    let data = tempfile::tempdir().unwrap();
    let mut command = waymark(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        data.path().to_str().unwrap(),
    ]);
    command.env("WAYMARK_STORE__DATABASE_URL", "mysql://localhost/waymark");
    let (code, stderr) = stderr_of(command);
    assert_eq!(code, 2, "{stderr}");
    let last = stderr.trim_end().lines().last().unwrap();
    assert!(last.starts_with("error: "), "{stderr}");
    assert!(
        last.contains("mysql") && last.contains("sqlite://"),
        "{stderr}"
    );
}

#[test]
fn an_unusable_data_directory_names_the_fix() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let under_a_file = file.path().join("data");
    let (code, stderr) = stderr_of(waymark(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        under_a_file.to_str().unwrap(),
    ]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("pass --data with a writable directory"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[rstest::rstest]
#[case::missing(None)]
#[case::truncated(Some(4_096))]
fn a_road_network_that_cannot_be_read_stops_the_server(#[case] kept: Option<usize>) {
    let data = tempfile::tempdir().unwrap();
    let pbf = data.path().join("region.osm.pbf");
    if let Some(kept) = kept {
        let whole = std::fs::read(datasets::path("roads/osrm_monaco.osm.pbf")).unwrap();
        std::fs::write(&pbf, &whole[..kept]).unwrap();
    }
    let mut command = waymark(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        data.path().to_str().unwrap(),
    ]);
    command.env("WAYMARK_INGEST__ROADS", &pbf);
    let (code, stderr) = stderr_of(command);
    assert_eq!(code, 2, "{stderr}");
    let last = stderr.trim_end().lines().last().unwrap();
    assert!(
        last.contains("[ingest] roads") && last.contains("region.osm.pbf"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_port_in_use_names_the_fix() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let (code, stderr) = stderr_of(waymark(&[
        "serve",
        "--listen",
        &addr,
        "--data",
        data.path().to_str().unwrap(),
    ]));
    assert_eq!(code, 2, "{stderr}");
    let last = stderr.trim_end().lines().last().unwrap();
    assert!(
        last.contains("already in use") && last.contains("--listen"),
        "{stderr}"
    );
}

#[test]
fn help_reads_well() {
    let out = output(waymark(&["--help"]));
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("open dashcam-mapping network"), "{help}");
    assert!(help.contains("serve") && help.contains("config"), "{help}");
    let serve_help = String::from_utf8(output(waymark(&["serve", "--help"])).stdout).unwrap();
    assert!(
        serve_help.contains("--listen <ADDR>") && serve_help.contains("--data <DIR>"),
        "{serve_help}"
    );
}

#[test]
fn the_settings_template_is_valid_and_shows_the_defaults() {
    let template = concat!(env!("CARGO_MANIFEST_DIR"), "/../waymark.example.toml");
    let from_template = output(waymark(&["--config", template, "config"]));
    assert!(
        from_template.status.success(),
        "{}",
        String::from_utf8_lossy(&from_template.stderr)
    );
    let defaults = output(waymark(&["config"]));
    assert_eq!(from_template.stdout, defaults.stdout);
}

/// An operator's own detector that cannot serve stops `waymark vision analyze` (and the
/// worker, which loads vision the same way) with one line naming the file or the key, and
/// nothing is written.
#[rstest]
#[case::missing_file(
    "model = \"/nonexistent/plates.onnx\"\nplate_class = 0\n",
    "/nonexistent/plates.onnx"
)]
#[case::no_class(
    "model = \"/nonexistent/plates.onnx\"\n",
    "vision.detectors[0].plate_class"
)]
#[case::odd_input(
    "model = \"/nonexistent/plates.onnx\"\nplate_class = 0\ninput = [640, 500]\n",
    "vision.detectors[0].input"
)]
#[case::typo("model = \"/nonexistent/plates.onnx\"\nplate_clas = 0\n", "plate_clas")]
fn a_named_detector_that_cannot_serve_stops_vision(#[case] entry: &str, #[case] named: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("waymark.toml");
    std::fs::write(&file, format!("[[vision.detectors]]\n{entry}")).unwrap();
    let out = dir.path().join("out");
    let frame = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../datasets/images/udacity_lanes/solidWhiteRight.jpg"
    );
    let (code, stderr) = stderr_of(waymark(&[
        "--config",
        file.to_str().unwrap(),
        "vision",
        "analyze",
        "--out",
        out.to_str().unwrap(),
        frame,
    ]));
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains(named), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!out.exists(), "nothing is written");
}
