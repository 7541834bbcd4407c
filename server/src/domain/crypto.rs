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

/// Seals secrets the server must read back (TOTP seeds) with AES-256-GCM
/// under a key kept in the data dir, so a copy of the database alone does
/// not give them away.
#[derive(Clone)]
pub struct SecretBox {
    key: std::sync::Arc<ring::aead::LessSafeKey>,
}

/// Marks a sealed value; base32 TOTP seeds never contain `:`, so values
/// stored before sealing existed are told apart and still read.
const SEALED_PREFIX: &str = "v1:";

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        let unbound = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, key)
            .expect("a 32-byte key fits AES-256-GCM");
        Self {
            key: std::sync::Arc::new(ring::aead::LessSafeKey::new(unbound)),
        }
    }

    /// A LIKE pattern matching sealed values, for queries.
    pub const SEALED_PATTERN: &'static str = "v1:%";

    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(SEALED_PREFIX)
    }

    /// `v1:` + base64url(nonce ‖ ciphertext ‖ tag), with a random nonce.
    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; ring::aead::NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut data = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::empty(),
                &mut data,
            )
            .expect("sealing a short secret cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// The plaintext of a sealed value (or a value stored before sealing);
    /// `None` when it was sealed under another key or altered.
    pub fn open(&self, stored: &str) -> Option<String> {
        let Some(sealed) = stored.strip_prefix(SEALED_PREFIX) else {
            return Some(stored.to_owned());
        };
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < ring::aead::NONCE_LEN {
            return None;
        }
        let (nonce, data) = bytes.split_at(ring::aead::NONCE_LEN);
        let nonce = ring::aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = data.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, ring::aead::Aad::empty(), &mut data)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
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

    #[test]
    fn sealed_secrets_open_only_under_their_key() {
        let sealer = SecretBox::new(&[3u8; 32]);
        let sealed = sealer.seal("JBSWY3DPEHPK3PXP");
        assert!(SecretBox::is_sealed(&sealed));
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_ne!(sealed, sealer.seal("JBSWY3DPEHPK3PXP"), "fresh nonce each time");
        assert_eq!(sealer.open(&sealed).as_deref(), Some("JBSWY3DPEHPK3PXP"));
        assert_eq!(SecretBox::new(&[4u8; 32]).open(&sealed), None);
        let mut altered = sealed.clone();
        altered.pop();
        assert_eq!(sealer.open(&altered), None);
        // Stored before sealing existed: read as is.
        assert_eq!(
            sealer.open("JBSWY3DPEHPK3PXP").as_deref(),
            Some("JBSWY3DPEHPK3PXP")
        );
    }
}
