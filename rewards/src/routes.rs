//! HTTP routes for closed epochs, mounted under `/api/v1/rewards` by `waymark serve`.
//! Reward data is public, as on chain: anyone may read any epoch and any proof.
//!
//! - `GET /epochs` — every epoch with its state, root, emission and consumption pool
//! - `GET /epochs/{epoch}` — the manifest
//! - `GET /epochs/{epoch}/tree` — the `StandardMerkleTree` dump
//! - `GET /epochs/{epoch}/inputs` — everything the amounts were computed from (streamed)
//! - `GET /epochs/{epoch}/cells` — the per-cell attribution (streamed)
//! - `GET /epochs/{epoch}/captures/{capture}` — a counted capture's device-signed manifest
//! - `GET /epochs/{epoch}/report` — the epoch's oracle report, its signatures and quorum
//! - `POST /epochs/{epoch}/signatures` — an oracle's signed report (only the network's
//!   oracles' are kept; one that differs is kept as a disagreement)
//! - `GET /epochs/{epoch}/contributors/{contributor}` — amount, per-cell breakdown, proof
//! - `GET /contributors/{contributor}` — a contributor's amount per epoch, with its parts
//! - `GET /leaderboard?days=7` — contributors by fresh coverage: the cells each was the last
//!   to map in the last `days` days (1 to 90), the coverage the next epochs will pay for

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, Scope, web};
use model::{CaptureId, ContributorId, Problem};
use serde_json::json;
use store::{BlobKey, Store};

use crate::report::{EpochReport, Oracles, lower_hex};
use crate::shell::{proof, read_manifest};
use crate::{EpochId, Error};

/// The OpenAPI document of these routes; `waymark serve` merges it into the one it serves.
#[derive(Debug, utoipa::OpenApi)]
#[openapi(paths(
    list_epochs,
    get_manifest,
    get_tree,
    get_inputs,
    get_cells,
    get_capture_manifest,
    get_report,
    post_signature,
    get_proof,
    contributor_rewards,
    leaderboard
))]
pub struct ApiDoc;

/// The routes, with the store they read and the oracles whose signatures they accept.
pub fn scope(store: Store, oracles: Oracles) -> Scope {
    web::scope("/api/v1/rewards")
        .app_data(web::Data::new(store))
        .app_data(web::Data::new(oracles))
        .app_data(web::JsonConfig::default().limit(4 * 1024))
        .route("/epochs", web::get().to(list_epochs))
        .route("/epochs/{epoch}", web::get().to(get_manifest))
        .route("/epochs/{epoch}/tree", web::get().to(get_tree))
        .route("/epochs/{epoch}/inputs", web::get().to(get_inputs))
        .route("/epochs/{epoch}/cells", web::get().to(get_cells))
        .route("/epochs/{epoch}/report", web::get().to(get_report))
        .route("/epochs/{epoch}/signatures", web::post().to(post_signature))
        .route(
            "/epochs/{epoch}/captures/{capture}",
            web::get().to(get_capture_manifest),
        )
        .route(
            "/epochs/{epoch}/contributors/{contributor}",
            web::get().to(get_proof),
        )
        .route(
            "/contributors/{contributor}",
            web::get().to(contributor_rewards),
        )
        .route("/leaderboard", web::get().to(leaderboard))
}

const LEADERBOARD_SIZE: u32 = 20;
const DAY_MS: i64 = 86_400_000;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LeaderboardParams {
    days: Option<i64>,
}

/// Contributors ranked by fresh coverage: the cells each was the last to map.
#[utoipa::path(get, path = "/api/v1/rewards/leaderboard", tag = "rewards",
    params(("days" = Option<i64>, Query, description = "How far back to look, 1 to 90 days (default 7)")),
    responses((status = 200, description = "`{days, since, leaders: [{rank, contributor, name, fresh_cells, last_mapped_at}]}`, at most 20"),
              (status = 400, description = "A parameter other than days, or days out of range (problem+json)")))]
async fn leaderboard(store: web::Data<Store>, request: actix_web::HttpRequest) -> HttpResponse {
    let params = web::Query::<LeaderboardParams>::from_query(request.query_string());
    let days = match params.map(|p| p.days.unwrap_or(7)) {
        Ok(days) if (1..=90).contains(&days) => days,
        _ => {
            return respond(Problem::new(
                400,
                "bad-leaderboard-query",
                "Bad leaderboard query",
                "the only parameter is days, a whole number from 1 to 90",
            ));
        }
    };
    let since = model::TimestampMs::now().as_millis() - days * DAY_MS;
    match store
        .db
        .fresh_coverage_leaders(since, LEADERBOARD_SIZE)
        .await
    {
        Ok(rows) => HttpResponse::Ok().json(json!({
            "days": days,
            "since": since,
            "leaders": rows.iter().enumerate().map(|(i, row)| json!({
                "rank": i + 1,
                "contributor": row.contributor_id,
                "name": row.name,
                "fresh_cells": row.cells,
                "last_mapped_at": row.last_mapped_at_ms,
            })).collect::<Vec<_>>(),
        })),
        Err(err) => problem(&Error::Store(err)),
    }
}

/// Every epoch with its state, its time span, its emission and, once closed, its Merkle root.
#[utoipa::path(get, path = "/api/v1/rewards/epochs", tag = "rewards",
    responses((status = 200, description = "`[{epoch, starts_at, ends_at, state, emission, consumption_pool, credits_consumed, merkle_root}]`, oldest first: the emission for fresh coverage beside the share of map consumers' spending (null before an epoch closes)")))]
async fn list_epochs(store: web::Data<Store>) -> HttpResponse {
    match store.db.epochs().await {
        Ok(rows) => HttpResponse::Ok().json(
            rows.iter()
                .map(|row| {
                    json!({
                        "epoch": row.id,
                        "starts_at": crate::rfc3339(row.starts_at),
                        "ends_at": crate::rfc3339(row.ends_at),
                        "state": row.state,
                        "emission": row.emission,
                        "consumption_pool": row.consumption_pool,
                        "credits_consumed": row.credits_consumed,
                        "merkle_root": row.merkle_root,
                    })
                })
                .collect::<Vec<_>>(),
        ),
        Err(err) => problem(&Error::Store(err)),
    }
}

/// A closed epoch's reward manifest: inputs, rules, amounts per contributor and the root.
#[utoipa::path(get, path = "/api/v1/rewards/epochs/{epoch}", tag = "rewards",
    params(("epoch" = String, Path, description = "ISO week, e.g. 2026-W47")),
    responses((status = 200, description = "The manifest anyone can recompute the rewards from"),
              (status = 400, description = "Not an epoch id (problem+json)"),
              (status = 404, description = "The epoch is not closed (problem+json)")))]
async fn get_manifest(store: web::Data<Store>, path: web::Path<String>) -> HttpResponse {
    let epoch = match closed_epoch(&store, &path).await {
        Ok(epoch) => epoch,
        Err(err) => return problem(&err),
    };
    match read_manifest(&store, epoch).await {
        Ok(manifest) => HttpResponse::Ok().json(manifest),
        Err(err) => problem(&err),
    }
}

/// A closed epoch's Merkle tree, in OpenZeppelin's `StandardMerkleTree` dump format.
#[utoipa::path(get, path = "/api/v1/rewards/epochs/{epoch}/tree", tag = "rewards",
    params(("epoch" = String, Path, description = "ISO week, e.g. 2026-W47")),
    responses((status = 200, description = "`StandardMerkleTree.load`-compatible JSON (format standard-v1)"),
              (status = 400, description = "Not an epoch id (problem+json)"),
              (status = 404, description = "The epoch is not closed (problem+json)")))]
async fn get_tree(store: web::Data<Store>, path: web::Path<String>) -> HttpResponse {
    published_file(&store, &path, |files| &files.tree).await
}

/// Everything a closed epoch's amounts were computed from, as published when it closed:
/// frames, cell history, devices and their payees, bounties, regions, params, consumption,
/// discoveries and the device-signed evidence of every frame. Its parts hash to the
/// manifest's `inputs`. Streamed: an epoch's inputs may be gigabytes.
#[utoipa::path(get, path = "/api/v1/rewards/epochs/{epoch}/inputs", tag = "rewards",
    params(("epoch" = String, Path, description = "ISO week, e.g. 2026-W47")),
    responses((status = 200, description = "The epoch's inputs (JSON, streamed)"),
              (status = 400, description = "Not an epoch id (problem+json)"),
              (status = 404, description = "The epoch is not closed (problem+json)")))]
async fn get_inputs(store: web::Data<Store>, path: web::Path<String>) -> HttpResponse {
    published_file(&store, &path, |files| &files.inputs).await
}

/// A closed epoch's per-cell attribution: who ranked where in each cell, and the points.
#[utoipa::path(get, path = "/api/v1/rewards/epochs/{epoch}/cells", tag = "rewards",
    params(("epoch" = String, Path, description = "ISO week, e.g. 2026-W47")),
    responses((status = 200, description = "`[{cell, owner, device, frame, rank, weight_ppm, quality_ppm, region_ppm, points}]` (JSON, streamed)"),
              (status = 400, description = "Not an epoch id (problem+json)"),
              (status = 404, description = "The epoch is not closed (problem+json)")))]
async fn get_cells(store: web::Data<Store>, path: web::Path<String>) -> HttpResponse {
    published_file(&store, &path, |files| &files.cells).await
}

/// One of a closed epoch's published files, streamed from the blob store.
async fn published_file(
    store: &Store,
    epoch: &str,
    file: impl Fn(&crate::manifest::Files) -> &String,
) -> HttpResponse {
    let epoch = match closed_epoch(store, epoch).await {
        Ok(epoch) => epoch,
        Err(err) => return problem(&err),
    };
    let opened = async {
        let manifest = read_manifest(store, epoch).await?;
        let key = BlobKey::parse(file(&manifest.files))?;
        store.blobs.get_stream(&key).await.map_err(|err| match err {
            store::Error::BlobNotFound { .. } => Error::MissingInput(key.to_string()),
            other => Error::Store(other),
        })
    }
    .await;
    match opened {
        Ok((size, chunks)) => HttpResponse::Ok()
            .content_type(ContentType::json())
            .no_chunking(size)
            .streaming(chunks),
        Err(err) => problem(&err),
    }
}

/// The exact manifest body a device signed for a capture counted in a closed epoch: hash it
/// and check its signature against the evidence in the epoch's inputs.
#[utoipa::path(get, path = "/api/v1/rewards/epochs/{epoch}/captures/{capture}", tag = "rewards",
    params(("epoch" = String, Path, description = "ISO week, e.g. 2026-W47"),
           ("capture" = String, Path, description = "Capture id (UUID)")),
    responses((status = 200, description = "The signed capture manifest body, byte for byte (JSON)"),
              (status = 400, description = "Not an epoch or capture id (problem+json)"),
              (status = 404, description = "The epoch is not closed, or has no frame of that capture (problem+json)")))]
async fn get_capture_manifest(
    store: web::Data<Store>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (epoch, capture) = path.into_inner();
    let epoch = match closed_epoch(&store, &epoch).await {
        Ok(epoch) => epoch,
        Err(err) => return problem(&err),
    };
    let Ok(capture) = capture.parse::<CaptureId>() else {
        return respond(Problem::new(
            400,
            "bad-capture-id",
            "Bad capture id",
            format!(
                "{:?} is not a capture id (a UUID)",
                capture.chars().take(80).collect::<String>()
            ),
        ));
    };
    let found = async {
        if !store
            .db
            .capture_has_frame_between(capture, epoch.starts_at(), epoch.ends_at())
            .await?
        {
            return Ok(None);
        }
        let Some(evidence) = store.db.capture_evidence(&[capture]).await?.pop() else {
            return Ok(None);
        };
        let key = BlobKey::parse(&evidence.manifest_key)?;
        Ok::<_, Error>(Some(store.blobs.get(&key).await?))
    }
    .await;
    match found {
        Ok(Some(body)) => HttpResponse::Ok()
            .content_type(ContentType::json())
            .body(body),
        Ok(None) => respond(Problem::new(
            404,
            "no-such-capture",
            "No such capture",
            format!("epoch {epoch} counts no frame of capture {capture}"),
        )),
        Err(err) => problem(&err),
    }
}

/// A closed epoch's oracle report: what oracles sign (epoch, root, the tree's total, the
/// hash of the inputs) and its digest, the signatures of the oracles that agree with it
/// (in ascending address order, as the settlement contract takes them), the quorum, whether
/// it is final, and every oracle that signed something else.
#[utoipa::path(get, path = "/api/v1/rewards/epochs/{epoch}/report", tag = "rewards",
    params(("epoch" = String, Path, description = "ISO week, e.g. 2026-W47")),
    responses((status = 200, description = "`{report: {epoch, epoch_number, merkle_root, total, inputs_hash}, digest, oracles, quorum, signatures: [{oracle, signature}], final, disagreements: [{oracle, report, signature}]}`"),
              (status = 400, description = "Not an epoch id (problem+json)"),
              (status = 404, description = "The epoch is not closed (problem+json)")))]
async fn get_report(
    store: web::Data<Store>,
    oracles: web::Data<Oracles>,
    path: web::Path<String>,
) -> HttpResponse {
    let epoch = match closed_epoch(&store, &path).await {
        Ok(epoch) => epoch,
        Err(err) => return problem(&err),
    };
    match report_status(&store, &oracles, epoch).await {
        Ok(status) => HttpResponse::Ok().json(status),
        Err(err) => problem(&err),
    }
}

async fn report_status(
    store: &Store,
    oracles: &Oracles,
    epoch: EpochId,
) -> Result<serde_json::Value, Error> {
    let report = EpochReport::of(&read_manifest(store, epoch).await?);
    let rows = store.db.oracle_signatures(&epoch.to_string()).await?;
    let (agreeing, differing): (Vec<_>, Vec<_>) = rows.into_iter().partition(|row| row.agrees);
    let digest = report
        .digest()
        .map_err(|err| Error::Report(err.to_string()))?;
    Ok(json!({
        "report": report,
        "digest": format!("0x{}", hex::encode(digest)),
        "oracles": oracles.addresses.iter().map(|a| lower_hex(*a)).collect::<Vec<_>>(),
        "quorum": oracles.quorum,
        "signatures": agreeing.iter().map(|row| json!({
            "oracle": row.oracle,
            "signature": row.signature,
        })).collect::<Vec<_>>(),
        "final": oracles.quorum > 0 && agreeing.len() >= oracles.quorum,
        "disagreements": differing.iter().map(|row| json!({
            "oracle": row.oracle,
            "report": serde_json::from_str::<serde_json::Value>(&row.report_json).unwrap_or_default(),
            "signature": row.signature,
        })).collect::<Vec<_>>(),
    }))
}

/// What an oracle posts: the report it recomputed and its signature over it.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedReport {
    #[schema(value_type = Object)]
    pub report: EpochReport,
    /// `0x` + r, s, v (130 hex).
    pub signature: String,
}

/// An oracle's signed report of a closed epoch. The signature must recover, over the report
/// sent, to one of the network's oracles; a report equal to the network's counts toward
/// its quorum, one that differs is kept as a disagreement and shown, never averaged.
#[utoipa::path(post, path = "/api/v1/rewards/epochs/{epoch}/signatures", tag = "rewards",
    params(("epoch" = String, Path, description = "ISO week, e.g. 2026-W47")),
    request_body = SignedReport,
    responses((status = 200, description = "The report's status after it, as `GET …/report`, with `agrees`"),
              (status = 400, description = "Not an epoch id, a malformed report or signature, or a report of another epoch (problem+json)"),
              (status = 403, description = "The signature is not one of this network's oracles' (problem+json)"),
              (status = 404, description = "The epoch is not closed (problem+json)")))]
async fn post_signature(
    store: web::Data<Store>,
    oracles: web::Data<Oracles>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let epoch = match closed_epoch(&store, &path).await {
        Ok(epoch) => epoch,
        Err(err) => return problem(&err),
    };
    let bad = |detail: String| {
        respond(Problem::new(
            400,
            "bad-oracle-report",
            "Bad oracle report",
            detail,
        ))
    };
    if body.len() > 4 * 1024 {
        return bad(format!(
            "the body is {} bytes; a signed report is under 4 KiB",
            body.len()
        ));
    }
    let signed: SignedReport = match serde_json::from_slice(&body) {
        Ok(signed) => signed,
        Err(err) => return bad(format!("{err}; send {{report, signature}}")),
    };
    if signed.report.epoch != epoch || signed.report.epoch_number != epoch.number() {
        return bad(format!(
            "the report is of epoch {}, not {epoch}",
            signed.report.epoch
        ));
    }
    let signer = match signed.report.signer(&signed.signature) {
        Ok(signer) => signer,
        Err(err) => return bad(err.to_string()),
    };
    if !oracles.contains(signer) {
        return respond(Problem::new(
            403,
            "not-an-oracle",
            "Not an oracle",
            format!("the signature is {signer}'s, which is not one of this network's oracles"),
        ));
    }
    let saved = async {
        let ours = EpochReport::of(&read_manifest(&store, epoch).await?);
        let agrees = ours == signed.report;
        if !agrees {
            tracing::warn!(%epoch, oracle = %signer, "an oracle signed a report that differs from the network's");
        }
        store
            .db
            .save_oracle_signature(&store::OracleSignatureRow {
                epoch: epoch.to_string(),
                oracle: lower_hex(signer),
                report_json: serde_json::to_string(&signed.report)?,
                signature: signed.signature.clone(),
                agrees,
                received_at: model::TimestampMs::now(),
            })
            .await?;
        let mut status = report_status(&store, &oracles, epoch).await?;
        status["agrees"] = agrees.into();
        Ok::<_, Error>(status)
    }
    .await;
    match saved {
        Ok(status) => HttpResponse::Ok().json(status),
        Err(err) => problem(&err),
    }
}

/// One contributor's reward in a closed epoch, its per-cell breakdown and its Merkle proof.
#[utoipa::path(get, path = "/api/v1/rewards/epochs/{epoch}/contributors/{contributor}", tag = "rewards",
    params(("epoch" = String, Path, description = "ISO week, e.g. 2026-W47"),
           ("contributor" = String, Path, description = "Contributor id (UUID)")),
    responses((status = 200, description = "`{epoch, contributor, address, amount, emission_amount, bounty_amount, merkle_root, claim_amount, proof, cells}`: the proof is the sibling hashes from the address's leaf up"),
              (status = 400, description = "Not an epoch or contributor id (problem+json)"),
              (status = 404, description = "The epoch is not closed or paid this contributor nothing (problem+json)")))]
async fn get_proof(store: web::Data<Store>, path: web::Path<(String, String)>) -> HttpResponse {
    let (epoch, contributor) = path.into_inner();
    let epoch = match epoch.parse::<EpochId>() {
        Ok(epoch) => epoch,
        Err(err) => return problem(&err),
    };
    let Ok(contributor) = contributor.parse::<ContributorId>() else {
        return bad_contributor(&contributor);
    };
    match proof(&store, epoch, contributor).await {
        Ok(proof) => HttpResponse::Ok().json(proof),
        Err(err) => problem(&err),
    }
}

/// A contributor's amount in every closed epoch that paid them.
#[utoipa::path(get, path = "/api/v1/rewards/contributors/{contributor}", tag = "rewards",
    params(("contributor" = String, Path, description = "Contributor id (UUID)")),
    responses((status = 200, description = "`[{epoch, amount, emission_amount, bounty_amount, consumption_amount, discovery_amount}]`, oldest first; the parts are null for epochs closed before they were kept"),
              (status = 400, description = "Not a contributor id (problem+json)")))]
async fn contributor_rewards(store: web::Data<Store>, path: web::Path<String>) -> HttpResponse {
    let Ok(contributor) = path.parse::<ContributorId>() else {
        return bad_contributor(&path);
    };
    match store.db.rewards_of(contributor).await {
        Ok(rows) => HttpResponse::Ok().json(
            rows.iter()
                .map(|row| {
                    json!({
                        "epoch": row.epoch,
                        "amount": row.amount,
                        "emission_amount": row.emission_amount,
                        "bounty_amount": row.bounty_amount,
                        "consumption_amount": row.consumption_amount,
                        "discovery_amount": row.discovery_amount,
                    })
                })
                .collect::<Vec<_>>(),
        ),
        Err(err) => problem(&Error::Store(err)),
    }
}

async fn closed_epoch(store: &Store, text: &str) -> Result<EpochId, Error> {
    let epoch: EpochId = text.parse()?;
    match store.db.epoch(&epoch.to_string()).await? {
        Some(row) if row.state == store::EpochState::Closed => Ok(epoch),
        _ => Err(Error::NotClosed(epoch)),
    }
}

fn bad_contributor(text: &str) -> HttpResponse {
    respond(Problem::new(
        400,
        "bad-contributor-id",
        "Bad contributor id",
        format!(
            "{:?} is not a contributor id (a UUID)",
            text.chars().take(80).collect::<String>()
        ),
    ))
}

fn problem(err: &Error) -> HttpResponse {
    let (status, slug, title) = match err {
        Error::EpochId(_) => (400, "bad-epoch-id", "Bad epoch id"),
        Error::NotClosed(_) => (404, "epoch-not-closed", "Epoch not closed"),
        Error::NoReward { .. } => (404, "no-reward", "No reward"),
        Error::MissingInput(_) => (500, "missing-reward-file", "Missing reward file"),
        _ => (500, "rewards-error", "Rewards error"),
    };
    if status == 500 {
        tracing::error!(error = %err, "rewards route failed");
    }
    respond(Problem::new(status, slug, title, err.to_string()))
}

fn respond(problem: Problem) -> HttpResponse {
    HttpResponse::build(
        StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    )
    .insert_header(ContentType(
        "application/problem+json".parse().expect("valid mime"),
    ))
    .json(problem)
}
