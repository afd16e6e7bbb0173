//! The rows the store reads and writes. Times are milliseconds since the Unix epoch; JSON
//! columns are `serde_json::Value`.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// 24 hex.
    pub id: String,
    /// Unique login name.
    pub name: String,
    pub email: Option<String>,
    /// Argon2id PHC string; never the password.
    pub password_hash: String,
    /// Role names, built-in or custom.
    pub roles: Vec<String>,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    pub name: String,
    pub description: Option<String>,
    /// Canonical `scope:operation` strings.
    pub permissions: Vec<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    /// 24 hex; also the lookup part of the key text.
    pub id: String,
    pub name: String,
    /// Keyed hash (hex) of the secret part; the secret itself is never stored.
    pub secret_hash: String,
    pub permissions: Vec<String>,
    /// Who minted it (a user id or another key's id); `None` for keys made by the CLI.
    pub owner_id: Option<String>,
    /// Time to live in seconds as requested; `None` never expires.
    pub ttl: Option<i64>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "access" => Some(TokenKind::Access),
            "refresh" => Some(TokenKind::Refresh),
            _ => None,
        }
    }
}

/// A Bearer access token or its refresh token, stored by the hash of its secret.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthToken {
    pub hash: String,
    pub kind: TokenKind,
    /// One login's access and refresh tokens share a family; logout deletes the family.
    pub family: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A workflow definition to store: the parsed summary plus the source document (as JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct NewWorkflow {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub version: Option<String>,
    pub default_locale: Option<String>,
    /// The whole definition as JSON (converted from YAML when loaded from YAML).
    pub definition: Value,
    pub owner_id: Option<String>,
    pub created_at: i64,
}

/// Serialized (camelCase) as `workflow.json` of a session export.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowRecord {
    pub id: String,
    pub revision: i64,
    pub name: String,
    pub description: Option<String>,
    pub version: Option<String>,
    pub default_locale: Option<String>,
    pub definition: Value,
    pub owner_id: Option<String>,
    pub created_at: i64,
}

/// One localized string (`key` in locale `code`, lower-cased); the workflow model's own type.
pub use idv_core::workflow::TranslationEntry as Translation;

/// A session's JSON documents as JSON text, for an answer that passes them on unparsed
/// ([`crate::FileStore::session_with_files_text`]).
#[derive(Debug)]
pub struct SessionTexts {
    pub metadata: Box<serde_json::value::RawValue>,
    pub properties: Box<serde_json::value::RawValue>,
    pub steps: Box<serde_json::value::RawValue>,
    pub history: Box<serde_json::value::RawValue>,
}

/// Serialized (camelCase) as the `record` of a session export's `session.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    pub id: String,
    pub workflow_id: String,
    pub workflow_revision: i64,
    pub workflow_name: String,
    pub workflow_version: Option<String>,
    pub status: i64,
    pub locale: String,
    /// Given at start; any JSON object.
    pub metadata: Value,
    /// Property id → value (a JSON object).
    pub properties: Value,
    /// The step the session waits in; `None` never happens for a started session.
    pub current_step: Option<String>,
    /// `[{id, attempt, completedAt}]` in completion order, plus whatever later engine work adds.
    pub steps: Value,
    /// True once a `final` step is reached.
    pub ended: bool,
    /// The principal that started it (user id, API key id or device id).
    pub owner_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Bumped on every write; see [`crate::Store::session_update`].
    pub revision: i64,
    /// The workflow engine's own state (`{errors, normalized, actionFiles}`), a JSON object
    /// (`{}` for a new session); stored and returned as given (PostgreSQL keeps it as jsonb,
    /// like the other session documents, so object keys may come back in another order).
    pub engine: Value,
    /// When the session's lifetime ends (ms since the epoch); `None` never. See
    /// [`crate::Store::session_expired`].
    pub expires_at: Option<i64>,
    /// Reviews and other recorded changes, oldest first (a JSON array): status changes
    /// `{at, by: {id, name, kind}, from, to, comment}`, legal-hold changes
    /// `{at, by, legalHold, comment}`. Kept in the session row, so a change and its history
    /// entry are one compare-and-swap.
    #[serde(default = "empty_array")]
    pub history: Value,
    /// While set, the session cannot be deleted, neither by a caller nor by retention.
    #[serde(default)]
    pub legal_hold: bool,
}

/// How many sessions created on one UTC day are in one status (see
/// [`crate::SessionStore::session_day_counts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub status: i64,
    pub count: i64,
}

/// How many sessions of a workflow reached one step, and how many are in it now (see
/// [`crate::SessionStore::session_step_counts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepCount {
    pub step: String,
    pub reached: i64,
    pub here: i64,
}

fn empty_array() -> Value {
    Value::Array(Vec::new())
}

/// The `object_key` of a file whose bytes are in its database row.
pub const INLINE_KEY: &str = "db:";

#[derive(Debug, Clone, PartialEq)]
pub struct FileRecord {
    pub id: String,
    pub session_id: String,
    /// For step data, the workflow's file id (`is_continue_file`); for uploads, the sanitized
    /// original file name.
    pub name: String,
    pub step: Option<String>,
    /// The workflow property this file fills, if any.
    pub property: Option<String>,
    pub content_type: String,
    pub size: i64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// Where the bytes are in blob storage (`sessions/{sessionId}/files/{fileId}`).
    pub object_key: String,
    pub created_at: i64,
    /// The bytes themselves, for small files kept in the database row instead of file storage
    /// (`object_key` is then [`INLINE_KEY`]). Written by inserts; reads of records leave it
    /// `None` (lists stay small): fetch the bytes with [`crate::Store::file_content`].
    pub inline: Option<Vec<u8>>,
}

/// A background action of a session's step waiting to run (or running under a lease). Written
/// with the session change that schedules it ([`crate::Store::session_advance`]), claimed by a
/// worker with [`crate::Store::job_claim`], deleted with the session change that records its
/// outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// 24 hex.
    pub id: String,
    pub session_id: String,
    /// The step whose action this is, as `STEP@VISIT` (the visit that queued it; see the
    /// engine's `ActionOutcome::visit`).
    pub step: String,
    /// The action's id within the step.
    pub action: String,
    /// Not claimed before this time.
    pub run_at: i64,
    /// How many times the job was claimed.
    pub attempts: i64,
    /// While a claim's lease holds, no other worker may claim it; `None` when not claimed.
    pub locked_until: Option<i64>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    pub created_at: i64,
}

/// A workflow asset (an image a workflow shows, served at `/api/v1/assets/{id}/content`). The
/// bytes are in blob storage; each upload gets a new object, so a row never points at bytes
/// that are being overwritten.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetRecord {
    /// `[A-Za-z0-9_.-]{1,128}`, chosen by the uploader (`onboardingScanDoc`).
    pub id: String,
    pub content_type: String,
    pub size: i64,
    /// Hex SHA-256 of the bytes; the HTTP `ETag`.
    pub sha256: String,
    /// Where the bytes are in blob storage (`assets/{id}/{upload}`).
    pub object_key: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Who deleted a session: a user or API key (its id and name), or the retention job.
#[derive(Debug, Clone, PartialEq)]
pub struct Deleter {
    /// The user or API key id; `None` for retention.
    pub id: Option<String>,
    pub name: String,
    /// `user`, `apikey` or `retention`.
    pub kind: String,
}

/// What remains of a deleted session: enough to answer `410 Gone` and to account for the
/// deletion, nothing of the person's data.
#[derive(Debug, Clone, PartialEq)]
pub struct TombstoneRecord {
    /// The deleted session's id.
    pub id: String,
    pub workflow_id: String,
    /// The session's status when it was deleted.
    pub status: i64,
    /// Who started the session, so only callers who could reach it see its tombstone.
    pub owner_id: Option<String>,
    pub deleted_at: i64,
    pub deleted_by: Deleter,
    pub reason: Option<String>,
}

/// The outcome of [`crate::Store::session_delete`].
#[derive(Debug, Clone, PartialEq)]
pub enum SessionDeletion {
    /// The session row, its file rows and its jobs are gone and the tombstone is written. The
    /// file records are those deleted, so the caller can remove their bytes.
    Deleted {
        tombstone: TombstoneRecord,
        files: Vec<FileRecord>,
    },
    /// The session was deleted before: its tombstone, unchanged.
    AlreadyDeleted(TombstoneRecord),
    /// The session is under legal hold; nothing changed.
    LegalHold,
    /// The session was updated at or after the `updated_before` limit given; nothing changed.
    Recent,
    /// There is no such session and never was.
    NotFound,
}

/// What a device token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceTokenKind {
    /// An ephemeral device (`POST /api/device/ephemeral`): starts sessions and reads its own.
    Ephemeral,
    /// Bound to one session: a deeplink's token, or what a one-time token is exchanged for.
    Session,
    /// A one-time `tr-` token from a QR code; good only to be exchanged once for a `Session`
    /// token.
    Short,
}

impl DeviceTokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceTokenKind::Ephemeral => "ephemeral",
            DeviceTokenKind::Session => "session",
            DeviceTokenKind::Short => "short",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ephemeral" => Some(DeviceTokenKind::Ephemeral),
            "session" => Some(DeviceTokenKind::Session),
            "short" => Some(DeviceTokenKind::Short),
            _ => None,
        }
    }
}

/// A device token (ephemeral device, deeplink or QR code), stored by the keyed hash of its
/// text; the text itself is never stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceToken {
    /// 24 hex.
    pub id: String,
    pub kind: DeviceTokenKind,
    /// Keyed hash (hex) of the whole token text; unique.
    pub secret_hash: String,
    /// The principal the token acts as: the `owner_id` of the sessions it starts. A one-time
    /// token and the token it is exchanged for share it.
    pub principal_id: String,
    /// The one session a `Session` or `Short` token may touch.
    pub session_id: Option<String>,
    /// The workflows the token was issued for (deeplinks and QR codes).
    pub workflow_ids: Vec<String>,
    /// The user or API key that minted it.
    pub created_by: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// When a one-time token was exchanged; `None` while unused.
    pub used_at: Option<i64>,
}

/// A shareable start link of a workflow: each opening starts a fresh session. Only the
/// SHA-256 of the link's random code is stored; the code itself is shown once.
#[derive(Debug, Clone, PartialEq)]
pub struct StartLink {
    /// 24 hex.
    pub id: String,
    pub workflow_id: String,
    /// SHA-256 (hex) of the code in the link's URL; unique.
    pub code_hash: String,
    /// Given to every session the link starts (a JSON object).
    pub metadata: serde_json::Value,
    /// The sessions' locale; `None`: the workflow's.
    pub locale: Option<String>,
    /// Openings allowed at most; `None`: no limit.
    pub max_uses: Option<i64>,
    /// Openings so far.
    pub uses: i64,
    /// When it stops working (ms); `None`: never.
    pub expires_at: Option<i64>,
    /// When it was revoked (ms).
    pub revoked_at: Option<i64>,
    /// The user or API key that created it.
    pub created_by: Option<String>,
    pub created_at: i64,
}

/// What [`crate::StartLinkStore::start_link_use`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum StartLinkUse {
    /// Counted: the link as it is now (`uses` includes this opening).
    Used(Box<StartLink>),
    /// No link with that id.
    NotFound,
    Revoked,
    Expired,
    /// `uses` has reached `max_uses`.
    UsedUp,
}
