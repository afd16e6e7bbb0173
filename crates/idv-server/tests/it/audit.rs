//! The audit log through real HTTP, on SQLite and PostgreSQL: every kind of audited action
//! leaves one entry with its actor, target, outcome, client address and request id;
//! `GET /api/audit` filters and pages; the chain verifies, also after retention removed its
//! start.

use crate::common;

use common::*;
use idv_server::audit::verify::{Verdict, apply_retention, verify};
use serde_json::{Value, json};

/// Every entry, oldest first.
async fn all_entries(srv: &TestServer) -> Vec<Value> {
    let r = srv
        .admin(srv.get("/api/audit?order=asc&limit=1000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

fn find<'a>(entries: &'a [Value], action: &str, target: Option<&str>) -> Vec<&'a Value> {
    entries
        .iter()
        .filter(|e| e["action"] == action && target.is_none_or(|t| e["target"] == t))
        .collect()
}

async fn every_kind_of_action(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    let key = srv.key(&["session_all:read", "session_all:write"]).await;
    let auth = format!("ApiKey {key}");
    let s = srv.start_session(&key, json!({"locale": "en"})).await;
    let sid = s["id"].as_str().unwrap().to_string();
    assert_eq!(
        srv.submit(&auth, &sid, "ONBOARDING", json!({"continue": true}))
            .await
            .status(),
        200
    );

    // A session read and a file download, with the request id the client saw.
    let r = srv
        .get(&format!("/api/sessions/{sid}"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let read_request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let session: Value = r.json().await.unwrap();
    let file_id = session["files"][0]["id"].as_str().unwrap().to_string();
    let r = srv
        .client
        .get(session["files"][0]["url"].as_str().unwrap())
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A read refused for lack of permission is recorded with its outcome.
    let weak = srv.key(&["workflow_all:read"]).await;
    let r = srv
        .get(&format!("/api/sessions/{sid}"))
        .header("authorization", format!("ApiKey {weak}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // API keys, users and roles.
    let created: Value = srv
        .admin(srv.post("/api/apikey"))
        .json(&json!({"name": "audited", "permissions": ["session_all:read"]}))
        .send_json()
        .await;
    let key_id = created["id"].as_str().unwrap().to_string();
    let r = srv
        .admin(srv.delete(&format!("/api/apikey/{key_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let user: Value = srv
        .admin(srv.post("/api/security/users"))
        .json(&json!({"name": "operator", "password": "a long password", "roles": ["verifier"]}))
        .send_json()
        .await;
    let user_id = user["id"].as_str().unwrap().to_string();
    let r = srv
        .admin(srv.patch(&format!("/api/security/users/{user_id}")))
        .json(&json!({"roles": ["verifier", "device"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = srv
        .admin(srv.post("/api/security/roles"))
        .json(&json!({"name": "Observer", "permissions": ["session:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = srv
        .admin(srv.delete(&format!("/api/security/users/{user_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    // Logins: success and failure, with the name tried and never the password.
    let r = srv
        .post("/api/auth/login")
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = srv
        .post("/api/auth/login")
        .json(&json!({"username": "mallory", "password": "guessed-secret-42"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A refresh (the caller is known only by its refresh token) and a refresh token reused.
    let login: Value = srv
        .post("/api/auth/login")
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send_json()
        .await;
    for expected in [200, 401] {
        let r = srv
            .post("/api/auth/refresh")
            .json(&json!({"refreshToken": login["refreshToken"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), expected);
    }

    // Device credentials: an ephemeral token, a deeplink, a QR code and its exchange; each
    // entry names the token it minted and the session it is bound to.
    let device: Value = srv
        .admin(srv.post("/api/device/ephemeral"))
        .json(&json!({"ttl": 600}))
        .send_json()
        .await;
    let link: Value = srv
        .admin(srv.post(&format!("/api/v1/deeplink?workflowId={KYC_ID}")))
        .json(&json!({}))
        .send_json()
        .await;
    let qr: Value = srv
        .admin(srv.get(&format!("/api/deeplink/qrcode?workflowId={KYC_ID}")))
        .send_json()
        .await;
    let exchanged: Value = srv
        .post("/api/deeplink/exchange")
        .header(
            "authorization",
            format!("Token {}", qr["token"].as_str().unwrap()),
        )
        .send_json()
        .await;

    let entries = all_entries(&srv).await;
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains("guessed-secret-42"), "a password in the log");
    assert!(!text.contains(ADMIN_PASSWORD), "a password in the log");

    // An API key's text is idv_ + its 24-hex id + the secret.
    let key_principal = &key[4..28];
    let reads = find(&entries, "session.read", Some(&sid));
    assert_eq!(reads.len(), 2, "{reads:?}");
    let ok = reads.iter().find(|e| e["outcome"] == 200).unwrap();
    assert_eq!(ok["actor"]["kind"], "apikey");
    assert_eq!(ok["actor"]["id"], key_principal);
    assert_eq!(ok["ip"], "127.0.0.1");
    assert_eq!(ok["requestId"], read_request_id);
    assert!(ok["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(ok["hash"].as_str().unwrap().len(), 64);
    assert!(
        reads.iter().any(|e| e["outcome"] == 403),
        "the refused read is recorded"
    );
    let download = find(&entries, "file.download", Some(&file_id));
    assert_eq!(download.len(), 1);
    assert_eq!(download[0]["details"]["session"], sid);
    assert_eq!(download[0]["outcome"], 200);

    let minted = find(&entries, "apikey.created", Some(&key_id));
    assert_eq!(minted.len(), 1);
    assert_eq!(minted[0]["actor"]["name"], "admin");
    assert_eq!(minted[0]["actor"]["kind"], "user");
    assert_eq!(find(&entries, "apikey.revoked", Some(&key_id)).len(), 1);
    assert_eq!(find(&entries, "user.created", Some(&user_id)).len(), 1);
    assert_eq!(find(&entries, "user.updated", Some(&user_id)).len(), 1);
    assert_eq!(find(&entries, "user.deleted", Some(&user_id)).len(), 1);
    assert_eq!(find(&entries, "role.created", Some("Observer")).len(), 1);
    let logins = find(&entries, "auth.login", None);
    assert_eq!(
        logins.len(),
        2,
        "the first login and the one before the refresh"
    );
    assert_eq!(logins[0]["actor"]["name"], "admin");
    assert_eq!(logins[0]["actor"]["kind"], "user");
    assert!(logins[0]["actor"]["id"].is_string());
    let failed = find(&entries, "auth.login_failed", None);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["actor"]["name"], "mallory");
    assert_eq!(failed[0]["actor"]["kind"], "anonymous");
    assert_eq!(failed[0]["outcome"], 401);
    let admin_id = logins[0]["actor"]["id"].as_str().unwrap();
    let refreshed = find(&entries, "auth.refresh", Some(admin_id));
    assert_eq!(refreshed.len(), 1, "{refreshed:?}");
    assert_eq!(refreshed[0]["actor"]["kind"], "user");
    assert_eq!(refreshed[0]["actor"]["id"], admin_id);
    assert_eq!(refreshed[0]["actor"]["name"], "admin");
    let reused = find(&entries, "auth.refresh_failed", None);
    assert_eq!(reused.len(), 1, "{reused:?}");
    assert_eq!(reused[0]["outcome"], 401);
    assert_eq!(reused[0]["actor"]["kind"], "anonymous");
    assert_eq!(
        find(
            &entries,
            "device_token.created",
            Some(device["id"].as_str().unwrap())
        )
        .len(),
        1
    );
    for (action, session) in [
        ("deeplink.created", &link["sessionId"]),
        ("deeplink.qrcode_created", &qr["sessionId"]),
        ("deeplink.exchanged", &exchanged["sessionId"]),
    ] {
        let found = find(&entries, action, None);
        assert_eq!(found.len(), 1, "{action}: {found:?}");
        assert!(
            found[0]["target"].as_str().is_some_and(|t| t.len() >= 16),
            "{action}: {found:?}"
        );
        assert_eq!(&found[0]["details"]["sessionId"], session, "{action}");
    }
    // The exchange mints a new token for the QR code's session: a target of its own.
    assert_ne!(
        find(&entries, "deeplink.exchanged", None)[0]["target"],
        find(&entries, "deeplink.qrcode_created", None)[0]["target"]
    );
    // Step submissions and session starts are not in the log.
    assert!(find(&entries, "session.created", None).is_empty());

    // The entries form one chain.
    for pair in entries.windows(2) {
        assert_eq!(pair[1]["seq"], pair[0]["seq"].as_i64().unwrap() + 1);
        assert_eq!(pair[1]["prevHash"], pair[0]["hash"]);
    }
    let state = srv.state().await;
    match verify(state.store.as_ref()).await.unwrap() {
        Verdict::Intact { count, .. } => assert_eq!(count as usize, entries.len()),
        broken => panic!("{broken:?}"),
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_action_sqlite() {
    every_kind_of_action(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_action_postgres() {
    every_kind_of_action(Backend::Postgres).await;
}

async fn filters_pages_and_permission(backend: Backend) {
    let srv = TestServer::start(backend).await;
    for name in ["alice", "bob", "carol"] {
        let r = srv
            .post("/api/auth/login")
            .json(&json!({"username": name, "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let page = |q: &str| {
        let rb = srv.admin(srv.get(&format!("/api/audit{q}")));
        async move {
            let r = rb.send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let bob = page("?actor=bob").await;
    assert_eq!(bob["items"].as_array().unwrap().len(), 1);
    assert_eq!(bob["items"][0]["actor"]["name"], "bob");
    let failed = page("?action=auth.login_failed").await;
    let names: Vec<&str> = failed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["carol", "bob", "alice"], "newest first");
    // Pages of two, newest first, following `next`.
    let first = page("?action=auth.login_failed&limit=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let next = first["next"].as_i64().unwrap();
    let second = page(&format!("?action=auth.login_failed&limit=2&after={next}")).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["items"][0]["actor"]["name"], "alice");
    assert!(second["next"].is_null());
    // Time bounds.
    let at = failed["items"][1]["at"].as_str().unwrap().to_string();
    let until = page(&format!("?action=auth.login_failed&to={at}")).await;
    assert!(
        until["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["at"].as_str().unwrap() <= at.as_str())
    );
    let none = page("?from=2999-01-01").await;
    assert!(none["items"].as_array().unwrap().is_empty());

    // Bad filters name the parameter; nothing else is needed to see that.
    for (q, name) in [
        ("?from=yesterday", "`from`"),
        ("?limit=0", "`limit`"),
        ("?after=x", "`after`"),
        ("?who=me", "`who`"),
    ] {
        let r = srv
            .admin(srv.get(&format!("/api/audit{q}")))
            .send()
            .await
            .unwrap();
        let (status, code, body) = error_of(r).await;
        assert_eq!((status, code.as_str()), (400, "invalid_request"), "{q}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(name),
            "{q}: {body}"
        );
    }

    // audit:read is needed.
    let key = srv.key(&["session_all:read"]).await;
    let r = srv
        .get("/api/audit")
        .header("authorization", format!("ApiKey {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let auditor = srv.key(&["audit:read"]).await;
    let r = srv
        .get("/api/audit?actor=carol")
        .header("authorization", format!("ApiKey {auditor}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_pages_and_permission_sqlite() {
    filters_pages_and_permission(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_pages_and_permission_postgres() {
    filters_pages_and_permission(Backend::Postgres).await;
}

async fn retention_keeps_the_chain_verifiable(backend: Backend) {
    let srv = TestServer::start(backend).await;
    for i in 0..6 {
        let r = srv
            .post("/api/auth/login")
            .json(&json!({"username": format!("user{i}"), "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let entries = all_entries(&srv).await;
    assert_eq!(entries.len(), 6);
    let ms = |e: &Value| {
        chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    // Keep one hour; run retention one hour after the third entry: the longest prefix of
    // entries made no later than it goes.
    let cut = ms(&entries[2]);
    let expected = entries.iter().take_while(|e| ms(e) <= cut).count();
    assert!(expected >= 3);
    let mut config = srv.config.services.audit.clone();
    config.user.keep_for = Some(idv_server::scheduler::Period(3600));
    let state = srv.state().await;
    let removed = apply_retention(state.store.as_ref(), &config, cut + 3_600_000 + 1)
        .await
        .unwrap();
    assert_eq!(removed as usize, expected);
    let left = all_entries(&srv).await;
    assert_eq!(left.len(), 6 - expected);
    assert_eq!(left[0]["seq"], expected as i64 + 1);
    match verify(state.store.as_ref()).await.unwrap() {
        Verdict::Intact {
            count, anchor_seq, ..
        } => {
            assert_eq!(count as usize, 6 - expected);
            assert_eq!(anchor_seq as usize, expected);
        }
        broken => panic!("{broken:?}"),
    }
    // New entries continue the chain after retention.
    let r = srv
        .post("/api/auth/login")
        .json(&json!({"username": "late", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let after = all_entries(&srv).await;
    assert_eq!(after.len(), 7 - expected);
    assert!(matches!(
        verify(state.store.as_ref()).await.unwrap(),
        Verdict::Intact { .. }
    ));
    // Kept for ever: retention removes nothing.
    config.user.keep_for = None;
    config.api.keep_for = None;
    assert_eq!(
        apply_retention(state.store.as_ref(), &config, i64::MAX)
            .await
            .unwrap(),
        0
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_keeps_the_chain_verifiable_sqlite() {
    retention_keeps_the_chain_verifiable(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_keeps_the_chain_verifiable_postgres() {
    retention_keeps_the_chain_verifiable(Backend::Postgres).await;
}

async fn disabled_records_nothing_and_entries_survive_a_restart(backend: Backend) {
    let mut srv = TestServer::start_with(backend, |c| c.services.audit.enabled = false).await;
    let r = srv
        .post("/api/auth/login")
        .json(&json!({"username": "x", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(all_entries(&srv).await.is_empty());
    // Turned on, an entry made just before a graceful shutdown is in the log afterwards.
    srv.config.services.audit.enabled = true;
    srv.restart().await;
    let r = srv
        .post("/api/auth/login")
        .json(&json!({"username": "just-before-stop", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    srv.restart().await;
    let entries = all_entries(&srv).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["actor"]["name"], "just-before-stop");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_records_nothing_and_entries_survive_a_restart_sqlite() {
    disabled_records_nothing_and_entries_survive_a_restart(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_records_nothing_and_entries_survive_a_restart_postgres() {
    disabled_records_nothing_and_entries_survive_a_restart(Backend::Postgres).await;
}

/// Two servers on one database (as two `idv serve` processes behind a load balancer) recording
/// at the same time keep one linear chain.
async fn two_instances_keep_one_chain(backend: Backend) {
    let first = TestServer::start(backend).await;
    let url = first.config.database.url.clone();
    // Instances of one database share its fernetKey: the second takes the key the first made.
    let fernet = std::fs::read_to_string(first.data_dir().join("fernet.key")).unwrap();
    // The second opens the first's database (no database of its own is created).
    let second = TestServer::start_with(Backend::Sqlite, move |c| {
        c.database.url = url;
        c.fernet_key = Some(idv_server::secrets::config::SecretText::new(fernet.trim()));
    })
    .await;
    let key = first.key(&["session_all:read"]).await;
    let mut tasks = Vec::new();
    for srv in [&first, &second] {
        for t in 0..4 {
            let (client, base, key) = (srv.client.clone(), srv.url.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..15 {
                    let r = client
                        .get(format!("{base}/api/sessions/{:024x}", t * 100 + i))
                        .header("authorization", format!("ApiKey {key}"))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 404);
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Each instance stores what it queued before it answers these.
    let _ = all_entries(&second).await;
    let entries = all_entries(&first).await;
    let reads = find(&entries, "session.read", None);
    assert_eq!(reads.len(), 2 * 4 * 15);
    assert!(reads.iter().all(|e| e["outcome"] == 404));
    let state = first.state().await;
    match verify(state.store.as_ref()).await.unwrap() {
        Verdict::Intact { count, .. } => assert_eq!(count as usize, entries.len()),
        broken => panic!("{broken:?}"),
    }
    second.stop().await;
    first.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_keep_one_chain_sqlite() {
    two_instances_keep_one_chain(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_keep_one_chain_postgres() {
    two_instances_keep_one_chain(Backend::Postgres).await;
}
