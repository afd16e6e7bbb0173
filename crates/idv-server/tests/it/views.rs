//! `/api/views/namespaces/...` through real HTTP on SQLite and PostgreSQL: create, read,
//! replace and delete; visibility by `userIds`; `view:*` own versus `view_all:*` any; bad input
//! answered with 400s that leave the stored view as it was.

use crate::common;

use common::*;
use serde_json::{Value, json};

const NS: &str = "/api/views/namespaces/active-views-3";

fn value(title: &str, users: &[&str]) -> Value {
    json!({"title": title, "description": "d", "workflows": [KYC_ID],
           "columns": [{"type": "field", "name": "status"}, {"type": "property", "name": "FULL_NAME"}],
           "groupIds": [], "userIds": users})
}

/// Creates a user with `roles` as admin; answers its id.
async fn user(srv: &TestServer, name: &str, roles: &[&str]) -> String {
    let r = srv
        .admin(srv.post("/api/security/users"))
        .json(&json!({"name": name, "password": "long enough pw", "roles": roles}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn keys(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["key"].as_str().unwrap().to_string())
        .collect()
}

async fn crud(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let key = srv
        .key(&["view_all:read", "view_all:write", "view_all:delete"])
        .await;
    let auth = format!("ApiKey {key}");

    let r = srv
        .post(&format!("{NS}/key/general-kyc-key"))
        .header("authorization", &auth)
        .json(&value("General KYC", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["key"], "general-kyc-key");
    let id = created["value"]["id"].as_str().unwrap().to_string();
    assert!(!id.is_empty(), "value.id is generated");
    assert_eq!(created["value"]["title"], "General KYC");
    assert_eq!(created["value"]["workflows"], json!([KYC_ID]));
    assert_eq!(created["groupIds"], json!([]));
    assert_eq!(created["userIds"], json!([]));

    // Listed exactly in Regula's shape.
    let list: Value = srv
        .get(&format!("{NS}?limit=100&skip=0"))
        .header("authorization", &auth)
        .send_json()
        .await;
    assert_eq!(list["total"], 1);
    let item = &list["items"][0];
    assert_eq!(item["key"], "general-kyc-key");
    assert_eq!(item["value"]["id"], id.as_str());
    assert_eq!(
        item["value"]["columns"],
        json!([{"type": "field", "name": "status"}, {"type": "property", "name": "FULL_NAME"}])
    );
    for k in [
        "id",
        "title",
        "description",
        "workflows",
        "columns",
        "groupIds",
        "userIds",
    ] {
        assert!(item["value"].get(k).is_some(), "value has {k}: {item}");
    }

    // Replace: same id, new title; a second key; paging.
    let r: Value = srv
        .post(&format!("{NS}/key/general-kyc-key"))
        .header("authorization", &auth)
        .json(&value("Renamed", &[]))
        .send_json()
        .await;
    assert_eq!(r["value"]["id"], id.as_str(), "a replace keeps value.id");
    assert_eq!(r["value"]["title"], "Renamed");
    let mut other = value("Other", &[]);
    other["id"] = json!("my-own-id");
    let r: Value = srv
        .post(&format!("{NS}/key/another"))
        .header("authorization", &auth)
        .json(&other)
        .send_json()
        .await;
    assert_eq!(r["value"]["id"], "my-own-id");
    let list: Value = srv.get(NS).header("authorization", &auth).send_json().await;
    assert_eq!(keys(&list), ["another", "general-kyc-key"]);
    let list: Value = srv
        .get(&format!("{NS}?limit=1&skip=1"))
        .header("authorization", &auth)
        .send_json()
        .await;
    assert_eq!(
        (keys(&list), list["total"].clone()),
        (vec!["general-kyc-key".to_string()], json!(2))
    );
    let one: Value = srv
        .get(&format!("{NS}/key/general-kyc-key"))
        .header("authorization", &auth)
        .send_json()
        .await;
    assert_eq!(one["value"]["title"], "Renamed");
    // Another namespace is empty.
    let list: Value = srv
        .get("/api/views/namespaces/elsewhere")
        .header("authorization", &auth)
        .send_json()
        .await;
    assert_eq!(list["total"], 0);

    // Delete.
    let r = srv
        .delete(&format!("{NS}/key/general-kyc-key"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = srv
        .get(&format!("{NS}/key/general-kyc-key"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1, "view_not_found");
    let r = srv
        .delete(&format!("{NS}/key/general-kyc-key"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 404);
    srv.stop().await;
}

async fn visibility_and_permissions(backend: Backend) {
    let srv = TestServer::start(backend).await;
    // verifier holds view:read and view:write (own views).
    let carol = user(&srv, "carol", &["verifier"]).await;
    let _dan = user(&srv, "dan", &["verifier"]).await;
    let carol_auth = |rb: reqwest::RequestBuilder| rb.basic_auth("carol", Some("long enough pw"));
    let dan_auth = |rb: reqwest::RequestBuilder| rb.basic_auth("dan", Some("long enough pw"));

    // Admin's views: one for everyone, one only for carol.
    for (k, users) in [("public", vec![]), ("for-carol", vec![carol.as_str()])] {
        let r = srv
            .admin(srv.post(&format!("{NS}/key/{k}")))
            .json(&value(k, &users))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // Dan's own view, restricted to carol: dan still sees it as its owner.
    let r = dan_auth(srv.post(&format!("{NS}/key/dans")))
        .json(&value("dans", &[carol.as_str()]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let list = |rb: reqwest::RequestBuilder| async move { keys(&rb.send_json().await) };
    assert_eq!(
        list(srv.admin(srv.get(NS))).await,
        ["dans", "for-carol", "public"]
    );
    assert_eq!(
        list(carol_auth(srv.get(NS))).await,
        ["dans", "for-carol", "public"]
    );
    assert_eq!(list(dan_auth(srv.get(NS))).await, ["dans", "public"]);
    let r = dan_auth(srv.get(&format!("{NS}/key/for-carol")))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 404, "a hidden view is not found");
    let reader = srv.key(&["view:read"]).await;
    let r: Value = srv
        .get(NS)
        .header("authorization", format!("ApiKey {reader}"))
        .send_json()
        .await;
    assert_eq!(
        (keys(&r), r["total"].clone()),
        (vec!["public".to_string()], json!(1))
    );

    // view:write covers only one's own views: dan cannot change admin's view.
    let before: Value = srv
        .admin(srv.get(&format!("{NS}/key/public")))
        .send_json()
        .await;
    let r = dan_auth(srv.post(&format!("{NS}/key/public")))
        .json(&value("hijacked", &[]))
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(r).await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    let after: Value = srv
        .admin(srv.get(&format!("{NS}/key/public")))
        .send_json()
        .await;
    assert_eq!(before, after, "a refused write changes nothing");
    // ... but its own, yes; and admin (view_all:write) may change dan's.
    let r = dan_auth(srv.post(&format!("{NS}/key/dans")))
        .json(&value("dans v2", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = srv
        .admin(srv.post(&format!("{NS}/key/dans")))
        .json(&value("dans v3", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Delete: view:delete own only; a key without delete gets 403 from the guard.
    let deleter = srv.key(&["view:read", "view:delete"]).await;
    let r = srv
        .delete(&format!("{NS}/key/public"))
        .header("authorization", format!("ApiKey {deleter}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r).await.0,
        403,
        "view:delete does not cover admin's view"
    );
    let r = dan_auth(srv.delete(&format!("{NS}/key/dans")))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 403, "verifier has no view:delete");
    let all_deleter = srv.key(&["view_all:delete"]).await;
    let r = srv
        .delete(&format!("{NS}/key/dans"))
        .header("authorization", format!("ApiKey {all_deleter}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // No view permission at all: 403 on every route.
    let none = srv.key(&["session:read"]).await;
    for rb in [
        srv.get(NS),
        srv.post(&format!("{NS}/key/x")).json(&value("x", &[])),
    ] {
        let r = rb
            .header("authorization", format!("ApiKey {none}"))
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(r).await.0, 403);
    }
    srv.stop().await;
}

async fn bad_input(backend: Backend) {
    let srv = TestServer::start(backend).await;
    let r = srv
        .admin(srv.post(&format!("{NS}/key/kept")))
        .json(&value("Kept", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let before: Value = srv
        .admin(srv.get(&format!("{NS}/key/kept")))
        .send_json()
        .await;
    let cases: Vec<(String, Value, &str, &str)> = vec![
        (
            format!("{NS}/key/kept"),
            json!({"title": "x", "workflows": "uuid"}),
            "invalid_view",
            "workflows",
        ),
        (
            format!("{NS}/key/kept"),
            json!({"title": "x", "workflows": [1]}),
            "invalid_view",
            "workflows[0]",
        ),
        (
            format!("{NS}/key/kept"),
            json!({"title": "x", "columns": "status"}),
            "invalid_view",
            "columns",
        ),
        (
            format!("{NS}/key/kept"),
            json!({"title": "x", "columns": [{"type": "colour", "name": "x"}]}),
            "invalid_view",
            "columns[0].type",
        ),
        (
            format!("{NS}/key/kept"),
            json!({"title": 5}),
            "invalid_view",
            "title",
        ),
        (
            format!("{NS}/key/kept"),
            json!({"title": "x", "userIds": [""]}),
            "invalid_view",
            "userIds[0]",
        ),
        (
            format!("{NS}/key/kept"),
            json!({"title": "x", "colour": "red"}),
            "invalid_view",
            "colour",
        ),
        (
            format!("{NS}/key/kept"),
            json!(["not", "an", "object"]),
            "invalid_view",
            "JSON object",
        ),
        (
            "/api/views/namespaces/bad%20ns/key/kept".into(),
            value("x", &[]),
            "invalid_view",
            "namespace",
        ),
        (
            format!("{NS}/key/{}", "k".repeat(129)),
            value("x", &[]),
            "invalid_view",
            "key",
        ),
    ];
    for (path, body, code, word) in cases {
        let r = srv.admin(srv.post(&path)).json(&body).send().await.unwrap();
        let (status, got, v) = error_of(r).await;
        assert_eq!((status, got.as_str()), (400, code), "{path} {body} → {v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(word), "{body}: `{message}` names {word}");
    }
    let r = srv
        .admin(srv.get(&format!("{NS}?limit=5000")))
        .send()
        .await
        .unwrap();
    let (status, _, v) = error_of(r).await;
    assert_eq!(status, 400);
    assert!(v["error"]["message"].as_str().unwrap().contains("limit"));
    let after: Value = srv
        .admin(srv.get(&format!("{NS}/key/kept")))
        .send_json()
        .await;
    assert_eq!(before, after, "refused writes leave the view as it was");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn crud_sqlite() {
    crud(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn crud_postgres() {
    crud(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn visibility_and_permissions_sqlite() {
    visibility_and_permissions(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn visibility_and_permissions_postgres() {
    visibility_and_permissions(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_sqlite() {
    bad_input(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_postgres() {
    bad_input(Backend::Postgres).await;
}
