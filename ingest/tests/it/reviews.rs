//! The review queue through the real routes and store: a replay the upload judge flags opens
//! a case; only an operator lists and decides cases; the device's owner sees why and may
//! appeal once; clearing takes the fraud off the frames and gives the trust back.

use actix_web::http::StatusCode;
use actix_web::{App, test};
use model::{CaptureId, CaptureManifest, DeviceKeypair, FrameId};
use serde_json::{Value, json};
use store::{ContributorRole, Store};

use crate::{LANES, image, munich_manifest, post_capture, put_frame};

fn get(uri: &str, bearer: &(&str, String)) -> test::TestRequest {
    test::TestRequest::get()
        .uri(uri)
        .insert_header(bearer.clone())
}

fn post(uri: &str, bearer: &(&str, String), body: Value) -> test::TestRequest {
    test::TestRequest::post()
        .uri(uri)
        .insert_header(bearer.clone())
        .set_json(body)
}

#[actix_web::test]
async fn a_flagged_replay_is_reviewed_appealed_and_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&crate::backends::store_config(dir.path()).await)
        .await
        .unwrap();
    let app = test::init_service(App::new().configure(ingest::configure(store.clone()))).await;
    let key = DeviceKeypair::from_seed([7; 32]);
    let alice = sign_up_with_device!(app, "Alice", key);
    let jpegs: Vec<Vec<u8>> = LANES
        .iter()
        .map(|name| image(&format!("udacity_lanes/{name}")))
        .collect();
    let ids: Vec<FrameId> = jpegs.iter().map(|j| FrameId::of_bytes(j)).collect();
    for jpeg in &jpegs {
        call!(app, put_frame(&key, jpeg.clone()));
    }
    let original = munich_manifest(8, &key, &ids);
    let (body, signature) = original.sign(&key);
    let (status, _) = call!(app, post_capture(body, &signature));
    assert_eq!(status, StatusCode::ACCEPTED);
    // Nothing flagged yet: no case, full trust.
    let (status, mine) = call!(app, get("/api/v1/contributors/me/reputation", &alice));
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["reputation_ppm"], 1_000_000);
    assert_eq!(mine["devices"][0]["cases"], json!([]));

    // The same frames passed off as a drive of the day before: a replay, and a case.
    let mut later = CaptureManifest {
        capture_id: CaptureId::new(),
        ..original.clone()
    };
    for entry in &mut later.frames {
        entry.fix.time = entry.fix.time.saturating_add_ms(-86_400_000);
    }
    let (body, signature) = later.sign(&key);
    let (_, relabelled) = call!(app, post_capture(body, &signature));
    assert_eq!(relabelled["counts"]["rejected"], 6, "{relabelled}");

    let (_, mine) = call!(app, get("/api/v1/contributors/me/reputation", &alice));
    let cases = mine["devices"][0]["cases"].as_array().unwrap().clone();
    assert_eq!(cases.len(), 1, "{mine}");
    let case = &cases[0];
    assert_eq!(
        (
            case["reason"].as_str(),
            case["status"].as_str(),
            case["frames"].as_u64()
        ),
        (Some("replay"), Some("open"), Some(6))
    );
    assert!(
        case["advice"]
            .as_str()
            .unwrap()
            .contains("already uploaded")
    );
    // A standing finding halves the device's trust.
    assert_eq!(mine["reputation_ppm"], 500_000, "{mine}");
    let id = case["id"].as_str().unwrap().to_owned();

    // The queue is for operators only.
    let (status, problem) = call!(app, get("/api/v1/reviews", &alice));
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(problem["type"], "https://waymark.dev/problems/forbidden");
    let decision = format!("/api/v1/reviews/{id}/decision");
    let (status, _) = call!(
        app,
        post(
            &decision,
            &alice,
            json!({"decision": "clear", "note": "mine"})
        )
    );
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call!(app, test::TestRequest::get().uri("/api/v1/reviews"));
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let operator_key = DeviceKeypair::from_seed([8; 32]);
    let operator = sign_up_with_device!(app, "Olga", operator_key);
    let (_, me) = call!(app, get("/api/v1/contributors/me", &operator));
    let olga: model::ContributorId = me["id"].as_str().unwrap().parse().unwrap();
    assert!(
        store
            .db
            .set_contributor_role(olga, ContributorRole::Admin)
            .await
            .unwrap()
    );
    let (status, open) = call!(app, get("/api/v1/reviews?status=open", &operator));
    assert_eq!(status, StatusCode::OK, "{open}");
    assert_eq!(open["cases"].as_array().unwrap().len(), 1);
    assert_eq!(open["cases"][0]["id"], id.as_str());
    // Bad filters and bodies are named.
    for (uri, needle) in [
        ("/api/v1/reviews?status=maybe", "not a case status"),
        ("/api/v1/reviews?limit=0", "limit"),
        ("/api/v1/reviews?limit=9999", "limit"),
        ("/api/v1/reviews?sort=age", "bad query"),
    ] {
        let (status, problem) = call!(app, get(uri, &operator));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            problem["detail"].as_str().unwrap().contains(needle),
            "{uri}: {problem}"
        );
    }
    for (body, needle) in [
        (
            json!({"decision": "maybe", "note": "x"}),
            "neither confirm nor clear",
        ),
        (json!({"decision": "clear", "note": "   "}), "note must be"),
        (
            json!({"decision": "clear", "note": "x".repeat(2_001)}),
            "note must be",
        ),
        (json!({"decision": "clear"}), "not valid JSON"),
        (
            json!({"decision": "clear", "note": "x", "extra": 1}),
            "not valid JSON",
        ),
    ] {
        let (status, problem) = call!(app, post(&decision, &operator, body.clone()));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(needle),
            "{body}: {problem}"
        );
    }
    let (status, problem) = call!(
        app,
        post(
            "/api/v1/reviews/no-such-case/decision",
            &operator,
            json!({"decision": "confirm", "note": "x"})
        )
    );
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");

    // Confirmed: it stands.
    let (status, confirmed) = call!(
        app,
        post(
            &decision,
            &operator,
            json!({"decision": "confirm", "note": "the same frames a day apart"})
        )
    );
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(confirmed["decided_by"], olga.to_string());
    let (status, problem) = call!(
        app,
        post(
            &decision,
            &operator,
            json!({"decision": "clear", "note": "changed my mind"})
        )
    );
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a decided case is not decided again"
    );
    assert_eq!(problem["type"], "https://waymark.dev/problems/case-state");

    // Only the owner appeals, once; the case goes back to the queue.
    let appeal = format!("/api/v1/reviews/{id}/appeal");
    let (status, _) = call!(app, post(&appeal, &operator, json!({"text": "not mine"})));
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another account's case is not found"
    );
    let (status, appealed) = call!(
        app,
        post(&appeal, &alice, json!({"text": "my clock was a day off"}))
    );
    assert_eq!(status, StatusCode::OK, "{appealed}");
    assert_eq!(appealed["status"], "appealed");
    assert_eq!(appealed["appeal"], "my clock was a day off");
    let (status, _) = call!(app, post(&appeal, &alice, json!({"text": "again"})));
    assert_eq!(status, StatusCode::CONFLICT, "one appeal per case");
    let (_, queue) = call!(app, get("/api/v1/reviews?status=appealed", &operator));
    assert_eq!(queue["cases"].as_array().unwrap().len(), 1);

    // Cleared on the second look: the frames lose the fraud, the device its finding.
    let (status, cleared) = call!(
        app,
        post(
            &decision,
            &operator,
            json!({"decision": "clear", "note": "clock fault, confirmed by the log"})
        )
    );
    assert_eq!(status, StatusCode::OK, "{cleared}");
    assert_eq!(cleared["status"], "cleared");
    let (_, status_page) = call!(app, crate::capture_status(&key, later.capture_id));
    assert!(
        status_page["frames"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["reject_reason"] == "review-cleared"),
        "{status_page}"
    );
    let (_, mine) = call!(app, get("/api/v1/contributors/me/reputation", &alice));
    assert_eq!(mine["reputation_ppm"], 1_000_000, "{mine}");
    assert_eq!(mine["devices"][0]["cases"][0]["status"], "cleared");
    assert_eq!(
        mine["devices"][0]["cases"][0]["decision_note"],
        "clock fault, confirmed by the log"
    );
    // The original capture was never touched.
    let counts = store.db.frame_counts().await.unwrap();
    assert!(counts.contains(&("pending".to_owned(), 6)), "{counts:?}");
}
