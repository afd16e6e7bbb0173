// The capture page: reads the link, takes the token out of the address bar at once, and shows
// the session's current step with the module registered for its template.

import { ApiError, createApi } from "./api.js";
import { h, notice, progress, screen, setLocale, t } from "./ui.js";
import { templateFor } from "./templates/registry.js";
import * as waitScreen from "./templates/progress.js";

const STORE = "idv.capture";

/** `{authorization, sessionId, locale?}` (locale: the language picked here) from `/mobile?authorization=…&sessionId=…`, `/capture?url=<that
 * link>`, or, after a reload, from this tab's storage. */
function readLink() {
  const here = new URL(location.href);
  let params = here.searchParams;
  if (params.has("url")) {
    try {
      params = new URL(params.get("url"), location.href).searchParams;
    } catch {
      params = new URLSearchParams();
    }
  }
  let found = null;
  if (params.has("authorization")) {
    found = { authorization: params.get("authorization").trim(), sessionId: params.get("sessionId") || "" };
  }
  if (here.search) {
    // The token leaves the address bar (and the history) before anything else happens.
    history.replaceState(null, "", here.pathname);
  }
  if (found) {
    if (!/^Token\s+\S+$/.test(found.authorization)) found.authorization = "Token " + found.authorization;
    sessionStorage.setItem(STORE, JSON.stringify(found));
    return found;
  }
  try {
    return JSON.parse(sessionStorage.getItem(STORE) || "null");
  } catch {
    return null;
  }
}

function remember(link) {
  sessionStorage.setItem(STORE, JSON.stringify(link));
}

const state = { api: null, link: null, sessionId: "", locale: null, current: null, busy: false };

/** Shows what an error means to the person. */
function showError(err) {
  if (err instanceof ApiError) {
    if (err.status === 401) return notice("badLinkTitle", "badLinkText");
    if (err.status === 410 || err.code === "session_deleted") return notice("deletedTitle", "deletedText");
    if (err.status === 404 && err.code === "session_not_found") return notice("badLinkTitle", "badLinkText");
    if (err.code === "session_ended") return load();
  }
  console.error(err);
  notice("errorTitle", "errorText", [h("div", { class: "actions" }, h("button", { type: "button", class: "primary", onclick: () => load() }, t("retry")))]);
}

function languagePicker(cur) {
  const box = document.getElementById("lang-box");
  const select = document.getElementById("lang");
  if (!box || !select) return;
  if (!cur.locales || cur.locales.length < 2) {
    box.hidden = true;
    return;
  }
  select.replaceChildren(...cur.locales.map((l) => h("option", { value: l.code, selected: l.code === cur.locale }, l.value || l.code)));
  select.onchange = () => {
    state.locale = select.value;
    // The choice outlives a reload of this tab.
    if (state.link) {
      state.link.locale = state.locale;
      remember(state.link);
    }
    load();
  };
  box.hidden = false;
}

/** Loads where the session stands and shows it. */
async function load() {
  let cur;
  try {
    cur = await state.api.current(state.sessionId, state.locale);
  } catch (err) {
    return showError(err);
  }
  render(cur);
}

function render(cur) {
  state.current = cur;
  setLocale(cur.locale);
  languagePicker(cur);
  if (cur.expired) return notice("expiredTitle", "expiredText");
  const step = cur.step;
  if (!step) return notice("endedTitle", "endedText");
  const done = cur.completed || 0;
  progress(cur.ended ? 1 : done / (done + 3));
  const template = templateFor(step, cur);
  const ctx = {
    step,
    current: cur,
    sessionId: state.sessionId,
    api: state.api,
    /** Posts `data` as the step's data, then shows whatever comes next. On a refusal the
     * error is thrown back to the template (a form shows it beside the field). */
    submit: async (data) => {
      if (state.busy) return;
      state.busy = true;
      performance.mark("idv-submit:" + step.id);
      try {
        await state.api.submit(state.sessionId, step.id, data);
      } catch (err) {
        state.busy = false;
        if (err instanceof ApiError && (err.status === 400 || err.status === 422)) throw err;
        return showError(err);
      }
      state.busy = false;
      await load();
    },
    /** Uploads `[[property, blob, name]]` as the step's files. */
    upload: (parts) => state.api.upload(state.sessionId, step.id, parts),
    reload: load,
    fail: showError,
  };
  if (cur.ended && !step.final) return notice("endedTitle", "endedText");
  try {
    // Background actions of the step still run (DOC_READER's results): the session moves on
    // by itself, so the page waits and looks again instead of asking for the step once more.
    // While the step's background actions run: the workflow's own waiting screen if it has
    // one (its PROGRESS client), else the page's.
    if (cur.waiting) waitScreen.render(cur.progress ? { ...ctx, step: { ...step, client: cur.progress } } : ctx);
    else template.render(ctx);
  } catch (err) {
    return showError(err);
  }
  // Marks for tests and the benchmark: which step is on screen, and when it was painted.
  document.body.dataset.step = step.id;
  requestAnimationFrame(() => performance.mark("idv-ready:" + step.id));
}

async function main() {
  setLocale(navigator.language || "en");
  const link = readLink();
  if (!link || !link.authorization) return notice("badLinkTitle", "badLinkText");
  let api = createApi(link.authorization);
  try {
    if (/^Token\s+tr-/.test(link.authorization)) {
      // A QR code's one-time token: exchanged once for a token bound to its session.
      const ex = await api.exchange();
      link.authorization = ex.authorization;
      link.sessionId = ex.sessionId;
      api = createApi(link.authorization);
      remember(link);
    }
    if (!link.sessionId) {
      // A token without a session starts one session of its (first) workflow.
      const list = await api.workflows();
      // GET /api/workflows answers an array (as Regula's does).
      const first = (Array.isArray(list) ? list : (list && list.items) || [])[0];
      if (!first) return notice("badLinkTitle", "badLinkText");
      const s = await api.start(first.id);
      link.sessionId = s.id;
      remember(link);
    }
  } catch (err) {
    return showError(err);
  }
  state.api = api;
  state.link = link;
  state.sessionId = link.sessionId;
  state.locale = link.locale || null;
  screen(t("loading"));
  await load();
}

main();
