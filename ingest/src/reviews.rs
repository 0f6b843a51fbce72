//! The review queue and reputation routes:
//!
//! - `GET /api/v1/reviews?status=&limit=` (admin): fraud cases, oldest first. A case held
//!   `unvouched-place` names the captures that caught its device (`caught_by`).
//! - `POST /api/v1/reviews/{id}/decision` (admin): `{"decision": "confirm" | "clear",
//!   "note": "…"}`. Clearing takes the fraud off the case's frames; a capture held for
//!   review is processed again (its originals were kept for it), confirming one deletes
//!   them ([`decide_case`], which `waymark admin decide` uses too).
//! - `POST /api/v1/reviews/{id}/appeal` (the device's owner): `{"text": "…"}`, once; the
//!   case goes back to the queue.
//! - `GET /api/v1/contributors/me/reputation` (the owner): each device's reputation and the
//!   cases behind it, with the advice for each reason.
//!
//! Never does: judge frames (the upload judge opens cases) or weigh rewards (the rewards
//! shell reads the same findings at an epoch's close).

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use model::reputation::{FULL_PPM, reputation_ppm};
use model::roads::DEVICE_WINDOW_MS;
use model::{DeviceId, RejectReason, TimestampMs};
use serde::Deserialize;
use serde_json::json;
use store::{CaseQuery, CaseStatus, Contributor, ContributorRole, Decision, FraudCase, Store};

use crate::accounts::authenticate;
use crate::problem::{ApiError, ApiResult, json_body};
use crate::uploads::{BodyDeadline, read_limited};

/// Longest decision note or appeal, in characters.
pub const MAX_TEXT_CHARS: usize = 2_000;
/// Most cases one page lists.
pub const MAX_CASES: u32 = 500;
const MAX_BODY_BYTES: usize = 16 * 1024;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/api/v1/reviews", web::get().to(list_cases))
        .route("/api/v1/reviews/{id}/decision", web::post().to(decide))
        .route("/api/v1/reviews/{id}/appeal", web::post().to(appeal))
        .route(
            "/api/v1/contributors/me/reputation",
            web::get().to(my_reputation),
        );
}

async fn admin(store: &Store, request: &HttpRequest) -> ApiResult<Contributor> {
    let account = authenticate(store, request).await?;
    if account.role != ContributorRole::Admin {
        return Err(ApiError::Forbidden(
            "the review queue is for operators (`waymark admin grant`)".into(),
        ));
    }
    Ok(account)
}

/// Most captures a case held `unvouched-place` names as the ones that caught its device.
pub const MAX_CAUGHT_BY: u32 = 20;

/// Where the captures that caught a device are looked for, for a case the place rule's
/// device judgement opened (`unvouched-place`): the device's `unlike-place` cases with their
/// first frame a week ([`DEVICE_WINDOW_MS`]) either side of the case's. The worker counted
/// those of the week before the capture and after; the rewards close those of the capture's
/// epoch (a week). `None` for every other reason.
pub fn caught_window(case: &FraudCase) -> Option<(TimestampMs, TimestampMs)> {
    (case.reason == RejectReason::UnvouchedPlace).then(|| {
        (
            case.first_frame_at.saturating_add_ms(-DEVICE_WINDOW_MS),
            case.first_frame_at.saturating_add_ms(DEVICE_WINDOW_MS + 1),
        )
    })
}

/// For each case held `unvouched-place` among `cases`, the device's captures held
/// `unlike-place` that made it caught ([`caught_window`], at most [`MAX_CAUGHT_BY`]), by
/// case id: one read for a page of cases. Cases of other reasons have no entry.
pub async fn caught_by(
    store: &Store,
    cases: &[FraudCase],
) -> Result<HashMap<String, Vec<FraudCase>>, store::Error> {
    let asks: Vec<(String, DeviceId, (TimestampMs, TimestampMs))> = cases
        .iter()
        .filter_map(|case| Some((case.id.clone(), case.device, caught_window(case)?)))
        .collect();
    let mut by_case: HashMap<String, Vec<FraudCase>> = asks
        .iter()
        .map(|(id, ..)| (id.clone(), Vec::new()))
        .collect();
    if asks.is_empty() {
        return Ok(by_case);
    }
    for (id, held) in store
        .db
        .devices_cases_held(RejectReason::UnlikePlace, &asks, MAX_CAUGHT_BY)
        .await?
    {
        by_case.entry(id).or_default().push(held);
    }
    Ok(by_case)
}

/// Cases as the routes show them. A case held `unvouched-place` also names, in `caught_by`,
/// the device's captures held `unlike-place` that made it caught ([`caught_by`]): what a
/// reviewer weighs, and what the owner can appeal.
async fn case_views(store: &Store, cases: &[FraudCase]) -> ApiResult<Vec<serde_json::Value>> {
    let caught = caught_by(store, cases).await?;
    Ok(cases
        .iter()
        .map(|case| {
            let mut view = case_json(case);
            if let Some(held) = caught.get(&case.id) {
                view["caught_by"] = held
                    .iter()
                    .map(|held| {
                        json!({
                            "id": held.id,
                            "capture": held.capture,
                            "first_frame_at": held.first_frame_at,
                            "status": held.status.as_str(),
                        })
                    })
                    .collect();
            }
            view
        })
        .collect())
}

/// [`case_views`] of one case.
async fn case_view(store: &Store, case: &FraudCase) -> ApiResult<serde_json::Value> {
    let mut views = case_views(store, std::slice::from_ref(case)).await?;
    Ok(views.pop().unwrap_or_default())
}

fn case_json(case: &FraudCase) -> serde_json::Value {
    json!({
        "id": case.id,
        "device": case.device,
        "capture": case.capture,
        "reason": case.reason,
        "advice": case.reason.advice(),
        "frames": case.frame_count,
        "first_frame_at": case.first_frame_at,
        "opened_at": case.opened_at,
        "status": case.status.as_str(),
        "decided_by": case.decided_by,
        "decided_at": case.decided_at,
        "decision_note": case.decision_note,
        "appeal": case.appeal,
        "appealed_at": case.appealed_at,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

/// Fraud cases, oldest first; `status` (open, appealed, confirmed, cleared) filters them.
#[utoipa::path(get, path = "/api/v1/reviews", tag = "reviews", security(("bearer" = [])),
    params(("status" = Option<String>, Query, description = "open, appealed, confirmed or cleared"),
           ("limit" = Option<u32>, Query, description = "at most 500, 100 by default")),
    responses((status = 200, description = "The cases"),
              (status = 400, description = "Bad status or limit (problem+json)"),
              (status = 401, description = "Missing or unknown token (problem+json)"),
              (status = 403, description = "Not an operator (problem+json)")))]
pub(crate) async fn list_cases(
    store: web::Data<Store>,
    request: HttpRequest,
) -> ApiResult<HttpResponse> {
    admin(&store, &request).await?;
    let params = web::Query::<ListParams>::from_query(request.query_string())
        .map_err(|err| ApiError::Invalid(format!("bad query: {err}")))?
        .into_inner();
    let status = params
        .status
        .as_deref()
        .map(str::parse::<CaseStatus>)
        .transpose()
        .map_err(ApiError::Invalid)?;
    let limit = params.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_CASES {
        return Err(ApiError::Invalid(format!("limit must be 1 to {MAX_CASES}")));
    }
    let cases = store
        .db
        .fraud_cases(&CaseQuery {
            status,
            devices: None,
            limit,
        })
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "cases": case_views(&store, &cases).await?,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    decision: String,
    note: String,
}

/// A note or appeal text: trimmed, 1 to [`MAX_TEXT_CHARS`] characters.
fn text(value: &str, what: &str) -> ApiResult<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::Invalid(format!(
            "{what} must be 1 to {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(trimmed.to_owned())
}

/// Confirm or clear a case awaiting review, with a note saying why.
#[utoipa::path(post, path = "/api/v1/reviews/{id}/decision", tag = "reviews", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, description = "The decided case"),
              (status = 400, description = "Bad decision or note (problem+json)"),
              (status = 401, description = "Missing or unknown token (problem+json)"),
              (status = 403, description = "Not an operator (problem+json)"),
              (status = 409, description = "The case is not awaiting review (problem+json)")))]
pub(crate) async fn decide(
    store: web::Data<Store>,
    deadline: web::Data<BodyDeadline>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let reviewer = admin(&store, &request).await?;
    let body = read_limited(payload, MAX_BODY_BYTES, "the body", &deadline).await?;
    let body: DecisionBody = json_body(&body)?;
    let decision = match body.decision.as_str() {
        "confirm" => Decision::Confirm,
        "clear" => Decision::Clear,
        other => {
            return Err(ApiError::Invalid(format!(
                "decision {:?} is neither confirm nor clear",
                other.chars().take(40).collect::<String>()
            )));
        }
    };
    let note = text(&body.note, "note")?;
    let case = decide_case(
        &store,
        &path,
        decision,
        reviewer.id,
        &note,
        TimestampMs::now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(case_view(&store, &case).await?))
}

/// Records a reviewer's decision on case `id`, with what it means for a capture held for
/// review ([`RejectReason::is_held_for_review`]), whose frames the worker held with their
/// originals kept:
/// - cleared, its held frames go back to `pending` and are processed again, without the
///   hold (the worker asks [`store::Db::hold_cleared`]), in the same transaction as the
///   decision; if an original is gone they become `review-cleared`, as fraud findings do;
/// - confirmed, the originals are deleted (nothing unblurred is kept for a cheat; a later
///   appeal that clears it leaves the frames `review-cleared`).
pub async fn decide_case(
    store: &Store,
    id: &str,
    decision: Decision,
    by: model::ContributorId,
    note: &str,
    at: TimestampMs,
) -> Result<FraudCase, store::Error> {
    let held = match store.db.fraud_case(id).await? {
        Some(case) if case.reason.is_held_for_review() => {
            let frames = store
                .db
                .frames_rejected_for(case.capture, case.reason)
                .await?;
            Some((case, frames))
        }
        _ => None,
    };
    let mut reprocess = None;
    if let (Decision::Clear, Some((case, frames))) = (decision, &held) {
        let mut kept = !frames.is_empty();
        for frame in frames {
            kept &= store
                .blobs
                .exists(&store::BlobKey::original_frame(frame))
                .await?;
        }
        if kept {
            reprocess = Some(
                store::NewJob::new(
                    crate::uploads::PROCESS_CAPTURE_JOB,
                    &json!({ "capture": case.capture }),
                )?
                .dedup_key(format!("cleared:{}", case.id)),
            );
        }
    }
    let decided = store
        .db
        .decide_case(id, decision, by, note, at, reprocess.as_ref())
        .await?;
    if let (Decision::Confirm, Some((_, frames))) = (decision, &held) {
        for frame in frames {
            store
                .blobs
                .delete(&store::BlobKey::original_frame(frame))
                .await?;
        }
    }
    Ok(decided)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppealBody {
    text: String,
}

/// Appeal a case against one of your devices, once: it goes back to the reviewers.
#[utoipa::path(post, path = "/api/v1/reviews/{id}/appeal", tag = "reviews", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, description = "The appealed case"),
              (status = 400, description = "Bad text (problem+json)"),
              (status = 401, description = "Missing or unknown token (problem+json)"),
              (status = 404, description = "No such case against your devices (problem+json)"),
              (status = 409, description = "Appealed already, or cleared (problem+json)")))]
pub(crate) async fn appeal(
    store: web::Data<Store>,
    deadline: web::Data<BodyDeadline>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let account = authenticate(&store, &request).await?;
    let not_yours = || ApiError::NotFound(format!("no case {} against your devices", short(&path)));
    let case = store.db.fraud_case(&path).await?.ok_or_else(not_yours)?;
    let owner = store
        .db
        .device(case.device)
        .await?
        .is_some_and(|device| device.contributor_id == account.id);
    if !owner {
        return Err(not_yours());
    }
    let body = read_limited(payload, MAX_BODY_BYTES, "the body", &deadline).await?;
    let body: AppealBody = json_body(&body)?;
    let appeal = text(&body.text, "text")?;
    let case = store
        .db
        .appeal_case(&case.id, &appeal, TimestampMs::now())
        .await?;
    Ok(HttpResponse::Ok().json(case_view(&store, &case).await?))
}

fn short(id: &str) -> String {
    id.chars().take(40).collect()
}

/// Your devices' reputation (millionths of full trust; rewards are weighted by it) and the
/// fraud cases behind it, each with its status, the reviewer's note and your appeal.
#[utoipa::path(get, path = "/api/v1/contributors/me/reputation", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, description = "Each device's reputation and cases"),
              (status = 401, description = "Missing or unknown token (problem+json)")))]
pub(crate) async fn my_reputation(
    store: web::Data<Store>,
    request: HttpRequest,
) -> ApiResult<HttpResponse> {
    let account = authenticate(&store, &request).await?;
    let now = TimestampMs::now();
    let mut devices = Vec::new();
    let mut least = FULL_PPM;
    for device in store.db.devices_of(account.id).await? {
        let findings = store.db.standing_findings(device.id, now).await?;
        let ppm = reputation_ppm(&findings);
        least = least.min(ppm);
        let cases = store
            .db
            .fraud_cases(&CaseQuery {
                status: None,
                devices: Some(vec![device.id]),
                limit: MAX_CASES,
            })
            .await?;
        devices.push(json!({
            "device": device.id,
            "label": device.label,
            "reputation_ppm": ppm,
            "standing_findings": findings.len(),
            "cases": case_views(&store, &cases).await?,
        }));
    }
    Ok(HttpResponse::Ok().json(json!({
        "contributor": account.id,
        "reputation_ppm": least,
        "rule": format!(
            "each fraud finding that stands (open, appealed or confirmed) costs {} of {}; its cost halves with every {} frames the device has accepted since; rewards are weighted by the device's reputation at the epoch's start",
            model::reputation::FINDING_COST_PPM,
            FULL_PPM,
            model::reputation::RECOVERY_FRAMES
        ),
        "reason_advice": RejectReason::ALL
            .iter()
            .filter(|reason| reason.opens_case())
            .map(|reason| (reason.slug(), reason.advice()))
            .collect::<std::collections::BTreeMap<_, _>>(),
        "devices": devices,
    })))
}
