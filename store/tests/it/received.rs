//! A capture as the upload route records it and the pipeline worker takes it up, for tests
//! and examples of other crates that commit drives through the worker's own store calls
//! (included by path, as `backends.rs` is).

#![allow(dead_code)]

use model::{
    CaptureId, ContributorId, DeviceId, DevicePublicKey, Fix, FrameId, PayoutAddress, TimestampMs,
};
use store::{
    FrameOutcome, LeasedJob, NewCapture, NewContributor, NewDevice, NewFrame, NewJob, Store,
};

/// A contributor called `name` (paid at `payout_address`) with one device of `public_key`,
/// as signing up and registering the dashcam record them.
pub async fn signed_up(
    store: &Store,
    name: &str,
    public_key: DevicePublicKey,
    payout_address: Option<PayoutAddress>,
) -> (ContributorId, DeviceId) {
    let (contributor, device) = (ContributorId::new(), DeviceId::new());
    store
        .db
        .insert_contributor(&NewContributor {
            id: contributor,
            name: name.into(),
            token_sha256: FrameId::of_bytes(name.as_bytes()).to_hex(),
            payout_address,
            created_at: TimestampMs(0),
        })
        .await
        .unwrap();
    store
        .db
        .insert_device(&NewDevice {
            id: device,
            public_key,
            contributor_id: contributor,
            driver_id: None,
            driver_share_bps: 10_000,
            driver_accepted_at: None,
            label: String::new(),
            registered_at: TimestampMs(0),
        })
        .await
        .unwrap();
    (contributor, device)
}

/// Who sent a capture and how its manifest named it.
#[derive(Debug, Clone)]
pub struct Received<'a> {
    pub capture: CaptureId,
    pub device: DeviceId,
    pub sequence_number: u64,
    /// The camera its manifest declares.
    pub camera: &'a str,
}

/// Records the capture with its `frames` pending and its processing job queued (as the
/// upload route does), then leases the job (as the worker does): what `commit_processed`
/// needs next.
pub async fn receive_and_lease(
    store: &Store,
    received: &Received<'_>,
    frames: &[(FrameId, Fix)],
) -> LeasedJob {
    let pending: Vec<NewFrame> = frames
        .iter()
        .enumerate()
        .map(|(i, (sha256, fix))| NewFrame {
            index: i as u32,
            sha256: *sha256,
            fix: *fix,
            outcome: FrameOutcome::Pending,
        })
        .collect();
    let job = NewJob::new("process-capture", &received.capture.to_string()).unwrap();
    store
        .db
        .insert_capture(
            &NewCapture {
                id: received.capture,
                device_id: received.device,
                sequence_number: received.sequence_number,
                manifest_sha256: "0".repeat(64),
                manifest_key: format!("captures/{}.json", received.capture),
                signature: "0".repeat(128),
                frame_count: frames.len() as u32,
                received_at: frames
                    .first()
                    .map_or(model::TimestampMs(0), |(_, fix)| fix.time),
                camera: received.camera.to_owned(),
            },
            &pending,
            Some(&job),
        )
        .await
        .unwrap();
    store
        .queue
        .lease("process-capture", std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .expect("the capture's job")
}
