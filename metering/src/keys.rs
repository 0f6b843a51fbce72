//! API keys: their text form, issuing them, and checking one a request presents.
//!
//! A key is `wmk_<id>_<secret>`: 16 hex digits of public id (to list and revoke it) and 64
//! hex digits of secret. The store keeps the secret's sha256 only; a presented secret is
//! hashed and compared with it in constant time. Known keys are cached for
//! [`crate::MeteringConfig::cache_ttl`], so a revocation through this server is seen at
//! once and one through another server within that time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use model::{ContributorId, UsageKind};
use rand::RngCore;
use sha2::{Digest, Sha256};
use store::{ApiKeyRow, Store};
use subtle::ConstantTimeEq;

use crate::MeteringError;

pub const KEY_PREFIX: &str = "wmk_";
const ID_HEX: usize = 16;
const SECRET_HEX: usize = 64;
/// Unknown ids remembered (so a flood of made-up keys does not reach the database), at most.
const MAX_UNKNOWN_REMEMBERED: usize = 10_000;

/// A key just issued: shown to its owner once, never stored in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedKey {
    pub id: String,
    pub secret: String,
}

impl IssuedKey {
    pub fn generate() -> Self {
        let mut id = [0u8; ID_HEX / 2];
        let mut secret = [0u8; SECRET_HEX / 2];
        rand::rngs::OsRng.fill_bytes(&mut id);
        rand::rngs::OsRng.fill_bytes(&mut secret);
        Self {
            id: hex::encode(id),
            secret: hex::encode(secret),
        }
    }

    /// The key as its owner sends it.
    pub fn text(&self) -> String {
        format!("{KEY_PREFIX}{}_{}", self.id, self.secret)
    }

    /// What the store keeps of the secret: its sha256, lowercase hex.
    pub fn secret_sha256(&self) -> String {
        hex::encode(Sha256::digest(self.secret.as_bytes()))
    }
}

/// A key as a request presents it, split into id and secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyText<'a> {
    pub id: &'a str,
    pub secret: &'a str,
}

impl KeyText<'_> {
    /// The id as a number (16 hex digits are 64 bits): what the hot path keys maps by.
    pub fn number(&self) -> u64 {
        u64::from_str_radix(self.id, 16).expect("parse checked 16 hex digits")
    }
}

/// The text form of a key id number.
pub fn id_text(number: u64) -> String {
    format!("{number:016x}")
}

impl<'a> KeyText<'a> {
    /// `None` unless the text has the form of a key (`wmk_`, 16 and 64 lowercase hex digits).
    pub fn parse(text: &'a str) -> Option<Self> {
        let (id, secret) = text.strip_prefix(KEY_PREFIX)?.split_once('_')?;
        let hex = |s: &str, len| {
            s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        (hex(id, ID_HEX) && hex(secret, SECRET_HEX)).then_some(Self { id, secret })
    }
}

/// What a stored key grants, as the cache keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    /// The key's id as a number ([`KeyText::number`]).
    pub number: u64,
    pub account: ContributorId,
    pub scopes: Vec<UsageKind>,
    secret_sha256: [u8; 32],
    revoked: bool,
}

impl KeyGrant {
    fn of(row: &ApiKeyRow) -> Option<Self> {
        Some(Self {
            number: u64::from_str_radix(&row.id, 16).ok()?,
            account: row.account,
            scopes: row.scopes.clone(),
            secret_sha256: hex::decode(&row.secret_sha256).ok()?.try_into().ok()?,
            revoked: row.revoked_at.is_some(),
        })
    }

    pub fn id(&self) -> String {
        id_text(self.number)
    }
}

#[derive(Debug)]
struct CachedKey {
    grant: Option<Arc<KeyGrant>>,
    fetched: Instant,
}

/// Keys by id, read from the store and kept for a while.
#[derive(Debug)]
pub(crate) struct KeyCache {
    ttl: Duration,
    keys: Mutex<HashMap<u64, CachedKey>>,
}

impl KeyCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            keys: Mutex::default(),
        }
    }

    fn cached(&self, number: u64) -> Option<Option<Arc<KeyGrant>>> {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.get(&number)
            .filter(|k| k.fetched.elapsed() < self.ttl)
            .map(|k| k.grant.clone())
    }

    /// Forgets a key (it was just revoked here).
    pub(crate) fn forget(&self, id: &str) {
        if let Ok(number) = u64::from_str_radix(id, 16) {
            self.keys
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&number);
        }
    }

    /// The grant of a presented key; `Unauthorized` naming what is wrong otherwise.
    pub(crate) async fn check(
        &self,
        store: &Store,
        text: &str,
    ) -> Result<Arc<KeyGrant>, MeteringError> {
        let key = KeyText::parse(text).ok_or_else(|| {
            MeteringError::Unauthorized(
                "this is not an API key: keys look like `wmk_<16 hex>_<64 hex>`".into(),
            )
        })?;
        let number = key.number();
        let grant = match self.cached(number) {
            Some(grant) => grant,
            None => {
                let grant = store
                    .db
                    .api_key(key.id)
                    .await?
                    .and_then(|row| KeyGrant::of(&row))
                    .map(Arc::new);
                let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
                if grant.is_none() && keys.len() >= MAX_UNKNOWN_REMEMBERED {
                    keys.retain(|_, k| k.grant.is_some());
                }
                keys.insert(
                    number,
                    CachedKey {
                        grant: grant.clone(),
                        fetched: Instant::now(),
                    },
                );
                grant
            }
        };
        let unknown = || MeteringError::Unauthorized("the API key is not known".into());
        let grant = grant.ok_or_else(unknown)?;
        let presented = Sha256::digest(key.secret.as_bytes());
        if !bool::from(presented.as_slice().ct_eq(&grant.secret_sha256)) {
            return Err(unknown());
        }
        if grant.revoked {
            return Err(MeteringError::Unauthorized(format!(
                "the API key {} was revoked; create a new one",
                key.id
            )));
        }
        Ok(grant)
    }
}

/// A token bucket per key.
#[derive(Debug)]
pub(crate) struct KeyLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<u64, (f64, Instant)>>,
}

impl KeyLimiter {
    pub(crate) fn new(per_second: f64, burst: f64) -> Self {
        Self {
            per_second,
            burst,
            buckets: Mutex::default(),
        }
    }

    /// Takes a token for `key`; `Err(seconds to wait)` when its bucket is empty.
    pub(crate) fn take(&self, key: u64) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = buckets.entry(key).or_insert((self.burst, now));
        let refilled =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            let wait = (1.0 - refilled) / self.per_second.max(f64::MIN_POSITIVE);
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_keys_parse_back_and_hash_their_secret() {
        let issued = IssuedKey::generate();
        let text = issued.text();
        let parsed = KeyText::parse(&text).unwrap();
        assert_eq!(
            (parsed.id, parsed.secret),
            (issued.id.as_str(), issued.secret.as_str())
        );
        assert_eq!(issued.secret_sha256().len(), 64);
        assert_ne!(issued, IssuedKey::generate());
    }

    #[test]
    fn anything_else_is_not_a_key() {
        let good = IssuedKey::generate().text();
        for text in [
            "",
            "wmk_",
            &good[..good.len() - 1],
            &good.replace("wmk_", "wmx_"),
            &good.to_uppercase(),
            &format!("{good}0"),
            "wmk_0123456789abcdef_",
            "bearer-token-of-an-account",
        ] {
            assert_eq!(KeyText::parse(text), None, "{text}");
        }
    }

    #[test]
    fn a_key_gets_its_burst_then_its_rate() {
        let limiter = KeyLimiter::new(1.0, 3.0);
        for _ in 0..3 {
            limiter.take(1).unwrap();
        }
        assert_eq!(limiter.take(1), Err(1));
        limiter.take(2).unwrap();
    }
}
