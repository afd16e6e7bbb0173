//! Secrets at rest, on SQLite and PostgreSQL: webhook secrets (current and previous), delivery
//! header values and the Ed25519 signing seed never appear in the database's files (SQLite's
//! .db, -wal and -shm) or in a `pg_dump`; answers show header names only; deliveries still
//! verify and carry the header values; the key rotates (fernetKey plus secrets.previousKeys,
//! then without them); a key that is not configured stops the start with a clear error; clear
//! rows written by an earlier version are encrypted at start.

use crate::common;
use crate::support::delivery;
use crate::support::receiver;
use idv_store::WebhookId;

use common::*;
use delivery::*;
use idv_server::secrets::config::SecretText;
use idv_server::secrets::fernet::FernetKey;
use idv_server::secrets::key_id;
use idv_server::webhooks::keys::SETTING as SEED;
use idv_server::webhooks::sign::{self, SigningKeyPair};
use receiver::{Receiver, wait_for};
use serde_json::{Value, json};

/// Every byte the database keeps: the SQLite files, or a dump of the PostgreSQL database.
async fn stored_bytes(s: &TestServer) -> Vec<u8> {
    let url = &s.config.database.url;
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut out = vec![];
        for suffix in ["", "-wal", "-shm"] {
            if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
                out.extend(bytes);
            }
        }
        assert!(out.len() > 4096, "the database file is there");
        out
    } else {
        let db = url.rsplit('/').next().unwrap();
        let out = tokio::process::Command::new("pg_dump")
            .args(["-h", "127.0.0.1", "-U", "postgres", "--no-password", db])
            .output()
            .await
            .expect("pg_dump runs");
        assert!(
            out.status.success(),
            "pg_dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

fn holds(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The part of a `whsec_`/`whsk_` text that is the secret itself.
fn body(secret: &str) -> &str {
    secret.split_once('_').map(|(_, b)| b).unwrap_or(secret)
}

/// The server's Ed25519 seed, read with the server's keys.
async fn seed_text(s: &TestServer) -> String {
    let state = s.state().await;
    let stored = state
        .store
        .setting_get_or_insert(SEED, "unused")
        .await
        .unwrap();
    assert!(stored.starts_with("fernet1:"), "{stored}");
    state.secrets.open(&stored).unwrap()
}

async fn answer(r: reqwest::Response, status: u16) -> Value {
    let code = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(code, status, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// Creates an endpoint for `rx` with `headers`, tells `rx` its secret; (id, secret).
async fn create(s: &TestServer, rx: &Receiver, headers: Value, ed25519: bool) -> (String, String) {
    let made = answer(
        s.admin(s.post("/api/webhooks"))
            .json(
                &json!({"url": rx.url(), "events": ["*"], "headers": headers, "ed25519": ed25519}),
            )
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let secret = made["secret"].as_str().unwrap().to_owned();
    rx.set_secret(&secret);
    (made["id"].as_str().unwrap().to_owned(), secret)
}

/// Runs one session through (4 events) and waits until the endpoint has `total` deliveries,
/// all delivered.
async fn one_session_delivered(s: &TestServer, hook: &str, total: usize) {
    let sid = start_session(s).await;
    submit_form(s, &sid).await;
    wait_for(60, "every delivery to be delivered", || async {
        let log = log(s, hook).await;
        log.len() == total && log.iter().all(|d| d["state"] == "delivered")
    })
    .await;
}

fn header<'a>(hit: &'a receiver::Hit, name: &str) -> Vec<&'a str> {
    hit.headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

async fn nothing_clear_at_rest(backend: Backend) {
    let s = server(backend, |_| {}).await;
    let rx = Receiver::start().await;
    let key: Value = s.get("/api/webhooks/signing-key").send_json().await;
    rx.set_public_key(key["publicKey"].as_str().unwrap());
    let token = format!("Bearer receiver-token-{}", idv_core::ids::new_id());
    let tenant = format!("tenant-{}", idv_core::ids::new_id());
    let (id, first) = create(
        &s,
        &rx,
        json!({"Authorization": token, "X-Tenant": tenant}),
        true,
    )
    .await;
    let rotated = answer(
        s.admin(s.post(&format!("/api/webhooks/{id}/rotate-secret")))
            .json(&json!({"overlapSeconds": 3600}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let second = rotated["secret"].as_str().unwrap().to_owned();
    rx.set_secret(&second);
    let patched = answer(
        s.admin(s.patch(&format!("/api/webhooks/{id}")))
            .json(&json!({"description": "probe description"}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let got = answer(
        s.admin(s.get(&format!("/api/webhooks/{id}")))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let listed = answer(s.admin(s.get("/api/webhooks")).send().await.unwrap(), 200).await;
    // Answers name the headers and never hold their values; only rotate shows the new secret.
    for (what, v) in [
        ("rotate", &rotated),
        ("patch", &patched),
        ("get", &got),
        ("list", &listed["items"][0]),
    ] {
        let text = v.to_string();
        assert_eq!(
            v["headerNames"],
            json!(["Authorization", "X-Tenant"]),
            "{what}"
        );
        assert!(v.get("headers").is_none(), "{what}: {text}");
        assert!(
            !text.contains(&token) && !text.contains(&tenant),
            "{what}: {text}"
        );
        assert!(!text.contains(body(&first)), "{what}: {text}");
        if what != "rotate" {
            assert!(!text.contains(body(&second)), "{what}: {text}");
        }
    }

    // Deliveries verify (the receiver checks v1 with the new secret and v1a with the public
    // key), carry both v1 signatures during the overlap, and send the header values.
    one_session_delivered(&s, &id, 4).await;
    assert!(rx.bad().is_empty(), "{:?}", rx.bad());
    let hits = rx.accepted();
    assert_eq!(hits.len(), 4);
    for hit in &hits {
        assert_eq!(header(hit, "authorization"), vec![token.as_str()]);
        assert_eq!(header(hit, "x-tenant"), vec![tenant.as_str()]);
        let sig = header(hit, "webhook-signature")[0];
        assert_eq!(sig.matches("v1,").count(), 2, "{sig}");
        let mut map = reqwest::header::HeaderMap::new();
        for (n, v) in &hit.headers {
            map.append(
                reqwest::header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        standardwebhooks::Webhook::new(&first)
            .unwrap()
            .verify(&hit.raw, &map)
            .expect("the previous secret verifies during the overlap");
    }

    let seed = seed_text(&s).await;
    assert!(seed.starts_with("whsk_"));
    let bytes = stored_bytes(&s).await;
    // The search finds what is stored in clear (the check can fail)...
    assert!(holds(&bytes, &rx.url()), "the endpoint's URL is stored");
    assert!(holds(&bytes, "probe description"));
    // ...and none of the secrets.
    for (what, needle) in [
        ("first secret", body(&first)),
        ("second secret", body(&second)),
        ("header value", token.as_str()),
        ("X-Tenant value", tenant.as_str()),
        ("Ed25519 seed", body(&seed)),
    ] {
        assert!(!holds(&bytes, needle), "the {what} is stored in clear");
    }
    if backend == Backend::Sqlite {
        // The embedded default keeps a generated key in the data folder, for its owner only.
        let path = s.data_dir().join("fernet.key");
        let key = std::fs::read_to_string(&path).unwrap();
        assert_eq!(FernetKey::parse(&key).unwrap().to_text(), key.trim());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!holds(&bytes, key.trim()));
    }
    s.stop().await;
}

#[tokio::test]
async fn nothing_clear_at_rest_sqlite() {
    nothing_clear_at_rest(Backend::Sqlite).await;
}

#[tokio::test]
async fn nothing_clear_at_rest_postgres() {
    nothing_clear_at_rest(Backend::Postgres).await;
}

/// The stored secret column of an endpoint, as it is in the database.
async fn raw_secret(s: &TestServer, id: &str) -> (String, Value) {
    let state = s.state().await;
    let w = state
        .store
        .webhook_get(WebhookId::new(id))
        .await
        .unwrap()
        .unwrap();
    (w.secret, w.headers)
}

async fn key_rotation(backend: Backend) {
    let (a, b, c) = (
        FernetKey::generate(),
        FernetKey::generate(),
        FernetKey::generate(),
    );
    let mut s = server(backend, |cfg| {
        cfg.fernet_key = Some(SecretText::new(a.to_text()));
    })
    .await;
    let rx = Receiver::start().await;
    let token = format!("Bearer rotation-{}", idv_core::ids::new_id());
    let (id, _) = create(&s, &rx, json!({"Authorization": token}), false).await;
    one_session_delivered(&s, &id, 4).await;
    let (under_a, headers_a) = raw_secret(&s, &id).await;
    let prefix = |k: &FernetKey| format!("fernet1:{}:", key_id(k));
    assert!(under_a.starts_with(&prefix(&a)), "{under_a}");
    assert!(headers_a.as_str().unwrap().starts_with(&prefix(&a)));

    // B is the key now; A only reads. The start re-encrypts everything under B.
    s.config.fernet_key = Some(SecretText::new(b.to_text()));
    s.config.secrets.previous_keys = vec![SecretText::new(a.to_text())];
    s.restart().await;
    let (under_b, headers_b) = raw_secret(&s, &id).await;
    assert!(under_b.starts_with(&prefix(&b)), "{under_b}");
    assert!(headers_b.as_str().unwrap().starts_with(&prefix(&b)));
    let state = s.state().await;
    let seed = state
        .store
        .setting_get_or_insert(SEED, "unused")
        .await
        .unwrap();
    assert!(seed.starts_with(&prefix(&b)), "{seed}");
    drop(state);
    // The values under the retired key are gone from the database's files, not just replaced.
    let bytes = stored_bytes(&s).await;
    assert!(!holds(&bytes, &under_a["fernet1:12345678:".len()..]));
    assert!(!holds(&bytes, &prefix(&a)), "nothing under key A remains");
    one_session_delivered(&s, &id, 8).await;

    // A dropped: still verifies.
    s.config.secrets.previous_keys = vec![];
    s.restart().await;
    one_session_delivered(&s, &id, 12).await;
    assert!(rx.bad().is_empty(), "{:?}", rx.bad());
    let hits = rx.accepted();
    assert_eq!(hits.len(), 12);
    assert!(
        hits.iter()
            .all(|h| header(h, "authorization") == vec![token.as_str()])
    );

    // Under a key that is not configured, the start stops with an error naming the keys.
    let mut wrong = s.config.clone();
    wrong.fernet_key = Some(SecretText::new(c.to_text()));
    let e = match idv_server::prepare(wrong.clone(), s.url.clone(), None).await {
        Err(e) => e.0,
        Ok(_) => panic!("a server under key C started on a database under key B"),
    };
    assert!(e.contains(&key_id(&b)), "{e}");
    assert!(e.contains(&key_id(&c)), "{e}");
    assert!(
        e.contains("fernetKey") && e.contains("secrets.previousKeys"),
        "{e}"
    );
    // Nothing was changed by the refused start: B still reads everything.
    assert_eq!(raw_secret(&s, &id).await.0, under_b);
    // With B as a previous key, C takes over.
    wrong.secrets.previous_keys = vec![SecretText::new(b.to_text())];
    let state = idv_server::prepare(wrong, s.url.clone(), None)
        .await
        .unwrap();
    let w = state
        .store
        .webhook_get(WebhookId::new(&id))
        .await
        .unwrap()
        .unwrap();
    assert!(w.secret.starts_with(&prefix(&c)), "{}", w.secret);
    drop(state);
    s.stop().await;
}

#[tokio::test]
async fn key_rotation_sqlite() {
    key_rotation(Backend::Sqlite).await;
}

#[tokio::test]
async fn key_rotation_postgres() {
    key_rotation(Backend::Postgres).await;
}

/// Writes an endpoint's secrets and the signing seed in clear, as an earlier version did.
async fn write_clear(s: &TestServer, id: &str, secret: &str, headers: &Value, seed: &str) {
    use sqlx::Connection;
    let url = &s.config.database.url;
    let headers = headers.to_string();
    if url.starts_with("sqlite://") {
        let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
        let done = sqlx::query(
            "UPDATE webhooks SET secret = $1, previous_secret = $1, previous_secret_until = $4, \
             headers = $2 WHERE id = $3",
        )
        .bind(secret)
        .bind(&headers)
        .bind(id)
        .bind(i64::MAX)
        .execute(&mut db)
        .await
        .unwrap();
        assert_eq!(done.rows_affected(), 1);
        sqlx::query("UPDATE settings SET value = $1 WHERE key = $2")
            .bind(seed)
            .bind(SEED)
            .execute(&mut db)
            .await
            .unwrap();
        db.close().await.unwrap();
    } else {
        let mut db = sqlx::PgConnection::connect(url).await.unwrap();
        let done = sqlx::query(
            "UPDATE webhooks SET secret = $1, previous_secret = $1, previous_secret_until = $4, \
             headers = $2::jsonb WHERE id = $3",
        )
        .bind(secret)
        .bind(&headers)
        .bind(id)
        .bind(i64::MAX)
        .execute(&mut db)
        .await
        .unwrap();
        assert_eq!(done.rows_affected(), 1);
        sqlx::query("UPDATE settings SET value = $1 WHERE key = $2")
            .bind(seed)
            .bind(SEED)
            .execute(&mut db)
            .await
            .unwrap();
        db.close().await.unwrap();
    }
}

async fn clear_rows_are_encrypted_at_start(backend: Backend) {
    let mut s = server(backend, |_| {}).await;
    let rx = Receiver::start().await;
    let (id, _) = create(&s, &rx, json!({}), true).await;
    let secret = sign::new_secret();
    let token = format!("Bearer upgraded-{}", idv_core::ids::new_id());
    let pair = SigningKeyPair::generate();
    write_clear(
        &s,
        &id,
        &secret,
        &json!({"Authorization": token}),
        &pair.seed_text(),
    )
    .await;
    // The check can fail: the clear values are in the database now.
    assert!(holds(&stored_bytes(&s).await, &token));

    s.restart().await;
    let bytes = stored_bytes(&s).await;
    for (what, needle) in [
        ("secret", body(&secret)),
        ("header value", token.as_str()),
        ("seed", body(&pair.seed_text())),
    ] {
        assert!(!holds(&bytes, needle), "the {what} is still in clear");
    }
    let (stored, headers) = raw_secret(&s, &id).await;
    assert!(stored.starts_with("fernet1:"), "{stored}");
    assert!(headers.as_str().unwrap().starts_with("fernet1:"));
    let got = answer(
        s.admin(s.get(&format!("/api/webhooks/{id}")))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(got["headerNames"], json!(["Authorization"]));

    // The same secret, header and signing key as before the upgrade.
    let key: Value = s.get("/api/webhooks/signing-key").send_json().await;
    assert_eq!(key["publicKey"], json!(pair.public_text()));
    rx.set_secret(&secret);
    rx.set_public_key(&pair.public_text());
    one_session_delivered(&s, &id, 4).await;
    assert!(rx.bad().is_empty(), "{:?}", rx.bad());
    for hit in rx.accepted() {
        assert_eq!(header(&hit, "authorization"), vec![token.as_str()]);
    }
    s.stop().await;
}

#[tokio::test]
async fn clear_rows_are_encrypted_at_start_sqlite() {
    clear_rows_are_encrypted_at_start(Backend::Sqlite).await;
}

#[tokio::test]
async fn clear_rows_are_encrypted_at_start_postgres() {
    clear_rows_are_encrypted_at_start(Backend::Postgres).await;
}
