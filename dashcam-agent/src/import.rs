//! `import`: footage already on disk becomes spooled frames — a video (feature `capture`)
//! or a folder of geotagged JPEGs. The GPS comes from the file itself (GoPro GPMF, EXIF GPS)
//! or from a sidecar track (GPX, NMEA, FIT) shifted by a clock offset; every frame is
//! aligned to the track and offered to the [`Agent`], and the trip is finished at the end.

use std::path::{Path, PathBuf};

use model::TimestampMs;

#[cfg(feature = "capture")]
use crate::capture::{Capture, Source};
use crate::gps::{gpmf, read_track_file};
use crate::photo::read_photo;
use crate::{Agent, AlignConfig, DropReason, Error, Offer, Result, Track, TripSummary};

/// Where the GPS comes from and how its clock relates to the video's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportOptions {
    /// A sidecar track; without one the video's own GPMF track is used.
    pub gps: Option<PathBuf>,
    /// UTC of the video's first frame when the GPS is a sidecar; default: the track's start.
    pub start: Option<TimestampMs>,
    pub align: AlignConfig,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    pub track_fixes: usize,
    pub track_length_m: f64,
    pub trip: TripSummary,
}

/// The track of `video` and the UTC of its media time 0.
pub fn video_track(video: &Path, options: &ImportOptions) -> Result<(Track, TimestampMs)> {
    if let Some(gps) = &options.gps {
        let track = Track::new(read_track_file(gps)?);
        let (start, _) = track
            .span()
            .ok_or_else(|| Error::NoFixes(gps.display().to_string()))?;
        return Ok((track, options.start.unwrap_or(start)));
    }
    let gopro = gpmf::read_mp4(video)?.ok_or_else(|| {
        Error::NoFixes(format!(
            "{} (no GPS track inside; pass a GPX, NMEA or FIT sidecar with --gps)",
            video.display()
        ))
    })?;
    Ok((Track::new(gopro.fixes), gopro.media_origin))
}

/// Imports one video: decode, align, offer every frame, finish the trip.
#[cfg(feature = "capture")]
pub fn import_video(
    agent: &mut Agent,
    video: &Path,
    options: &ImportOptions,
    on_frame: &mut dyn FnMut(&Offer),
) -> Result<ImportReport> {
    let (track, origin) = video_track(video, options)?;
    let mut capture = Capture::start(&Source::File(video.to_owned()))?;
    while let Some(frame) = capture.next_frame()? {
        let time = origin.saturating_add_ms(frame.time_ms);
        let offer = match track.at(time, &options.align) {
            Some(fix) => agent.offer(&frame.jpeg, &fix)?,
            None => {
                agent.record_drop(DropReason::OutsideTrack);
                Offer::Dropped(DropReason::OutsideTrack)
            }
        };
        on_frame(&offer);
    }
    let trip = agent.finish_trip()?;
    Ok(ImportReport {
        track_fixes: track.fixes().len(),
        track_length_m: track.length_m(),
        trip,
    })
}

/// Imports a folder of JPEGs in the order they were taken: each is positioned by the
/// sidecar track at its EXIF time when `options.gps` is set, else by its own EXIF GPS.
pub fn import_photos(
    agent: &mut Agent,
    folder: &Path,
    options: &ImportOptions,
    on_frame: &mut dyn FnMut(&Offer),
) -> Result<ImportReport> {
    let track = match &options.gps {
        Some(gps) => Some(Track::new(read_track_file(gps)?)),
        None => None,
    };
    let mut photos = Vec::new();
    let entries = std::fs::read_dir(folder).map_err(crate::error::io("list", folder))?;
    for entry in entries {
        let path = entry.map_err(crate::error::io("list", folder))?.path();
        let is_jpeg = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg"));
        if !is_jpeg {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(crate::error::io("read", &path))?;
        let tags = read_photo(&bytes);
        photos.push((tags.taken.or(tags.fix.map(|f| f.time)), tags.fix, bytes));
    }
    photos.sort_by_key(|(taken, _, _)| *taken);
    let mut fixes = Vec::new();
    for (taken, own_fix, bytes) in photos {
        let fix = match (&track, taken) {
            (Some(track), Some(taken)) => track.at(taken, &options.align),
            (Some(_), None) => None,
            (None, _) => own_fix,
        };
        let offer = match fix {
            Some(fix) => {
                fixes.push(fix);
                agent.offer(&bytes, &fix)?
            }
            None => {
                agent.record_drop(DropReason::OutsideTrack);
                Offer::Dropped(DropReason::OutsideTrack)
            }
        };
        on_frame(&offer);
    }
    let trip = agent.finish_trip()?;
    let used = track.unwrap_or_else(|| Track::new(fixes));
    Ok(ImportReport {
        track_fixes: used.fixes().len(),
        track_length_m: used.length_m(),
        trip,
    })
}
