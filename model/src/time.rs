//! Time as milliseconds since the Unix epoch, UTC — the one clock unit on the wire.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TimestampMs(pub i64);

impl TimestampMs {
    /// The wall clock now. Stages that need testable time take a timestamp as an argument
    /// instead of calling this.
    pub fn now() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Self(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }

    pub fn as_millis(self) -> i64 {
        self.0
    }

    pub fn saturating_add_ms(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// Signed difference `self - earlier` in milliseconds.
    pub fn millis_since(self, earlier: TimestampMs) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl From<i64> for TimestampMs {
    fn from(ms: i64) -> Self {
        Self(ms)
    }
}

impl From<TimestampMs> for i64 {
    fn from(t: TimestampMs) -> Self {
        t.0
    }
}

impl fmt::Display for TimestampMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms", self.0)
    }
}
