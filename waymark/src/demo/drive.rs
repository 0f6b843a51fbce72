//! Drives the simulated fleet through the real agent and the real upload: one account per
//! owner and one registered key per device (a cloned pair shares one), then every trip in
//! time order — each 1 Hz fix offered to the device's `dashcam_agent::Agent` with a frame of
//! real dashcam footage, the trip finished (trimmed, sealed, signed) and uploaded over HTTP.
//! A replaying device re-sends the frames of the trip it replays, cropped 2 % and
//! re-encoded so that no byte matches, claimed for the replay's later times along the same
//! roads — what a fraudster with old footage would do. The other attackers
//! skip the agent as a fraudster would, signing their own captures: a spoofer sends its
//! track (generated and cut into short captures, generated with sparse fixes, or smoothed
//! with a real receiver's noise) with its footage of somewhere else; a disguised replay
//! claims an honest driver's published frames, cropped and re-encoded, along a drive it
//! never made; and a device farm's extra keys re-send the phone's footage, re-encoded,
//! with its track. A GPS-offset device drives through the agent, its fixes 200 m north of
//! where its frames were taken.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use anyhow::Context;
use dashcam_agent::spool::Spool;
use dashcam_agent::upload::upload_sealed;
use dashcam_agent::{Agent, AgentConfig, Offer, UploadConfig};
use datasets::fleet::{Behaviour, Device, Fleet, SHORT_CAPTURE_FRAMES, Trip, TripRef};
use datasets::frames::{FrameSource, Look};
use indicatif::{ProgressBar, ProgressStyle};
use model::{CaptureManifest, DeviceKeypair, Fix};
use sha3::{Digest, Keccak256};

/// What driving the fleet did, for the summary.
#[derive(Debug, Default)]
pub struct Driven {
    /// Contributor id per owner name.
    pub contributors: BTreeMap<String, String>,
    pub offered: u64,
    pub spooled: u64,
    /// Frames the agents dropped, per reason.
    pub drops: BTreeMap<String, u64>,
    pub frames_sent: usize,
    pub captures: usize,
    /// Frames per footage collection they were cut from.
    pub footage: BTreeMap<&'static str, u64>,
}

/// A payout address derived from the owner's name and the seed (deterministic, so the same
/// seed gives the same Merkle root).
pub fn payout_address(owner: &str, seed: u64) -> String {
    let digest = Keccak256::digest(format!("waymark-demo/{seed}/{owner}").as_bytes());
    format!("0x{}", hex::encode(&digest[12..]))
}

pub fn drive_fleet(fleet: &Fleet, server: &str, spools: &Path) -> anyhow::Result<Driven> {
    let mut driven = Driven::default();
    let http = ureq::AgentBuilder::new().build();
    register(fleet, server, &http, &mut driven)?;

    let mut trips: Vec<(&Device, &Trip)> = fleet.trips().collect();
    trips.sort_by_key(|(device, trip)| (trip.start(), device.index, trip.index));
    let replayed: BTreeSet<TripRef> = trips.iter().filter_map(|(_, t)| t.replay_of).collect();
    let mut recorded: HashMap<TripRef, Vec<(Vec<u8>, Fix)>> = HashMap::new();
    let mut agents: HashMap<u32, Agent> = HashMap::new();
    let mut frames = FrameSource::open().context("cannot open the dashcam footage")?;
    let upload = UploadConfig::new(server);

    let bar = ProgressBar::new(trips.len() as u64).with_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} trips {elapsed}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message("driving");
    for (device, trip) in trips {
        let this = TripRef {
            device: device.index,
            trip: trip.index,
        };
        if let Behaviour::DeviceFarm { key, .. } = device.behaviour
            && key > 0
        {
            let original = trip
                .replay_of
                .context("a farm key's trip copies the phone's")?;
            let copies = reencoded(recorded.get(&original), key)?;
            send_direct(
                device,
                &copies,
                model::MAX_FRAMES_PER_CAPTURE,
                &spools.join(format!("farm-{}", device.index)),
                &upload,
                &mut driven,
            )?;
            bar.inc(1);
            continue;
        }
        if let Behaviour::DisguisedReplay { victim } = device.behaviour {
            let copies = disguised(fleet, trip, victim, &mut frames)?;
            send_direct(
                device,
                &copies,
                model::MAX_FRAMES_PER_CAPTURE,
                &spools.join(format!("direct-{}", device.index)),
                &upload,
                &mut driven,
            )?;
            bar.inc(1);
            continue;
        }
        if device.behaviour.sends_pixels_of_elsewhere() {
            let mut made = Vec::with_capacity(trip.fixes.len());
            for (index, fix) in trip.fixes.iter().enumerate() {
                let look = Look {
                    pose: trip.poses[index],
                    camera: device.index,
                };
                let frame = frames.frame(trip.frame_key(index), fix, look.elsewhere())?;
                made.push((frame.jpeg, *fix));
            }
            let per_capture = if device.behaviour == Behaviour::ShortCaptures {
                SHORT_CAPTURE_FRAMES
            } else {
                model::MAX_FRAMES_PER_CAPTURE
            };
            send_direct(
                device,
                &made,
                per_capture,
                &spools.join(format!("direct-{}", device.index)),
                &upload,
                &mut driven,
            )?;
            bar.inc(1);
            continue;
        }
        if let Some(original) = trip.replay_of {
            replay(
                device,
                trip,
                original,
                &recorded,
                &spools.join(format!("replay-{}", device.index)),
                &upload,
                &mut driven,
            )?;
            bar.inc(1);
            continue;
        }
        let agent = match agents.entry(device.index) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => entry.insert(Agent::new(
                AgentConfig {
                    camera: "demo dashcam (Udacity footage)".into(),
                    firmware: "waymark-demo".into(),
                    ..AgentConfig::default()
                },
                spools.join(format!("device-{}", device.index)),
                device.keypair(),
            )?),
        };
        for (index, fix) in trip.fixes.iter().enumerate() {
            // The pixels show where the car truly was, whatever its fixes say.
            let look = Look {
                pose: trip.poses[index],
                camera: device.index,
            };
            let frame = frames.frame(trip.frame_key(index), fix, look)?;
            if let Offer::Kept { spooled } = agent.offer(&frame.jpeg, fix)? {
                *driven
                    .footage
                    .entry(frame.footage.collection())
                    .or_default() += spooled.len() as u64;
            }
        }
        let summary = agent.finish_trip()?;
        driven.offered += summary.offered;
        driven.spooled += summary.spooled;
        for (reason, count) in summary.drops {
            *driven.drops.entry(reason.slug().to_owned()).or_default() += count;
        }
        if replayed.contains(&this) {
            recorded.insert(this, sealed_frames(agent.spool())?);
        }
        let sent = agent
            .upload_pending(&upload, &mut || {})
            .with_context(|| format!("uploading {}'s trip {}", device.name, trip.index))?;
        driven.frames_sent += sent.frames_sent;
        driven.captures += sent.captures_acknowledged;
        bar.inc(1);
    }
    bar.finish_with_message("driven");
    Ok(driven)
}

/// One account per owner, one registration per key.
fn register(
    fleet: &Fleet,
    server: &str,
    http: &ureq::Agent,
    driven: &mut Driven,
) -> anyhow::Result<()> {
    let mut tokens: BTreeMap<String, String> = BTreeMap::new();
    let mut registered: BTreeSet<[u8; 32]> = BTreeSet::new();
    for device in &fleet.devices {
        if !tokens.contains_key(&device.owner) {
            let account: serde_json::Value = http
                .post(&format!("{server}/api/v1/contributors"))
                .send_json(serde_json::json!({
                    "name": device.owner,
                    "payout_address": payout_address(&device.owner, fleet.config.seed),
                }))
                .with_context(|| format!("signing up {}", device.owner))?
                .into_json()?;
            let token = account["token"]
                .as_str()
                .context("no token in the sign-up answer")?;
            let id = account["id"]
                .as_str()
                .context("no id in the sign-up answer")?;
            driven
                .contributors
                .insert(device.owner.clone(), id.to_owned());
            tokens.insert(device.owner.clone(), token.to_owned());
        }
        if !registered.insert(device.seed) {
            continue; // the second device of a cloned pair: the key is registered already
        }
        http.post(&format!("{server}/api/v1/devices"))
            .set(
                "Authorization",
                &format!("Bearer {}", tokens[&device.owner]),
            )
            .send_json(serde_json::json!({
                "public_key": device.keypair().public().to_hex(),
                "label": device.name,
            }))
            .with_context(|| format!("registering {}", device.name))?;
    }
    Ok(())
}

/// The frames (bytes as uploaded, and fixes) of every capture sealed in `spool`.
fn sealed_frames(spool: &Spool) -> anyhow::Result<Vec<(Vec<u8>, Fix)>> {
    let mut frames = Vec::new();
    for capture in spool.sealed()? {
        let manifest = CaptureManifest::parse(capture.body.as_bytes())?;
        for entry in manifest.frames {
            frames.push((spool.frame(&entry.sha256)?, entry.fix));
        }
    }
    Ok(frames)
}

/// Re-sends `original`'s frames, cropped 2 %, a little darker and re-encoded, as if taken
/// during `trip`.
fn replay(
    device: &Device,
    trip: &Trip,
    original: TripRef,
    recorded: &HashMap<TripRef, Vec<(Vec<u8>, Fix)>>,
    spool_dir: &Path,
    upload: &UploadConfig,
    driven: &mut Driven,
) -> anyhow::Result<()> {
    let Some(frames) = recorded.get(&original) else {
        return Ok(()); // the original trip kept no frame
    };
    let (Some(first), Some(start)) = (frames.first(), trip.start()) else {
        return Ok(());
    };
    let shift = start.millis_since(first.1.time);
    let moved = frames
        .iter()
        .map(|(jpeg, fix)| {
            let fix = Fix {
                time: fix.time.saturating_add_ms(shift),
                ..*fix
            };
            Ok((datasets::frames::disguise(jpeg, 0.02, -6, 80)?, fix))
        })
        .collect::<anyhow::Result<Vec<(Vec<u8>, Fix)>>>()?;
    send_direct(
        device,
        &moved,
        model::MAX_FRAMES_PER_CAPTURE,
        spool_dir,
        upload,
        driven,
    )
}

/// `frames` decoded and encoded again (another JPEG quality, a comment naming `key`): the
/// same pictures in other bytes, as a farm re-sending one phone's footage makes them.
fn reencoded(
    frames: Option<&Vec<(Vec<u8>, Fix)>>,
    key: u32,
) -> anyhow::Result<Vec<(Vec<u8>, Fix)>> {
    let Some(frames) = frames else {
        return Ok(Vec::new()); // the phone's trip kept no frame
    };
    frames
        .iter()
        .map(|(jpeg, fix)| {
            let quality = 84 + u8::try_from(key % 8).unwrap_or(0);
            Ok((datasets::frames::reencode(jpeg, quality)?, *fix))
        })
        .collect()
}

/// What a disguised replay sends for `trip`: the frames of `victim`'s latest trip that ended
/// before this one starts (published on the map by then, so anyone can fetch them; nothing
/// when there is none yet), one a second, brightened, re-encoded, changed in turn eight ways —
/// cropped 5 % a side, the bottom 8 % (the bonnet) cut off, cropped 6 % towards the top-left
/// corner, cut to 16:10, turned 2° and zoomed to fill, cut to 4:3 and cropped 12 % a side
/// (these two kept at their new size), the bottom 8 % cut off and letterboxed into 4:3 with
/// black bars — and on every other trip mirrored too, claimed at the fixes of a drive it
/// never made.
fn disguised(
    fleet: &Fleet,
    trip: &Trip,
    victim: u32,
    frames: &mut FrameSource,
) -> anyhow::Result<Vec<(Vec<u8>, Fix)>> {
    let Some(victim_device) = fleet.devices.get(victim as usize) else {
        anyhow::bail!("a disguised replay's victim {victim} is not in the fleet");
    };
    let Some(original) = victim_device
        .trips
        .iter()
        .filter(|original| original.end().is_some_and(|end| Some(end) < trip.start()))
        .max_by_key(|original| original.end())
    else {
        return Ok(Vec::new());
    };
    let mut copies = Vec::with_capacity(trip.fixes.len());
    for (index, fix) in trip.fixes.iter().enumerate() {
        let at = index % original.fixes.len();
        let look = Look {
            pose: original.poses[at],
            camera: victim,
        };
        let frame = frames.frame(original.frame_key(at), &original.fixes[at], look)?;
        let mirror = trip.index % 2 == 1;
        let cut = |sides| datasets::frames::disguise_cut(&frame.jpeg, sides, mirror, 12, 82);
        // Cut deeper than 10 %, a copy is kept at its new size (scaled back up, more such
        // copies are refused as `blurred` before the footage index is asked; kept, some still
        // are) and encoded finer, so that its fewer pixels still make the server's smallest
        // frame (25 KB).
        let kept = |sides| datasets::frames::disguise_cut_kept(&frame.jpeg, sides, mirror, 12, 95);
        let letterboxed = [0.0, 1.0 / 6.0, 0.0, 1.0 / 6.0];
        let copy = match index % 8 {
            0 => cut([0.05; 4])?,
            1 => cut([0.0, 0.0, 0.0, 0.08])?,
            2 => cut([0.0, 0.0, 0.06, 0.06])?,
            3 => cut([0.05, 0.0, 0.05, 0.0])?,
            4 => datasets::frames::disguise_turned(&frame.jpeg, 2.0, true, mirror, 12, 82)?,
            5 => kept([0.125, 0.0, 0.125, 0.0])?,
            6 => kept([0.12; 4])?,
            // The bottom 8 % cut off (kept at its size), then letterboxed into 4:3.
            _ => {
                let bonnet_off = kept([0.0, 0.0, 0.0, 0.08])?;
                datasets::frames::disguise_framed(&bonnet_off, letterboxed, 0, false, 0, 82)?
            }
        };
        copies.push((copy, *fix));
    }
    Ok(copies)
}

/// Signs and uploads `frames` as `device` without the agent — what a fraudster with a key
/// does — in captures of at most `per_capture` frames.
fn send_direct(
    device: &Device,
    frames: &[(Vec<u8>, Fix)],
    per_capture: usize,
    spool_dir: &Path,
    upload: &UploadConfig,
    driven: &mut Driven,
) -> anyhow::Result<()> {
    if frames.is_empty() {
        return Ok(());
    }
    let spool = Spool::open(spool_dir)?;
    let key: DeviceKeypair = device.keypair();
    for (jpeg, fix) in frames {
        spool.add(jpeg, *fix)?;
    }
    spool.seal(
        &key,
        "waymark-demo",
        device.behaviour.tag(),
        per_capture.max(1),
    )?;
    let sent = upload_sealed(&spool, &key, upload, &mut || {})?;
    driven.frames_sent += sent.frames_sent;
    driven.captures += sent.captures_acknowledged;
    Ok(())
}
