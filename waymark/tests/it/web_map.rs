//! The web page end to end: real dashcam frames uploaded over HTTP along the real Munich
//! drive go through the pipeline (OpenCV vision) into the tiles, the search index and the
//! public JSON routes; then Debian's headless Chromium, driven by Playwright
//! (`web-map/tests/browser/check.mjs`), uses the page as a contributor would.

use std::path::{Path, PathBuf};
use std::process::Command;

use model::{DeviceKeypair, Fix, FrameId, TimestampMs};
use rewards::EpochId;
use tiles::TileCoord;

use crate::live_tiles::{LANES, lane, munich, sign_up, upload_capture, wait_for_frames};
use crate::{Server, http_request};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The compass bearing from `a` to `b` in degrees, as a dashcam's GNSS would report it.
fn bearing(a: &Fix, b: &Fix) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlon = (b.lon - a.lon).to_radians();
    let y = dlon.sin() * lat2.cos();
    let x = lat1.cos() * lat2.sin() - lat1.sin() * lat2.cos() * dlon.cos();
    (y.atan2(x).to_degrees() + 360.0) % 360.0
}

/// A 1920×1080 cut of the Mapillary street photo around its real STOP sign (the whole
/// 3840×2160 photo is over the 2 MB upload limit).
fn stop_sign_frame() -> Vec<u8> {
    let path = datasets::path("images/geotagged/mapillary_DSC00001.JPG");
    let photo = image::load_from_memory(&std::fs::read(path).unwrap()).unwrap();
    let cut = photo.crop_imm(1920, 600, 1920, 1080);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&cut)
        .unwrap();
    jpeg
}

/// `count` frames of the Udacity dashcam video, `step` apart: other pictures than the lane
/// stills.
pub(crate) fn video_stills(count: usize, step: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let name = format!("frames/udacity_solidWhiteRight/frame_{:03}.jpg", i * step);
            std::fs::read(datasets::path(&name)).unwrap()
        })
        .collect()
}

/// Gives each fix the bearing to the next one (the last keeps the one before it).
fn with_headings(mut fixes: Vec<Fix>) -> Vec<Fix> {
    for i in 0..fixes.len() {
        let (from, to) = if i + 1 < fixes.len() {
            (i, i + 1)
        } else {
            (i - 1, i)
        };
        fixes[i].heading = Some(bearing(&fixes[from], &fixes[to]));
    }
    fixes
}

/// Polls the epoch list until `epoch` is closed (the server checks every second here);
/// returns its Merkle root.
pub(crate) fn wait_for_close(server: &Server, epoch: EpochId) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let epochs = server.get("/api/v1/rewards/epochs").json();
        let closed = epochs
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["epoch"] == epoch.to_string().as_str() && e["state"] == "closed");
        if let Some(closed) = closed {
            return closed["merkle_root"].as_str().unwrap().to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "epoch {epoch} never closed: {epochs}"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

fn get_with_token(server: &Server, path: &str, token: &str) -> crate::HttpResponse {
    http_request(
        server.addr,
        "GET",
        path,
        &[("Authorization", format!("Bearer {token}"))],
        &[],
    )
}

fn assert_problem(response: &crate::HttpResponse, status: u16, says: &str) {
    assert_eq!(response.status, status, "{}", response.body);
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json"),
        "{}",
        response.body
    );
    let detail = response.json()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains(says), "{detail}");
}

#[test]
fn a_contributor_uses_the_web_map_in_a_real_browser() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("waymark.toml");
    std::fs::write(&config, "[rewards]\nclose_check_secs = 1\n").unwrap();
    let server = Server::start(data.path(), &["--config", config.to_str().unwrap()]);
    let key = DeviceKeypair::from_seed([7; 32]);
    let drive = munich();
    // Today's capture: the lane stills, then the street photo with a STOP sign.
    let mut jpegs: Vec<Vec<u8>> = LANES.iter().map(|n| lane(n)).collect();
    jpegs.push(stop_sign_frame());
    let fixes = with_headings((0..jpegs.len()).map(|i| drive[300 + i * 4]).collect());
    let token = sign_up(server.addr, &key);
    let accepted = upload_capture(server.addr, &key, 1, &jpegs, &fixes);
    // A capture from the last week whose reward epoch may close, elsewhere along the drive.
    let due = EpochId::containing(TimestampMs::now().saturating_add_ms(-86_400_000)).previous();
    let driven = due.ends_at().saturating_add_ms(-3 * 3_600_000);
    let stills = video_stills(8, 5);
    let last_week = with_headings(
        (0..stills.len())
            .map(|i| Fix {
                time: driven.saturating_add_ms(i as i64 * 4_000),
                ..drive[700 + i * 4]
            })
            .collect(),
    );
    let paid = upload_capture(server.addr, &key, 2, &stills, &last_week);
    let root = wait_for_close(&server, due);
    // The first accepted frame along the drive.
    let (first_id, first_fix) = accepted
        .iter()
        .min_by_key(|(_, fix)| fix.time.as_millis())
        .unwrap();
    let ids: Vec<&String> = accepted.keys().collect();
    wait_for_frames(
        server.addr,
        TileCoord::containing(first_fix.lon, first_fix.lat, 14),
        &ids,
    );

    // The frame's public record: where, when, who, its sequence, its detections.
    let frame = server.get(&format!("/api/v1/frames/{first_id}")).json();
    assert_eq!(frame["id"], first_id.as_str());
    assert_eq!(frame["lat"], first_fix.lat);
    assert_eq!(frame["captured_at"], first_fix.time.as_millis());
    assert_eq!(frame["contributor"]["name"], "alice");
    assert!(frame["quality"].as_f64().unwrap() > 0.0, "{frame}");
    assert!(frame["sequence"]["previous"].is_null(), "{frame}");
    if accepted.len() > 1 {
        let next = frame["sequence"]["next"].as_str().unwrap();
        assert!(accepted.contains_key(next), "{frame}");
        let back = server.get(&format!("/api/v1/frames/{next}")).json();
        assert_eq!(back["sequence"]["previous"], first_id.as_str());
    }
    // Only the blurred public copy is served, never the upload itself.
    let image = server.get(&format!("/api/v1/frames/{first_id}/image.jpg"));
    assert_eq!(image.status, 200);
    assert_eq!(image.header("content-type"), Some("image/jpeg"));
    assert!(image.bytes.starts_with(&[0xFF, 0xD8]));
    assert_ne!(FrameId::of_bytes(&image.bytes).to_hex(), *first_id);
    let thumbnail = server.get(&format!("/api/v1/frames/{first_id}/thumbnail.jpg"));
    assert_eq!(thumbnail.status, 200);
    assert!(thumbnail.bytes.len() < image.bytes.len());

    // Unknown, malformed and rejected frames are problems, not pages.
    let unknown = "0".repeat(64);
    assert_problem(
        &server.get(&format!("/api/v1/frames/{unknown}")),
        404,
        "no accepted frame",
    );
    assert_problem(
        &server.get(&format!("/api/v1/frames/{unknown}/image.jpg")),
        404,
        "no accepted frame",
    );
    assert_problem(&server.get("/api/v1/frames/..%2F..%2Fetc"), 400, "sha256");
    let captures = get_with_token(&server, "/api/v1/contributors/me/captures", &token).json();
    let listed = captures["captures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|capture| capture["frames"].as_array().unwrap())
        .find(|frames| frames.iter().any(|f| f["sha256"] == first_id.as_str()))
        .expect("today's capture is listed");
    assert_eq!(listed.len(), jpegs.len());
    for rejected in listed.iter().filter(|f| f["status"] == "rejected") {
        assert!(rejected["reject_reason"].is_string(), "{rejected}");
        let id = rejected["sha256"].as_str().unwrap();
        assert_eq!(server.get(&format!("/api/v1/frames/{id}")).status, 404);
    }
    assert_problem(
        &get_with_token(&server, "/api/v1/contributors/me/captures", "wm_wrong"),
        401,
        "not known",
    );

    // The last week's epoch closed and paid alice for the cells her capture mapped.
    let contributor = frame["contributor"]["id"].as_str().unwrap().to_owned();
    let history = server
        .get(&format!("/api/v1/rewards/contributors/{contributor}"))
        .json();
    let amount = history
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["epoch"] == due.to_string().as_str())
        .unwrap_or_else(|| panic!("epoch {due} paid alice: {history}"))["amount"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(amount.parse::<u128>().unwrap() > 0, "{history}");
    let proof = server
        .get(&format!(
            "/api/v1/rewards/epochs/{due}/contributors/{contributor}"
        ))
        .json();
    assert_eq!(proof["merkle_root"], root.as_str(), "{proof}");
    let cells = proof["cells"].as_array().unwrap().len();
    assert!((1..=paid.len()).contains(&cells), "{proof}");

    // Search: the sign vision saw on the street photo.
    let sign = accepted.keys().find_map(|id| {
        let record = server.get(&format!("/api/v1/frames/{id}")).json();
        let class = record["detections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["kind"] == "sign")?["class"]
            .as_str()?
            .to_owned();
        Some((class, id.clone()))
    });
    let (class, search_frame) = sign.expect("vision finds the STOP sign of the street photo");
    assert_eq!(class, "stop", "the street photo's sign is a STOP sign");
    let stop_frame = FrameId::of_bytes(jpegs.last().unwrap()).to_hex();
    assert_eq!(search_frame, stop_frame);
    let search_text = class.replace('-', " ");
    let found = server
        .get(&format!("/api/v1/search?q={search_text}"))
        .json();
    assert!(
        found["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|hit| hit["frame"] == search_frame.as_str()),
        "{found}"
    );
    let near = server
        .get(&format!(
            "/api/v1/search?near={},{}&kind=frame",
            first_fix.lat, first_fix.lon
        ))
        .json();
    assert!(
        near["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|hit| hit["frame"] == first_id.as_str()),
        "{near}"
    );
    assert_problem(&server.get("/api/v1/search?q="), 400, "the search is empty");
    let leaders = server.get("/api/v1/rewards/leaderboard").json();
    assert_eq!(leaders["leaders"][0]["name"], "alice", "{leaders}");
    assert!(leaders["leaders"][0]["fresh_cells"].as_u64().unwrap() >= 1);
    assert_eq!(server.get("/api/v1/rewards/leaderboard?days=0").status, 400);
    assert_problem(
        &server.get("/api/v1/search?colour=red"),
        400,
        "parameters are",
    );

    // The routes are in the OpenAPI document; the page and MapLibre are served.
    let openapi = server.get("/api/v1/openapi.json").json();
    for path in [
        "/api/v1/frames/{sha256}",
        "/api/v1/frames/{sha256}/image.jpg",
        "/api/v1/search",
        "/api/v1/contributors/me/captures",
        "/api/v1/rewards/leaderboard",
        "/api/v1/rewards/epochs/{epoch}/contributors/{contributor}",
        "/tiles/{z}/{x}/{y}.mvt",
        "/style.json",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} is documented");
    }
    let page = server.get("/");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/assets/app.js"), "{}", page.body);
    let maplibre = server.get("/assets/maplibre/maplibre-gl.mjs");
    assert_eq!(
        maplibre.status, 200,
        "MapLibre is installed by scripts/setup (npm ci in web-map/)"
    );
    assert_eq!(server.get("/assets/maplibre/..%2Fpackage.json").status, 404);

    // The browser.
    let facts = serde_json::json!({
        "token": token,
        "name": "alice",
        "frame": { "id": first_id, "lat": first_fix.lat, "lon": first_fix.lon },
        "search": { "text": search_text, "frame": search_frame },
        "rewards": { "epoch": due.to_string(), "root": root, "amount": amount },
    });
    let steps = run_browser("check.mjs", &server, data.path(), &facts);
    for wanted in [
        "map renders coverage",
        "a frame click opens the viewer with its image",
        "search finds the known item and opens it",
        "the dashboard shows the contributor's frames",
        "the dashboard shows the account's trust: full, with no fraud finding",
        "the leaderboard ranks the contributor by fresh coverage",
        "a wrong token is a message",
        "the API down is a message",
        "the dashboard shows the rewards and copies a proof that verifies",
    ] {
        assert!(
            steps.iter().any(|s| s == wanted),
            "{wanted} was checked: {steps:?}"
        );
    }
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
}

/// Runs one of `web-map/tests/browser`'s scripts against the server with `facts`; fails the
/// test unless every step passed with no console error. Returns the names of the steps.
fn run_browser(
    script: &str,
    server: &Server,
    dir: &Path,
    facts: &serde_json::Value,
) -> Vec<String> {
    let facts_path = dir.join("facts.json");
    std::fs::write(&facts_path, facts.to_string()).unwrap();
    let screenshots = workspace().join("target/web-map-screenshots");
    let browser_dir = workspace().join("web-map/tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing in {}; run scripts/setup",
        browser_dir.display()
    );
    let run = Command::new("node")
        .arg(browser_dir.join(script))
        .arg(format!("http://{}", server.addr))
        .arg(&screenshots)
        .arg(&facts_path)
        .output()
        .expect("node runs (scripts/setup installs Node.js)");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    eprintln!("screenshots in {}", screenshots.display());
    let verdict: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|err| panic!("{script} printed no verdict ({err}): {stdout}\n{stderr}"));
    for step in verdict["steps"].as_array().unwrap() {
        eprintln!("browser: {} — {}", step["name"], step["detail"]);
    }
    assert_eq!(verdict["ok"], true, "{verdict:#}\n{stderr}");
    assert!(run.status.success(), "{stderr}");
    assert_eq!(verdict["console_errors"], serde_json::json!([]));
    verdict["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_map_consumer_uses_the_metered_map_in_a_real_browser() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("waymark.toml");
    std::fs::write(
        &config,
        "[metering]\nenabled = true\nflush_secs = 1\nfree_max_zoom = 12\n",
    )
    .unwrap();
    let server = Server::start(data.path(), &["--config", config.to_str().unwrap()]);
    let key = DeviceKeypair::from_seed([9; 32]);
    let drive = munich();
    let jpegs: Vec<Vec<u8>> = LANES.iter().map(|n| lane(n)).collect();
    let fixes = with_headings((0..jpegs.len()).map(|i| drive[300 + i * 4]).collect());
    let token = sign_up(server.addr, &key);
    let accepted = upload_capture(server.addr, &key, 1, &jpegs, &fixes);
    let (frame_id, fix) = accepted
        .iter()
        .min_by_key(|(_, fix)| fix.time.as_millis())
        .unwrap();
    crate::metering::wait_for_free_tile(&server, fix);
    // The contributor is a map consumer too: the operator grants the account credits.
    let me = get_with_token(&server, "/api/v1/contributors/me", &token).json();
    let account = me["id"].as_str().unwrap();
    let credits = 5_000;
    let granted = crate::output(crate::waymark(&[
        "--data",
        data.path().to_str().unwrap(),
        "credits",
        "grant",
        "--account",
        account,
        &credits.to_string(),
    ]));
    assert!(
        granted.status.success(),
        "{}",
        String::from_utf8_lossy(&granted.stderr)
    );
    let terms = server.get("/api/v1/metering").json();
    assert_eq!(terms["enabled"], true, "{terms}");
    assert_eq!(terms["free_max_zoom"], 12, "{terms}");

    let facts = serde_json::json!({
        "token": token,
        "frame": { "id": frame_id, "lat": fix.lat, "lon": fix.lon },
        "credits": credits,
        "free_max_zoom": 12,
    });
    let steps = run_browser("metered.mjs", &server, data.path(), &facts);
    assert!(steps.len() >= 10, "{steps:?}");

    // What the page did is what the server counted: the key is revoked, and the account's
    // balance is the grant less every credit the usage lists.
    let usage = get_with_token(&server, "/api/v1/usage?days=1", &token).json();
    let spent: i64 = usage["by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["credits"].as_i64().unwrap())
        .sum();
    assert!(spent > 0, "{usage}");
    assert_eq!(usage["balance"], credits - spent, "{usage}");
    let keys = get_with_token(&server, "/api/v1/keys", &token).json();
    assert!(
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| !k["revoked_at"].is_null()),
        "{keys}"
    );
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
}
