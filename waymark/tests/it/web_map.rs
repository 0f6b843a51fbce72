//! The web page end to end: real dashcam frames uploaded over HTTP along the real Munich
//! drive go through the pipeline (OpenCV vision) into the tiles, the search index and the
//! public JSON routes; then Debian's headless Chromium, driven by Playwright
//! (`web-map/tests/browser/check.mjs`), uses the page as a contributor would.

use std::path::{Path, PathBuf};
use std::process::Command;

use model::{DeviceKeypair, Fix, FrameId};
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
    let server = Server::start(data.path(), &[]);
    let key = DeviceKeypair::from_seed([7; 32]);
    let drive = munich();
    let jpegs: Vec<Vec<u8>> = LANES.iter().map(|n| lane(n)).collect();
    let mut fixes: Vec<Fix> = (0..jpegs.len()).map(|i| drive[300 + i * 4]).collect();
    for i in 0..fixes.len() {
        let (from, to) = if i + 1 < fixes.len() {
            (i, i + 1)
        } else {
            (i - 1, i)
        };
        fixes[i].heading = Some(bearing(&fixes[from], &fixes[to]));
    }
    let token = sign_up(server.addr, &key);
    let accepted = upload_capture(server.addr, &key, 1, &jpegs, &fixes);
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
    let listed = captures["captures"][0]["frames"].as_array().unwrap();
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

    // Search: by what vision saw if it saw a sign, else by the contributor.
    let contributor = frame["contributor"]["id"].as_str().unwrap().to_owned();
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
    let (search_text, search_frame) = match &sign {
        Some((class, id)) => (class.replace('-', " "), id.clone()),
        None => (contributor.clone(), first_id.clone()),
    };
    eprintln!(
        "searching for {search_text:?}: {}",
        if sign.is_some() {
            "a sign vision detected on the real frames"
        } else {
            "no sign was detected on the real frames, so by contributor"
        }
    );
    let query = if sign.is_some() {
        format!("q={}", search_text.replace(' ', "+"))
    } else {
        format!("contributor={contributor}")
    };
    let found = server.get(&format!("/api/v1/search?{query}")).json();
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
    });
    let facts_path = data.path().join("facts.json");
    std::fs::write(&facts_path, facts.to_string()).unwrap();
    let screenshots = workspace().join("target/web-map-screenshots");
    let browser_dir = workspace().join("web-map/tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing in {}; run scripts/setup",
        browser_dir.display()
    );
    let run = Command::new("node")
        .arg(browser_dir.join("check.mjs"))
        .arg(format!("http://{}", server.addr))
        .arg(&screenshots)
        .arg(&facts_path)
        .output()
        .expect("node runs (scripts/setup installs Node.js)");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    eprintln!("screenshots in {}", screenshots.display());
    let verdict: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|err| panic!("check.mjs printed no verdict ({err}): {stdout}\n{stderr}"));
    for step in verdict["steps"].as_array().unwrap() {
        eprintln!("browser: {} — {}", step["name"], step["detail"]);
    }
    assert_eq!(verdict["ok"], true, "{verdict:#}\n{stderr}");
    assert!(run.status.success(), "{stderr}");
    assert_eq!(verdict["console_errors"], serde_json::json!([]));
    let steps: Vec<&str> = verdict["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for wanted in [
        "map renders coverage",
        "a frame click opens the viewer with its image",
        "search finds the known item and opens it",
        "the dashboard shows the contributor's frames",
        "the leaderboard ranks the contributor by fresh coverage",
        "a wrong token is a message",
    ] {
        assert!(steps.contains(&wanted), "{wanted} was checked: {steps:?}");
    }
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
}
