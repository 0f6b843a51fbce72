//! Device keys: ed25519 keypairs on the dashcam, public keys registered on the server.
//!
//! Two things are signed, and their byte strings can never be confused:
//! - a capture manifest: the exact JSON body bytes sent (they start with `{`);
//! - a frame upload request: [`request_signing_payload`] (it starts with `waymark-request-v1`).

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::TimestampMs;

/// How far a signed request's timestamp may be from the server clock (either way).
pub const REQUEST_MAX_SKEW_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("device public key must be 64 hex characters (32 bytes); got {0} characters")]
    PublicKeyLength(usize),
    #[error("device public key is not lowercase hex; send it as the agent prints it")]
    PublicKeyHex,
    #[error("device public key is not a valid ed25519 point")]
    PublicKeyPoint,
    #[error("device signature must be 128 hex characters (64 bytes); got {0} characters")]
    SignatureLength(usize),
    #[error("device signature is not lowercase hex; send it as the agent prints it")]
    SignatureHex,
    #[error("device secret key must be 64 hex characters (32 bytes)")]
    SecretKey,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature does not match the signed bytes and the device key")]
    Mismatch,
}

/// A device's signing key. Lives on the dashcam only.
pub struct DeviceKeypair(SigningKey);

impl DeviceKeypair {
    /// A new random key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        Self(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// A key from a 32-byte seed (deterministic simulators and tests).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// The secret as 64 hex characters, for the agent's key file.
    pub fn secret_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    pub fn from_secret_hex(text: &str) -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut seed).map_err(|_| KeyError::SecretKey)?;
        Ok(Self::from_seed(seed))
    }

    pub fn public(&self) -> DevicePublicKey {
        DevicePublicKey(self.0.verifying_key())
    }

    /// Signs exactly `message`.
    pub fn sign(&self, message: &[u8]) -> DeviceSignature {
        DeviceSignature(self.0.sign(message))
    }
}

impl fmt::Debug for DeviceKeypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        write!(f, "DeviceKeypair(public: {})", self.public())
    }
}

/// A device's ed25519 public key, written as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DevicePublicKey(VerifyingKey);

impl DevicePublicKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        VerifyingKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| KeyError::PublicKeyPoint)
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    /// Verifies `signature` over exactly `message` (strict: rejects malleable signatures and
    /// weak keys).
    pub fn verify(
        &self,
        message: &[u8],
        signature: &DeviceSignature,
    ) -> Result<(), SignatureError> {
        self.0
            .verify_strict(message, &signature.0)
            .map_err(|_| SignatureError::Mismatch)
    }
}

impl fmt::Display for DevicePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for DevicePublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DevicePublicKey({})", self.to_hex())
    }
}

impl FromStr for DevicePublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 {
            return Err(KeyError::PublicKeyLength(s.len()));
        }
        if !is_lowercase_hex(s) {
            return Err(KeyError::PublicKeyHex);
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| KeyError::PublicKeyHex)?;
        Self::from_bytes(&bytes)
    }
}

impl Serialize for DevicePublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for DevicePublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An ed25519 signature, written as 128 lowercase hex characters (e.g. in a header).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DeviceSignature(Signature);

impl DeviceSignature {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }
}

impl fmt::Display for DeviceSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for DeviceSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceSignature({}…)", &self.to_hex()[..16])
    }
}

impl FromStr for DeviceSignature {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 128 {
            return Err(KeyError::SignatureLength(s.len()));
        }
        if !is_lowercase_hex(s) {
            return Err(KeyError::SignatureHex);
        }
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| KeyError::SignatureHex)?;
        Ok(Self(Signature::from_bytes(&bytes)))
    }
}

/// One spelling per key and signature: `hex` alone also accepts uppercase digits.
fn is_lowercase_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The bytes a device signs to authenticate one HTTP request (e.g. a frame `PUT`):
/// method, path and the device's clock, so a captured header cannot be replayed against
/// another path, nor later than [`REQUEST_MAX_SKEW_MS`].
pub fn request_signing_payload(method: &str, path: &str, timestamp: TimestampMs) -> Vec<u8> {
    format!(
        "waymark-request-v1\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path,
        timestamp.as_millis()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_bytes_and_key() {
        let key = DeviceKeypair::from_seed([7; 32]);
        let other = DeviceKeypair::from_seed([8; 32]);
        let message = b"{\"format_version\":1}";
        let signature = key.sign(message);
        assert_eq!(key.public().verify(message, &signature), Ok(()));
        assert_eq!(
            other.public().verify(message, &signature),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            key.public().verify(b"{\"format_version\":2}", &signature),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn keys_and_signatures_round_trip_through_hex() {
        let key = DeviceKeypair::generate();
        let restored = DeviceKeypair::from_secret_hex(&key.secret_hex()).unwrap();
        assert_eq!(restored.public(), key.public());
        let public: DevicePublicKey = key.public().to_hex().parse().unwrap();
        assert_eq!(public, key.public());
        let signature = key.sign(b"x");
        let parsed: DeviceSignature = signature.to_hex().parse().unwrap();
        assert_eq!(parsed, signature);
        assert!(!format!("{key:?}").contains(&key.secret_hex()));
    }

    #[test]
    fn malformed_keys_and_signatures_are_typed_errors() {
        assert_eq!(
            "abc".parse::<DevicePublicKey>(),
            Err(KeyError::PublicKeyLength(3))
        );
        assert_eq!(
            "zz".repeat(32).parse::<DevicePublicKey>(),
            Err(KeyError::PublicKeyHex)
        );
        assert_eq!(
            "00".repeat(63).parse::<DeviceSignature>(),
            Err(KeyError::SignatureLength(126))
        );
    }

    /// Found by `scripts/fuzz` (target `ids`): `hex` took uppercase digits, so one key had
    /// many spellings in headers and manifests.
    #[test]
    fn keys_and_signatures_have_one_spelling() {
        let fuzzed = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325C9b9A098f707511a";
        assert_eq!(
            fuzzed.parse::<DevicePublicKey>(),
            Err(KeyError::PublicKeyHex)
        );
        let key = DeviceKeypair::from_seed([7; 32]);
        let upper_key = key.public().to_hex().to_ascii_uppercase();
        assert_eq!(
            upper_key.parse::<DevicePublicKey>(),
            Err(KeyError::PublicKeyHex)
        );
        let upper_signature = key.sign(b"x").to_hex().to_ascii_uppercase();
        assert_eq!(
            upper_signature.parse::<DeviceSignature>(),
            Err(KeyError::SignatureHex)
        );
    }

    #[test]
    fn request_payload_binds_method_path_and_time() {
        let a = request_signing_payload("put", "/api/v1/frames/ab", TimestampMs(1));
        assert_eq!(a, b"waymark-request-v1\nPUT\n/api/v1/frames/ab\n1");
        assert_ne!(
            a,
            request_signing_payload("PUT", "/api/v1/frames/ac", TimestampMs(1))
        );
        assert_ne!(
            a,
            request_signing_payload("PUT", "/api/v1/frames/ab", TimestampMs(2))
        );
    }
}
