// PROGRESS: the server is working on the session; the page waits and looks again until the
// session moves on.

import { h, screen, t, text } from "../ui.js";

export function render(ctx) {
  const layout = (ctx.step.client && ctx.step.client.templateLayout) || {};
  const view = layout.progressView || layout;
  const title = text(view.title);
  // "Please wait" once: as the heading when the workflow gives none, else under its heading.
  screen(title || t("wait"), h("div", { class: "spinner", "aria-hidden": "true" }), title ? h("p", { role: "status", class: "muted" }, t("wait")) : null);
  const stepId = ctx.step.id;
  setTimeout(async function poll() {
    try {
      const cur = await ctx.api.current(ctx.sessionId);
      if (cur.ended || !cur.step || cur.step.id !== stepId) return ctx.reload();
    } catch (err) {
      return ctx.fail(err);
    }
    setTimeout(poll, 2000);
  }, 1500);
}
