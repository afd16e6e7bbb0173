// Which module shows which template: Regula's INFO, INFO_DETAILS, STATUS, PROGRESS, DOC_READER,
// SCAN_RFID and LIVENESS, and idv's own FORM and CAPTURE. A new template is a new file and one
// line here. A step without a known template gets a screen that says what it needs.

import * as info from "./info.js";
import * as status from "./status.js";
import * as progress from "./progress.js";
import * as form from "./form.js";
import * as camera from "./camera.js";
import * as docReader from "./doc_reader.js";
import * as unsupported from "./unsupported.js";

const TEMPLATES = {
  INFO: info,
  INFO_DETAILS: info,
  STATUS: status,
  PROGRESS: progress,
  FORM: form,
  CAPTURE: camera,
  DOC_READER: docReader,
  SCAN_RFID: unsupported.rfid,
  LIVENESS: unsupported.elsewhere,
};

/** The module for a step: by its `templateId`; a final step without one shows as STATUS. */
export function templateFor(step) {
  const id = step.client && step.client.templateId;
  if (id && TEMPLATES[id]) return TEMPLATES[id];
  if (!id && step.final) return status;
  return unsupported.elsewhere;
}
