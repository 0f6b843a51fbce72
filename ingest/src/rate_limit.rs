//! Rate limits in memory: a token bucket per device key for uploads, and per client
//! address (and for the whole server) for anonymous sign-ups. A client that sends faster
//! than its refill rate gets `429` with `Retry-After` once its burst is spent; other clients
//! are not affected. (Per process: behind several ingest nodes each enforces its own share.)

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use model::DeviceId;

/// Requests a client may make per second on average, and in one burst.
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

/// Token buckets per key. At most [`MAX_BUCKETS`] are kept: past that, buckets that have
/// refilled to a full burst (clients that went quiet) are dropped first.
#[derive(Debug)]
pub struct Limiter<K> {
    limit: RateLimit,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

/// Buckets kept before quiet clients' are dropped.
const MAX_BUCKETS: usize = 100_000;

pub type DeviceLimiter = Limiter<DeviceId>;

impl<K: Hash + Eq> Limiter<K> {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`; `Err(wait)` when its bucket is empty.
    pub fn check(&self, key: K) -> Result<(), Duration> {
        let now = Instant::now();
        let limit = self.limit;
        let refill = |tokens: f64, last: Instant| {
            (tokens + now.duration_since(last).as_secs_f64() * limit.per_second).min(limit.burst)
        };
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(&key) {
            buckets.retain(|_, (tokens, last)| refill(*tokens, *last) < limit.burst);
        }
        let (tokens, last) = buckets.entry(key).or_insert((limit.burst, now));
        let refilled = refill(*tokens, *last);
        *last = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            let wait = (1.0 - refilled) / limit.per_second.max(f64::MIN_POSITIVE);
            Err(Duration::from_secs_f64(wait.min(3600.0)))
        }
    }
}

/// Sign-ups without an account: per client address (an IPv6 client by its /64, which one
/// subscriber usually holds whole) and for the whole server, so neither one client nor
/// many together can create accounts without end.
#[derive(Debug)]
pub struct SignupLimiter {
    per_client: Limiter<IpAddr>,
    server: Limiter<()>,
}

/// How fast accounts may be created.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignupLimits {
    pub per_client: RateLimit,
    pub server: RateLimit,
}

impl Default for SignupLimits {
    /// A client: 30 sign-ups, then one every two minutes; the server: 300, then one every
    /// 3.6 s (1 000 an hour).
    fn default() -> Self {
        Self {
            per_client: RateLimit {
                per_second: 30.0 / 3600.0,
                burst: 30.0,
            },
            server: RateLimit {
                per_second: 1000.0 / 3600.0,
                burst: 300.0,
            },
        }
    }
}

impl SignupLimiter {
    pub fn new(limits: SignupLimits) -> Self {
        Self {
            per_client: Limiter::new(limits.per_client),
            server: Limiter::new(limits.server),
        }
    }

    /// Takes a sign-up for `client` (its address, when known); `Err(wait)` when it or the
    /// server is over its limit.
    pub fn check(&self, client: Option<IpAddr>) -> Result<(), Duration> {
        if let Some(client) = client {
            self.per_client.check(network_of(client))?;
        }
        self.server.check(())
    }
}

/// The address a client is limited by: IPv4 as is, IPv6 by its /64.
fn network_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let segments = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(
                    segments[0],
                    segments[1],
                    segments[2],
                    segments[3],
                    0,
                    0,
                    0,
                    0,
                ))
            }
        },
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

    #[test]
    fn sign_ups_are_limited_per_client_network_and_for_the_server() {
        let limiter = SignupLimiter::new(SignupLimits {
            per_client: RateLimit {
                per_second: 0.001,
                burst: 2.0,
            },
            server: RateLimit {
                per_second: 0.001,
                burst: 5.0,
            },
        });
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(limiter.check(Some(one)), Ok(()));
        assert_eq!(limiter.check(Some(same_64)), Ok(()));
        assert!(limiter.check(Some(one)).is_err(), "one /64 is one client");
        assert_eq!(limiter.check(Some(other)), Ok(()));
        assert_eq!(limiter.check(Some(other)), Ok(()));
        // Five taken from the server's bucket: a sixth client is refused too.
        assert_eq!(limiter.check(None), Ok(()));
        let fresh: IpAddr = "198.51.100.1".parse().unwrap();
        assert!(
            limiter.check(Some(fresh)).is_err(),
            "the server's own limit"
        );
    }
}
