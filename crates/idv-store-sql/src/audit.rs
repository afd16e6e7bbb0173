//! Statements of the adapters' `audit` modules.

/// Run by `audit::chain_from_row`.
pub const CHAIN_FROM_ROW: &str =
    "SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM audit_chain WHERE id = 1";

/// Run by `audit::append`.
pub const APPEND: &str = "UPDATE audit_chain SET head_seq = $1, head_hash = $2 WHERE id = 1";

/// Run by `audit::prune`.
pub const PRUNE: &str =
    "SELECT seq, at, actor_kind, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2";

/// Run by `audit::prune`.
pub const PRUNE_2: &str = "DELETE FROM audit_log WHERE seq <= $1";

/// Run by `audit::prune`.
pub const PRUNE_3: &str = "UPDATE audit_chain SET anchor_seq = $1, anchor_hash = $2 WHERE id = 1";

/// The functions of the adapters' `audit` modules that are the same in both, word for word:
/// `chain_from_row`. Expanded inside each adapter's module, so the names they use (`Db`,
/// `DbRow`, `col`, `backend`, …) are that adapter's own.
#[macro_export]
macro_rules! audit_fns {
    () => {
        fn chain_from_row(row: &DbRow) -> StoreResult<AuditChain> {
            Ok(AuditChain {
                head_seq: col(row, "head_seq")?,
                head_hash: col(row, "head_hash")?,
                anchor_seq: col(row, "anchor_seq")?,
                anchor_hash: col(row, "anchor_hash")?,
            })
        }
    };
}
