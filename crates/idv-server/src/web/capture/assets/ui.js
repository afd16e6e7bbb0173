// Building blocks of the page: a DOM builder (no HTML strings), screens, the page's own
// words in a few languages (the workflow brings its own texts), and right-to-left scripts.

const WORDS = {
  en: {
    title: "Identity verification", language: "Language", loading: "Loading…",
    close: "Close", back: "Back", next: "Continue", retry: "Try again",
    takePhoto: "Take photo", retake: "Take again", choosePhoto: "Choose a photo instead",
    chooseFile: "Choose a photo", photoReady: "Photo ready", uploading: "Sending…",
    cameraOff: "The camera is not available here. Choose a photo from your device instead.",
    missingPhotos: "Take every photo first.", fixFields: "Check the fields marked below.",
    required: "This field is needed.", optional: "optional", wait: "Please wait…",
    endedTitle: "You are done", endedText: "This verification has ended. You can close this page.",
    expiredTitle: "This link has expired", expiredText: "The time for this verification has passed. Ask for a new link.",
    deletedTitle: "This verification no longer exists", deletedText: "It was deleted. Ask for a new link if you still need to verify.",
    badLinkTitle: "This link does not work", badLinkText: "It is incomplete, already used or no longer valid. Ask for a new link.",
    errorTitle: "Something went wrong", errorText: "Please try again in a moment.",
    phoneTitle: "Continue on your phone", phoneText: "This step needs a phone app or a feature this browser does not have. Scan the code with your phone to continue there.",
    phoneLink: "Or open this page on your phone with the same link.",
    livenessText: "Next, a short video selfie shows that it is really you.",
    nfcTitle: "Chip reading is not possible here", nfcText: "A browser cannot read the chip of a document. Go back and skip this step.",
    docTitle: "Photograph your document", docFront: "Front page", docBack: "Back page (if it has one)",
    sendDocument: "Send the photos", docFailed: "The document could not be read. Take the photos again in good light.",
    step: "Step {n}",
  },
  es: {
    title: "Verificación de identidad", language: "Idioma", loading: "Cargando…",
    close: "Cerrar", back: "Atrás", next: "Continuar", retry: "Reintentar",
    takePhoto: "Tomar foto", retake: "Repetir", choosePhoto: "Elegir una foto",
    chooseFile: "Elegir una foto", photoReady: "Foto lista", uploading: "Enviando…",
    cameraOff: "La cámara no está disponible. Elija una foto de su dispositivo.",
    missingPhotos: "Tome primero todas las fotos.", fixFields: "Revise los campos marcados.",
    required: "Este campo es obligatorio.", optional: "opcional", wait: "Espere, por favor…",
    endedTitle: "Ha terminado", endedText: "Esta verificación ha finalizado. Puede cerrar esta página.",
    expiredTitle: "Este enlace ha caducado", expiredText: "El tiempo para esta verificación ha pasado. Pida un enlace nuevo.",
    deletedTitle: "Esta verificación ya no existe", deletedText: "Se eliminó. Pida un enlace nuevo si aún necesita verificarse.",
    badLinkTitle: "Este enlace no funciona", badLinkText: "Está incompleto, ya se usó o ha dejado de ser válido. Pida un enlace nuevo.",
    errorTitle: "Algo salió mal", errorText: "Inténtelo de nuevo en un momento.",
    phoneTitle: "Continúe en su teléfono", phoneText: "Este paso necesita una aplicación o una función que este navegador no tiene. Escanee el código con su teléfono para continuar.",
    phoneLink: "O abra esta página en su teléfono con el mismo enlace.",
    livenessText: "Ahora, un breve vídeo selfi muestra que es realmente usted.",
    nfcTitle: "No se puede leer el chip aquí", nfcText: "Un navegador no puede leer el chip del documento. Vuelva atrás y omita este paso.",
    docTitle: "Fotografíe su documento", docFront: "Página frontal", docBack: "Página trasera (si la tiene)",
    sendDocument: "Enviar las fotos", docFailed: "No se pudo leer el documento. Repita las fotos con buena luz.",
    step: "Paso {n}",
  },
};

const RTL = ["ar", "he", "fa", "ur", "ps", "yi", "dv", "ku", "sd", "ug"];

let lang = "en";

/** Sets the page's language (`en-us`, `es-es`, `ar` …): words, `lang` and direction. */
export function setLocale(locale) {
  const code = String(locale || "en").toLowerCase().split(/[-_]/)[0];
  lang = WORDS[code] ? code : "en";
  document.documentElement.lang = String(locale || "en").split("_").join("-");
  document.documentElement.dir = RTL.includes(code) ? "rtl" : "ltr";
  document.title = t("title");
  const brand = document.getElementById("brand");
  if (brand) brand.textContent = t("title");
  const label = document.getElementById("lang-label");
  if (label) label.textContent = t("language");
}

/** The page's own word for `key`, with `{name}` filled from `vars`. */
export function t(key, vars = {}) {
  const text = (WORDS[lang] && WORDS[lang][key]) || WORDS.en[key] || key;
  return text.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

/** An element: `h("p", {class: "muted"}, "text", child)`. Text is always text, never HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** The text of a descriptor node (`{text: "…"}`) or a plain string. */
export function text(node) {
  if (node === undefined || node === null) return "";
  if (typeof node === "string") return node;
  if (typeof node === "object" && node.text !== undefined) return String(node.text);
  return "";
}

/** An image of a descriptor node (`{imageURL}`), same-origin paths only; decorative unless `alt`. */
export function image(node, cls, alt = "") {
  const url = node && (node.imageURL || node.url);
  if (!url) return null;
  let src;
  try {
    const u = new URL(url, location.href);
    if (u.origin !== location.origin) return null;
    src = u.pathname + u.search;
  } catch {
    return null;
  }
  // A picture that does not load (an asset not uploaded yet) is left out, not shown broken.
  return h("img", { class: cls, src, alt, onerror: (ev) => ev.target.remove() });
}

/** Replaces the page's content with a new screen whose heading is `title`; focus moves to it. */
export function screen(title, ...children) {
  const main = document.getElementById("main");
  delete document.body.dataset.notice;
  const heading = h("h1", { tabindex: "-1", id: "screen-title" }, title);
  // A part a template leaves out (null, undefined, false) is no text "null" on screen.
  main.replaceChildren(heading, ...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  heading.focus({ preventScroll: true });
  window.scrollTo(0, 0);
  return main;
}

/** A screen that only says something (ended, expired, a bad link …). */
export function notice(titleKey, textKey, extra = []) {
  screen(t(titleKey), h("p", {}, t(textKey)), ...extra);
  progress(null);
  document.body.dataset.step = "";
  document.body.dataset.notice = titleKey;
  requestAnimationFrame(() => performance.mark("idv-notice:" + titleKey));
}

/** Shows how far the person is (`done` steps of about `total`), or hides the bar. */
export function progress(fraction) {
  const box = document.getElementById("progress");
  const bar = document.getElementById("progress-bar");
  if (!box || !bar) return;
  if (fraction === null || fraction === undefined) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const pct = Math.max(4, Math.min(100, Math.round(fraction * 100)));
  bar.style.width = pct + "%";
}

/** A button; `primary` picks the filled style. */
export function button(label, onclick, primary = true, attrs = {}) {
  return h("button", { type: "button", class: primary ? "primary" : "secondary", onclick, ...attrs }, label);
}

/** Announces `message` to screen readers (and shows it) in `where`, replacing the last one. */
export function alertBox(message) {
  return h("div", { class: "alert", role: "alert" }, message);
}
