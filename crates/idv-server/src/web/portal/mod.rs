//! The operator's portal at `/`: sign-in, a cookie session and sign-out, and the pages behind
//! it. Server-rendered HTML (every text HTML-escaped) with a small script that only enhances.
//! Each page and form reaches the data through the JSON API in-process ([`call`]), as the
//! signed-in user: the same permission guard, rate limits, idempotency and audit as any client.
//!
//! The session is a random secret in the `idv_portal` cookie (`HttpOnly; SameSite=Strict;
//! Path=/`, `Secure` when `baseUrl` is https). The server keeps only its SHA-256, as a row of
//! the token store (kind access, `family` starting with `portal-`, which Bearer authentication
//! refuses): logout deletes the family, expired rows go with the other tokens. The row's
//! `expires_at` is the idle deadline; a request that finds less than the idle timeout minus a
//! minute left renews it: a new secret and row of the same family with the same `created_at`,
//! never past 12 hours after sign-in. The older secret keeps working until its own deadline.
//!
//! CSRF: before sign-in, a random value in the `idv_portal_csrf` cookie that the form must
//! repeat (double submit); once signed in, an HMAC of the session's family with the server's
//! stored key, put in every form.

// A refusal here is the page that answers it, so `Result<_, Response>` is the natural shape.
#![allow(clippy::result_large_err)]

pub(crate) mod accounts;
pub(crate) mod call;
mod dashboard;
mod files;
pub(crate) mod platform;
pub(crate) mod session;
pub(crate) mod sessions;
pub(crate) mod ui;

pub use files::asset;

use crate::audit::Note;
use crate::auth::Principal;
use crate::auth::{PORTAL_FAMILY_PREFIX, sha256_hex};
use crate::state::AppState;
use crate::web::notice::escape;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use idv_core::permission::Op;
use idv_store::{AuthToken, TokenFamilyId, TokenKind, User, UserId};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;

/// The session cookie.
pub const SESSION_COOKIE: &str = "idv_portal";
/// The pre-login CSRF cookie.
pub const CSRF_COOKIE: &str = "idv_portal_csrf";
/// Prefix of a session secret (never a Bearer token's `idvat_`).
const SECRET_PREFIX: &str = "idvps_";
/// A session ends this long after sign-in whatever its use.
pub const ABSOLUTE_LIFETIME_MS: i64 = 12 * 3600 * 1000;
/// The pre-login CSRF cookie lasts this long (seconds).
const CSRF_COOKIE_AGE: u64 = 3600;

/// A signed-in visitor.
struct Session {
    user: User,
    family: String,
    /// A renewed secret to set in the cookie.
    renewed: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LogoutForm {
    csrf: String,
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// Equal strings, compared in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()))
}

fn secure(state: &AppState) -> &'static str {
    if state.config.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
    let age = max_age
        .map(|s| format!("; Max-Age={s}"))
        .unwrap_or_default();
    HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path=/{age}{}",
        secure(state)
    ))
    .expect("cookie text is ASCII")
}

fn idle_ms(state: &AppState) -> i64 {
    state.config.portal.idle_timeout as i64 * 1000
}

/// The visitor's session, renewed when due; `None` when not signed in (no cookie, unknown,
/// expired, or the user gone or deactivated).
async fn current(state: &AppState, headers: &HeaderMap, renew: bool) -> Option<Session> {
    let secret = cookie(headers, SESSION_COOKIE)?;
    if !secret.starts_with(SECRET_PREFIX) {
        return None;
    }
    let t = state.store.token_get(&sha256_hex(secret)).await.ok()??;
    let now = state.clock.now_ms();
    let end = t.created_at + ABSOLUTE_LIFETIME_MS;
    if t.kind != TokenKind::Access
        || !t.family.starts_with(PORTAL_FAMILY_PREFIX)
        || t.expires_at <= now
        || end <= now
    {
        return None;
    }
    let user = state.store.user_get(UserId::new(&t.user_id)).await.ok()??;
    if !user.active {
        return None;
    }
    let deadline = (now + idle_ms(state)).min(end);
    let renewed = if renew && deadline - t.expires_at > 60_000 {
        store_secret(state, &t.family, &t.user_id, t.created_at, deadline)
            .await
            .ok()
    } else {
        None
    };
    Some(Session {
        user,
        family: t.family,
        renewed,
    })
}

/// Stores a new secret of the session `family`; returns the secret.
async fn store_secret(
    state: &AppState,
    family: &str,
    user_id: &str,
    created_at: i64,
    expires_at: i64,
) -> Result<String, idv_store::StoreError> {
    let secret = format!("{SECRET_PREFIX}{}", idv_core::ids::random_base36(40));
    state
        .store
        .token_create(&AuthToken {
            hash: sha256_hex(&secret),
            kind: TokenKind::Access,
            family: family.to_string(),
            user_id: user_id.to_string(),
            created_at,
            expires_at,
        })
        .await?;
    Ok(secret)
}

/// An HTML page with the portal's headers: `title` in `<title>` and the one `<h1>`, `body`
/// (already HTML) below it.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    crate::web::html_page(status, &format!("{title} · idv"), title, body)
}

/// The sign-in page, with a fresh pre-login CSRF value in its form and cookie.
fn sign_in(state: &AppState, status: StatusCode, message: Option<&str>, name: &str) -> Response {
    let csrf = idv_core::ids::random_base36(32);
    let message = message
        .map(|m| format!("<p class=\"alert\" role=\"alert\">{}</p>\n", escape(m)))
        .unwrap_or_default();
    let body = format!(
        "{message}<form method=\"post\" action=\"/portal/login\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n\
         <div class=\"field\"><label for=\"username\">User name</label>\n\
         <input id=\"username\" name=\"username\" autocomplete=\"username\" required value=\"{}\"></div>\n\
         <div class=\"field\"><label for=\"password\">Password</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></div>\n\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">Sign in</button></div>\n</form>\n",
        escape(name)
    );
    let mut resp = page(status, "Sign in", &body);
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, CSRF_COOKIE, &csrf, Some(CSRF_COOKIE_AGE)),
    );
    resp
}

fn forbidden() -> Response {
    page(
        StatusCode::FORBIDDEN,
        "This form has expired",
        "<p>The form was not sent from a current page of this portal, so nothing was changed. \
         <a href=\"/\">Open the portal</a> and try again.</p>\n",
    )
}

fn see_other(location: &'static str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static(location));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A body that is no form: the API's JSON error (not a browser's doing).
fn not_a_form(e: FormRejection) -> Response {
    crate::error::ApiError::new(
        idv_core::ErrorCode::InvalidRequest,
        format!("this form must be sent as application/x-www-form-urlencoded: {e}"),
    )
    .into_response()
}

/// A signed-in portal request: the user, its principal, the CSRF value of its forms and the
/// in-process API caller. Extracting it from a request without a live session answers a 303 to
/// the sign-in page.
pub struct Ctx {
    pub state: AppState,
    pub user: User,
    pub principal: Arc<Principal>,
    /// The value every form of this session carries.
    pub csrf: String,
    /// A renewed secret for the cookie, set on the answer.
    renewed: Option<String>,
    pub api: call::Caller,
}

impl Ctx {
    /// The user holds `scope:op`.
    pub fn may(&self, scope: &str, op: Op) -> bool {
        self.principal.allows(scope, op)
    }

    /// The user holds one of these.
    pub fn may_any(&self, needs: &[(&str, Op)]) -> bool {
        needs.iter().any(|(s, o)| self.may(s, *o))
    }

    /// Sets the renewed session cookie on `resp`, when there is one.
    pub fn renew(&self, resp: &mut Response) {
        if let Some(secret) = &self.renewed {
            resp.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(&self.state, SESSION_COOKIE, secret, None),
            );
        }
    }

    /// `Ok` when a form's `csrf` is this session's; else the 403 page (nothing was done).
    pub fn check(&self, csrf: &str) -> Result<(), Response> {
        if same(&self.csrf, csrf) {
            Ok(())
        } else {
            Err(forbidden())
        }
    }

    /// The `Idempotency-Key` header of a form's `idem` field (none when empty).
    pub fn idem(key: &str) -> Vec<(axum::http::HeaderName, String)> {
        if key.is_empty() {
            Vec::new()
        } else {
            vec![(
                axum::http::HeaderName::from_static("idempotency-key"),
                format!("portal-{key}"),
            )]
        }
    }

    /// The area's page when the user may open it, else the friendly 403.
    pub fn open(&self, href: &str) -> Result<(), Response> {
        let a = ui::area(href);
        if self.may_any(a.needs) {
            Ok(())
        } else {
            Err(ui::forbidden(self, &format!("open the {} page", a.label)))
        }
    }
}

impl Ctx {
    /// The context of a request: `None` when no live portal session comes with it.
    async fn of(parts: &Parts, state: &AppState) -> Result<Option<Ctx>, Response> {
        let Some(api) = parts.extensions.get::<call::PortalApi>().cloned() else {
            return Err(crate::error::ApiError::new(
                idv_core::ErrorCode::Internal,
                "the portal is not wired to the API",
            )
            .into_response());
        };
        let Some(s) = current(state, &parts.headers, true).await else {
            return Ok(None);
        };
        let principal = match state.auth.portal_principal(&s.user, &s.family).await {
            Ok(p) => Arc::new(p),
            Err(e) => return Err(e.into_response()),
        };
        let addr = parts.extensions.get::<ConnectInfo<SocketAddr>>().cloned();
        Ok(Some(Ctx {
            csrf: state.auth.portal_csrf(&s.family),
            state: state.clone(),
            user: s.user,
            api: call::Caller {
                api: api.0,
                principal: principal.clone(),
                addr,
            },
            principal,
            renewed: s.renewed,
        }))
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        Ctx::of(parts, state).await?.ok_or_else(|| see_other("/"))
    }
}

/// `GET /`: the dashboard for a signed-in visitor, else the sign-in page (one look at the
/// session either way).
pub async fn home(State(state): State<AppState>, req: axum::extract::Request) -> Response {
    let (parts, _) = req.into_parts();
    match Ctx::of(&parts, &state).await {
        Ok(Some(ctx)) => dashboard::dashboard(ctx, parts.uri.query().unwrap_or("")).await,
        Ok(None) => sign_in(&state, StatusCode::OK, None, ""),
        Err(resp) => resp,
    }
}

/// `POST /portal/login`: the pre-login CSRF value, then the user name and password as the
/// API's login checks them; a new session and 303 to `/`, or the sign-in page again (401)
/// saying only that the name or password is wrong. The answer notes the name tried for the
/// audit log.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> (Extension<Note>, Response) {
    let form = match form {
        Ok(Form(f)) => f,
        Err(e) => return (Extension(Note::default()), not_a_form(e)),
    };
    let note = |id: Option<String>| Note {
        actor: Some((id, form.username.clone())),
        ..Note::default()
    };
    let csrf_ok = cookie(&headers, CSRF_COOKIE).is_some_and(|c| same(c, &form.csrf));
    if !csrf_ok {
        return (Extension(note(None)), forbidden());
    }
    let (user, id) =
        crate::handlers::auth::verify_login(&state, &form.username, form.password.clone()).await;
    let Ok(user) = user else {
        let resp = sign_in(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("Wrong user name or password."),
            &form.username,
        );
        return (Extension(note(id)), resp);
    };
    let now = state.clock.now_ms();
    let family = format!("{PORTAL_FAMILY_PREFIX}{}", idv_core::ids::new_id());
    let deadline = (now + idle_ms(&state)).min(now + ABSOLUTE_LIFETIME_MS);
    let secret = match store_secret(&state, &family, &user.id, now, deadline).await {
        Ok(s) => s,
        Err(e) => {
            return (
                Extension(note(id)),
                crate::error::ApiError::from(e).into_response(),
            );
        }
    };
    let mut resp = see_other("/");
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, &secret, None),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(&state, CSRF_COOKIE, "", Some(0)),
    );
    (Extension(note(id)), resp)
}

/// `POST /portal/logout`: with the session's CSRF value, ends the session (every secret of
/// it) and clears the cookie; 303 to `/`. Without it, 403 and nothing changes.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> (Extension<Note>, Response) {
    let form = match form {
        Ok(Form(f)) => f,
        Err(e) => return (Extension(Note::default()), not_a_form(e)),
    };
    let Some(s) = current(&state, &headers, false).await else {
        let mut resp = see_other("/");
        resp.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&state, SESSION_COOKIE, "", Some(0)),
        );
        return (Extension(Note::default()), resp);
    };
    let note = Note {
        actor: Some((Some(s.user.id.clone()), s.user.name.clone())),
        ..Note::default()
    };
    if !same(&state.auth.portal_csrf(&s.family), &form.csrf) {
        return (Extension(note), forbidden());
    }
    if let Err(e) = state
        .store
        .token_delete_family(TokenFamilyId::new(&s.family))
        .await
    {
        return (
            Extension(note),
            crate::error::ApiError::from(e).into_response(),
        );
    }
    let mut resp = see_other("/");
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, "", Some(0)),
    );
    (Extension(note), resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cookies_and_compares() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; idv_portal=idvps_x; idv_portal_csrf="),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("idvps_x"));
        assert_eq!(cookie(&h, CSRF_COOKIE), None, "empty is absent");
        assert_eq!(cookie(&h, "b"), None);
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
