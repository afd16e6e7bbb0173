// Parts that several templates share: the header's buttons (close, back, skip), title,
// description, image and the row of buttons that post their `responseBody`.

import { alertBox, button, h, image, t, text } from "../ui.js";

/** The workflow's named layouts that `names` refer to, merged (`header.layout: [close_header]`). */
function layouts(ctx, names) {
  const all = (ctx.current && ctx.current.layout) || {};
  const out = {};
  for (const n of names || []) Object.assign(out, all[n] || {});
  return out;
}

const HEADER_BUTTONS = [
  ["backButton", "back"],
  ["skipButton", "next"],
  ["closeButton", "close"],
];

/** The header: a button for each of close/back/skip the workflow defines, posting its body. */
export function header(ctx, layout) {
  const head = (layout && layout.header) || {};
  const spec = { ...layouts(ctx, head.layout), ...head };
  const row = h("div", { class: "step-head" });
  for (const [key, word] of HEADER_BUTTONS) {
    const b = spec[key];
    if (!b || typeof b !== "object" || b.responseBody === undefined) continue;
    const label = text(b.title) || t(word);
    row.append(
      h("button", { type: "button", class: "icon-button", "aria-label": label, onclick: () => post(ctx, b.responseBody, row) }, label),
    );
  }
  return row.childElementCount ? row : null;
}

/** Posts `body` as the step's data, showing a refusal in `near`. */
async function post(ctx, body, near) {
  try {
    await ctx.submit(body);
  } catch (err) {
    near.after(alertBox(err.message));
  }
}

/** The screen's heading text, picture and description. */
export function intro(layout) {
  const parts = [];
  const img = image(layout.image, "hero");
  if (img) parts.push(img);
  const desc = text(layout.description) || text(layout.subtitle);
  if (desc) parts.push(h("p", { class: "muted" }, desc));
  return parts;
}

/** The step's buttons; each posts its `responseBody` (after `before()`, which may refuse by
 * returning false, e.g. photos not taken yet). The first is the primary one. */
export function buttons(ctx, layout, before = async () => true) {
  const list = Array.isArray(layout.buttons) ? layout.buttons : [];
  const box = h("div", { class: "actions" });
  list.forEach((b, i) => {
    const label = text(b.title) || t("next");
    const el = button(label, async () => {
      el.disabled = true;
      box.querySelectorAll(".alert").forEach((a) => a.remove());
      try {
        if (await before(b)) {
          await ctx.submit(b.responseBody === undefined ? {} : b.responseBody);
        }
      } catch (err) {
        box.prepend(alertBox(err.message));
      } finally {
        el.disabled = false;
      }
    }, i === 0);
    box.append(el);
  });
  return box;
}
