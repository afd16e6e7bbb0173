//! Storage ports. [`Store`] is the one interface to the database, implemented by the SQLite and
//! PostgreSQL adapters; [`blobs::Blobs`] is the one interface to file storage. The
//! conformance suite (crate `idv-store-conformance`) runs against every adapter, so both behave
//! the same.

pub mod audit;
pub mod blobs;
pub mod idempotency;
pub mod outbox;
pub mod records;
pub mod search;

pub use audit::{AuditChain, AuditQuery, AuditRecord, NewAuditEntry};
pub use idempotency::IdempotencyRecord;
pub use outbox::*;
pub use records::*;
pub use search::*;

use async_trait::async_trait;

/// The underlying failure a [`StoreError`] keeps as its `source()`: the driver's or the file
/// system's own error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Storage errors. `Conflict` is a unique-key clash (a name taken twice); `Invalid` is a value
/// the database refuses to hold (text with a NUL character on PostgreSQL, a number out of
/// range): the input is at fault, not the database, and trying again cannot help. Everything
/// else an adapter cannot recover from is `Backend`.
///
/// Each variant carries a message (what its `Display` shows) and, when the failure came from
/// the driver or the operating system, that error as its [`std::error::Error::source`], so
/// callers and logs can walk the chain or downcast it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists: {message}")]
    Conflict {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    #[error("the database cannot hold a value: {message}")]
    Invalid {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    #[error("storage backend: {message}")]
    Backend {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl StoreError {
    /// A unique-key clash on `what`, caused by `source`.
    pub fn conflict(what: impl Into<String>, source: impl Into<BoxError>) -> StoreError {
        StoreError::Conflict {
            message: what.into(),
            source: Some(source.into()),
        }
    }

    /// A value the database refused, as `source` says.
    pub fn invalid(source: impl Into<BoxError>) -> StoreError {
        let source = source.into();
        StoreError::Invalid {
            message: source.to_string(),
            source: Some(source),
        }
    }

    /// A backend failure with no underlying error (a row the adapter cannot read back).
    pub fn backend(message: impl Into<String>) -> StoreError {
        StoreError::Backend {
            message: message.into(),
            source: None,
        }
    }

    /// A backend failure caused by `source`, shown as `message`.
    pub fn backend_from(message: impl Into<String>, source: impl Into<BoxError>) -> StoreError {
        StoreError::Backend {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A backend failure caused by `source`, shown as `source` itself shows.
    pub fn backend_source(source: impl Into<BoxError>) -> StoreError {
        let source = source.into();
        StoreError::Backend {
            message: source.to_string(),
            source: Some(source),
        }
    }

    /// The message, without the variant's prefix.
    pub fn message(&self) -> &str {
        match self {
            StoreError::Conflict { message, .. }
            | StoreError::Invalid { message, .. }
            | StoreError::Backend { message, .. } => message,
        }
    }
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
    /// Sets `key` to `new` when it holds `old` (compare and swap). False when it held another
    /// value or none.
    async fn setting_replace(&self, key: &str, old: &str, new: &str) -> StoreResult<bool>;
    /// Rewrites the settings and webhook tables so no copy of a value overwritten in them stays
    /// in the database's files (free space, old row versions, the SQLite WAL). Run after
    /// secrets were encrypted or re-encrypted; the tables are small.
    async fn scrub_secrets(&self) -> StoreResult<()>;

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

    /// Inserts the session and, in the same transaction, `events` (see [`NewEvent`]).
    async fn session_create(&self, session: &SessionRecord, events: &[NewEvent])
    -> StoreResult<()>;
    async fn session_get(&self, id: &str) -> StoreResult<Option<SessionRecord>>;
    /// Writes `session` if the stored row still has `session.revision - 1` (optimistic
    /// concurrency: the caller bumps `revision` before calling). False on a lost race or when
    /// the session is gone. `events` are stored in the same transaction, only when it writes.
    async fn session_update(
        &self,
        session: &SessionRecord,
        events: &[NewEvent],
    ) -> StoreResult<bool>;

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
    /// longer exists is not an error. `events` go in the same transaction.
    async fn session_advance(
        &self,
        next: &SessionRecord,
        files: &[FileRecord],
        jobs: &[JobRecord],
        done_job: Option<&str>,
        events: &[NewEvent],
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

    // --- session search and views ---

    /// Sessions matching `query`, in its sort order (a total order: it ends with the id), after
    /// its cursor, then `skip`, at most `limit`; and the capped count of all matches. Runs off
    /// the async runtime's threads (it may scan many index entries).
    async fn session_search(&self, query: &SessionQuery) -> StoreResult<SessionPage>;

    /// Inserts the view, or replaces its value, group and user ids and `updated_at` (keeping
    /// `owner_id` and `created_at`). With `only_owner`, an existing view is replaced only when
    /// its `owner_id` is that one; answers false when it was not written for that reason.
    async fn view_put(&self, view: &ViewRecord, only_owner: Option<&str>) -> StoreResult<bool>;
    async fn view_get(&self, namespace: &str, key: &str) -> StoreResult<Option<ViewRecord>>;
    /// Views of a namespace by key (byte order), `skip` then at most `limit`, and how many
    /// there are. With `viewer`, only views it may see: those with no user ids, those it owns
    /// and those whose user ids hold it.
    async fn view_list(
        &self,
        namespace: &str,
        viewer: Option<&str>,
        limit: i64,
        skip: i64,
    ) -> StoreResult<(Vec<ViewRecord>, i64)>;
    /// Deletes the view (with `only_owner`, only when that is its owner). True when deleted.
    async fn view_delete(
        &self,
        namespace: &str,
        key: &str,
        only_owner: Option<&str>,
    ) -> StoreResult<bool>;
    // --- review, deletion and retention ---

    /// Deletes session `id` in one transaction: its jobs, its file rows and the session row go,
    /// and a tombstone (the row's workflow id, status and owner, `at`, `by`, `reason`) takes its
    /// place. Nothing changes when the session is under legal hold (`LegalHold`) or, with
    /// `updated_before` given, was updated at or after it (`Recent`: retention never deletes a
    /// session that changed after it was chosen). An id deleted before answers
    /// `AlreadyDeleted` with the first tombstone, unchanged; an id never seen, `NotFound`.
    /// The file bytes are the caller's to remove, after this returns. `event` (the
    /// `session.deleted` event) is stored in the same transaction, its data completed from the
    /// deleted row with [`NewEvent::with_deleted_row`].
    async fn session_delete(
        &self,
        id: &str,
        by: &Deleter,
        at: i64,
        reason: Option<&str>,
        updated_before: Option<i64>,
        event: Option<&NewEvent>,
    ) -> StoreResult<SessionDeletion>;

    /// The tombstone of a deleted session.
    async fn tombstone_get(&self, id: &str) -> StoreResult<Option<TombstoneRecord>>;

    /// Ids of sessions not under legal hold whose `updated_at < before`, least recently
    /// updated first (then id), at most `limit`: what retention deletes next.
    async fn session_stale(&self, before: i64, limit: i64) -> StoreResult<Vec<String>>;

    /// Those of `ids` that have a session row (in no particular order).
    async fn session_existing(&self, ids: &[String]) -> StoreResult<Vec<String>>;
    // --- device tokens: ephemeral devices, deeplinks, one-time QR tokens ---

    /// Inserts a device token; `Conflict` when its id or hash is taken.
    async fn device_token_create(&self, token: &DeviceToken) -> StoreResult<()>;
    /// Looks a token up by the keyed hash of its text.
    async fn device_token_by_hash(&self, hash: &str) -> StoreResult<Option<DeviceToken>>;
    async fn device_token_get(&self, id: &str) -> StoreResult<Option<DeviceToken>>;
    /// In one transaction: marks the one-time token `id` used at `now` if it is a `Short`
    /// token, unused and `expires_at > now`, and inserts `replacement`. False (nothing written)
    /// when the token is unknown, used or expired. Of two concurrent exchanges of one token,
    /// even in two processes, exactly one gets true.
    async fn device_token_exchange(
        &self,
        id: &str,
        now: i64,
        replacement: &DeviceToken,
    ) -> StoreResult<bool>;
    /// Deletes tokens whose expiry is before `before`; returns how many.
    async fn device_token_delete_expired(&self, before: i64) -> StoreResult<u64>;
    // --- session export and import ---

    /// Every stored revision of a workflow, deleted or not, by revision number.
    async fn workflow_revisions(&self, id: &str) -> StoreResult<Vec<WorkflowRecord>>;

    /// Stores `def` as an extra revision of its workflow that does not become current, for a
    /// session imported from another install. It is numbered below zero and below every stored
    /// revision (-1, then -2, …), so it never takes a number the next [`Store::workflow_put`]
    /// gives. A workflow id the store does not know is recorded as deleted with no current
    /// revision: importing never publishes a workflow (a later `workflow_put` makes revision 1
    /// current as usual). Returns the revision number given.
    async fn workflow_import_revision(&self, def: &NewWorkflow) -> StoreResult<i64>;

    /// Writes a session exported elsewhere, its file rows (with `inline` bytes where given)
    /// and its jobs in one transaction, keeping every field as given. When a session with that
    /// id exists: with `replace` false nothing is written ([`SessionImport::Exists`]); with
    /// `replace` true it is deleted with its files and jobs first, in the same transaction,
    /// and the answer lists the file rows it had, so the caller can remove bytes no longer
    /// referenced. A file or job id taken by another session is a `Conflict` and writes
    /// nothing.
    async fn session_import(
        &self,
        session: &SessionRecord,
        files: &[FileRecord],
        jobs: &[JobRecord],
        replace: bool,
    ) -> StoreResult<SessionImport>;

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

    // --- events, webhook endpoints and deliveries (the outbox) ---

    /// Stores an event about no session (sequence 0, not in the feed) and queues it for the
    /// endpoint `webhook_id` alone, whatever the endpoint's filters: `webhook.test`. Returns
    /// the delivery's id.
    async fn event_publish(&self, event: &NewEvent, webhook_id: &str) -> StoreResult<String>;

    /// Session events after `query.after`, in commit order: an event committed later never
    /// sorts before one already returned, so a reader that follows `next` misses none. At most
    /// `query.limit`. To keep that promise an adapter may show a committed event only once
    /// every write transaction that began before it has ended (PostgreSQL does).
    async fn events_after(&self, query: &EventQuery) -> StoreResult<EventPage>;

    /// The cursor of the last event [`Store::events_after`] shows now (`None` when it shows
    /// none): a reader that starts there sees only events that become visible later.
    async fn events_end(&self) -> StoreResult<Option<String>>;

    /// Inserts an endpoint; `Conflict` when its id is taken.
    async fn webhook_create(&self, webhook: &WebhookRecord) -> StoreResult<()>;
    async fn webhook_get(&self, id: &str) -> StoreResult<Option<WebhookRecord>>;
    /// All endpoints, oldest first.
    async fn webhook_list(&self) -> StoreResult<Vec<WebhookRecord>>;
    /// Replaces every field but `id`, `created_at` and `owner_id`. False when unknown.
    async fn webhook_update(&self, webhook: &WebhookRecord) -> StoreResult<bool>;
    /// Replaces an endpoint's secret columns with `new` when they still hold `old` (compare and
    /// swap; every other column is left alone). False when unknown or changed since read.
    async fn webhook_reseal(
        &self,
        id: &str,
        old: &WebhookSecrets,
        new: &WebhookSecrets,
    ) -> StoreResult<bool>;
    /// Deletes the endpoint with its deliveries and their attempts. False when unknown.
    async fn webhook_delete(&self, id: &str) -> StoreResult<bool>;

    /// Claims up to `limit` due deliveries of enabled endpoints: pending, `next_at <= now`, not
    /// under a lease, and each the first pending one of its (endpoint, session) by sequence,
    /// so one session's events reach one endpoint in order. Sets `locked_until = now +
    /// lease_ms` (the claim's token), adds one to `attempts`, and returns them with their
    /// bodies, earliest `next_at` first. Claimers in several processes never share a delivery
    /// while its lease holds.
    async fn delivery_claim(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>>;

    /// Ends the claim `claimed` (as returned by [`Store::delivery_claim`]) in one transaction:
    /// records `attempt`, moves the delivery to `outcome.state` / `outcome.next_at` and
    /// updates its endpoint's health (see [`AttemptOutcome`]). `None` when the claim was lost
    /// (its lease ran out and another worker took the delivery; the attempt is still
    /// recorded); otherwise whether this disabled the endpoint.
    async fn delivery_finish(
        &self,
        claimed: &DeliveryRecord,
        attempt: &AttemptRecord,
        outcome: &AttemptOutcome,
    ) -> StoreResult<Option<bool>>;

    /// When a worker should next look: the earliest `next_at` (or lease end + 1) of a
    /// delivery that [`Store::delivery_claim`] could then take.
    async fn delivery_next_due(&self) -> StoreResult<Option<i64>>;

    /// Deliveries of an endpoint, newest first, those with an id below `before` when given.
    async fn delivery_list(
        &self,
        webhook_id: &str,
        before: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<DeliveryRecord>>;
    async fn delivery_get(&self, webhook_id: &str, id: &str)
    -> StoreResult<Option<DeliveryRecord>>;
    /// Attempts of these deliveries, oldest first.
    async fn delivery_attempts(&self, delivery_ids: &[String]) -> StoreResult<Vec<AttemptRecord>>;

    /// Queues a delivery again now (pending, `next_at = now`, a new `deadline`, `attempts` back
    /// to 0 so its backoff starts over; the attempt log stays), unless a worker holds it. False
    /// when unknown or held.
    async fn delivery_retry(
        &self,
        webhook_id: &str,
        id: &str,
        now: i64,
        deadline: i64,
    ) -> StoreResult<bool>;

    /// Queues, for the endpoint, a new delivery of every kept session event created at or
    /// after `since` that its filters select. Returns how many.
    async fn delivery_replay(
        &self,
        webhook_id: &str,
        since: i64,
        now: i64,
        deadline: i64,
    ) -> StoreResult<u64>;

    /// Retention: deletes finished deliveries (with their attempts) created before `before`,
    /// then events created before it that no pending delivery needs. Returns how many rows.
    async fn outbox_prune(&self, before: i64) -> StoreResult<u64>;
}

/// What [`Store::session_import`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionImport {
    /// There was no session with that id; it is stored now.
    Created,
    /// A session with that id exists and `replace` was false: nothing was written.
    Exists,
    /// The session that had the id was replaced; these were its file rows.
    Replaced(Vec<FileRecord>),
}
