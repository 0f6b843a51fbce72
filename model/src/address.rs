//! A contributor's payout address: a 20-byte EVM address, written with the EIP-55
//! mixed-case checksum so a mistyped character is caught before money goes to it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha3::{Digest, Keccak256};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("payout address {0:?} must start with 0x and have 40 hex digits")]
    Shape(String),
    #[error(
        "payout address 0x0000000000000000000000000000000000000000 burns what is sent to it; give a real address"
    )]
    Zero,
    #[error(
        "payout address {given} fails its EIP-55 checksum (expected {expected}); check for a typo"
    )]
    Checksum { given: String, expected: String },
}

/// A 20-byte EVM address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayoutAddress([u8; 20]);

impl PayoutAddress {
    pub fn from_bytes(bytes: [u8; 20]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// The EIP-55 checksummed form, `0x` + 40 mixed-case hex digits.
    pub fn to_checksummed(&self) -> String {
        let lower = hex::encode(self.0);
        let hash = Keccak256::digest(lower.as_bytes());
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (i, c) in lower.chars().enumerate() {
            let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
            out.push(if nibble >= 8 {
                c.to_ascii_uppercase()
            } else {
                c
            });
        }
        out
    }
}

impl FromStr for PayoutAddress {
    type Err = AddressError;

    /// Accepts the checksummed form, or an all-lowercase / all-uppercase form (which
    /// carries no checksum); a mixed-case string must match its checksum exactly.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shape = || AddressError::Shape(s.chars().take(80).collect());
        let digits = s.strip_prefix("0x").ok_or_else(shape)?;
        if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(shape());
        }
        let mut bytes = [0u8; 20];
        hex::decode_to_slice(digits, &mut bytes).map_err(|_| shape())?;
        if bytes == [0u8; 20] {
            return Err(AddressError::Zero);
        }
        let address = Self(bytes);
        let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
        let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
        if has_lower && has_upper {
            let expected = address.to_checksummed();
            if expected != s {
                return Err(AddressError::Checksum {
                    given: s.to_owned(),
                    expected,
                });
            }
        }
        Ok(address)
    }
}

impl fmt::Display for PayoutAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_checksummed())
    }
}

impl fmt::Debug for PayoutAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PayoutAddress({})", self.to_checksummed())
    }
}

impl Serialize for PayoutAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_checksummed())
    }
}

impl<'de> Deserialize<'de> for PayoutAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    // The test vectors of EIP-55 itself.
    #[rstest]
    #[case("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")]
    #[case("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359")]
    #[case("0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB")]
    #[case("0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb")]
    fn eip55_vectors_round_trip(#[case] checksummed: &str) {
        let address: PayoutAddress = checksummed.parse().unwrap();
        assert_eq!(address.to_string(), checksummed);
        let lower: PayoutAddress = checksummed.to_lowercase().parse().unwrap();
        assert_eq!(lower, address);
        let upper: PayoutAddress = format!("0x{}", checksummed[2..].to_uppercase())
            .parse()
            .unwrap();
        assert_eq!(upper, address);
    }

    #[test]
    fn the_zero_address_is_refused() {
        let zero = format!("0x{}", "0".repeat(40));
        assert_eq!(zero.parse::<PayoutAddress>(), Err(AddressError::Zero));
    }

    #[test]
    fn one_wrong_case_fails_the_checksum() {
        let typo = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD";
        let err = typo.parse::<PayoutAddress>().unwrap_err();
        assert!(matches!(err, AddressError::Checksum { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
        );
    }

    #[rstest]
    #[case("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")]
    #[case("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA")]
    #[case("0xZZAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")]
    #[case("")]
    #[case("0x")]
    fn malformed_addresses_say_what_shape_is_expected(#[case] bad: &str) {
        assert!(matches!(
            bad.parse::<PayoutAddress>(),
            Err(AddressError::Shape(_))
        ));
    }
}
