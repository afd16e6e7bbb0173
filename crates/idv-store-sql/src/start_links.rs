//! Statements of the adapters' `start_links` modules.

/// Run by `start_links::start_link_use`: counts one use of link `$1` at time `$2` (ms) while it
/// is not revoked, not expired and not used up, in one statement (so concurrent openings never
/// count past `max_uses`), returning `columns` of the row it counted. No row: refused.
pub fn use_once(columns: &str) -> String {
    format!(
        "UPDATE start_links SET uses = uses + 1 \
         WHERE id = $1 AND revoked_at IS NULL \
           AND (expires_at IS NULL OR expires_at > $2) \
           AND (max_uses IS NULL OR uses < max_uses) \
         RETURNING {columns}"
    )
}
