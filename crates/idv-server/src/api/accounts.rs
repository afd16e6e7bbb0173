//! Request and response bodies: logins, API keys, users and roles.
//!
//! | Route | Request | Response |
//! |---|---|---|
//! | `POST /api/auth/login` | [`LoginInput`] | 200 [`TokenPair`] |
//! | `POST /api/auth/refresh` | [`RefreshInput`] | 200 [`TokenPair`] |
//! | `POST /api/auth/logout` | — | 204 (no body) |
//! | `POST /api/apikey`, `POST /api/security/apikey` | [`ApiKeyInput`] | 200 [`ApiKeyView`] (with `token`) |
//! | `GET /api/apikey` | — | 200 `Vec<`[`ApiKeyView`]`>` |
//! | `GET /api/apikey/{id}` | — | 200 [`ApiKeyView`] |
//! | `DELETE /api/apikey/{id}` | — | 200 [`ApiKeyView`] (with `revokedAt`) |
//! | `GET /api/security/roles` | — | 200 `Vec<`[`RoleView`]`>` |
//! | `POST /api/security/roles` | [`RoleInput`] | 200 [`RoleView`] |
//! | `GET /api/security/users` | — | 200 `Vec<`[`UserView`]`>` |
//! | `POST /api/security/users` | [`UserInput`] | 200 [`UserView`] |
//! | `GET /api/security/users/{id}` | — | 200 [`UserView`] |
//! | `PATCH /api/security/users/{id}` | [`UserPatchInput`] | 200 [`UserView`] |
//! | `DELETE /api/security/users/{id}` | — | 204 (no body) |

use idv_core::time::iso;
use idv_store::{ApiKey, Role, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user name and password to log in with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub username: String,
    pub password: String,
}

/// A refresh token to exchange for a new token pair.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshInput {
    /// The `refreshToken` of an earlier login or refresh; it stops working once used.
    pub refresh_token: String,
}

/// A Bearer access token and the refresh token that renews it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    /// Send as `Authorization: Bearer <accessToken>`.
    pub access_token: String,
    /// Exchange at `POST /api/auth/refresh` for a new pair.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// A new API key: its name, lifetime and permissions (never more than the caller holds).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyInput {
    pub name: String,
    /// Lifetime in seconds; no expiry when left out.
    #[serde(default)]
    pub ttl: Option<i64>,
    /// Permissions such as `session_all:read`.
    pub permissions: Vec<String>,
}

/// An API key, never with its secret except `token` in the answer that created it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub permissions: Vec<String>,
    /// Lifetime in seconds, `null` for a key that does not expire.
    #[schema(required = true)]
    pub ttl: Option<i64>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime, required = true)]
    pub expires_at: Option<String>,
    /// Present once the key is revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime, value_type = String)]
    pub revoked_at: Option<String>,
    /// Present once the key has been used.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime, value_type = String)]
    pub last_used_at: Option<String>,
    /// The user who created it (absent for keys made with the CLI).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub owner_id: Option<String>,
    /// The key text, shown only in the answer that created it: send as
    /// `Authorization: ApiKey <token>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub token: Option<String>,
}

impl ApiKeyView {
    /// The view of `k`; `token` only when it was just created.
    pub fn of(k: &ApiKey, token: Option<String>) -> Self {
        ApiKeyView {
            id: k.id.clone(),
            name: k.name.clone(),
            permissions: k.permissions.clone(),
            ttl: k.ttl,
            created_at: iso(k.created_at),
            expires_at: k.expires_at.map(iso),
            revoked_at: k.revoked_at.map(iso),
            last_used_at: k.last_used_at.map(iso),
            owner_id: k.owner_id.clone(),
            token,
        }
    }
}

/// A new custom role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Permissions such as `session:read` (never more than the caller holds).
    pub permissions: Vec<String>,
}

/// A role: built-in (name, builtIn, permissions) or custom (also description and createdAt).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleView {
    pub name: String,
    /// Custom roles only (`null` when none was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub built_in: bool,
    pub permissions: Vec<String>,
    /// Custom roles only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime, value_type = String)]
    pub created_at: Option<String>,
}

impl RoleView {
    /// A built-in role.
    pub fn builtin(name: &str, permissions: Vec<String>) -> Self {
        RoleView {
            name: name.to_string(),
            description: None,
            built_in: true,
            permissions,
            created_at: None,
        }
    }
}

impl From<&Role> for RoleView {
    fn from(r: &Role) -> Self {
        RoleView {
            name: r.name.clone(),
            description: Some(r.description.clone()),
            built_in: false,
            permissions: r.permissions.clone(),
            created_at: Some(iso(r.created_at)),
        }
    }
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    pub name: String,
    /// At least 8 characters.
    pub password: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Built-in or custom role names.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Changes to a user; fields left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchInput {
    /// Replaces the whole list.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

/// A user (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: String,
    pub name: String,
    #[schema(required = true)]
    pub email: Option<String>,
    pub roles: Vec<String>,
    pub active: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id.clone(),
            name: u.name.clone(),
            email: u.email.clone(),
            roles: u.roles.clone(),
            active: u.active,
            created_at: iso(u.created_at),
            updated_at: iso(u.updated_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Compared as text: the field order is part of the answer.
    fn text(v: impl Serialize) -> String {
        serde_json::to_string(&v).unwrap()
    }

    #[test]
    fn roles_built_in_and_custom() {
        assert_eq!(
            text(RoleView::builtin("admin", vec!["*:*".into()])),
            json!({"name": "admin", "builtIn": true, "permissions": ["*:*"]}).to_string()
        );
        let r = Role {
            name: "observer".into(),
            description: None,
            permissions: vec!["session:read".into()],
            created_at: 0,
        };
        assert_eq!(
            text(RoleView::from(&r)),
            json!({"name": "observer", "description": null, "builtIn": false, "permissions": ["session:read"], "createdAt": "1970-01-01T00:00:00.000Z"}).to_string()
        );
    }

    #[test]
    fn api_keys_show_optional_fields_only_when_set() {
        let mut k = ApiKey {
            id: "k".into(),
            name: "n".into(),
            secret_hash: "h".into(),
            permissions: vec![],
            owner_id: None,
            ttl: None,
            created_at: 0,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        };
        assert_eq!(
            text(ApiKeyView::of(&k, None)),
            json!({"id": "k", "name": "n", "permissions": [], "ttl": null, "createdAt": "1970-01-01T00:00:00.000Z", "expiresAt": null}).to_string()
        );
        k.owner_id = Some("u".into());
        k.revoked_at = Some(1_000);
        let v = serde_json::to_value(ApiKeyView::of(&k, Some("idvk_x".into()))).unwrap();
        assert_eq!(v["revokedAt"], "1970-01-01T00:00:01.000Z");
        assert_eq!(
            (v["ownerId"].as_str(), v["token"].as_str()),
            (Some("u"), Some("idvk_x"))
        );
        assert!(v.get("lastUsedAt").is_none());
    }

    #[test]
    fn token_pairs_and_logins() {
        let t = TokenPair {
            access_token: "a".into(),
            refresh_token: "r".into(),
            token_type: "Bearer".into(),
            expires_in: 900,
        };
        assert_eq!(
            text(t),
            json!({"accessToken": "a", "refreshToken": "r", "tokenType": "Bearer", "expiresIn": 900}).to_string()
        );
        let e = serde_json::from_value::<LoginInput>(
            json!({"username": "a", "password": "b", "otp": 1}),
        );
        assert!(e.unwrap_err().to_string().contains("otp"));
    }
}
