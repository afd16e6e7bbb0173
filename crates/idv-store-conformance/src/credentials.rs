//! API keys and Bearer tokens.

use super::{assert_conflict, hex_id};
use idv_store::{ApiKey, AuthToken, Store, TokenKind, User};
use idv_store::{ApiKeyId, PrincipalId, TokenFamilyId, UserId};

fn api_key(id: u64, owner: Option<&str>, created_at: i64) -> ApiKey {
    ApiKey {
        id: hex_id(id),
        name: format!("key {id:x} — ключ"),
        secret_hash: format!("{:064x}", id * 7919),
        permissions: vec!["session_all:read".to_owned(), "session:write".to_owned()],
        owner_id: owner.map(str::to_owned),
        ttl: None,
        created_at,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    }
}

/// API keys: create, get, list by owner and all (newest first, ties newest inserted first),
/// revoke once, touch. Tables: api_keys.
pub async fn check_api_keys(store: &dyn Store) {
    assert!(
        store.apikey_list(None).await.expect("list").is_empty(),
        "no keys yet"
    );
    let (owner_a, owner_b) = (hex_id(0xa), hex_id(0xb));

    let k1 = ApiKey {
        permissions: Vec::new(),
        ..api_key(0x100, Some(&owner_a), 1_000)
    };
    let k2 = ApiKey {
        ttl: Some(3_600),
        expires_at: Some(3_000 + 3_600_000),
        last_used_at: Some(3_500),
        ..api_key(0x200, Some(&owner_b), 3_000)
    };
    let k3 = api_key(0x300, Some(&owner_a), 2_000);
    // Same time as k3, inserted after it, with a smaller id: newest first puts k4 before k3.
    let k4 = ApiKey {
        revoked_at: Some(2_500),
        ..api_key(0x050, None, 2_000)
    };
    for k in [&k1, &k2, &k3, &k4] {
        store.apikey_create(k).await.expect("create key");
    }

    for k in [&k1, &k2, &k3, &k4] {
        assert_eq!(
            store.apikey_get(ApiKeyId::new(&k.id)).await.expect("get"),
            Some(k.clone()),
            "round trip"
        );
    }
    assert_eq!(
        store
            .apikey_get(ApiKeyId::new(&hex_id(0x999)))
            .await
            .expect("get unknown"),
        None
    );
    assert_eq!(
        store
            .apikey_list(Some(PrincipalId::new(&owner_a)))
            .await
            .expect("list a"),
        vec![k3.clone(), k1.clone()],
        "keys of one owner, newest first"
    );
    assert_eq!(
        store
            .apikey_list(Some(PrincipalId::new(&owner_b)))
            .await
            .expect("list b"),
        vec![k2.clone()]
    );
    assert!(
        store
            .apikey_list(Some(PrincipalId::new("nobody")))
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        store.apikey_list(None).await.expect("list all"),
        vec![k2.clone(), k4.clone(), k3.clone(), k1.clone()],
        "all keys, newest first, ties newest inserted first"
    );
    assert_conflict(
        store.apikey_create(&api_key(0x100, None, 9)).await,
        "a taken key id",
    );

    // Revoking sets revoked_at once.
    assert!(
        store
            .apikey_revoke(ApiKeyId::new(&k1.id), 5_000)
            .await
            .expect("revoke"),
        "the key exists"
    );
    let revoked = ApiKey {
        revoked_at: Some(5_000),
        ..k1.clone()
    };
    assert_eq!(
        store.apikey_get(ApiKeyId::new(&k1.id)).await.expect("get"),
        Some(revoked.clone())
    );
    assert!(
        store
            .apikey_revoke(ApiKeyId::new(&k1.id), 6_000)
            .await
            .expect("revoke again"),
        "still exists"
    );
    assert_eq!(
        store.apikey_get(ApiKeyId::new(&k1.id)).await.expect("get"),
        Some(revoked.clone()),
        "the first revocation time stays"
    );
    assert!(
        !store
            .apikey_revoke(ApiKeyId::new(&hex_id(0x999)), 1)
            .await
            .expect("revoke unknown")
    );
    assert_eq!(
        store.apikey_get(ApiKeyId::new(&k3.id)).await.expect("get"),
        Some(k3.clone()),
        "others stay"
    );

    // Touching records the latest use and nothing else.
    store
        .apikey_touch(ApiKeyId::new(&k3.id), 7_000)
        .await
        .expect("touch");
    let used = |at| ApiKey {
        last_used_at: Some(at),
        ..k3.clone()
    };
    assert_eq!(
        store.apikey_get(ApiKeyId::new(&k3.id)).await.expect("get"),
        Some(used(7_000))
    );
    store
        .apikey_touch(ApiKeyId::new(&k3.id), 8_000)
        .await
        .expect("touch later");
    assert_eq!(
        store.apikey_get(ApiKeyId::new(&k3.id)).await.expect("get"),
        Some(used(8_000))
    );
    store
        .apikey_touch(ApiKeyId::new(&k3.id), 7_500)
        .await
        .expect("touch out of order");
    assert_eq!(
        store.apikey_get(ApiKeyId::new(&k3.id)).await.expect("get"),
        Some(used(8_000)),
        "an older touch never moves last_used_at back"
    );
    store
        .apikey_touch(ApiKeyId::new(&hex_id(0x999)), 1)
        .await
        .expect("touching an unknown key is no error");
    assert_eq!(
        store.apikey_get(ApiKeyId::new(&k1.id)).await.expect("get"),
        Some(revoked),
        "only k3 touched"
    );
    assert_eq!(store.apikey_list(None).await.expect("list").len(), 4);
}

fn token(hash: &str, kind: TokenKind, family: &str, user_id: &str, expires_at: i64) -> AuthToken {
    AuthToken {
        hash: hash.to_owned(),
        kind,
        family: family.to_owned(),
        user_id: user_id.to_owned(),
        created_at: 50,
        expires_at,
    }
}

/// Tokens: create, get by hash, delete a family, delete the expired (strictly before `now`).
/// Tables: auth_tokens (must hold no token expiring before 10 000), one user of its own.
pub async fn check_tokens(store: &dyn Store) {
    let owner = User {
        id: hex_id(0x7070),
        name: "conformance-token-owner".to_owned(),
        email: None,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        roles: Vec::new(),
        active: true,
        created_at: 1,
        updated_at: 1,
    };
    store
        .user_create(&owner)
        .await
        .expect("create the tokens' user");
    let uid = owner.id.as_str();
    let access = token(
        "conformance-tok-access",
        TokenKind::Access,
        "family-1",
        uid,
        100,
    );
    let refresh = token(
        "conformance-tok-refresh",
        TokenKind::Refresh,
        "family-1",
        uid,
        300,
    );
    let other = token(
        "conformance-tok-other",
        TokenKind::Access,
        "family-2",
        uid,
        200,
    );
    let late = token(
        "conformance-tok-late",
        TokenKind::Refresh,
        "family-3",
        uid,
        10_000,
    );
    for t in [&access, &refresh, &other, &late] {
        store.token_create(t).await.expect("create token");
    }
    for t in [&access, &refresh, &other, &late] {
        assert_eq!(
            store.token_get(&t.hash).await.expect("get"),
            Some(t.clone()),
            "round trip"
        );
    }
    assert_eq!(
        store
            .token_get("conformance-tok-none")
            .await
            .expect("get unknown"),
        None
    );
    assert_conflict(store.token_create(&access).await, "a taken token hash");

    assert_eq!(
        store
            .token_delete_expired(100)
            .await
            .expect("delete expired"),
        0,
        "a token expiring exactly now is not yet expired"
    );
    assert_eq!(
        store
            .token_delete_expired(201)
            .await
            .expect("delete expired"),
        2
    );
    assert_eq!(store.token_get(&access.hash).await.expect("get"), None);
    assert_eq!(store.token_get(&other.hash).await.expect("get"), None);
    assert_eq!(
        store.token_get(&refresh.hash).await.expect("get"),
        Some(refresh.clone())
    );
    assert_eq!(
        store.token_delete_expired(201).await.expect("again"),
        0,
        "nothing left to do"
    );

    let sibling = token(
        "conformance-tok-sibling",
        TokenKind::Access,
        "family-1",
        uid,
        9_000,
    );
    store.token_create(&sibling).await.expect("create token");
    store
        .token_delete_family(TokenFamilyId::new("family-1"))
        .await
        .expect("delete family");
    assert_eq!(
        store.token_get(&refresh.hash).await.expect("get"),
        None,
        "whole family goes"
    );
    assert_eq!(
        store.token_get(&sibling.hash).await.expect("get"),
        None,
        "whole family goes"
    );
    assert_eq!(
        store.token_get(&late.hash).await.expect("get"),
        Some(late.clone()),
        "others stay"
    );
    store
        .token_delete_family(TokenFamilyId::new("family-none"))
        .await
        .expect("an unknown family is no error");

    assert_eq!(
        store
            .token_delete_expired(i64::MAX)
            .await
            .expect("delete all"),
        1
    );
    assert_eq!(store.token_get(&late.hash).await.expect("get"), None);
    assert!(
        store
            .user_delete(UserId::new(uid))
            .await
            .expect("clean up the user")
    );
}
