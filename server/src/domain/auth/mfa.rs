//! TOTP (RFC 6238, 30 s, 6 digits, SHA-1 as authenticator apps expect) and
//! single-use backup codes.

use rand::RngCore;
use totp_rs::{Algorithm, Secret, TOTP};

pub const ISSUER: &str = "Optralis";
pub const BACKUP_CODES: usize = 10;

pub fn new_secret() -> String {
    Secret::generate_secret().to_encoded().to_string()
}

fn totp(secret_b32: &str, account: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_owned()).to_bytes().ok()?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        Some(ISSUER.into()),
        account.into(),
    )
    .ok()
}

pub fn otpauth_url(secret_b32: &str, account: &str) -> Option<String> {
    totp(secret_b32, account).map(|t| t.get_url())
}

/// Accepts the current step and one step either side (clock drift).
pub fn check(secret_b32: &str, account: &str, code: &str) -> bool {
    let code = code.trim();
    code.len() == 6
        && code.chars().all(|c| c.is_ascii_digit())
        && totp(secret_b32, account).is_some_and(|t| t.check_current(code).unwrap_or(false))
}

/// Code for the current step (tests and tooling).
pub fn current_code(secret_b32: &str, account: &str) -> Option<String> {
    totp(secret_b32, account).and_then(|t| t.generate_current().ok())
}

/// Code for the step containing `unix_time` (tests and tooling).
pub fn code_at(secret_b32: &str, account: &str, unix_time: u64) -> Option<String> {
    totp(secret_b32, account).map(|t| t.generate(unix_time))
}

/// Eight-digit codes, shown once.
pub fn new_backup_codes() -> Vec<String> {
    let mut rng = rand::rng();
    (0..BACKUP_CODES)
        .map(|_| format!("{:08}", rng.next_u32() % 100_000_000))
        .collect()
}

/// Backup codes are typed with or without separators.
pub fn normalise_backup_code(code: &str) -> String {
    code.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_code_checks_and_others_do_not() {
        let secret = new_secret();
        let code = current_code(&secret, "a@b.c").unwrap();
        assert!(check(&secret, "a@b.c", &code));
        let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 500_000) % 1_000_000);
        assert!(!check(&secret, "a@b.c", &wrong));
        assert!(!check(&secret, "a@b.c", "abcdef"));
        assert!(otpauth_url(&secret, "a@b.c")
            .unwrap()
            .starts_with("otpauth://totp/Optralis:a%40b.c?"));
        assert_eq!(new_backup_codes().len(), BACKUP_CODES);
        assert_eq!(normalise_backup_code("1234-5678"), "12345678");
    }
}
