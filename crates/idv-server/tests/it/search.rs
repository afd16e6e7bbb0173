//! `POST /api/sessions/search` through real HTTP on SQLite and PostgreSQL: every operator and
//! field, `$and`/`$or` nesting, sorts, skip/limit, cursor paging, columns and summaries,
//! own-only reach, and bad input answered with 400s that name the mistake and change nothing.

use crate::common;

use common::*;
use idv_store::SessionRecord;
use serde_json::{Value, json};

const WF: &str = KYC_ID;

/// Session `n`: status n % 4, created at BASE + n minutes (n = 5 and 6 at the same time),
/// updated 1 s after, properties GIVEN_NAMES / AGE / DOCUMENT_NUMBER, metadata with a tier.
fn record(n: i64, owner: &str) -> SessionRecord {
    let base = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    let created = base + 60_000 * if n == 6 { 5 } else { n };
    SessionRecord {
        id: format!("{:024x}", 0x7700 + n),
        workflow_id: WF.into(),
        workflow_revision: 1,
        workflow_name: "General KYC".into(),
        workflow_version: Some("1.0".into()),
        status: n % 4,
        locale: "en-us".into(),
        metadata: json!({"externalUserId": format!("user-{n}"), "tier": if n % 2 == 0 { "gold" } else { "silver" }}),
        properties: json!({"GIVEN_NAMES": format!("Person {n:02}"), "AGE": 20 + n, "DOCUMENT_NUMBER": format!("D{n}"),
                           "DOCUMENT_FRONT": format!("{:024x}", 0xf00 + n)}),
        current_step: Some("ONBOARDING".into()),
        steps: json!([]),
        ended: n % 4 == 2,
        owner_id: Some(owner.into()),
        created_at: created,
        updated_at: created + 1000,
        revision: 1,
        engine: json!({}),
        expires_at: None,
        history: json!([]),
        legal_hold: false,
    }
}

const N: i64 = 14;

struct Fixture {
    srv: TestServer,
    auth: String,
    records: Vec<SessionRecord>,
}

async fn fixture(backend: Backend) -> Fixture {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    let key = srv.key(&["session_all:read"]).await;
    let state = srv.state().await;
    let records: Vec<SessionRecord> = (0..N).map(|n| record(n, "someone")).collect();
    for r in &records {
        state.store.session_create(r, &[]).await.unwrap();
    }
    Fixture {
        srv,
        auth: format!("ApiKey {key}"),
        records,
    }
}

/// The ids a search answers (one page of up to 1000).
async fn search_ids(f: &Fixture, body: Value) -> Vec<String> {
    let r = f
        .srv
        .post("/api/sessions/search?limit=1000")
        .header("authorization", &f.auth)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body} → {v}");
    assert_eq!(
        v["total"].as_u64().unwrap() as usize,
        v["items"].as_array().unwrap().len()
    );
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

/// Ids of the records matching `pred`, newest first (ties: larger id first).
fn want(f: &Fixture, pred: impl Fn(&SessionRecord) -> bool) -> Vec<String> {
    let mut v: Vec<&SessionRecord> = f.records.iter().filter(|r| pred(r)).collect();
    v.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    v.iter().map(|r| r.id.clone()).collect()
}

fn one(field: &str, op: &str, value: Value) -> Value {
    json!({"filter": {"op": "$and", "groups": [{"op": "$and", "conditions": [{"field": field, "op": op, "value": value}]}]}})
}

fn iso(ms: i64) -> String {
    idv_core::time::iso(ms)
}

async fn operators_and_fields(backend: Backend) {
    let f = fixture(backend).await;
    let t = |n: i64| f.records[n as usize].created_at;

    // Regula's own body: a view's value with a workflow.id $in filter.
    let regula = json!({"id": "v1", "title": "General KYC", "description": "", "workflows": [WF],
        "columns": [], "sort": [], "groupIds": [], "userIds": [],
        "filter": {"op": "$and", "groups": [{"op": "$and", "conditions": [
            {"field": "workflow.id", "op": "$in", "value": [WF]}]}]}});
    let all = want(&f, |_| true);
    assert_eq!(search_ids(&f, regula).await, all);
    assert_eq!(
        search_ids(&f, one("workflow.id", "$eq", json!("other"))).await,
        Vec::<String>::new()
    );

    let cases: Vec<(Value, Vec<String>)> = vec![
        (one("status", "$eq", json!(1)), want(&f, |r| r.status == 1)),
        (one("status", "$ne", json!(1)), want(&f, |r| r.status != 1)),
        (
            one("status", "$in", json!([0, 3])),
            want(&f, |r| [0, 3].contains(&r.status)),
        ),
        (
            one("status", "$nin", json!([0, 3])),
            want(&f, |r| ![0, 3].contains(&r.status)),
        ),
        (one("status", "$gt", json!(1)), want(&f, |r| r.status > 1)),
        (one("status", "$gte", json!(1)), want(&f, |r| r.status >= 1)),
        (one("status", "$lt", json!(1)), want(&f, |r| r.status < 1)),
        (one("status", "$lte", json!(1)), want(&f, |r| r.status <= 1)),
        (one("status", "$exists", json!(true)), all.clone()),
        (
            one("id", "$eq", json!(f.records[3].id)),
            vec![f.records[3].id.clone()],
        ),
        (one("workflow.id", "$ne", json!(WF)), vec![]),
        (
            one("createdAt", "$gte", json!(iso(t(5)))),
            want(&f, |r| r.created_at >= t(5)),
        ),
        (
            one("createdAt", "$lt", json!(t(5))),
            want(&f, |r| r.created_at < t(5)),
        ),
        (
            one("updatedAt", "$lte", json!(iso(t(3) + 1000))),
            want(&f, |r| r.updated_at <= t(3) + 1000),
        ),
        (
            one("updatedAt", "$gt", json!(t(10) + 1000)),
            want(&f, |r| r.updated_at > t(10) + 1000),
        ),
        (
            one("metadata.tier", "$eq", json!("gold")),
            want(&f, |r| r.metadata["tier"] == "gold"),
        ),
        (
            one(
                "metadata.externalUserId",
                "$in",
                json!(["user-1", "user-2", "nobody"]),
            ),
            want(&f, |r| {
                ["user-1", "user-2"].contains(&r.metadata["externalUserId"].as_str().unwrap())
            }),
        ),
        (
            one("properties.AGE", "$gt", json!(30)),
            want(&f, |r| r.properties["AGE"].as_i64().unwrap() > 30),
        ),
        (one("properties.AGE", "$eq", json!("25")), vec![]),
        (
            one("properties.GIVEN_NAMES", "$lt", json!("Person 03")),
            want(&f, |r| {
                r.properties["GIVEN_NAMES"].as_str().unwrap() < "Person 03"
            }),
        ),
        (
            one("properties.DOCUMENT_NUMBER", "$nin", json!(["D1", "D2"])),
            want(&f, |r| {
                !["D1", "D2"].contains(&r.properties["DOCUMENT_NUMBER"].as_str().unwrap())
            }),
        ),
        (
            one("properties.RFID_STATUS", "$exists", json!(false)),
            all.clone(),
        ),
        (one("properties.AGE", "$exists", json!(true)), all.clone()),
        (
            one("metadata.tier", "$ne", json!("gold")),
            want(&f, |r| r.metadata["tier"] != "gold"),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(search_ids(&f, body.clone()).await, expected, "{body}");
    }

    // Nesting: (status 0 AND tier gold) OR (AGE >= 31 AND (status 1 OR status 2)).
    let nested = json!({"filter": {"op": "$or", "groups": [
        {"op": "$and", "conditions": [
            {"field": "status", "op": "$eq", "value": 0},
            {"field": "metadata.tier", "op": "$eq", "value": "gold"}]},
        {"op": "$and", "conditions": [{"field": "properties.AGE", "op": "$gte", "value": 31}],
         "groups": [{"op": "$or", "conditions": [
            {"field": "status", "op": "$eq", "value": 1},
            {"field": "status", "op": "$eq", "value": 2}]}]}]}});
    let expected = want(&f, |r| {
        (r.status == 0 && r.metadata["tier"] == "gold")
            || (r.properties["AGE"].as_i64().unwrap() >= 31 && [1, 2].contains(&r.status))
    });
    assert!(!expected.is_empty());
    assert_eq!(search_ids(&f, nested).await, expected);

    // `workflows` restricts too.
    assert_eq!(
        search_ids(&f, json!({"workflows": ["another"]})).await,
        Vec::<String>::new()
    );
    f.srv.stop().await;
}

async fn sorting_paging_and_summaries(backend: Backend) {
    let f = fixture(backend).await;
    let mut by_created_asc = f.records.clone();
    by_created_asc.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let asc: Vec<String> = by_created_asc.iter().map(|r| r.id.clone()).collect();
    assert_eq!(
        search_ids(
            &f,
            json!({"sort": [{"field": "createdAt", "order": "asc"}]})
        )
        .await,
        asc
    );
    let mut by_status = f.records.clone();
    by_status.sort_by(|a, b| (b.status, b.created_at, &b.id).cmp(&(a.status, a.created_at, &a.id)));
    assert_eq!(
        search_ids(&f, json!({"sort": [{"field": "status", "direction": -1}, {"field": "createdAt", "order": "desc"}]})).await,
        by_status.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
    );
    let mut by_status_mixed = f.records.clone();
    by_status_mixed
        .sort_by(|a, b| (a.status, b.updated_at, &b.id).cmp(&(b.status, a.updated_at, &a.id)));
    let mixed: Vec<String> = by_status_mixed.iter().map(|r| r.id.clone()).collect();
    let mixed_sort =
        json!([{"field": "status", "order": 1}, {"field": "updatedAt", "order": "DESC"}]);
    assert_eq!(search_ids(&f, json!({"sort": mixed_sort})).await, mixed);

    // skip and limit.
    let all = want(&f, |_| true);
    let page: Value = f
        .srv
        .post("/api/sessions/search?limit=3&skip=2")
        .header("authorization", &f.auth)
        .json(&json!({}))
        .send_json()
        .await;
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        all[2..5].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(page["total"], N);
    assert_eq!(page["totalCapped"], false);
    // Default limit 20 covers all 14; no next page.
    let page: Value = f
        .srv
        .post("/api/sessions/search")
        .header("authorization", &f.auth)
        .json(&json!({}))
        .send_json()
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), N as usize);
    assert_eq!(page["next"], Value::Null);

    // Cursor pages, default and mixed sorts, equal the full ordered list.
    for (sort, expected) in [
        (json!([]), all.clone()),
        (mixed_sort.clone(), mixed.clone()),
    ] {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let url = match &after {
                Some(c) => format!("/api/sessions/search?limit=4&after={c}"),
                None => "/api/sessions/search?limit=4".to_string(),
            };
            let page: Value = f
                .srv
                .post(&url)
                .header("authorization", &f.auth)
                .json(&json!({"sort": sort}))
                .send_json()
                .await;
            pages += 1;
            assert_eq!(page["total"], N, "{page}");
            for s in page["items"].as_array().unwrap() {
                seen.push(s["id"].as_str().unwrap().to_string());
            }
            match page["next"].as_str() {
                Some(c) => after = Some(c.to_string()),
                None => break,
            }
            assert!(pages < 10, "paging ends");
        }
        assert_eq!(pages, 4, "14 sessions in pages of 4");
        assert_eq!(seen, expected, "cursor pages of {sort}");
    }

    // Summaries: own fields, only the requested property columns, the workflow's view block.
    let page: Value = f
        .srv
        .post("/api/sessions/search?limit=1")
        .header("authorization", &f.auth)
        .json(&json!({"columns": [{"type": "field", "name": "status"}, {"type": "property", "name": "GIVEN_NAMES"}, "DOCUMENT_FRONT"],
                      "filter": {"conditions": [{"field": "id", "op": "$eq", "value": f.records[2].id}]}}))
        .send_json()
        .await;
    let s = &page["items"][0];
    let r = &f.records[2];
    assert_eq!(s["id"], r.id.as_str());
    assert_eq!(
        s["workflow"],
        json!({"id": WF, "name": "General KYC", "version": "1.0"})
    );
    assert_eq!(s["status"], 2);
    assert_eq!(s["ended"], true);
    assert_eq!(s["currentStep"], "ONBOARDING");
    assert_eq!(s["createdAt"], iso(r.created_at));
    assert_eq!(s["updatedAt"], iso(r.updated_at));
    assert_eq!(s["metadata"], r.metadata);
    let photo = r.properties["DOCUMENT_FRONT"].as_str().unwrap();
    assert_eq!(
        s["properties"],
        json!({"GIVEN_NAMES": "Person 02", "DOCUMENT_FRONT": {"fileId": photo,
               "url": format!("{}/api/sessions/{}/files/{photo}", f.srv.url, r.id)}})
    );
    assert_eq!(s["view"]["title"], "Person 02", "{s}");
    assert_eq!(s["view"]["fields"][2]["value"], "D2");
    // Without columns, no properties.
    let page: Value = f
        .srv
        .post("/api/sessions/search?limit=1")
        .header("authorization", &f.auth)
        .json(&json!({}))
        .send_json()
        .await;
    assert_eq!(page["items"][0]["properties"], json!({}));
    f.srv.stop().await;
}

async fn own_sessions_only(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    let mine = srv.key(&["session:read", "session:write"]).await;
    let other = srv.key(&["session_all:read", "session_all:write"]).await;
    let mut my_ids = Vec::new();
    for i in 0..3 {
        my_ids.push(
            srv.start_session(&mine, json!({"metadata": {"i": i}}))
                .await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        srv.start_session(&other, json!({})).await;
    }
    my_ids.sort();
    let search = |key: &str| {
        srv.post("/api/sessions/search")
            .header("authorization", format!("ApiKey {key}"))
            .json(&json!({"filter": {"conditions": [{"field": "workflow.id", "op": "$eq", "value": KYC_ID}]}}))
            .send_json()
    };
    let v = search(&mine).await;
    let mut ids: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, my_ids, "session:read sees only its own sessions");
    assert_eq!(v["total"], 3);
    let v = search(&other).await;
    assert_eq!(v["total"], 6, "session_all:read sees all");
    // Without a session read permission: 403.
    let none = srv.key(&["view:read"]).await;
    let r = srv
        .post("/api/sessions/search")
        .header("authorization", format!("ApiKey {none}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 403);
    srv.stop().await;
}

async fn bad_input(backend: Backend) {
    let f = fixture(backend).await;
    let before: Vec<Value> = {
        let mut v = Vec::new();
        for r in &f.records {
            v.push(f.srv.session(&f.auth, &r.id).await);
        }
        v
    };
    let cases: Vec<(&str, Value, &str, &[&str])> = vec![
        (
            "",
            one("nickname", "$eq", json!(1)),
            "invalid_filter",
            &["filter.groups[0].conditions[0].field", "nickname"],
        ),
        (
            "",
            one("status", "$regex", json!(1)),
            "invalid_filter",
            &["filter.groups[0].conditions[0].op", "$regex"],
        ),
        (
            "",
            one("status", "$eq", json!("done")),
            "invalid_filter",
            &["filter.groups[0].conditions[0].value", "status"],
        ),
        (
            "",
            one("createdAt", "$gt", json!("last week")),
            "invalid_filter",
            &["conditions[0].value", "ISO-8601"],
        ),
        (
            "",
            one("properties.a;drop", "$eq", json!(1)),
            "invalid_filter",
            &["conditions[0].field", "a;drop"],
        ),
        (
            "",
            one("properties.AGE", "$in", json!(30)),
            "invalid_filter",
            &["conditions[0].value", "$in"],
        ),
        (
            "",
            json!({"filter": {"op": "$xor"}}),
            "invalid_filter",
            &["filter.op", "$xor"],
        ),
        ("", json!({"extra": true}), "invalid_filter", &["extra"]),
        (
            "",
            json!({"workflows": "x"}),
            "invalid_filter",
            &["workflows"],
        ),
        (
            "",
            json!({"sort": [{"field": "color", "order": "asc"}]}),
            "invalid_filter",
            &["sort[0].field", "color"],
        ),
        ("", json!({"columns": {}}), "invalid_filter", &["columns"]),
        (
            "?limit=1001",
            json!({}),
            "invalid_request",
            &["limit", "1000"],
        ),
        ("?limit=-1", json!({}), "invalid_request", &["limit"]),
        ("?skip=x", json!({}), "invalid_request", &["skip"]),
        ("?after=garbage", json!({}), "invalid_cursor", &["after"]),
    ];
    for (query, body, code, words) in cases {
        let r = f
            .srv
            .post(&format!("/api/sessions/search{query}"))
            .header("authorization", &f.auth)
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, got, v) = error_of(r).await;
        assert_eq!((status, got.as_str()), (400, code), "{query} {body} → {v}");
        let message = v["error"]["message"].as_str().unwrap();
        for w in words {
            assert!(message.contains(w), "{query} {body}: `{message}` names {w}");
        }
    }
    // A cursor made for another sort is refused.
    let page: Value = f
        .srv
        .post("/api/sessions/search?limit=2")
        .header("authorization", &f.auth)
        .json(&json!({}))
        .send_json()
        .await;
    let cursor = page["next"].as_str().unwrap();
    let r = f
        .srv
        .post(&format!("/api/sessions/search?limit=2&after={cursor}"))
        .header("authorization", &f.auth)
        .json(&json!({"sort": [{"field": "status", "order": "asc"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1, "invalid_cursor");
    // Nothing changed.
    for (r, old) in f.records.iter().zip(&before) {
        assert_eq!(&f.srv.session(&f.auth, &r.id).await, old);
    }
    assert_eq!(search_ids(&f, json!({})).await.len(), N as usize);
    f.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_and_fields_sqlite() {
    operators_and_fields(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_and_fields_postgres() {
    operators_and_fields(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sorting_paging_and_summaries_sqlite() {
    sorting_paging_and_summaries(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sorting_paging_and_summaries_postgres() {
    sorting_paging_and_summaries(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn own_sessions_only_sqlite() {
    own_sessions_only(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn own_sessions_only_postgres() {
    own_sessions_only(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_sqlite() {
    bad_input(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_postgres() {
    bad_input(Backend::Postgres).await;
}
