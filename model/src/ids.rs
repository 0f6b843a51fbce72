//! Identifiers: newtypes with std conversions, so a device id is never passed where a
//! capture id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} id {value:?} is not a UUID; expected the 36-character hyphenated form")]
    NotUuid { kind: &'static str, value: String },
    #[error("frame id {value:?} is not a sha256 digest; expected 64 lowercase hex characters")]
    NotSha256 { value: String },
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh id, time-ordered (UUID v7) so ids sort by creation time.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::try_parse(s).map(Self).map_err(|_| IdError::NotUuid {
                    kind: $kind,
                    value: s.chars().take(80).collect(),
                })
            }
        }
    };
}

uuid_id!(
    /// A registered dashcam. Its ed25519 public key is stored beside it; the id is what
    /// rows refer to, so a device can be revoked without losing its history.
    DeviceId,
    "device"
);
uuid_id!(
    /// A person or fleet that owns devices and receives rewards.
    ContributorId,
    "contributor"
);
uuid_id!(
    /// One upload of a batch of frames, chosen by the agent; re-sending the same capture id
    /// returns the earlier result.
    CaptureId,
    "capture"
);

/// A frame's id: the sha256 of its JPEG bytes, so blobs are content-addressed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameId([u8; 32]);

impl FrameId {
    /// The id of the given JPEG bytes.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    pub fn from_digest(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The full lowercase hex form used in URLs and blob keys.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for FrameId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for FrameId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Short form, as in messages: "frame 3f2a91c0…".
        write!(f, "FrameId({}…)", &self.to_hex()[..8])
    }
}

impl FromStr for FrameId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let not_sha = || IdError::NotSha256 {
            value: s.chars().take(80).collect(),
        };
        // Lowercase only: one spelling per id keeps URLs and blob keys canonical.
        if s.len() != 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(not_sha());
        }
        let mut digest = [0u8; 32];
        hex::decode_to_slice(s, &mut digest).map_err(|_| not_sha())?;
        Ok(Self(digest))
    }
}

impl Serialize for FrameId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for FrameId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_id_is_the_sha256_of_the_bytes() {
        // sha256("abc"), FIPS 180-2 test vector.
        let id = FrameId::of_bytes(b"abc");
        assert_eq!(
            id.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(id.to_hex().parse::<FrameId>().unwrap(), id);
    }

    #[test]
    fn frame_id_rejects_uppercase_short_and_non_hex() {
        let upper = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
        for bad in [
            upper,
            "abc",
            "zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "../../etc/passwd",
        ] {
            assert!(
                matches!(bad.parse::<FrameId>(), Err(IdError::NotSha256 { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn uuid_ids_round_trip_and_name_their_kind_on_error() {
        let id = CaptureId::new();
        assert_eq!(id.to_string().parse::<CaptureId>().unwrap(), id);
        let err = "not-a-uuid".parse::<DeviceId>().unwrap_err();
        assert!(err.to_string().starts_with("device id"), "{err}");
    }
}
