//! The portal's platform settings: workflows (list, one workflow's definition, upload with
//! every problem shown at its line, reload from the folder, delete), their translations and
//! assets, and webhook endpoints (create, the secret shown once, rotate, test, delete, the
//! delivery log with retry and replay). Every read and write is a call of the JSON API.

use super::Ctx;
use super::call::{Reply, enc};
use super::ui::{self, esc};
use axum::Form;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, RawForm};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use idv_core::permission::Op;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

const WORKFLOWS: &str = "/portal/settings/workflows";
const TRANSLATIONS: &str = "/portal/settings/translations";
const ASSETS: &str = "/portal/settings/assets";
const WEBHOOKS: &str = "/portal/settings/webhooks";

/// The fields of a form that only confirms an action.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Plain {
    csrf: String,
    idem: String,
}

/// `?done=` after a form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Done {
    done: String,
}

fn flash_of(q: &Done) -> String {
    if q.done.is_empty() {
        String::new()
    } else {
        ui::flash(&q.done)
    }
}

use ui::done;

fn workflow_write(ctx: &Ctx) -> bool {
    ctx.may_any(&[("workflow", Op::Write), ("workflow_all", Op::Write)])
}

fn workflow_delete(ctx: &Ctx) -> bool {
    ctx.may_any(&[("workflow", Op::Delete), ("workflow_all", Op::Delete)])
}

fn text_of(v: &Value, key: &str) -> String {
    v.get(key).map(ui::cell).unwrap_or_default()
}

/// One part of a multipart form.
struct Part {
    file_name: Option<String>,
    content_type: Option<String>,
    bytes: Bytes,
}

/// Every part of a multipart form by its name (the last one of a name wins).
async fn parts(mut mp: Multipart) -> Result<BTreeMap<String, Part>, String> {
    let mut out = BTreeMap::new();
    loop {
        match mp.next_field().await {
            Ok(Some(f)) => {
                let name = f.name().unwrap_or_default().to_string();
                let file_name = f.file_name().map(str::to_string);
                let content_type = f.content_type().map(str::to_string);
                let bytes = f.bytes().await.map_err(|e| e.body_text())?;
                out.insert(
                    name,
                    Part {
                        file_name,
                        content_type,
                        bytes,
                    },
                );
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(e.body_text()),
        }
    }
}

fn field(parts: &BTreeMap<String, Part>, name: &str) -> String {
    parts
        .get(name)
        .map(|p| String::from_utf8_lossy(&p.bytes).into_owned())
        .unwrap_or_default()
}

/// The chosen file's bytes, else the pasted text: `(text, where it came from)`.
fn document(parts: &BTreeMap<String, Part>) -> Option<(Bytes, String)> {
    if let Some(p) = parts.get("file").filter(|p| !p.bytes.is_empty()) {
        let name = p.file_name.clone().unwrap_or_else(|| "the file".into());
        return Some((p.bytes.clone(), name));
    }
    let pasted = field(parts, "text");
    (!pasted.trim().is_empty()).then(|| (Bytes::from(pasted), "the pasted text".to_string()))
}

/// The CSRF check of a multipart form, then its parts.
async fn checked_parts(ctx: &Ctx, mp: Multipart) -> Result<BTreeMap<String, Part>, Response> {
    let parts = parts(mp).await.map_err(|e| {
        ui::page_with(
            ctx,
            StatusCode::BAD_REQUEST,
            WORKFLOWS,
            "The form could not be read",
            &ui::alert(&format!("The upload could not be read: {e}")),
        )
    })?;
    ctx.check(&field(&parts, "csrf"))?;
    Ok(parts)
}

// ---- Workflows ------------------------------------------------------------------------------

/// The upload form (a file or pasted text); `text` refills the text area.
fn upload_form(ctx: &Ctx, action: &str, what: &str, button: &str, text: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{action}\" enctype=\"multipart/form-data\" class=\"card\">{fields}\n\
         <div class=\"field\"><label for=\"file\">{what} file</label>\
         <input id=\"file\" name=\"file\" type=\"file\" accept=\".yaml,.yml,.json,application/yaml,application/json,text/yaml\" aria-describedby=\"file-hint\">\
         <p class=\"hint\" id=\"file-hint\">YAML or JSON. Or paste the text below instead.</p></div>\n\
         <div class=\"field\"><label for=\"text\">Or paste it</label>\
         <textarea id=\"text\" name=\"text\" rows=\"6\" spellcheck=\"false\">{text}</textarea></div>\n\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">{button}</button></div>\n</form>\n",
        fields = ui::form_fields(ctx),
        text = esc(text),
    )
}

/// Links to the pages beside the workflows the user may open, `current` marked.
fn workflow_tabs(ctx: &Ctx, current: &str) -> String {
    let mut links = Vec::new();
    for (href, label, shown) in [
        (WORKFLOWS, "Workflows", true),
        (
            TRANSLATIONS,
            "Translations",
            ctx.may("translations", Op::Read),
        ),
        (ASSETS, "Assets", ctx.may("assets", Op::Read)),
    ] {
        if shown {
            let here = if href == current {
                " aria-current=\"page\""
            } else {
                ""
            };
            links.push(format!("<li><a href=\"{href}\"{here}>{label}</a></li>"));
        }
    }
    format!(
        "<nav aria-label=\"Workflow settings\"><ul class=\"counts tabs\">{}</ul></nav>\n",
        links.join("")
    )
}

/// `GET /portal/settings/workflows`.
pub async fn workflows(ctx: Ctx, Query(q): Query<Done>) -> Response {
    if let Err(r) = ctx.open(WORKFLOWS) {
        return r;
    }
    let reply = ctx.api.get("/api/workflows").await;
    let Some(list) = reply.json::<Vec<Value>>() else {
        return ui::failed(&ctx, WORKFLOWS, "Workflows", &reply);
    };
    workflows_page(&ctx, StatusCode::OK, &flash_of(&q), &list, "")
}

fn workflows_page(
    ctx: &Ctx,
    status: StatusCode,
    top: &str,
    list: &[Value],
    text: &str,
) -> Response {
    let mut body = String::from(top);
    body.push_str(&workflow_tabs(ctx, WORKFLOWS));
    if list.is_empty() {
        body.push_str("<p>No workflows are loaded yet.</p>\n");
    } else {
        body.push_str("<ul class=\"rows\" aria-label=\"Loaded workflows\">");
        for w in list {
            let id = text_of(w, "id");
            let version = text_of(w, "version");
            let version = if version.is_empty() {
                String::new()
            } else {
                format!(" <span class=\"muted\">version {}</span>", esc(&version))
            };
            let _ = write!(
                body,
                "<li class=\"card\" data-id=\"{}\"><a class=\"title\" href=\"{WORKFLOWS}/{}\">{}</a>{version}\
                 <p>{}</p><code class=\"muted\">{}</code></li>",
                esc(&id),
                enc(&id),
                esc(&text_of(w, "name")),
                esc(&text_of(w, "description")),
                esc(&id)
            );
        }
        body.push_str("</ul>\n");
    }
    if ctx.may("workflow_reload", Op::Write) {
        let _ = writeln!(
            body,
            "<form method=\"post\" action=\"{WORKFLOWS}/reload\">{}\
             <div class=\"actions\"><button type=\"submit\" class=\"secondary\">Reload from folder</button>\
             <span class=\"muted\">Loads the workflows and localization folders again now.</span></div></form>",
            ui::form_fields(ctx)
        );
    }
    if workflow_write(ctx) {
        body.push_str("<h2>Load a workflow</h2>\n");
        body.push_str(&upload_form(
            ctx,
            WORKFLOWS,
            "Workflow",
            "Load workflow",
            text,
        ));
    }
    ui::page_with(ctx, status, WORKFLOWS, "Workflows", &body)
}

/// The problems of a refused document, each with its line linked, and the text with line
/// numbers and the lines with problems marked.
fn problems_html(reply: &Reply, text: &str, source: &str) -> String {
    let v = reply.error_body();
    let (_, message) = reply.error();
    let problems: Vec<Value> = v
        .get("details")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = if problems.is_empty() {
        ui::alert(&format!("{source} was not loaded: {message}"))
    } else {
        ui::alert(&format!(
            "{source} was not loaded. Fix the problems below, then load it again."
        ))
    };
    let mut bad = BTreeSet::new();
    if !problems.is_empty() {
        let _ = write!(
            out,
            "<h2>{} {}</h2>\n<ol class=\"problems\">",
            problems.len(),
            if problems.len() == 1 {
                "problem"
            } else {
                "problems"
            }
        );
        for p in &problems {
            let line = p.get("line").and_then(Value::as_u64);
            let path = text_of(p, "path");
            let msg = text_of(p, "message");
            out.push_str("<li>");
            if let Some(l) = line {
                bad.insert(l);
                let _ = write!(out, "<a href=\"#L{l}\">line {l}</a>");
            } else {
                out.push_str("no line");
            }
            if !path.is_empty() {
                let _ = write!(out, " <code>{}</code>", esc(&path));
            }
            let _ = write!(out, ": {}</li>", esc(&msg));
        }
        out.push_str("</ol>\n");
    }
    if !text.is_empty() {
        out.push_str(
            "<h2>The uploaded text</h2>\n<pre class=\"yaml\" tabindex=\"0\" aria-label=\"The uploaded text with line numbers\"><code>",
        );
        for (i, l) in text.lines().enumerate() {
            let n = i as u64 + 1;
            let class = if bad.contains(&n) { "ln bad" } else { "ln" };
            let _ = write!(out, "<span class=\"{class}\" id=\"L{n}\">{}</span>", esc(l));
        }
        out.push_str("</code></pre>\n");
    }
    out
}

/// `POST /portal/settings/workflows` (multipart: `file` or `text`): the document to
/// `POST /api/workflows` as YAML; 303 to the list, or the problems at their lines.
pub async fn upload_workflow(ctx: Ctx, mp: Multipart) -> Response {
    if let Err(r) = ctx.open(WORKFLOWS) {
        return r;
    }
    let parts = match checked_parts(&ctx, mp).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let list = ctx
        .api
        .get("/api/workflows")
        .await
        .json::<Vec<Value>>()
        .unwrap_or_default();
    let Some((bytes, source)) = document(&parts) else {
        return workflows_page(
            &ctx,
            StatusCode::BAD_REQUEST,
            &ui::alert("Choose a workflow file or paste its text, then load it."),
            &list,
            "",
        );
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let reply = ctx
        .api
        .send(
            Method::POST,
            "/api/workflows",
            &Ctx::idem(&field(&parts, "idem")),
            Some(("application/yaml", bytes)),
        )
        .await;
    if let Some(w) = reply.json::<Value>() {
        let changed = w.get("changed").and_then(Value::as_bool).unwrap_or(true);
        let msg = format!(
            "Workflow {} loaded{} (revision {}).",
            text_of(&w, "name"),
            if changed { "" } else { ", unchanged" },
            text_of(&w, "revision")
        );
        return done(&ctx, WORKFLOWS, &msg);
    }
    if reply.status == StatusCode::FORBIDDEN {
        return ui::forbidden(&ctx, "load workflows");
    }
    let top = problems_html(&reply, &text, &format!("The workflow in {source}"));
    workflows_page(&ctx, reply.status, &top, &list, &text)
}

/// `POST /portal/settings/workflows/reload`: the folders again, and what that did.
pub async fn reload(ctx: Ctx, Form(f): Form<Plain>) -> Response {
    if let Err(r) = ctx.check(&f.csrf) {
        return r;
    }
    let reply = ctx
        .api
        .send(
            Method::POST,
            "/api/workflows/reload",
            &Ctx::idem(&f.idem),
            None,
        )
        .await;
    let Some(v) = reply.json::<Value>() else {
        return ui::failed(&ctx, WORKFLOWS, "Reload from folder", &reply);
    };
    let list = |k: &str| {
        v.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (wfs, trs, problems) = (list("workflows"), list("translations"), list("problems"));
    let mut body = String::new();
    body.push_str(&ui::flash(&format!(
        "Reloaded: {} workflow files, {} localization files, {} refused.",
        wfs.len(),
        trs.len(),
        problems.len()
    )));
    if !problems.is_empty() {
        body.push_str("<h2>Files refused</h2>\n<p>Each keeps its last good revision.</p>\n");
        for p in &problems {
            let _ = write!(
                body,
                "<h3><code>{}</code></h3><ul class=\"problems\">",
                esc(&text_of(p, "file"))
            );
            for q in p
                .get("problems")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let line = q
                    .get("line")
                    .and_then(Value::as_u64)
                    .map(|l| format!("line {l}: "))
                    .unwrap_or_default();
                let path = text_of(q, "path");
                let path = if path.is_empty() {
                    String::new()
                } else {
                    format!("<code>{}</code> ", esc(&path))
                };
                let _ = write!(body, "<li>{line}{path}{}</li>", esc(&text_of(q, "message")));
            }
            body.push_str("</ul>\n");
        }
    }
    if !wfs.is_empty() {
        body.push_str(
            "<h2>Workflow files</h2><div class=\"table-wrap\"><table><thead><tr>\
             <th scope=\"col\">File</th><th scope=\"col\">Workflow</th><th scope=\"col\" class=\"num\">Revision</th>\
             <th scope=\"col\">Changed</th></tr></thead><tbody>",
        );
        for w in &wfs {
            let id = text_of(w, "id");
            let changed = w.get("changed").and_then(Value::as_bool) == Some(true);
            let _ = write!(
                body,
                "<tr><td><code>{}</code></td><td><a href=\"{WORKFLOWS}/{}\">{}</a></td><td class=\"num\">{}</td><td>{}</td></tr>",
                esc(&text_of(w, "file")),
                enc(&id),
                esc(&id),
                esc(&text_of(w, "revision")),
                if changed { "yes: a new revision" } else { "no" }
            );
        }
        body.push_str("</tbody></table></div>\n");
    }
    if !trs.is_empty() {
        body.push_str(
            "<h2>Localization files</h2><div class=\"table-wrap\"><table><thead><tr>\
             <th scope=\"col\">File</th><th scope=\"col\" class=\"num\">Entries</th></tr></thead><tbody>",
        );
        for t in &trs {
            let _ = write!(
                body,
                "<tr><td><code>{}</code></td><td class=\"num\">{}</td></tr>",
                esc(&text_of(t, "file")),
                esc(&text_of(t, "entries"))
            );
        }
        body.push_str("</tbody></table></div>\n");
    }
    let _ = writeln!(
        body,
        "<p><a href=\"{WORKFLOWS}\">Back to the workflows</a></p>"
    );
    ui::page(&ctx, WORKFLOWS, "Reload from folder", &body)
}

/// The revision a workflow's page shows (`?revision=`; the current one when absent).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RevisionQuery {
    revision: String,
}

/// `GET /portal/settings/workflows/{id}`: its summary and definition, of the current revision
/// or of `?revision=`, with links to every revision.
pub async fn workflow(
    ctx: Ctx,
    Path(id): Path<String>,
    Query(rq): Query<RevisionQuery>,
) -> Response {
    if let Err(r) = ctx.open(WORKFLOWS) {
        return r;
    }
    let current = ctx.api.get(&format!("/api/workflows/{}", enc(&id))).await;
    let Some(cur) = current.json::<Value>() else {
        return ui::failed(&ctx, WORKFLOWS, "Workflow", &current);
    };
    let latest = cur["revision"].as_i64().unwrap_or(1);
    let w = if rq.revision.is_empty() {
        cur
    } else {
        let reply = ctx
            .api
            .get(&format!(
                "/api/workflows/{}/revisions/{}",
                enc(&id),
                enc(&rq.revision)
            ))
            .await;
        match reply.json::<Value>() {
            Some(w) => w,
            None => return ui::failed(&ctx, WORKFLOWS, "Workflow", &reply),
        }
    };
    let shown = w["revision"].as_i64().unwrap_or(latest);
    let name = text_of(&w, "name");
    let mut body = String::new();
    body.push_str("<dl class=\"props card\">");
    for (label, key) in [
        ("ID", "id"),
        ("Version", "version"),
        ("Description", "description"),
        ("Default locale", "defaultLocale"),
        ("Revision", "revision"),
    ] {
        let _ = write!(body, "<dt>{label}</dt><dd>{}</dd>", esc(&text_of(&w, key)));
    }
    let _ = write!(
        body,
        "<dt>Loaded</dt><dd>{}</dd></dl>\n\
         <p class=\"muted\">Each upload is a new revision; sessions already running finish on \
         the revision they started with.</p>\n",
        esc(&ui::time_text(&text_of(&w, "createdAt")))
    );
    // Every revision, newest first (the last 50).
    body.push_str("<h2>Revisions</h2>\n<ul class=\"counts\" aria-label=\"Revisions\">");
    for r in (1.max(latest - 49)..=latest).rev() {
        let label = if r == latest {
            format!("{r} (current)")
        } else {
            r.to_string()
        };
        let here = if r == shown {
            " aria-current=\"true\""
        } else {
            ""
        };
        let _ = write!(
            body,
            "<li><a href=\"{WORKFLOWS}/{}?revision={r}\"{here}>Revision {label}</a></li>",
            enc(&id)
        );
    }
    body.push_str("</ul>\n");
    let definition = w.get("definition").cloned().unwrap_or(Value::Null);
    let pretty = serde_json::to_string_pretty(&definition).unwrap_or_default();
    let _ = write!(
        body,
        "<h2>Definition</h2>\n<details class=\"definition\"><summary>Show the definition (JSON)</summary>\
         <pre tabindex=\"0\" aria-label=\"The definition as JSON\"><code>{}</code></pre></details>\n",
        esc(&pretty)
    );
    if workflow_delete(&ctx) {
        let _ = writeln!(
            body,
            "<form method=\"post\" action=\"{WORKFLOWS}/{}/delete\" data-confirm=\"Delete the workflow {}? Running sessions finish on their revision; no new ones can start.\">{}\
             <div class=\"actions\"><button type=\"submit\" class=\"danger\">Delete workflow</button></div></form>",
            enc(&id),
            esc(&name),
            ui::form_fields(&ctx)
        );
    }
    let _ = writeln!(body, "<p><a href=\"{WORKFLOWS}\">All workflows</a></p>");
    ui::page(&ctx, WORKFLOWS, &format!("Workflow {name}"), &body)
}

/// `POST /portal/settings/workflows/{id}/delete`.
pub async fn delete_workflow(ctx: Ctx, Path(id): Path<String>, Form(f): Form<Plain>) -> Response {
    if let Err(r) = ctx.check(&f.csrf) {
        return r;
    }
    let reply = ctx
        .api
        .delete(&format!("/api/workflows/{}", enc(&id)), &Ctx::idem(&f.idem))
        .await;
    if !reply.ok() {
        return ui::failed(&ctx, WORKFLOWS, "Delete workflow", &reply);
    }
    done(&ctx, WORKFLOWS, &format!("Workflow {id} deleted."))
}

// ---- Translations ---------------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LocaleQuery {
    locale: String,
    done: String,
}

/// `GET /portal/settings/translations?locale=`: the locales, and one locale's entries.
pub async fn translations(ctx: Ctx, Query(q): Query<LocaleQuery>) -> Response {
    if let Err(r) = ctx.open(WORKFLOWS) {
        return r;
    }
    if !ctx.may("translations", Op::Read) {
        return ui::forbidden(&ctx, "read translations");
    }
    let top = flash_of(&Done { done: q.done });
    translations_page(&ctx, StatusCode::OK, &top, &q.locale, "").await
}

async fn translations_page(
    ctx: &Ctx,
    status: StatusCode,
    top: &str,
    locale: &str,
    text: &str,
) -> Response {
    let reply = ctx.api.get("/api/translations").await;
    let Some(all) = reply.json::<Vec<Value>>() else {
        return ui::failed(ctx, WORKFLOWS, "Translations", &reply);
    };
    let mut by_locale: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for t in &all {
        by_locale.entry(text_of(t, "code")).or_default().push(t);
    }
    let current = if by_locale.contains_key(locale) {
        locale.to_string()
    } else {
        by_locale.keys().next().cloned().unwrap_or_default()
    };
    let mut body = String::from(top);
    body.push_str(&workflow_tabs(ctx, TRANSLATIONS));
    if by_locale.is_empty() {
        body.push_str("<p>No translations are loaded yet.</p>\n");
    } else {
        body.push_str("<nav aria-label=\"Locales\"><ul class=\"counts\">");
        for (code, entries) in &by_locale {
            let here = if *code == current {
                " aria-current=\"true\""
            } else {
                ""
            };
            let _ = write!(
                body,
                "<li><a href=\"{TRANSLATIONS}?locale={}\"{here}>{} ({})</a></li>",
                enc(code),
                esc(code),
                entries.len()
            );
        }
        body.push_str("</ul></nav>\n");
        let _ = write!(
            body,
            "<div class=\"table-wrap\"><table><caption class=\"muted\">Texts of {}</caption>\
             <thead><tr><th scope=\"col\">Key</th><th scope=\"col\">Text</th></tr></thead><tbody>",
            esc(&current)
        );
        for t in by_locale.get(&current).into_iter().flatten() {
            let _ = write!(
                body,
                "<tr><td><code>{}</code></td><td>{}</td></tr>",
                esc(&text_of(t, "key")),
                esc(&text_of(t, "value"))
            );
        }
        body.push_str("</tbody></table></div>\n");
    }
    if ctx.may("translations", Op::Write) {
        body.push_str(
            "<h2>Load a localization file</h2>\n<p class=\"muted\">A list of entries, each with \
             <code>key</code>, <code>code</code> (the locale) and <code>value</code>.</p>\n",
        );
        body.push_str(&upload_form(
            ctx,
            TRANSLATIONS,
            "Localization",
            "Load translations",
            text,
        ));
    }
    ui::page_with(ctx, status, WORKFLOWS, "Translations", &body)
}

/// `POST /portal/settings/translations` (multipart: `file` or `text`).
pub async fn upload_translations(ctx: Ctx, mp: Multipart) -> Response {
    let parts = match checked_parts(&ctx, mp).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some((bytes, source)) = document(&parts) else {
        let top = ui::alert("Choose a localization file or paste its text, then load it.");
        return translations_page(&ctx, StatusCode::BAD_REQUEST, &top, "", "").await;
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let reply = ctx
        .api
        .send(
            Method::POST,
            "/api/translations",
            &Ctx::idem(&field(&parts, "idem")),
            Some(("application/yaml", bytes)),
        )
        .await;
    if let Some(v) = reply.json::<Value>() {
        let locales: Vec<String> = v
            .get("locales")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(ui::cell)
            .collect();
        let msg = format!(
            "Loaded {} entries of {}.",
            text_of(&v, "entries"),
            locales.join(", ")
        );
        return done(&ctx, TRANSLATIONS, &msg);
    }
    if reply.status == StatusCode::FORBIDDEN {
        return ui::forbidden(&ctx, "load translations");
    }
    let top = problems_html(&reply, &text, &format!("The localization file in {source}"));
    translations_page(&ctx, reply.status, &top, "", &text).await
}

// ---- Assets ---------------------------------------------------------------------------------

/// `GET /portal/settings/assets`.
pub async fn assets(ctx: Ctx, Query(q): Query<Done>) -> Response {
    if let Err(r) = ctx.open(WORKFLOWS) {
        return r;
    }
    if !ctx.may("assets", Op::Read) {
        return ui::forbidden(&ctx, "read assets");
    }
    assets_page(&ctx, StatusCode::OK, &flash_of(&q)).await
}

fn size_text(bytes: i64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / 1024.0 / 1024.0)
    }
}

async fn assets_page(ctx: &Ctx, status: StatusCode, top: &str) -> Response {
    let reply = ctx.api.get("/api/v1/assets").await;
    let Some(list) = reply.json::<Vec<Value>>() else {
        return ui::failed(ctx, WORKFLOWS, "Assets", &reply);
    };
    let mut body = String::from(top);
    body.push_str(&workflow_tabs(ctx, ASSETS));
    body.push_str(
        "<p class=\"muted\">Images and other files the workflows show. They are public: \
         never store secrets as assets.</p>\n",
    );
    if list.is_empty() {
        body.push_str("<p>No assets are stored yet.</p>\n");
    } else {
        body.push_str("<ul class=\"rows\" aria-label=\"Stored assets\">");
        let delete = ctx.may("assets", Op::Delete);
        for a in &list {
            let id = text_of(a, "id");
            let action = if delete {
                format!(
                    "<form method=\"post\" action=\"{ASSETS}/{}/delete\" data-confirm=\"Delete the asset {}?\">{}\
                     <button type=\"submit\" class=\"danger\">Delete<span class=\"sr-only\"> {}</span></button></form>",
                    enc(&id),
                    esc(&id),
                    ui::form_fields(ctx),
                    esc(&id)
                )
            } else {
                String::new()
            };
            let _ = write!(
                body,
                "<li class=\"card\"><a class=\"title\" href=\"/api/v1/assets/{}/content\">{}</a>\
                 <p class=\"muted\">{} · {} · updated {}</p>{action}</li>",
                enc(&id),
                esc(&id),
                esc(&text_of(a, "contentType")),
                size_text(a.get("size").and_then(Value::as_i64).unwrap_or(0)),
                esc(&ui::time_text(&text_of(a, "updatedAt"))),
            );
        }
        body.push_str("</ul>\n");
    }
    if ctx.may("assets", Op::Write) {
        let _ = write!(
            body,
            "<h2>Store an asset</h2>\n<form method=\"post\" action=\"{ASSETS}\" enctype=\"multipart/form-data\" class=\"card\">{}\n\
             <div class=\"field\"><label for=\"file\">File</label><input id=\"file\" name=\"file\" type=\"file\" required></div>\n\
             <div class=\"field\"><label for=\"asset-id\">ID</label><input id=\"asset-id\" name=\"id\" pattern=\"[A-Za-z0-9_.\\-]{{1,128}}\" aria-describedby=\"asset-id-hint\">\
             <p class=\"hint\" id=\"asset-id-hint\">1 to 128 letters, digits, <code>_ . -</code>. Leave empty to use the file's name. An asset with the same ID is replaced.</p></div>\n\
             <div class=\"actions\"><button type=\"submit\" class=\"primary\">Store asset</button></div>\n</form>\n",
            ui::form_fields(ctx)
        );
    }
    ui::page_with(ctx, status, WORKFLOWS, "Assets", &body)
}

/// `POST /portal/settings/assets` (multipart: `file`, optional `id`): `PUT /api/v1/assets/{id}`
/// with the file's type.
pub async fn upload_asset(ctx: Ctx, mp: Multipart) -> Response {
    let parts = match checked_parts(&ctx, mp).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(file) = parts.get("file").filter(|p| !p.bytes.is_empty()) else {
        let top = ui::alert("Choose a file to store.");
        return assets_page(&ctx, StatusCode::BAD_REQUEST, &top).await;
    };
    let typed = field(&parts, "id");
    let id = if typed.trim().is_empty() {
        file.file_name.clone().unwrap_or_default()
    } else {
        typed.trim().to_string()
    };
    if id.is_empty() {
        let top = ui::alert("Give the asset an ID.");
        return assets_page(&ctx, StatusCode::BAD_REQUEST, &top).await;
    }
    let content_type = file
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    let reply = ctx
        .api
        .send(
            Method::PUT,
            &format!("/api/v1/assets/{}", enc(&id)),
            &Ctx::idem(&field(&parts, "idem")),
            Some((&content_type, file.bytes.clone())),
        )
        .await;
    if reply.ok() {
        return done(&ctx, ASSETS, &format!("Asset {id} stored."));
    }
    if reply.status == StatusCode::FORBIDDEN {
        return ui::forbidden(&ctx, "store assets");
    }
    let (_, message) = reply.error();
    let top = ui::alert(&format!("The asset {id} was not stored: {message}"));
    assets_page(&ctx, reply.status, &top).await
}

/// `POST /portal/settings/assets/{id}/delete`.
pub async fn delete_asset(ctx: Ctx, Path(id): Path<String>, Form(f): Form<Plain>) -> Response {
    if let Err(r) = ctx.check(&f.csrf) {
        return r;
    }
    let reply = ctx
        .api
        .delete(&format!("/api/v1/assets/{}", enc(&id)), &Ctx::idem(&f.idem))
        .await;
    if !reply.ok() {
        return ui::failed(&ctx, WORKFLOWS, "Delete asset", &reply);
    }
    done(&ctx, ASSETS, &format!("Asset {id} deleted."))
}

// ---- Webhooks -------------------------------------------------------------------------------

fn event_label(e: &str) -> &str {
    match e {
        "*" => "every event",
        "session.created" => "session created",
        "session.step_completed" => "step completed",
        "session.status_changed" => "status changed",
        "session.completed" => "session completed",
        "session.expired" => "session expired",
        "session.deleted" => "session deleted",
        "webhook.test" => "test event",
        other => other,
    }
}

fn state_of(w: &Value) -> String {
    let enabled = w.get("enabled").and_then(Value::as_bool) == Some(true);
    let reason = text_of(w, "disabledReason");
    if enabled {
        let failing = text_of(w, "failingSince");
        if failing.is_empty() {
            "<span class=\"badge s3\">enabled</span>".into()
        } else {
            format!(
                "<span class=\"badge s4\">failing</span> <span class=\"muted\">since {}</span>",
                esc(&ui::time_text(&failing))
            )
        }
    } else if reason.is_empty() {
        "<span class=\"badge s0\">disabled</span>".into()
    } else {
        format!(
            "<span class=\"badge s1000\">disabled</span> {}",
            esc(&reason)
        )
    }
}

fn events_text(w: &Value) -> String {
    w.get("events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| format!("<code>{}</code>", esc(&ui::cell(e))))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `GET /portal/settings/webhooks`.
pub async fn webhooks(ctx: Ctx, Query(q): Query<Done>) -> Response {
    if let Err(r) = ctx.open(WEBHOOKS) {
        return r;
    }
    webhooks_page(&ctx, StatusCode::OK, &flash_of(&q), &json!({})).await
}

async fn webhooks_page(ctx: &Ctx, status: StatusCode, top: &str, form: &Value) -> Response {
    let reply = ctx.api.get("/api/webhooks").await;
    let Some(v) = reply.json::<Value>() else {
        return ui::failed(ctx, WEBHOOKS, "Webhooks", &reply);
    };
    let items = v
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut body = String::from(top);
    if items.is_empty() {
        body.push_str("<p>No webhook endpoints yet.</p>\n");
    } else {
        body.push_str("<ul class=\"rows\" aria-label=\"Endpoints\">");
        for w in &items {
            let _ = write!(
                body,
                "<li class=\"card\"><a class=\"title\" href=\"{WEBHOOKS}/{}\">{}</a><p>{}</p>\
                 <p>{}</p><p>{}</p></li>",
                enc(&text_of(w, "id")),
                esc(&text_of(w, "url")),
                esc(&text_of(w, "description")),
                events_text(w),
                state_of(w)
            );
        }
        body.push_str("</ul>\n");
    }
    if ctx.may("webhook", Op::Write) {
        let chosen: BTreeSet<String> = form
            .get("events")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(ui::cell)
            .collect();
        let mut boxes = String::new();
        for e in std::iter::once("*").chain(crate::events::ALL) {
            let id = format!("ev-{}", e.replace(['.', '*', '_'], "-"));
            let checked = if chosen.contains(e) { " checked" } else { "" };
            let _ = write!(
                boxes,
                "<label class=\"check\" for=\"{id}\"><input type=\"checkbox\" id=\"{id}\" name=\"events\" value=\"{e}\"{checked}>\
                 <span>{} <code>{e}</code></span></label>",
                event_label(e)
            );
        }
        let _ = write!(
            body,
            "<h2>Add an endpoint</h2>\n<form method=\"post\" action=\"{WEBHOOKS}\" class=\"card\">{fields}\n\
             <div class=\"field\"><label for=\"url\">URL</label><input id=\"url\" name=\"url\" type=\"url\" required \
             placeholder=\"https://example.com/idv-hook\" value=\"{url}\"></div>\n\
             <div class=\"field\"><label for=\"description\">Description</label><input id=\"description\" name=\"description\" maxlength=\"1000\" value=\"{desc}\"></div>\n\
             <fieldset class=\"events\"><legend>Events to send</legend>{boxes}</fieldset>\n\
             <div class=\"actions\"><button type=\"submit\" class=\"primary\">Create endpoint</button></div>\n</form>\n",
            fields = ui::form_fields(ctx),
            url = esc(&text_of(form, "url")),
            desc = esc(&text_of(form, "description")),
        );
    }
    ui::page_with(ctx, status, WEBHOOKS, "Webhooks", &body)
}

/// The pairs of a URL-encoded form (names may repeat).
fn pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The page showing a new secret once: it is rendered, never put in a URL.
fn secret_page(ctx: &Ctx, title: &str, w: &Value) -> Response {
    let id = text_of(w, "id");
    let body = format!(
        "{flash}<p>Copy the signing secret now: it is shown only on this page. Receivers check \
         each delivery's <code>webhook-signature</code> with it.</p>\n\
         <div class=\"secret card\"><code id=\"secret\">{secret}</code>\
         <button type=\"button\" class=\"secondary\" data-copy=\"secret\" hidden>Copy</button></div>\n\
         <dl class=\"props card\"><dt>URL</dt><dd>{url}</dd><dt>Events</dt><dd>{events}</dd></dl>\n\
         <p><a href=\"{WEBHOOKS}/{eid}\">Open the endpoint</a> · <a href=\"{WEBHOOKS}\">All endpoints</a></p>\n",
        flash = ui::flash(title),
        secret = esc(&text_of(w, "secret")),
        url = esc(&text_of(w, "url")),
        events = events_text(w),
        eid = enc(&id),
    );
    ui::page(ctx, WEBHOOKS, "Webhook secret", &body)
}

/// `POST /portal/settings/webhooks` (url, description, events...): creates the endpoint and
/// shows its secret once.
pub async fn create_webhook(ctx: Ctx, RawForm(raw): RawForm) -> Response {
    let pairs = pairs(&raw);
    let one = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if let Err(r) = ctx.check(&one("csrf")) {
        return r;
    }
    let events: Vec<String> = pairs
        .iter()
        .filter(|(n, _)| n == "events")
        .map(|(_, v)| v.clone())
        .collect();
    let description = one("description");
    let mut input = json!({"url": one("url").trim(), "events": events});
    if !description.trim().is_empty() {
        input["description"] = json!(description.trim());
    }
    if events.is_empty() {
        let top = ui::alert("Choose at least one event to send.");
        return webhooks_page(&ctx, StatusCode::BAD_REQUEST, &top, &input).await;
    }
    let reply = ctx
        .api
        .json(
            Method::POST,
            "/api/webhooks",
            &input,
            &Ctx::idem(&one("idem")),
        )
        .await;
    if let Some(w) = reply.json::<Value>() {
        return secret_page(&ctx, "Endpoint created.", &w);
    }
    if reply.status == StatusCode::FORBIDDEN {
        return ui::forbidden(&ctx, "create webhook endpoints");
    }
    let (_, message) = reply.error();
    let top = ui::alert(&format!("The endpoint was not created: {message}"));
    webhooks_page(&ctx, reply.status, &top, &input).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LogQuery {
    before: String,
    done: String,
}

/// `GET /portal/settings/webhooks/{id}`: the endpoint, its actions and its delivery log.
pub async fn webhook(ctx: Ctx, Path(id): Path<String>, Query(q): Query<LogQuery>) -> Response {
    if let Err(r) = ctx.open(WEBHOOKS) {
        return r;
    }
    let base = format!("/api/webhooks/{}", enc(&id));
    let reply = ctx.api.get(&base).await;
    let Some(w) = reply.json::<Value>() else {
        return ui::failed(&ctx, WEBHOOKS, "Webhook endpoint", &reply);
    };
    let mut uri = format!("{base}/deliveries?limit=50");
    if !q.before.is_empty() {
        let _ = write!(uri, "&before={}", enc(&q.before));
    }
    let log = ctx.api.get(&uri).await;
    let Some(log) = log.json::<Value>() else {
        return ui::failed(&ctx, WEBHOOKS, "Webhook endpoint", &log);
    };
    let here = format!("{WEBHOOKS}/{}", enc(&id));
    let write = ctx.may("webhook", Op::Write);
    let mut body = flash_of(&Done { done: q.done });
    body.push_str("<dl class=\"props card\">");
    let _ = write!(
        body,
        "<dt>URL</dt><dd>{}</dd><dt>Events</dt><dd>{}</dd><dt>State</dt><dd>{}</dd>",
        esc(&text_of(&w, "url")),
        events_text(&w),
        state_of(&w)
    );
    let description = text_of(&w, "description");
    if !description.is_empty() {
        let _ = write!(body, "<dt>Description</dt><dd>{}</dd>", esc(&description));
    }
    for (label, key) in [
        ("Disabled at", "disabledAt"),
        ("Old secret signs until", "previousSecretExpiresAt"),
        ("Created", "createdAt"),
    ] {
        let t = text_of(&w, key);
        if !t.is_empty() {
            let _ = write!(body, "<dt>{label}</dt><dd>{}</dd>", esc(&ui::time_text(&t)));
        }
    }
    body.push_str("</dl>\n");

    if write {
        let enabled = w.get("enabled").and_then(Value::as_bool) == Some(true);
        let fields = ui::form_fields(&ctx);
        let _ = write!(
            body,
            "<div class=\"actions\">\
             <form method=\"post\" action=\"{here}/test\">{fields}<button type=\"submit\" class=\"secondary\">Send test event</button></form>\
             <form method=\"post\" action=\"{here}/enabled\">{f2}<input type=\"hidden\" name=\"enabled\" value=\"{next}\">\
             <button type=\"submit\" class=\"secondary\">{label}</button></form>\
             <form method=\"post\" action=\"{here}/rotate\" data-confirm=\"Give this endpoint a new secret? The old one keeps signing for a day.\">{f3}\
             <button type=\"submit\" class=\"secondary\">Rotate secret</button></form>",
            f2 = ui::form_fields(&ctx),
            f3 = ui::form_fields(&ctx),
            next = !enabled,
            label = if enabled { "Disable" } else { "Enable" },
        );
        if ctx.may("webhook", Op::Delete) {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"{here}/delete\" data-confirm=\"Delete this endpoint and its delivery log?\">{}\
                 <button type=\"submit\" class=\"danger\">Delete endpoint</button></form>",
                ui::form_fields(&ctx)
            );
        }
        body.push_str("</div>\n");
    } else if ctx.may("webhook", Op::Delete) {
        let _ = writeln!(
            body,
            "<form method=\"post\" action=\"{here}/delete\" data-confirm=\"Delete this endpoint and its delivery log?\">{}\
             <div class=\"actions\"><button type=\"submit\" class=\"danger\">Delete endpoint</button></div></form>",
            ui::form_fields(&ctx)
        );
    }

    body.push_str("<h2>Deliveries</h2>\n");
    let items = log
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if items.is_empty() {
        body.push_str("<p>Nothing has been sent to this endpoint yet.</p>\n");
    } else {
        body.push_str("<p class=\"muted\">Newest first.</p><ul class=\"rows deliveries\" aria-label=\"Deliveries\">");
        for d in &items {
            body.push_str(&delivery_row(&ctx, &here, d, write));
        }
        body.push_str("</ul>\n");
    }
    if let Some(next) = log.get("next").and_then(Value::as_str) {
        let _ = writeln!(
            body,
            "<p class=\"pager\"><a href=\"{here}?before={}\">Older deliveries</a></p>",
            enc(next)
        );
    }
    if write {
        let _ = write!(
            body,
            "<h2>Replay events</h2>\n<form method=\"post\" action=\"{here}/replay\" class=\"card\">{}\n\
             <div class=\"field\"><label for=\"since\">Since (a day, UTC)</label><input id=\"since\" name=\"since\" type=\"date\" required aria-describedby=\"since-hint\">\
             <p class=\"hint\" id=\"since-hint\">Every kept session event from the start of that day that this endpoint selects is sent again.</p></div>\n\
             <div class=\"actions\"><button type=\"submit\" class=\"secondary\">Replay</button></div></form>\n",
            ui::form_fields(&ctx)
        );
    }
    let _ = writeln!(body, "<p><a href=\"{WEBHOOKS}\">All endpoints</a></p>");
    ui::page(&ctx, WEBHOOKS, "Webhook endpoint", &body)
}

fn delivery_row(ctx: &Ctx, here: &str, d: &Value, write: bool) -> String {
    let did = text_of(d, "id");
    let state = text_of(d, "state");
    let attempts = d
        .get("attempts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let last = attempts.last();
    let last_failed = last.is_some_and(|a| {
        let code = a.get("statusCode").and_then(Value::as_i64);
        !code.is_some_and(|c| (200..300).contains(&c))
    });
    let answer = match last {
        None => String::new(),
        Some(a) => {
            let code = text_of(a, "statusCode");
            let error = text_of(a, "error");
            let mut t = if code.is_empty() {
                "no answer".to_string()
            } else {
                format!("HTTP {}", esc(&code))
            };
            if !error.is_empty() {
                let _ = write!(t, ": {}", esc(&error));
            }
            let _ = write!(
                t,
                "<br><span class=\"muted\">{}</span>",
                esc(&ui::time_text(&text_of(a, "at")))
            );
            t
        }
    };
    let badge = match state.as_str() {
        "delivered" => "<span class=\"badge s3\">delivered</span>".to_string(),
        "failed" => "<span class=\"badge s1000\">failed</span>".to_string(),
        "pending" if last_failed => "<span class=\"badge s4\">retrying</span>".to_string(),
        other => format!("<span class=\"badge s0\">{}</span>", esc(other)),
    };
    let session = text_of(d, "sessionId");
    let session = if session.is_empty() {
        String::new()
    } else {
        format!(
            "<a href=\"/portal/sessions/{}\"><code>{}</code></a>",
            enc(&session),
            esc(&session)
        )
    };
    let retry = if write && (state == "failed" || (state == "pending" && last_failed)) {
        format!(
            "<form method=\"post\" action=\"{here}/deliveries/{}/retry\" class=\"actions\">{}\
             <button type=\"submit\" class=\"secondary\">Retry<span class=\"sr-only\"> delivery {}</span></button></form>",
            enc(&did),
            ui::form_fields(ctx),
            esc(&did)
        )
    } else {
        String::new()
    };
    let session = if session.is_empty() {
        String::new()
    } else {
        format!("<dt>Session</dt><dd>{session}</dd>")
    };
    let mut answer = if answer.is_empty() {
        String::new()
    } else {
        format!("<dt>Last answer</dt><dd>{answer}</dd>")
    };
    let next = text_of(d, "nextAttemptAt");
    if !next.is_empty() {
        let _ = write!(
            answer,
            "<dt>Next try</dt><dd>{}</dd>",
            esc(&ui::time_text(&next))
        );
    }
    format!(
        "<li class=\"card\" data-delivery=\"{}\" data-state=\"{}\"><p><code class=\"title\">{}</code> {badge}</p>\
         <dl class=\"props\"><dt>Created</dt><dd>{}</dd>{session}<dt>Attempts</dt><dd>{}</dd>{answer}</dl>{retry}</li>",
        esc(&did),
        esc(&state),
        esc(&text_of(d, "eventType")),
        esc(&ui::time_text(&text_of(d, "createdAt"))),
        attempts.len(),
    )
}

/// `POST /portal/settings/webhooks/{id}/rotate`: a new secret, shown once.
pub async fn rotate_secret(ctx: Ctx, Path(id): Path<String>, Form(f): Form<Plain>) -> Response {
    if let Err(r) = ctx.check(&f.csrf) {
        return r;
    }
    let reply = ctx
        .api
        .json(
            Method::POST,
            &format!("/api/webhooks/{}/rotate-secret", enc(&id)),
            &json!({}),
            &Ctx::idem(&f.idem),
        )
        .await;
    match reply.json::<Value>() {
        Some(w) => secret_page(
            &ctx,
            "New secret made. The old one keeps signing beside it for a day.",
            &w,
        ),
        None => ui::failed(&ctx, WEBHOOKS, "Rotate secret", &reply),
    }
}

/// `POST /portal/settings/webhooks/{id}/delete`.
pub async fn delete_webhook(ctx: Ctx, Path(id): Path<String>, Form(f): Form<Plain>) -> Response {
    if let Err(r) = ctx.check(&f.csrf) {
        return r;
    }
    let reply = ctx
        .api
        .delete(&format!("/api/webhooks/{}", enc(&id)), &Ctx::idem(&f.idem))
        .await;
    if !reply.ok() {
        return ui::failed(&ctx, WEBHOOKS, "Delete endpoint", &reply);
    }
    done(&ctx, WEBHOOKS, "Endpoint deleted.")
}

/// `POST /portal/settings/webhooks/{id}/test`.
pub async fn send_test(ctx: Ctx, Path(id): Path<String>, Form(f): Form<Plain>) -> Response {
    if let Err(r) = ctx.check(&f.csrf) {
        return r;
    }
    let reply = ctx
        .api
        .send(
            Method::POST,
            &format!("/api/webhooks/{}/test", enc(&id)),
            &Ctx::idem(&f.idem),
            None,
        )
        .await;
    if !reply.ok() {
        return ui::failed(&ctx, WEBHOOKS, "Send test event", &reply);
    }
    done(
        &ctx,
        &format!("{WEBHOOKS}/{}", enc(&id)),
        "Test event queued; it shows in the log below.",
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EnabledForm {
    csrf: String,
    idem: String,
    enabled: String,
}

/// `POST /portal/settings/webhooks/{id}/enabled` (enabled=true|false).
pub async fn set_enabled(ctx: Ctx, Path(id): Path<String>, Form(f): Form<EnabledForm>) -> Response {
    if let Err(r) = ctx.check(&f.csrf) {
        return r;
    }
    let on = f.enabled == "true";
    let reply = ctx
        .api
        .json(
            Method::PATCH,
            &format!("/api/webhooks/{}", enc(&id)),
            &json!({"enabled": on}),
            &Ctx::idem(&f.idem),
        )
        .await;
    if !reply.ok() {
        return ui::failed(&ctx, WEBHOOKS, "Change endpoint", &reply);
    }
    done(
        &ctx,
        &format!("{WEBHOOKS}/{}", enc(&id)),
        if on {
            "Endpoint enabled."
        } else {
            "Endpoint disabled: nothing is sent to it until it is enabled again."
        },
    )
}

/// `POST /portal/settings/webhooks/{id}/deliveries/{delivery}/retry`.
pub async fn retry(
    ctx: Ctx,
    Path((id, delivery)): Path<(String, String)>,
    Form(f): Form<Plain>,
) -> Response {
    if let Err(r) = ctx.check(&f.csrf) {
        return r;
    }
    let reply = ctx
        .api
        .send(
            Method::POST,
            &format!(
                "/api/webhooks/{}/deliveries/{}/retry",
                enc(&id),
                enc(&delivery)
            ),
            &Ctx::idem(&f.idem),
            None,
        )
        .await;
    if !reply.ok() {
        return ui::failed(&ctx, WEBHOOKS, "Retry delivery", &reply);
    }
    done(
        &ctx,
        &format!("{WEBHOOKS}/{}", enc(&id)),
        &format!("Delivery {delivery} queued again."),
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ReplayForm {
    csrf: String,
    idem: String,
    since: String,
}

/// `POST /portal/settings/webhooks/{id}/replay` (since=a date).
pub async fn replay(ctx: Ctx, Path(id): Path<String>, Form(f): Form<ReplayForm>) -> Response {
    if let Err(r) = ctx.check(&f.csrf) {
        return r;
    }
    let reply = ctx
        .api
        .send(
            Method::POST,
            &format!(
                "/api/webhooks/{}/replay?since={}",
                enc(&id),
                enc(f.since.trim())
            ),
            &Ctx::idem(&f.idem),
            None,
        )
        .await;
    let Some(v) = reply.json::<Value>() else {
        return ui::failed(&ctx, WEBHOOKS, "Replay events", &reply);
    };
    done(
        &ctx,
        &format!("{WEBHOOKS}/{}", enc(&id)),
        &format!(
            "{} since {} queued again.",
            match v.get("queued").and_then(Value::as_u64).unwrap_or(0) {
                1 => "1 event".to_string(),
                n => format!("{n} events"),
            },
            f.since.trim()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(details: Value) -> Reply {
        let body = json!({"error": {"code": "invalid_workflow", "message": "refused", "details": details}});
        Reply {
            status: StatusCode::BAD_REQUEST,
            headers: Default::default(),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn problems_link_their_marked_lines_and_every_text_is_escaped() {
        let reply = refused(json!([
            {"path": "steps[0].id", "line": 2, "message": "bad <b>id</b>"},
            {"path": "", "message": "no line here"}
        ]));
        let html = problems_html(&reply, "a: 1\nb: <script>x</script>\n\nc: 3", "The file");
        assert!(html.contains("<h2>2 problems</h2>"), "{html}");
        assert!(
            html.contains(
                "<a href=\"#L2\">line 2</a> <code>steps[0].id</code>: bad &lt;b&gt;id&lt;/b&gt;"
            ),
            "{html}"
        );
        assert!(html.contains("<li>no line: no line here</li>"), "{html}");
        assert!(
            html.contains("<span class=\"ln\" id=\"L1\">a: 1</span>"),
            "{html}"
        );
        assert!(
            html.contains(
                "<span class=\"ln bad\" id=\"L2\">b: &lt;script&gt;x&lt;/script&gt;</span>"
            ),
            "{html}"
        );
        assert!(
            html.contains(
                "<span class=\"ln\" id=\"L3\"></span><span class=\"ln\" id=\"L4\">c: 3</span>"
            ),
            "{html}"
        );
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
    }

    #[test]
    fn a_refusal_without_problems_says_the_api_message() {
        let reply = Reply {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            headers: Default::default(),
            body: Bytes::from(
                json!({"error": {"code": "unsupported_media_type", "message": "not <yaml>"}})
                    .to_string(),
            ),
        };
        let html = problems_html(&reply, "", "The file");
        assert!(
            html.contains("The file was not loaded: not &lt;yaml&gt;"),
            "{html}"
        );
        assert!(!html.contains("<ol") && !html.contains("<pre"), "{html}");
    }
}
