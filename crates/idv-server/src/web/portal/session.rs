//! One verification session (`/portal/sessions/{id}`): the workflow's `view` block, the status
//! and facts, the normalized check blocks with the rules behind them, the files (images shown
//! with zoom and rotate), properties, status history, steps, errors, the session's webhook
//! deliveries and the raw JSON; the review form (guarded by the ETag the page was made from),
//! legal hold, export and delete. Everything comes from the JSON API: `GET /api/sessions/{id}`,
//! `PATCH` and `DELETE` of it, its files, its export and `GET /api/sessions/{id}/deliveries`.

use super::Ctx;
use super::call::{Reply, enc};
use super::ui::{self, esc};
use axum::Form;
use axum::body::Body;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use idv_core::permission::Op;
use serde::Deserialize;
use serde_json::{Value, json};
use std::fmt::Write;

/// The list this page belongs to (its menu entry and permissions).
const LIST: &str = "/portal/sessions";

/// The address of the session's page.
fn href(id: &str) -> String {
    format!("{LIST}/{}", enc(id))
}

/// The portal's address of a session file.
fn file_href(id: &str, file: &str) -> String {
    format!("{}/files/{}", href(id), enc(file))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PageQuery {
    done: String,
}

/// `GET /portal/sessions/{id}`.
pub async fn page(ctx: Ctx, Path(id): Path<String>, Query(q): Query<PageQuery>) -> Response {
    if let Err(resp) = ctx.open(LIST) {
        return resp;
    }
    let mut notes = String::new();
    if !q.done.is_empty() {
        notes.push_str(&ui::flash(&q.done));
    }
    show(&ctx, &id, StatusCode::OK, &notes, "").await
}

/// Reads the session and renders its page with `notes` (HTML) above it and `comment` in the
/// review form; the API's error page when it cannot be read.
async fn show(ctx: &Ctx, id: &str, status: StatusCode, notes: &str, comment: &str) -> Response {
    // The session and its deliveries, asked for together.
    let session_uri = format!("/api/sessions/{}", enc(id));
    let deliveries_uri = format!("/api/sessions/{}/deliveries?limit=100", enc(id));
    let (reply, deliveries) = futures::join!(ctx.api.get(&session_uri), async {
        if ctx.may("webhook", Op::Read) {
            Some(ctx.api.get(&deliveries_uri).await)
        } else {
            None
        }
    });
    let Some(s) = reply.json::<Value>() else {
        if reply.status == StatusCode::GONE {
            return deleted(ctx, &reply);
        }
        return ui::failed(ctx, LIST, "Session", &reply);
    };
    let etag = reply.header("etag").unwrap_or_default().to_string();
    let view = Page {
        ctx,
        id,
        s: &s,
        etag: &etag,
    };
    let body = view.render(notes, comment, deliveries.as_ref());
    ui::page_with(ctx, status, LIST, &view.title(), &body)
}

/// The page of a deleted session: its tombstone (`details` of the API's 410).
fn deleted(ctx: &Ctx, reply: &Reply) -> Response {
    let body: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    let t = &body["error"]["details"];
    let mut b = ui::alert(&reply.error().1);
    b.push_str("<dl class=\"props card\">\n");
    let by = &t["deletedBy"];
    for (k, v) in [
        ("Session id", text(&t["id"])),
        ("Workflow", text(&t["workflowId"])),
        (
            "Status when deleted",
            match t["status"].as_i64() {
                Some(s) => status_name(s),
                None => String::new(),
            },
        ),
        ("Deleted", ui::time_text(&text(&t["deletedAt"]))),
        ("Deleted by", who(by)),
        ("Reason", text(&t["reason"])),
    ] {
        if !v.is_empty() {
            let _ = writeln!(b, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
        }
    }
    let _ = write!(
        b,
        "</dl>\n<p><a href=\"{LIST}\">Back to the sessions</a></p>\n"
    );
    ui::page_with(ctx, StatusCode::GONE, LIST, "Session deleted", &b)
}

/// A session's page being rendered.
struct Page<'a> {
    ctx: &'a Ctx,
    id: &'a str,
    s: &'a Value,
    etag: &'a str,
}

/// Text of a JSON value (a string without quotes).
fn text(v: &Value) -> String {
    ui::cell(v)
}

/// A status's name for people: "not completed", "approved".
fn status_name(status: i64) -> String {
    idv_core::status::name(status)
        .unwrap_or("unknown")
        .replace('_', " ")
}

fn items(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// The `by` of a history entry: `name (kind)`.
fn who(by: &Value) -> String {
    let name = text(&by["name"]);
    match by["kind"].as_str() {
        Some("workflow") if name.is_empty() => "the workflow".into(),
        Some(kind) if !name.is_empty() => format!("{name} ({kind})"),
        _ => name,
    }
}

/// What one history entry changed, as text.
fn change(entry: &Value) -> String {
    if let Some(hold) = entry["legalHold"].as_bool() {
        return if hold {
            "Legal hold set".into()
        } else {
            "Legal hold lifted".into()
        };
    }
    match (entry["from"].as_i64(), entry["to"].as_i64()) {
        (Some(f), Some(t)) => match entry["step"].as_str() {
            Some(step) => format!("{} → {} (at step {step})", status_name(f), status_name(t)),
            None => format!("{} → {}", status_name(f), status_name(t)),
        },
        (None, Some(t)) => format!("→ {}", status_name(t)),
        _ => String::new(),
    }
}

impl Page<'_> {
    fn title(&self) -> String {
        match self.s["view"]["title"].as_str() {
            Some(t) if !t.trim().is_empty() => t.to_string(),
            _ => "Session".to_string(),
        }
    }

    fn status(&self) -> i64 {
        self.s["status"].as_i64().unwrap_or_default()
    }

    fn render(&self, notes: &str, comment: &str, deliveries: Option<&Reply>) -> String {
        let mut b = String::from("<div class=\"one-session\">\n");
        b.push_str(notes);
        self.summary(&mut b);
        self.checks(&mut b);
        self.files(&mut b);
        self.review(&mut b, comment);
        self.properties(&mut b);
        self.history(&mut b);
        self.steps(&mut b);
        self.errors(&mut b);
        if let Some(d) = deliveries {
            self.deliveries(&mut b, d);
        }
        self.manage(&mut b);
        let raw = serde_json::to_string_pretty(self.s).unwrap_or_default();
        let _ = writeln!(
            b,
            "<details class=\"card\"><summary>Raw JSON</summary><pre>{}</pre></details>",
            esc(&raw)
        );
        b.push_str("</div>\n");
        b
    }

    /// The workflow's `view` block, then the session's own facts.
    fn summary(&self, b: &mut String) {
        let s = self.s;
        b.push_str("<section class=\"card summary\" aria-labelledby=\"summary-h\">\n");
        b.push_str("<h2 id=\"summary-h\" class=\"sr-only\">Summary</h2>\n");
        let view = &s["view"];
        let photo = view["photo"]["fileId"].as_str();
        if let Some(fid) = photo {
            let _ = writeln!(
                b,
                "<img class=\"photo\" src=\"{}\" alt=\"Photo of the person\" width=\"112\">",
                esc(&file_href(self.id, fid))
            );
        }
        b.push_str("<dl class=\"props\">\n");
        let mut row = |k: &str, v: String| {
            let _ = writeln!(b, "<dt>{}</dt><dd>{v}</dd>", esc(k));
        };
        // A field the session has no value for yet is left out.
        for f in items(&view["fields"])
            .iter()
            .filter(|f| !f["value"].is_null())
        {
            let name = match f["name"].as_str() {
                Some(n) if !n.is_empty() => n.to_string(),
                _ => text(&f["propertyId"]),
            };
            row(
                &name,
                value_html(self.id, items(&self.s["files"]), &f["value"]),
            );
        }
        row("Status", ui::status_badge(self.status()));
        let wf = &s["workflow"];
        let mut workflow = esc(&text(&wf["name"]));
        if let Some(v) = wf["version"].as_str() {
            let _ = write!(workflow, " <span class=\"muted\">version {}</span>", esc(v));
        }
        row("Workflow", workflow);
        row("Session id", format!("<code>{}</code>", esc(self.id)));
        row("Created", esc(&ui::time_text(&text(&s["createdAt"]))));
        row("Updated", esc(&ui::time_text(&text(&s["updatedAt"]))));
        if let Some(e) = s["expiresAt"].as_str() {
            row("Expires", esc(&ui::time_text(e)));
        }
        if let Some(step) = s["currentStep"].as_str() {
            row("Current step", esc(step));
        }
        if let Some(m) = s["metadata"].as_object() {
            if let Some(u) = m.get("externalUserId") {
                row("External user id", esc(&text(u)));
            }
            for (k, v) in m.iter().filter(|(k, _)| *k != "externalUserId") {
                row(
                    &format!("Metadata: {k}"),
                    value_html(self.id, items(&self.s["files"]), v),
                );
            }
        }
        if s["legalHold"].as_bool() == Some(true) {
            row(
                "Legal hold",
                "<strong>On</strong>: the session cannot be deleted".into(),
            );
        }
        b.push_str("</dl>\n</section>\n");
    }

    fn checks(&self, b: &mut String) {
        checks_html(b, self.id, self.s);
    }

    /// Image files shown (the document portrait and the selfie side by side), other files
    /// listed, each with a download link.
    fn files(&self, b: &mut String) {
        let files = items(&self.s["files"]);
        if files.is_empty() {
            return;
        }
        b.push_str("<h2>Files</h2>\n");
        let is_image = |f: &Value| {
            f["contentType"]
                .as_str()
                .is_some_and(|c| c.starts_with("image/"))
        };
        let prop = |f: &Value| {
            f["property"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_uppercase()
        };
        let portrait = files
            .iter()
            .find(|f| is_image(f) && prop(f).contains("PORTRAIT"));
        let portrait_id = portrait.and_then(|p| p["id"].as_str());
        let photo_id = self.s["view"]["photo"]["fileId"].as_str();
        let selfie = files.iter().find(|f| {
            let fid = f["id"].as_str();
            is_image(f)
                && fid != portrait_id
                && (prop(f).contains("SELFIE") || (photo_id.is_some() && fid == photo_id))
        });
        let mut shown: Vec<&str> = Vec::new();
        if let (Some(p), Some(s)) = (portrait, selfie) {
            b.push_str(
                "<section aria-labelledby=\"pair-h\">\n<h3 id=\"pair-h\">Document portrait and selfie</h3>\n<div class=\"pair faces\">\n",
            );
            b.push_str(&self.figure(p, "Document portrait"));
            b.push_str(&self.figure(s, "Selfie"));
            b.push_str("</div>\n</section>\n");
            shown.extend([
                p["id"].as_str().unwrap_or(""),
                s["id"].as_str().unwrap_or(""),
            ]);
        }
        let images: Vec<&Value> = files
            .iter()
            .filter(|f| is_image(f) && !shown.contains(&f["id"].as_str().unwrap_or("")))
            .collect();
        if !images.is_empty() {
            b.push_str("<div class=\"pair gallery\">\n");
            for f in images {
                let label = match f["property"].as_str() {
                    Some(p) => p.to_string(),
                    None => text(&f["name"]),
                };
                b.push_str(&self.figure(f, &label));
            }
            b.push_str("</div>\n");
        }
        let _ = writeln!(
            b,
            "<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Files of the session\"><table><caption class=\"sr-only\">Files of the session</caption>\
             <thead><tr><th scope=\"col\">File</th><th scope=\"col\">Property</th><th scope=\"col\">Step</th>\
             <th scope=\"col\">Type</th><th scope=\"col\" class=\"num\">Size</th><th scope=\"col\">Added</th></tr></thead><tbody>"
        );
        for f in files {
            let fid = text(&f["id"]);
            let _ = writeln!(
                b,
                "<tr><td><a href=\"{}\" download>{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                esc(&file_href(self.id, &fid)),
                esc(&text(&f["name"])),
                esc(&text(&f["property"])),
                esc(&text(&f["step"])),
                esc(&text(&f["contentType"])),
                esc(&size(f["size"].as_i64().unwrap_or_default())),
                esc(&ui::time_text(&text(&f["createdAt"]))),
            );
        }
        b.push_str("</tbody></table></div>\n");
    }

    /// One image with its zoom and rotate buttons (shown by the script) and a download link.
    fn figure(&self, f: &Value, label: &str) -> String {
        let fid = text(&f["id"]);
        let src = esc(&file_href(self.id, &fid));
        let name = text(&f["name"]);
        format!(
            "<figure data-viewer>\n<div class=\"frame\" tabindex=\"0\" role=\"group\" aria-label=\"{label}, scrolls when zoomed\"><img src=\"{src}\" alt=\"{alt}\"></div>\n\
             <figcaption>{label} <span class=\"muted\">{name}</span></figcaption>\n\
             <div class=\"tools\"><button type=\"button\" class=\"secondary\" data-act=\"zoom\" aria-pressed=\"false\" hidden>Zoom<span class=\"sr-only\"> {label}</span></button>\
             <button type=\"button\" class=\"secondary\" data-act=\"rotate\" hidden>Rotate<span class=\"sr-only\"> {label}</span></button>\
             <a class=\"button secondary\" href=\"{src}\" download>Download<span class=\"sr-only\"> {label}</span></a></div>\n</figure>\n",
            alt = esc(&format!("{label} ({name})")),
            label = esc(label),
            name = esc(&name),
        )
    }

    /// The review form: approve and reject, or any status, with a comment; sent with the ETag
    /// the page was made from.
    fn review(&self, b: &mut String, comment: &str) {
        if !self.ctx.may_any(&[
            ("session_patch", Op::Write),
            ("session_all_patch", Op::Write),
        ]) {
            return;
        }
        let current = self.status();
        let _ = write!(
            b,
            "<section class=\"card\" aria-labelledby=\"review-h\">\n<h2 id=\"review-h\">Review</h2>\n\
             <form method=\"post\" action=\"{}/review\">{}\
             <input type=\"hidden\" name=\"etag\" value=\"{}\">\
             <input type=\"hidden\" name=\"from\" value=\"{current}\">\
             <input type=\"hidden\" name=\"seen\" value=\"{}\">\n\
             <fieldset class=\"statuses\"><legend>Status</legend>\n",
            href(self.id),
            ui::form_fields(self.ctx),
            esc(self.etag),
            items(&self.s["history"]).len(),
        );
        for st in idv_core::status::ALL {
            let checked = if st == current { " checked" } else { "" };
            let _ = writeln!(
                b,
                "<label class=\"check\"><input type=\"radio\" name=\"status\" value=\"{st}\"{checked}> {}</label>",
                esc(&status_name(st))
            );
        }
        let _ = write!(
            b,
            "</fieldset>\n<div class=\"field\"><label for=\"comment\">Comment</label>\
             <textarea id=\"comment\" name=\"comment\" maxlength=\"2000\" aria-describedby=\"comment-hint\">{}</textarea>\
             <p class=\"hint\" id=\"comment-hint\">Kept in the status history (at most 2000 characters).</p></div>\n\
             <div class=\"actions\">\
             <button type=\"submit\" name=\"action\" value=\"approve\" class=\"primary\">Approve</button>\
             <button type=\"submit\" name=\"action\" value=\"reject\" class=\"danger\">Reject</button>\
             <button type=\"submit\" name=\"action\" value=\"set\" class=\"secondary\">Set the chosen status</button>\
             </div>\n</form>\n</section>\n",
            esc(comment)
        );
    }

    /// Properties as a definition list, nested values readable.
    fn properties(&self, b: &mut String) {
        let Some(props) = self.s["properties"].as_object() else {
            return;
        };
        if props.is_empty() {
            return;
        }
        b.push_str("<section class=\"card\" aria-labelledby=\"props-h\">\n<h2 id=\"props-h\">Properties</h2>\n<dl class=\"props\">\n");
        for (k, v) in props {
            let _ = writeln!(
                b,
                "<dt>{}</dt><dd>{}</dd>",
                esc(k),
                value_html(self.id, items(&self.s["files"]), v)
            );
        }
        b.push_str("</dl>\n</section>\n");
    }

    fn history(&self, b: &mut String) {
        b.push_str("<h2 id=\"history-h\">Status history</h2>\n");
        let h = items(&self.s["history"]);
        if h.is_empty() {
            b.push_str("<p class=\"muted\">No status changes yet.</p>\n");
            return;
        }
        b.push_str(&history_table(h, "Status history"));
    }

    fn steps(&self, b: &mut String) {
        let steps = items(&self.s["steps"]);
        if steps.is_empty() {
            return;
        }
        b.push_str(
            "<h2>Steps</h2>\n<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Steps passed\"><table><caption class=\"sr-only\">Steps passed</caption>\
             <thead><tr><th scope=\"col\">Step</th><th scope=\"col\" class=\"num\">Attempt</th><th scope=\"col\">Completed</th></tr></thead><tbody>\n",
        );
        for st in steps {
            let _ = writeln!(
                b,
                "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                esc(&text(&st["id"])),
                esc(&text(&st["attempt"])),
                esc(&ui::time_text(&text(&st["completedAt"]))),
            );
        }
        b.push_str("</tbody></table></div>\n");
    }

    fn errors(&self, b: &mut String) {
        let errors = items(&self.s["errors"]);
        if errors.is_empty() {
            return;
        }
        b.push_str(
            "<h2>Errors</h2>\n<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Errors of actions, transformers and templates\"><table><caption class=\"sr-only\">Errors of actions, transformers and templates</caption>\
             <thead><tr><th scope=\"col\">When</th><th scope=\"col\">Step</th><th scope=\"col\">Action</th><th scope=\"col\">Message</th></tr></thead><tbody>\n",
        );
        for e in errors {
            let _ = writeln!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&ui::time_text(&text(&e["at"]))),
                esc(&text(&e["step"])),
                esc(&text(&e["action"])),
                esc(&text(&e["message"])),
            );
        }
        b.push_str("</tbody></table></div>\n");
    }

    fn deliveries(&self, b: &mut String, reply: &Reply) {
        b.push_str("<h2>Webhook deliveries</h2>\n");
        let Some(list) = reply.json::<Value>() else {
            let (_, message) = reply.error();
            b.push_str(&ui::alert(&format!(
                "The deliveries could not be read: {message}"
            )));
            return;
        };
        let list = items(&list["items"]);
        if list.is_empty() {
            b.push_str("<p class=\"muted\">No webhook deliveries of this session's events.</p>\n");
            return;
        }
        b.push_str(
            "<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Webhook deliveries of this session&#39;s events\"><table><caption class=\"sr-only\">Webhook deliveries of this session's events</caption>\
             <thead><tr><th scope=\"col\">Event</th><th scope=\"col\">Endpoint</th><th scope=\"col\">State</th>\
             <th scope=\"col\" class=\"num\">Attempts</th><th scope=\"col\">Last answer</th><th scope=\"col\">Created</th></tr></thead><tbody>\n",
        );
        for d in list {
            let attempts = items(&d["attempts"]);
            let last = attempts
                .last()
                .map(|a| match (a["statusCode"].as_i64(), a["error"].as_str()) {
                    (Some(code), _) => format!("HTTP {code}"),
                    (None, Some(e)) => e.to_string(),
                    _ => String::new(),
                })
                .unwrap_or_default();
            let _ = writeln!(
                b,
                "<tr><td>{} <span class=\"muted\">#{}</span></td><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&text(&d["eventType"])),
                esc(&text(&d["sequence"])),
                esc(&text(&d["webhookId"])),
                esc(&text(&d["state"])),
                attempts.len(),
                esc(&last),
                esc(&ui::time_text(&text(&d["createdAt"]))),
            );
        }
        b.push_str("</tbody></table></div>\n");
    }

    /// Legal hold, export and delete, each only for who may.
    fn manage(&self, b: &mut String) {
        let id = self.id;
        b.push_str("<section class=\"card\" aria-labelledby=\"manage-h\">\n<h2 id=\"manage-h\">Keep, export or delete</h2>\n");
        let held = self.s["legalHold"].as_bool() == Some(true);
        if self.ctx.may("session_all_patch", Op::Write) {
            let (value, label, says) = if held {
                (
                    "off",
                    "Lift the legal hold",
                    "The session is under legal hold: it cannot be deleted, by hand or by retention.",
                )
            } else {
                (
                    "on",
                    "Put under legal hold",
                    "A legal hold keeps the session from deletion, by hand or by retention.",
                )
            };
            let _ = writeln!(
                b,
                "<form method=\"post\" action=\"{}/hold\">{}<input type=\"hidden\" name=\"hold\" value=\"{value}\">\
                 <p>{says}</p><div class=\"actions\"><button type=\"submit\" class=\"secondary\">{label}</button></div></form>",
                href(id),
                ui::form_fields(self.ctx),
            );
        }
        let _ = writeln!(
            b,
            "<p class=\"actions\"><a class=\"button secondary\" href=\"{}/export\" download>Export as zip</a></p>",
            href(id)
        );
        if self
            .ctx
            .may_any(&[("session", Op::Delete), ("session_all", Op::Delete)])
        {
            if held {
                b.push_str("<p class=\"muted\">Lift the legal hold to delete the session.</p>\n");
            } else {
                let _ = writeln!(
                    b,
                    "<form method=\"post\" action=\"{}/delete\" data-confirm=\"Delete this session and its files for good?\">{}\
                     <h3>Delete</h3>\
                     <div class=\"field\"><label for=\"confirm\">Type the session id to confirm</label>\
                     <input id=\"confirm\" name=\"confirm\" required autocomplete=\"off\" spellcheck=\"false\" aria-describedby=\"confirm-hint\">\
                     <p class=\"hint\" id=\"confirm-hint\">The id is <code>{}</code>. Deleting removes the session and its files; only a tombstone stays.</p></div>\
                     <div class=\"field\"><label for=\"reason\">Reason (optional)</label><input id=\"reason\" name=\"reason\" maxlength=\"500\"></div>\
                     <div class=\"actions\"><button type=\"submit\" class=\"danger\">Delete the session</button></div></form>",
                    href(id),
                    ui::form_fields(self.ctx),
                    esc(id),
                );
            }
        }
        b.push_str("</section>\n");
    }
}

/// The normalized blocks (Document, Liveness, Face match …) with their decision and rules.
fn checks_html(b: &mut String, id: &str, s: &Value) {
    let blocks = items(&s["normalized"]);
    if blocks.is_empty() {
        return;
    }
    b.push_str("<h2 id=\"checks-h\">Checks</h2>\n<div class=\"grid\">\n");
    for (i, block) in blocks.iter().enumerate() {
        let kind = match block["type"].as_str().unwrap_or_default() {
            "DOCUMENT" => "Document",
            "LIVENESS" => "Liveness",
            "FACE_MATCH" | "FACEMATCH" | "FACE" => "Face match",
            other => other,
        };
        let name = match block["name"].as_str() {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => text(&block["id"]),
        };
        let decision = block["decision"].as_str().unwrap_or("pending");
        let _ = write!(
            b,
            "<section class=\"card verdict\" aria-labelledby=\"check-{i}\">\n\
             <h3 id=\"check-{i}\">{} <span class=\"muted\">{}</span></h3>\n\
             <p>Decision: <span class=\"badge d-{}\">{}</span></p>\n",
            esc(&name),
            esc(kind),
            esc(decision),
            esc(decision),
        );
        let rules = items(&block["rules"]);
        if !rules.is_empty() {
            let _ = writeln!(
                b,
                "<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Rules of {0}\"><table><caption class=\"sr-only\">Rules of {0}</caption>\
                 <thead><tr><th scope=\"col\">Rule</th><th scope=\"col\">Expected</th>\
                 <th scope=\"col\">Result</th></tr></thead><tbody>",
                esc(&name)
            );
            for r in rules {
                let rname = match r["name"].as_str() {
                    Some(n) if !n.is_empty() => n.to_string(),
                    _ => text(&r["id"]),
                };
                let result = if r["result"].is_null() {
                    "<span class=\"muted\">not known yet</span>".to_string()
                } else if r["result"] == r["expected"] {
                    format!(
                        "{} <span class=\"ok\">(as expected)</span>",
                        esc(&text(&r["result"]))
                    )
                } else {
                    format!(
                        "{} <strong class=\"bad\">(differs)</strong>",
                        esc(&text(&r["result"]))
                    )
                };
                let _ = writeln!(
                    b,
                    "<tr><td>{}</td><td>{}</td><td>{result}</td></tr>",
                    esc(&rname),
                    esc(&text(&r["expected"]))
                );
            }
            b.push_str("</tbody></table></div>\n");
        }
        let results = &block["results"];
        if results.as_object().is_some_and(|m| !m.is_empty()) {
            b.push_str("<h4>Results</h4>\n");
            b.push_str(&value_html(id, items(&s["files"]), results));
        }
        if let Some(at) = block["updatedAt"].as_str() {
            let _ = writeln!(
                b,
                "<p class=\"muted\">Updated {}</p>",
                esc(&ui::time_text(at))
            );
        }
        b.push_str("</section>\n");
    }
    b.push_str("</div>\n");
}

/// A table of history entries.
fn history_table(entries: &[Value], caption: &str) -> String {
    let mut b = format!(
        "<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"{0}\"><table><caption class=\"sr-only\">{0}</caption>\
         <thead><tr><th scope=\"col\">When</th><th scope=\"col\">Who</th><th scope=\"col\">Change</th><th scope=\"col\">Comment</th></tr></thead><tbody>\n",
        esc(caption)
    );
    for e in entries {
        let _ = writeln!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&ui::time_text(&text(&e["at"]))),
            esc(&who(&e["by"])),
            esc(&change(e)),
            esc(&text(&e["comment"])),
        );
    }
    b.push_str("</tbody></table></div>\n");
    b
}

/// A byte count for people.
fn size(n: i64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    }
}

/// A JSON value as readable HTML: text as is, a file reference as a link to the file, objects
/// as nested definition lists, arrays of plain values joined, other arrays as lists.
fn value_html(session: &str, files: &[Value], v: &Value) -> String {
    match v {
        Value::Null => "<span class=\"muted\">none</span>".into(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => esc(s),
        Value::Object(m) => {
            if let Some(fid) = m.get("fileId").and_then(Value::as_str) {
                let name = files
                    .iter()
                    .find(|f| f["id"].as_str() == Some(fid))
                    .and_then(|f| f["name"].as_str())
                    .unwrap_or("file");
                return format!(
                    "<a href=\"{}\">{}</a>",
                    esc(&file_href(session, fid)),
                    esc(name)
                );
            }
            if m.is_empty() {
                return "<span class=\"muted\">empty</span>".into();
            }
            let mut b = String::from("<dl class=\"props nested\">");
            for (k, v) in m {
                let _ = write!(
                    b,
                    "<dt>{}</dt><dd>{}</dd>",
                    esc(k),
                    value_html(session, files, v)
                );
            }
            b.push_str("</dl>");
            b
        }
        Value::Array(a) => {
            if a.is_empty() {
                return "<span class=\"muted\">empty</span>".into();
            }
            if a.iter().all(|x| !x.is_object() && !x.is_array()) {
                return a
                    .iter()
                    .map(|x| value_html(session, files, x))
                    .collect::<Vec<_>>()
                    .join(", ");
            }
            let mut b = String::from("<ol class=\"nested\">");
            for x in a {
                let _ = write!(b, "<li>{}</li>", value_html(session, files, x));
            }
            b.push_str("</ol>");
            b
        }
    }
}

/// A body that is no form: the portal did not send it.
fn not_a_form(ctx: &Ctx) -> Response {
    ui::forbidden(ctx, "send this form from the portal's page")
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReviewForm {
    csrf: String,
    idem: String,
    /// The ETag of the revision the form was made from.
    etag: String,
    /// The status the session had then.
    from: String,
    /// How many history entries it had then.
    seen: String,
    /// approve, reject or set (the chosen `status`).
    action: String,
    status: String,
    comment: String,
}

/// `POST /portal/sessions/{id}/review`: `PATCH /api/sessions/{id}` with `If-Match`; 303 back
/// with a flash, or the page again saying what went wrong (nothing overwritten when someone
/// changed the session first).
pub async fn review(
    ctx: Ctx,
    Path(id): Path<String>,
    form: Result<Form<ReviewForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return not_a_form(&ctx);
    };
    if let Err(resp) = ctx.check(&f.csrf) {
        return resp;
    }
    let status = match f.action.as_str() {
        "approve" => Some(3),
        "reject" => Some(1000),
        _ => f
            .status
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|s| idv_core::status::is_known(*s)),
    };
    let Some(status) = status else {
        let note = ui::alert("Choose one of the statuses, then set it. Nothing was changed.");
        return show(&ctx, &id, StatusCode::BAD_REQUEST, &note, &f.comment).await;
    };
    let mut body = json!({ "status": status });
    let comment = f.comment.trim();
    if !comment.is_empty() {
        body["comment"] = json!(comment);
    }
    let mut headers = Ctx::idem(&f.idem);
    if !f.etag.is_empty() {
        headers.push((header::IF_MATCH, f.etag.clone()));
    }
    let reply = ctx
        .api
        .json(
            Method::PATCH,
            &format!("/api/sessions/{}", enc(&id)),
            &body,
            &headers,
        )
        .await;
    if reply.ok() {
        let done = format!("Status set to {}.", status_name(status));
        return ui::done(&ctx, &href(&id), &done);
    }
    if reply.status == StatusCode::PRECONDITION_FAILED {
        let note = conflict(&ctx, &id, &f).await;
        return show(&ctx, &id, StatusCode::CONFLICT, &note, &f.comment).await;
    }
    if reply.status == StatusCode::FORBIDDEN {
        return ui::forbidden(&ctx, "review this session");
    }
    let (_, message) = reply.error();
    let note = ui::alert(&format!("The review was not saved: {message}"));
    show(&ctx, &id, reply.status, &note, &f.comment).await
}

/// The alert of a review that lost to an earlier change: what changed since the form was made
/// (the status then and now, the history entries added since).
async fn conflict(ctx: &Ctx, id: &str, f: &ReviewForm) -> String {
    let mut b = String::from(
        "<div class=\"alert\" role=\"alert\"><p>Someone changed this session after you opened \
         it, so your review was not saved and nothing was overwritten. Check what changed, then \
         review again.</p>\n",
    );
    let now = ctx
        .api
        .get(&format!("/api/sessions/{}", enc(id)))
        .await
        .json::<Value>();
    if let Some(now) = now {
        let then = f.from.parse::<i64>().ok();
        let current = now["status"].as_i64();
        match (then, current) {
            (Some(t), Some(c)) if t != c => {
                let _ = writeln!(
                    b,
                    "<p>The status was <strong>{}</strong> when you opened the page; it is now <strong>{}</strong>.</p>",
                    esc(&status_name(t)),
                    esc(&status_name(c))
                );
            }
            (_, Some(c)) => {
                let _ = writeln!(
                    b,
                    "<p>The status is still <strong>{}</strong>.</p>",
                    esc(&status_name(c))
                );
            }
            _ => {}
        }
        let seen = f.seen.parse::<usize>().unwrap_or(0);
        let history = items(&now["history"]);
        if history.len() > seen {
            b.push_str("<p>Changes since:</p>\n");
            b.push_str(&history_table(
                &history[seen..],
                "Changes since you opened the page",
            ));
        }
    }
    if !f.comment.trim().is_empty() {
        b.push_str("<p>Your comment is still in the form below.</p>\n");
    }
    b.push_str("</div>\n");
    b
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct HoldForm {
    csrf: String,
    idem: String,
    /// `on` or `off`.
    hold: String,
}

/// `POST /portal/sessions/{id}/hold`: sets or lifts the legal hold.
pub async fn hold(
    ctx: Ctx,
    Path(id): Path<String>,
    form: Result<Form<HoldForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return not_a_form(&ctx);
    };
    if let Err(resp) = ctx.check(&f.csrf) {
        return resp;
    }
    let hold = match f.hold.as_str() {
        "on" => true,
        "off" => false,
        _ => {
            let note = ui::alert("Say whether to set or lift the legal hold. Nothing was changed.");
            return show(&ctx, &id, StatusCode::BAD_REQUEST, &note, "").await;
        }
    };
    let reply = ctx
        .api
        .json(
            Method::PATCH,
            &format!("/api/sessions/{}", enc(&id)),
            &json!({ "legalHold": hold }),
            &Ctx::idem(&f.idem),
        )
        .await;
    if reply.ok() {
        let done = if hold {
            "Legal hold set."
        } else {
            "Legal hold lifted."
        };
        return ui::done(&ctx, &href(&id), done);
    }
    if reply.status == StatusCode::FORBIDDEN {
        return ui::forbidden(&ctx, "change the legal hold");
    }
    let (_, message) = reply.error();
    let note = ui::alert(&format!("The legal hold was not changed: {message}"));
    show(&ctx, &id, reply.status, &note, "").await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DeleteForm {
    csrf: String,
    /// The session id typed again.
    confirm: String,
    reason: String,
}

/// `POST /portal/sessions/{id}/delete`: with the id typed again, `DELETE /api/sessions/{id}`;
/// 303 to the list with a flash.
pub async fn delete(
    ctx: Ctx,
    Path(id): Path<String>,
    form: Result<Form<DeleteForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return not_a_form(&ctx);
    };
    if let Err(resp) = ctx.check(&f.csrf) {
        return resp;
    }
    if f.confirm.trim() != id {
        let note = ui::alert(
            "To delete the session, type its id exactly in the confirmation field. Nothing was deleted.",
        );
        return show(&ctx, &id, StatusCode::BAD_REQUEST, &note, "").await;
    }
    let mut uri = format!("/api/sessions/{}", enc(&id));
    let reason = f.reason.trim();
    if !reason.is_empty() {
        let _ = write!(uri, "?reason={}", enc(reason));
    }
    let reply = ctx.api.delete(&uri, &[]).await;
    if reply.ok() {
        let done = format!("Session {id} deleted.");
        return ui::done(&ctx, LIST, &done);
    }
    if reply.status == StatusCode::FORBIDDEN {
        return ui::forbidden(&ctx, "delete this session");
    }
    let (_, message) = reply.error();
    let note = ui::alert(&format!("The session was not deleted: {message}"));
    show(&ctx, &id, reply.status, &note, "").await
}

/// Passes an API download through: its status and the headers that describe the bytes, the
/// body streamed; an error answer becomes the portal's error page.
async fn pass_through(ctx: &Ctx, uri: &str, req: &HeaderMap, what: &str) -> Response {
    let mut ask: Vec<(HeaderName, String)> = Vec::new();
    for name in [header::RANGE, header::IF_NONE_MATCH, header::IF_RANGE] {
        if let Some(v) = req.get(&name).and_then(|v| v.to_str().ok()) {
            ask.push((name, v.to_string()));
        }
    }
    let resp = ctx.api.raw(Method::GET, uri, &ask, None).await;
    let status = resp.status();
    if !(status.is_success() || status == StatusCode::NOT_MODIFIED) {
        let (parts, body) = resp.into_parts();
        let body = axum::body::to_bytes(body, 64 * 1024)
            .await
            .unwrap_or_default();
        let reply = Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        };
        return ui::failed(ctx, LIST, what, &reply);
    }
    let (parts, body) = resp.into_parts();
    let mut out = Response::new(Body::new(body));
    *out.status_mut() = status;
    let h = out.headers_mut();
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_RANGE,
        header::ACCEPT_RANGES,
        header::ETAG,
        header::CONTENT_DISPOSITION,
    ] {
        if let Some(v) = parts.headers.get(&name) {
            h.insert(name, v.clone());
        }
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Whatever the bytes are, they never run as a page of this origin.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    ctx.renew(&mut out);
    out.into_response()
}

/// `GET /portal/sessions/{id}/files/{file}`: the file's bytes through
/// `GET /api/sessions/{id}/files/{file}` (Range and If-None-Match passed on).
pub async fn file(
    ctx: Ctx,
    Path((id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(resp) = ctx.open(LIST) {
        return resp;
    }
    let uri = format!("/api/sessions/{}/files/{}", enc(&id), enc(&file));
    pass_through(&ctx, &uri, &headers, "Session file").await
}

/// `GET /portal/sessions/{id}/export`: the session as a zip, streamed from
/// `GET /api/sessions/{id}/export`.
pub async fn export(ctx: Ctx, Path(id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(resp) = ctx.open(LIST) {
        return resp;
    }
    let uri = format!("/api/sessions/{}/export", enc(&id));
    pass_through(&ctx, &uri, &headers, "Session export").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_text_and_escape() {
        assert_eq!(value_html("s", &[], &json!("<b>")), "&lt;b&gt;");
        assert_eq!(value_html("s", &[], &json!(true)), "yes");
        assert_eq!(value_html("s", &[], &json!([1, "a"])), "1, a");
        assert_eq!(
            value_html("s", &[], &json!({"fileId": "f1", "url": "x"})),
            "<a href=\"/portal/sessions/s/files/f1\">file</a>"
        );
        assert_eq!(
            value_html("s", &[], &json!({"a": {"b": null}})),
            "<dl class=\"props nested\"><dt>a</dt><dd><dl class=\"props nested\"><dt>b</dt>\
             <dd><span class=\"muted\">none</span></dd></dl></dd></dl>"
        );
        assert_eq!(
            value_html("s", &[], &json!([{"x": 1}])),
            "<ol class=\"nested\"><li><dl class=\"props nested\"><dt>x</dt><dd>1</dd></dl></li></ol>"
        );
    }

    #[test]
    fn check_blocks_show_what_the_session_has() {
        let mut b = String::new();
        checks_html(&mut b, "s", &json!({"normalized": []}));
        assert_eq!(b, "", "no blocks, no section");
        let s = json!({
            "files": [{"id": "f9", "name": "portrait.jpg"}],
            "normalized": [
                {"id": "liveness", "name": "Liveness check", "type": "LIVENESS",
                 "decision": "failed",
                 "rules": [{"id": "live", "name": "A live person", "expected": true, "result": false}],
                 "results": {"portrait": {"fileId": "f9"}}},
                {"id": "match", "name": "", "type": "FACE_MATCH", "decision": "pending",
                 "rules": [{"id": "similar", "name": null, "expected": true, "result": null}],
                 "results": null}
            ]
        });
        checks_html(&mut b, "s", &s);
        assert!(
            b.contains("Liveness check <span class=\"muted\">Liveness</span>"),
            "{b}"
        );
        assert!(b.contains("<span class=\"badge d-failed\">failed</span>"));
        assert!(
            b.contains("A live person") && b.contains("<strong class=\"bad\">(differs)</strong>")
        );
        assert!(b.contains("<a href=\"/portal/sessions/s/files/f9\">portrait.jpg</a>"));
        assert!(
            b.contains("match <span class=\"muted\">Face match</span>"),
            "{b}"
        );
        assert!(b.contains("<td>similar</td>") && b.contains("not known yet"));
        assert_eq!(
            b.matches("<h4>Results</h4>").count(),
            1,
            "no results, no heading"
        );
        assert!(
            !b.contains("Document"),
            "a block the session lacks is absent"
        );
    }

    #[test]
    fn history_entries_say_what_changed() {
        assert_eq!(
            change(&json!({"from": 0, "to": 3})),
            "not completed → approved"
        );
        assert_eq!(change(&json!({"legalHold": true})), "Legal hold set");
        assert_eq!(
            change(&json!({"from": 0, "to": 2, "step": "CHECK"})),
            "not completed → verified (at step CHECK)"
        );
        assert_eq!(who(&json!({"kind": "workflow"})), "the workflow");
        assert_eq!(who(&json!({"name": "ann", "kind": "user"})), "ann (user)");
        assert_eq!(size(2048), "2.0 KiB");
    }
}
