//! `idv migrate --to-config FILE`: every table of this install and every file into another
//! install (PostgreSQL and whatever storage its configuration names), which must be empty.
//!
//! Tables travel through the copy port ([`idv_store::CopyStore`]) row for row, keeping ids,
//! times, hashes and insertion order, so the audit chain verifies on the target as it did here
//! and every key, password hash, token and link goes on working. Secrets sealed under this
//! install's key are opened and sealed again under the target's. A table the target does not
//! have, or a count that differs afterwards, fails the move, naming what was not moved.

use super::{Copy, copy_object, folders, list_keys, object_refs};
use crate::secrets::Keyring;
use crate::state::AppState;
use idv_store::CopyValue;
use std::collections::BTreeSet;

/// Rows per read and write.
const BATCH: i64 = 200;

/// Tables a fresh database seeds itself: emptied on the target before the copy.
const SEEDED: &[&str] = &["settings", "audit_chain"];

/// Tables whose values may be sealed secrets (webhook secrets and headers, the signing seed);
/// no other table's text is touched, so audit entries keep their hashes.
const SEALED: &[&str] = &["settings", "webhooks"];

/// What a move did.
#[derive(Debug, Default)]
pub struct Migrated {
    /// Each table with the rows copied.
    pub tables: Vec<(String, i64)>,
    /// Objects copied into the target's storage, and their bytes; zero when both installs
    /// share one storage.
    pub files: u64,
    pub bytes: u64,
    pub shared_storage: bool,
    /// Secrets opened and sealed again under the target's key.
    pub resealed: u64,
}

/// Why the move did not complete.
#[derive(Debug)]
pub struct NotMigrated {
    pub message: String,
    /// What was not moved (tables, files).
    pub not_moved: Vec<String>,
    /// Whether the target was written to before the move stopped.
    pub partial: bool,
}

impl std::fmt::Display for NotMigrated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if !self.not_moved.is_empty() {
            write!(f, "; not moved: {}", self.not_moved.join(", "))?;
        }
        Ok(())
    }
}

fn refuse(message: impl Into<String>) -> NotMigrated {
    NotMigrated {
        message: message.into(),
        not_moved: vec![],
        partial: false,
    }
}

/// Moves everything from `source` into `target`. `progress` hears each table as it is done.
pub async fn migrate(
    source: &AppState,
    target: &AppState,
    mut progress: impl FnMut(&str, i64),
) -> Result<Migrated, NotMigrated> {
    let from = source.store.as_ref();
    let to = target.store.as_ref();
    let err = |e: idv_store::StoreError| refuse(e.to_string());
    let tables = from.copy_tables().await.map_err(err)?;
    let target_tables = to.copy_tables().await.map_err(err)?;

    // Every table with rows must have a place on the target, and the target must be empty.
    let mut missing = vec![];
    let mut counts = vec![];
    for t in &tables {
        let n = from.copy_count(t).await.map_err(err)?;
        if n > 0 && !target_tables.contains(t) {
            missing.push(format!("{t} ({n} rows)"));
        }
        counts.push((t.clone(), n));
    }
    if !missing.is_empty() {
        return Err(NotMigrated {
            message: "the target database has no table for some of this install's data (run \
                      the same idv version on both)"
                .into(),
            not_moved: missing,
            partial: false,
        });
    }
    let mut held = vec![];
    for t in &target_tables {
        if SEEDED.contains(&t.as_str()) {
            continue;
        }
        let n = to.copy_count(t).await.map_err(err)?;
        if n > 0 {
            held.push(format!("{t} ({n} rows)"));
        }
    }
    if !held.is_empty() {
        return Err(refuse(format!(
            "the target is not empty: {}. Migrate into a new, empty database (and do not \
             start idv serve on it before)",
            held.join(", ")
        )));
    }

    let mut out = Migrated::default();
    let err = |e: idv_store::StoreError| NotMigrated {
        partial: true,
        ..refuse(e.to_string())
    };
    let refuse = |m: String| NotMigrated {
        partial: true,
        ..refuse(m)
    };
    let reseal = source.secrets.current_id() != target.secrets.current_id();
    for (table, expected) in &counts {
        if SEEDED.contains(&table.as_str()) {
            to.copy_clear(table).await.map_err(err)?;
        }
        let mut after = 0;
        let mut moved = 0;
        loop {
            let mut batch = from.copy_read(table, after, BATCH).await.map_err(err)?;
            if reseal && SEALED.contains(&table.as_str()) {
                for row in &mut batch.rows {
                    for v in row.iter_mut() {
                        if let CopyValue::Text(t) = v
                            && t.contains(crate::secrets::PREFIX)
                        {
                            *t = reseal_text(&source.secrets, &target.secrets, t)
                                .map_err(|e| refuse(format!("table {table}: {e}")))?;
                            out.resealed += 1;
                        }
                    }
                }
            }
            to.copy_write(table, &batch.columns, &batch.rows)
                .await
                .map_err(|e| NotMigrated {
                    message: e.to_string(),
                    not_moved: vec![format!("{table} from row {}", moved + 1)],
                    partial: true,
                })?;
            moved += batch.rows.len() as i64;
            match batch.next {
                Some(n) => after = n,
                None => break,
            }
        }
        let landed = to.copy_count(table).await.map_err(err)?;
        if landed != *expected || moved != *expected {
            return Err(NotMigrated {
                message: format!(
                    "table {table}: {expected} rows here, {moved} read, {landed} on the target \
                     (is the server still writing? stop it before migrating)"
                ),
                not_moved: vec![table.clone()],
                partial: true,
            });
        }
        progress(table, moved);
        out.tables.push((table.clone(), moved));
    }
    to.copy_finish().await.map_err(err)?;

    // The files, unless both installs keep them in one place.
    out.shared_storage = source.config.storage == target.config.storage;
    if !out.shared_storage {
        let mut copied = BTreeSet::new();
        let mut lost = vec![];
        for r in object_refs(from).await.map_err(refuse)? {
            if r.is_inline() || !copied.insert(r.key.clone()) {
                continue;
            }
            match copy_object(&source.blobs, &target.blobs, &r.key)
                .await
                .map_err(refuse)?
            {
                Copy::Done { size, sha256 } if sha256 == r.sha256 => {
                    out.files += 1;
                    out.bytes += size;
                }
                Copy::Done { .. } => lost.push(format!("{} (bytes differ from its row)", r.key)),
                Copy::Missing => lost.push(format!("{} (missing here)", r.key)),
            }
        }
        for folder in folders(&source.config) {
            for key in list_keys(&source.blobs, &folder).await.map_err(refuse)? {
                if !copied.insert(key.clone()) {
                    continue;
                }
                if let Copy::Done { size, .. } = copy_object(&source.blobs, &target.blobs, &key)
                    .await
                    .map_err(refuse)?
                {
                    out.files += 1;
                    out.bytes += size;
                }
            }
        }
        if !lost.is_empty() {
            return Err(NotMigrated {
                message: "some files could not be moved".into(),
                not_moved: lost,
                partial: true,
            });
        }
    }
    Ok(out)
}

/// Opens every sealed value in `text` (a sealed value itself, or JSON holding sealed strings)
/// with `from` and seals it again with `to`.
fn reseal_text(from: &Keyring, to: &Keyring, text: &str) -> Result<String, String> {
    if Keyring::is_sealed(text) {
        let clear = from
            .open(text)
            .map_err(|e| format!("cannot open a stored secret: {e}"))?;
        return Ok(to.seal(&clear));
    }
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Ok(text.to_owned());
    };
    fn walk(v: &mut serde_json::Value, from: &Keyring, to: &Keyring) -> Result<(), String> {
        match v {
            serde_json::Value::String(s) if Keyring::is_sealed(s) => {
                let clear = from
                    .open(s)
                    .map_err(|e| format!("cannot open a stored secret: {e}"))?;
                *s = to.seal(&clear);
            }
            serde_json::Value::Array(items) => {
                for i in items {
                    walk(i, from, to)?;
                }
            }
            serde_json::Value::Object(map) => {
                for (_, i) in map.iter_mut() {
                    walk(i, from, to)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    walk(&mut value, from, to)?;
    Ok(value.to_string())
}
