//! Idempotency keys: the first answer to a creating request, kept so a retry with the same
//! `Idempotency-Key` gets the same answer instead of creating twice.

/// One key of one caller. While the first request runs, `status` is `None` and
/// `locked_until` says until when it counts as running (after that a crashed attempt no longer
/// blocks retries).
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    /// The principal id (user or API key), or `addr:<ip>` for public routes.
    pub owner: String,
    /// The client's `Idempotency-Key` (1 to 255 printable ASCII characters).
    pub key: String,
    /// Hex SHA-256 of method, path, query and body: a retry must match it.
    pub request_hash: String,
    /// The stored answer; `None` while the first request runs.
    pub status: Option<i32>,
    pub content_type: Option<String>,
    pub body: Option<Vec<u8>>,
    pub locked_until: i64,
    pub created_at: i64,
    /// After this the key is forgotten (and may be used again for anything).
    pub expires_at: i64,
}
