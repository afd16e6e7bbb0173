//! Text a database may not hold: a NUL character. SQLite stores it, PostgreSQL refuses it. The
//! server refuses such input before it reaches the store; this pins down what an adapter does
//! when it arrives all the same: a lookup finds nothing or is [`StoreError::Invalid`] (a 400),
//! never `Backend` (a 500), and an audit entry is stored with U+FFFD in its place.

use super::Store;
use idv_store::audit::{GENESIS_HASH, NewAuditEntry};
use idv_store::{ApiKeyId, AssetId, SessionId, UserId, WebhookId, WorkflowId};
use idv_store::{AuditQuery, StoreError, StoreResult};
use serde_json::json;

fn found_nothing_or_invalid<T: std::fmt::Debug>(what: &str, r: StoreResult<Option<T>>) {
    match r {
        Ok(None) => {}
        Err(StoreError::Invalid { source, .. }) => assert!(
            source.is_some(),
            "{what} with a NUL: Invalid keeps the driver's error as its source"
        ),
        other => panic!("{what} with a NUL: want nothing found or Invalid, got {other:?}"),
    }
}

/// Lookups by text holding a NUL, and an audit entry holding NULs. Expects an empty audit log.
pub async fn check_unstorable_text(store: &dyn Store) {
    let nul = "ab\0cd";
    found_nothing_or_invalid("user_get", store.user_get(UserId::new(nul)).await);
    found_nothing_or_invalid("user_by_name", store.user_by_name(nul).await);
    found_nothing_or_invalid("apikey_get", store.apikey_get(ApiKeyId::new(nul)).await);
    found_nothing_or_invalid(
        "workflow_get",
        store.workflow_get(WorkflowId::new(nul)).await,
    );
    found_nothing_or_invalid("asset_get", store.asset_get(AssetId::new(nul)).await);
    found_nothing_or_invalid("session_get", store.session_get(SessionId::new(nul)).await);
    found_nothing_or_invalid("webhook_get", store.webhook_get(WebhookId::new(nul)).await);

    let entry = NewAuditEntry {
        at: 1_700_000_000_000,
        actor_id: None,
        actor_kind: "user".into(),
        actor_name: Some("ad\0min".into()),
        action: "session.read".into(),
        target: Some(nul.into()),
        outcome: 400,
        ip: None,
        request_id: Some("\0".into()),
        details: json!({"session": nul, "k\0": 1}),
    };
    let seq = store
        .audit_append(&[entry])
        .await
        .expect("an audit entry holding NUL characters is stored");
    let rows = store
        .audit_query(&AuditQuery {
            after_seq: Some(seq - 1),
            ascending: true,
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .expect("audit query");
    assert_eq!(rows.len(), 1, "the entry holding NULs is stored once");
    let r = &rows[0];
    assert_eq!(r.entry.target.as_deref(), Some("ab\u{FFFD}cd"));
    assert_eq!(r.entry.actor_name.as_deref(), Some("ad\u{FFFD}min"));
    assert_eq!(r.entry.request_id.as_deref(), Some("\u{FFFD}"));
    assert_eq!(
        r.entry.details,
        json!({"session": "ab\u{FFFD}cd", "k\u{FFFD}": 1})
    );
    assert_eq!(r.hash, r.computed_hash(), "the hash covers the stored form");
    if seq == 1 {
        assert_eq!(r.prev_hash, GENESIS_HASH);
    }
}
