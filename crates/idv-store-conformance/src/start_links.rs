//! Shareable start links: create, read by id and by code hash, list (all or one workflow's,
//! newest first), revoke, and the guarded count of openings with its refusals.

use super::{assert_conflict, hex_id};
use idv_store::{StartLink, StartLinkUse, Store};
use serde_json::json;
use std::sync::Arc;

const WF_A: &str = "edda0192-b890-11ef-a348-17da751a6a22";
const WF_B: &str = "0b6f3c52-0000-4000-8000-00000000000a";

fn link(id: u64, workflow: &str, created_at: i64) -> StartLink {
    StartLink {
        id: hex_id(id),
        workflow_id: workflow.to_owned(),
        code_hash: format!("{:064x}", id * 6133),
        // Key order is kept (it is shown back to its author).
        metadata: json!({"zeta": 1, "campaign": "spring", "nested": {"b": [1, 2], "a": null}}),
        locale: Some("de".into()),
        max_uses: None,
        uses: 0,
        expires_at: None,
        revoked_at: None,
        created_by: Some(hex_id(0xc0)),
        created_at,
    }
}

async fn get(store: &dyn Store, id: &str) -> Option<StartLink> {
    store
        .start_link_get(idv_store::StartLinkId::new(id))
        .await
        .expect("start_link_get")
}

fn used(outcome: StartLinkUse, what: &str) -> StartLink {
    match outcome {
        StartLinkUse::Used(l) => *l,
        other => panic!("{what}: expected Used, got {other:?}"),
    }
}

/// Round trips, unique ids and code hashes, lists, revocation, and `start_link_use`: counted
/// while allowed; refused as `Revoked`, `Expired` (at `expires_at` itself) or `UsedUp`, or
/// `NotFound`, without counting. Tables: start_links (empty before).
pub async fn check_start_links(store: &dyn Store) {
    let plain = StartLink {
        metadata: json!({}),
        locale: None,
        created_by: None,
        ..link(0x51, WF_A, 1_000)
    };
    let limited = StartLink {
        max_uses: Some(2),
        expires_at: Some(5_000),
        ..link(0x52, WF_B, 2_000)
    };
    let newer = link(0x53, WF_A, 3_000);
    for l in [&plain, &limited, &newer] {
        store.start_link_create(l).await.expect("create link");
    }
    for l in [&plain, &limited, &newer] {
        assert_eq!(get(store, &l.id).await, Some(l.clone()), "round trip by id");
        assert_eq!(
            store
                .start_link_by_code_hash(&l.code_hash)
                .await
                .expect("by hash"),
            Some(l.clone()),
            "round trip by code hash"
        );
    }
    assert_eq!(get(store, &hex_id(0x5f)).await, None, "unknown id");
    assert_eq!(
        store
            .start_link_by_code_hash(&format!("{:064x}", 1))
            .await
            .expect("by hash"),
        None,
        "unknown hash"
    );
    assert_conflict(
        store
            .start_link_create(&StartLink {
                code_hash: format!("{:064x}", 77),
                ..plain.clone()
            })
            .await,
        "a taken id",
    );
    assert_conflict(
        store
            .start_link_create(&StartLink {
                id: hex_id(0x5e),
                ..plain.clone()
            })
            .await,
        "a taken code hash",
    );

    let ids = |links: Vec<StartLink>| links.into_iter().map(|l| l.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.start_link_list(None).await.expect("list")),
        vec![newer.id.clone(), limited.id.clone(), plain.id.clone()],
        "newest first"
    );
    assert_eq!(
        ids(store
            .start_link_list(Some(idv_store::WorkflowId::new(WF_A)))
            .await
            .expect("list")),
        vec![newer.id.clone(), plain.id.clone()],
        "one workflow's"
    );
    assert!(
        store
            .start_link_list(Some(idv_store::WorkflowId::new("no-such-workflow")))
            .await
            .expect("list")
            .is_empty()
    );

    // Openings count while allowed.
    let after = used(
        store
            .start_link_use(idv_store::StartLinkId::new(&limited.id), 4_000)
            .await
            .expect("use"),
        "first use",
    );
    assert_eq!(after.uses, 1);
    assert_eq!(
        used(
            store
                .start_link_use(idv_store::StartLinkId::new(&limited.id), 4_001)
                .await
                .expect("use"),
            "second use"
        )
        .uses,
        2
    );
    assert_eq!(
        store
            .start_link_use(idv_store::StartLinkId::new(&limited.id), 4_002)
            .await
            .expect("use"),
        StartLinkUse::UsedUp,
        "past max_uses"
    );
    assert_eq!(
        get(store, &limited.id).await.map(|l| l.uses),
        Some(2),
        "a refusal counts nothing"
    );
    for n in 1..=3 {
        assert_eq!(
            used(
                store
                    .start_link_use(idv_store::StartLinkId::new(&plain.id), 1_000_000)
                    .await
                    .expect("use"),
                "no limit"
            )
            .uses,
            n
        );
    }
    // Expiry: refused from `expires_at` on (checked before max_uses would allow it).
    let expiring = StartLink {
        expires_at: Some(5_000),
        ..link(0x54, WF_B, 4_000)
    };
    store.start_link_create(&expiring).await.expect("create");
    used(
        store
            .start_link_use(idv_store::StartLinkId::new(&expiring.id), 4_999)
            .await
            .expect("use"),
        "before expiry",
    );
    assert_eq!(
        store
            .start_link_use(idv_store::StartLinkId::new(&expiring.id), 5_000)
            .await
            .expect("use"),
        StartLinkUse::Expired
    );
    // Revocation: kept at its first time, refused afterwards, unknown ids reported.
    assert!(
        store
            .start_link_revoke(idv_store::StartLinkId::new(&newer.id), 6_000)
            .await
            .expect("revoke")
    );
    assert!(
        store
            .start_link_revoke(idv_store::StartLinkId::new(&newer.id), 7_000)
            .await
            .expect("revoke again")
    );
    assert_eq!(
        get(store, &newer.id).await.and_then(|l| l.revoked_at),
        Some(6_000)
    );
    assert_eq!(
        store
            .start_link_use(idv_store::StartLinkId::new(&newer.id), 6_500)
            .await
            .expect("use"),
        StartLinkUse::Revoked
    );
    assert!(
        !store
            .start_link_revoke(idv_store::StartLinkId::new(&hex_id(0x5f)), 6_000)
            .await
            .expect("revoke")
    );
    assert_eq!(
        store
            .start_link_use(idv_store::StartLinkId::new(&hex_id(0x5f)), 6_000)
            .await
            .expect("use"),
        StartLinkUse::NotFound
    );
}

/// Concurrent openings of a link with three uses left: exactly three count. Tables:
/// start_links (rows of its own).
pub async fn check_start_link_use_race(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    const RACERS: usize = 10;
    let l = StartLink {
        max_uses: Some(3),
        ..link(0x60, WF_A, 10_000)
    };
    a.start_link_create(&l).await.expect("create");
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let id = l.id.clone();
        tasks.push(tokio::spawn(async move {
            store
                .start_link_use(idv_store::StartLinkId::new(&id), 20_000)
                .await
                .expect("use")
        }));
    }
    let mut counted = 0;
    for task in tasks {
        match task.await.expect("use task") {
            StartLinkUse::Used(_) => counted += 1,
            StartLinkUse::UsedUp => {}
            other => panic!("a concurrent opening: {other:?}"),
        }
    }
    assert_eq!(counted, 3, "exactly max_uses openings count");
    assert_eq!(
        a.start_link_get(idv_store::StartLinkId::new(&l.id))
            .await
            .expect("get")
            .map(|l| l.uses),
        Some(3)
    );
}
