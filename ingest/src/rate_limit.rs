//! Per-device rate limits: a token bucket per device key, in memory. A device that sends
//! faster than its refill rate gets `429` with `Retry-After` once its burst is spent; other
//! devices are not affected. (Per process: behind several ingest nodes each enforces its own
//! share.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use model::DeviceId;

/// Requests a device may make per second on average, and in one burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

impl Default for RateLimit {
    /// 20 uploads a second on average (a dashcam catching up after a tunnel sends far fewer),
    /// bursts of 200.
    fn default() -> Self {
        Self {
            per_second: 20.0,
            burst: 200.0,
        }
    }
}

#[derive(Debug)]
pub struct DeviceLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<DeviceId, (f64, Instant)>>,
}

impl DeviceLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `device`; `Err(wait)` when the bucket is empty.
    pub fn check(&self, device: DeviceId) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (tokens, last) = buckets.entry(device).or_insert((self.limit.burst, now));
        let refilled = (*tokens + now.duration_since(*last).as_secs_f64() * self.limit.per_second)
            .min(self.limit.burst);
        *last = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            let wait = (1.0 - refilled) / self.limit.per_second.max(f64::MIN_POSITIVE);
            Err(Duration::from_secs_f64(wait.min(3600.0)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_the_rate_holds_per_device() {
        let limiter = DeviceLimiter::new(RateLimit {
            per_second: 1.0,
            burst: 3.0,
        });
        let (a, b) = (DeviceId::new(), DeviceId::new());
        for _ in 0..3 {
            assert_eq!(limiter.check(a), Ok(()));
        }
        let wait = limiter.check(a).unwrap_err();
        assert!(
            wait > Duration::from_millis(500) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(
            limiter.check(b),
            Ok(()),
            "another device has its own bucket"
        );
    }
}
