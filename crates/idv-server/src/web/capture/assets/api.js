// The idv API, called with the session's token exactly as an SDK calls it: the page has no
// private path to the data.

/** An answer that is not a success: its status and the error's code, message and details. */
export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || "";
    this.details = e.details;
  }
}

const enc = encodeURIComponent;

/** A client for one credential (`Token …`). */
export function createApi(authorization) {
  async function call(method, path, { json, form } = {}) {
    const headers = { Authorization: authorization, Accept: "application/json" };
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form) {
      body = form;
    }
    let r;
    try {
      r = await fetch(path, { method, headers, body, credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" });
    } catch (err) {
      throw new ApiError(0, { error: { code: "network", message: String(err) } });
    }
    const textBody = await r.text();
    let data = null;
    try {
      data = textBody ? JSON.parse(textBody) : null;
    } catch {
      data = null;
    }
    if (!r.ok) throw new ApiError(r.status, data);
    return data;
  }
  return {
    authorization,
    /** Where the session stands: `{status, ended, expired, locale, locales, completed, step}`. */
    current: (sid, locale) =>
      call("GET", `/api/sessions/${enc(sid)}/step` + (locale ? `?locale=${enc(locale)}` : "")),
    /** Submits the step's data; answers the next step. */
    submit: (sid, step, data) => call("POST", `/api/sessions/${enc(sid)}/step/${enc(step)}?type=data`, { json: data }),
    /** Uploads files to the step: `parts` is `[[property, blob, fileName]]`. */
    upload: (sid, step, parts) => {
      const form = new FormData();
      for (const [name, blob, fileName] of parts) form.append(name, blob, fileName);
      return call("POST", `/api/sessions/${enc(sid)}/step/${enc(step)}?type=file`, { form });
    },
    /** The workflows this credential may start. */
    workflows: () => call("GET", "/api/workflows"),
    /** Starts a session of `workflowId`. */
    start: (workflowId, locale) => call("POST", `/api/sessions?workflowId=${enc(workflowId)}`, { json: locale ? { locale } : {} }),
    /** Exchanges a QR code's one-time token for one bound to its session. */
    exchange: () => call("POST", "/api/deeplink/exchange"),
    /** `POST {service}/api/process` through the Document Reader gateway. */
    process: (service, body) => call("POST", `${service}/api/process`, { json: body }),
    /** A QR code (PNG) of a link that opens this session on another device. */
    handoff: async (sid) => {
      const r = await fetch(`/api/sessions/${enc(sid)}/handoff`, {
        headers: { Authorization: authorization, Accept: "image/png" },
        credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
      });
      if (!r.ok) throw new ApiError(r.status, null);
      return r.blob();
    },
  };
}
