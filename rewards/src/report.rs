//! Oracle reports: an epoch's result (root, total, inputs) as one secp256k1-signed
//! statement a contract can `ecrecover`, so a settlement on any chain accepts a root only
//! with the signatures of enough independent oracles (k of n), each of which recomputed it
//! from the published data.
//!
//! The signed digest is chain-agnostic (no chain id, no contract address): one report per
//! epoch, accepted by any adapter that trusts the same oracles.
//! `digest = keccak256(abi.encode(keccak256("waymark-epoch-report-v1"), epoch, root, total,
//! inputs_hash))`, signed as an Ethereum signed message (EIP-191, `personal_sign`), so
//! OpenZeppelin's `MessageHashUtils.toEthSignedMessageHash` + `ECDSA.recover` gives the
//! oracle's address.

use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use model::PayoutAddress;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sha3::{Digest, Keccak256};

use crate::EpochId;
use crate::manifest::RewardManifest;

/// The domain every report digest starts with.
pub const REPORT_DOMAIN: &str = "waymark-epoch-report-v1";

/// The oracles a network trusts and how many of them make a report final (k of n).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Oracles {
    pub addresses: Vec<PayoutAddress>,
    /// k: signatures of agreeing oracles a report needs to be final.
    pub quorum: usize,
}

impl Oracles {
    pub fn contains(&self, address: PayoutAddress) -> bool {
        self.addresses.contains(&address)
    }
}

/// An address as the oracle tables and the contract order them: `0x` + lowercase hex.
pub fn lower_hex(address: PayoutAddress) -> String {
    address.to_string().to_lowercase()
}

/// What oracles sign about a closed epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochReport {
    pub epoch: EpochId,
    /// [`EpochId::number`], as the contract holds it.
    pub epoch_number: u64,
    /// `0x` + 64 hex.
    pub merkle_root: String,
    /// The sum of the tree's leaves (what claims can pay out), decimal.
    pub total: String,
    /// `0x` + sha256 of the manifest's input hashes (canonical JSON).
    pub inputs_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("{field} {value:?} is not {expected}")]
    Field {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("the signature is not 65 bytes of hex (r, s, v)")]
    SignatureShape,
    #[error("the signature does not recover to any key: {0}")]
    Unrecoverable(String),
    #[error("the oracle key is not a secp256k1 secret key (64 hex)")]
    Key,
}

impl EpochReport {
    /// The report of a manifest: its epoch, root, the total in its tree, its inputs.
    pub fn of(manifest: &RewardManifest) -> Self {
        let total: u128 = manifest
            .contributors
            .iter()
            .filter(|entry| entry.in_tree)
            .filter_map(|entry| entry.amount.parse::<u128>().ok())
            .sum();
        let inputs = serde_json::to_vec(&manifest.inputs).expect("hashes serialise");
        Self {
            epoch: manifest.epoch,
            epoch_number: manifest.epoch.number(),
            merkle_root: manifest.merkle_root.clone(),
            total: total.to_string(),
            inputs_hash: format!("0x{}", hex::encode(Sha256::digest(&inputs))),
        }
    }

    /// The 32 bytes oracles sign (before the EIP-191 prefix).
    pub fn digest(&self) -> Result<[u8; 32], ReportError> {
        let word32 = |field: &'static str, text: &str| -> Result<[u8; 32], ReportError> {
            let mut out = [0u8; 32];
            hex::decode_to_slice(text.strip_prefix("0x").unwrap_or(text), &mut out).map_err(
                |_| ReportError::Field {
                    field,
                    value: text.to_owned(),
                    expected: "0x and 64 hex digits",
                },
            )?;
            Ok(out)
        };
        let total: u128 = self.total.parse().map_err(|_| ReportError::Field {
            field: "total",
            value: self.total.clone(),
            expected: "a decimal integer amount",
        })?;
        let mut encoded = Vec::with_capacity(5 * 32);
        encoded.extend_from_slice(&Keccak256::digest(REPORT_DOMAIN.as_bytes()));
        encoded.extend_from_slice(&uint256(u128::from(self.epoch_number)));
        encoded.extend_from_slice(&word32("merkle_root", &self.merkle_root)?);
        encoded.extend_from_slice(&uint256(total));
        encoded.extend_from_slice(&word32("inputs_hash", &self.inputs_hash)?);
        Ok(Keccak256::digest(&encoded).into())
    }

    /// The digest with the EIP-191 prefix: what `ecrecover` is given.
    pub fn signed_digest(&self) -> Result<[u8; 32], ReportError> {
        let mut prefixed = b"\x19Ethereum Signed Message:\n32".to_vec();
        prefixed.extend_from_slice(&self.digest()?);
        Ok(Keccak256::digest(&prefixed).into())
    }

    /// The address whose key made `signature` (`0x` + r, s, v as 130 hex) over this report.
    pub fn signer(&self, signature: &str) -> Result<PayoutAddress, ReportError> {
        let mut bytes = [0u8; 65];
        hex::decode_to_slice(
            signature.strip_prefix("0x").unwrap_or(signature),
            &mut bytes,
        )
        .map_err(|_| ReportError::SignatureShape)?;
        let sig = Signature::from_slice(&bytes[..64])
            .map_err(|err| ReportError::Unrecoverable(err.to_string()))?;
        let v = match bytes[64] {
            27 | 28 => bytes[64] - 27,
            0 | 1 => bytes[64],
            _ => return Err(ReportError::SignatureShape),
        };
        let id = RecoveryId::from_byte(v).ok_or(ReportError::SignatureShape)?;
        let key = VerifyingKey::recover_from_prehash(&self.signed_digest()?, &sig, id)
            .map_err(|err| ReportError::Unrecoverable(err.to_string()))?;
        Ok(address_of(&key))
    }
}

fn uint256(value: u128) -> [u8; 32] {
    let mut word = [0u8; 32];
    word[16..].copy_from_slice(&value.to_be_bytes());
    word
}

/// The Ethereum address of a public key: the last 20 bytes of keccak256 of its point.
fn address_of(key: &VerifyingKey) -> PayoutAddress {
    let point = key.to_encoded_point(false);
    let hash = Keccak256::digest(&point.as_bytes()[1..]);
    let mut address = [0u8; 20];
    address.copy_from_slice(&hash[12..]);
    PayoutAddress::from_bytes(address)
}

/// An oracle's secp256k1 key.
pub struct OracleKey(SigningKey);

impl std::fmt::Debug for OracleKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        write!(f, "OracleKey({})", self.address())
    }
}

impl OracleKey {
    /// A new random key.
    pub fn generate() -> Self {
        Self(SigningKey::random(
            &mut k256::elliptic_curve::rand_core::OsRng,
        ))
    }

    /// From its 32-byte secret as 64 hex (`0x` optional; surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self, ReportError> {
        let text = text.trim();
        let mut secret = [0u8; 32];
        hex::decode_to_slice(text.strip_prefix("0x").unwrap_or(text), &mut secret)
            .map_err(|_| ReportError::Key)?;
        SigningKey::from_bytes(&secret.into())
            .map(Self)
            .map_err(|_| ReportError::Key)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    pub fn address(&self) -> PayoutAddress {
        address_of(self.0.verifying_key())
    }

    /// Signs `report`: `0x` + r, s and v (27 or 28), as `ecrecover` and OpenZeppelin take it.
    pub fn sign(&self, report: &EpochReport) -> Result<String, ReportError> {
        let (signature, id) = self
            .0
            .sign_prehash_recoverable(&report.signed_digest()?)
            .map_err(|err| ReportError::Unrecoverable(err.to_string()))?;
        let mut bytes = signature.to_bytes().to_vec();
        bytes.push(27 + id.to_byte());
        Ok(format!("0x{}", hex::encode(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> EpochReport {
        EpochReport {
            epoch: "2026-W48".parse().unwrap(),
            epoch_number: 202648,
            merkle_root: format!("0x{}", "ab".repeat(32)),
            total: "1000000000000".into(),
            inputs_hash: format!("0x{}", "cd".repeat(32)),
        }
    }

    #[test]
    fn a_signature_recovers_to_its_oracle_and_to_nobody_else_for_another_report() {
        let key = OracleKey::generate();
        let signature = key.sign(&report()).unwrap();
        assert_eq!(signature.len(), 2 + 130);
        assert_eq!(report().signer(&signature).unwrap(), key.address());
        let mut other = report();
        other.total = "1000000000001".into();
        assert_ne!(other.signer(&signature).unwrap(), key.address());
        let again = OracleKey::from_hex(&format!("0x{}\n", key.to_hex())).unwrap();
        assert_eq!(again.address(), key.address());
    }

    /// The well-known Hardhat/Anvil account 0's key and address: the address derivation is
    /// Ethereum's.
    #[test]
    fn addresses_are_ethereum_addresses() {
        let key =
            OracleKey::from_hex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
                .unwrap();
        assert_eq!(
            key.address().to_string().to_lowercase(),
            "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
        );
    }

    #[test]
    fn bad_signatures_and_fields_are_typed_errors() {
        assert_eq!(report().signer("0x12"), Err(ReportError::SignatureShape));
        let mut bad = report();
        bad.merkle_root = "root".into();
        assert!(matches!(
            bad.digest(),
            Err(ReportError::Field {
                field: "merkle_root",
                ..
            })
        ));
        assert_eq!(OracleKey::from_hex("nope").unwrap_err(), ReportError::Key);
        assert_eq!(
            OracleKey::from_hex(&"00".repeat(32)).unwrap_err(),
            ReportError::Key
        );
    }
}
