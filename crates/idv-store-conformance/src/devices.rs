//! Device tokens: ephemeral devices, deeplink tokens and one-time QR tokens with their exchange.

use super::engine::open_session;
use super::{assert_conflict, hex_id};
use idv_store::DeviceTokenId;
use idv_store::{DeviceToken, DeviceTokenKind, Store};
use std::sync::Arc;

fn token(id: u64, kind: DeviceTokenKind, session: Option<&str>, expires_at: i64) -> DeviceToken {
    DeviceToken {
        id: hex_id(id),
        kind,
        secret_hash: format!("{:064x}", id * 7907),
        principal_id: hex_id(id),
        session_id: session.map(str::to_owned),
        workflow_ids: vec![
            "edda0192-b890-11ef-a348-17da751a6a22".to_owned(),
            "0b6f3c52-0000-4000-8000-00000000000a".to_owned(),
        ],
        created_by: Some(hex_id(0xd0)),
        created_at: 1_000,
        expires_at,
        used_at: None,
    }
}

async fn get(store: &dyn Store, id: &str) -> Option<DeviceToken> {
    store
        .device_token_get(DeviceTokenId::new(id))
        .await
        .expect("device_token_get")
}

/// Create, read by id and by hash, unique ids and hashes, the one-time exchange (only an
/// unused, unexpired `Short` token; a failed insert writes nothing), deletion of expired
/// tokens. Tables: device_tokens (empty before, left empty), and sessions of its own.
pub async fn check_device_tokens(store: &dyn Store) {
    let s = open_session(0xd7_0001);
    store.session_create(&s, &[]).await.expect("create session");

    let ephemeral = DeviceToken {
        workflow_ids: Vec::new(),
        session_id: None,
        created_by: None,
        ..token(0xd1, DeviceTokenKind::Ephemeral, None, 10_000)
    };
    let bound = token(0xd2, DeviceTokenKind::Session, Some(&s.id), 20_000);
    let short = token(0xd3, DeviceTokenKind::Short, Some(&s.id), 30_000);
    for t in [&ephemeral, &bound, &short] {
        store.device_token_create(t).await.expect("create token");
    }
    for t in [&ephemeral, &bound, &short] {
        assert_eq!(get(store, &t.id).await, Some(t.clone()), "round trip by id");
        assert_eq!(
            store
                .device_token_by_hash(&t.secret_hash)
                .await
                .expect("by hash"),
            Some(t.clone()),
            "round trip by hash"
        );
    }
    assert_eq!(get(store, &hex_id(0xd9)).await, None, "unknown id");
    assert_eq!(
        store.device_token_by_hash("00").await.expect("by hash"),
        None,
        "unknown hash"
    );
    assert_conflict(
        store
            .device_token_create(&DeviceToken {
                secret_hash: "another".into(),
                ..short.clone()
            })
            .await,
        "an id given twice",
    );
    assert_conflict(
        store
            .device_token_create(&DeviceToken {
                id: hex_id(0xd8),
                ..short.clone()
            })
            .await,
        "a hash given twice",
    );

    // Only a Short token, unused and not expired at `now`, is exchanged.
    let replacement = |n: u64| DeviceToken {
        principal_id: short.principal_id.clone(),
        ..token(n, DeviceTokenKind::Session, Some(&s.id), 30_000)
    };
    for (id, now, why) in [
        (&ephemeral.id, 5_000, "an ephemeral token is not one-time"),
        (&bound.id, 5_000, "a session token is not one-time"),
        (&short.id, 30_000, "expired at its expiry time"),
        (&hex_id(0xd9), 5_000, "unknown"),
    ] {
        assert!(
            !store
                .device_token_exchange(DeviceTokenId::new(id), now, &replacement(0xe1))
                .await
                .expect("exchange"),
            "{why}"
        );
        assert_eq!(
            get(store, &hex_id(0xe1)).await,
            None,
            "{why}: nothing written"
        );
    }
    assert_eq!(
        get(store, &short.id).await,
        Some(short.clone()),
        "still unused"
    );

    // A replacement whose id is taken fails the whole exchange.
    assert_conflict(
        store
            .device_token_exchange(
                DeviceTokenId::new(&short.id),
                5_000,
                &DeviceToken {
                    id: bound.id.clone(),
                    ..replacement(0xe2)
                },
            )
            .await,
        "a replacement with a taken id",
    );
    assert_eq!(
        get(store, &short.id).await,
        Some(short.clone()),
        "a failed exchange leaves the token unused"
    );

    assert!(
        store
            .device_token_exchange(DeviceTokenId::new(&short.id), 5_000, &replacement(0xe3))
            .await
            .expect("exchange"),
        "the first exchange wins"
    );
    assert_eq!(
        get(store, &short.id).await,
        Some(DeviceToken {
            used_at: Some(5_000),
            ..short.clone()
        }),
        "marked used"
    );
    assert_eq!(
        get(store, &hex_id(0xe3)).await,
        Some(replacement(0xe3)),
        "the replacement is stored"
    );
    assert!(
        !store
            .device_token_exchange(DeviceTokenId::new(&short.id), 5_001, &replacement(0xe4))
            .await
            .expect("exchange again"),
        "a used token is not exchanged again"
    );
    assert_eq!(
        get(store, &hex_id(0xe4)).await,
        None,
        "no second replacement"
    );
    assert_eq!(
        get(store, &short.id).await.and_then(|t| t.used_at),
        Some(5_000),
        "the first use time stays"
    );

    assert_eq!(
        store
            .device_token_delete_expired(10_000)
            .await
            .expect("delete expired"),
        0,
        "expiry at `before` is not before it"
    );
    assert_eq!(
        store
            .device_token_delete_expired(20_000)
            .await
            .expect("delete expired"),
        1
    );
    assert_eq!(get(store, &ephemeral.id).await, None, "expired one deleted");
    assert!(get(store, &bound.id).await.is_some(), "later one kept");
    assert_eq!(
        store
            .device_token_delete_expired(i64::MAX)
            .await
            .expect("delete all"),
        3
    );
}

/// Many exchanges of one one-time token at once, on `a` and `b` alternately (one store twice,
/// or two stores on one database as two processes would be): exactly one wins and exactly one
/// replacement is stored. Tables: device_tokens (empty before, left empty), and a session of
/// its own.
pub async fn check_device_token_exchange_race(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    const RACERS: u64 = 8;
    let s = open_session(0xd7_0002);
    a.session_create(&s, &[]).await.expect("create session");
    let short = token(0xf0, DeviceTokenKind::Short, Some(&s.id), 50_000);
    a.device_token_create(&short).await.expect("create token");
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let id = short.id.clone();
        let replacement = token(0xf1 + i, DeviceTokenKind::Session, Some(&s.id), 50_000);
        tasks.push(tokio::spawn(async move {
            store
                .device_token_exchange(DeviceTokenId::new(&id), 1_000, &replacement)
                .await
                .expect("exchange")
        }));
    }
    let mut wins = 0;
    for task in tasks {
        if task.await.expect("exchange task") {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "exactly one exchange wins");
    let mut stored = 0;
    for i in 0..RACERS {
        if a.device_token_get(DeviceTokenId::new(&hex_id(0xf1 + i)))
            .await
            .expect("get")
            .is_some()
        {
            stored += 1;
        }
    }
    assert_eq!(stored, 1, "exactly one replacement is stored");
    assert_eq!(
        a.device_token_delete_expired(i64::MAX)
            .await
            .expect("delete all"),
        2
    );
}
