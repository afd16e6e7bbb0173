//! The checks a restored or migrated install passes before it is trusted: the database's own
//! integrity check, the audit chain, and every file row's bytes (present, with the size and
//! SHA-256 the row records).

use super::{hash_object, object_refs, sha256_hex};
use crate::audit::verify::{Verdict, verify};
use crate::state::AppState;

/// What the checks found.
#[derive(Debug, Default)]
pub struct Checked {
    pub sessions: i64,
    /// File and asset rows whose bytes were read and matched.
    pub files: u64,
    pub bytes: u64,
    /// The database's own findings (`PRAGMA integrity_check`).
    pub integrity: Vec<String>,
    /// `OK: …` or `BROKEN at entry …`.
    pub audit: String,
    pub audit_intact: bool,
    /// Rows whose bytes are missing or differ.
    pub damaged: Vec<String>,
}

impl Checked {
    /// Whether everything passed.
    pub fn sound(&self) -> bool {
        self.integrity.is_empty() && self.audit_intact && self.damaged.is_empty()
    }
}

/// Runs every check on the install of `state`.
pub async fn check(state: &AppState) -> Result<Checked, String> {
    let store = state.store.as_ref();
    let mut out = Checked {
        integrity: store
            .integrity_check()
            .await
            .map_err(|e| format!("cannot run the integrity check: {e}"))?,
        sessions: store
            .copy_count("sessions")
            .await
            .map_err(|e| e.to_string())?,
        ..Default::default()
    };
    match verify(store)
        .await
        .map_err(|e| format!("cannot read the audit log: {e}"))?
    {
        Verdict::Intact {
            count,
            anchor_seq,
            head_seq,
        } => {
            out.audit_intact = true;
            out.audit = format!("OK: {count} entries, {} to {head_seq}", anchor_seq + 1);
        }
        Verdict::Broken { seq, reason } => {
            out.audit = format!("BROKEN at entry {seq}: {reason}");
        }
    }
    for r in object_refs(store).await? {
        let found = match &r.inline {
            Some(bytes) => Some((bytes.len() as u64, sha256_hex(bytes))),
            None if r.is_inline() => None,
            None => hash_object(&state.blobs, &r.key).await?,
        };
        match found {
            Some((size, sha)) if sha == r.sha256 && size as i64 == r.size => {
                out.files += 1;
                out.bytes += size;
            }
            Some(_) => out.damaged.push(format!(
                "{} {} ({}): the bytes differ from the row's size or SHA-256",
                r.kind, r.owner, r.key
            )),
            None => out.damaged.push(format!(
                "{} {} ({}): the bytes are missing",
                r.kind, r.owner, r.key
            )),
        }
    }
    Ok(out)
}
