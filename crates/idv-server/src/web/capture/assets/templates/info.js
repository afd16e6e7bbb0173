// INFO and INFO_DETAILS: a picture, a title, a description, an optional list of details, and
// buttons that post their `responseBody`. A step may also ask for photos with `uploads:
// [{property, label, kind}]` (idv's extension): each is taken with the camera (or chosen from
// the device) and uploaded as the step's file before its buttons post.

import { h, image, screen, text } from "../ui.js";
import { buttons, header, intro } from "./common.js";
import { photoTaker, uploadAll } from "./camera.js";

export function render(ctx) {
  const layout = (ctx.step.client && ctx.step.client.templateLayout) || {};
  const parts = [];
  const head = header(ctx, layout);
  const items = (layout.details && layout.details.items) || [];
  const list = items.length
    ? h("ul", { class: "details" }, items.map((it) => {
        const img = image(it.image, "", "");
        return h("li", {}, img, h("div", {}, h("h2", {}, text(it.title)), h("p", { class: "muted" }, text(it.description))));
      }))
    : null;
  const uploads = Array.isArray(layout.uploads) ? layout.uploads : [];
  const takers = uploads.map((u) => photoTaker({ label: text(u.label) || u.property, property: u.property, kind: u.kind || (/SELFIE|FACE|PORTRAIT/i.test(u.property) ? "selfie" : "document") }));
  parts.push(...intro(layout));
  if (list) parts.push(list);
  parts.push(...takers.map((tk) => tk.element));
  parts.push(buttons(ctx, layout, async (b) => {
    const continuing = !(b.responseBody && b.responseBody.continue === false);
    if (!continuing || !takers.length) return true;
    return uploadAll(ctx, takers);
  }));
  const main = screen(text(layout.title) || ctx.step.name, ...parts);
  if (head) main.prepend(head);
}
