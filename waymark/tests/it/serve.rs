//! `waymark serve`: health, metrics, graceful shutdown, and what the data directory holds.

use crate::{Server, http_get};

#[test]
fn serves_health_and_metrics_then_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);

    let health = server.get("/health");
    assert_eq!(health.status, 200, "{health:?}");
    let body: serde_json::Value = serde_json::from_str(&health.body).unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");

    let missing = server.get("/no/such/route");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
    let problem: serde_json::Value = serde_json::from_str(&missing.body).unwrap();
    assert_eq!(problem["type"], "https://waymark.dev/problems/not-found");
    assert_eq!(problem["status"], 404);

    // The ingest routes are mounted: an unauthenticated account request is refused.
    let me = server.get("/api/v1/contributors/me");
    assert_eq!(me.status, 401, "{me:?}");
    assert!(
        me.body
            .contains("https://waymark.dev/problems/unauthorized"),
        "{me:?}"
    );

    let metrics = http_get(server.addr, "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        metrics.body.contains(
            r#"waymark_http_requests_total{method="GET",route="/health",status="200"} 1"#
        ),
        "{}",
        metrics.body
    );
    assert!(
        metrics.body.contains(r#"route="unmatched",status="404""#),
        "{}",
        metrics.body
    );
    assert!(
        metrics.body.contains(r#"waymark_jobs{state="queued"} 0"#),
        "{}",
        metrics.body
    );

    let (exit, stderr) = server.terminate();
    assert!(exit.success(), "exit {exit:?}: {stderr}");
    assert!(stderr.contains("stopped cleanly"), "{stderr}");
    assert!(
        stderr.contains("effective settings"),
        "settings are logged at start: {stderr}"
    );

    // Everything landed under the data directory.
    for entry in ["waymark.db", "blobs", "search"] {
        assert!(
            data.path().join(entry).exists(),
            "{entry} missing under the data directory"
        );
    }
}

#[test]
fn a_restarted_server_reopens_the_same_data() {
    let data = tempfile::tempdir().unwrap();
    let first = Server::start(data.path(), &[]);
    assert_eq!(first.get("/health").status, 200);
    let (exit, _) = first.terminate();
    assert!(exit.success());
    let second = Server::start(data.path(), &[]);
    assert_eq!(second.get("/health").status, 200);
}
