//! The dashboard at `/`: sessions created per day by status over a chosen range, as a stacked
//! bar chart drawn by the server (SVG, no script) and the same numbers as a table; and, per
//! workflow, where its sessions are: per step, how many reached it and how many stopped there,
//! as horizontal bars and a table. The figures come from `GET /api/stats/sessions` and
//! `GET /api/stats/funnel` (counters, never a scan of the sessions), which need
//! `session_all:read`; a user without it gets the links to what their roles open.

use super::Ctx;
use super::call::enc;
use super::ui::{self, esc};
use crate::api::stats::{Funnel, SessionStats};
use crate::routes::query_param;
use axum::http::StatusCode;
use axum::response::Response;
use idv_core::permission::Op;
use std::fmt::Write;

/// The colour of each status in the chart and its legend (3:1 or more against white and
/// against the status beside it in a bar, which also has a white edge between).
const STATUS_FILL: &[(i64, &str)] = &[
    (0, "#5c5c66"),
    (1, "#b3261e"),
    (2, "#0b7a56"),
    (3, "#1d4ed8"),
    (4, "#a35a00"),
    (1000, "#7b1fa2"),
];
/// The funnel's two parts of a bar.
const WENT_ON_FILL: &str = "#1d4ed8";
const STOPPED_FILL: &str = "#a35a00";

fn fill(status: i64) -> &'static str {
    STATUS_FILL
        .iter()
        .find(|(s, _)| *s == status)
        .map_or("#1b1b1f", |(_, f)| f)
}

/// A status as a capitalised label ("Not verified").
fn label(status: i64) -> String {
    let name = idv_core::status::name(status)
        .map(|n| n.replace('_', " "))
        .unwrap_or_else(|| format!("status {status}"));
    let mut c = name.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// `GET /` for a signed-in user, with the page's query (`from`, `to`, `workflow` for the days;
/// `flow` for the funnel).
pub(super) async fn dashboard(ctx: Ctx, query: &str) -> Response {
    if !ctx.may("session_all", Op::Read) {
        return links_only(&ctx);
    }
    let get = |n: &str| query_param(query, n).unwrap_or_default();
    let (from, to, workflow, flow) = (get("from"), get("to"), get("workflow"), get("flow"));
    let mut q = Vec::new();
    for (name, v) in [("from", &from), ("to", &to), ("workflowId", &workflow)] {
        if !v.is_empty() {
            q.push(format!("{name}={}", enc(v)));
        }
    }
    let stats_uri = format!("/api/stats/sessions?{}", q.join("&"));
    let funnel_uri = if flow.is_empty() {
        "/api/stats/funnel".to_string()
    } else {
        format!("/api/stats/funnel?workflowId={}", enc(&flow))
    };
    let (mut stats, mut funnel) = tokio::join!(ctx.api.get(&stats_uri), ctx.api.get(&funnel_uri));
    let mut notes = String::new();
    // A bad range or an unknown workflow: say so and show the defaults.
    if stats.status == StatusCode::BAD_REQUEST || stats.status == StatusCode::NOT_FOUND {
        let (_, message) = stats.error();
        notes.push_str(&ui::alert(&format!(
            "These dates or this workflow cannot be shown ({message}). Showing the last 14 days of all workflows instead."
        )));
        stats = ctx.api.get("/api/stats/sessions").await;
    }
    if funnel.status == StatusCode::NOT_FOUND || funnel.status == StatusCode::BAD_REQUEST {
        let (_, message) = funnel.error();
        notes.push_str(&ui::alert(&format!(
            "The steps of this workflow cannot be shown ({message})."
        )));
        funnel = ctx.api.get("/api/stats/funnel").await;
    }
    for r in [&stats, &funnel] {
        if !r.ok() {
            return ui::failed(&ctx, "/", "Dashboard", r);
        }
    }
    let (Some(stats), Some(funnel)) = (stats.json::<SessionStats>(), funnel.json::<Funnel>())
    else {
        return ui::page_with(
            &ctx,
            StatusCode::BAD_GATEWAY,
            "/",
            "Dashboard",
            &ui::alert("The statistics could not be read."),
        );
    };
    let mut body = notes;
    days_section(&mut body, &stats, &funnel);
    funnel_section(&mut body, &stats, &funnel);
    ui::page(&ctx, "/", "Dashboard", &body)
}

/// For a user who may not read every session: what their roles open instead.
fn links_only(ctx: &Ctx) -> Response {
    let mut links = String::new();
    for a in ui::AREAS
        .iter()
        .filter(|a| a.href != "/" && ctx.may_any(a.needs))
    {
        let _ = write!(links, "<li><a href=\"{}\">{}</a></li>", a.href, a.label);
    }
    let body = if links.is_empty() {
        "<p>Your roles do not open any part of the portal yet. Ask an administrator for a role.</p>\n"
            .to_string()
    } else {
        format!(
            "<p>The figures of this page need a role that reads every session. \
             Your roles open these:</p>\n<ul>{links}</ul>\n"
        )
    };
    ui::page(ctx, "/", "Dashboard", &body)
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
        esc(value)
    )
}

fn workflow_options(out: &mut String, funnel: &Funnel, selected: Option<&str>) {
    for w in &funnel.workflows {
        let sel = if Some(w.id.as_str()) == selected {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<option value=\"{}\"{sel}>{}</option>",
            esc(&w.id),
            esc(&w.name)
        );
    }
}

fn workflow_name<'a>(funnel: &'a Funnel, id: &'a str) -> &'a str {
    funnel
        .workflows
        .iter()
        .find(|w| w.id == id)
        .map_or(id, |w| w.name.as_str())
}

fn days_section(out: &mut String, s: &SessionStats, funnel: &Funnel) {
    let total: i64 = s.days.iter().map(|d| d.total).sum();
    let scope = match &s.workflow_id {
        Some(id) => format!("of {}", workflow_name(funnel, id)),
        None => "of all workflows".to_string(),
    };
    let _ = write!(
        out,
        "<section aria-labelledby=\"days-h\">\n<h2 id=\"days-h\">Sessions per day</h2>\n\
         <form method=\"get\" action=\"/\" class=\"card dash-form\">\
         <div class=\"field\"><label for=\"from\">From</label>\
         <input id=\"from\" name=\"from\" type=\"date\" value=\"{from}\"></div>\
         <div class=\"field\"><label for=\"to\">To</label>\
         <input id=\"to\" name=\"to\" type=\"date\" value=\"{to}\"></div>\
         <div class=\"field wide\"><label for=\"workflow\">Workflow</label>\
         <select id=\"workflow\" name=\"workflow\"><option value=\"\">All workflows</option>",
        from = esc(&s.from),
        to = esc(&s.to),
    );
    workflow_options(out, funnel, s.workflow_id.as_deref());
    let _ = writeln!(
        out,
        "</select></div>{}<div class=\"field\"><button type=\"submit\" class=\"primary\">Show</button></div></form>",
        funnel
            .workflow_id
            .as_deref()
            .map(|f| hidden("flow", f))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "<p id=\"days-summary\">{total} {} created from {} to {} (UTC), {}.</p>",
        if total == 1 { "session" } else { "sessions" },
        esc(&s.from),
        esc(&s.to),
        esc(&scope)
    );
    if total > 0 {
        day_chart(out, s, &scope, total);
        day_table(out, s);
    }
    out.push_str("</section>\n");
}

/// The smallest of 1, 2, 5 times a power of ten that is at least `n` (at least 1).
fn nice(n: i64) -> i64 {
    let mut p = 1;
    loop {
        for m in [1, 2, 5] {
            if m * p >= n {
                return m * p;
            }
        }
        p *= 10;
    }
}

/// A number for SVG coordinates (one decimal).
fn f(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

fn day_chart(out: &mut String, s: &SessionStats, scope: &str, total: i64) {
    const W: f64 = 480.0;
    const H: f64 = 240.0;
    const LEFT: f64 = 40.0;
    const RIGHT: f64 = 6.0;
    const TOP: f64 = 10.0;
    const BOTTOM: f64 = 30.0;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let n = s.days.len().max(1) as f64;
    let top = nice(s.days.iter().map(|d| d.total).max().unwrap_or(0)) as f64;
    let y = |v: f64| TOP + plot_h - v / top * plot_h;
    let slot = plot_w / n;
    let bar = (slot * 0.7).min(36.0);
    let name = format!(
        "Sessions created per day by status, {} to {}, {scope}: {total} in all. The table below lists each day.",
        s.from, s.to
    );
    let _ = write!(
        out,
        "<figure class=\"card chart\">\n<svg viewBox=\"0 0 {W} {H}\" width=\"100%\" role=\"img\" \
         aria-label=\"{n}\" focusable=\"false\"><title>{n}</title>",
        n = esc(&name)
    );
    // Grid lines and their values.
    let ticks: Vec<f64> = if top as i64 % 2 == 0 {
        vec![0.0, top / 2.0, top]
    } else {
        vec![0.0, top]
    };
    for t in ticks {
        let _ = write!(
            out,
            "<line x1=\"{l}\" x2=\"{r}\" y1=\"{yy}\" y2=\"{yy}\" stroke=\"#c9c9d1\" stroke-width=\"1\"/>\
             <text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\" class=\"tick\">{v}</text>",
            l = f(LEFT),
            r = f(W - RIGHT),
            yy = f(y(t)),
            lx = f(LEFT - 6.0),
            ty = f(y(t) + 5.0),
            v = t as i64
        );
    }
    // One label every few days so that they never overlap.
    let every = (s.days.len() as f64 / 7.0).ceil().max(1.0) as usize;
    for (i, d) in s.days.iter().enumerate() {
        let cx = LEFT + slot * (i as f64 + 0.5);
        let mut base = 0.0;
        for c in &d.statuses {
            let (y0, y1) = (y(base), y(base + c.count as f64));
            let _ = write!(
                out,
                "<rect x=\"{x}\" y=\"{y1}\" width=\"{w}\" height=\"{h}\" fill=\"{fill}\" stroke=\"#ffffff\" stroke-width=\"1\">\
                 <title>{date}: {count} {label}</title></rect>",
                x = f(cx - bar / 2.0),
                y1 = f(y1),
                w = f(bar),
                h = f(y0 - y1),
                fill = fill(c.status),
                date = esc(&d.date),
                count = c.count,
                label = esc(&label(c.status).to_lowercase()),
            );
            base += c.count as f64;
        }
        if i % every == 0 {
            let _ = write!(
                out,
                "<text x=\"{x}\" y=\"{ty}\" text-anchor=\"middle\" class=\"tick\">{day}</text>",
                x = f(cx),
                ty = f(H - BOTTOM + 20.0),
                day = esc(d.date.get(5..).unwrap_or(&d.date))
            );
        }
    }
    out.push_str("</svg>\n<figcaption><ul class=\"legend\">");
    for (status, _) in STATUS_FILL {
        let _ = write!(
            out,
            "<li><span class=\"swatch st{status}\" aria-hidden=\"true\"></span>{}</li>",
            label(*status)
        );
    }
    out.push_str("</ul></figcaption>\n</figure>\n");
}

fn day_table(out: &mut String, s: &SessionStats) {
    let statuses: Vec<i64> = s.totals.iter().map(|t| t.status).collect();
    let _ = write!(
        out,
        "<div class=\"table-wrap\" role=\"region\" aria-labelledby=\"days-caption\" tabindex=\"0\">\
         <table id=\"days\" class=\"compact\"><caption id=\"days-caption\" class=\"sr-only\">Sessions created per day by status</caption>\
         <thead><tr><th scope=\"col\">Day</th>"
    );
    for st in &statuses {
        let _ = write!(out, "<th scope=\"col\" class=\"num\">{}</th>", label(*st));
    }
    out.push_str("<th scope=\"col\" class=\"num\">All</th></tr></thead><tbody>");
    for d in s.days.iter().rev() {
        let _ = write!(
            out,
            "<tr data-day=\"{0}\"><th scope=\"row\">{0}</th>",
            esc(&d.date)
        );
        for st in &statuses {
            let n = d
                .statuses
                .iter()
                .find(|c| c.status == *st)
                .map_or(0, |c| c.count);
            let _ = write!(out, "<td class=\"num\" data-status=\"{st}\">{n}</td>");
        }
        let _ = write!(
            out,
            "<td class=\"num\" data-status=\"all\">{}</td></tr>",
            d.total
        );
    }
    out.push_str("</tbody><tfoot><tr data-day=\"all\"><th scope=\"row\">All days</th>");
    for t in &s.totals {
        let _ = write!(
            out,
            "<td class=\"num\" data-status=\"{}\">{}</td>",
            t.status, t.count
        );
    }
    let _ = writeln!(
        out,
        "<td class=\"num\" data-status=\"all\">{}</td></tr></tfoot></table></div>",
        s.totals.iter().map(|t| t.count).sum::<i64>()
    );
}

fn funnel_section(out: &mut String, s: &SessionStats, funnel: &Funnel) {
    out.push_str(
        "<section aria-labelledby=\"steps-h\">\n<h2 id=\"steps-h\">Where sessions are</h2>\n",
    );
    let Some(id) = funnel.workflow_id.as_deref() else {
        out.push_str("<p>No workflow is loaded and no session is stored yet.</p>\n</section>\n");
        return;
    };
    out.push_str(
        "<form method=\"get\" action=\"/\" class=\"card dash-form\">\
         <div class=\"field wide\"><label for=\"flow\">Workflow</label><select id=\"flow\" name=\"flow\">",
    );
    workflow_options(out, funnel, Some(id));
    let _ = writeln!(
        out,
        "</select></div>{}{}{}<div class=\"field\"><button type=\"submit\" class=\"primary\">Show steps</button></div></form>",
        hidden("from", &s.from),
        hidden("to", &s.to),
        s.workflow_id
            .as_deref()
            .map(|w| hidden("workflow", w))
            .unwrap_or_default()
    );
    let name = funnel.workflow_name.as_deref().unwrap_or(id);
    let _ = writeln!(
        out,
        "<p id=\"steps-summary\">{} {} of {} stored, all time: per step, how many reached it and how many stopped there (waiting in it, or ended in it).</p>",
        funnel.sessions,
        if funnel.sessions == 1 {
            "session"
        } else {
            "sessions"
        },
        esc(name)
    );
    if funnel.sessions > 0 && !funnel.steps.is_empty() {
        funnel_chart(out, funnel, name);
    }
    let _ = write!(
        out,
        "<div class=\"table-wrap\" role=\"region\" aria-labelledby=\"steps-caption\" tabindex=\"0\">\
         <table id=\"steps\" class=\"compact\"><caption id=\"steps-caption\" class=\"sr-only\">Steps of {}</caption>\
         <thead><tr><th scope=\"col\">Step</th><th scope=\"col\" class=\"num\">Reached</th>\
         <th scope=\"col\" class=\"num\">Stopped here</th></tr></thead><tbody>",
        esc(name)
    );
    for st in &funnel.steps {
        let _ = write!(
            out,
            "<tr data-step=\"{}\"><th scope=\"row\">{}{}</th><td class=\"num\" data-count=\"reached\">{}</td>\
             <td class=\"num\" data-count=\"stopped\">{}</td></tr>",
            esc(&st.id),
            esc(&st.name),
            if st.is_final {
                " <span class=\"muted\">(final)</span>"
            } else {
                ""
            },
            st.reached,
            st.stopped
        );
    }
    out.push_str("</tbody></table></div>\n</section>\n");
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        text.chars().take(max - 1).collect::<String>() + "…"
    }
}

fn funnel_chart(out: &mut String, funnel: &Funnel, name: &str) {
    const W: f64 = 400.0;
    const ROW: f64 = 52.0;
    const BAR: f64 = 20.0;
    let h = ROW * funnel.steps.len() as f64 + 4.0;
    let most = funnel
        .steps
        .iter()
        .map(|s| s.reached)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let label = format!(
        "Steps of {name}: {}. The table below lists the same numbers.",
        funnel
            .steps
            .iter()
            .map(|s| format!("{} reached {}, stopped {}", s.name, s.reached, s.stopped))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let _ = write!(
        out,
        "<figure class=\"card chart\">\n<svg viewBox=\"0 0 {W} {h}\" width=\"100%\" role=\"img\" \
         aria-label=\"{l}\" focusable=\"false\"><title>{l}</title>",
        l = esc(&label)
    );
    for (i, st) in funnel.steps.iter().enumerate() {
        let top = ROW * i as f64;
        let _ = write!(
            out,
            "<text x=\"0\" y=\"{ty}\" class=\"step\">{n}</text>\
             <text x=\"{W}\" y=\"{ty}\" text-anchor=\"end\" class=\"tick\">{r} reached, {s} stopped</text>\
             <rect x=\"0\" y=\"{by}\" width=\"{W}\" height=\"{BAR}\" fill=\"#ececf1\"/>",
            ty = f(top + 17.0),
            n = esc(&cut(&st.name, 22)),
            r = st.reached,
            s = st.stopped,
            by = f(top + 26.0),
        );
        let stopped = W * st.stopped as f64 / most;
        let went_on = W * (st.reached - st.stopped).max(0) as f64 / most;
        if stopped > 0.0 {
            let _ = write!(
                out,
                "<rect x=\"0\" y=\"{by}\" width=\"{w}\" height=\"{BAR}\" fill=\"{STOPPED_FILL}\"><title>{n}: {c} stopped here</title></rect>",
                by = f(top + 26.0),
                w = f(stopped),
                n = esc(&st.name),
                c = st.stopped
            );
        }
        if went_on > 0.0 {
            let _ = write!(
                out,
                "<rect x=\"{x}\" y=\"{by}\" width=\"{w}\" height=\"{BAR}\" fill=\"{WENT_ON_FILL}\" stroke=\"#ffffff\" stroke-width=\"1\"><title>{n}: {c} went on</title></rect>",
                x = f(stopped),
                by = f(top + 26.0),
                w = f(went_on),
                n = esc(&st.name),
                c = st.reached - st.stopped
            );
        }
    }
    out.push_str(
        "</svg>\n<figcaption><ul class=\"legend\">\
         <li><span class=\"swatch stopped\" aria-hidden=\"true\"></span>Stopped here</li>\
         <li><span class=\"swatch went-on\" aria-hidden=\"true\"></span>Went on</li></ul></figcaption>\n</figure>\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_and_labels() {
        assert_eq!(
            [0, 1, 2, 3, 7, 10, 11, 60, 101].map(nice),
            [1, 1, 2, 5, 10, 10, 20, 100, 200]
        );
        assert_eq!(f(12.0), "12");
        assert_eq!(f(12.345), "12.3");
        assert_eq!(label(0), "Not completed");
        assert_eq!(label(1000), "Rejected");
        assert_eq!(label(7), "Status 7");
        assert_eq!(cut("Introduction", 26), "Introduction");
        assert_eq!(cut("abcdef", 4), "abc…");
    }
}
