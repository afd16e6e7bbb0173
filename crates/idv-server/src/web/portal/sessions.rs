//! The sessions list (`/portal/sessions`): driven by views (Regula's namespace and key), with
//! filter controls turned into the search grammar, sort, keyset paging, counts by status, a
//! quick search by session id or `metadata.externalUserId`, and "save as view". Everything
//! comes from `POST /api/sessions/search`, `GET /api/views/...` and `GET /api/workflows`.

use super::Ctx;
use super::call::enc;
use super::ui::{self, esc};
use axum::Form;
use axum::extract::{Query, rejection::FormRejection};
use axum::http::Method;
use axum::response::Response;
use idv_core::permission::Op;
use serde::Deserialize;
use serde_json::{Value, json};
use std::fmt::Write;

const HREF: &str = "/portal/sessions";
/// The namespace the portal keeps its views in unless the address names another.
pub const DEFAULT_NAMESPACE: &str = "portal";
/// Sessions per page.
const PAGE: u32 = 25;

/// The list's controls, as the address carries them.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ListQuery {
    /// Views namespace.
    ns: String,
    /// View key.
    view: String,
    /// Session id or external user id.
    q: String,
    /// A status integer, or empty for all.
    status: String,
    workflow: String,
    /// Created on or after this date (`YYYY-MM-DD`).
    from: String,
    /// Created on or before this date.
    to: String,
    /// `new` (default), `old`, `updated`.
    sort: String,
    /// The keyset cursor of the page.
    after: String,
    done: String,
}

impl ListQuery {
    fn namespace(&self) -> &str {
        if self.ns.is_empty() {
            DEFAULT_NAMESPACE
        } else {
            &self.ns
        }
    }

    /// The address of the list with these controls (and `after` when given).
    fn href(&self, status: Option<&str>, after: Option<&str>) -> String {
        let status = status.unwrap_or(&self.status);
        let mut parts = Vec::new();
        for (k, v) in [
            ("ns", self.ns.as_str()),
            ("view", &self.view),
            ("q", &self.q),
            ("status", status),
            ("workflow", &self.workflow),
            ("from", &self.from),
            ("to", &self.to),
            ("sort", &self.sort),
            ("after", after.unwrap_or("")),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", enc(v)));
            }
        }
        if parts.is_empty() {
            HREF.to_string()
        } else {
            format!("{HREF}?{}", parts.join("&"))
        }
    }

    /// The controls as conditions of the search grammar (the status aside: counts vary it).
    fn conditions(&self) -> Result<Vec<Value>, String> {
        let mut c = Vec::new();
        if !self.workflow.is_empty() {
            c.push(json!({"field": "workflow.id", "op": "$eq", "value": self.workflow}));
        }
        for (field, op, day, end) in [
            ("from", "$gte", &self.from, false),
            ("to", "$lt", &self.to, true),
        ] {
            if day.is_empty() {
                continue;
            }
            let d = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map_err(|_| format!("{field}: give a date as YYYY-MM-DD, not {day:?}"))?;
            // "to" includes its whole day.
            let d = if end { d.succ_opt().unwrap_or(d) } else { d };
            c.push(json!({"field": "createdAt", "op": op, "value": format!("{d}T00:00:00Z")}));
        }
        Ok(c)
    }

    /// The quick search as an `$or` group: the session id, or the external user id.
    fn quick(&self) -> Option<Value> {
        let q = self.q.trim();
        (!q.is_empty()).then(|| {
            json!({"op": "$or", "conditions": [
                {"field": "id", "op": "$eq", "value": q},
                {"field": "metadata.externalUserId", "op": "$eq", "value": q},
            ]})
        })
    }

    fn sort(&self) -> Value {
        match self.sort.as_str() {
            "old" => json!([{"field": "createdAt", "order": "asc"}]),
            "updated" => json!([{"field": "updatedAt", "order": "desc"}]),
            _ => json!([{"field": "createdAt", "order": "desc"}]),
        }
    }

    fn status(&self) -> Result<Option<i64>, String> {
        if self.status.is_empty() {
            return Ok(None);
        }
        idv_core::status::parse(&self.status)
            .map(Some)
            .ok_or_else(|| format!("status: {:?} is not a session status", self.status))
    }
}

/// A search body: the view's workflows, columns and filter, with the controls' conditions (and
/// `status`, when given) added to it.
fn body(view: Option<&Value>, q: &ListQuery, status: Option<i64>) -> Result<Value, String> {
    let mut groups = Vec::new();
    if let Some(f) = view.and_then(|v| v.get("filter")).filter(|f| !f.is_null()) {
        groups.push(f.clone());
    }
    let mut conditions = q.conditions()?;
    if let Some(s) = status {
        conditions.push(json!({"field": "status", "op": "$eq", "value": s}));
    }
    if !conditions.is_empty() {
        groups.push(json!({"op": "$and", "conditions": conditions}));
    }
    if let Some(g) = q.quick() {
        groups.push(g);
    }
    let mut b = json!({"sort": q.sort()});
    if let Some(v) = view {
        for k in ["workflows", "columns"] {
            if let Some(x) = v.get(k).filter(|x| !x.is_null()) {
                b[k] = x.clone();
            }
        }
        if q.sort.is_empty()
            && let Some(s) = v
                .get("sort")
                .filter(|s| s.as_array().is_some_and(|a| !a.is_empty()))
        {
            b["sort"] = s.clone();
        }
    }
    if !groups.is_empty() {
        b["filter"] = json!({"op": "$and", "groups": groups});
    }
    Ok(b)
}

/// `GET /portal/sessions`.
pub async fn list(ctx: Ctx, Query(q): Query<ListQuery>) -> Response {
    if let Err(resp) = ctx.open(HREF) {
        return resp;
    }
    let ns = q.namespace().to_string();
    // The namespace's views (when the user may read views) and the workflows for the
    // controls, asked for together.
    let may_views = ctx.may_any(&[("view", Op::Read), ("view_all", Op::Read)]);
    let views_uri = format!("/api/views/namespaces/{}?limit=100", enc(&ns));
    let (views, workflows) = futures::join!(
        async {
            if !may_views {
                return Vec::new();
            }
            ctx.api
                .get(&views_uri)
                .await
                .json::<Value>()
                .and_then(|v| v.get("items").and_then(|i| i.as_array()).cloned())
                .unwrap_or_default()
        },
        async {
            ctx.api
                .get("/api/workflows")
                .await
                .json::<Value>()
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
        }
    );
    let view = views
        .iter()
        .find(|v| v["key"] == q.view.as_str())
        .map(|v| &v["value"]);
    if !q.view.is_empty() && view.is_none() {
        return page(
            &ctx,
            &q,
            &views,
            &workflows,
            None,
            &ui::alert(&format!(
                "There is no view {:?} in the namespace {ns:?} that you may see.",
                q.view
            )),
        );
    }
    let status = match q.status() {
        Ok(s) => s,
        Err(e) => return page(&ctx, &q, &views, &workflows, view, &ui::alert(&e)),
    };
    let search = match body(view, &q, status) {
        Ok(b) => b,
        Err(e) => return page(&ctx, &q, &views, &workflows, view, &ui::alert(&e)),
    };
    // A session's id typed in the quick search opens that session.
    let typed = q.q.trim();
    if !typed.is_empty()
        && typed.len() <= 128
        && ctx
            .api
            .send(
                Method::HEAD,
                &format!("/api/sessions/{}", enc(typed)),
                &[],
                None,
            )
            .await
            .ok()
    {
        return ui::see_other(&ctx, &format!("/portal/sessions/{}", enc(typed)));
    }
    let mut uri = format!("/api/sessions/search?limit={PAGE}");
    if !q.after.is_empty() {
        let _ = write!(uri, "&after={}", enc(&q.after));
    }
    // The counts by status. When the list is narrowed only by workflow and days, they come
    // exact from the counters the database keeps (`GET /api/stats/sessions/totals`, for
    // session_all:read); otherwise from the same search, one status at a time, no rows
    // (counted up to the search's cap). Asked for together with the page.
    let by_counters = ctx.may("session_all", Op::Read)
        && q.quick().is_none()
        && view.is_none_or(|v| {
            v.get("filter").is_none_or(Value::is_null)
                && v.get("workflows")
                    .and_then(Value::as_array)
                    .is_none_or(|a| a.is_empty())
        });
    let api = &ctx.api;
    let counting = || async {
        if by_counters {
            let mut uri = String::from("/api/stats/sessions/totals?");
            for (k, v) in [
                ("from", &q.from),
                ("to", &q.to),
                ("workflowId", &q.workflow),
            ] {
                if !v.is_empty() {
                    let _ = write!(uri, "{k}={}&", enc(v));
                }
            }
            let v = api.get(&uri).await.json::<Value>().unwrap_or_default();
            let of = |s: i64| {
                v["totals"].as_array().map(|t| {
                    t.iter()
                        .find(|c| c["status"] == s)
                        .and_then(|c| c["count"].as_i64())
                        .unwrap_or(0)
                })
            };
            return idv_core::status::ALL
                .iter()
                .map(|&s| (s, of(s), false))
                .collect::<Vec<_>>();
        }
        futures::future::join_all(idv_core::status::ALL.map(|s| {
            let b = body(view, &q, Some(s)).unwrap_or_default();
            async move {
                let r = api
                    .json(Method::POST, "/api/sessions/search?limit=0", &b, &[])
                    .await;
                let v = r.json::<Value>().unwrap_or_default();
                (s, v["total"].as_i64(), v["totalCapped"] == true)
            }
        }))
        .await
    };
    // A quick search (which reads every session's metadata) is asked first: when its one
    // page holds every match, the counts are read off that page instead of six more searches.
    let (r, counts) = if typed.is_empty() {
        let (r, counts) =
            futures::join!(ctx.api.json(Method::POST, &uri, &search, &[]), counting());
        (r, Some(counts))
    } else {
        (ctx.api.json(Method::POST, &uri, &search, &[]).await, None)
    };
    let Some(found) = r.json::<Value>() else {
        let (_, message) = r.error();
        return page(&ctx, &q, &views, &workflows, view, &ui::alert(&message));
    };
    let whole = found["next"].is_null() && q.after.is_empty() && q.status.is_empty();
    let counts = match counts {
        Some(c) => c,
        None if whole => {
            let items = found["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            idv_core::status::ALL
                .iter()
                .map(|&s| {
                    let n = items.iter().filter(|i| i["status"] == s).count();
                    (s, Some(n as i64), false)
                })
                .collect()
        }
        None => counting().await,
    };
    let mut html = String::new();
    let _ = write!(html, "{}", counts_html(&q, &found, &counts));
    html.push_str(&table(&found, view, &workflows));
    html.push_str(&pager(&q, &found));
    page(&ctx, &q, &views, &workflows, view, &html)
}

/// The page around the results: views, controls, save as view.
fn page(
    ctx: &Ctx,
    q: &ListQuery,
    views: &[Value],
    workflows: &[Value],
    view: Option<&Value>,
    results: &str,
) -> Response {
    let mut html = String::new();
    if !q.done.is_empty() {
        html.push_str(&ui::flash(&q.done));
    }
    // The views of the namespace, as links.
    if !views.is_empty() {
        html.push_str("<nav aria-label=\"Views\" class=\"card\"><h2 class=\"inline\">Views</h2><ul class=\"counts\">");
        let all = ListQuery {
            ns: q.ns.clone(),
            ..ListQuery::default()
        };
        let current = if q.view.is_empty() {
            " aria-current=\"true\""
        } else {
            ""
        };
        let _ = write!(
            html,
            "<li><a href=\"{}\"{current}>All sessions</a></li>",
            esc(&all.href(None, None))
        );
        for v in views {
            let key = v["key"].as_str().unwrap_or_default();
            let title = v["value"]["title"]
                .as_str()
                .filter(|t| !t.is_empty())
                .unwrap_or(key);
            let target = ListQuery {
                ns: q.ns.clone(),
                view: key.to_string(),
                ..ListQuery::default()
            };
            let current = if q.view == key {
                " aria-current=\"true\""
            } else {
                ""
            };
            let _ = write!(
                html,
                "<li><a href=\"{}\"{current}>{}</a></li>",
                esc(&target.href(None, None)),
                esc(title)
            );
        }
        html.push_str("</ul></nav>\n");
    }
    if let Some(v) = view
        && let Some(d) = v["description"].as_str().filter(|d| !d.is_empty())
    {
        let _ = writeln!(html, "<p class=\"muted\">{}</p>", esc(d));
    }
    html.push_str(&controls(q, workflows));
    html.push_str(results);
    if ctx.may_any(&[("view", Op::Write), ("view_all", Op::Write)]) {
        html.push_str(&save_form(ctx, q));
    }
    let title = view
        .and_then(|v| v["title"].as_str())
        .filter(|t| !t.is_empty())
        .unwrap_or("Sessions");
    ui::page(ctx, HREF, title, &html)
}

fn option(value: &str, label: &str, selected: bool) -> String {
    format!(
        "<option value=\"{}\"{}>{}</option>",
        esc(value),
        if selected { " selected" } else { "" },
        esc(label)
    )
}

/// The filter form (GET, so an address is a list anyone with access can open again).
fn controls(q: &ListQuery, workflows: &[Value]) -> String {
    let mut statuses = option("", "Any status", q.status.is_empty());
    for s in idv_core::status::ALL {
        let name = idv_core::status::name(s)
            .unwrap_or_default()
            .replace('_', " ");
        statuses.push_str(&option(
            &s.to_string(),
            &format!("{name} ({s})"),
            q.status == s.to_string(),
        ));
    }
    let mut wfs = option("", "Any workflow", q.workflow.is_empty());
    for w in workflows {
        let id = w["id"].as_str().unwrap_or_default();
        let name = w["name"].as_str().filter(|n| !n.is_empty()).unwrap_or(id);
        wfs.push_str(&option(id, name, q.workflow == id));
    }
    let sorts = [
        option("", "Newest first", q.sort.is_empty() || q.sort == "new"),
        option("old", "Oldest first", q.sort == "old"),
        option("updated", "Recently updated", q.sort == "updated"),
    ]
    .concat();
    let hidden = |k: &str, v: &str| {
        if v.is_empty() {
            String::new()
        } else {
            format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(v))
        }
    };
    // The quick search stays in sight; the other filters fold away unless one is in use.
    let open = [&q.status, &q.workflow, &q.from, &q.to, &q.sort]
        .iter()
        .any(|v| !v.is_empty());
    format!(
        "<form method=\"get\" action=\"{HREF}\" class=\"card\" role=\"search\" aria-label=\"Filter sessions\">\
         {}{}<div class=\"quick\"><div class=\"field\"><label for=\"q\">Session id or external user id</label>\
         <input id=\"q\" name=\"q\" value=\"{}\" autocomplete=\"off\"></div>\
         <button type=\"submit\" class=\"primary\">Show</button></div>\
         <details{}><summary>More filters</summary><div class=\"filters\">\
         <div class=\"field\"><label for=\"status\">Status</label><select id=\"status\" name=\"status\">{statuses}</select></div>\
         <div class=\"field\"><label for=\"workflow\">Workflow</label><select id=\"workflow\" name=\"workflow\">{wfs}</select></div>\
         <div class=\"field\"><label for=\"from\">Created from</label><input id=\"from\" name=\"from\" type=\"date\" value=\"{}\"></div>\
         <div class=\"field\"><label for=\"to\">Created to</label><input id=\"to\" name=\"to\" type=\"date\" value=\"{}\"></div>\
         <div class=\"field\"><label for=\"sort\">Order</label><select id=\"sort\" name=\"sort\">{sorts}</select></div>\
         </div><div class=\"actions\"><button type=\"submit\" class=\"primary\">Apply filters</button>\
         <a class=\"button secondary\" href=\"{}\">Clear</a></div></details></form>\n",
        hidden("ns", &q.ns),
        hidden("view", &q.view),
        esc(&q.q),
        if open { " open" } else { "" },
        esc(&q.from),
        esc(&q.to),
        esc(&ListQuery {
            ns: q.ns.clone(),
            view: q.view.clone(),
            ..ListQuery::default()
        }
        .href(None, None)),
    )
}

/// The counts by status, each a link that narrows the list to it.
fn counts_html(q: &ListQuery, found: &Value, counts: &[(i64, Option<i64>, bool)]) -> String {
    let n = |total: Option<i64>, capped: bool| match total {
        Some(t) if capped => format!("{t}+"),
        Some(t) => t.to_string(),
        None => "?".to_string(),
    };
    let mut html = String::from("<ul class=\"counts\" aria-label=\"Sessions by status\">");
    let _ = write!(
        html,
        "<li><a href=\"{}\"{}>All: {}</a></li>",
        esc(&q.href(Some(""), None)),
        if q.status.is_empty() {
            " aria-current=\"true\""
        } else {
            ""
        },
        // Every status counted and none capped: their sum is exact. Otherwise the page's own
        // total when it lists every status.
        n(
            if counts.iter().all(|c| c.1.is_some() && !c.2) {
                Some(counts.iter().filter_map(|c| c.1).sum())
            } else if q.status.is_empty() {
                found["total"].as_i64()
            } else {
                None
            },
            counts.iter().any(|c| c.2) || q.status.is_empty() && found["totalCapped"] == true
        )
    );
    for (s, total, capped) in counts {
        let name = idv_core::status::name(*s)
            .unwrap_or_default()
            .replace('_', " ");
        let current = q.status == s.to_string();
        let _ = write!(
            html,
            "<li><a href=\"{}\"{}>{} {}</a></li>",
            esc(&q.href(Some(&s.to_string()), None)),
            if current {
                " aria-current=\"true\""
            } else {
                ""
            },
            esc(&name),
            n(*total, *capped),
        );
    }
    html.push_str("</ul>\n");
    html
}

/// The results table: the session, its workflow, status, the view's columns, times.
fn table(found: &Value, view: Option<&Value>, workflows: &[Value]) -> String {
    let items = found["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        return "<p class=\"card\">No session matches.</p>\n".to_string();
    }
    let wf_name = |id: &str| {
        workflows
            .iter()
            .find(|w| w["id"] == id)
            .and_then(|w| w["name"].as_str())
            .filter(|n| !n.is_empty())
            .unwrap_or(id)
            .to_string()
    };
    // The view's columns: built-in fields beyond those always shown, and properties.
    let columns: Vec<(String, String)> = view
        .and_then(|v| v["columns"].as_array())
        .map(|cols| {
            cols.iter()
                .filter_map(|c| {
                    let kind = c["type"].as_str()?.to_string();
                    let name = c["name"].as_str()?.to_string();
                    (!(kind == "field"
                        && ["id", "status", "workflow.id", "createdAt", "updatedAt"]
                            .contains(&name.as_str())))
                    .then_some((kind, name))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut html = String::from(
        "<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Sessions\"><table>\n<thead><tr>\
         <th scope=\"col\">Session</th><th scope=\"col\">Status</th><th scope=\"col\">Workflow</th>\
         <th scope=\"col\">External user</th>",
    );
    for (_, name) in &columns {
        let _ = write!(html, "<th scope=\"col\">{}</th>", esc(name));
    }
    html.push_str("<th scope=\"col\">Step</th><th scope=\"col\">Created</th><th scope=\"col\">Updated</th></tr></thead>\n<tbody>\n");
    for s in &items {
        let id = s["id"].as_str().unwrap_or_default();
        let title = s["view"]["title"].as_str().filter(|t| !t.is_empty());
        // The id's first characters tell sessions apart in a list; the page shows it whole.
        let short: String = id.chars().take(13).collect();
        let short = if short.len() < id.len() {
            format!("{short}…")
        } else {
            short
        };
        let code = format!("<code title=\"{}\">{}</code>", esc(id), esc(&short));
        let label = match title {
            Some(t) => format!("{}<br><span class=\"muted\">{code}</span>", esc(t)),
            None => code,
        };
        let _ = write!(
            html,
            "<tr><td><a href=\"/portal/sessions/{}\">{label}</a></td><td>{}</td><td>{}</td><td>{}</td>",
            enc(id),
            ui::status_badge(s["status"].as_i64().unwrap_or(-1)),
            esc(&wf_name(s["workflow"]["id"].as_str().unwrap_or_default())),
            esc(&ui::cell(&s["metadata"]["externalUserId"])),
        );
        for (kind, name) in &columns {
            let v = if kind == "property" {
                &s["properties"][name.as_str()]
            } else {
                lookup(s, name)
            };
            let text = match v {
                Value::Object(o) if o.contains_key("fileId") => "(file)".to_string(),
                other => ui::cell(other),
            };
            let _ = write!(html, "<td>{}</td>", esc(&text));
        }
        let _ = writeln!(
            html,
            "<td>{}{}</td><td>{}</td><td>{}</td></tr>",
            esc(s["currentStep"].as_str().unwrap_or_default()),
            if s["ended"] == true {
                " <span class=\"muted\">(ended)</span>"
            } else {
                ""
            },
            esc(&ui::time_text(s["createdAt"].as_str().unwrap_or_default())),
            esc(&ui::time_text(s["updatedAt"].as_str().unwrap_or_default())),
        );
    }
    html.push_str("</tbody></table></div>\n");
    html
}

/// A dotted field of a summary (`metadata.externalUserId`).
fn lookup<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| &v[k])
}

fn pager(q: &ListQuery, found: &Value) -> String {
    let mut html = String::from("<nav class=\"pager\" aria-label=\"Pages\">");
    if !q.after.is_empty() {
        let _ = write!(
            html,
            "<a href=\"{}\">First page</a>",
            esc(&q.href(None, None))
        );
    }
    if let Some(next) = found["next"].as_str() {
        let _ = write!(
            html,
            "<a href=\"{}\" rel=\"next\">Next page</a>",
            esc(&q.href(None, Some(next)))
        );
    }
    html.push_str("</nav>\n");
    html
}

/// "Save as view": the current workflow, filter and columns under a key of the namespace.
fn save_form(ctx: &Ctx, q: &ListQuery) -> String {
    let hidden: String = [
        ("ns", &q.ns),
        ("view", &q.view),
        ("q", &q.q),
        ("status", &q.status),
        ("workflow", &q.workflow),
        ("from", &q.from),
        ("to", &q.to),
        ("sort", &q.sort),
    ]
    .iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(v)))
    .collect();
    format!(
        "<details class=\"card\"><summary>Save this list as a view</summary>\
         <form method=\"post\" action=\"{HREF}/views\">{}{hidden}\
         <div class=\"filters\">\
         <div class=\"field\"><label for=\"view-title\">Title</label><input id=\"view-title\" name=\"title\" required maxlength=\"200\"></div>\
         <div class=\"field\"><label for=\"view-key\">Key</label><input id=\"view-key\" name=\"key\" required pattern=\"[A-Za-z0-9_.\\-]{{1,128}}\" aria-describedby=\"view-key-hint\">\
         <p class=\"hint\" id=\"view-key-hint\">Letters, digits, <code>_ . -</code>; a view with the same key is replaced.</p></div>\
         <div class=\"field\"><label for=\"view-columns\">Property columns</label><input id=\"view-columns\" name=\"columns\" aria-describedby=\"view-columns-hint\">\
         <p class=\"hint\" id=\"view-columns-hint\">Workflow properties to show, separated by commas (FULL_NAME, DOCUMENT_NUMBER).</p></div>\
         </div><div class=\"actions\"><button type=\"submit\" class=\"secondary\">Save view</button></div></form></details>\n",
        ui::form_fields(ctx)
    )
}

/// The form of "save as view".
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SaveView {
    csrf: String,
    idem: String,
    title: String,
    key: String,
    columns: String,
    #[serde(flatten)]
    list: ListQuery,
}

/// `POST /portal/sessions/views`: stores the list as a view
/// (`POST /api/views/namespaces/{ns}/key/{key}`), then shows it.
pub async fn save(ctx: Ctx, form: Result<Form<SaveView>, FormRejection>) -> Response {
    let Ok(Form(f)) = form else {
        return ui::forbidden(&ctx, "send this form from the portal's page");
    };
    if let Err(resp) = ctx.check(&f.csrf) {
        return resp;
    }
    let mut q = f.list.clone();
    q.after.clear();
    let base = match body(None, &q, q.status().ok().flatten()) {
        Ok(b) => b,
        Err(e) => return ui::done(&ctx, &q.href(None, None), &e),
    };
    let mut columns = vec![json!({"type": "field", "name": "status"})];
    for name in f
        .columns
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        columns.push(json!({"type": "property", "name": name}));
    }
    let mut value = json!({
        "title": f.title.trim(),
        "columns": columns,
        "sort": base["sort"],
    });
    if !q.workflow.is_empty() {
        value["workflows"] = json!([q.workflow]);
    }
    if let Some(filter) = base.get("filter") {
        value["filter"] = filter.clone();
    }
    let uri = format!(
        "/api/views/namespaces/{}/key/{}",
        enc(q.namespace()),
        enc(f.key.trim())
    );
    let r = ctx
        .api
        .json(Method::POST, &uri, &value, &Ctx::idem(&f.idem))
        .await;
    if !r.ok() {
        let (_, message) = r.error();
        return ui::done(
            &ctx,
            &q.href(None, None),
            &format!("The view was not saved: {message}"),
        );
    }
    let shown = ListQuery {
        ns: q.ns.clone(),
        view: f.key.trim().to_string(),
        ..ListQuery::default()
    };
    ui::done(
        &ctx,
        &shown.href(None, None),
        &format!("Saved the view {}.", f.title.trim()),
    )
}
