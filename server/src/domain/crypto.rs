//! Random secrets and their digests. Secrets shown once to a user (reset
//! links, API tokens, install tokens) are stored only as SHA-256.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// 256 random bits, base64url without padding (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Keyed digest for low-entropy secrets (backup codes): without the key a
/// stolen table cannot be brute-forced offline.
pub fn hmac_hex(key: &[u8], value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Constant-time equality for secrets compared outside the database.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    constant_time_eq_bytes(a.as_bytes(), b.as_bytes())
}

pub fn constant_time_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A password that satisfies the policy, for first-start admins and
/// admin-initiated resets.
pub fn random_password() -> String {
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGIT: &[u8] = b"23456789";
    const SPECIAL: &[u8] = b"!@#$%&*-_=+?";
    let mut rng = rand::rng();
    let pick =
        |set: &[u8], rng: &mut rand::rngs::ThreadRng| set[(rng.next_u32() as usize) % set.len()] as char;
    let all: Vec<u8> = [LOWER, UPPER, DIGIT, SPECIAL].concat();
    let mut chars: Vec<char> = vec![
        pick(LOWER, &mut rng),
        pick(UPPER, &mut rng),
        pick(DIGIT, &mut rng),
        pick(SPECIAL, &mut rng),
    ];
    while chars.len() < 20 {
        chars.push(pick(&all, &mut rng));
    }
    use rand::seq::SliceRandom;
    chars.shuffle(&mut rng);
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_digests_stable() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        assert_eq!(sha256_hex("abc").len(), 64);
        assert_eq!(sha256_hex("abc"), sha256_hex("abc"));
        assert_ne!(hmac_hex(b"k1", "12345678"), hmac_hex(b"k2", "12345678"));
        assert!(constant_time_eq("same", "same") && !constant_time_eq("same", "diff"));
        for _ in 0..50 {
            assert!(crate::domain::auth::password::check_policy(&random_password()).is_ok());
        }
    }
}
