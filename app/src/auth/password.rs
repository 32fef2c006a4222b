//! argon2id password hashes (SPEC §8: m ≥ 19456 KiB, t ≥ 2, p = 1).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;
use std::sync::LazyLock;

/// Memory cost in KiB, time cost and parallelism of every new hash.
pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

/// The shortest password an administrator may set.
pub const MIN_LENGTH: usize = 10;

fn argon2() -> Argon2<'static> {
    // The parameters are constants within argon2's documented bounds.
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .unwrap_or_else(|_| unreachable!("constant argon2 parameters are valid"));
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Checks a password against a stored PHC string. A malformed hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when the email is unknown so that an
/// unknown email costs the same time as a wrong password.
static DECOY: LazyLock<Option<String>> = LazyLock::new(|| hash(&generate()).ok());

/// Spends the time of one verification without any account behind it.
pub fn verify_decoy(password: &str) {
    if let Some(decoy) = DECOY.as_deref() {
        let _ = verify(password, decoy);
    }
}

/// A random password of 20 characters without look-alike letters (no 0/O, 1/l/I).
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Hashes computed at once: one a core. Each takes [`MEMORY_KIB`] of memory and a core for
/// tens of milliseconds, so a flood of sign-ins waits here instead of filling the blocking
/// pool with hundreds of 19 MiB computations (SPEC §8).
static HASHING: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// Runs argon2 (CPU-bound, tens of milliseconds) on the blocking pool, off the async workers,
/// at most one a core at a time.
async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, crate::model::AppError> {
    let _permit = HASHING.acquire().await.map_err(|e| {
        tracing::error!(error = %e, "the password hashing limit was closed");
        crate::model::AppError::Internal
    })?;
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!(error = %e, "password hashing task failed");
        crate::model::AppError::Internal
    })
}

/// [`hash`], off the async workers.
pub async fn hash_off_thread(password: String) -> Result<String, crate::model::AppError> {
    off_thread(move || hash(&password)).await?.map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        crate::model::AppError::Internal
    })
}

/// [`verify`] against a stored hash, or [`verify_decoy`] when there is none (unknown
/// email), off the async workers; either way it costs one verification.
pub async fn verify_off_thread(
    password: String,
    phc: Option<String>,
) -> Result<bool, crate::model::AppError> {
    off_thread(move || match phc {
        Some(phc) => verify(&password, &phc),
        None => {
            verify_decoy(&password);
            false
        }
    })
    .await
}

/// The most common passwords long enough to pass [`MIN_LENGTH`], lower-cased: the first
/// guesses of any attacker (`common-passwords.txt` says where the list comes from).
static COMMON: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| {
        include_str!("common-passwords.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect()
    });

/// Why a password chosen by a person is refused, if it is.
pub fn weakness(password: &str) -> Option<String> {
    if password.chars().count() < MIN_LENGTH {
        return Some(format!(
            "The password must be at least {MIN_LENGTH} characters long."
        ));
    }
    if COMMON.contains(password.to_lowercase().as_str()) {
        return Some(
            "This password is one of the most common ones, which attackers try first. \
             Choose another."
                .into(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        assert_eq!(COMMON.len(), 10_000);
        for common in ["qwertyuiop", "QwertyUiop", "1234567890", "supersecret"] {
            let why = weakness(common).expect("refused");
            assert!(why.contains("most common"), "{why}");
        }
        assert!(weakness("short").unwrap().contains("at least 10"));
        assert_eq!(weakness("correct horse battery staple"), None);
    }

    #[test]
    fn hashes_are_argon2id_with_the_required_costs() {
        let phc = hash("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("correct horse battery!", &phc));
        assert!(!verify("anything", "not a phc string"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_hashes_run_at_once_than_there_are_cores() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let calls: Vec<_> = (0..8 * cores)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(off_thread(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for call in calls {
            call.await.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), cores);
    }

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let a = generate();
        assert_eq!(a.len(), 20);
        assert_ne!(a, generate());
        assert!(weakness(&a).is_none());
        assert!(weakness("short").unwrap().contains("at least 10"));
    }
}
