// FORM (idv's template): a form whose fields come from the step's JSON Schema (types, required,
// enums, formats, minimum/maximum, lengths, patterns), labelled by `templateLayout.fields`
// (`[{name, label, hint}]`, which also orders them). The browser checks each field first; the
// server checks the data again, and its message for a field is shown beside that field.

import { alertBox, h, screen, t, text } from "../ui.js";
import { header, intro } from "./common.js";

function inputFor(name, prop, required, id, hintId, errId) {
  const common = { id, name, "aria-describedby": [hintId, errId].filter(Boolean).join(" "), required: required || undefined };
  if (Array.isArray(prop.enum)) {
    return h("select", common, required ? null : h("option", { value: "" }, ""), prop.enum.map((v) => h("option", { value: String(v) }, String(v))));
  }
  const type = Array.isArray(prop.type) ? prop.type.find((x) => x !== "null") : prop.type;
  if (type === "boolean") return h("input", { ...common, type: "checkbox", required: undefined });
  if (type === "integer" || type === "number") {
    return h("input", { ...common, type: "number", inputmode: type === "integer" ? "numeric" : "decimal", step: type === "integer" ? "1" : "any", min: prop.minimum, max: prop.maximum });
  }
  const format = prop.format;
  const kind = format === "date" ? "date" : format === "email" ? "email" : format === "uri" ? "url" : format === "date-time" ? "datetime-local" : "text";
  const attrs = { ...common, type: kind, minlength: prop.minLength, maxlength: prop.maxLength };
  if (kind === "text" && prop.pattern) attrs.pattern = prop.pattern.replace(/^\^/, "").replace(/\$$/, "");
  if (kind === "text" && /name/i.test(name)) attrs.autocomplete = /sur|family|last/i.test(name) ? "family-name" : /given|first/i.test(name) ? "given-name" : "name";
  if (kind === "email") attrs.autocomplete = "email";
  return h("input", attrs);
}

function valueOf(input, prop) {
  const type = Array.isArray(prop.type) ? prop.type.find((x) => x !== "null") : prop.type;
  if (input.type === "checkbox") return input.checked;
  const v = input.value;
  if (v === "") return undefined;
  if (type === "integer") return Number.parseInt(v, 10);
  if (type === "number") return Number(v);
  return v;
}

/** " (optional)" after the label of a field that may be left empty, unless the workflow's
 * label says so already. */
function optionalMark(label, required) {
  if (required || label.toLowerCase().includes(t("optional").toLowerCase())) return null;
  return h("span", { class: "muted" }, ` (${t("optional")})`);
}

/** Shows `message` under the field `name` (or clears it with null). */
function setError(fields, name, message) {
  const f = fields[name];
  if (!f) return false;
  f.error.textContent = message || "";
  f.error.hidden = !message;
  if (message) f.input.setAttribute("aria-invalid", "true");
  else f.input.removeAttribute("aria-invalid");
  return true;
}

export function render(ctx) {
  const layout = (ctx.step.client && ctx.step.client.templateLayout) || {};
  const schema = ctx.step.schema || {};
  const props = schema.properties || {};
  const required = new Set(schema.required || []);
  const listed = Array.isArray(layout.fields) ? layout.fields : [];
  const names = [...listed.map((f) => f.name), ...Object.keys(props).filter((n) => !listed.some((f) => f.name === n))];
  const fields = {};
  const form = h("form", { novalidate: true });
  for (const name of names) {
    const spec = listed.find((f) => f.name === name) || {};
    const prop = { ...(props[name] || {}) };
    if (!prop.type && spec.type) prop.type = spec.type === "number" ? "number" : spec.type === "checkbox" ? "boolean" : "string";
    if (!prop.format && (spec.type === "date" || spec.type === "email")) prop.format = spec.type;
    const isRequired = required.has(name) || spec.required === true;
    const id = "f-" + name;
    const hint = text(spec.hint) || prop.description || "";
    const hintId = hint ? id + "-hint" : null;
    const errId = id + "-err";
    const input = inputFor(name, prop, isRequired, id, hintId, errId);
    const label = text(spec.label) || prop.title || name;
    const error = h("p", { class: "error", id: errId, hidden: true });
    const box = input.type === "checkbox"
      ? h("div", { class: "field" }, h("label", { for: id }, input, " ", label), error)
      : h("div", { class: "field" }, h("label", { for: id }, label, optionalMark(label, isRequired)), input, hint ? h("p", { class: "hint", id: hintId }, hint) : null, error);
    fields[name] = { input, error, prop };
    form.append(box);
  }
  const submitLabel = (Array.isArray(layout.buttons) && layout.buttons[0] && text(layout.buttons[0].title)) || t("next");
  const submit = h("button", { type: "submit", class: "primary" }, submitLabel);
  const summary = h("div", {});
  form.append(h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    summary.replaceChildren();
    let firstBad = null;
    const data = {};
    for (const [name, f] of Object.entries(fields)) {
      let message = null;
      if (!f.input.checkValidity()) {
        message = f.input.validity.valueMissing ? t("required") : f.input.validationMessage;
      }
      setError(fields, name, message);
      if (message && !firstBad) firstBad = f.input;
      const v = valueOf(f.input, f.prop);
      if (v !== undefined) data[name] = v;
    }
    if (firstBad) {
      summary.replaceChildren(alertBox(t("fixFields")));
      firstBad.focus();
      return;
    }
    submit.disabled = true;
    try {
      await ctx.submit(data);
    } catch (err) {
      // The server's own check: each violation beside its field, the rest above the button.
      const violations = Array.isArray(err.details) ? err.details : [];
      let shown = 0;
      for (const v of violations) {
        const path = String(v.path || "").replace(/^\//, "").split("/")[0];
        const missing = /"([^"]+)" is a required property/.exec(v.message || "");
        const name = path || (missing && missing[1]);
        if (name && setError(fields, name, v.message)) {
          if (!shown) fields[name].input.focus();
          shown += 1;
        }
      }
      summary.replaceChildren(alertBox(shown ? t("fixFields") : err.message));
    } finally {
      submit.disabled = false;
    }
  });
  const head = header(ctx, layout);
  const main = screen(text(layout.title) || ctx.step.name, ...intro(layout), summary, form);
  if (head) main.prepend(head);
}
