// Steps a browser cannot do. SCAN_RFID: a browser cannot read a document's chip, so the page
// says so and goes back (the workflow's cancel path leads to its skip choice). LIVENESS and any
// template the page does not know: a screen that says what the step needs, with a QR code that
// opens this same session on a phone — never a blank page.

import { alertBox, button, h, screen, t } from "../ui.js";

export const rfid = {
  render(ctx) {
    const box = h("div", { class: "actions" });
    box.append(button(t("back"), () => ctx.submit({ transactionId: "", cancel: true }).catch((err) => box.prepend(alertBox(err.message)))));
    screen(t("nfcTitle"), h("p", {}, t("nfcText")), box);
  },
};

export const elsewhere = {
  render(ctx) {
    const img = h("img", { class: "qr", alt: t("phoneTitle"), hidden: true });
    const template = (ctx.step.client && ctx.step.client.templateId) || ctx.step.id;
    // What the step is, in words for a known kind; else its template's name.
    const what = template === "LIVENESS" ? t("livenessText") : `(${template})`;
    screen(t("phoneTitle"), h("p", {}, what), h("p", {}, t("phoneText")), img, h("p", { class: "muted" }, t("phoneLink")));
    ctx.api.handoff(ctx.sessionId).then((blob) => {
      img.src = URL.createObjectURL(blob);
      img.hidden = false;
    }).catch(() => {});
  },
};
