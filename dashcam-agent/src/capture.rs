//! GStreamer capture (feature `capture`): a pipeline per source — a video file
//! (`filesrc ! decodebin`), a V4L2 camera (`v4l2src`), an RTSP stream (`rtspsrc`) or the test
//! pattern (`videotestsrc`) — ending in `jpegenc ! appsink`, pulled frame by frame.

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::{Error, Result};

/// `videotestsrc` (640×480) or `videotestsrc:WxH` with both sides in 16..=7680.
fn test_pattern_size(text: &str) -> Option<(u32, u32)> {
    let size = text.strip_prefix("videotestsrc")?;
    if size.is_empty() {
        return Some((640, 480));
    }
    let (width, height) = size.strip_prefix(':')?.split_once('x')?;
    let side = |s: &str| s.parse::<u32>().ok().filter(|n| (16..=7680).contains(n));
    Some((side(width)?, side(height)?))
}

/// Where frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A recording on disk (any container and codec GStreamer can decode).
    File(std::path::PathBuf),
    /// A V4L2 device such as `/dev/video0`.
    V4l2(String),
    /// An `rtsp://` URL.
    Rtsp(String),
    /// `videotestsrc` with a noise pattern, `frames` long (0: endless), for tests and demos;
    /// `live` stamps frames with the wall clock like a camera.
    TestPattern {
        frames: u32,
        width: u32,
        height: u32,
        live: bool,
    },
}

impl Source {
    /// `/dev/…` is a camera, `rtsp://…` a stream, `videotestsrc` the live test pattern
    /// (640×480; `videotestsrc:1920x1080` for another size), anything else a file.
    pub fn parse(text: &str) -> Self {
        if let Some((width, height)) = test_pattern_size(text) {
            Self::TestPattern {
                frames: 0,
                width,
                height,
                live: true,
            }
        } else if text.starts_with("rtsp://") || text.starts_with("rtsps://") {
            Self::Rtsp(text.to_owned())
        } else if text.starts_with("/dev/") {
            Self::V4l2(text.to_owned())
        } else {
            Self::File(text.into())
        }
    }

    fn is_live(&self) -> bool {
        matches!(
            self,
            Self::V4l2(_) | Self::Rtsp(_) | Self::TestPattern { live: true, .. }
        )
    }

    fn description(&self, quality: u8) -> String {
        let tail = format!(
            "videoconvert ! video/x-raw,format=I420 ! jpegenc quality={quality} ! appsink name=sink sync=false max-buffers=8"
        );
        let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        match self {
            Self::File(path) => format!(
                "filesrc location=\"{}\" ! decodebin ! {tail}",
                quote(&path.display().to_string())
            ),
            Self::V4l2(device) => format!("v4l2src device=\"{}\" ! {tail}", quote(device)),
            Self::Rtsp(url) => {
                format!(
                    "rtspsrc location=\"{}\" latency=200 ! decodebin ! {tail}",
                    quote(url)
                )
            }
            Self::TestPattern {
                frames,
                width,
                height,
                live,
            } => {
                let frames = if *frames == 0 { -1 } else { i64::from(*frames) };
                format!(
                    "videotestsrc num-buffers={frames} is-live={live} pattern=snow ! video/x-raw,width={width},height={height},framerate=10/1 ! {tail}"
                )
            }
        }
    }
}

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Media time in ms since the start of the stream (files), or the wall clock in ms since
    /// 1970 when the frame arrived (live sources).
    pub time_ms: i64,
    pub jpeg: Vec<u8>,
}

/// A running pipeline.
#[derive(Debug)]
pub struct Capture {
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
    live: bool,
    name: String,
}

fn gst_err(context: &str) -> impl Fn(gst::glib::Error) -> Error + '_ {
    move |err| Error::Capture(format!("{context}: {err}"))
}

impl Capture {
    /// Builds and starts the pipeline for `source`.
    pub fn start(source: &Source) -> Result<Self> {
        gst::init().map_err(gst_err("cannot initialise GStreamer"))?;
        if let Source::File(path) = source
            && !path.is_file()
        {
            return Err(Error::Capture(format!("{} is not a file", path.display())));
        }
        let description = source.description(90);
        let pipeline = gst::parse::launch(&description)
            .map_err(gst_err(
                "cannot build the pipeline (missing GStreamer plugin?)",
            ))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| Error::Capture("the description is not a pipeline".into()))?;
        let sink = pipeline
            .by_name("sink")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| Error::Capture("the pipeline has no appsink".into()))?;
        let capture = Self {
            pipeline,
            sink,
            live: source.is_live(),
            name: format!("{source:?}"),
        };
        capture
            .pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| capture.bus_error())?;
        Ok(capture)
    }

    /// The first error message on the bus, if any.
    fn pop_error(&self) -> Option<String> {
        let msg = self
            .pipeline
            .bus()?
            .pop_filtered(&[gst::MessageType::Error])?;
        match msg.view() {
            gst::MessageView::Error(err) => Some(format!(
                "{} ({})",
                err.error(),
                err.debug().map(|d| d.to_string()).unwrap_or_default()
            )),
            _ => None,
        }
    }

    fn bus_error(&self) -> Error {
        let message = self
            .pop_error()
            .unwrap_or_else(|| "the pipeline failed to start".into());
        Error::Capture(format!("{}: {message}", self.name))
    }

    /// The next frame; `Ok(None)` at the end of the stream; a typed error when the source
    /// fails (corrupt file, camera unplugged, stream gone) or sends nothing for
    /// [`STALL_TIMEOUT`].
    pub fn next_frame(&mut self) -> Result<Option<Frame>> {
        let started = std::time::Instant::now();
        loop {
            if let Some(sample) = self
                .sink
                .try_pull_sample(gst::ClockTime::from_mseconds(100))
            {
                let buffer = sample
                    .buffer()
                    .ok_or_else(|| Error::Capture("a sample without a buffer".into()))?;
                let map = buffer
                    .map_readable()
                    .map_err(|_| Error::Capture("an unreadable buffer".into()))?;
                let time_ms = if self.live {
                    model::TimestampMs::now().as_millis()
                } else {
                    buffer.pts().map_or(0, |pts| pts.mseconds() as i64)
                };
                return Ok(Some(Frame {
                    time_ms,
                    jpeg: map.as_slice().to_vec(),
                }));
            }
            if let Some(message) = self.pop_error() {
                return Err(Error::Capture(format!("{}: {message}", self.name)));
            }
            if self.sink.is_eos() {
                return Ok(None);
            }
            if started.elapsed() > STALL_TIMEOUT {
                return Err(Error::Capture(format!(
                    "{}: no frame for {} s; is the camera still there?",
                    self.name,
                    STALL_TIMEOUT.as_secs()
                )));
            }
        }
    }
}

/// A source that sends no frame for this long has gone away.
pub const STALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::Source;

    #[test]
    fn the_test_pattern_takes_a_size() {
        let pattern = |width, height| Source::TestPattern {
            frames: 0,
            width,
            height,
            live: true,
        };
        assert_eq!(Source::parse("videotestsrc"), pattern(640, 480));
        assert_eq!(Source::parse("videotestsrc:1920x1080"), pattern(1920, 1080));
        // Anything else that is not a size is a file name, as before.
        for text in [
            "videotestsrc:1920",
            "videotestsrc:0x0",
            "videotestsrc:99999x1080",
        ] {
            assert_eq!(Source::parse(text), Source::File(text.into()), "{text}");
        }
    }
}
