//! Passwords: what is accepted (NIST SP 800-63B: at least 8 characters, not a commonly used
//! one, no composition rules) and how it is kept (Argon2id, PHC string).
use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// The shortest password accepted, in characters.
pub const MIN_CHARS: usize = 8;
/// The longest, in characters: long passphrases are welcome, megabytes to hash are not.
pub const MAX_CHARS: usize = 256;

/// Argon2id's cost. The defaults are OWASP's first recommendation (19 MiB, 2 passes, 1 lane):
/// about 25 ms per hash on one core of the machine the benchmarks ran on.
#[derive(Debug, Clone, Copy)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// The 11,611 passwords of at least 8 characters among the 30,000 most common in leaked
/// password lists (from zxcvbn's frequency lists, MIT licence), lower-cased.
fn common() -> &'static HashSet<&'static str> {
    static COMMON: OnceLock<HashSet<&'static str>> = OnceLock::new();
    COMMON.get_or_init(|| {
        include_str!("../data/common-passwords.txt")
            .lines()
            .filter(|line| !line.is_empty())
            .collect()
    })
}

/// Why `password` is refused, in words for the person choosing it; `None` when it is accepted.
pub fn refusal(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Some(format!(
            "password: must be at least {MIN_CHARS} characters long, got {chars}"
        ));
    }
    if chars > MAX_CHARS {
        return Some(format!(
            "password: must be at most {MAX_CHARS} characters long, got {chars}"
        ));
    }
    if common().contains(password.to_lowercase().as_str()) {
        return Some(
            "password: this is one of the most commonly used passwords, which attackers try \
             first; choose another (a few unrelated words make a strong one)"
                .to_owned(),
        );
    }
    None
}

/// Hashes and checks passwords with one set of parameters.
#[derive(Clone)]
pub struct PasswordHashing {
    argon2: Argon2<'static>,
    /// A hash of nothing anyone knows, checked when an email is unknown, so the answer takes
    /// as long as for a wrong password.
    decoy: String,
}

impl PasswordHashing {
    pub fn new(params: HashParams) -> anyhow::Result<Self> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("Argon2 parameters: {e}"))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut hashing = Self {
            argon2,
            decoy: String::new(),
        };
        hashing.decoy = hashing.hash(&uuid::Uuid::new_v4().to_string())?;
        Ok(hashing)
    }

    /// The PHC string of `password` with a new random salt.
    pub fn hash(&self, password: &str) -> anyhow::Result<String> {
        let mut salt = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
        let salt =
            SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("encoding a salt: {e}"))?;
        Ok(self
            .argon2
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?
            .to_string())
    }

    /// Whether `password` matches `stored`; with no `stored` (no such account), checks the
    /// decoy and answers no, in the same time.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let (hash, known) = match stored {
            Some(stored) => (stored, true),
            None => (self.decoy.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        let matches = self
            .argon2
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        matches && known
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_common_passwords_are_refused_with_why() {
        assert!(refusal("seven77").is_some_and(|why| why.contains("at least 8")));
        for common in ["password", "PassWord", "12345678", "iloveyou", "trustno1"] {
            let why = refusal(common).expect(common);
            assert!(why.contains("most commonly used"), "{common}: {why}");
        }
        assert!(refusal(&"x".repeat(MAX_CHARS + 1)).is_some());
        for fine in [
            "correct horse battery staple",
            "Zq8#kd0pW!",
            "ünïcødé-pässwörd",
        ] {
            assert_eq!(refusal(fine), None, "{fine}");
        }
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hashing = PasswordHashing::new(HashParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
        .expect("params");
        let stored = hashing.hash("a long enough secret").expect("hash");
        assert!(
            stored.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"),
            "{stored}"
        );
        assert!(hashing.verify("a long enough secret", Some(&stored)));
        assert!(!hashing.verify("another secret", Some(&stored)));
        assert!(!hashing.verify("a long enough secret", None));
        assert_ne!(stored, hashing.hash("a long enough secret").expect("hash"));
    }
}
