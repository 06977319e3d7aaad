//! Makes the keyed fingerprint of a phone number that `cleanup.csv` carries instead of the
//! number: HMAC-SHA256 over the number's digits with the secret `MFA_CLEANUP_KEY`, so that
//! whoever reads the file cannot recover or test a number, while the handler, holding the same
//! key, can tell whether the number registered now is the one the scan saw. Pure.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What every fingerprint starts with, so a value of another scheme is told apart.
const SCHEME: &str = "hs256:";

/// The secret key the scan and the handler share; never printed.
#[derive(Clone)]
pub struct CleanupKey(Vec<u8>);

impl std::fmt::Debug for CleanupKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("CleanupKey(…)")
    }
}

/// The shortest key accepted: 16 bytes of secret.
pub const MIN_KEY_LENGTH: usize = 16;

impl CleanupKey {
    /// Reads the key from the setting's text.
    ///
    /// # Errors
    ///
    /// When the key is shorter than [`MIN_KEY_LENGTH`] characters.
    pub fn new(text: &str) -> Result<CleanupKey, String> {
        let text = text.trim();
        if text.len() < MIN_KEY_LENGTH {
            return Err(format!(
                "MFA_CLEANUP_KEY is shorter than {MIN_KEY_LENGTH} characters"
            ));
        }
        Ok(CleanupKey(text.as_bytes().to_vec()))
    }

    /// Computes the fingerprint of `number` (any format: only its digits count).
    pub fn fingerprint(&self, number: &str) -> String {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        // Hmac accepts keys of any length, so the error arm cannot happen.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(digits.as_bytes());
        let bytes = mac.finalize().into_bytes();
        let mut text = String::with_capacity(SCHEME.len() + 64);
        text.push_str(SCHEME);
        for byte in bytes {
            text.push_str(&format!("{byte:02x}"));
        }
        text
    }

    /// Whether `fingerprint` (from a file) is that of `number`; compared in constant time.
    pub fn matches(&self, fingerprint: &str, number: &str) -> bool {
        let expected = self.fingerprint(number);
        let given = fingerprint.trim().to_ascii_lowercase();
        expected.len() == given.len()
            && expected
                .bytes()
                .zip(given.bytes())
                .fold(0u8, |difference, (a, b)| difference | (a ^ b))
                == 0
    }

    /// Whether `text` has the form of a fingerprint.
    pub fn well_formed(text: &str) -> bool {
        text.trim()
            .strip_prefix(SCHEME)
            .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|byte| byte.is_ascii_hexdigit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_digits_match_and_other_numbers_or_keys_do_not() {
        let key = CleanupKey::new("0123456789abcdef0123").expect("long enough");
        let print = key.fingerprint("+49 1701234567");
        assert!(CleanupKey::well_formed(&print));
        assert!(!print.contains("1701234567"));
        assert!(key.matches(&print, "+491701234567"), "only digits count");
        assert!(!key.matches(&print, "+49 1701234568"));
        let other = CleanupKey::new("another key of some length").expect("long enough");
        assert!(!other.matches(&print, "+49 1701234567"));
        assert!(CleanupKey::new("short").is_err());
        assert!(!format!("{key:?}").contains("0123"));
    }
}
