// PROGRESS: the server is working on the session; the page waits and looks again until the
// session moves on. Also the wait screen of any step whose background actions still run.

import { h, screen, t, text } from "../ui.js";

export function render(ctx) {
  const layout = (ctx.step.client && ctx.step.client.templateLayout) || {};
  const view = layout.progressView || layout;
  const title = text(view.title);
  // "Please wait" once: as the heading when the workflow gives none, else under its heading.
  screen(title || t("wait"), h("div", { class: "spinner", "aria-hidden": "true" }), title ? h("p", { role: "status", class: "muted" }, t("wait")) : null);
  const stepId = ctx.step.id;
  const waited = !!(ctx.current && ctx.current.waiting);
  setTimeout(async function poll() {
    try {
      const cur = await ctx.api.current(ctx.sessionId);
      // Moved on, or (when it waited for background actions) done waiting in the same step.
      if (cur.ended || !cur.step || cur.step.id !== stepId || (waited && !cur.waiting)) return ctx.reload();
    } catch (err) {
      return ctx.fail(err);
    }
    setTimeout(poll, 2000);
  }, 1500);
}
