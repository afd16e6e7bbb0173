//! Authentication and permissions through real HTTP: every route of the route table refuses
//! missing, bad, expired and revoked credentials and missing permissions; keys, logins, roles.

use crate::common;

use common::*;
use idv_server::routes::{Access, table};
use idv_store::ApiKey;
use serde_json::{Value, json};

/// A concrete path for a route pattern.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "0123456789abcdef01234567"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Stores a key directly (as another process could), with the given expiry and revocation.
async fn stored_key(srv: &TestServer, expires_at: Option<i64>, revoked_at: Option<i64>) -> String {
    let state = srv.state().await;
    let id = idv_core::ids::new_id();
    let (text, secret_hash) = state.auth.new_api_key(&id);
    let now = idv_core::time::now_ms();
    state
        .store
        .apikey_create(&ApiKey {
            id,
            name: "direct".into(),
            secret_hash,
            permissions: vec!["*".into()],
            owner_id: None,
            ttl: None,
            created_at: now,
            expires_at,
            revoked_at,
            last_used_at: None,
        })
        .await
        .unwrap();
    text
}

#[tokio::test]
async fn every_route_is_guarded() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let past = idv_core::time::now_ms() - 1000;
    let expired = stored_key(&srv, Some(past), None).await;
    let revoked = stored_key(&srv, None, Some(past)).await;
    let unrelated = srv.key(&["monitoring:read"]).await;
    let mut guarded = 0;
    for def in table() {
        let url = format!("{}{}", srv.url, concrete(def.path));
        let send = |auth: Option<String>| {
            let mut rb = srv.client.request(def.method.clone(), &url);
            if let Some(a) = auth {
                rb = rb.header("authorization", a);
            }
            rb.send()
        };
        if def.access == Access::Public {
            let r = send(None).await.unwrap();
            assert_ne!(r.status(), 401, "{} {} is public", def.method, def.path);
            continue;
        }
        guarded += 1;
        let r = send(None).await.unwrap();
        assert!(
            r.headers().get("www-authenticate").is_some(),
            "{} {}",
            def.method,
            def.path
        );
        let (st, code, _) = error_of(r).await;
        assert_eq!(
            (st, code.as_str()),
            (401, "missing_credentials"),
            "{} {}",
            def.method,
            def.path
        );
        for (auth, want) in [
            ("ApiKey idv_nonsense".to_string(), "invalid_credentials"),
            (format!("ApiKey {}", &expired), "expired_credentials"),
            (format!("ApiKey {}", &revoked), "revoked_credentials"),
            ("Basic YWRtaW46d3Jvbmc=".to_string(), "invalid_credentials"),
            ("Bearer idvat_nope".to_string(), "invalid_credentials"),
            ("Digest x".to_string(), "unsupported_auth_scheme"),
        ] {
            let (st, code, _) = error_of(send(Some(auth.clone())).await.unwrap()).await;
            assert_eq!(
                (st, code.as_str()),
                (401, want),
                "{} {} with {auth}",
                def.method,
                def.path
            );
        }
        if let Access::AnyOf(_) = def.access {
            let (st, code, _) =
                error_of(send(Some(format!("ApiKey {unrelated}"))).await.unwrap()).await;
            assert_eq!(
                (st, code.as_str()),
                (403, "forbidden"),
                "{} {}",
                def.method,
                def.path
            );
        }
    }
    assert!(guarded >= 20, "only {guarded} guarded routes");
    srv.stop().await;
}

#[tokio::test]
async fn api_keys_over_http() {
    let srv = TestServer::start(Backend::Sqlite).await;
    // Minted by admin (Basic), shown once, usable with any case of the scheme word.
    let r = srv.admin(srv.post("/api/security/apikey")).json(&json!({"name": "backend", "ttl": 3600, "permissions": ["session_all:read", "apikey:write", "apikey:read", "apikey:delete"]})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let k: Value = r.json().await.unwrap();
    for field in [
        "id",
        "name",
        "permissions",
        "ttl",
        "createdAt",
        "expiresAt",
        "token",
    ] {
        assert!(k.get(field).is_some(), "missing {field}: {k}");
    }
    assert_eq!(k["ttl"], 3600);
    let token = k["token"].as_str().unwrap().to_string();
    for scheme in ["ApiKey", "Apikey", "apikey", "APIKEY"] {
        let r = srv
            .get("/api/apikey")
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{scheme}");
    }
    // Listing never shows secrets; a key sees only its own keys without apikey_all.
    let list: Value = srv.admin(srv.get("/api/apikey")).send_json().await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("token").is_none())
    );
    assert!(!list.to_string().contains(&token[4..]));
    // No escalation: this key cannot mint what it does not hold.
    let r = srv
        .post("/api/apikey")
        .header("authorization", format!("ApiKey {token}"))
        .json(&json!({"name": "x", "permissions": ["session_all:write"]}))
        .send()
        .await
        .unwrap();
    let (st, code, body) = error_of(r).await;
    assert_eq!((st, code.as_str()), (403, "permission_escalation"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("session_all:write")
    );
    let r = srv
        .post("/api/apikey")
        .header("authorization", format!("ApiKey {token}"))
        .json(&json!({"name": "child", "permissions": ["session:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let child: Value = r.json().await.unwrap();
    let own: Value = srv
        .get("/api/apikey")
        .header("authorization", format!("ApiKey {token}"))
        .send_json()
        .await;
    assert_eq!(own.as_array().unwrap().len(), 1, "{own}");
    // Bad permission names are a 400 naming them.
    let r = srv
        .admin(srv.post("/api/apikey"))
        .json(&json!({"name": "x", "permissions": ["session:fly"]}))
        .send()
        .await
        .unwrap();
    let (st, code, body) = error_of(r).await;
    assert_eq!((st, code.as_str()), (400, "invalid_permission"));
    assert!(body.to_string().contains("session:fly"));
    // Revoke: 401 revoked from then on; others cannot see someone else's key.
    let cid = child["id"].as_str().unwrap();
    let r = srv
        .get(&format!("/api/apikey/{}", k["id"].as_str().unwrap()))
        .header(
            "authorization",
            format!("ApiKey {}", child["token"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "session:read holds no apikey permission");
    let r = srv
        .delete(&format!("/api/apikey/{cid}"))
        .header("authorization", format!("ApiKey {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let revoked: Value = r.json().await.unwrap();
    assert_eq!(revoked["id"], cid);
    assert!(
        revoked["revokedAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{revoked}"
    );
    let listed = srv
        .get(&format!("/api/apikey/{cid}"))
        .header("authorization", format!("ApiKey {token}"))
        .send_json()
        .await;
    assert_eq!(
        listed["revokedAt"], revoked["revokedAt"],
        "the answer is what is stored"
    );
    let r = srv
        .get("/api/sessions/0123456789abcdef01234567")
        .header(
            "authorization",
            format!("ApiKey {}", child["token"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1, "revoked_credentials");
    srv.stop().await;
}

#[tokio::test]
async fn bearer_login_refresh_logout_and_query_credentials() {
    let srv = TestServer::start(Backend::Sqlite).await;
    let r = srv
        .post("/api/auth/login")
        .json(&json!({"username": "admin", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1, "invalid_credentials");
    let t: Value = srv
        .post("/api/auth/login")
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send_json()
        .await;
    let access = t["accessToken"].as_str().unwrap().to_string();
    assert_eq!(t["expiresIn"], 600);
    let r = srv
        .get("/api/security/users")
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The same credentials in the query string, URL-encoded.
    let r = srv
        .get(&format!(
            "/api/security/users?authorization=Bearer%20{access}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Refresh rotates: the old access token stops working.
    let t2: Value = srv
        .post("/api/auth/refresh")
        .json(&json!({"refreshToken": t["refreshToken"]}))
        .send_json()
        .await;
    assert_eq!(
        srv.get("/api/security/users")
            .bearer_auth(&access)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let access2 = t2["accessToken"].as_str().unwrap();
    let r = srv
        .post("/api/auth/refresh")
        .json(&json!({"refreshToken": t["refreshToken"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a refresh token works once");
    assert_eq!(
        srv.post("/api/auth/logout")
            .bearer_auth(access2)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        srv.get("/api/security/users")
            .bearer_auth(access2)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    srv.stop().await;
}

#[tokio::test]
async fn basic_auth_can_be_turned_off() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| c.basic_auth.enabled = false).await;
    let r = srv
        .admin(srv.get("/api/security/users"))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("www-authenticate").is_none());
    assert_eq!(error_of(r).await.1, "basic_auth_disabled");
    // Login still works for the portal.
    let r = srv
        .post("/api/auth/login")
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    srv.stop().await;
}

#[tokio::test]
async fn roles_and_users() {
    let srv = TestServer::start(Backend::Postgres).await;
    let r = srv.admin(srv.post("/api/security/roles")).json(&json!({"name": "Session Observer", "permissions": ["session:read", "session:subscribe"]})).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let roles: Value = srv.admin(srv.get("/api/security/roles")).send_json().await;
    let names: Vec<&str> = roles
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for n in ["admin", "verifier", "device", "demo", "Session Observer"] {
        assert!(names.contains(&n), "{names:?}");
    }
    let r = srv
        .admin(srv.post("/api/security/users"))
        .json(&json!({"name": "op", "password": "operator-pass", "roles": ["verifier"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let op: Value = r.json().await.unwrap();
    let opid = op["id"].as_str().unwrap();
    // A verifier reads any session but cannot manage users.
    let r = srv
        .get("/api/security/users")
        .basic_auth("op", Some("operator-pass"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1, "forbidden");
    let as_op = || {
        srv.get("/api/workflows")
            .basic_auth("op", Some("operator-pass"))
    };
    assert_eq!(
        as_op().send().await.unwrap().status(),
        200,
        "verifier reads workflows"
    );
    // PATCH replaces the whole list, and the remembered Basic login does not keep the old roles.
    let r = srv
        .admin(srv.patch(&format!("/api/security/users/{opid}")))
        .json(&json!({"roles": ["Session Observer"]}))
        .send()
        .await
        .unwrap();
    let u: Value = r.json().await.unwrap();
    assert_eq!(u["roles"], json!(["Session Observer"]));
    assert_eq!(error_of(as_op().send().await.unwrap()).await.1, "forbidden");
    let r = srv
        .admin(srv.patch(&format!("/api/security/users/{opid}")))
        .json(&json!({"roles": ["nonexistent"]}))
        .send()
        .await
        .unwrap();
    let (st, _, body) = error_of(r).await;
    assert_eq!(st, 400);
    assert!(body.to_string().contains("nonexistent"));
    let users: Value = srv.admin(srv.get("/api/security/users")).send_json().await;
    assert!(users.to_string().contains("\"op\""));
    assert!(
        !users.to_string().contains("argon2"),
        "no hashes in answers"
    );
    srv.stop().await;
}
