//! What the simulator hands out: devices (key seed, owner, behaviour) and their trips
//! (1 Hz fixes, and which frames go with them).
//!
//! Never does: produce the frames themselves ([`crate::frames::FrameSource`] does).

use model::{DeviceKeypair, Fix, TimestampMs};

/// How a device behaves — what the pipeline should find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Drives random routes every day.
    Honest,
    /// Drives its first day's routes again every later day (freshness and rewards matter).
    Repeating,
    /// Every trip jumps kilometres in one second half-way through.
    Teleporting,
    /// Re-uploads its first day's trips (same fixes, later times, the same frames).
    Replaying,
    /// Shares its key with device `twin`; both drive at the same times, far apart.
    ClonedKey { twin: u32 },
    /// Sends a generated track cut into captures too short to be judged alone.
    ShortCaptures,
    /// Sends a generated track with a fix every few seconds.
    SparseFixes,
    /// Account `account` of sybil `person`: one driver's real drives of one route, split
    /// over several accounts.
    Sybil { person: u32, account: u32 },
    /// Key `key` of device farm `phone` (the device index of the farm's phone, whose key is
    /// 0): key 0 drives honestly, the other keys re-send its footage and track.
    DeviceFarm { phone: u32, key: u32 },
    /// Drives real routes, reports every fix [`crate::fleet::GPS_OFFSET_M`] north of where
    /// it is.
    GpsOffset,
    /// Sends a track with a real receiver's noise along routes it never drove, with its
    /// footage of somewhere else.
    SmoothedSynthetic,
    /// Claims a track with a real receiver's noise along routes it never drove, with device
    /// `victim`'s frames cropped, brightened and re-encoded.
    DisguisedReplay { victim: u32 },
}

impl Behaviour {
    /// Whether the device belongs to an attack (a sybil's accounts and a farm's phone do
    /// real work, but are part of one).
    pub fn is_dishonest(self) -> bool {
        !matches!(self, Self::Honest | Self::Repeating)
    }

    /// Whether the device sends a track no receiver made.
    pub fn is_generated(self) -> bool {
        matches!(self, Self::ShortCaptures | Self::SparseFixes)
    }

    /// Whether the device's frames show somewhere other than the places it claims.
    pub fn sends_pixels_of_elsewhere(self) -> bool {
        matches!(
            self,
            Self::ShortCaptures
                | Self::SparseFixes
                | Self::SmoothedSynthetic
                | Self::DisguisedReplay { .. }
        )
    }

    /// A short name for summaries: `honest`, `repeating`, `teleporting`, `replaying`,
    /// `cloned-key`, `short-captures`, `sparse-fixes`, `sybil-split`, `device-farm`,
    /// `gps-offset`, `smoothed-synthetic`, `disguised-replay`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Honest => "honest",
            Self::Repeating => "repeating",
            Self::Teleporting => "teleporting",
            Self::Replaying => "replaying",
            Self::ClonedKey { .. } => "cloned-key",
            Self::ShortCaptures => "short-captures",
            Self::SparseFixes => "sparse-fixes",
            Self::Sybil { .. } => "sybil-split",
            Self::DeviceFarm { .. } => "device-farm",
            Self::GpsOffset => "gps-offset",
            Self::SmoothedSynthetic => "smoothed-synthetic",
            Self::DisguisedReplay { .. } => "disguised-replay",
        }
    }
}

/// Names one frame: the `index`-th fix of trip `trip` of device `device`. A replayed trip's
/// keys name the original trip's frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameKey {
    pub device: u32,
    pub trip: u32,
    pub index: u32,
}

/// A trip of one device, `(device, trip)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TripRef {
    pub device: u32,
    pub trip: u32,
}

/// Where the car truly was at a fix, and which way it truly pointed (the simulator's truth,
/// never sent to a server).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    /// `(lon, lat)`.
    pub position: (f64, f64),
    /// Degrees clockwise from north.
    pub heading_deg: f64,
    pub speed_ms: f64,
}

/// One drive from ignition to parking.
#[derive(Debug, Clone, PartialEq)]
pub struct Trip {
    /// Index in the device's trips.
    pub index: u32,
    /// Simulated day, 0-based.
    pub day: u32,
    /// Time-ordered 1 Hz fixes (a loss of signal leaves a gap).
    pub fixes: Vec<Fix>,
    /// The true pose at each fix (same length as `fixes`).
    pub poses: Vec<Pose>,
    /// Metres of road driven.
    pub length_m: f64,
    /// For a replayed trip, the trip whose fixes and frames it repeats.
    pub replay_of: Option<TripRef>,
    /// For a teleporting trip, the index of the first fix after the jump.
    pub teleport_at: Option<usize>,
    /// The trip whose frames this trip's fixes carry (itself unless replayed).
    frames_of: TripRef,
}

impl Trip {
    pub(crate) fn new(
        me: TripRef,
        day: u32,
        (fixes, poses): (Vec<Fix>, Vec<Pose>),
        length_m: f64,
    ) -> Self {
        Self {
            index: me.trip,
            day,
            fixes,
            poses,
            length_m,
            replay_of: None,
            teleport_at: None,
            frames_of: me,
        }
    }

    pub(crate) fn replaying(me: TripRef, day: u32, original: &Trip, shift_ms: i64) -> Self {
        Self {
            index: me.trip,
            day,
            fixes: original
                .fixes
                .iter()
                .map(|fix| Fix {
                    time: fix.time.saturating_add_ms(shift_ms),
                    ..*fix
                })
                .collect(),
            poses: original.poses.clone(),
            length_m: original.length_m,
            replay_of: Some(original.frames_of),
            teleport_at: None,
            frames_of: original.frames_of,
        }
    }

    pub fn start(&self) -> Option<TimestampMs> {
        self.fixes.first().map(|fix| fix.time)
    }

    pub fn end(&self) -> Option<TimestampMs> {
        self.fixes.last().map(|fix| fix.time)
    }

    /// The key of the frame that goes with fix `index` of this trip.
    pub fn frame_key(&self, index: usize) -> FrameKey {
        FrameKey {
            device: self.frames_of.device,
            trip: self.frames_of.trip,
            index: u32::try_from(index).unwrap_or(u32::MAX),
        }
    }
}

/// One simulated dashcam.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub index: u32,
    /// `driver-01`, `teleporting-1`, `cloned-key-1a`…
    pub name: String,
    /// The contributor who registers the device (a cloned pair has one owner).
    pub owner: String,
    /// The key seed: [`DeviceKeypair::from_seed`]. Equal for the two devices of a cloned pair.
    pub seed: [u8; 32],
    pub behaviour: Behaviour,
    pub trips: Vec<Trip>,
}

impl Device {
    pub fn keypair(&self) -> DeviceKeypair {
        DeviceKeypair::from_seed(self.seed)
    }

    /// Metres driven over all trips.
    pub fn length_m(&self) -> f64 {
        self.trips.iter().map(|trip| trip.length_m).sum()
    }
}
