//! Settings, users and custom roles.

use super::{assert_conflict, hex_id};
use idv_store::{AuthToken, Role, Store, TokenKind, User};
use idv_store::{TokenFamilyId, UserId};

/// `setting_get_or_insert` keeps the first value per key; keys are independent.
/// Tables: settings (keys starting `conformance.`).
pub async fn check_settings(store: &dyn Store) {
    let get = |key: &'static str, value: &'static str| store.setting_get_or_insert(key, value);
    assert_eq!(
        get("conformance.a", "first").await.expect("insert a"),
        "first"
    );
    assert_eq!(
        get("conformance.a", "second").await.expect("get a"),
        "first",
        "a second value for a stored key is ignored"
    );
    assert_eq!(
        get("conformance.b", "other").await.expect("insert b"),
        "other"
    );
    assert_eq!(
        get("conformance.a", "third").await.expect("get a again"),
        "first",
        "storing another key leaves the first alone"
    );

    let long = "ключ 🔑 'quoted' \"double\" \\ ".repeat(300);
    assert_eq!(
        store
            .setting_get_or_insert("conformance.long", &long)
            .await
            .expect("insert a long value"),
        long,
        "long unicode values round-trip"
    );

    // Compare and swap: only from the value read.
    let swap =
        |old: &'static str, new: &'static str| store.setting_replace("conformance.a", old, new);
    assert!(
        !swap("second", "x").await.expect("replace"),
        "not from a value it does not hold"
    );
    assert!(
        !store
            .setting_replace("conformance.none", "", "x")
            .await
            .expect("replace unset"),
        "an unset key is not created"
    );
    assert!(swap("first", "fourth").await.expect("replace"));
    assert!(
        !swap("first", "fifth").await.expect("replace"),
        "the old value is gone"
    );
    assert_eq!(get("conformance.a", "x").await.unwrap(), "fourth");
    assert_eq!(
        get("conformance.b", "x").await.unwrap(),
        "other",
        "other keys untouched"
    );
    store.scrub_secrets().await.expect("scrub");
    assert_eq!(
        get("conformance.a", "x").await.unwrap(),
        "fourth",
        "scrubbing keeps values"
    );
}

/// Two `setting_get_or_insert` calls racing on an unset key, through `a` and `b` (the same
/// store, or two stores on one database), both return the same, first-stored value. Repeated
/// on several keys so the calls really overlap.
pub async fn check_setting_race(a: &dyn Store, b: &dyn Store) {
    for i in 0..16 {
        let key = format!("conformance.race.{i}");
        let (left, right) = futures::join!(
            a.setting_get_or_insert(&key, "left"),
            b.setting_get_or_insert(&key, "right")
        );
        let left = left.expect("racing insert (left)");
        let right = right.expect("racing insert (right)");
        assert_eq!(left, right, "both racers of {key} get the same value");
        assert!(
            left == "left" || left == "right",
            "the value of {key} is one that was given"
        );
        let later = a
            .setting_get_or_insert(&key, "late")
            .await
            .expect("later read");
        assert_eq!(later, left, "the race's winner of {key} stays stored");
    }
}

fn user(id: u64, name: &str, created_at: i64) -> User {
    User {
        id: hex_id(id),
        name: name.to_owned(),
        email: Some(format!("{name}@example.com")),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ${name}"),
        roles: vec!["admin".to_owned(), "rôle ünïcode".to_owned()],
        active: true,
        created_at,
        updated_at: created_at + 1,
    }
}

fn token(hash: &str, kind: TokenKind, family: &str, user_id: &str) -> AuthToken {
    AuthToken {
        hash: hash.to_owned(),
        kind,
        family: family.to_owned(),
        user_id: user_id.to_owned(),
        created_at: 1_000,
        expires_at: i64::MAX,
    }
}

/// Users: create, unique name, get, by name, list order, update, delete (with tokens), count.
/// Tables: users, auth_tokens (left as found).
pub async fn check_users(store: &dyn Store) {
    assert_eq!(
        store.user_count().await.expect("count"),
        0,
        "the store starts empty"
    );
    assert!(store.user_list().await.expect("list").is_empty());

    // Ids and names sort against creation order, so only ordering by (created_at, insertion)
    // gives alice, zoe, bob.
    let zoe = user(0x20, "zoe", 2_000);
    let alice = user(0x30, "alice", 1_000);
    let mut bob = user(0x05, "bob", 2_000);
    bob.email = None;
    bob.roles = Vec::new();
    bob.active = false;
    for u in [&zoe, &alice, &bob] {
        store.user_create(u).await.expect("create user");
    }

    assert_eq!(
        store.user_get(UserId::new(&alice.id)).await.expect("get"),
        Some(alice.clone())
    );
    assert_eq!(
        store.user_get(UserId::new(&bob.id)).await.expect("get"),
        Some(bob.clone()),
        "None/empty fields"
    );
    assert_eq!(
        store.user_by_name("alice").await.expect("by name"),
        Some(alice.clone())
    );
    assert_eq!(
        store.user_by_name("bob").await.expect("by name"),
        Some(bob.clone())
    );
    assert_eq!(
        store
            .user_get(UserId::new(&hex_id(0x99)))
            .await
            .expect("get unknown"),
        None
    );
    assert_eq!(
        store.user_by_name("nobody").await.expect("by unknown name"),
        None
    );
    assert_eq!(
        store.user_list().await.expect("list"),
        vec![alice.clone(), zoe.clone(), bob.clone()],
        "users are listed oldest first, ties in insertion order"
    );

    assert_conflict(
        store.user_create(&user(0x40, "alice", 3_000)).await,
        "a taken name",
    );
    let mut same_id = user(0x40, "someone", 3_000);
    same_id.id = alice.id.clone();
    assert_conflict(store.user_create(&same_id).await, "a taken id");
    assert_eq!(
        store.user_count().await.expect("count"),
        3,
        "failed creates add nobody"
    );

    // Update replaces email, hash, roles, active and updated_at; never name or created_at.
    let mut change = alice.clone();
    change.name = "renamed".to_owned();
    change.created_at = 9;
    change.email = None;
    change.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$bmV3$new".to_owned();
    change.roles = vec!["viewer".to_owned()];
    change.active = false;
    change.updated_at = 5_000;
    assert!(
        store.user_update(&change).await.expect("update"),
        "update finds the user"
    );
    let updated = User {
        name: alice.name.clone(),
        created_at: alice.created_at,
        ..change.clone()
    };
    assert_eq!(
        store.user_get(UserId::new(&alice.id)).await.expect("get"),
        Some(updated.clone())
    );
    assert_eq!(
        store.user_by_name("renamed").await.expect("by name"),
        None,
        "names stay"
    );
    assert_eq!(
        store.user_get(UserId::new(&zoe.id)).await.expect("get"),
        Some(zoe.clone()),
        "others stay"
    );
    let ghost = user(0x98, "ghost", 1);
    assert!(
        !store.user_update(&ghost).await.expect("update unknown"),
        "no such user"
    );
    assert_eq!(
        store.user_get(UserId::new(&ghost.id)).await.expect("get"),
        None,
        "update never inserts"
    );

    // Deleting a user deletes its tokens and nobody else's.
    let mine = [
        token(
            "conformance-users-a1",
            TokenKind::Access,
            "fam-alice",
            &alice.id,
        ),
        token(
            "conformance-users-r1",
            TokenKind::Refresh,
            "fam-alice",
            &alice.id,
        ),
    ];
    let theirs = token(
        "conformance-users-z1",
        TokenKind::Access,
        "fam-zoe",
        &zoe.id,
    );
    for t in mine.iter().chain([&theirs]) {
        store.token_create(t).await.expect("create token");
    }
    assert!(
        store
            .user_delete(UserId::new(&alice.id))
            .await
            .expect("delete"),
        "delete finds the user"
    );
    for t in &mine {
        assert_eq!(
            store.token_get(&t.hash).await.expect("get token"),
            None,
            "tokens go too"
        );
    }
    assert_eq!(
        store.token_get(&theirs.hash).await.expect("get"),
        Some(theirs.clone())
    );
    assert_eq!(
        store.user_get(UserId::new(&alice.id)).await.expect("get"),
        None
    );
    assert_eq!(store.user_by_name("alice").await.expect("by name"), None);
    assert!(
        !store
            .user_delete(UserId::new(&alice.id))
            .await
            .expect("delete again"),
        "already gone"
    );
    assert_eq!(store.user_count().await.expect("count"), 2);
    assert_eq!(
        store.user_list().await.expect("list"),
        vec![zoe.clone(), bob.clone()]
    );

    let reborn = user(0x50, "alice", 6_000);
    store
        .user_create(&reborn)
        .await
        .expect("a deleted user's name is free again");
    assert_eq!(store.user_count().await.expect("count"), 3);

    store
        .token_delete_family(TokenFamilyId::new("fam-zoe"))
        .await
        .expect("clean up tokens");
    assert_eq!(store.token_get(&theirs.hash).await.expect("get"), None);
}

/// Custom roles: create, unique name, list by name (byte order). Tables: roles.
pub async fn check_roles(store: &dyn Store) {
    assert!(
        store.role_list().await.expect("list").is_empty(),
        "no custom roles yet"
    );
    let zeta = Role {
        name: "zeta".to_owned(),
        description: Some("Zeta — “last” by name".to_owned()),
        permissions: vec!["session_all:read".to_owned(), "workflow:write".to_owned()],
        created_at: 1_000,
    };
    let alpha = Role {
        name: "alpha".to_owned(),
        description: None,
        permissions: Vec::new(),
        created_at: 2_000,
    };
    let beta = Role {
        name: "Beta".to_owned(),
        description: Some(String::new()),
        permissions: vec!["user:read".to_owned()],
        created_at: 3_000,
    };
    for r in [&zeta, &alpha, &beta] {
        store.role_create(r).await.expect("create role");
    }
    assert_eq!(
        store.role_list().await.expect("list"),
        vec![beta.clone(), alpha.clone(), zeta.clone()],
        "roles are listed by name in byte order"
    );
    let again = Role {
        created_at: 9_000,
        ..alpha.clone()
    };
    assert_conflict(store.role_create(&again).await, "a taken role name");
    let names = |list: &[&str]| list.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    assert_eq!(
        store
            .roles_named(&names(&["zeta", "admin", "nobody", "Beta", "zeta"]))
            .await
            .expect("roles by name"),
        vec![beta.clone(), zeta.clone()],
        "roles_named: the custom roles among the names, by name, each once; others left out"
    );
    assert_eq!(
        store
            .roles_named(&names(&["ALPHA", "alpha "]))
            .await
            .expect("roles by name"),
        Vec::<Role>::new(),
        "roles_named matches names exactly"
    );
    assert_eq!(
        store.roles_named(&[]).await.expect("no names"),
        Vec::<Role>::new(),
        "roles_named of no names finds none"
    );
    assert_eq!(
        store.role_list().await.expect("list").len(),
        3,
        "a failed create adds none"
    );
}
