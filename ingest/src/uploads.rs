//! The agent → ingest wire protocol (DESIGN.md §3):
//!
//! - `PUT /api/v1/frames/{sha256}`: the JPEG, from a registered device (headers
//!   `X-Waymark-Device`, `X-Waymark-Timestamp`, `X-Waymark-Signature`: ed25519 over
//!   [`model::request_signing_payload`]). Size, hash and JPEG header are checked before
//!   anything is kept; `201` when stored, `200` when it already was (resume = re-send).
//! - `POST /api/v1/captures`: the signed manifest (`X-Waymark-Signature` over the exact body).
//!   Unknown device or bad signature `401`, revoked device `403`, missing blobs `409` with
//!   the list, the same capture id again → the earlier answer. Track checks and in-capture
//!   dedup run at once; frames that pass wait (`pending`) for the pipeline worker.
//! - `GET /api/v1/captures/{id}`: the capture's state and every frame's outcome, for the
//!   device (signed), its owner (bearer token) or an admin.
//!
//! An original belongs to the devices that uploaded its bytes (`frame_uploads`): a manifest
//! may name only frames its own device uploaded, and bytes another device sent first are a
//! replay. Uploads no pending frame needs are collected after a grace period
//! ([`collect_uploads`]).

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use model::{
    CaptureId, CaptureManifest, DevicePublicKey, DeviceSignature, FrameId, JpegError, JpegHeader,
    MAX_MANIFEST_BYTES, ManifestError, REQUEST_MAX_SKEW_MS, RejectReason, TimestampMs,
    request_signing_payload,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use store::{
    BlobKey, Device, DeviceStatus, FrameOutcome, FrameStatusRow, NewCapture, NewFrame, NewJob,
    PutOutcome, Store,
};

use crate::judge::{Context, HISTORY_SECONDS, Needs, StoredFrame, judge};
use crate::overlap::OVERLAP_WINDOW_MS;
use crate::problem::{ApiError, ApiResult};
use crate::rate_limit::DeviceLimiter;
use crate::track::TrackConfig;

/// Frame size gate (DESIGN.md §4, Hivemapper).
pub const MIN_FRAME_BYTES: usize = 25 * 1024;
pub const MAX_FRAME_BYTES: usize = 2 * 1024 * 1024;
/// Largest side and pixel count a frame may have (8K UHD).
pub const MAX_SIDE: u32 = 8192;
pub const MAX_PIXELS: u64 = 7680 * 4320;
/// EXIF, XMP, ICC profiles and comments a frame may carry: a camera writes a few KB to some
/// tens of KB; vision carries EXIF into the public copy, so an "EXIF bomb" stops here.
pub const MAX_METADATA_BYTES: usize = 256 * 1024;
/// The job the pipeline worker takes per capture.
pub const PROCESS_CAPTURE_JOB: &str = "process-capture";

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/api/v1/frames/{sha256}", web::put().to(put_frame))
        .route("/api/v1/captures", web::post().to(post_capture))
        .route("/api/v1/captures/{id}", web::get().to(get_capture));
}

/// How long a request body may take to arrive ([`crate::UploadLimits::body_deadline`]).
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub Duration);

/// Reads a body up to `limit` bytes; over it, answers 413 without reading the rest, and
/// past `deadline` answers 408 without waiting for the rest.
pub(crate) async fn read_limited(
    mut payload: web::Payload,
    limit: usize,
    what: &str,
    deadline: &BodyDeadline,
) -> ApiResult<web::Bytes> {
    let mut body = web::BytesMut::new();
    let until = tokio::time::Instant::now() + deadline.0;
    loop {
        let next = tokio::time::timeout_at(until, payload.next())
            .await
            .map_err(|_| {
                ApiError::TooSlow(format!(
                    "{what} did not arrive within {} s ({} bytes came); send it again on a better link",
                    deadline.0.as_secs(),
                    body.len()
                ))
            })?;
        let Some(chunk) = next else {
            break;
        };
        let chunk =
            chunk.map_err(|err| ApiError::Invalid(format!("the upload broke off: {err}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::TooLarge(format!("{what} is over {limit} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The first 12 hex digits of a frame id, for messages.
fn short(id: &FrameId) -> String {
    id.to_hex()[..12].to_owned()
}

fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// Checks the device headers of a signed request; returns the active device.
async fn authenticate_device(store: &Store, request: &HttpRequest) -> ApiResult<Device> {
    let missing = |name: &'static str| {
        ApiError::DeviceAuth(format!(
            "header {name} is missing; the agent signs every upload"
        ))
    };
    let key: DevicePublicKey = header(request, "X-Waymark-Device")
        .ok_or_else(|| missing("X-Waymark-Device"))?
        .parse()
        .map_err(|err: model::KeyError| ApiError::DeviceAuth(err.to_string()))?;
    let timestamp: i64 = header(request, "X-Waymark-Timestamp")
        .ok_or_else(|| missing("X-Waymark-Timestamp"))?
        .parse()
        .map_err(|_| {
            ApiError::DeviceAuth("X-Waymark-Timestamp must be milliseconds since 1970".into())
        })?;
    let signature: DeviceSignature = header(request, "X-Waymark-Signature")
        .ok_or_else(|| missing("X-Waymark-Signature"))?
        .parse()
        .map_err(|err: model::KeyError| ApiError::DeviceAuth(err.to_string()))?;
    let skew = TimestampMs::now()
        .millis_since(TimestampMs(timestamp))
        .abs();
    if skew > REQUEST_MAX_SKEW_MS {
        return Err(ApiError::DeviceAuth(format!(
            "the request was signed {} s away from the server clock; sync the device clock",
            skew / 1000
        )));
    }
    let payload = request_signing_payload(
        request.method().as_str(),
        request.path(),
        TimestampMs(timestamp),
    );
    key.verify(&payload, &signature).map_err(|_| {
        ApiError::DeviceAuth("the request signature does not match the device key".into())
    })?;
    active_device(store, &key).await
}

async fn active_device(store: &Store, key: &DevicePublicKey) -> ApiResult<Device> {
    let device = store.db.device_by_public_key(key).await?.ok_or_else(|| {
        ApiError::DeviceAuth(format!(
            "device {key} is not registered; register it with a contributor token"
        ))
    })?;
    if device.status == DeviceStatus::Revoked {
        return Err(ApiError::DeviceRevoked);
    }
    Ok(device)
}

/// Upload one frame (the JPEG body), content-addressed by its sha256. Signed by the device:
/// `X-Waymark-Device`, `X-Waymark-Timestamp` (ms), `X-Waymark-Signature` (ed25519 over
/// `waymark-request-v1\nPUT\n<path>\n<timestamp>`).
#[utoipa::path(put, path = "/api/v1/frames/{sha256}", tag = "uploads",
    params(("sha256" = String, Path, description = "sha256 of the body, 64 lowercase hex")),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 201, description = "Stored"), (status = 200, description = "Already stored (resume)"),
              (status = 400, description = "Hash mismatch or bad id (problem+json)"),
              (status = 401, description = "Unknown device, bad or stale signature (problem+json)"),
              (status = 403, description = "Revoked device (problem+json)"),
              (status = 408, description = "The body took longer than the deadline (problem+json)"),
              (status = 413, description = "Over 2 MB (problem+json)"),
              (status = 415, description = "Not a JPEG (problem+json)"),
              (status = 422, description = "Under 25 KB, truncated, absurd dimensions or over 256 KB of metadata (problem+json)"),
              (status = 429, description = "Too fast; see Retry-After (problem+json)")))]
pub(crate) async fn put_frame(
    store: web::Data<Store>,
    limiter: web::Data<DeviceLimiter>,
    deadline: web::Data<BodyDeadline>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let id: FrameId = path
        .parse()
        .map_err(|err: model::IdError| ApiError::Invalid(err.to_string()))?;
    let device = authenticate_device(&store, &request).await?;
    limiter.check(device.id).map_err(ApiError::RateLimited)?;
    let body = read_limited(payload, MAX_FRAME_BYTES, "the frame", &deadline)
        .await
        .map_err(|err| match err {
            ApiError::TooLarge(_) => ApiError::Frame(
                RejectReason::FrameTooLarge,
                format!("frame {}… is over 2 MB", short(&id)),
            ),
            other => other,
        })?;
    let actual = FrameId::from_digest(Sha256::digest(&body).into());
    if actual != id {
        return Err(ApiError::HashMismatch {
            expected: id,
            actual,
        });
    }
    if body.len() < MIN_FRAME_BYTES {
        return Err(ApiError::Frame(
            RejectReason::FrameTooSmall,
            format!(
                "frame {}… is {} bytes; the minimum is {MIN_FRAME_BYTES}",
                short(&id),
                body.len()
            ),
        ));
    }
    let jpeg = JpegHeader::parse(&body).map_err(|err| match err {
        JpegError::NotJpeg => ApiError::Frame(RejectReason::NotJpeg, err.to_string()),
        _ => ApiError::Frame(RejectReason::Broken, err.to_string()),
    })?;
    if jpeg.width > MAX_SIDE || jpeg.height > MAX_SIDE || jpeg.pixels() > MAX_PIXELS {
        return Err(ApiError::Frame(
            RejectReason::DimensionsTooLarge,
            format!(
                "frame {}… is {}×{} px; the limit is {MAX_SIDE} px a side and 8K UHD in all",
                short(&id),
                jpeg.width,
                jpeg.height
            ),
        ));
    }
    if jpeg.metadata_bytes > MAX_METADATA_BYTES {
        return Err(ApiError::Frame(
            RejectReason::MetadataTooLarge,
            format!(
                "frame {}… carries {} KB of EXIF and other metadata; the limit is {} KB",
                short(&id),
                jpeg.metadata_bytes / 1024,
                MAX_METADATA_BYTES / 1024
            ),
        ));
    }
    if !jpeg.complete {
        return Err(ApiError::Frame(
            RejectReason::Broken,
            "the JPEG has no end-of-image marker: it is truncated".into(),
        ));
    }
    let outcome = store
        .blobs
        .put_if_absent(&BlobKey::original_frame(&id), body)
        .await?;
    // The bytes are this device's from now on: only a device that sent them may name them
    // in a manifest (and only the first to send them is their maker).
    store
        .db
        .record_upload(id, device.id, TimestampMs::now())
        .await?;
    let status = match outcome {
        PutOutcome::Created => StatusCode::CREATED,
        PutOutcome::AlreadyExisted => StatusCode::OK,
    };
    Ok(HttpResponse::build(status)
        .json(json!({ "sha256": id, "width": jpeg.width, "height": jpeg.height })))
}

/// Post a signed capture manifest (`X-Waymark-Signature`: ed25519 over the exact body).
#[utoipa::path(post, path = "/api/v1/captures", tag = "uploads",
    request_body(content = String, content_type = "application/json", description = "The capture manifest, format 1"),
    responses((status = 202, description = "Accepted for processing; the capture's status"),
              (status = 200, description = "The same capture again: the earlier answer"),
              (status = 401, description = "Unknown device or bad signature (problem+json)"),
              (status = 403, description = "Revoked device (problem+json)"),
              (status = 409, description = "Missing blobs (listed in `missing`) or capture id reused (problem+json)"),
              (status = 422, description = "Malformed manifest (problem+json)"),
              (status = 429, description = "Too fast (problem+json)")))]
pub(crate) async fn post_capture(
    store: web::Data<Store>,
    limiter: web::Data<DeviceLimiter>,
    deadline: web::Data<BodyDeadline>,
    request: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let body = read_limited(payload, MAX_MANIFEST_BYTES, "the manifest", &deadline).await?;
    let signature: DeviceSignature = header(&request, "X-Waymark-Signature")
        .ok_or_else(|| {
            ApiError::DeviceAuth(
                "header X-Waymark-Signature is missing; sign the exact manifest body".into(),
            )
        })?
        .parse()
        .map_err(|err: model::KeyError| ApiError::DeviceAuth(err.to_string()))?;
    let manifest =
        CaptureManifest::parse_and_verify(&body, &signature).map_err(|err| match err {
            ManifestError::Signature(_) => {
                ApiError::DeviceAuth("the manifest signature does not match its device key".into())
            }
            other => ApiError::Manifest(other.to_string()),
        })?;
    let device = active_device(&store, &manifest.device_key).await?;
    limiter.check(device.id).map_err(ApiError::RateLimited)?;
    let device_id = device.id;
    let manifest_sha256 = hex::encode(Sha256::digest(&body));
    if let Some(earlier) = store.db.capture(manifest.capture_id).await? {
        if earlier.manifest_sha256 != manifest_sha256 {
            return Err(ApiError::CaptureIdReused(manifest.capture_id));
        }
        return status_response(&store, manifest.capture_id, StatusCode::OK).await;
    }
    // A manifest names only frames its own device uploaded (and that are still stored): a
    // frame's hash seen in a status page or a public URL is not a claim to its bytes.
    let shas: Vec<FrameId> = manifest.frames.iter().map(|entry| entry.sha256).collect();
    let mut missing = store.db.not_uploaded_by(device_id, &shas).await?;
    for entry in &manifest.frames {
        if !missing.contains(&entry.sha256)
            && !store
                .blobs
                .exists(&BlobKey::original_frame(&entry.sha256))
                .await?
        {
            missing.push(entry.sha256);
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::MissingBlobs(missing));
    }

    let now = TimestampMs::now();
    let track = TrackConfig::default();
    let needs = Needs::of(&manifest.frames, now, &track);
    let context = gather_context(&store, device_id, now, &needs).await?;
    let verdicts = judge(&manifest.frames, &context, &track);
    let frames: Vec<NewFrame> = manifest
        .frames
        .iter()
        .zip(&verdicts)
        .enumerate()
        .map(|(index, (entry, verdict))| NewFrame {
            index: index as u32,
            sha256: entry.sha256,
            fix: entry.fix,
            outcome: verdict.map_or(FrameOutcome::Pending, FrameOutcome::Rejected),
        })
        .collect();
    let manifest_key = format!("captures/{}.json", manifest.capture_id);
    store
        .blobs
        .put(&BlobKey::parse(&manifest_key)?, body.clone())
        .await?;
    let job = NewJob::new(
        PROCESS_CAPTURE_JOB,
        &json!({ "capture": manifest.capture_id }),
    )?
    .dedup_key(format!("capture:{}", manifest.capture_id));
    let capture = NewCapture {
        id: manifest.capture_id,
        device_id: device.id,
        sequence_number: manifest.sequence_number,
        manifest_sha256,
        manifest_key,
        signature: signature.to_hex(),
        frame_count: manifest.frames.len() as u32,
        received_at: now,
        camera: manifest.camera.clone(),
    };
    match store.db.insert_capture(&capture, &frames, Some(&job)).await {
        Ok(()) => {}
        // Two posts of the same capture racing: the loser answers like a repeat.
        Err(store::Error::Database(err))
            if err
                .as_database_error()
                .is_some_and(|e| e.is_unique_violation()) => {}
        Err(other) => return Err(other.into()),
    }
    status_response(&store, manifest.capture_id, StatusCode::ACCEPTED).await
}

/// Reads what [`judge`] needs to know around a capture of `device`.
async fn gather_context(
    store: &Store,
    device: model::DeviceId,
    now: TimestampMs,
    needs: &Needs,
) -> ApiResult<Context> {
    let closed_until = store
        .db
        .epochs()
        .await?
        .iter()
        .filter(|epoch| epoch.state == store::EpochState::Closed)
        .map(|epoch| epoch.ends_at)
        .max();
    let own_around = store
        .db
        .device_fixes_nearest(device, &needs.own_moments, OVERLAP_WINDOW_MS)
        .await?;
    let history = store
        .db
        .device_history_before(device, needs.history_before, HISTORY_SECONDS)
        .await?;
    let later = store
        .db
        .device_later_after(device, needs.later_after, HISTORY_SECONDS)
        .await?;
    let others_near = store
        .db
        .other_devices_fixes_in_cells(device, &needs.others)
        .await?;
    let stored = store
        .db
        .stored_frames(&needs.frames)
        .await?
        .into_iter()
        .map(|(frame, device, time)| StoredFrame {
            frame,
            device,
            time,
        })
        .collect();
    let first_uploaders = store.db.first_uploaders(&needs.frames).await?;
    Ok(Context {
        now,
        device,
        closed_until,
        own_around,
        history,
        later,
        others_near,
        stored,
        first_uploaders,
    })
}

/// A capture's processing state and every frame's outcome, with advice for rejects: for the
/// device that sent it (a signed request, as for uploads), the contributor who owns that
/// device (bearer token) or an admin. Anyone else gets the same `404` as for an unknown id.
#[utoipa::path(get, path = "/api/v1/captures/{id}", tag = "uploads",
    params(("id" = String, Path, description = "Capture id (UUID)")),
    security(("bearer" = [])),
    responses((status = 200, description = "The capture's status"),
              (status = 401, description = "Neither a device signature nor an account token (problem+json)"),
              (status = 404, description = "No such capture of yours (problem+json)")))]
pub(crate) async fn get_capture(
    store: web::Data<Store>,
    request: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id: CaptureId = path
        .parse()
        .map_err(|err: model::IdError| ApiError::Invalid(err.to_string()))?;
    let reader = if request.headers().contains_key("X-Waymark-Device") {
        Reader::Device(authenticate_device(&store, &request).await?.id)
    } else {
        Reader::Account(crate::accounts::authenticate(&store, &request).await?)
    };
    let not_yours = || ApiError::NotFound(format!("no capture {id} of yours"));
    let capture = store.db.capture(id).await?.ok_or_else(not_yours)?;
    let allowed = match &reader {
        Reader::Device(device) => *device == capture.device_id,
        Reader::Account(account) if account.role == store::ContributorRole::Admin => true,
        Reader::Account(account) => store
            .db
            .device(capture.device_id)
            .await?
            .is_some_and(|device| device.contributor_id == account.id),
    };
    if !allowed {
        return Err(not_yours());
    }
    status_response(&store, id, StatusCode::OK).await
}

/// Who asks for a capture's status.
enum Reader {
    Device(model::DeviceId),
    Account(store::Contributor),
}

async fn status_response(
    store: &Store,
    id: CaptureId,
    status: StatusCode,
) -> ApiResult<HttpResponse> {
    let capture = store
        .db
        .capture(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no capture {id}")))?;
    let frames = store.db.capture_frames(id).await?;
    Ok(HttpResponse::build(status).json(json!({
        "id": capture.id,
        "device": capture.device_id,
        "sequence_number": capture.sequence_number,
        "state": capture.state,
        "received_at": capture.received_at,
        "counts": outcome_counts(&frames),
        "frames": frames.iter().map(frame_outcome).collect::<Vec<_>>(),
    })))
}

/// How many of a capture's frames are pending, accepted and rejected.
pub(crate) fn outcome_counts(frames: &[FrameStatusRow]) -> serde_json::Value {
    let count = |wanted: &str| frames.iter().filter(|f| f.status == wanted).count();
    json!({ "pending": count("pending"), "accepted": count("accepted"), "rejected": count("rejected") })
}

/// One frame's outcome as the API reports it, with the advice for a reject.
pub(crate) fn frame_outcome(frame: &FrameStatusRow) -> serde_json::Value {
    let reason = frame
        .reject_reason
        .as_deref()
        .and_then(RejectReason::from_slug);
    json!({
        "index": frame.index,
        "sha256": frame.sha256,
        "status": frame.status,
        "reject_reason": frame.reject_reason,
        "advice": reason.map(RejectReason::advice),
        "quality": frame.quality,
    })
}

/// Deletes the originals nothing needs any more — uploads never named by a manifest, and
/// frames rejected before processing — once every upload of them is older than `grace`, and
/// forgets those uploads. A frame still pending is never touched. Returns how many originals
/// were deleted. The blob goes first: a crash between leaves a row that the next round
/// collects again, never a blob that nobody would collect.
pub async fn collect_uploads(
    store: &Store,
    grace: Duration,
    now: TimestampMs,
) -> store::Result<u64> {
    const BATCH: u32 = 500;
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let cutoff = now.saturating_add_ms(-grace_ms);
    let mut collected = 0;
    loop {
        let batch = store.db.collectable_uploads(cutoff, BATCH).await?;
        for frame in &batch {
            store.blobs.delete(&BlobKey::original_frame(frame)).await?;
            store.db.forget_uploads(*frame, cutoff).await?;
            collected += 1;
        }
        if batch.len() < BATCH as usize {
            return Ok(collected);
        }
    }
}
