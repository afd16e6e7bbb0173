// Taking photos: the camera through getUserMedia with a guide (a card outline for documents,
// an oval for a selfie), or a photo chosen from the device when there is no camera. Photos are
// downscaled in the browser (longest side at most 1600 px, JPEG) before they are sent.
// Also the CAPTURE template (idv's): `templateLayout.captures: [{property, label, kind}]`, each
// uploaded as the step's file, then the step's data `{"continue": true}` (or its button's body).

import { alertBox, button, h, screen, t, text } from "../ui.js";
import { buttons, header, intro } from "./common.js";

const MAX_SIDE = 1600;

/** Draws `source` (a video or an image) into a JPEG no larger than MAX_SIDE. */
function toJpeg(source, width, height) {
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob((b) => resolve(b), "image/jpeg", 0.85));
}

async function fileToJpeg(file) {
  const bitmap = await createImageBitmap(file);
  try {
    return await toJpeg(bitmap, bitmap.width, bitmap.height);
  } finally {
    if (bitmap.close) bitmap.close();
  }
}

/** A widget that takes one photo: `{element, property, blob(), stop()}`. */
export function photoTaker({ label, property, kind }) {
  let blob = null;
  let stream = null;
  const id = "cap-" + property;
  const finder = h("div", { class: "viewfinder", hidden: true });
  const video = h("video", { playsinline: true, muted: true, autoplay: true, "aria-label": label });
  const guide = h("div", { class: kind === "selfie" ? "guide face" : "guide", "aria-hidden": "true" });
  const preview = h("img", { alt: label, hidden: true });
  const state = h("p", { class: "done", role: "status", id: id + "-state" });
  const message = h("div", {});
  const shoot = button(t("takePhoto"), () => snap(), true, { hidden: true });
  const again = button(t("retake"), () => start(), false, { hidden: true });
  const fileInput = h("input", { type: "file", accept: "image/*", capture: kind === "selfie" ? "user" : "environment", id: id + "-file" });
  const picker = h("label", { class: "file-label", for: id + "-file" }, t("choosePhoto"), fileInput);
  finder.append(video, guide);
  const element = h("section", { class: "capture", "aria-labelledby": id + "-title", "data-property": property },
    h("h2", { id: id + "-title" }, label), finder, preview, state, message, h("div", { class: "row" }, shoot, again, picker));

  function stop() {
    if (stream) stream.getTracks().forEach((tr) => tr.stop());
    stream = null;
  }

  function show(b) {
    blob = b;
    stop();
    finder.hidden = true;
    shoot.hidden = true;
    again.hidden = false;
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(b);
    preview.className = "hero";
    preview.hidden = false;
    state.textContent = t("photoReady");
    element.dataset.ready = "true";
  }

  async function start() {
    message.replaceChildren();
    blob = null;
    delete element.dataset.ready;
    state.textContent = "";
    preview.hidden = true;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      message.replaceChildren(h("p", { class: "muted" }, t("cameraOff")));
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: kind === "selfie" ? "user" : { ideal: "environment" }, width: { ideal: 1920 }, height: { ideal: 1080 } },
        audio: false,
      });
      video.srcObject = stream;
      finder.hidden = false;
      shoot.hidden = false;
      again.hidden = true;
      await video.play().catch(() => {});
    } catch {
      stop();
      finder.hidden = true;
      shoot.hidden = true;
      message.replaceChildren(h("p", { class: "muted" }, t("cameraOff")));
    }
  }

  async function snap() {
    if (!video.videoWidth) return;
    show(await toJpeg(video, video.videoWidth, video.videoHeight));
  }

  fileInput.addEventListener("change", async () => {
    const f = fileInput.files && fileInput.files[0];
    if (!f) return;
    try {
      show(await fileToJpeg(f));
    } catch {
      message.replaceChildren(alertBox(t("cameraOff")));
    }
    fileInput.value = "";
  });

  start();
  return { element, property, blob: () => blob, stop };
}

/** Uploads every taker's photo as the step's files; false (with a message) when one is missing. */
export async function uploadAll(ctx, takers) {
  const missing = takers.find((tk) => !tk.blob());
  if (missing) {
    const el = missing.element;
    el.querySelectorAll(".alert").forEach((a) => a.remove());
    el.append(alertBox(t("missingPhotos")));
    el.querySelector("button:not([hidden]), input")?.focus();
    return false;
  }
  await ctx.upload(takers.map((tk) => [tk.property, tk.blob(), tk.property.toLowerCase() + ".jpg"]));
  takers.forEach((tk) => tk.stop());
  return true;
}

export function render(ctx) {
  const layout = (ctx.step.client && ctx.step.client.templateLayout) || {};
  const captures = Array.isArray(layout.captures) ? layout.captures : [];
  const takers = captures.map((c) => photoTaker({ label: text(c.label) || c.property, property: c.property, kind: c.kind || "document" }));
  const withButtons = Array.isArray(layout.buttons) && layout.buttons.length
    ? layout
    : { ...layout, buttons: [{ title: { text: t("next") }, responseBody: { continue: true } }] };
  const parts = [...intro(layout), ...takers.map((tk) => tk.element), buttons(ctx, withButtons, async (b) => {
    const continuing = !(b.responseBody && b.responseBody.continue === false);
    return !continuing || uploadAll(ctx, takers);
  })];
  const head = header(ctx, layout);
  const main = screen(text(layout.title) || ctx.step.name, ...parts);
  if (head) main.prepend(head);
}
