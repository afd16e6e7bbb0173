//! The copy port: tables read as plain values and written back give the same rows, in the
//! same order, and the same typed records; the table list leaves out what the database
//! derives itself; snapshots and the integrity check.

use idv_store::{ApiKey, CopyBatch, CopyValue, Role, Store, User};

/// Every row of `table`, page by page (pages of 3, so paging is exercised).
async fn dump(store: &dyn Store, table: &str) -> (Vec<String>, Vec<Vec<CopyValue>>) {
    let mut columns = vec![];
    let mut rows = vec![];
    let mut after = 0;
    loop {
        let CopyBatch {
            columns: c,
            rows: r,
            next,
        } = store.copy_read(table, after, 3).await.expect("copy_read");
        if !c.is_empty() {
            columns = c;
        }
        rows.extend(r);
        match next {
            Some(n) => after = n,
            None => break,
        }
    }
    (columns, rows)
}

/// Runs after the other checks, on the rows they left: users, tokens, roles, API keys and
/// files (with inline bytes) are read, cleared, written back and read again.
pub async fn check_copy(store: &dyn Store) {
    let tables = store.copy_tables().await.expect("copy_tables");
    for t in [
        "settings",
        "users",
        "sessions",
        "files",
        "audit_log",
        "webhooks",
    ] {
        assert!(
            tables.iter().any(|x| x == t),
            "copy_tables lists {t}: {tables:?}"
        );
    }
    for t in [
        "session_day_counts",
        "session_step_counts",
        "_sqlx_migrations",
    ] {
        assert!(!tables.iter().any(|x| x == t), "copy_tables leaves out {t}");
    }
    let pos = |t: &str| tables.iter().position(|x| x == t).unwrap();
    assert!(pos("users") < pos("auth_tokens"), "parents before children");
    assert!(pos("sessions") < pos("files"), "parents before children");

    // Rows of every kind of value: booleans, lists, nulls, text with quotes and accents.
    store
        .user_create(&User {
            id: crate::hex_id(0xc0_0001),
            name: "copy-user".into(),
            email: None,
            password_hash: "$argon2id$v=19$x".into(),
            roles: vec!["admin".into(), "rôle \"quoted\"".into()],
            active: false,
            created_at: 1,
            updated_at: 2,
        })
        .await
        .unwrap();
    store
        .role_create(&Role {
            name: "copy-role".into(),
            description: Some("it's".into()),
            permissions: vec!["session_all:read".into()],
            created_at: 3,
        })
        .await
        .unwrap();
    store
        .apikey_create(&ApiKey {
            id: crate::hex_id(0xc0_0002),
            name: "copy-key".into(),
            secret_hash: "ab".into(),
            permissions: vec![],
            owner_id: None,
            ttl: Some(60),
            created_at: 4,
            expires_at: Some(60_004),
            revoked_at: None,
            last_used_at: None,
        })
        .await
        .unwrap();
    let users = store.user_list().await.unwrap();
    let roles = store.role_list().await.unwrap();
    let keys = store.apikey_list(None).await.unwrap();
    assert!(!users.is_empty() && !roles.is_empty() && !keys.is_empty());
    assert_eq!(
        store.copy_count("users").await.unwrap(),
        users.len() as i64,
        "copy_count counts the rows"
    );

    let mut dumps = vec![];
    for t in ["users", "auth_tokens", "roles", "api_keys", "files"] {
        dumps.push((t, dump(store, t).await));
    }
    let (_, (file_columns, file_rows)) = &dumps[4];
    let content = file_columns.iter().position(|c| c == "content");
    assert!(
        content.is_some_and(|c| file_rows
            .iter()
            .any(|r| matches!(r[c], CopyValue::Bytes(_)))),
        "inline file bytes are read as bytes"
    );
    // Children first, so nothing cascades away before it is written back.
    for t in ["files", "auth_tokens", "api_keys", "roles", "users"] {
        store.copy_clear(t).await.expect("copy_clear");
        assert_eq!(store.copy_count(t).await.unwrap(), 0, "{t} cleared");
    }
    for (t, (columns, rows)) in &dumps {
        store
            .copy_write(t, columns, rows)
            .await
            .unwrap_or_else(|e| panic!("copy_write {t}: {e}"));
    }
    store.copy_finish().await.expect("copy_finish");
    for (t, before) in &dumps {
        assert_eq!(
            &dump(store, t).await,
            before,
            "{t} reads back the same rows"
        );
    }
    assert_eq!(
        store.user_list().await.unwrap(),
        users,
        "users written back"
    );
    assert_eq!(
        store.role_list().await.unwrap(),
        roles,
        "roles written back"
    );
    assert_eq!(
        store.apikey_list(None).await.unwrap(),
        keys,
        "keys written back"
    );

    let path = std::env::temp_dir().join(format!(
        "idv-snapshot-{}-{}.db",
        std::process::id(),
        idv_core::ids::new_id()
    ));
    let made = store.snapshot_into(&path).await.expect("snapshot_into");
    // A SQLite file makes one (an in-memory database has no file to copy); PostgreSQL none.
    if made {
        assert_eq!(store.backend(), "sqlite", "only SQLite makes snapshots");
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "the snapshot file holds the database");
        let _ = std::fs::remove_file(&path);
    }
    assert_eq!(
        store.integrity_check().await.expect("integrity_check"),
        Vec::<String>::new(),
        "a sound database reports no problem"
    );
}
