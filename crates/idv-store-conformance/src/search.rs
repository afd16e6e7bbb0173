//! Session search (every operator on columns and JSON fields, type strictness, `$and`/`$or`,
//! sorts, keyset paging, `skip`, owner reach, the capped count) and saved views (upsert keeping
//! owner and creation time, owner-only writes, visibility by user ids, paging, delete).
//!
//! The sessions it adds belong to workflows only it uses, and every query names them, so it
//! runs beside the other checks' rows.

use super::hex_id;
use idv_core::search::{
    Cmp, Column, Condition, Document, Field, Filter, Scalar, SortKey, SortValue, normalize_sort,
};
use idv_store::PrincipalId;
use idv_store::{SessionQuery, SessionRecord, Store, ViewRecord};
use serde_json::json;

const WF_A: &str = "conformance-search-a";
const WF_B: &str = "conformance-search-b";

/// Session `n` (ids 0x5e000 + n): workflow A for even n, B for odd; status n % 3; created at
/// 10_000 + 10 n (n = 3 and 4 share a time, to test the id tiebreak); updated in the reverse
/// order; owner "o1" for n < 6.
fn session(n: u64) -> SessionRecord {
    let created = if n == 4 {
        10_030
    } else {
        10_000 + 10 * n as i64
    };
    let props = match n {
        0 => json!({"AGE": 30, "FULL_NAME": "Ann", "doc": {"kind": "passport"}, "VIP": true}),
        1 => json!({"AGE": 30.5, "FULL_NAME": "Bob", "doc": {"kind": "id_card"}, "VIP": false}),
        2 => json!({"AGE": "30", "FULL_NAME": "Cid", "NOTE": null}),
        3 => json!({"AGE": 17, "FULL_NAME": "Dee", "doc": {"kind": "passport"}}),
        4 => json!({"AGE": 64, "FULL_NAME": "eve"}),
        _ => json!({"AGE": 40 + n, "FULL_NAME": format!("P{n}")}),
    };
    SessionRecord {
        id: hex_id(0x5e000 + n),
        workflow_id: if n.is_multiple_of(2) { WF_A } else { WF_B }.to_owned(),
        workflow_revision: 1,
        workflow_name: "Search".to_owned(),
        workflow_version: Some("1".to_owned()),
        status: (n % 3) as i64,
        locale: "en-us".to_owned(),
        metadata: json!({"externalUserId": format!("user-{n}"), "n": n}),
        properties: props,
        current_step: Some("STEP".to_owned()),
        steps: json!([]),
        ended: n % 3 == 2,
        owner_id: Some(if n < 6 { "o1" } else { "o2" }.to_owned()),
        created_at: created,
        updated_at: 20_000 - n as i64,
        revision: 1,
        engine: json!({}),
        expires_at: None,
        history: json!([]),
        legal_hold: false,
    }
}

const COUNT: u64 = 12;

fn query(filter: Option<Filter>) -> SessionQuery {
    SessionQuery {
        filter,
        workflows: vec![WF_A.to_owned(), WF_B.to_owned()],
        owner_id: None,
        sort: normalize_sort(vec![]),
        after: None,
        skip: 0,
        limit: 100,
        count_limit: 1000,
    }
}

fn cond(c: Condition) -> Option<Filter> {
    Some(Filter::Condition(c))
}

fn cmp(field: Field, cmp: Cmp, value: Scalar) -> Filter {
    Filter::Condition(Condition::Compare { field, cmp, value })
}

fn prop(keys: &[&str]) -> Field {
    Field::Json(
        Document::Properties,
        keys.iter().map(|k| k.to_string()).collect(),
    )
}

/// The session numbers a query answers, in order.
async fn numbers(store: &dyn Store, q: &SessionQuery) -> Vec<u64> {
    store
        .session_search(q)
        .await
        .unwrap_or_else(|e| panic!("search {q:?}: {e}"))
        .items
        .iter()
        .map(|s| u64::from_str_radix(&s.id, 16).expect("hex id") - 0x5e000)
        .collect()
}

/// The sessions matching `pred`, newest first (id descending on ties).
fn expected(pred: impl Fn(&SessionRecord) -> bool) -> Vec<u64> {
    let mut all: Vec<SessionRecord> = (0..COUNT).map(session).filter(|s| pred(s)).collect();
    all.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    all.iter()
        .map(|s| u64::from_str_radix(&s.id, 16).expect("hex") - 0x5e000)
        .collect()
}

async fn check(store: &dyn Store, what: &str, filter: Option<Filter>, want: Vec<u64>) {
    let got = numbers(store, &query(filter)).await;
    assert_eq!(got, want, "{what}");
}

/// Expects no sessions of the workflows it uses.
pub async fn check_session_search(store: &dyn Store) {
    for n in 0..COUNT {
        store
            .session_create(&session(n), &[])
            .await
            .expect("create");
    }
    let all = expected(|_| true);
    check(
        store,
        "no filter: all, newest first, ties by id",
        None,
        all.clone(),
    )
    .await;
    assert_eq!(&all[..3], [11, 10, 9]);
    assert_eq!(
        all.iter().position(|n| *n == 4).unwrap() + 1,
        all.iter().position(|n| *n == 3).unwrap(),
        "3 and 4 share a time; 4 has the larger id and comes first"
    );

    // Columns.
    use Column::*;
    check(
        store,
        "status $eq",
        Some(cmp(Field::Column(Status), Cmp::Eq, Scalar::Int(1))),
        expected(|s| s.status == 1),
    )
    .await;
    check(
        store,
        "status $ne",
        Some(cmp(Field::Column(Status), Cmp::Ne, Scalar::Int(1))),
        expected(|s| s.status != 1),
    )
    .await;
    check(
        store,
        "workflow.id $in",
        cond(Condition::In {
            field: Field::Column(WorkflowId),
            values: vec![Scalar::Text(WF_B.into()), Scalar::Text("other".into())],
            negated: false,
        }),
        expected(|s| s.workflow_id == WF_B),
    )
    .await;
    check(
        store,
        "status $nin",
        cond(Condition::In {
            field: Field::Column(Status),
            values: vec![Scalar::Int(0), Scalar::Int(2)],
            negated: true,
        }),
        expected(|s| s.status == 1),
    )
    .await;
    check(
        store,
        "createdAt $gte and $lt",
        Some(Filter::And(vec![
            cmp(Field::Column(CreatedAt), Cmp::Gte, Scalar::Int(10_030)),
            cmp(Field::Column(CreatedAt), Cmp::Lt, Scalar::Int(10_070)),
        ])),
        expected(|s| (10_030..10_070).contains(&s.created_at)),
    )
    .await;
    check(
        store,
        "updatedAt $gt and $lte",
        Some(Filter::And(vec![
            cmp(Field::Column(UpdatedAt), Cmp::Gt, Scalar::Int(19_990)),
            cmp(Field::Column(UpdatedAt), Cmp::Lte, Scalar::Int(19_998)),
        ])),
        expected(|s| s.updated_at > 19_990 && s.updated_at <= 19_998),
    )
    .await;
    check(
        store,
        "id $eq",
        Some(cmp(
            Field::Column(Id),
            Cmp::Eq,
            Scalar::Text(hex_id(0x5e005)),
        )),
        vec![5],
    )
    .await;
    check(
        store,
        "id $gt (byte order)",
        Some(cmp(
            Field::Column(Id),
            Cmp::Gt,
            Scalar::Text(hex_id(0x5e009)),
        )),
        expected(|s| s.id > hex_id(0x5e009)),
    )
    .await;
    check(
        store,
        "column $exists false",
        cond(Condition::Exists {
            field: Field::Column(Status),
            exists: false,
        }),
        vec![],
    )
    .await;

    // JSON fields: type-strict.
    check(
        store,
        "properties number $eq matches 30, not \"30\" or 30.5",
        Some(cmp(prop(&["AGE"]), Cmp::Eq, Scalar::Int(30))),
        vec![0],
    )
    .await;
    check(
        store,
        "properties string $eq matches \"30\" only",
        Some(cmp(prop(&["AGE"]), Cmp::Eq, Scalar::Text("30".into()))),
        vec![2],
    )
    .await;
    check(
        store,
        "properties float $gt: numbers only",
        Some(cmp(prop(&["AGE"]), Cmp::Gt, Scalar::Float(30.25))),
        expected(|s| s.properties["AGE"].as_f64().is_some_and(|a| a > 30.25)),
    )
    .await;
    check(
        store,
        "properties $lte number",
        Some(cmp(prop(&["AGE"]), Cmp::Lte, Scalar::Int(30))),
        vec![3, 0],
    )
    .await;
    check(
        store,
        "properties string $gte in byte order (lower case after upper)",
        Some(cmp(
            prop(&["FULL_NAME"]),
            Cmp::Gte,
            Scalar::Text("Dee".into()),
        )),
        expected(|s| {
            s.properties["FULL_NAME"]
                .as_str()
                .is_some_and(|n| n >= "Dee")
        }),
    )
    .await;
    check(
        store,
        "properties string $lt",
        Some(cmp(
            prop(&["FULL_NAME"]),
            Cmp::Lt,
            Scalar::Text("Bz".into()),
        )),
        vec![1, 0],
    )
    .await;
    check(
        store,
        "nested path $eq",
        Some(cmp(
            prop(&["doc", "kind"]),
            Cmp::Eq,
            Scalar::Text("passport".into()),
        )),
        vec![3, 0],
    )
    .await;
    check(
        store,
        "nested path $ne matches missing keys too",
        Some(cmp(
            prop(&["doc", "kind"]),
            Cmp::Ne,
            Scalar::Text("passport".into()),
        )),
        expected(|s| s.properties["doc"]["kind"] != json!("passport")),
    )
    .await;
    check(
        store,
        "boolean $eq true is not the number 1",
        Some(cmp(prop(&["VIP"]), Cmp::Eq, Scalar::Bool(true))),
        vec![0],
    )
    .await;
    check(
        store,
        "boolean $eq false",
        Some(cmp(prop(&["VIP"]), Cmp::Eq, Scalar::Bool(false))),
        vec![1],
    )
    .await;
    check(
        store,
        "$eq null: explicit null or missing",
        Some(cmp(prop(&["NOTE"]), Cmp::Eq, Scalar::Null)),
        all.clone(),
    )
    .await;
    check(
        store,
        "$exists true counts an explicit null",
        cond(Condition::Exists {
            field: prop(&["NOTE"]),
            exists: true,
        }),
        vec![2],
    )
    .await;
    check(
        store,
        "$exists false",
        cond(Condition::Exists {
            field: prop(&["VIP"]),
            exists: false,
        }),
        expected(|s| s.properties.get("VIP").is_none()),
    )
    .await;
    check(
        store,
        "JSON $in mixes types strictly",
        cond(Condition::In {
            field: prop(&["AGE"]),
            values: vec![Scalar::Int(17), Scalar::Text("30".into()), Scalar::Int(64)],
            negated: false,
        }),
        vec![4, 3, 2],
    )
    .await;
    check(
        store,
        "JSON $nin matches missing and other values",
        cond(Condition::In {
            field: Field::Json(Document::Metadata, vec!["n".into()]),
            values: vec![Scalar::Int(0), Scalar::Int(1), Scalar::Int(2)],
            negated: true,
        }),
        expected(|s| s.metadata["n"].as_u64().is_some_and(|n| n > 2)),
    )
    .await;
    check(
        store,
        "metadata string $eq",
        Some(cmp(
            Field::Json(Document::Metadata, vec!["externalUserId".into()]),
            Cmp::Eq,
            Scalar::Text("user-7".into()),
        )),
        vec![7],
    )
    .await;

    // $and / $or nesting: (status = 0 AND AGE > 20) OR (workflow B AND (id = 3 OR id = 5)).
    let nested = Filter::Or(vec![
        Filter::And(vec![
            cmp(Field::Column(Status), Cmp::Eq, Scalar::Int(0)),
            cmp(prop(&["AGE"]), Cmp::Gt, Scalar::Int(20)),
        ]),
        Filter::And(vec![
            cmp(
                Field::Column(WorkflowId),
                Cmp::Eq,
                Scalar::Text(WF_B.into()),
            ),
            Filter::Or(vec![
                cmp(Field::Column(Id), Cmp::Eq, Scalar::Text(hex_id(0x5e003))),
                cmp(Field::Column(Id), Cmp::Eq, Scalar::Text(hex_id(0x5e005))),
            ]),
        ]),
    ]);
    check(
        store,
        "nested $and/$or",
        Some(nested),
        expected(|s| {
            let n = u64::from_str_radix(&s.id, 16).unwrap() - 0x5e000;
            (s.status == 0 && s.properties["AGE"].as_f64().is_some_and(|a| a > 20.0))
                || (s.workflow_id == WF_B && (n == 3 || n == 5))
        }),
    )
    .await;

    // Workflows restrict; owner restricts.
    let mut q = query(None);
    q.workflows = vec![WF_A.to_owned()];
    assert_eq!(
        numbers(store, &q).await,
        expected(|s| s.workflow_id == WF_A),
        "workflows restrict"
    );
    let mut q = query(None);
    q.owner_id = Some("o2".into());
    assert_eq!(
        numbers(store, &q).await,
        expected(|s| s.owner_id.as_deref() == Some("o2")),
        "owner restricts"
    );

    // Sorts, each paged through with the cursor and with skip.
    let sorts: Vec<Vec<SortKey>> = vec![
        vec![],
        vec![SortKey {
            column: CreatedAt,
            descending: false,
        }],
        vec![
            SortKey {
                column: Status,
                descending: false,
            },
            SortKey {
                column: UpdatedAt,
                descending: true,
            },
        ],
        vec![
            SortKey {
                column: WorkflowId,
                descending: true,
            },
            SortKey {
                column: CreatedAt,
                descending: false,
            },
        ],
        vec![SortKey {
            column: Id,
            descending: false,
        }],
    ];
    for keys in sorts {
        let mut q = query(None);
        q.sort = normalize_sort(keys.clone());
        let full = store.session_search(&q).await.expect("search").items;
        let want = sorted(&q.sort);
        assert_eq!(
            full.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            want,
            "sort {keys:?}"
        );
        // Keyset pages of 5.
        let mut paged = Vec::new();
        let mut after: Option<Vec<SortValue>> = None;
        loop {
            let mut p = q.clone();
            p.limit = 5;
            p.after = after.clone();
            let page = store.session_search(&p).await.expect("page");
            assert_eq!(page.total, COUNT as i64, "total ignores the cursor");
            let Some(last) = page.items.last() else { break };
            after = Some(
                q.sort
                    .iter()
                    .map(|k| match k.column {
                        Id => SortValue::Text(last.id.clone()),
                        WorkflowId => SortValue::Text(last.workflow_id.clone()),
                        Status => SortValue::Int(last.status),
                        CreatedAt => SortValue::Int(last.created_at),
                        UpdatedAt => SortValue::Int(last.updated_at),
                    })
                    .collect(),
            );
            paged.extend(page.items.iter().map(|s| s.id.clone()));
            assert!(paged.len() <= COUNT as usize, "paging ends");
        }
        assert_eq!(paged, want, "cursor pages of sort {keys:?}");
        let mut p = q.clone();
        p.skip = 4;
        p.limit = 3;
        assert_eq!(
            store
                .session_search(&p)
                .await
                .expect("skip")
                .items
                .iter()
                .map(|s| s.id.clone())
                .collect::<Vec<_>>(),
            want[4..7],
            "skip and limit of sort {keys:?}"
        );
    }

    // The count is capped.
    let mut q = query(None);
    q.count_limit = 5;
    q.limit = 2;
    let page = store.session_search(&q).await.expect("capped");
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.total, 6, "counting stops at count_limit + 1");

    // Summaries carry the row.
    let mut q = query(Some(cmp(
        Field::Column(Id),
        Cmp::Eq,
        Scalar::Text(hex_id(0x5e002)),
    )));
    q.limit = 1;
    let s = store.session_search(&q).await.expect("one").items.remove(0);
    let full = session(2);
    assert_eq!(
        (
            s.workflow_id,
            s.workflow_revision,
            s.workflow_name,
            s.workflow_version,
            s.status,
            s.current_step,
            s.ended,
            s.metadata,
            s.properties,
            s.owner_id,
            s.created_at,
            s.updated_at
        ),
        (
            full.workflow_id,
            full.workflow_revision,
            full.workflow_name,
            full.workflow_version,
            full.status,
            full.current_step,
            full.ended,
            full.metadata,
            full.properties,
            full.owner_id,
            full.created_at,
            full.updated_at
        )
    );
}

/// The ids of all sessions in the order of `sort`, computed here.
fn sorted(sort: &[SortKey]) -> Vec<String> {
    let mut all: Vec<SessionRecord> = (0..COUNT).map(session).collect();
    all.sort_by(|a, b| {
        for k in sort {
            let o = match k.column {
                Column::Id => a.id.cmp(&b.id),
                Column::WorkflowId => a.workflow_id.cmp(&b.workflow_id),
                Column::Status => a.status.cmp(&b.status),
                Column::CreatedAt => a.created_at.cmp(&b.created_at),
                Column::UpdatedAt => a.updated_at.cmp(&b.updated_at),
            };
            let o = if k.descending { o.reverse() } else { o };
            if o.is_ne() {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    all.into_iter().map(|s| s.id).collect()
}

fn view(key: &str, owner: Option<&str>, users: &[&str], title: &str) -> ViewRecord {
    let users: Vec<String> = users.iter().map(|u| u.to_string()).collect();
    ViewRecord {
        namespace: "conformance-ns".into(),
        key: key.into(),
        value: json!({"id": format!("id-{key}"), "title": title, "workflows": [WF_A],
                      "columns": [{"type": "field", "name": "status"}],
                      "groupIds": [], "userIds": users}),
        group_ids: vec!["g1".into()],
        user_ids: users,
        owner_id: owner.map(str::to_string),
        created_at: 100,
        updated_at: 100,
    }
}

fn keys(list: &[ViewRecord]) -> Vec<&str> {
    list.iter().map(|v| v.key.as_str()).collect()
}

/// Expects no views in the namespace `conformance-ns`.
pub async fn check_views(store: &dyn Store) {
    let ns = "conformance-ns";
    assert_eq!(store.view_get(ns, "a").await.expect("get"), None);
    let (list, total) = store.view_list(ns, None, 10, 0).await.expect("list");
    assert!(list.is_empty() && total == 0);

    let a = view("a", Some("alice"), &[], "A");
    assert!(store.view_put(&a, None).await.expect("put"));
    assert_eq!(store.view_get(ns, "a").await.expect("get"), Some(a.clone()));

    // A replace keeps owner and creation time.
    let mut a2 = view("a", Some("bob"), &["u9"], "A2");
    a2.created_at = 500;
    a2.updated_at = 600;
    assert!(
        store
            .view_put(&a2, Some(PrincipalId::new("alice")))
            .await
            .expect("replace")
    );
    let stored = store.view_get(ns, "a").await.expect("get").expect("there");
    assert_eq!(
        stored,
        ViewRecord {
            owner_id: Some("alice".into()),
            created_at: 100,
            ..a2.clone()
        },
        "a replace keeps owner_id and created_at"
    );
    // Owner-only writes refuse someone else's view and leave it untouched.
    assert!(
        !store
            .view_put(
                &view("a", Some("bob"), &[], "X"),
                Some(PrincipalId::new("bob"))
            )
            .await
            .expect("refused")
    );
    assert_eq!(
        store.view_get(ns, "a").await.expect("get").as_ref(),
        Some(&stored)
    );
    // ... but not a new one.
    assert!(
        store
            .view_put(
                &view("b", Some("bob"), &[], "B"),
                Some(PrincipalId::new("bob"))
            )
            .await
            .expect("new")
    );
    store
        .view_put(&view("c", None, &["carol", "dan"], "C"), None)
        .await
        .expect("c");
    store
        .view_put(&view("B-upper", None, &[], "U"), None)
        .await
        .expect("upper");
    let mut other_ns = view("a", None, &[], "other");
    other_ns.namespace = "conformance-other".into();
    store.view_put(&other_ns, None).await.expect("other ns");

    let (list, total) = store.view_list(ns, None, 10, 0).await.expect("list");
    assert_eq!(
        keys(&list),
        ["B-upper", "a", "b", "c"],
        "by key, byte order"
    );
    assert_eq!(total, 4);
    let (list, total) = store.view_list(ns, None, 2, 1).await.expect("page");
    assert_eq!((keys(&list), total), (vec!["a", "b"], 4), "limit and skip");

    // Visibility: no user ids → everyone; else listed users and the owner.
    let seen = |viewer: &'static str| async move {
        let (list, total) = store
            .view_list(ns, Some(PrincipalId::new(viewer)), 10, 0)
            .await
            .expect("list");
        assert_eq!(list.len() as i64, total, "total counts what {viewer} sees");
        list.into_iter().map(|v| v.key).collect::<Vec<_>>()
    };
    assert_eq!(seen("carol").await, ["B-upper", "b", "c"]);
    assert_eq!(seen("u9").await, ["B-upper", "a", "b"]);
    assert_eq!(
        seen("alice").await,
        ["B-upper", "a", "b"],
        "the owner sees it"
    );
    assert_eq!(seen("zed").await, ["B-upper", "b"]);

    // Delete: owner-only refuses others.
    assert!(
        !store
            .view_delete(ns, "a", Some(PrincipalId::new("bob")))
            .await
            .expect("refused")
    );
    assert!(store.view_get(ns, "a").await.expect("get").is_some());
    assert!(
        store
            .view_delete(ns, "a", Some(PrincipalId::new("alice")))
            .await
            .expect("own")
    );
    assert!(!store.view_delete(ns, "a", None).await.expect("again"));
    for k in ["b", "c", "B-upper"] {
        assert!(store.view_delete(ns, k, None).await.expect("delete"));
    }
    assert!(
        store
            .view_delete("conformance-other", "a", None)
            .await
            .expect("other")
    );
    let (list, _) = store.view_list(ns, None, 10, 0).await.expect("list");
    assert!(list.is_empty());
}
