//! The error catalogue: every error a client can see has a stable `code`, an HTTP status and a
//! message that says what to change. Adapters and handlers build these; the server renders them
//! as `{"error": {"code", "message", "details"?}}`.

use serde_json::Value;

/// Stable error codes. The wire name (`as_str`) never changes once published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    // 400
    MalformedJson,
    InvalidRequest,
    InvalidPermission,
    InvalidWorkflow,
    InvalidTranslations,
    InvalidLocale,
    InvalidMultipart,
    InvalidAssetId,
    InvalidFilter,
    InvalidCursor,
    InvalidView,
    InvalidStatus,
    InvalidIdempotencyKey,
    /// A webhook URL that is not an absolute http(s) URL without credentials, is too long, or
    /// whose host does not resolve.
    InvalidWebhookUrl,
    /// A webhook URL whose host is or resolves to a private, loopback or other non-public
    /// address while `outbound.allowPrivateAddresses` is off.
    WebhookUrlNotAllowed,
    /// An event type a webhook cannot select (not one the server emits).
    InvalidEventType,
    /// A path or query parameter the server cannot take: not UTF-8, or holding a NUL (or, in
    /// an identifier, another control) character.
    InvalidParameter,
    // 401
    MissingCredentials,
    InvalidCredentials,
    ExpiredCredentials,
    RevokedCredentials,
    UnsupportedAuthScheme,
    BasicAuthDisabled,
    // 403
    Forbidden,
    PermissionEscalation,
    /// A CORS preflight from an origin `services.api.cors.origins` does not allow.
    CorsOriginNotAllowed,
    // 404
    NotFound,
    RouteNotFound,
    SessionNotFound,
    WorkflowNotFound,
    FileNotFound,
    UserNotFound,
    ApiKeyNotFound,
    StepNotFound,
    AssetNotFound,
    ViewNotFound,
    WebhookNotFound,
    /// A webhook delivery id that names no delivery of that endpoint.
    DeliveryNotFound,
    /// `mobile.apple` or `mobile.android` is not configured, so its `.well-known` file is not
    /// published.
    MobileAppNotConfigured,
    /// A start link id or code that names no link.
    StartLinkNotFound,
    // 405
    MethodNotAllowed,
    // 406
    NotAcceptable,
    // 408
    /// The client paused longer than `services.api.bodyReadTimeout` while sending a body.
    RequestTimeout,
    // 409
    UserExists,
    RoleExists,
    StepNotCurrent,
    SessionEnded,
    SessionConflict,
    WorkflowInUse,
    LegalHold,
    /// A webhook delivery a worker is sending at this moment.
    DeliveryInProgress,
    // 410
    SessionDeleted,
    /// A start link that was revoked, has expired or was used up.
    StartLinkGone,
    // 412
    PreconditionFailed,
    IdempotencyInProgress,
    // 413
    PayloadTooLarge,
    // 415
    UnsupportedMediaType,
    // 416
    RangeNotSatisfiable,
    // 422
    SchemaViolation,
    StepFailed,
    IdempotencyKeyReused,
    // 429
    RateLimited,
    // 500
    Internal,
    // 502
    BadGateway,
    // 503
    Unavailable,
    GatewayDisabled,
    /// File storage (the folder or object store) failed or cannot be reached.
    StorageUnavailable,
    // 504
    GatewayTimeout,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MalformedJson => "malformed_json",
            InvalidRequest => "invalid_request",
            InvalidPermission => "invalid_permission",
            InvalidWorkflow => "invalid_workflow",
            InvalidTranslations => "invalid_translations",
            InvalidLocale => "invalid_locale",
            InvalidMultipart => "invalid_multipart",
            InvalidAssetId => "invalid_asset_id",
            InvalidFilter => "invalid_filter",
            InvalidCursor => "invalid_cursor",
            InvalidView => "invalid_view",
            InvalidStatus => "invalid_status",
            InvalidIdempotencyKey => "invalid_idempotency_key",
            InvalidWebhookUrl => "invalid_webhook_url",
            WebhookUrlNotAllowed => "webhook_url_not_allowed",
            InvalidEventType => "invalid_event_type",
            InvalidParameter => "invalid_parameter",
            MissingCredentials => "missing_credentials",
            InvalidCredentials => "invalid_credentials",
            ExpiredCredentials => "expired_credentials",
            RevokedCredentials => "revoked_credentials",
            UnsupportedAuthScheme => "unsupported_auth_scheme",
            BasicAuthDisabled => "basic_auth_disabled",
            Forbidden => "forbidden",
            PermissionEscalation => "permission_escalation",
            CorsOriginNotAllowed => "cors_origin_not_allowed",
            NotFound => "not_found",
            RouteNotFound => "route_not_found",
            SessionNotFound => "session_not_found",
            WorkflowNotFound => "workflow_not_found",
            FileNotFound => "file_not_found",
            UserNotFound => "user_not_found",
            ApiKeyNotFound => "apikey_not_found",
            StepNotFound => "step_not_found",
            AssetNotFound => "asset_not_found",
            ViewNotFound => "view_not_found",
            WebhookNotFound => "webhook_not_found",
            DeliveryNotFound => "delivery_not_found",
            MobileAppNotConfigured => "mobile_app_not_configured",
            StartLinkNotFound => "start_link_not_found",
            MethodNotAllowed => "method_not_allowed",
            NotAcceptable => "not_acceptable",
            RequestTimeout => "request_timeout",
            UserExists => "user_exists",
            RoleExists => "role_exists",
            StepNotCurrent => "step_not_current",
            SessionEnded => "session_ended",
            SessionConflict => "session_conflict",
            WorkflowInUse => "workflow_in_use",
            LegalHold => "legal_hold",
            DeliveryInProgress => "delivery_in_progress",
            SessionDeleted => "session_deleted",
            StartLinkGone => "start_link_gone",
            PreconditionFailed => "precondition_failed",
            IdempotencyInProgress => "idempotency_in_progress",
            PayloadTooLarge => "payload_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            RangeNotSatisfiable => "range_not_satisfiable",
            SchemaViolation => "schema_violation",
            StepFailed => "step_failed",
            IdempotencyKeyReused => "idempotency_key_reused",
            RateLimited => "rate_limited",
            Internal => "internal_error",
            BadGateway => "bad_gateway",
            Unavailable => "unavailable",
            GatewayDisabled => "gateway_disabled",
            StorageUnavailable => "storage_unavailable",
            GatewayTimeout => "gateway_timeout",
        }
    }

    pub const fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            MalformedJson
            | InvalidRequest
            | InvalidPermission
            | InvalidWorkflow
            | InvalidTranslations
            | InvalidLocale
            | InvalidMultipart
            | InvalidAssetId
            | InvalidFilter
            | InvalidCursor
            | InvalidView
            | InvalidStatus
            | InvalidIdempotencyKey
            | InvalidWebhookUrl
            | WebhookUrlNotAllowed
            | InvalidEventType
            | InvalidParameter => 400,
            MissingCredentials
            | InvalidCredentials
            | ExpiredCredentials
            | RevokedCredentials
            | UnsupportedAuthScheme
            | BasicAuthDisabled => 401,
            Forbidden | PermissionEscalation | CorsOriginNotAllowed => 403,
            NotFound
            | RouteNotFound
            | SessionNotFound
            | WorkflowNotFound
            | FileNotFound
            | UserNotFound
            | ApiKeyNotFound
            | StepNotFound
            | AssetNotFound
            | ViewNotFound
            | WebhookNotFound
            | DeliveryNotFound
            | MobileAppNotConfigured
            | StartLinkNotFound => 404,
            MethodNotAllowed => 405,
            NotAcceptable => 406,
            RequestTimeout => 408,
            UserExists
            | RoleExists
            | StepNotCurrent
            | SessionEnded
            | SessionConflict
            | WorkflowInUse
            | LegalHold
            | IdempotencyInProgress
            | DeliveryInProgress => 409,
            SessionDeleted | StartLinkGone => 410,
            PreconditionFailed => 412,
            PayloadTooLarge => 413,
            UnsupportedMediaType => 415,
            RangeNotSatisfiable => 416,
            SchemaViolation | StepFailed | IdempotencyKeyReused => 422,
            RateLimited => 429,
            Internal => 500,
            BadGateway => 502,
            Unavailable | GatewayDisabled | StorageUnavailable => 503,
            GatewayTimeout => 504,
        }
    }
}

/// A client-visible error: code, message and optional structured details (e.g. the list of
/// schema violations or workflow problems).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<Value>,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
