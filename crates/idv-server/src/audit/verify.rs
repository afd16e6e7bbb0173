//! Checking the chain and retention.
//!
//! [`verify`] reads the chain's anchor and head, then walks the entries in between in pages
//! (constant memory, whatever the size): every `seq` must follow the one before, every
//! `prev_hash` must be the hash before it, and every `hash` must be what the entry's content
//! gives. The first break is reported with its `seq`. Entries appended while it runs are not
//! looked at (it stops at the head it read first); retention running at the same time can make
//! it report the start as missing, so run it again before concluding.
//!
//! [`apply_retention`] removes entries older than `services.audit.user.keepFor` (API key
//! entries: `services.audit.api.keepFor`) from the start of the chain, stopping at the first
//! entry that must stay, so the rest still verifies from the new anchor.

use super::AuditConfig;
use idv_store::{AuditQuery, Store, StoreResult};

/// Entries read per page.
const PAGE: i64 = 1_000;
/// Entries removed per retention transaction.
const PRUNE_BATCH: i64 = 5_000;

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every entry from `anchor_seq + 1` to `head_seq` links and hashes correctly.
    Intact {
        count: i64,
        anchor_seq: i64,
        head_seq: i64,
    },
    /// The first entry that does not.
    Broken { seq: i64, reason: String },
}

/// Walks the whole chain; see the module documentation.
pub async fn verify(store: &dyn Store) -> StoreResult<Verdict> {
    let chain = store.audit_chain().await?;
    let mut last_seq = chain.anchor_seq;
    let mut last_hash = chain.anchor_hash.clone();
    let mut count = 0;
    loop {
        let page = store
            .audit_query(&AuditQuery {
                after_seq: Some(last_seq),
                before_seq: Some(chain.head_seq.saturating_add(1)),
                ascending: true,
                limit: PAGE,
                ..AuditQuery::default()
            })
            .await?;
        if page.is_empty() {
            break;
        }
        for r in page {
            if r.seq != last_seq + 1 {
                let reason = if last_seq == chain.anchor_seq {
                    format!(
                        "entry {} is missing: the chain starts at its anchor {} but the first stored entry is {}",
                        last_seq + 1,
                        chain.anchor_seq,
                        r.seq
                    )
                } else {
                    format!(
                        "entry {} is missing: entry {last_seq} is followed by {}",
                        last_seq + 1,
                        r.seq
                    )
                };
                return Ok(Verdict::Broken {
                    seq: last_seq + 1,
                    reason,
                });
            }
            if r.prev_hash != last_hash {
                return Ok(Verdict::Broken {
                    seq: r.seq,
                    reason: format!(
                        "its prev_hash {} is not the hash of entry {last_seq} ({last_hash})",
                        r.prev_hash
                    ),
                });
            }
            let computed = r.computed_hash();
            if computed != r.hash {
                return Ok(Verdict::Broken {
                    seq: r.seq,
                    reason: format!(
                        "its content does not match its hash (stored {}, content gives {computed}): the entry was changed after it was written",
                        r.hash
                    ),
                });
            }
            last_seq = r.seq;
            last_hash = r.hash;
            count += 1;
        }
    }
    if last_seq != chain.head_seq {
        return Ok(Verdict::Broken {
            seq: last_seq + 1,
            reason: format!(
                "entry {} is missing: the chain's head is {} but the stored entries end at {last_seq}",
                last_seq + 1,
                chain.head_seq
            ),
        });
    }
    if last_hash != chain.head_hash {
        return Ok(Verdict::Broken {
            seq: last_seq,
            reason: format!(
                "its hash {last_hash} is not the chain head's {}",
                chain.head_hash
            ),
        });
    }
    Ok(Verdict::Intact {
        count,
        anchor_seq: chain.anchor_seq,
        head_seq: chain.head_seq,
    })
}

/// Removes the entries retention no longer keeps at time `now_ms`; returns how many.
pub async fn apply_retention(
    store: &dyn Store,
    config: &AuditConfig,
    now_ms: i64,
) -> StoreResult<u64> {
    let before = |k: &super::KeepFor| match k.keep_for {
        Some(p) => now_ms.saturating_sub(
            i64::try_from(p.seconds())
                .unwrap_or(i64::MAX)
                .saturating_mul(1000),
        ),
        // Kept for ever: nothing is older than the earliest time.
        None => i64::MIN,
    };
    let (user_before, api_before) = (before(&config.user), before(&config.api));
    let mut total = 0;
    loop {
        let n = store
            .audit_prune(user_before, api_before, PRUNE_BATCH)
            .await?;
        total += n;
        if n < PRUNE_BATCH as u64 {
            return Ok(total);
        }
    }
}
