// STATUS: the result screen (a final step usually): picture, title, description, and any
// buttons the workflow gives.

import { h, screen, text } from "../ui.js";
import { buttons, intro } from "./common.js";

export function render(ctx) {
  const layout = (ctx.step.client && ctx.step.client.templateLayout) || {};
  const parts = [...intro(layout)];
  if (Array.isArray(layout.buttons) && layout.buttons.length && !ctx.current.ended) {
    parts.push(buttons(ctx, layout));
  }
  screen(text(layout.title) || ctx.step.name, h("div", { role: "status" }, parts));
}
