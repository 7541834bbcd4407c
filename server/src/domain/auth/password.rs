//! Argon2id hashing on a dedicated pool of low-priority threads, and the
//! password policy.
//!
//! Hashing is deliberately expensive (OWASP: 19 MiB, 2 passes). Running it
//! on the async runtime would let a login flood stall every request; on
//! tokio's blocking pool it would compete at equal priority. Here a fixed
//! set of threads (one per core) runs under Linux's SCHED_IDLE policy: they
//! use every idle cycle, so logins run at full speed on a quiet server, but
//! any other runnable thread preempts them at once, so a login flood cannot
//! slow dashboard requests. A bounded queue refuses work beyond what the
//! pool can absorb.

use crate::domain::DomainError;
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use std::{
    sync::{mpsc, Arc, Mutex, OnceLock},
    time::Duration,
};
use tokio::sync::oneshot;

/// OWASP Password Storage Cheat Sheet, argon2id option 2.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;
/// Hash jobs waiting beyond this are refused (the caller answers "retry").
const QUEUE_PER_THREAD: usize = 64;
/// Fallback nice(2) value where SCHED_IDLE is refused.
const HASH_THREAD_NICENESS: i32 = 19;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 256;
pub const EXPIRY: Duration = Duration::from_secs(90 * 24 * 3600);

/// Whether a password set at `changed_at` has expired at `now` (the
/// injected clock's time).
pub fn expired(changed_at: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> bool {
    (now - changed_at).to_std().is_ok_and(|age| age > EXPIRY)
}

/// The work a new hash costs. Verification reads the cost from the stored
/// hash, so hashes made at any cost keep verifying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordCost {
    memory_kib: u32,
    passes: u32,
}

impl PasswordCost {
    /// What every server hashes with.
    pub const PRODUCTION: Self = Self {
        memory_kib: MEMORY_KIB,
        passes: PASSES,
    };
    /// argon2's floor, for the in-process test servers only: no variable
    /// reaches it, so a deployment cannot weaken its hashes by mistake.
    pub const TEST_ONLY: Self = Self {
        memory_kib: 8 * LANES,
        passes: 1,
    };

    fn argon2(self) -> Argon2<'static> {
        let params = Params::new(self.memory_kib, self.passes, LANES, None).expect("valid argon2 parameters");
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }
}

impl Default for PasswordCost {
    fn default() -> Self {
        Self::PRODUCTION
    }
}

fn argon2() -> Argon2<'static> {
    PasswordCost::PRODUCTION.argon2()
}

/// Checks the spec's policy: 12+ characters with upper, lower, digit and
/// special characters.
pub fn check_policy(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if len < MIN_LENGTH {
        return Err(format!("must be at least {MIN_LENGTH} characters"));
    }
    if len > MAX_LENGTH {
        return Err(format!("must be at most {MAX_LENGTH} characters"));
    }
    let has = |f: fn(&char) -> bool| password.chars().any(|c| f(&c));
    if !has(char::is_ascii_uppercase) && !password.chars().any(char::is_uppercase) {
        return Err("must contain an uppercase letter".into());
    }
    if !has(char::is_ascii_lowercase) && !password.chars().any(char::is_lowercase) {
        return Err("must contain a lowercase letter".into());
    }
    if !has(char::is_ascii_digit) {
        return Err("must contain a digit".into());
    }
    if !password
        .chars()
        .any(|c| !c.is_alphanumeric() && !c.is_whitespace())
    {
        return Err("must contain a special character".into());
    }
    Ok(())
}

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::SyncSender<Job>,
    threads: usize,
    cost: PasswordCost,
    /// What unknown users verify against, at this hasher's cost so both
    /// cases take the same time.
    dummy: Arc<OnceLock<String>>,
}

impl PasswordHasher {
    /// One hashing thread per core.
    pub fn new() -> Self {
        Self::with_threads(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// One hashing thread per core, hashing at `cost`.
    pub fn with_cost(cost: PasswordCost) -> Self {
        Self { cost, ..Self::new() }
    }

    pub fn with_threads(threads: usize) -> Self {
        let threads = threads.max(1);
        let (tx, rx) = mpsc::sync_channel::<Job>(threads * QUEUE_PER_THREAD);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_own_priority();
                    loop {
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .expect("spawn password hashing thread");
        }
        Self {
            jobs: tx,
            threads,
            cost: PasswordCost::PRODUCTION,
            dummy: Arc::new(OnceLock::new()),
        }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, DomainError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => DomainError::RateLimited {
                retry_after: Duration::from_secs(1),
            },
            mpsc::TrySendError::Disconnected(_) => DomainError::invariant("hashing pool stopped"),
        })?;
        rx.await
            .map_err(|_| DomainError::invariant("hashing job dropped"))
    }

    pub async fn hash(&self, password: &str) -> Result<String, DomainError> {
        let password = password.to_owned();
        let cost = self.cost;
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            cost.argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| DomainError::internal("argon2", e.to_string()))
        })
        .await?
    }

    /// Verifies `password` against `hash`; with no hash (unknown user) it
    /// verifies against a fixed dummy so both cases cost the same.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, DomainError> {
        let password = password.to_owned();
        let (hash, real) = match hash {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy_hash().to_owned(), false),
        };
        self.run(move || verify_reusing_memory(&password, &hash) && real)
            .await
    }
}

impl PasswordHasher {
    fn dummy_hash(&self) -> &str {
        self.dummy.get_or_init(|| {
            let salt = SaltString::generate(&mut OsRng);
            self.cost
                .argon2()
                .hash_password(b"optralis-timing-equaliser", &salt)
                .expect("hash dummy password")
                .to_string()
        })
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

thread_local! {
    /// Each hashing thread keeps its 19 MiB work area: allocating and
    /// unmapping it per login would fault pages in and trigger TLB
    /// shootdowns that interrupt request threads on other cores.
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn verify_reusing_memory(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        // Foreign hashes (none are written today) take the general path.
        return argon2().verify_password(password.as_bytes(), &parsed).is_ok();
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let computed = BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        if blocks.len() < params.block_count() {
            blocks.resize(params.block_count(), argon2::Block::default());
        }
        hasher.hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut out,
            &mut blocks[..params.block_count()],
        )
    });
    computed.is_ok() && crate::domain::crypto::constant_time_eq_bytes(&out, expected.as_bytes())
}

fn lower_own_priority() {
    // SAFETY: both calls act on the calling thread only (pid 0 / own tid)
    // and read a parameter struct that lives for the call. Failure leaves
    // the thread at normal priority, which is still correct.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, HASH_THREAD_NICENESS);
        }
    }
}

/// Time of one verification on the calling thread, outside the pool: the
/// baseline of the login benchmark.
pub fn bare_verify_time(samples: u32) -> Duration {
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2()
        .hash_password(b"Bench-Passw0rd!!", &salt)
        .expect("hash")
        .to_string();
    let started = std::time::Instant::now();
    for _ in 0..samples {
        let _ = verify_reusing_memory("Bench-Passw0rd!!", &hash);
    }
    started.elapsed() / samples.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_expires_just_past_ninety_days() {
        let set = chrono::Utc::now();
        let ninety = chrono::Duration::days(90);
        assert!(!expired(set, set + ninety));
        assert!(expired(set, set + ninety + chrono::Duration::seconds(1)));
        assert!(
            !expired(set, set - chrono::Duration::days(1)),
            "a clock behind is not expiry"
        );
    }

    #[test]
    fn policy_names_what_is_missing() {
        assert!(check_policy("Short1!").unwrap_err().contains("12"));
        assert!(check_policy("alllowercase1!").unwrap_err().contains("uppercase"));
        assert!(check_policy("ALLUPPERCASE1!").unwrap_err().contains("lowercase"));
        assert!(check_policy("NoDigitsHere!!").unwrap_err().contains("digit"));
        assert!(check_policy("NoSpecial12345").unwrap_err().contains("special"));
        assert!(check_policy("Correct-Horse-9").is_ok());
    }

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_match() {
        let hasher = PasswordHasher::new();
        let hash = hasher.hash("Correct-Horse-9").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hasher.verify("Correct-Horse-9", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("wrong-Horse-9", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("optralis-timing-equaliser", None).await.unwrap());
    }

    #[tokio::test]
    async fn a_cheaper_cost_still_verifies_with_any_hasher() {
        let cheap = PasswordHasher::with_cost(PasswordCost::TEST_ONLY);
        let hash = cheap.hash("Correct-Horse-9").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
        // The cost travels in the hash: a production hasher verifies it.
        let production = PasswordHasher::new();
        assert!(production.verify("Correct-Horse-9", Some(&hash)).await.unwrap());
        assert!(!cheap.verify("optralis-timing-equaliser", None).await.unwrap());
    }
}
