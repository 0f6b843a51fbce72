//! Upload over the wire protocol of DESIGN.md §3: for each sealed capture, post the signed
//! manifest; the server answers 409 with the frames it is missing, which are `PUT` (content
//! addressed, signed per request) and the manifest posted again. That one loop is both the
//! first upload and the resume after any interruption. 5xx, 429 and network failures are
//! retried with exponential backoff and full jitter; frames are deleted from the spool only
//! after the server acknowledged the capture.

use std::time::{Duration, Instant};

use model::{DeviceKeypair, FrameId, TimestampMs, request_signing_payload};
use rand::Rng;

use crate::spool::{SealedCapture, Spool};
use crate::{Error, Result};

/// How to reach the server and how patiently.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadConfig {
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    pub server: String,
    /// Per-request timeout (a server that hangs fails the attempt after this long).
    pub timeout: Duration,
    /// Attempts per request before giving up with a typed error.
    pub max_attempts: u32,
    /// First backoff; doubles per attempt up to `max_backoff`, with full jitter.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Average upload rate limit in bytes per second; `None` = unlimited.
    pub bandwidth_bytes_per_s: Option<u64>,
}

impl UploadConfig {
    pub fn new(server: impl Into<String>) -> Self {
        Self {
            server: server.into().trim_end_matches('/').to_owned(),
            timeout: Duration::from_secs(30),
            max_attempts: 6,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            bandwidth_bytes_per_s: None,
        }
    }
}

/// What one upload run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadSummary {
    pub captures_acknowledged: usize,
    pub frames_sent: usize,
    pub bytes_sent: u64,
    /// The server's per-frame verdicts so far, over the acknowledged captures.
    pub frames_pending: usize,
    pub frames_accepted: usize,
    pub frames_rejected: usize,
    /// Frames the server refused outright (not a usable JPEG); dropped from the spool.
    pub frames_refused: usize,
    /// A capture lost a refused frame: its remaining frames must be sealed again.
    pub needs_reseal: bool,
}

/// The delay before retry number `attempt` (1-based): uniform in `0..=min(max, base·2^(n-1))`.
pub fn backoff(attempt: u32, base: Duration, max: Duration, rng: &mut impl Rng) -> Duration {
    let ceiling = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(max);
    Duration::from_secs_f64(rng.gen_range(0.0..=ceiling.as_secs_f64()))
}

/// A request outcome worth retrying.
fn retryable(status: u16) -> bool {
    status >= 500 || status == 429 || status == 408
}

/// An HTTP client for one server and device.
#[derive(Debug)]
pub struct Uploader<'a> {
    config: &'a UploadConfig,
    key: &'a DeviceKeypair,
    agent: ureq::Agent,
    started: Instant,
    sent_bytes: u64,
}

impl<'a> Uploader<'a> {
    pub fn new(config: &'a UploadConfig, key: &'a DeviceKeypair) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(config.timeout)
            .timeout(config.timeout)
            .build();
        Self {
            config,
            key,
            agent,
            started: Instant::now(),
            sent_bytes: 0,
        }
    }

    /// Sends one request with retries; `build` makes a fresh request per attempt (the
    /// signature carries the time).
    fn send(
        &self,
        url: &str,
        body: &[u8],
        build: impl Fn() -> ureq::Request,
    ) -> Result<(u16, String)> {
        let mut rng = rand::thread_rng();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (outcome, retry_after) = match build().send_bytes(body) {
                Ok(response) => {
                    let status = response.status();
                    (
                        Ok((status, response.into_string().unwrap_or_default())),
                        None,
                    )
                }
                Err(ureq::Error::Status(status, response)) => {
                    let retry_after = response
                        .header("Retry-After")
                        .and_then(|v| v.parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = response.into_string().unwrap_or_default();
                    if retryable(status) {
                        (
                            Err(Error::Server {
                                url: url.to_owned(),
                                status,
                                attempts: attempt,
                            }),
                            retry_after,
                        )
                    } else {
                        (Ok((status, text)), None)
                    }
                }
                Err(ureq::Error::Transport(transport)) => (
                    Err(Error::Unreachable {
                        url: url.to_owned(),
                        attempts: attempt,
                        reason: transport.to_string(),
                    }),
                    None,
                ),
            };
            match outcome {
                Ok(answer) => return Ok(answer),
                Err(err) if attempt >= self.config.max_attempts => return Err(err),
                Err(err) => {
                    let wait = retry_after.unwrap_or_else(|| {
                        backoff(
                            attempt,
                            self.config.base_backoff,
                            self.config.max_backoff,
                            &mut rng,
                        )
                    });
                    tracing::warn!(%err, attempt, wait_ms = wait.as_millis() as u64, "retrying");
                    std::thread::sleep(wait);
                }
            }
        }
    }

    /// Sleeps as long as needed to keep the average rate under the bandwidth limit.
    fn throttle(&mut self, bytes: usize) {
        self.sent_bytes += bytes as u64;
        let Some(limit) = self.config.bandwidth_bytes_per_s.filter(|l| *l > 0) else {
            return;
        };
        let due = Duration::from_secs_f64(self.sent_bytes as f64 / limit as f64);
        let elapsed = self.started.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
    }

    /// `PUT /api/v1/frames/{sha256}`, signed; 200 and 201 both mean the server has it.
    pub fn put_frame(&mut self, sha256: &FrameId, jpeg: &[u8]) -> Result<()> {
        let path = format!("/api/v1/frames/{}", sha256.to_hex());
        let url = format!("{}{path}", self.config.server);
        let key = self.key;
        let agent = &self.agent;
        let (status, text) = self.send(&url, jpeg, || {
            let now = TimestampMs::now();
            let signature = key.sign(&request_signing_payload("PUT", &path, now));
            agent
                .put(&url)
                .set("Content-Type", "image/jpeg")
                .set("X-Waymark-Device", &key.public().to_hex())
                .set("X-Waymark-Timestamp", &now.as_millis().to_string())
                .set("X-Waymark-Signature", &signature.to_hex())
        })?;
        match status {
            200..=299 => {}
            // Not a JPEG, too small or large, truncated: no retry will change that.
            400 | 413 | 415 | 422 => {
                return Err(Error::FrameRefused {
                    sha256: *sha256,
                    status,
                    detail: problem_detail(&text),
                });
            }
            _ => return Err(refused(&url, status, &text)),
        }
        self.throttle(jpeg.len());
        Ok(())
    }

    /// Posts a sealed capture; `Ok(Ok(status JSON))` when acknowledged, `Ok(Err(missing))`
    /// when the server lacks frames.
    fn post_capture(
        &mut self,
        capture: &SealedCapture,
    ) -> Result<std::result::Result<serde_json::Value, Vec<FrameId>>> {
        let url = format!("{}/api/v1/captures", self.config.server);
        let agent = &self.agent;
        let (status, text) = self.send(&url, capture.body.as_bytes(), || {
            agent
                .post(&url)
                .set("Content-Type", "application/json")
                .set("X-Waymark-Signature", &capture.signature)
        })?;
        self.throttle(capture.body.len());
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        match status {
            200..=299 => Ok(Ok(json)),
            409 => match json.get("missing").and_then(|m| m.as_array()) {
                Some(missing) => Ok(Err(missing
                    .iter()
                    .filter_map(|id| id.as_str()?.parse().ok())
                    .collect())),
                None => Err(Error::CaptureConflict(capture.capture_id)),
            },
            _ => Err(refused(&url, status, &text)),
        }
    }

    /// Uploads one sealed capture until the server acknowledges it.
    pub fn upload_capture(
        &mut self,
        spool: &Spool,
        capture: &SealedCapture,
        summary: &mut UploadSummary,
        on_frame: &mut dyn FnMut(),
    ) -> Result<serde_json::Value> {
        // Each round sends at least one missing frame or fails, so this ends.
        for _round in 0..=capture.frames.len() + 1 {
            match self.post_capture(capture)? {
                Ok(status) => return Ok(status),
                Err(missing) => {
                    for sha in &missing {
                        let jpeg = spool.frame(sha)?;
                        self.put_frame(sha, &jpeg)?;
                        summary.frames_sent += 1;
                        summary.bytes_sent += jpeg.len() as u64;
                        on_frame();
                    }
                }
            }
        }
        Err(Error::Refused {
            url: self.config.server.clone(),
            status: 409,
            detail: "the server keeps reporting frames missing after they were sent".into(),
        })
    }
}

/// The `detail` of a problem+json body, or the start of the body.
fn problem_detail(text: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    json.get("detail")
        .and_then(|d| d.as_str())
        .map_or_else(|| text.chars().take(300).collect(), str::to_owned)
}

fn refused(url: &str, status: u16, text: &str) -> Error {
    Error::Refused {
        url: url.to_owned(),
        status,
        detail: problem_detail(text),
    }
}

/// Uploads every sealed capture in the spool, oldest first; acknowledged ones are deleted.
pub fn upload_sealed(
    spool: &Spool,
    key: &DeviceKeypair,
    config: &UploadConfig,
    on_frame: &mut dyn FnMut(),
) -> Result<UploadSummary> {
    let mut uploader = Uploader::new(config, key);
    let mut summary = UploadSummary::default();
    for capture in spool.sealed()? {
        let status = match uploader.upload_capture(spool, &capture, &mut summary, on_frame) {
            Ok(status) => status,
            Err(Error::FrameRefused {
                sha256,
                status,
                detail,
            }) => {
                tracing::warn!(%sha256, status, detail, "frame refused by the server; dropped");
                spool.discard(&capture, &sha256)?;
                summary.frames_refused += 1;
                summary.needs_reseal = true;
                continue;
            }
            Err(other) => return Err(other),
        };
        let count = |name: &str| status["counts"][name].as_u64().map_or(0, |n| n as usize);
        summary.frames_pending += count("pending");
        summary.frames_accepted += count("accepted");
        summary.frames_rejected += count("rejected");
        spool.acknowledge(&capture)?;
        summary.captures_acknowledged += 1;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_a_cap() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for attempt in 1..12 {
            let ceiling = (base * (1 << (attempt - 1))).min(max);
            let waits: Vec<Duration> = (0..200)
                .map(|_| backoff(attempt, base, max, &mut rng))
                .collect();
            assert!(waits.iter().all(|w| *w <= ceiling), "attempt {attempt}");
            // Jitter: not all the same.
            assert!(waits.iter().any(|w| *w != waits[0]));
        }
    }
}
