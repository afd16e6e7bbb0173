//! Workflow assets: insert, replace (keeping `created_at`, answering the replaced row), list by
//! id in byte order, delete, and racing writers of one new id.

use idv_store::AssetId;
use idv_store::{AssetRecord, Store};

fn asset(id: &str, n: i64) -> AssetRecord {
    AssetRecord {
        id: id.to_owned(),
        content_type: format!("image/png; v={n}"),
        size: 100 + n,
        sha256: format!("{n:064x}"),
        object_key: format!("assets/{id}/{n:024x}"),
        created_at: 1_000 + n,
        updated_at: 2_000 + n,
    }
}

/// Expects no assets.
pub async fn check_assets(store: &dyn Store) {
    assert_eq!(
        store.asset_get(AssetId::new("logo")).await.expect("get"),
        None
    );
    assert!(store.asset_list().await.expect("list").is_empty());
    assert_eq!(
        store
            .asset_delete(AssetId::new("logo"))
            .await
            .expect("delete"),
        None
    );

    let first = asset("logo", 1);
    assert_eq!(
        store.asset_put(&first).await.expect("put"),
        None,
        "a new asset replaces nothing"
    );
    assert_eq!(
        store.asset_get(AssetId::new("logo")).await.expect("get"),
        Some(first.clone())
    );

    let second = asset("logo", 2);
    assert_eq!(
        store.asset_put(&second).await.expect("replace"),
        Some(first.clone()),
        "a replace answers the row it replaced"
    );
    let stored = store
        .asset_get(AssetId::new("logo"))
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(
        stored,
        AssetRecord {
            created_at: first.created_at,
            ..second.clone()
        },
        "a replace changes every field but created_at"
    );

    for id in ["b", "Z_1", "a.png", "A-2"] {
        store.asset_put(&asset(id, 3)).await.expect("put");
    }
    let ids: Vec<String> = store
        .asset_list()
        .await
        .expect("list")
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(
        ids,
        ["A-2", "Z_1", "a.png", "b", "logo"],
        "assets are listed by id in byte order"
    );

    assert_eq!(
        store
            .asset_delete(AssetId::new("logo"))
            .await
            .expect("delete"),
        Some(stored),
        "a delete answers the deleted row"
    );
    assert_eq!(
        store.asset_get(AssetId::new("logo")).await.expect("get"),
        None
    );
    assert_eq!(
        store
            .asset_delete(AssetId::new("logo"))
            .await
            .expect("delete again"),
        None
    );
    for id in ["b", "Z_1", "a.png", "A-2"] {
        assert!(
            store
                .asset_delete(AssetId::new(id))
                .await
                .expect("delete")
                .is_some()
        );
    }
}

/// Two writers of one new id: one inserts, the other replaces exactly what the first wrote, so
/// no upload's bytes are lost track of. Leaves no assets.
pub async fn check_asset_race(a: &dyn Store, b: &dyn Store) {
    for i in 0..16 {
        let id = format!("race-{i}");
        let (left, right) = (asset(&id, 10), asset(&id, 20));
        let (l, r) = futures::join!(a.asset_put(&left), b.asset_put(&right));
        let (l, r) = (
            l.expect("racing put (left)"),
            r.expect("racing put (right)"),
        );
        let stored = a
            .asset_get(AssetId::new(&id))
            .await
            .expect("get")
            .expect("stored");
        match (l, r) {
            (None, Some(replaced)) => {
                assert_eq!(
                    replaced, left,
                    "{id}: the right racer replaced the left's row"
                );
                assert_eq!(stored.object_key, right.object_key, "{id}");
            }
            (Some(replaced), None) => {
                assert_eq!(
                    replaced, right,
                    "{id}: the left racer replaced the right's row"
                );
                assert_eq!(stored.object_key, left.object_key, "{id}");
            }
            other => panic!("{id}: exactly one racer inserts, got {other:?}"),
        }
        a.asset_delete(AssetId::new(&id)).await.expect("delete");
    }
}
