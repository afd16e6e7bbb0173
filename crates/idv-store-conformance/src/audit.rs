//! The audit chain (appends hashed in order, filters, retention from the start with an anchor,
//! racing appenders kept linear) and idempotency keys (one winner, replay, expiry, abandoned
//! runs).

use idv_store::audit::{GENESIS_HASH, canonical_entry, chain_hash};
use idv_store::{AuditQuery, IdempotencyRecord, NewAuditEntry, Store};
use serde_json::json;

fn entry(n: i64, kind: &str, action: &str, target: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: 1_000 * n,
        actor_id: Some(format!("actor-{kind}")),
        actor_kind: kind.to_owned(),
        actor_name: Some(format!("name-{kind}")),
        action: action.to_owned(),
        target: Some(target.to_owned()),
        outcome: 200,
        ip: Some("127.0.0.1".into()),
        request_id: Some(format!("req-{n}")),
        details: json!({"n": n, "nested": {"b": [1, 2], "a": "x"}}),
    }
}

fn all(limit: i64) -> AuditQuery {
    AuditQuery {
        ascending: true,
        limit,
        ..AuditQuery::default()
    }
}

/// Expects an empty audit log.
pub async fn check_audit(store: &dyn Store) {
    let chain = store.audit_chain().await.expect("chain");
    assert_eq!(
        (chain.head_seq, chain.anchor_seq),
        (0, 0),
        "an empty chain starts at 0"
    );
    assert_eq!(chain.head_hash, GENESIS_HASH);
    assert_eq!(chain.anchor_hash, GENESIS_HASH);
    assert_eq!(store.audit_append(&[]).await.expect("append nothing"), 0);

    let first = vec![
        entry(1, "user", "session.read", "s1"),
        entry(2, "apikey", "file.download", "f1"),
    ];
    assert_eq!(store.audit_append(&first).await.expect("append"), 2);
    let more: Vec<NewAuditEntry> = (3..=6)
        .map(|n| {
            entry(
                n,
                if n % 2 == 0 { "apikey" } else { "user" },
                "session.read",
                "s2",
            )
        })
        .collect();
    assert_eq!(store.audit_append(&more).await.expect("append more"), 6);

    let rows = store.audit_query(&all(100)).await.expect("query");
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    let mut prev = GENESIS_HASH.to_owned();
    for r in &rows {
        assert_eq!(r.prev_hash, prev, "seq {} links to its predecessor", r.seq);
        assert_eq!(
            r.hash,
            chain_hash(&prev, &canonical_entry(r.seq, &r.entry)),
            "seq {} hash is SHA-256(prev_hash || canonical JSON)",
            r.seq
        );
        prev.clone_from(&r.hash);
    }
    assert_eq!(rows[0].entry, first[0], "an entry reads back as written");
    let chain = store.audit_chain().await.expect("chain");
    assert_eq!(
        (chain.head_seq, chain.head_hash.as_str()),
        (6, prev.as_str())
    );

    // Filters and order.
    let q = |f: fn(&mut AuditQuery)| {
        let mut q = AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        };
        f(&mut q);
        q
    };
    let seqs = |rows: Vec<idv_store::AuditRecord>| rows.iter().map(|r| r.seq).collect::<Vec<_>>();
    let newest = store.audit_query(&q(|_| {})).await.expect("newest first");
    assert_eq!(seqs(newest), [6, 5, 4, 3, 2, 1], "newest first by default");
    let by_action = store
        .audit_query(&q(|q| q.action = Some("file.download".into())))
        .await
        .expect("by action");
    assert_eq!(seqs(by_action), [2]);
    let by_target = store
        .audit_query(&q(|q| q.target = Some("s2".into())))
        .await
        .expect("by target");
    assert_eq!(seqs(by_target), [6, 5, 4, 3]);
    let by_actor_id = store
        .audit_query(&q(|q| q.actor = Some("actor-apikey".into())))
        .await
        .expect("by actor id");
    assert_eq!(seqs(by_actor_id), [6, 4, 2]);
    let by_actor_name = store
        .audit_query(&q(|q| q.actor = Some("name-user".into())))
        .await
        .expect("by actor name");
    assert_eq!(seqs(by_actor_name), [5, 3, 1]);
    let by_time = store
        .audit_query(&q(|q| {
            q.from = Some(2_000);
            q.to = Some(4_000);
        }))
        .await
        .expect("by time");
    assert_eq!(seqs(by_time), [4, 3, 2], "from and to are inclusive");
    let page = store
        .audit_query(&q(|q| {
            q.before_seq = Some(5);
            q.limit = 2;
        }))
        .await
        .expect("page");
    assert_eq!(seqs(page), [4, 3], "before_seq pages newest first");
    let page = store
        .audit_query(&q(|q| {
            q.after_seq = Some(4);
            q.ascending = true;
        }))
        .await
        .expect("page");
    assert_eq!(seqs(page), [5, 6], "after_seq pages ascending");

    // Retention: only from the start, and only while entries are old enough for their kind.
    // Entries 1..=6 are at 1000..=6000; kinds user, apikey, user, apikey, user, apikey.
    assert_eq!(
        store.audit_prune(0, 0, 100).await.expect("prune none"),
        0,
        "nothing is older than 0"
    );
    // Users before 3500 (1, 3), keys before 2500 (2): 1, 2 and 3 go; 4 (a key at 4000) stays
    // and with it everything after, even user entry 5 would not qualify anyway.
    assert_eq!(
        store.audit_prune(3_500, 2_500, 100).await.expect("prune"),
        3
    );
    let chain = store.audit_chain().await.expect("chain");
    assert_eq!(chain.anchor_seq, 3, "the last removed entry is the anchor");
    assert_eq!(chain.anchor_hash, rows[2].hash);
    assert_eq!(chain.head_seq, 6, "the head does not move");
    let left = store.audit_query(&all(100)).await.expect("query");
    assert_eq!(seqs(left), [4, 5, 6]);
    // A prefix that is old enough but stops at an entry that is not: user entry 5 qualifies,
    // key entry 4 does not, so nothing goes.
    assert_eq!(
        store.audit_prune(10_000, 3_000, 100).await.expect("prune"),
        0
    );
    // The limit bounds one run.
    assert_eq!(
        store.audit_prune(10_000, 10_000, 2).await.expect("prune"),
        2
    );
    assert_eq!(store.audit_chain().await.expect("chain").anchor_seq, 5);
    // Removing everything keeps the head, so the chain continues after it.
    assert_eq!(
        store.audit_prune(10_000, 10_000, 100).await.expect("prune"),
        1
    );
    assert_eq!(
        store
            .audit_append(&[entry(7, "cli", "user.created", "u1")])
            .await
            .expect("append"),
        7
    );
    let rows = store.audit_query(&all(10)).await.expect("query");
    assert_eq!(seqs(rows.clone()), [7]);
    assert_eq!(
        rows[0].prev_hash, prev,
        "after a full prune the next entry still links to the old head"
    );
}

/// Appends from two stores (two processes) at once form one linear chain: no seq twice, no
/// gap, every entry linked to the one before. Expects an audit log with nothing appended since
/// `check_audit` (or empty).
pub async fn check_audit_append_race(a: std::sync::Arc<dyn Store>, b: std::sync::Arc<dyn Store>) {
    let start = a.audit_chain().await.expect("chain");
    let mut tasks = Vec::new();
    for (i, store) in [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
    {
        tasks.push(tokio::spawn(async move {
            for round in 0..5 {
                let batch: Vec<NewAuditEntry> = (0..3)
                    .map(|k| entry(100 + round, "user", "session.read", &format!("t{i}-{k}")))
                    .collect();
                store.audit_append(&batch).await.expect("racing append");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let chain = a.audit_chain().await.expect("chain");
    assert_eq!(chain.head_seq, start.head_seq + 4 * 5 * 3);
    let rows = a
        .audit_query(&AuditQuery {
            after_seq: Some(start.head_seq),
            ascending: true,
            limit: 1_000,
            ..AuditQuery::default()
        })
        .await
        .expect("query");
    assert_eq!(rows.len(), 60);
    let mut prev = start.head_hash.clone();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.seq, start.head_seq + 1 + i as i64, "no gap, no seq twice");
        assert_eq!(r.prev_hash, prev, "seq {} links to its predecessor", r.seq);
        assert_eq!(r.hash, r.computed_hash());
        prev.clone_from(&r.hash);
    }
    assert_eq!(chain.head_hash, prev);
}

fn running(owner: &str, key: &str, hash: &str, now: i64) -> IdempotencyRecord {
    IdempotencyRecord {
        owner: owner.into(),
        key: key.into(),
        request_hash: hash.into(),
        status: None,
        content_type: None,
        body: None,
        locked_until: now + 60_000,
        created_at: now,
        expires_at: now + 86_400_000,
    }
}

/// Expects no idempotency keys.
pub async fn check_idempotency(store: &dyn Store) {
    let now = 1_000_000;
    let first = running("p1", "k1", "h1", now);
    assert_eq!(
        store.idempotency_begin(&first, now).await.expect("begin"),
        None,
        "a new key starts"
    );
    let again = store
        .idempotency_begin(&running("p1", "k1", "h2", now + 1), now + 1)
        .await
        .expect("begin again")
        .expect("the running record comes back");
    assert_eq!(again, first, "a second begin changes nothing");
    // Another owner's same key is another key.
    assert_eq!(
        store
            .idempotency_begin(&running("p2", "k1", "h9", now), now)
            .await
            .expect("other owner"),
        None
    );
    store
        .idempotency_complete("p1", "k1", 201, Some("application/json"), b"{\"id\":1}")
        .await
        .expect("complete");
    let done = store
        .idempotency_begin(&running("p1", "k1", "h1", now + 2), now + 2)
        .await
        .expect("begin after completion")
        .expect("stored");
    assert_eq!(done.status, Some(201));
    assert_eq!(done.content_type.as_deref(), Some("application/json"));
    assert_eq!(done.body.as_deref(), Some(&b"{\"id\":1}"[..]));
    assert_eq!(done.request_hash, "h1");

    // An abandoned (failed) run frees the key; a completed one is not abandoned.
    store
        .idempotency_abandon("p2", "k1")
        .await
        .expect("abandon");
    assert_eq!(
        store
            .idempotency_begin(&running("p2", "k1", "h3", now), now)
            .await
            .expect("begin after abandon"),
        None
    );
    store
        .idempotency_abandon("p1", "k1")
        .await
        .expect("abandon done");
    assert!(
        store
            .idempotency_begin(&running("p1", "k1", "h1", now), now)
            .await
            .expect("begin")
            .is_some(),
        "abandon leaves a completed answer alone"
    );

    // A running record whose lock ran out (its request died) is taken over.
    let later = now + 60_000;
    assert_eq!(
        store
            .idempotency_begin(&running("p2", "k1", "h4", later), later)
            .await
            .expect("take over"),
        None
    );
    // Expired keys start afresh, and are deleted by the sweep.
    let expiry = now + 86_400_000;
    assert!(
        store
            .idempotency_begin(&running("p1", "k1", "h5", expiry - 1), expiry - 1)
            .await
            .expect("before expiry")
            .is_some()
    );
    assert_eq!(
        store
            .idempotency_begin(&running("p1", "k1", "h5", expiry), expiry)
            .await
            .expect("at expiry"),
        None,
        "an expired key is new again"
    );
    store
        .idempotency_begin(&running("p3", "old", "h", 0), 0)
        .await
        .expect("old key");
    assert_eq!(
        store
            .idempotency_delete_expired(86_400_000)
            .await
            .expect("sweep"),
        1,
        "only the key whose expiry passed goes"
    );
    assert!(
        store
            .idempotency_begin(&running("p1", "k1", "zz", expiry + 1), expiry + 1)
            .await
            .expect("still there")
            .is_some()
    );
}

/// Racing first requests with one key: exactly one starts.
pub async fn check_idempotency_race(a: std::sync::Arc<dyn Store>, b: std::sync::Arc<dyn Store>) {
    let now = 5_000_000;
    let mut tasks = Vec::new();
    for store in [a.clone(), b.clone(), a, b] {
        tasks.push(tokio::spawn(async move {
            store
                .idempotency_begin(&running("racer", "same", "h", now), now)
                .await
                .expect("racing begin")
                .is_none()
        }));
    }
    let mut started = 0;
    for t in tasks {
        if t.await.expect("task") {
            started += 1;
        }
    }
    assert_eq!(started, 1, "exactly one racing request starts");
}
