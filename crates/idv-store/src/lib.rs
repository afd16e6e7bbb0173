//! Storage ports. [`Store`] is the one interface to the database, implemented by the SQLite and
//! PostgreSQL adapters; [`blobs::Blobs`] is the one interface to file storage. The
//! [`conformance`] suite runs against every adapter, so both behave the same.

pub mod audit;
pub mod blobs;
pub mod conformance;
pub mod idempotency;
pub mod records;

pub use audit::{AuditChain, AuditQuery, AuditRecord, NewAuditEntry};
pub use idempotency::IdempotencyRecord;
pub use records::*;

use async_trait::async_trait;

/// Storage errors. `Conflict` is a unique-key clash (a name taken twice); everything else an
/// adapter cannot recover from is `Backend`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("storage backend: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The database: users, roles, API keys, access tokens, settings, workflows, translations,
/// sessions, their file records and the workflow engine's background jobs. SQL lives only in
/// the adapters.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and the health endpoint.
    fn backend(&self) -> &'static str;

    /// A cheap round trip that proves the database answers.
    async fn ping(&self) -> StoreResult<()>;

    // --- settings: small server-wide values such as the key that hashes API key secrets ---

    /// Returns the stored value for `key`, storing `value` first if there was none. Two
    /// processes racing on an empty database both get the same, first-stored value.
    async fn setting_get_or_insert(&self, key: &str, value: &str) -> StoreResult<String>;

    // --- users ---

    /// Inserts a user; `Conflict` when the name is taken.
    async fn user_create(&self, user: &User) -> StoreResult<()>;
    async fn user_get(&self, id: &str) -> StoreResult<Option<User>>;
    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>>;
    /// All users, oldest first.
    async fn user_list(&self) -> StoreResult<Vec<User>>;
    /// Replaces email, password hash, roles, active and updated_at of the user with `user.id`.
    /// Returns false when there is no such user.
    async fn user_update(&self, user: &User) -> StoreResult<bool>;
    /// Deletes the user and every access token it holds. Returns false when there was none.
    async fn user_delete(&self, id: &str) -> StoreResult<bool>;
    async fn user_count(&self) -> StoreResult<i64>;

    // --- custom roles (the built-in ones live in code) ---

    /// Inserts a role; `Conflict` when the name is taken.
    async fn role_create(&self, role: &Role) -> StoreResult<()>;
    /// All custom roles, by name.
    async fn role_list(&self) -> StoreResult<Vec<Role>>;

    // --- API keys ---

    async fn apikey_create(&self, key: &ApiKey) -> StoreResult<()>;
    async fn apikey_get(&self, id: &str) -> StoreResult<Option<ApiKey>>;
    /// Keys created by `owner_id`, or all keys when `None`; newest first.
    async fn apikey_list(&self, owner_id: Option<&str>) -> StoreResult<Vec<ApiKey>>;
    /// Sets `revoked_at` if not yet set. Returns false when there is no such key.
    async fn apikey_revoke(&self, id: &str, at_ms: i64) -> StoreResult<bool>;
    /// Records the last time the key was used.
    async fn apikey_touch(&self, id: &str, at_ms: i64) -> StoreResult<()>;

    // --- access and refresh tokens (Bearer) ---

    async fn token_create(&self, token: &AuthToken) -> StoreResult<()>;
    /// Looks a token up by the hash of its secret.
    async fn token_get(&self, hash: &str) -> StoreResult<Option<AuthToken>>;
    /// Deletes every token of one login (access and refresh share a `family`).
    async fn token_delete_family(&self, family: &str) -> StoreResult<()>;
    /// Deletes tokens whose expiry is before `now_ms`; returns how many.
    async fn token_delete_expired(&self, now_ms: i64) -> StoreResult<u64>;

    // --- workflows: every upload is a new revision; sessions pin the revision they started on ---

    /// Stores `def` as the next revision of its workflow id and makes it current. Returns the
    /// revision number given (1 for a new id).
    async fn workflow_put(&self, def: &NewWorkflow) -> StoreResult<i64>;
    /// The current revision of a workflow, unless deleted.
    async fn workflow_get(&self, id: &str) -> StoreResult<Option<WorkflowRecord>>;
    /// One revision, even of a deleted workflow (running sessions still need it).
    async fn workflow_get_revision(
        &self,
        id: &str,
        revision: i64,
    ) -> StoreResult<Option<WorkflowRecord>>;
    /// Current revisions of all workflows that are not deleted, by name.
    async fn workflow_list(&self) -> StoreResult<Vec<WorkflowRecord>>;
    /// Marks the workflow deleted (revisions stay for running sessions). False when unknown.
    async fn workflow_delete(&self, id: &str) -> StoreResult<bool>;

    // --- translations: keys are global across workflows ---

    /// Inserts or replaces each `(key, code)` entry.
    async fn translations_put(&self, entries: &[Translation]) -> StoreResult<()>;
    /// Every entry whose code is in `codes`.
    async fn translations_for(&self, codes: &[String]) -> StoreResult<Vec<Translation>>;
    /// The distinct locale codes that have entries.
    async fn translation_codes(&self) -> StoreResult<Vec<String>>;

    // --- workflow assets (metadata; the bytes are in blob storage at `object_key`) ---

    /// Inserts the asset, or replaces every field of the stored one but `created_at`. Returns
    /// what it replaced, so the caller can delete the bytes it pointed at.
    async fn asset_put(&self, asset: &AssetRecord) -> StoreResult<Option<AssetRecord>>;
    async fn asset_get(&self, id: &str) -> StoreResult<Option<AssetRecord>>;
    /// All assets, by id (byte order).
    async fn asset_list(&self) -> StoreResult<Vec<AssetRecord>>;
    /// Deletes the asset and returns what was deleted.
    async fn asset_delete(&self, id: &str) -> StoreResult<Option<AssetRecord>>;

    // --- sessions ---

    async fn session_create(&self, session: &SessionRecord) -> StoreResult<()>;
    async fn session_get(&self, id: &str) -> StoreResult<Option<SessionRecord>>;
    /// Writes `session` if the stored row still has `session.revision - 1` (optimistic
    /// concurrency: the caller bumps `revision` before calling). False on a lost race or when
    /// the session is gone.
    async fn session_update(&self, session: &SessionRecord) -> StoreResult<bool>;

    // --- session files (rows are written only after the bytes are stored) ---

    async fn file_create(&self, file: &FileRecord) -> StoreResult<()>;
    /// Files of a session, oldest first.
    async fn file_list(&self, session_id: &str) -> StoreResult<Vec<FileRecord>>;
    async fn file_get(&self, session_id: &str, file_id: &str) -> StoreResult<Option<FileRecord>>;
    /// The bytes of a file kept in its database row (`None` when there is no such file or its
    /// bytes are in file storage).
    async fn file_content(&self, session_id: &str, file_id: &str) -> StoreResult<Option<Vec<u8>>>;

    /// A session and its files (oldest first) in one read: the hot path of
    /// `GET /api/sessions/{id}`. Adapters may answer it with a single statement.
    async fn session_with_files(
        &self,
        id: &str,
    ) -> StoreResult<Option<(SessionRecord, Vec<FileRecord>)>> {
        let Some(session) = self.session_get(id).await? else {
            return Ok(None);
        };
        let files = self.file_list(id).await?;
        Ok(Some((session, files)))
    }

    // --- workflow engine: atomic advances, background jobs, expiry ---

    /// In one transaction: the compare-and-swap update of `next` exactly as
    /// [`Store::session_update`] does it (the row must still have revision `next.revision - 1`),
    /// then inserts `files` and `jobs`, and deletes the job `done_job` if given. When the CAS
    /// matches no row nothing is written and the answer is false. A step submission or a
    /// finished background action commits all it did at once this way. A `done_job` that no
    /// longer exists is not an error.
    async fn session_advance(
        &self,
        next: &SessionRecord,
        files: &[FileRecord],
        jobs: &[JobRecord],
        done_job: Option<&str>,
    ) -> StoreResult<bool>;

    /// Claims one due job: `run_at <= now` and not under a lease (`locked_until` is `None` or
    /// before `now`), smallest `run_at` first (then id). Sets `locked_until = now + lease_ms`,
    /// adds one to `attempts` and returns the updated row. Two claimers, even in two
    /// processes, never both get one job while its lease holds.
    async fn job_claim(&self, now: i64, lease_ms: i64) -> StoreResult<Option<JobRecord>>;

    /// Puts a claimed job back to run at `run_at`: clears `locked_until`, sets `last_error`.
    /// An unknown id is not an error (the job may have been finished meanwhile).
    async fn job_release(&self, id: &str, run_at: i64, last_error: Option<&str>)
    -> StoreResult<()>;

    /// The jobs of one session, by `run_at`, then id.
    async fn job_list(&self, session_id: &str) -> StoreResult<Vec<JobRecord>>;

    /// The earliest time any job can next be claimed (`None` when there are none), so a worker
    /// can sleep until then: its `run_at`, or for a job under a lease the later of `run_at`
    /// and the first millisecond after the lease (`locked_until + 1`), so a job being worked on
    /// does not wake the worker again and again.
    async fn job_next_due(&self) -> StoreResult<Option<i64>>;

    /// Ids of sessions that have not ended and whose `expires_at <= now`, earliest expiry
    /// first (then id), at most `limit`.
    async fn session_expired(&self, now: i64, limit: i64) -> StoreResult<Vec<String>>;

    // --- audit log and idempotency keys ---

    /// Appends `entries`, in order, to the end of the audit chain in one transaction that holds
    /// the chain's head locked (so appends from several processes stay one linear chain): each
    /// gets the next `seq` and is hashed after its predecessor ([`AuditRecord::chain`]).
    /// Returns the `seq` of the last one (the head's when `entries` is empty).
    async fn audit_append(&self, entries: &[NewAuditEntry]) -> StoreResult<i64>;

    /// The chain's head and anchor.
    async fn audit_chain(&self) -> StoreResult<AuditChain>;

    /// Entries matching `query`, at most `query.limit`, in `seq` order (ascending or newest
    /// first).
    async fn audit_query(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRecord>>;

    /// Retention: removes the longest run of entries from the start of the chain (at most
    /// `limit`) that are all old enough, i.e. whose `at` is before `api_before` for actor kind
    /// `apikey` and before `user_before` for every other kind, and makes the last one removed
    /// the chain's anchor. Stops at the first entry that must stay. Returns how many went.
    async fn audit_prune(&self, user_before: i64, api_before: i64, limit: i64) -> StoreResult<u64>;

    /// Starts a request under an idempotency key: stores `record` (running) unless the
    /// `(owner, key)` is already stored, in which case the stored record is returned and
    /// nothing changes. A stored record that has expired (`expires_at <= now`), or that is
    /// still running but whose `locked_until <= now` (its request died), is replaced and
    /// `None` returned, as for a new key. Racing callers: exactly one gets `None`.
    async fn idempotency_begin(
        &self,
        record: &IdempotencyRecord,
        now: i64,
    ) -> StoreResult<Option<IdempotencyRecord>>;

    /// Stores the answer of the running request under `(owner, key)`.
    async fn idempotency_complete(
        &self,
        owner: &str,
        key: &str,
        status: i32,
        content_type: Option<&str>,
        body: &[u8],
    ) -> StoreResult<()>;

    /// Forgets a running request's key (its answer was not a success, so a retry may run).
    async fn idempotency_abandon(&self, owner: &str, key: &str) -> StoreResult<()>;

    /// Deletes keys with `expires_at <= now`; returns how many.
    async fn idempotency_delete_expired(&self, now: i64) -> StoreResult<u64>;
}
