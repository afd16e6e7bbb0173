//! The portal's page frame and the small pieces of HTML its pages share. Every text that comes
//! from data goes through [`esc`].

use super::Ctx;
use crate::web::notice::escape;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idv_core::permission::Op;
use std::fmt::Write;

pub(crate) use crate::web::notice::escape as esc;

/// A part of the portal a user reaches from its menu, with the permissions that open it.
pub struct Area {
    pub href: &'static str,
    pub label: &'static str,
    /// Any one of these opens it.
    pub needs: &'static [(&'static str, Op)],
    pub settings: bool,
}

const SESSION_READ: &[(&str, Op)] = &[("session", Op::Read), ("session_all", Op::Read)];

/// The menu, in order.
pub const AREAS: &[Area] = &[
    Area {
        href: "/",
        label: "Dashboard",
        needs: SESSION_READ,
        settings: false,
    },
    Area {
        href: "/portal/sessions",
        label: "Sessions",
        needs: SESSION_READ,
        settings: false,
    },
    Area {
        href: "/portal/settings/keys",
        label: "API keys",
        needs: &[("apikey", Op::Read), ("apikey_all", Op::Read)],
        settings: true,
    },
    Area {
        href: "/portal/settings/users",
        label: "Users and roles",
        needs: &[("user", Op::Read)],
        settings: true,
    },
    Area {
        href: "/portal/settings/workflows",
        label: "Workflows",
        needs: &[("workflow", Op::Write), ("workflow_all", Op::Write)],
        settings: true,
    },
    Area {
        href: "/portal/settings/webhooks",
        label: "Webhooks",
        needs: &[("webhook", Op::Read)],
        settings: true,
    },
    Area {
        href: "/portal/settings/audit",
        label: "Audit log",
        needs: &[("audit", Op::Read)],
        settings: true,
    },
];

/// The area with this link.
pub fn area(href: &str) -> &'static Area {
    AREAS
        .iter()
        .find(|a| a.href == href)
        .expect("a declared area")
}

/// The version of the portal's files, for their links (`?v=`).
fn assets_version() -> &'static str {
    super::files::version()
}

/// A whole portal page for a signed-in user: the menu (only what the user may open, the
/// current one marked), `title` as the `<title>` and `<h1>`, and `body` (HTML) below.
pub fn page(ctx: &Ctx, current: &str, title: &str, body: &str) -> Response {
    page_with(ctx, StatusCode::OK, current, title, body)
}

pub fn page_with(
    ctx: &Ctx,
    status: StatusCode,
    current: &str,
    title: &str,
    body: &str,
) -> Response {
    let mut nav = String::new();
    for a in AREAS.iter().filter(|a| ctx.may_any(a.needs)) {
        let here = if a.href == current {
            " aria-current=\"page\""
        } else {
            ""
        };
        let class = if a.settings { " class=\"set\"" } else { "" };
        let _ = write!(
            nav,
            "<li{class}><a href=\"{}\"{here}>{}</a></li>",
            a.href, a.label
        );
    }
    let v = assets_version();
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{title} · idv portal</title>\n\
         <link rel=\"stylesheet\" href=\"/static/portal/portal.css?v={v}\">\n\
         <script type=\"module\" src=\"/static/portal/portal.js?v={v}\"></script>\n</head>\n<body>\n\
         <a class=\"skip\" href=\"#main\">Skip to content</a>\n\
         <header class=\"bar\">\n<a class=\"brand\" href=\"/\">idv portal</a>\n\
         <nav aria-label=\"Portal\"><ul>{nav}</ul></nav>\n\
         <form class=\"who\" method=\"post\" action=\"/portal/logout\">\
         <span>{user}</span><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" class=\"link\">Sign out</button></form>\n</header>\n\
         <main id=\"main\" tabindex=\"-1\">\n<h1>{title}</h1>\n{body}</main>\n</body>\n</html>\n",
        title = escape(title),
        user = escape(&ctx.user.name),
        csrf = ctx.csrf,
    );
    finish(ctx, status, html)
}

/// Adds the page headers and the renewed session cookie.
fn finish(ctx: &Ctx, status: StatusCode, html: String) -> Response {
    let mut resp = (status, html).into_response();
    crate::web::page_headers(&mut resp, &[]);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    ctx.renew(&mut resp);
    resp
}

/// The friendly 403: what is missing, and the way back.
pub fn forbidden(ctx: &Ctx, what: &str) -> Response {
    page_with(
        ctx,
        StatusCode::FORBIDDEN,
        "",
        "Not allowed",
        &format!(
            "<p class=\"alert\" role=\"alert\">Your roles do not let you {}.</p>\n\
             <p>Ask an administrator for a role that does, or <a href=\"/\">go back to the portal</a>.</p>\n",
            escape(what)
        ),
    )
}

/// A page saying what went wrong with an API call, with its status.
pub fn failed(ctx: &Ctx, current: &str, title: &str, reply: &super::call::Reply) -> Response {
    if reply.status == StatusCode::FORBIDDEN {
        return forbidden(ctx, &format!("open the {title} page"));
    }
    let (code, message) = reply.error();
    page_with(
        ctx,
        reply.status,
        current,
        title,
        &format!(
            "<p class=\"alert\" role=\"alert\">{} <span class=\"muted\">({})</span></p>\n",
            escape(&message),
            escape(&code)
        ),
    )
}

/// A 303 to `location` (after a form: the page shows the result, a reload sends nothing again).
pub fn see_other(ctx: &Ctx, location: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    ctx.renew(&mut resp);
    resp
}

/// A 303 to `href` with a notice for the page to show (`done=`, read by [`flash`]).
pub fn done(ctx: &Ctx, href: &str, text: &str) -> Response {
    let sep = if href.contains('?') { '&' } else { '?' };
    see_other(ctx, &format!("{href}{sep}done={}", super::call::enc(text)))
}

/// The hidden fields every form of a signed-in page carries: the CSRF value, and a fresh
/// `Idempotency-Key` so that a form sent twice does its work once.
pub fn form_fields(ctx: &Ctx) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"idem\" value=\"{}\">",
        ctx.csrf,
        idv_core::ids::random_base36(24)
    )
}

/// A notice above a page's content (`?done=` after a form).
pub fn flash(text: &str) -> String {
    format!("<p class=\"flash\" role=\"status\">{}</p>\n", escape(text))
}

/// An error box.
pub fn alert(text: &str) -> String {
    format!("<p class=\"alert\" role=\"alert\">{}</p>\n", escape(text))
}

/// An RFC 3339 time as `2026-01-31 10:00 UTC` (left as given when it is not one).
pub fn time_text(s: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or_else(|_| s.to_string())
}

/// A session status as a labelled badge.
pub fn status_badge(status: i64) -> String {
    let name = idv_core::status::name(status).unwrap_or("unknown");
    format!(
        "<span class=\"badge s{status}\">{}</span>",
        escape(&name.replace('_', " "))
    )
}

/// A JSON value as short text for a table cell.
pub fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
