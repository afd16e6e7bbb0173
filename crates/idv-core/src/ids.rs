//! Identifiers. Session, user, key and file ids are 24 lowercase hex characters and time-ordered
//! (4 bytes of Unix seconds, then 8 random bytes), the shape Regula clients know from MongoDB
//! ObjectIds; random tokens come from the OS generator.
//!
//! The store's ports take each entity's id as its own type ([`SessionId`], [`FileId`], …): a
//! borrowed `&str` in a one-field wrapper, `Copy` and free to make, so the hot read path
//! allocates nothing, yet a file id given where a session id belongs does not compile:
//!
//! ```
//! use idv_core::ids::{FileId, SessionId};
//!
//! fn wants_session(id: SessionId<'_>) -> &str {
//!     id.as_str()
//! }
//! let stored = String::from("65f0a1b2c3d4e5f601234567");
//! assert_eq!(wants_session(SessionId::from(&stored)), stored);
//! assert_eq!(wants_session("abc".into()), "abc");
//! let _file = FileId::new("abc");
//! ```
//!
//! ```compile_fail,E0308
//! use idv_core::ids::{FileId, SessionId};
//!
//! fn wants_session(id: SessionId<'_>) -> &str {
//!     id.as_str()
//! }
//! wants_session(FileId::new("65f0a1b2c3d4e5f601234567"));
//! ```
//!
//! Nor is there a way from one kind to another but through the text:
//!
//! ```compile_fail,E0277
//! use idv_core::ids::{FileId, SessionId};
//!
//! let file = FileId::new("65f0a1b2c3d4e5f601234567");
//! let _session: SessionId<'_> = file.into();
//! ```

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

/// Defines borrowed id newtypes: `Copy`, compared, hashed and shown as their text, made from a
/// `&str` or `&String` (a record's field), with no conversion between two kinds.
macro_rules! borrowed_ids {
    ($($(#[$doc:meta])* $name:ident;)+) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name<'a>(&'a str);

        impl<'a> $name<'a> {
            /// Wraps `id` (no check of its shape: ids from other installs or clients are kept
            /// as given).
            pub const fn new(id: &'a str) -> Self {
                $name(id)
            }

            /// The id's text.
            pub const fn as_str(self) -> &'a str {
                self.0
            }
        }

        impl std::fmt::Display for $name<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }

        impl<'a> From<&'a str> for $name<'a> {
            fn from(id: &'a str) -> Self {
                $name(id)
            }
        }

        impl<'a> From<&'a String> for $name<'a> {
            fn from(id: &'a String) -> Self {
                $name(id.as_str())
            }
        }

        impl AsRef<str> for $name<'_> {
            fn as_ref(&self) -> &str {
                self.0
            }
        }
    )+};
}

borrowed_ids! {
    /// A session's id (also the id of its tombstone once deleted).
    SessionId;
    /// A session file's id (unique within its session).
    FileId;
    /// A workflow's id (every revision shares it).
    WorkflowId;
    /// A workflow asset's id.
    AssetId;
    /// A user's id.
    UserId;
    /// An API key's id (the lookup part of the key text).
    ApiKeyId;
    /// A device token's id.
    DeviceTokenId;
    /// The id of one login, shared by its access and refresh tokens.
    TokenFamilyId;
    /// The id of whoever acts: a user, an API key or a device; what `owner_id` fields hold.
    PrincipalId;
    /// A webhook endpoint's id.
    WebhookId;
    /// A webhook delivery's id.
    DeliveryId;
    /// A background job's id.
    JobId;
    /// A shareable start link's id (not its secret code).
    StartLinkId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_ids_show_and_give_back_their_text() {
        let text = String::from("65f0a1b2c3d4e5f601234567");
        let session = SessionId::from(&text);
        assert_eq!(session.as_str(), "65f0a1b2c3d4e5f601234567");
        assert_eq!(session.to_string(), text);
        assert_eq!(
            format!("/api/sessions/{session}"),
            format!("/api/sessions/{text}")
        );
        assert_eq!(SessionId::new("a"), SessionId::from("a"));
        assert_ne!(SessionId::new("a"), SessionId::new("b"));
        // The text is borrowed, not copied.
        assert!(std::ptr::eq(session.as_str(), text.as_str()));
        let delivery = DeliveryId::new("d1");
        assert_eq!(format!("{delivery}"), "d1");
        assert_eq!(format!("{delivery:?}"), "DeliveryId(\"d1\")");
        let owner: Option<PrincipalId<'_>> = Some("u1".into());
        assert_eq!(owner.map(PrincipalId::as_str), Some("u1"));
    }

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
