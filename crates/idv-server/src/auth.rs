//! Authentication: turns the `Authorization` header (or the `authorization` query parameter) into
//! a [`Principal`] with its permissions. Schemes: `Basic` (users; Argon2id verified off the async
//! runtime, then remembered for a short while under a keyed hash of the credentials so a client
//! that sends Basic on every call does not pay the hash every time), `ApiKey` (any case),
//! `Bearer` and `Token` (access tokens from `POST /api/auth/login`, and device tokens: ephemeral
//! devices, deeplink tokens and one-time `tr-` QR tokens; see [`crate::ops::devices`]).

use crate::error::{ApiError, ApiResult};
use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use base64::Engine;
use hmac::{Hmac, Mac};
use idv_core::ErrorCode;
use idv_core::permission::{Op, Permission, PermissionSet, builtin_role};
use idv_store::{ApiKey, DeviceTokenKind, Store, TokenKind};
use idv_store::{ApiKeyId, UserId};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    ApiKey,
    /// A device token: an ephemeral device (`session: None`), or a token bound to one session
    /// (a deeplink's, or what a one-time QR token was exchanged for). It expires at
    /// `expires_at`, and so do the sessions it starts.
    Device {
        token_id: String,
        session: Option<String>,
        expires_at: i64,
        /// The workflows it may run (and read); empty: any (an ephemeral device).
        workflows: Vec<String>,
    },
    /// A one-time `tr-` token from a QR code: good only for `POST /api/deeplink/exchange`.
    OneTime {
        token_id: String,
        session: String,
        expires_at: i64,
    },
}

#[derive(Debug, Clone)]
pub struct Principal {
    /// The user id or API key id: owner of what this caller creates.
    pub id: String,
    pub kind: PrincipalKind,
    pub name: String,
    pub permissions: PermissionSet,
    /// Set for Bearer callers: the login whose tokens logout deletes.
    pub(crate) token_family: Option<String>,
}

/// How far a permission reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Everyone's records (`X_all:op`).
    All,
    /// Only the caller's own (`X:op`).
    Own,
}

impl Principal {
    pub fn allows(&self, scope: &str, op: Op) -> bool {
        self.permissions.allows(Permission::of(scope, op))
    }

    /// `All` when the caller holds `{all_scope}:op`, `Own` for `{own_scope}:op`, else `None`.
    pub fn reach(&self, all_scope: &str, own_scope: &str, op: Op) -> Option<Reach> {
        if self.allows(all_scope, op) {
            Some(Reach::All)
        } else if self.allows(own_scope, op) {
            Some(Reach::Own)
        } else {
            None
        }
    }

    /// True when the caller may act on a record owned by `owner` with this reach.
    pub(crate) fn may_touch(&self, reach: Reach, owner: Option<&str>) -> bool {
        reach == Reach::All || owner == Some(self.id.as_str())
    }

    /// The one session a session-bound token may touch.
    pub(crate) fn bound_session(&self) -> Option<&str> {
        match &self.kind {
            PrincipalKind::Device { session, .. } => session.as_deref(),
            PrincipalKind::OneTime { session, .. } => Some(session),
            _ => None,
        }
    }

    /// For a device token, the workflows it may run and read (empty: any); `None` for other
    /// callers, whose permissions alone decide.
    pub(crate) fn device_workflows(&self) -> Option<&[String]> {
        match &self.kind {
            PrincipalKind::Device { workflows, .. } => Some(workflows),
            _ => None,
        }
    }

    /// When the caller's credentials end, for those that bound what they create (device
    /// tokens: their sessions end no later).
    pub(crate) fn credential_expiry(&self) -> Option<i64> {
        match &self.kind {
            PrincipalKind::Device { expires_at, .. }
            | PrincipalKind::OneTime { expires_at, .. } => Some(*expires_at),
            _ => None,
        }
    }
}

/// The prefix of every API key, fixed forever so secret scanners can find leaked keys.
pub(crate) const API_KEY_PREFIX: &str = "idv_";
const API_KEY_SECRET_LEN: usize = 40;
const ACCESS_PREFIX: &str = "idvat_";
/// The `family` of every portal session's stored token (`web::portal`): Bearer
/// authentication refuses those rows.
pub(crate) const PORTAL_FAMILY_PREFIX: &str = "portal-";
/// The prefix of device tokens (ephemeral devices and session-bound tokens).
pub(crate) const DEVICE_PREFIX: &str = "idvdt_";
const DEVICE_SECRET_LEN: usize = 40;
/// The prefix of one-time QR tokens, Regula's shape: `tr-` and 29 lowercase letters and digits
/// (about 150 bits), short enough for a QR code that stays easy to scan.
pub(crate) const ONE_TIME_PREFIX: &str = "tr-";
const ONE_TIME_SECRET_LEN: usize = 29;
/// What a device token may do: start sessions, submit to them and read them, its own only;
/// read the workflows it may run ([`Principal::device_workflows`]); and use the Document Reader
/// (through the `/drapi` gateway) for a workflow's DOC_READER step, as Regula's SDKs do.
pub(crate) const DEVICE_PERMISSIONS: &[&str] = &[
    "session:read",
    "session:write",
    "workflow:read",
    "docreader:write",
];
const REFRESH_PREFIX: &str = "idvrt_";
const BASIC_CACHE_TTL: Duration = Duration::from_secs(30);
const BASIC_CACHE_MAX: usize = 10_000;
const KEY_CACHE_TTL: Duration = Duration::from_secs(2);
const KEY_CACHE_MAX: usize = 10_000;
/// Last-use times are written at most this often per key, so reads stay reads.
const TOUCH_EVERY_MS: i64 = 60_000;

type HmacSha256 = Hmac<Sha256>;

struct CachedKey {
    secret_hash: String,
    principal: Arc<Principal>,
    expires_at: Option<i64>,
    revoked: bool,
    until: Instant,
}

struct CachedUser {
    principal: Arc<Principal>,
    until: Instant,
}

/// The authenticator, shared by all requests.
pub struct Auth {
    store: Arc<dyn Store>,
    basic_enabled: bool,
    /// Keys the hashes of API key secrets; stored in the database so every instance agrees.
    apikey_key: Vec<u8>,
    /// Keys the Basic cache; random per process, never stored.
    cache_key: [u8; 32],
    basic_cache: RwLock<HashMap<[u8; 32], CachedUser>>,
    /// One verification at a time per credentials: concurrent first requests with the same
    /// Basic credentials wait for the first instead of each paying the hash.
    basic_inflight: std::sync::Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
    /// Recently read API keys by id, so a key is read from the database at most every
    /// [`KEY_CACHE_TTL`]. A revocation takes effect at once: through this process directly,
    /// through another on PostgreSQL by its signal ([`crate::cluster`]); the lifetime bounds
    /// only what a process cut off from those signals can miss.
    key_cache: RwLock<HashMap<String, CachedKey>>,
    dummy_hash: String,
    /// The time credentials expire by (the server's clock, which tests move forward).
    clock: Arc<dyn idv_core::time::Clock>,
}

impl Auth {
    pub async fn new(store: Arc<dyn Store>, basic_enabled: bool) -> ApiResult<Auth> {
        let fresh = hex::encode(random_bytes::<32>());
        let stored = store
            .setting_get_or_insert("apikey_hmac_key", &fresh)
            .await?;
        let apikey_key = hex::decode(stored)
            .map_err(|_| ApiError::new(ErrorCode::Internal, "stored apikey_hmac_key is not hex"))?;
        Ok(Auth {
            store,
            basic_enabled,
            apikey_key,
            cache_key: random_bytes::<32>(),
            basic_cache: RwLock::new(HashMap::new()),
            basic_inflight: std::sync::Mutex::new(HashMap::new()),
            key_cache: RwLock::new(HashMap::new()),
            dummy_hash: hash_password("not a real password").map_err(ApiError)?,
            clock: Arc::new(idv_core::time::SystemClock),
        })
    }

    /// This authenticator with credential expiry judged by `clock`.
    pub(crate) fn with_clock(mut self, clock: Arc<dyn idv_core::time::Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub(crate) fn basic_enabled(&self) -> bool {
        self.basic_enabled
    }

    /// Forgets every remembered Basic login (after a user or role changes, here or in another
    /// instance: [`crate::cluster`]).
    pub(crate) fn invalidate_users(&self) {
        self.basic_cache.write().expect("basic cache lock").clear();
    }

    /// Forgets a remembered API key (after it is revoked, here or in another instance).
    pub(crate) fn forget_key(&self, id: &str) {
        self.key_cache.write().expect("key cache lock").remove(id);
    }

    /// Forgets every remembered API key (changes from other instances may have been missed).
    pub(crate) fn forget_keys(&self) {
        self.key_cache.write().expect("key cache lock").clear();
    }

    /// Authenticates an `Authorization` value.
    pub async fn authenticate(&self, value: &str) -> ApiResult<Arc<Principal>> {
        let value = value.trim();
        // No credential idv issues holds a control character, and a NUL cannot even be looked
        // up on PostgreSQL: refused before any lookup, the same on every backend.
        if value.chars().any(char::is_control) {
            return Err(ApiError::new(
                ErrorCode::InvalidCredentials,
                "the credentials hold a control character; send them as issued",
            ));
        }
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => self.basic(rest).await,
            "apikey" => self.api_key(rest).await,
            "bearer" | "token"
                if rest.starts_with(DEVICE_PREFIX) || rest.starts_with(ONE_TIME_PREFIX) =>
            {
                self.device(rest).await.map(Arc::new)
            }
            "bearer" | "token" => self.bearer(rest).await.map(Arc::new),
            // A device token sent without its scheme word, as Regula's ephemeral-device docs
            // show it.
            _ if rest.is_empty() && scheme.starts_with(DEVICE_PREFIX) => {
                self.device(scheme).await.map(Arc::new)
            }
            _ => Err(ApiError::new(
                ErrorCode::UnsupportedAuthScheme,
                format!(
                    "unsupported authorization scheme `{scheme}`; use Basic, ApiKey, Bearer or Token"
                ),
            )),
        }
    }

    fn cached_basic(&self, key: &[u8; 32]) -> Option<Arc<Principal>> {
        let cache = self.basic_cache.read().expect("basic cache lock");
        cache
            .get(key)
            .filter(|hit| hit.until > Instant::now())
            .map(|hit| hit.principal.clone())
    }

    async fn basic(&self, encoded: &str) -> ApiResult<Arc<Principal>> {
        if !self.basic_enabled {
            return Err(ApiError::new(
                ErrorCode::BasicAuthDisabled,
                "Basic authentication is turned off (basicAuth.enabled: false); use an API key or a Bearer token",
            ));
        }
        let invalid =
            || ApiError::new(ErrorCode::InvalidCredentials, "wrong user name or password");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidCredentials,
                    "the Basic credentials are not valid base64 of user:password",
                )
            })?;
        let decoded = String::from_utf8(decoded).map_err(|_| invalid())?;
        let (name, password) = decoded.split_once(':').ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidCredentials,
                "the Basic credentials must be user:password",
            )
        })?;
        // A user name with a NUL cannot be looked up on PostgreSQL; no user name holds a
        // control character, so such a name is simply not a user (the same answer as an
        // unknown name, without the lookup).
        if name.chars().any(char::is_control) {
            return Err(invalid());
        }
        let cache_key = self.keyed(&[name.as_bytes(), b"\0", password.as_bytes()]);
        if let Some(hit) = self.cached_basic(&cache_key) {
            return Ok(hit);
        }
        let flight = self
            .basic_inflight
            .lock()
            .expect("inflight lock")
            .entry(cache_key)
            .or_default()
            .clone();
        let _turn = flight.lock().await;
        if let Some(hit) = self.cached_basic(&cache_key) {
            return Ok(hit);
        }
        let result = self.verify_basic(name, password).await;
        if let Ok(principal) = &result {
            let mut cache = self.basic_cache.write().expect("basic cache lock");
            if cache.len() >= BASIC_CACHE_MAX {
                cache.clear();
            }
            cache.insert(
                cache_key,
                CachedUser {
                    principal: principal.clone(),
                    until: Instant::now() + BASIC_CACHE_TTL,
                },
            );
        }
        self.basic_inflight
            .lock()
            .expect("inflight lock")
            .remove(&cache_key);
        result
    }

    async fn verify_basic(&self, name: &str, password: &str) -> ApiResult<Arc<Principal>> {
        let invalid =
            || ApiError::new(ErrorCode::InvalidCredentials, "wrong user name or password");
        let user = self.store.user_by_name(name).await?;
        let hash = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| self.dummy_hash.clone());
        let ok = verify_password_blocking(hash, password.to_string()).await;
        let Some(user) = user.filter(|_| ok) else {
            return Err(invalid());
        };
        if !user.active {
            return Err(ApiError::new(
                ErrorCode::InvalidCredentials,
                format!("user {} is deactivated", user.name),
            ));
        }
        Ok(Arc::new(Principal {
            id: user.id.clone(),
            kind: PrincipalKind::User,
            name: user.name.clone(),
            permissions: self.permissions_for_roles(&user.roles).await?,
            token_family: None,
        }))
    }

    async fn api_key(&self, text: &str) -> ApiResult<Arc<Principal>> {
        let invalid = || ApiError::new(ErrorCode::InvalidCredentials, "unknown API key");
        let (id, secret) = split_api_key(text).ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidCredentials, format!("not an idv API key: keys look like {API_KEY_PREFIX}<64 lowercase letters and digits>"))
        })?;
        let given = self.hash_secret(secret);
        let now = self.clock.now_ms();
        let cached = {
            let cache = self.key_cache.read().expect("key cache lock");
            cache.get(id).filter(|c| c.until > Instant::now()).map(|c| {
                (
                    c.secret_hash.clone(),
                    c.principal.clone(),
                    c.expires_at,
                    c.revoked,
                )
            })
        };
        let (secret_hash, principal, expires_at, revoked) = match cached {
            Some(hit) => hit,
            None => {
                let key = self
                    .store
                    .apikey_get(ApiKeyId::new(id))
                    .await?
                    .ok_or_else(invalid)?;
                if key.revoked_at.is_none()
                    && key.last_used_at.is_none_or(|t| now - t > TOUCH_EVERY_MS)
                {
                    let store = self.store.clone();
                    let id = key.id.clone();
                    tokio::spawn(async move {
                        let _ = store.apikey_touch(ApiKeyId::new(&id), now).await;
                    });
                }
                let entry = CachedKey {
                    secret_hash: key.secret_hash.clone(),
                    principal: Arc::new(self.key_principal(&key)),
                    expires_at: key.expires_at,
                    revoked: key.revoked_at.is_some(),
                    until: Instant::now() + KEY_CACHE_TTL,
                };
                let hit = (
                    entry.secret_hash.clone(),
                    entry.principal.clone(),
                    entry.expires_at,
                    entry.revoked,
                );
                let mut cache = self.key_cache.write().expect("key cache lock");
                if cache.len() >= KEY_CACHE_MAX {
                    cache.clear();
                }
                cache.insert(key.id, entry);
                hit
            }
        };
        if !bool::from(given.as_bytes().ct_eq(secret_hash.as_bytes())) {
            return Err(invalid());
        }
        if revoked {
            return Err(ApiError::new(
                ErrorCode::RevokedCredentials,
                "this API key was revoked",
            ));
        }
        if expires_at.is_some_and(|t| t <= now) {
            return Err(ApiError::new(
                ErrorCode::ExpiredCredentials,
                "this API key has expired; create a new one",
            ));
        }
        Ok(principal)
    }

    fn key_principal(&self, key: &ApiKey) -> Principal {
        Principal {
            id: key.id.clone(),
            kind: PrincipalKind::ApiKey,
            name: key.name.clone(),
            // Stored permissions were validated when the key was made.
            permissions: PermissionSet::parse(&key.permissions).unwrap_or_default(),
            token_family: None,
        }
    }

    async fn bearer(&self, token: &str) -> ApiResult<Principal> {
        if !token.starts_with(ACCESS_PREFIX) {
            return Err(ApiError::new(
                ErrorCode::InvalidCredentials,
                "unknown access token",
            ));
        }
        let t = self.store.token_get(&sha256_hex(token)).await?;
        let t = t
            // A portal session is stored beside the access tokens but is no Bearer token.
            .filter(|t| t.kind == TokenKind::Access && !t.family.starts_with(PORTAL_FAMILY_PREFIX))
            .ok_or_else(|| ApiError::new(ErrorCode::InvalidCredentials, "unknown access token"))?;
        if t.expires_at <= self.clock.now_ms() {
            return Err(ApiError::new(
                ErrorCode::ExpiredCredentials,
                "the access token has expired; refresh it at POST /api/auth/refresh",
            ));
        }
        let user = self
            .store
            .user_get(UserId::new(&t.user_id))
            .await?
            .filter(|u| u.active)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidCredentials,
                    "the token's user no longer exists or is deactivated",
                )
            })?;
        Ok(Principal {
            id: user.id,
            kind: PrincipalKind::User,
            name: user.name,
            permissions: self.permissions_for_roles(&user.roles).await?,
            token_family: Some(t.family),
        })
    }

    /// A device token: looked up by its keyed hash (one read), refused once expired, and for a
    /// one-time token once exchanged.
    async fn device(&self, text: &str) -> ApiResult<Principal> {
        let invalid = || ApiError::new(ErrorCode::InvalidCredentials, "unknown device token");
        let hash = self.hash_secret(text);
        let Some(t) = self.store.device_token_by_hash(&hash).await? else {
            // A token whose session was deleted went with it; its hash is kept until its
            // expiry, so the person is told what happened (nothing about who deleted it).
            return match self
                .store
                .device_token_deleted_session(&hash, self.clock.now_ms())
                .await?
            {
                Some(session) => Err(ApiError::new(
                    ErrorCode::SessionDeleted,
                    format!("session {session}, the one this device token was for, was deleted"),
                )),
                None => Err(invalid()),
            };
        };
        let one_time = t.kind == DeviceTokenKind::Short;
        // The hash is keyed and unique, so a match is the token itself; the prefix must agree
        // with the kind all the same.
        if one_time != text.starts_with(ONE_TIME_PREFIX) {
            return Err(invalid());
        }
        if t.expires_at <= self.clock.now_ms() {
            return Err(ApiError::new(
                ErrorCode::ExpiredCredentials,
                if one_time {
                    "this one-time token has expired; ask for a new QR code"
                } else {
                    "this device token has expired; ask for a new one"
                },
            ));
        }
        let permissions =
            PermissionSet::parse(DEVICE_PERMISSIONS).expect("device permissions are valid");
        if one_time {
            if t.used_at.is_some() {
                return Err(ApiError::new(
                    ErrorCode::InvalidCredentials,
                    "this one-time token was already used; use the token it was exchanged for, or ask for a new QR code",
                ));
            }
            let session = t.session_id.ok_or_else(invalid)?;
            return Ok(Principal {
                id: t.principal_id,
                kind: PrincipalKind::OneTime {
                    token_id: t.id,
                    session,
                    expires_at: t.expires_at,
                },
                name: "one-time token".into(),
                // None: it is only exchanged.
                permissions: PermissionSet::default(),
                token_family: None,
            });
        }
        Ok(Principal {
            id: t.principal_id,
            name: match t.kind {
                DeviceTokenKind::Ephemeral => "ephemeral device".into(),
                _ => "session token".into(),
            },
            kind: PrincipalKind::Device {
                token_id: t.id,
                session: t.session_id,
                expires_at: t.expires_at,
                workflows: t.workflow_ids,
            },
            permissions,
            token_family: None,
        })
    }

    /// A new device token: `(text shown once, keyed hash to store)`.
    pub(crate) fn new_device_token(&self) -> (String, String) {
        let text = format!(
            "{DEVICE_PREFIX}{}",
            idv_core::ids::random_base36(DEVICE_SECRET_LEN)
        );
        let hash = self.hash_secret(&text);
        (text, hash)
    }

    /// A new one-time QR token: `(text shown once, keyed hash to store)`.
    pub(crate) fn new_one_time_token(&self) -> (String, String) {
        let text = format!(
            "{ONE_TIME_PREFIX}{}",
            idv_core::ids::random_base36(ONE_TIME_SECRET_LEN)
        );
        let hash = self.hash_secret(&text);
        (text, hash)
    }

    /// The union of the permissions of `roles` (built-in or custom). Unknown names grant nothing.
    pub(crate) async fn permissions_for_roles(&self, roles: &[String]) -> ApiResult<PermissionSet> {
        let mut set = PermissionSet::default();
        let mut custom = Vec::new();
        for role in roles {
            match builtin_role(role) {
                Some(p) => set.extend(&p),
                None => custom.push(role.clone()),
            }
        }
        if !custom.is_empty() {
            for r in self.store.roles_named(&custom).await? {
                set.extend(&PermissionSet::parse(&r.permissions).unwrap_or_default());
            }
        }
        Ok(set)
    }

    /// The stored form of an API key secret.
    pub fn hash_secret(&self, secret: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.apikey_key).expect("any key length");
        mac.update(secret.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The CSRF value of a portal session (its token family): an HMAC with the server's stored
    /// key, so it survives the session's cookie being renewed and the server restarting.
    /// The principal of a signed-in portal user (its roles' permissions read now, so a changed
    /// role applies to the next page).
    pub(crate) async fn portal_principal(
        &self,
        user: &idv_store::User,
        family: &str,
    ) -> ApiResult<Principal> {
        Ok(Principal {
            id: user.id.clone(),
            kind: PrincipalKind::User,
            name: user.name.clone(),
            permissions: self.permissions_for_roles(&user.roles).await?,
            token_family: Some(family.to_string()),
        })
    }

    pub(crate) fn portal_csrf(&self, family: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.apikey_key).expect("any key length");
        mac.update(b"portal-csrf\0");
        mac.update(family.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn keyed(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.cache_key).expect("any key length");
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// A new API key: `(key text shown once, secret hash to store)` for the given id.
    pub fn new_api_key(&self, id: &str) -> (String, String) {
        let secret = idv_core::ids::random_base36(API_KEY_SECRET_LEN);
        (
            format!("{API_KEY_PREFIX}{id}{secret}"),
            self.hash_secret(&secret),
        )
    }
}

/// Splits `idv_<24 hex id><secret>` into id and secret.
fn split_api_key(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix(API_KEY_PREFIX)?;
    if rest.len() != 24 + API_KEY_SECRET_LEN || !rest.is_ascii() {
        return None;
    }
    let (id, secret) = rest.split_at(24);
    idv_core::ids::is_id(id).then_some((id, secret))
}

/// New access and refresh token texts.
pub(crate) fn new_token_pair() -> (String, String) {
    (
        format!("{ACCESS_PREFIX}{}", idv_core::ids::random_base36(40)),
        format!("{REFRESH_PREFIX}{}", idv_core::ids::random_base36(40)),
    )
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

/// An Argon2id PHC string for `password`.
pub(crate) fn hash_password(password: &str) -> Result<String, idv_core::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| idv_core::Error::internal(format!("hashing failed: {e}")))
}

/// Argon2 runs at most this many at once (one per core, at most four): each costs about
/// 19 MiB and tens of milliseconds, so a burst of logins queues instead of exhausting memory.
static ARGON2_SLOTS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    tokio::sync::Semaphore::new(cores.clamp(1, 4))
});

/// Hashes on the blocking pool: Argon2 costs tens of milliseconds of CPU.
pub(crate) async fn hash_password_blocking(password: String) -> Result<String, idv_core::Error> {
    let _slot = ARGON2_SLOTS
        .acquire()
        .await
        .map_err(|e| idv_core::Error::internal(e.to_string()))?;
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| idv_core::Error::internal(e.to_string()))?
}

/// Verifies on the blocking pool.
pub(crate) async fn verify_password_blocking(hash: String, password: String) -> bool {
    let Ok(_slot) = ARGON2_SLOTS.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_text_splits() {
        let id = idv_core::ids::new_id();
        let text = format!("{API_KEY_PREFIX}{id}{}", "a".repeat(40));
        assert_eq!(
            split_api_key(&text),
            Some((id.as_str(), "a".repeat(40).as_str()))
        );
        assert_eq!(split_api_key("idv_short"), None);
        assert_eq!(split_api_key(&text.replace("idv_", "xyz_")), None);
    }

    #[test]
    fn password_hash_is_argon2id_and_verifies() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        let parsed = PasswordHash::new(&h).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"wrong", &parsed)
                .is_err()
        );
    }
}
