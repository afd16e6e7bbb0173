//! Identifiers. Session, user, key and file ids are 24 lowercase hex characters and time-ordered
//! (4 bytes of Unix seconds, then 8 random bytes), the shape Regula clients know from MongoDB
//! ObjectIds; random tokens come from the OS generator.

use crate::time::{Clock, SystemClock};
use rand::{Rng, RngCore};

/// A new 24-hex, time-ordered id.
pub fn new_id() -> String {
    // The real time of making, whatever clock a server runs on: ids sort as they were made.
    let secs = (SystemClock.now_ms() / 1000) as u32;
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&secs.to_be_bytes());
    rand::rng().fill_bytes(&mut bytes[4..]);
    hex::encode(bytes)
}

/// True when `s` has the shape of an id made by [`new_id`].
pub fn is_id(s: &str) -> bool {
    s.len() == 24
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

const BASE36: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// `n` random lowercase base-36 characters (about 5.17 bits each).
pub fn random_base36(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| BASE36[rng.random_range(0..BASE36.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_24_hex_and_distinct() {
        let a = new_id();
        let b = new_id();
        assert!(is_id(&a), "{a}");
        assert_ne!(a, b);
        assert!(!is_id("not-an-id"));
        assert!(!is_id("ABCDEF0123456789abcdef01"));
    }

    #[test]
    fn ids_sort_by_creation_second() {
        let a = new_id();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let b = new_id();
        assert!(a[..8] < b[..8]);
    }
}
