//! The portal's account settings: API keys (`/portal/settings/keys`), users and roles
//! (`/portal/settings/users`) and the audit log (`/portal/settings/audit`). Each page and form
//! goes through the JSON API in-process ([`super::call`]) as the signed-in user, so the API's
//! permission checks, rate limits, idempotency and audit apply as they do to any client; the
//! pages only leave out the forms the user may not use.
//!
//! A new API key's token is on the answer page of its form (200, `Cache-Control: no-store`),
//! never in a link, and no later page shows it again.

use super::Ctx;
use super::call::{Reply, enc};
use super::ui::{self, esc};
use crate::routes::query_param;
use axum::Form;
use axum::extract::Path;
use axum::extract::rejection::FormRejection;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use idv_core::permission::{Op, SCOPES};
use serde::Deserialize;
use serde_json::{Value, json};
use std::fmt::Write;
use std::sync::OnceLock;

const KEYS: &str = "/portal/settings/keys";
const USERS: &str = "/portal/settings/users";
const AUDIT: &str = "/portal/settings/audit";

/// Entries per page of the audit log.
const AUDIT_PAGE: usize = 50;

/// The choices of a key's lifetime: the form's value, its label, seconds (none: never).
const LIFETIMES: &[(&str, &str, Option<i64>)] = &[
    ("86400", "1 day", Some(86_400)),
    ("2592000", "30 days", Some(2_592_000)),
    ("31536000", "1 year", Some(31_536_000)),
    ("never", "Never expires", None),
];
/// The lifetime choice that takes the seconds field.
const OTHER_LIFETIME: &str = "seconds";

type FormResult = Result<Form<Vec<(String, String)>>, FormRejection>;

/// A form's fields in order; a name repeats for each ticked checkbox.
#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Fields {
    /// A body that is no form has no fields, so its missing CSRF value refuses it.
    fn of(form: FormResult) -> Self {
        form.map(|Form(v)| Fields(v)).unwrap_or_default()
    }

    /// The first value of `name`, trimmed; empty when absent.
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or_default()
    }

    /// Every non-empty value of `name`.
    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }
}

/// `?done=` of a page after a form, as its notice.
fn notice(uri: &Uri) -> String {
    query_param(uri.query().unwrap_or(""), "done")
        .filter(|t| !t.is_empty())
        .map(|t| ui::flash(&t))
        .unwrap_or_default()
}

use ui::done;

/// `checked` when `on`.
fn checked(on: bool) -> &'static str {
    if on { " checked" } else { "" }
}

/// The table of every scope and operation as checkboxes named `perm` (`scope:op`), those in
/// `ticked` ticked; `prefix` keeps the ids apart when a page has two tables.
fn permission_table(prefix: &str, legend: &str, ticked: &[String]) -> String {
    let mut rows = String::new();
    for scope in SCOPES {
        // Long scope names may break after an underscore on a narrow screen.
        let _ = write!(
            rows,
            "<tr><th scope=\"row\"><code>{}</code></th>",
            scope.replace('_', "_<wbr>")
        );
        for op in Op::ALL {
            let p = format!("{scope}:{}", op.as_str());
            let _ = write!(
                rows,
                "<td><input type=\"checkbox\" name=\"perm\" value=\"{p}\" id=\"{prefix}-{scope}-{op}\" aria-label=\"{p}\"{}></td>",
                checked(ticked.contains(&p)),
                op = op.as_str(),
            );
        }
        rows.push_str("</tr>\n");
    }
    let heads: String = Op::ALL
        .iter()
        .map(|o| format!("<th scope=\"col\">{}</th>", o.as_str()))
        .collect();
    format!(
        "<fieldset class=\"group\"><legend>{legend}</legend>\n\
         <p class=\"hint\" id=\"{prefix}-perm-hint\">One row per scope, one column per operation. \
         A scope ending in <code>_all</code> covers everyone's records; without it, only the \
         owner's own.</p>\n\
         <div class=\"table-wrap\"><table class=\"perms\" aria-describedby=\"{prefix}-perm-hint\">\
         <thead><tr><th scope=\"col\">Scope</th>{heads}</tr></thead>\n<tbody>\n{rows}</tbody></table></div>\n\
         </fieldset>\n"
    )
}

/// Permissions as a list of code chips (`*:*` as words).
fn permission_list(perms: &[String]) -> String {
    if perms.iter().any(|p| p == "*" || p == "*:*") {
        return "<p>Every permission (<code>*:*</code>)</p>".to_string();
    }
    if perms.is_empty() {
        return "<p class=\"muted\">No permissions</p>".to_string();
    }
    let items: String = perms
        .iter()
        .map(|p| format!("<li><code>{}</code></li>", esc(p)))
        .collect();
    format!("<ul class=\"chips\">{items}</ul>")
}

// ---------------------------------------------------------------------------------------------
// API keys

/// An API key as `GET /api/apikey` lists it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Key {
    id: String,
    name: String,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    ttl: Option<i64>,
    created_at: String,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    revoked_at: Option<String>,
    #[serde(default)]
    last_used_at: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

/// What the create form held, to show it again with an error.
#[derive(Default)]
struct KeyDraft {
    name: String,
    lifetime: String,
    seconds: String,
    perms: Vec<String>,
}

impl KeyDraft {
    fn of(f: &Fields) -> Self {
        KeyDraft {
            name: f.get("name").to_string(),
            lifetime: f.get("ttl").to_string(),
            seconds: f.get("seconds").to_string(),
            perms: f.all("perm"),
        }
    }

    /// The key's `ttl` in seconds (`None`: never expires), or what is wrong with it.
    fn ttl(&self) -> Result<Option<i64>, String> {
        if let Some((_, _, secs)) = LIFETIMES.iter().find(|(v, _, _)| *v == self.lifetime) {
            return Ok(*secs);
        }
        if self.lifetime == OTHER_LIFETIME {
            return self.seconds.parse::<i64>().map(Some).map_err(|_| {
                format!(
                    "Lifetime: “{}” is not a whole number of seconds; write one such as 3600, or pick a lifetime from the list.",
                    self.seconds
                )
            });
        }
        Err("Lifetime: pick one from the list.".to_string())
    }
}

/// A lifetime in seconds as words.
fn lifetime_text(ttl: Option<i64>) -> String {
    let Some(s) = ttl else {
        return "never expires".to_string();
    };
    if let Some((_, label, _)) = LIFETIMES.iter().find(|(_, _, v)| *v == Some(s)) {
        return label.to_string();
    }
    let (n, unit) = if s % 86_400 == 0 {
        (s / 86_400, "day")
    } else if s % 3_600 == 0 {
        (s / 3_600, "hour")
    } else if s % 60 == 0 {
        (s / 60, "minute")
    } else {
        (s, "second")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// Whether an RFC 3339 time is at or before `now_ms`.
fn passed(at: &str, now_ms: i64) -> bool {
    chrono::DateTime::parse_from_rfc3339(at).is_ok_and(|t| t.timestamp_millis() <= now_ms)
}

/// `GET /portal/settings/keys`.
pub async fn keys(ctx: Ctx, uri: Uri) -> Result<Response, Response> {
    ctx.open(KEYS)?;
    Ok(keys_page(
        &ctx,
        StatusCode::OK,
        &notice(&uri),
        &KeyDraft::default(),
        None,
    )
    .await)
}

async fn keys_page(
    ctx: &Ctx,
    status: StatusCode,
    notice: &str,
    draft: &KeyDraft,
    error: Option<&str>,
) -> Response {
    let reply = ctx.api.get("/api/apikey").await;
    if !reply.ok() {
        return ui::failed(ctx, KEYS, "API keys", &reply);
    }
    let list: Vec<Key> = reply.json().unwrap_or_default();
    let now = ctx.state.clock.now_ms();
    let may_revoke = ctx.may_any(&[("apikey", Op::Delete), ("apikey_all", Op::Delete)]);
    let mut body = String::from(notice);
    if ctx.may_any(&[("apikey", Op::Write), ("apikey_all", Op::Write)]) {
        body.push_str("<p class=\"jump\"><a href=\"#new-key-h\">Create a key</a></p>\n");
    }
    body.push_str("<section aria-labelledby=\"keys-h\"><h2 id=\"keys-h\">Keys</h2>\n");
    if list.is_empty() {
        body.push_str("<p class=\"muted\">No API keys yet.</p>\n");
    } else {
        body.push_str(
            "<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"API keys\"><table><thead><tr><th scope=\"col\">Name</th>\
             <th scope=\"col\">Permissions</th><th scope=\"col\">Created</th>\
             <th scope=\"col\">Expires</th><th scope=\"col\">Last used</th>\
             <th scope=\"col\">Status</th><th scope=\"col\"><span class=\"sr-only\">Actions</span></th></tr></thead><tbody>\n",
        );
        for k in &list {
            let (state, live) = if k.revoked_at.is_some() {
                ("<span class=\"badge off\">revoked</span>", false)
            } else if k.expires_at.as_deref().is_some_and(|e| passed(e, now)) {
                ("<span class=\"badge off\">expired</span>", false)
            } else {
                ("<span class=\"badge on\">active</span>", true)
            };
            let expires = match &k.expires_at {
                Some(e) => format!(
                    "{}<br><span class=\"muted\">{}</span>",
                    esc(&ui::time_text(e)),
                    esc(&lifetime_text(k.ttl))
                ),
                None => "never".to_string(),
            };
            let used = k
                .last_used_at
                .as_deref()
                .map(|t| esc(&ui::time_text(t)))
                .unwrap_or_else(|| "<span class=\"muted\">never</span>".to_string());
            let revoked = k
                .revoked_at
                .as_deref()
                .map(|t| {
                    format!(
                        "<br><span class=\"muted\">{}</span>",
                        esc(&ui::time_text(t))
                    )
                })
                .unwrap_or_default();
            let action = if live && may_revoke {
                format!(
                    "<form method=\"post\" action=\"{KEYS}/{id}/revoke\" data-confirm=\"Revoke the key “{name}”? Clients using it stop working at once.\">{fields}\
                     <button type=\"submit\" class=\"danger small\">Revoke<span class=\"sr-only\"> {name}</span></button></form>",
                    id = esc(&enc(&k.id)),
                    name = esc(&k.name),
                    fields = ui::form_fields(ctx),
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                body,
                "<tr><th scope=\"row\">{name}</th><td>{perms}</td><td class=\"when\">{created}</td><td class=\"when\">{expires}</td>\
                 <td class=\"when\">{used}</td><td>{state}{revoked}</td><td>{action}</td></tr>",
                name = esc(&k.name),
                perms = permission_list(&k.permissions),
                created = esc(&ui::time_text(&k.created_at)),
            );
        }
        body.push_str("</tbody></table></div>\n");
    }
    body.push_str("</section>\n");
    if ctx.may_any(&[("apikey", Op::Write), ("apikey_all", Op::Write)]) {
        body.push_str(&key_form(ctx, draft, error));
    }
    ui::page_with(ctx, status, KEYS, "API keys", &body)
}

fn key_form(ctx: &Ctx, d: &KeyDraft, error: Option<&str>) -> String {
    let pick = if d.lifetime.is_empty() {
        LIFETIMES[1].0
    } else {
        d.lifetime.as_str()
    };
    let mut options = String::new();
    for (value, label, _) in LIFETIMES.iter().chain(std::iter::once(&(
        OTHER_LIFETIME,
        "Other: the seconds below",
        None,
    ))) {
        let sel = if *value == pick { " selected" } else { "" };
        let _ = write!(options, "<option value=\"{value}\"{sel}>{label}</option>");
    }
    format!(
        "<section aria-labelledby=\"new-key-h\"><h2 id=\"new-key-h\">Create a key</h2>\n{alert}\
         <form method=\"post\" action=\"{KEYS}\" class=\"card\" id=\"create-key\">{fields}\n\
         <div class=\"field\"><label for=\"key-name\">Name</label>\
         <input id=\"key-name\" name=\"name\" required maxlength=\"200\" autocomplete=\"off\" value=\"{name}\"></div>\n\
         <div class=\"field\"><label for=\"key-ttl\">Lifetime</label>\
         <select id=\"key-ttl\" name=\"ttl\">{options}</select></div>\n\
         <div class=\"field\"><label for=\"key-seconds\">Seconds, for Other</label>\
         <input id=\"key-seconds\" name=\"seconds\" inputmode=\"numeric\" autocomplete=\"off\" aria-describedby=\"key-seconds-hint\" value=\"{seconds}\">\
         <p class=\"hint\" id=\"key-seconds-hint\">How long the key works, in seconds (3600 is an hour); \
         only read when Lifetime is Other.</p></div>\n\
         {table}\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">Create key</button></div>\n\
         </form></section>\n",
        alert = error.map(ui::alert).unwrap_or_default(),
        fields = ui::form_fields(ctx),
        name = esc(&d.name),
        seconds = esc(&d.seconds),
        table = permission_table("key", "Permissions of the key", &d.perms),
    )
}

/// `POST /portal/settings/keys`: creates the key and shows its token once, or the form again
/// with the API's error and what was typed.
pub async fn create_key(ctx: Ctx, form: FormResult) -> Result<Response, Response> {
    let f = Fields::of(form);
    ctx.check(f.get("csrf"))?;
    ctx.open(KEYS)?;
    let draft = KeyDraft::of(&f);
    let ttl = match draft.ttl() {
        Ok(t) => t,
        Err(e) => {
            return Ok(keys_page(&ctx, StatusCode::BAD_REQUEST, "", &draft, Some(&e)).await);
        }
    };
    let mut input = json!({"name": draft.name, "permissions": draft.perms});
    if let Some(t) = ttl {
        input["ttl"] = json!(t);
    }
    let reply = ctx
        .api
        .json(
            Method::POST,
            "/api/apikey",
            &input,
            &Ctx::idem(f.get("idem")),
        )
        .await;
    let Some(key) = reply.json::<Key>() else {
        let (_, message) = reply.error();
        return Ok(keys_page(&ctx, reply.status, "", &draft, Some(&message)).await);
    };
    let token = key.token.as_deref().unwrap_or_default();
    let expires = key
        .expires_at
        .as_deref()
        .map(|e| format!("{} ({})", ui::time_text(e), lifetime_text(key.ttl)))
        .unwrap_or_else(|| "never".to_string());
    let body = format!(
        "{flash}<p><strong>Copy the key now: this is the only time it is shown.</strong> \
         Only its hash is kept, so it cannot be shown again; if it is lost, revoke it and create another.</p>\n\
         <div class=\"secret\"><code id=\"new-key-token\">{token}</code>\
         <button type=\"button\" class=\"secondary\" data-copy=\"new-key-token\" hidden>Copy</button></div>\n\
         <p>Send it in the header <code>Authorization: ApiKey &lt;key&gt;</code>.</p>\n\
         <dl class=\"props\"><dt>Name</dt><dd>{name}</dd><dt>Expires</dt><dd>{expires}</dd>\
         <dt>Permissions</dt><dd>{perms}</dd></dl>\n\
         <p><a href=\"{KEYS}\">Back to the API keys</a></p>\n",
        flash = ui::flash(&format!("The key “{}” was created.", key.name)),
        token = esc(token),
        name = esc(&key.name),
        expires = esc(&expires),
        perms = permission_list(&key.permissions),
    );
    Ok(ui::page(&ctx, KEYS, "API key created", &body))
}

/// `POST /portal/settings/keys/{id}/revoke`.
pub async fn revoke_key(
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormResult,
) -> Result<Response, Response> {
    let f = Fields::of(form);
    ctx.check(f.get("csrf"))?;
    let reply = ctx
        .api
        .delete(&format!("/api/apikey/{}", enc(&id)), &[])
        .await;
    match reply.json::<Key>() {
        Some(k) => Ok(done(
            &ctx,
            KEYS,
            &format!("The key “{}” was revoked; it no longer works.", k.name),
        )),
        None => Err(ui::failed(&ctx, KEYS, "API keys", &reply)),
    }
}

// ---------------------------------------------------------------------------------------------
// Users and roles

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserRow {
    id: String,
    name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    active: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoleRow {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    built_in: bool,
    #[serde(default)]
    permissions: Vec<String>,
}

/// What the user form held.
#[derive(Default)]
struct UserDraft {
    name: String,
    email: String,
    roles: Vec<String>,
}

/// What the role form held.
#[derive(Default)]
struct RoleDraft {
    name: String,
    description: String,
    perms: Vec<String>,
}

/// The users page's forms as sent, with the error of the one that failed.
#[derive(Default)]
struct UsersDrafts {
    user: UserDraft,
    user_error: Option<String>,
    role: RoleDraft,
    role_error: Option<String>,
}

/// `GET /portal/settings/users`.
pub async fn users(ctx: Ctx, uri: Uri) -> Result<Response, Response> {
    ctx.open(USERS)?;
    Ok(users_page(&ctx, StatusCode::OK, &notice(&uri), &UsersDrafts::default()).await)
}

/// Role checkboxes named `role`, `ticked` ticked; ids `{prefix}-{n}`.
fn role_boxes(prefix: &str, roles: &[RoleRow], ticked: &[String]) -> String {
    let mut out = String::new();
    for (n, r) in roles.iter().enumerate() {
        let kind = if r.built_in { " (built-in)" } else { "" };
        let _ = write!(
            out,
            "<label class=\"check\" for=\"{prefix}-{n}\"><input type=\"checkbox\" name=\"role\" id=\"{prefix}-{n}\" value=\"{v}\"{c}> {v}<span class=\"muted\">{kind}</span></label>",
            v = esc(&r.name),
            c = checked(ticked.contains(&r.name)),
        );
    }
    out
}

async fn users_page(ctx: &Ctx, status: StatusCode, notice: &str, d: &UsersDrafts) -> Response {
    let reply = ctx.api.get("/api/security/users").await;
    if !reply.ok() {
        return ui::failed(ctx, USERS, "Users and roles", &reply);
    }
    let users: Vec<UserRow> = reply.json().unwrap_or_default();
    let reply = ctx.api.get("/api/security/roles").await;
    if !reply.ok() {
        return ui::failed(ctx, USERS, "Users and roles", &reply);
    }
    let roles: Vec<RoleRow> = reply.json().unwrap_or_default();
    let may_write = ctx.may("user", Op::Write);
    let may_delete = ctx.may("user", Op::Delete);

    let mut body = String::from(notice);
    body.push_str(if may_write {
        "<p class=\"jump\"><a href=\"#new-user-h\">Create a user</a> · <a href=\"#roles-h\">Roles</a> · \
         <a href=\"#new-role-h\">Create a custom role</a></p>\n"
    } else {
        "<p class=\"jump\"><a href=\"#roles-h\">Roles</a></p>\n"
    });
    body.push_str("<section aria-labelledby=\"users-h\"><h2 id=\"users-h\">Users</h2>\n<ul class=\"cards\">\n");
    for (i, u) in users.iter().enumerate() {
        let role_text = if u.roles.is_empty() {
            "<span class=\"muted\">no roles</span>".to_string()
        } else {
            u.roles
                .iter()
                .map(|r| format!("<span class=\"badge role\">{}</span>", esc(r)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let state = if u.active {
            "<span class=\"badge on\">active</span>"
        } else {
            "<span class=\"badge off\">inactive</span>"
        };
        let email = u
            .email
            .as_deref()
            .filter(|e| !e.is_empty())
            .map(esc)
            .unwrap_or_else(|| "<span class=\"muted\">none</span>".to_string());
        let _ = write!(
            body,
            "<li class=\"card\" id=\"user-{i}\"><h3>{name} {state}</h3>\n\
             <dl class=\"props\"><dt>Email</dt><dd>{email}</dd><dt>Roles</dt><dd>{role_text}</dd></dl>\n",
            name = esc(&u.name),
        );
        if may_write {
            let _ = writeln!(
                body,
                "<details><summary>Change roles or status<span class=\"sr-only\"> of {name}</span></summary>\
                 <form method=\"post\" action=\"{USERS}/{id}\">{fields}\
                 <fieldset class=\"group\"><legend>Roles of {name}</legend>{boxes}</fieldset>\
                 <label class=\"check\" for=\"u{i}-active\"><input type=\"checkbox\" name=\"active\" value=\"yes\" id=\"u{i}-active\"{act}> Active (may sign in and use the API)</label>\
                 <input type=\"hidden\" name=\"name\" value=\"{name}\">\
                 <div class=\"actions\"><button type=\"submit\" class=\"primary\">Save</button></div></form></details>",
                name = esc(&u.name),
                id = esc(&enc(&u.id)),
                fields = ui::form_fields(ctx),
                boxes = role_boxes(&format!("u{i}-role"), &roles, &u.roles),
                act = checked(u.active),
            );
        }
        if may_delete && u.id != ctx.user.id {
            let _ = writeln!(
                body,
                "<form method=\"post\" action=\"{USERS}/{id}/delete\" class=\"actions\" data-confirm=\"Delete the user “{name}”? Their sign-ins end at once.\">{fields}\
                 <input type=\"hidden\" name=\"name\" value=\"{name}\">\
                 <button type=\"submit\" class=\"danger\">Delete<span class=\"sr-only\"> {name}</span></button></form>",
                name = esc(&u.name),
                id = esc(&enc(&u.id)),
                fields = ui::form_fields(ctx),
            );
        }
        body.push_str("</li>\n");
    }
    body.push_str("</ul>\n");
    if may_write {
        let _ = write!(
            body,
            "<h3 id=\"new-user-h\">Create a user</h3>\n{alert}\
             <form method=\"post\" action=\"{USERS}\" class=\"card\" id=\"create-user\" aria-labelledby=\"new-user-h\">{fields}\n\
             <div class=\"field\"><label for=\"user-name\">User name</label>\
             <input id=\"user-name\" name=\"name\" required maxlength=\"200\" autocomplete=\"off\" value=\"{name}\"></div>\n\
             <div class=\"field\"><label for=\"user-password\">Password</label>\
             <input id=\"user-password\" name=\"password\" type=\"password\" required autocomplete=\"new-password\"></div>\n\
             <div class=\"field\"><label for=\"user-email\">Email (optional)</label>\
             <input id=\"user-email\" name=\"email\" type=\"email\" autocomplete=\"off\" value=\"{email}\"></div>\n\
             <fieldset class=\"group\"><legend>Roles</legend>{boxes}</fieldset>\n\
             <div class=\"actions\"><button type=\"submit\" class=\"primary\">Create user</button></div>\n</form>\n",
            alert = d.user_error.as_deref().map(ui::alert).unwrap_or_default(),
            fields = ui::form_fields(ctx),
            name = esc(&d.user.name),
            email = esc(&d.user.email),
            boxes = role_boxes("new-user-role", &roles, &d.user.roles),
        );
    }
    body.push_str("</section>\n");

    body.push_str("<section aria-labelledby=\"roles-h\"><h2 id=\"roles-h\">Roles</h2>\n<ul class=\"cards\">\n");
    for r in &roles {
        let kind = if r.built_in {
            "<span class=\"badge role\">built-in</span>"
        } else {
            "<span class=\"badge\">custom</span>"
        };
        let description = r
            .description
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(|t| format!("<p>{}</p>", esc(t)))
            .unwrap_or_default();
        let _ = writeln!(
            body,
            "<li class=\"card\"><h3>{name} {kind}</h3>{description}{perms}</li>",
            name = esc(&r.name),
            perms = permission_list(&r.permissions),
        );
    }
    body.push_str("</ul>\n");
    if may_write {
        let _ = write!(
            body,
            "<h3 id=\"new-role-h\">Create a custom role</h3>\n{alert}\
             <form method=\"post\" action=\"/portal/settings/roles\" class=\"card\" id=\"create-role\" aria-labelledby=\"new-role-h\">{fields}\n\
             <div class=\"field\"><label for=\"role-name\">Role name</label>\
             <input id=\"role-name\" name=\"name\" required maxlength=\"200\" autocomplete=\"off\" value=\"{name}\"></div>\n\
             <div class=\"field\"><label for=\"role-description\">Description (optional)</label>\
             <input id=\"role-description\" name=\"description\" autocomplete=\"off\" value=\"{description}\"></div>\n\
             {table}\
             <div class=\"actions\"><button type=\"submit\" class=\"primary\">Create role</button></div>\n</form>\n",
            alert = d.role_error.as_deref().map(ui::alert).unwrap_or_default(),
            fields = ui::form_fields(ctx),
            name = esc(&d.role.name),
            description = esc(&d.role.description),
            table = permission_table("role", "Permissions of the role", &d.role.perms),
        );
    }
    body.push_str("</section>\n");
    ui::page_with(ctx, status, USERS, "Users and roles", &body)
}

/// `POST /portal/settings/users`: creates a user; 303 to the list, or the form again.
pub async fn create_user(ctx: Ctx, form: FormResult) -> Result<Response, Response> {
    let f = Fields::of(form);
    ctx.check(f.get("csrf"))?;
    ctx.open(USERS)?;
    let draft = UserDraft {
        name: f.get("name").to_string(),
        email: f.get("email").to_string(),
        roles: f.all("role"),
    };
    let mut input = json!({
        "name": draft.name,
        // Passwords are taken as typed, spaces included.
        "password": f.0.iter().find(|(k, _)| k == "password").map(|(_, v)| v.as_str()).unwrap_or_default(),
        "roles": draft.roles,
    });
    if !draft.email.is_empty() {
        input["email"] = json!(draft.email);
    }
    let reply = ctx
        .api
        .json(
            Method::POST,
            "/api/security/users",
            &input,
            &Ctx::idem(f.get("idem")),
        )
        .await;
    if reply.ok() {
        return Ok(done(
            &ctx,
            USERS,
            &format!("The user “{}” was created.", draft.name),
        ));
    }
    let drafts = UsersDrafts {
        user_error: Some(reply.error().1),
        user: draft,
        ..UsersDrafts::default()
    };
    Ok(users_page(&ctx, reply.status, "", &drafts).await)
}

/// `POST /portal/settings/users/{id}`: the user's roles (the whole list) and active flag.
pub async fn change_user(
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormResult,
) -> Result<Response, Response> {
    let f = Fields::of(form);
    ctx.check(f.get("csrf"))?;
    let input = json!({"roles": f.all("role"), "active": f.get("active") == "yes"});
    let reply = ctx
        .api
        .json(
            Method::PATCH,
            &format!("/api/security/users/{}", enc(&id)),
            &input,
            &[],
        )
        .await;
    if !reply.ok() {
        return Err(ui::failed(&ctx, USERS, "Users and roles", &reply));
    }
    let name = reply
        .json::<UserRow>()
        .map(|u| u.name)
        .unwrap_or_else(|| f.get("name").to_string());
    Ok(done(
        &ctx,
        USERS,
        &format!("The user “{name}” was changed."),
    ))
}

/// `POST /portal/settings/users/{id}/delete`.
pub async fn delete_user(
    ctx: Ctx,
    Path(id): Path<String>,
    form: FormResult,
) -> Result<Response, Response> {
    let f = Fields::of(form);
    ctx.check(f.get("csrf"))?;
    let reply = ctx
        .api
        .delete(&format!("/api/security/users/{}", enc(&id)), &[])
        .await;
    if !reply.ok() {
        return Err(ui::failed(&ctx, USERS, "Users and roles", &reply));
    }
    let name = f.get("name");
    let text = if name.is_empty() {
        "The user was deleted.".to_string()
    } else {
        format!("The user “{name}” was deleted.")
    };
    Ok(done(&ctx, USERS, &text))
}

/// `POST /portal/settings/roles`: creates a custom role; 303 to the users page, or the form
/// again.
pub async fn create_role(ctx: Ctx, form: FormResult) -> Result<Response, Response> {
    let f = Fields::of(form);
    ctx.check(f.get("csrf"))?;
    ctx.open(USERS)?;
    let draft = RoleDraft {
        name: f.get("name").to_string(),
        description: f.get("description").to_string(),
        perms: f.all("perm"),
    };
    let mut input = json!({"name": draft.name, "permissions": draft.perms});
    if !draft.description.is_empty() {
        input["description"] = json!(draft.description);
    }
    let reply = ctx
        .api
        .json(
            Method::POST,
            "/api/security/roles",
            &input,
            &Ctx::idem(f.get("idem")),
        )
        .await;
    if reply.ok() {
        return Ok(done(
            &ctx,
            USERS,
            &format!("The role “{}” was created.", draft.name),
        ));
    }
    let drafts = UsersDrafts {
        role_error: Some(reply.error().1),
        role: draft,
        ..UsersDrafts::default()
    };
    Ok(users_page(&ctx, reply.status, "", &drafts).await)
}

// ---------------------------------------------------------------------------------------------
// Audit log

/// The audit page's filters, as the form sends them.
#[derive(Default)]
struct AuditFilters {
    action: String,
    actor: String,
    target: String,
    from: String,
    to: String,
}

impl AuditFilters {
    fn of(uri: &Uri) -> Self {
        let q = uri.query().unwrap_or("");
        let get = |n: &str| {
            query_param(q, n)
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        AuditFilters {
            action: get("action"),
            actor: get("actor"),
            target: get("target"),
            from: get("from"),
            to: get("to"),
        }
    }

    /// The page's own query (`a=b&...`) of the filters that are set.
    fn query(&self) -> String {
        [
            ("action", &self.action),
            ("actor", &self.actor),
            ("target", &self.target),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
    }

    /// The API's query: a date as the start of its day (`from`) or its last millisecond (`to`);
    /// any other text goes as it is, for the API to accept or name.
    fn api_query(&self) -> String {
        let day = |text: &str, end: bool| -> String {
            match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
            {
                Some(t) => {
                    let ms = t.and_utc().timestamp_millis();
                    (if end { ms + 86_400_000 - 1 } else { ms }).to_string()
                }
                None => text.to_string(),
            }
        };
        let mut parts = vec![format!("limit={AUDIT_PAGE}")];
        for (k, v) in [
            ("action", self.action.clone()),
            ("actor", self.actor.clone()),
            ("target", self.target.clone()),
            ("from", day(&self.from, false)),
            ("to", day(&self.to, true)),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", enc(&v)));
            }
        }
        parts.join("&")
    }
}

/// Every action the server records, for the filter's list.
fn actions() -> &'static [&'static str] {
    static ACTIONS: OnceLock<Vec<&'static str>> = OnceLock::new();
    ACTIONS.get_or_init(|| {
        let mut all: Vec<&'static str> = crate::routes::table()
            .iter()
            .filter_map(|d| d.audit_event())
            .flat_map(|e| [Some(e.action), e.failed_action])
            .flatten()
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    })
}

#[derive(Deserialize)]
struct AuditPage {
    items: Vec<Value>,
    #[serde(default)]
    next: Option<i64>,
}

/// The verdict of `POST /api/audit/verify`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Verdict {
    intact: bool,
    #[serde(default)]
    count: Option<i64>,
    #[serde(default)]
    anchor_seq: Option<i64>,
    #[serde(default)]
    head_seq: Option<i64>,
    #[serde(default)]
    broken_at: Option<i64>,
    #[serde(default)]
    reason: Option<String>,
}

impl Verdict {
    fn html(&self) -> String {
        if self.intact {
            let count = self.count.unwrap_or_default();
            let head = self.head_seq.unwrap_or_default();
            let anchor = self.anchor_seq.unwrap_or_default();
            let text = if count == 0 {
                "The chain is intact: there are no entries to check yet.".to_string()
            } else if anchor > 0 {
                format!(
                    "The chain is intact: {count} entries, {} to {head}, each linked to the one before and matching its hash (verified from the retention anchor at entry {anchor}).",
                    anchor + 1
                )
            } else {
                format!(
                    "The chain is intact: {count} entries, 1 to {head}, each linked to the one before and matching its hash."
                )
            };
            format!(
                "<p class=\"flash\" role=\"status\" id=\"verdict\">{}</p>\n",
                esc(&text)
            )
        } else {
            format!(
                "<p class=\"alert\" role=\"alert\" id=\"verdict\">{}</p>\n",
                esc(&format!(
                    "The chain is broken at entry {}: {}",
                    self.broken_at.unwrap_or_default(),
                    self.reason.as_deref().unwrap_or_default()
                ))
            )
        }
    }
}

/// `GET /portal/settings/audit`.
pub async fn audit(ctx: Ctx, uri: Uri) -> Result<Response, Response> {
    ctx.open(AUDIT)?;
    let after = query_param(uri.query().unwrap_or(""), "after").filter(|a| !a.is_empty());
    Ok(audit_page(&ctx, &AuditFilters::of(&uri), after.as_deref(), "").await)
}

/// `POST /portal/settings/audit/verify`: the audit page (unfiltered) with the verdict.
pub async fn verify_audit(ctx: Ctx, form: FormResult) -> Result<Response, Response> {
    let f = Fields::of(form);
    ctx.check(f.get("csrf"))?;
    ctx.open(AUDIT)?;
    let reply = ctx
        .api
        .send(Method::POST, "/api/audit/verify", &[], None)
        .await;
    let Some(verdict) = reply.json::<Verdict>() else {
        return Err(ui::failed(&ctx, AUDIT, "Audit log", &reply));
    };
    Ok(audit_page(&ctx, &AuditFilters::default(), None, &verdict.html()).await)
}

fn text_of(v: &Value, key: &str) -> String {
    ui::cell(v.get(key).unwrap_or(&Value::Null))
}

async fn audit_page(ctx: &Ctx, f: &AuditFilters, after: Option<&str>, verdict: &str) -> Response {
    let mut uri = format!("/api/audit?{}", f.api_query());
    if let Some(a) = after {
        uri.push_str(&format!("&after={}", enc(a)));
    }
    let reply: Reply = ctx.api.get(&uri).await;
    let mut body = String::from(verdict);
    body.push_str(&format!(
        "<form method=\"post\" action=\"{AUDIT}/verify\" class=\"actions verify\">{}\
         <button type=\"submit\" class=\"secondary\">Verify the chain</button>\
         <span class=\"hint\">Checks that no entry was changed, removed or inserted.</span></form>\n",
        ui::form_fields(ctx)
    ));
    // The filters.
    let mut options = String::from("<option value=\"\">Any action</option>");
    let known = actions();
    let mut listed: Vec<&str> = known.to_vec();
    if !f.action.is_empty() && !known.contains(&f.action.as_str()) {
        listed.insert(0, f.action.as_str());
    }
    for a in listed {
        let sel = if a == f.action { " selected" } else { "" };
        let _ = write!(
            options,
            "<option value=\"{a}\"{sel}>{a}</option>",
            a = esc(a)
        );
    }
    let _ = write!(
        body,
        "<details class=\"card filters-box\"{open}><summary>Filter the log</summary>\
         <form method=\"get\" action=\"{AUDIT}\" id=\"audit-filters\" aria-label=\"Filter the log\">\
         <div class=\"filters\">\n\
         <div class=\"field\"><label for=\"f-action\">Action</label><select id=\"f-action\" name=\"action\">{options}</select></div>\n\
         <div class=\"field\"><label for=\"f-actor\">Actor</label><input id=\"f-actor\" name=\"actor\" autocomplete=\"off\" value=\"{actor}\" aria-describedby=\"f-actor-hint\"><p class=\"hint\" id=\"f-actor-hint\">A user or key name or id</p></div>\n\
         <div class=\"field\"><label for=\"f-target\">Target</label><input id=\"f-target\" name=\"target\" autocomplete=\"off\" value=\"{target}\" aria-describedby=\"f-target-hint\"><p class=\"hint\" id=\"f-target-hint\">A session, user, key or file id</p></div>\n\
         <div class=\"field\"><label for=\"f-from\">From (UTC)</label><input id=\"f-from\" name=\"from\" type=\"date\" value=\"{from}\"></div>\n\
         <div class=\"field\"><label for=\"f-to\">To (UTC, the whole day)</label><input id=\"f-to\" name=\"to\" type=\"date\" value=\"{to}\"></div>\n\
         </div><div class=\"actions\"><button type=\"submit\" class=\"primary\">Filter</button>\
         <a class=\"button secondary\" href=\"{AUDIT}\">Clear</a></div></form></details>\n",
        open = if f.query().is_empty() { "" } else { " open" },
        actor = esc(&f.actor),
        target = esc(&f.target),
        from = esc(&f.from),
        to = esc(&f.to),
    );
    if !reply.ok() {
        if reply.status == StatusCode::FORBIDDEN {
            return ui::failed(ctx, AUDIT, "Audit log", &reply);
        }
        body.push_str(&ui::alert(&reply.error().1));
        return ui::page_with(ctx, reply.status, AUDIT, "Audit log", &body);
    }
    let page: AuditPage = reply.json().unwrap_or(AuditPage {
        items: Vec::new(),
        next: None,
    });
    let filtered = !f.query().is_empty();
    if page.items.is_empty() {
        body.push_str(if filtered {
            "<p class=\"muted\" id=\"audit-count\">No entries match these filters.</p>\n"
        } else {
            "<p class=\"muted\" id=\"audit-count\">No entries yet.</p>\n"
        });
    } else {
        let first = page
            .items
            .first()
            .map(|e| text_of(e, "seq"))
            .unwrap_or_default();
        let last = page
            .items
            .last()
            .map(|e| text_of(e, "seq"))
            .unwrap_or_default();
        let _ = writeln!(
            body,
            "<p id=\"audit-count\">{n} {entries}{matching}, newest first (entries {first} down to {last}).</p>",
            n = page.items.len(),
            entries = if page.items.len() == 1 {
                "entry"
            } else {
                "entries"
            },
            matching = if filtered { " matching" } else { "" },
            first = esc(&first),
            last = esc(&last),
        );
        body.push_str(
            "<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Audit entries\"><table id=\"audit\"><thead><tr><th scope=\"col\" class=\"num\">#</th>\
             <th scope=\"col\">Action</th><th scope=\"col\" class=\"num\">Outcome</th>\
             <th scope=\"col\">Actor</th><th scope=\"col\">When</th><th scope=\"col\">Target</th>\
             <th scope=\"col\">Address</th></tr></thead><tbody>\n",
        );
        for e in &page.items {
            let actor = e.get("actor").cloned().unwrap_or_default();
            let name = text_of(&actor, "name");
            let kind = text_of(&actor, "kind");
            let who = if name.is_empty() {
                format!("<span class=\"muted\">{}</span>", esc(&kind))
            } else {
                format!(
                    "{}<br><span class=\"muted\">{}</span>",
                    esc(&name),
                    esc(&kind)
                )
            };
            let outcome = e.get("outcome").and_then(Value::as_i64).unwrap_or_default();
            let class = if (200..400).contains(&outcome) {
                "ok"
            } else {
                "bad"
            };
            let _ = writeln!(
                body,
                "<tr><td class=\"num\">{seq}</td><td><code>{action}</code></td>\
                 <td class=\"num\"><span class=\"outcome {class}\">{outcome}</span></td><td>{who}</td>\
                 <td class=\"when\">{at}</td><td>{target}</td><td>{ip}</td></tr>",
                seq = esc(&text_of(e, "seq")),
                at = esc(&ui::time_text(&text_of(e, "at"))),
                action = esc(&text_of(e, "action")),
                target = esc(&text_of(e, "target")),
                ip = esc(&text_of(e, "ip")),
            );
        }
        body.push_str("</tbody></table></div>\n");
    }
    let query = f.query();
    let join = if query.is_empty() { "" } else { "&amp;" };
    let mut pager = String::new();
    if after.is_some() {
        let _ = write!(
            pager,
            "<a href=\"{AUDIT}{q}\">Newest entries</a>",
            q = if query.is_empty() {
                String::new()
            } else {
                format!("?{}", esc(&query))
            }
        );
    }
    if let Some(next) = page.next {
        let _ = write!(
            pager,
            "<a href=\"{AUDIT}?{q}{join}after={next}\" rel=\"next\">Older entries</a>",
            q = esc(&query),
        );
    }
    if !pager.is_empty() {
        let _ = writeln!(
            body,
            "<nav class=\"pager\" aria-label=\"Pages\">{pager}</nav>"
        );
    }
    ui::page_with(ctx, StatusCode::OK, AUDIT, "Audit log", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_from_the_form() {
        let d = |lifetime: &str, seconds: &str| KeyDraft {
            lifetime: lifetime.into(),
            seconds: seconds.into(),
            ..KeyDraft::default()
        };
        assert_eq!(d("86400", "").ttl(), Ok(Some(86_400)));
        assert_eq!(d("never", "5").ttl(), Ok(None));
        assert_eq!(d("seconds", "3600").ttl(), Ok(Some(3_600)));
        assert!(
            d("seconds", "an hour")
                .ttl()
                .unwrap_err()
                .contains("an hour")
        );
        assert!(d("forever", "").ttl().is_err());
        assert_eq!(lifetime_text(Some(2_592_000)), "30 days");
        assert_eq!(lifetime_text(Some(7_200)), "2 hours");
        assert_eq!(lifetime_text(Some(90)), "90 seconds");
        assert_eq!(lifetime_text(Some(3_600)), "1 hour");
        assert_eq!(lifetime_text(Some(600)), "10 minutes");
        assert_eq!(lifetime_text(Some(172_800)), "2 days");
        assert_eq!(lifetime_text(None), "never expires");
    }

    #[test]
    fn audit_dates_cover_whole_days() {
        let f = AuditFilters {
            action: "apikey.created".into(),
            from: "2026-01-01".into(),
            to: "2026-01-01".into(),
            actor: "a b".into(),
            ..AuditFilters::default()
        };
        assert_eq!(
            f.api_query(),
            "limit=50&action=apikey.created&actor=a%20b&from=1767225600000&to=1767311999999"
        );
        assert_eq!(
            f.query(),
            "action=apikey.created&actor=a%20b&from=2026-01-01&to=2026-01-01"
        );
        let odd = AuditFilters {
            from: "yesterday".into(),
            ..AuditFilters::default()
        };
        assert_eq!(odd.api_query(), "limit=50&from=yesterday");
    }

    #[test]
    fn the_permission_table_has_every_scope_and_operation() {
        let html = permission_table("t", "P", &["session_all:read".to_string()]);
        assert_eq!(
            html.matches("type=\"checkbox\"").count(),
            SCOPES.len() * Op::ALL.len()
        );
        assert!(html.contains(
            "value=\"session_all:read\" id=\"t-session_all-read\" aria-label=\"session_all:read\" checked>"
        ));
        assert!(!html.contains(
            "value=\"session:read\" id=\"t-session-read\" aria-label=\"session:read\" checked"
        ));
        assert!(actions().contains(&"apikey.created"));
        assert!(actions().contains(&"auth.login_failed"));
    }
}
