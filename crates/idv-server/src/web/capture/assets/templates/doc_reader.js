// DOC_READER (Regula's document step): the person photographs the document's pages; the page
// sends them to the Document Reader service through idv's gateway (`POST
// {serviceURL}/api/process`, as Regula's web components do with backend processing) and submits
// the transaction id as the step's data, which the workflow's transformers read.

import { alertBox, button, h, screen, t } from "../ui.js";
import { photoTaker } from "./camera.js";

/** The gateway path of `serviceURL` (same origin only; `/drapi` otherwise). */
function servicePath(client) {
  const url = client && client.processParam && client.processParam.backendProcessing && client.processParam.backendProcessing.serviceURL;
  try {
    const u = new URL(url, location.href);
    if (u.origin === location.origin) return u.pathname.replace(/\/+$/, "");
  } catch {
    // fall through
  }
  return "/drapi";
}

function base64(blob) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).split(",")[1] || "");
    r.onerror = () => reject(r.error);
    r.readAsDataURL(blob);
  });
}

export function render(ctx) {
  const client = ctx.step.client || {};
  const front = photoTaker({ label: t("docFront"), property: "DOCUMENT_PAGE_1", kind: "document" });
  const back = photoTaker({ label: t("docBack"), property: "DOCUMENT_PAGE_2", kind: "document" });
  const box = h("div", { class: "actions" });
  const send = button(t("sendDocument"), async () => {
    box.querySelectorAll(".alert").forEach((a) => a.remove());
    const pages = [front, back].map((tk) => tk.blob()).filter(Boolean);
    if (!pages.length) {
      box.prepend(alertBox(t("missingPhotos")));
      return;
    }
    send.disabled = true;
    try {
      const { backendProcessing, ...processParam } = client.processParam || {};
      const list = [];
      for (const [i, b] of pages.entries()) list.push({ ImageData: { image: await base64(b) }, light: 6, page_idx: i });
      const result = await ctx.api.process(servicePath(client), { processParam: { scenario: "FullProcess", ...processParam }, tag: ctx.sessionId, List: list });
      const tx = result && result.TransactionInfo && result.TransactionInfo.TransactionID;
      if (!tx) throw new Error(t("docFailed"));
      front.stop();
      back.stop();
      // The workflow reads the results in the background; the page waits for them.
      await ctx.submit({ transactionId: String(tx), cancel: false, has_nfc: false });
    } catch (err) {
      box.prepend(alertBox(err.status ? t("docFailed") : err.message));
    } finally {
      send.disabled = false;
    }
  });
  const cancel = button(t("back"), () => ctx.submit({ transactionId: "", cancel: true, has_nfc: false }).catch((err) => box.prepend(alertBox(err.message))), false);
  box.append(send, cancel);
  screen(t("docTitle"), front.element, back.element, box);
}
