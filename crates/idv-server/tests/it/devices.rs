//! Server-side starts through real HTTP, on SQLite and on PostgreSQL: ephemeral device tokens,
//! deeplinks, QR codes (decoded back to their URL) and the one-time exchange of `tr-` tokens,
//! including a race of concurrent exchanges.

use crate::common;
use idv_store::DeviceTokenId;

use common::*;
use reqwest::Response;
use serde_json::{Value, json};

/// A second workflow: the example KYC under another id and name.
const OTHER_ID: &str = "5e1f0c2a-7d3b-4c6e-9a10-2b3c4d5e6f70";

async fn load_other_workflow(srv: &TestServer) {
    let yaml = KYC
        .replacen(&format!("id: {KYC_ID}"), &format!("id: {OTHER_ID}"), 1)
        .replacen("name: Example KYC", "name: Other KYC", 1);
    let r = srv
        .admin(srv.post("/api/workflows"))
        .header("content-type", "application/yaml")
        .body(yaml)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// Milliseconds since the epoch of an ISO-8601 time with milliseconds and `Z`.
fn ms(v: &Value) -> i64 {
    let text = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    assert!(
        text.ends_with('Z') && text.len() == "2025-12-30T10:55:33.949Z".len(),
        "ISO-8601 with ms and Z: {text}"
    );
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .timestamp_millis()
}

async fn ok_json(r: Response) -> Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// POST with a JSON body and an `authorization` value.
async fn post_json(srv: &TestServer, auth: &str, path: &str, body: Value) -> Response {
    srv.post(path)
        .header("authorization", auth)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn get_with(srv: &TestServer, auth: &str, path: &str) -> Response {
    srv.get(path)
        .header("authorization", auth)
        .send()
        .await
        .unwrap()
}

async fn start_with(srv: &TestServer, auth: &str, workflow: &str) -> Response {
    post_json(
        srv,
        auth,
        &format!("/api/sessions?workflowId={workflow}"),
        json!({}),
    )
    .await
}

/// Calls that need permissions a device token lacks: each answers 403.
async fn assert_no_admin(srv: &TestServer, auth: &str) {
    let calls: [(&str, String, Option<Value>); 9] = [
        ("GET", "/api/apikey".into(), None),
        (
            "POST",
            "/api/apikey".into(),
            Some(json!({"name": "x", "permissions": ["session:read"]})),
        ),
        ("GET", "/api/security/users".into(), None),
        ("GET", "/api/audit".into(), None),
        ("POST", "/api/workflows/reload".into(), None),
        ("DELETE", format!("/api/workflows/{KYC_ID}"), None),
        ("POST", "/api/device/ephemeral".into(), Some(json!({}))),
        (
            "POST",
            format!("/api/v1/deeplink?workflowId={KYC_ID}"),
            Some(json!({})),
        ),
        (
            "GET",
            format!("/api/deeplink/qrcode?workflowId={KYC_ID}"),
            None,
        ),
    ];
    for (method, path, body) in calls {
        let mut rb = srv
            .client
            .request(method.parse().unwrap(), format!("{}{path}", srv.url))
            .header("authorization", auth);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let (st, code, body) = error_of(rb.send().await.unwrap()).await;
        assert_eq!(
            (st, code.as_str()),
            (403, "forbidden"),
            "{method} {path}: {body}"
        );
    }
}

// ------------------------------------------------------------------ ephemeral devices

async fn ephemeral_devices(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    let minter = srv.key(&["ephemeral_device:write"]).await;
    let minter = format!("ApiKey {minter}");

    // Regula's call: the answer's `authorization` is the whole header value.
    let r = post_json(&srv, &minter, "/api/device/ephemeral", json!({"ttl": 300})).await;
    assert_eq!(
        r.headers().get("cache-control").unwrap(),
        "no-store",
        "a credential is never cached"
    );
    let dev = ok_json(r).await;
    let auth = dev["authorization"].as_str().unwrap().to_string();
    assert!(auth.starts_with("Token idvdt_"), "{auth}");
    assert_eq!(ms(&dev["expiresAt"]) - ms(&dev["createdAt"]), 300_000);
    assert_eq!(dev["ttl"], 300);
    let device_id = dev["id"].as_str().unwrap().to_string();

    // Stored only as a keyed hash of its text.
    let state = srv.state().await;
    let text = auth.trim_start_matches("Token ");
    let stored = state
        .store
        .device_token_get(DeviceTokenId::new(&device_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.secret_hash, state.auth.hash_secret(text));
    assert_ne!(
        stored.secret_hash,
        idv_server::auth::sha256_hex(text),
        "keyed, not a plain digest"
    );
    assert!(!stored.secret_hash.contains(&text[6..]));

    // It starts a session, owned by the device, ending when the token does (300 s is before
    // the workflow's 1800 s lifetime).
    let s = ok_json(start_with(&srv, &auth, KYC_ID).await).await;
    let id = s["id"].as_str().unwrap().to_string();
    assert_eq!(s["userId"], device_id.as_str());
    assert_eq!(ms(&s["expiresAt"]), ms(&dev["expiresAt"]));

    // It submits the ONBOARDING step and a file, and reads both back.
    let step = ok_json(
        srv.submit(&auth, &id, "ONBOARDING", json!({"continue": true}))
            .await,
    )
    .await;
    assert_eq!(step["id"], "PERSONAL_DETAILS");
    let r = srv
        .post(&format!(
            "/api/sessions/{id}/step/PERSONAL_DETAILS?type=file&name=note.txt"
        ))
        .header("authorization", &auth)
        .header("content-type", "text/plain")
        .body("from the device")
        .send()
        .await
        .unwrap();
    let up = ok_json(r).await;
    let file_url = up["files"][0]["url"].as_str().unwrap().to_string();
    let s = srv.session(&auth, &id).await;
    assert_eq!(s["currentStep"], "PERSONAL_DETAILS");
    let r = srv
        .client
        .get(&file_url)
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "from the device");

    // The same value without the scheme word, and in the query parameter, work too.
    let bare = auth.trim_start_matches("Token ");
    assert_eq!(
        get_with(&srv, bare, &format!("/api/sessions/{id}"))
            .await
            .status(),
        200
    );
    let r = srv
        .get(&format!("/api/sessions/{id}?authorization=Token%20{bare}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Another session (the back end's own) and another device's session are invisible.
    let backend_key = srv.key(&["session_all:read", "session_all:write"]).await;
    let other = srv.start_session(&backend_key, json!({})).await;
    let other_id = other["id"].as_str().unwrap();
    let (st, code, _) =
        error_of(get_with(&srv, &auth, &format!("/api/sessions/{other_id}")).await).await;
    assert_eq!((st, code.as_str()), (404, "session_not_found"));
    let r = srv
        .submit(&auth, other_id, "ONBOARDING", json!({"continue": true}))
        .await;
    assert_eq!(error_of(r).await.0, 404);
    let dev2 = ok_json(post_json(&srv, &minter, "/api/device/ephemeral", json!({})).await).await;
    let auth2 = dev2["authorization"].as_str().unwrap();
    assert_eq!(
        ms(&dev2["expiresAt"]) - ms(&dev2["createdAt"]),
        3_600_000,
        "default ttl"
    );
    let (st, code, _) = error_of(get_with(&srv, auth2, &format!("/api/sessions/{id}")).await).await;
    assert_eq!((st, code.as_str()), (404, "session_not_found"));
    let r = srv
        .client
        .get(&file_url)
        .header("authorization", auth2)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 404, "nor its files");
    // The back end still sees everything.
    let s = srv.session(&format!("ApiKey {backend_key}"), &id).await;
    assert_eq!(s["userId"], device_id.as_str());

    // With a ttl past the workflow's lifetime, the lifetime ends the session.
    let s2 = ok_json(start_with(&srv, auth2, KYC_ID).await).await;
    assert_eq!(ms(&s2["expiresAt"]) - ms(&s2["createdAt"]), 1_800_000);

    // Nothing else.
    assert_no_admin(&srv, &auth).await;

    // Minting needs ephemeral_device:write, and a ttl in bounds.
    let plain = srv.key(&["session_all:read", "session_all:write"]).await;
    let (st, code, _) = error_of(
        post_json(
            &srv,
            &format!("ApiKey {plain}"),
            "/api/device/ephemeral",
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!((st, code.as_str()), (403, "forbidden"));
    for bad in [
        json!({"ttl": 59}),
        json!({"ttl": 604_801}),
        json!({"ttl": -1}),
        json!({"ttl": "soon"}),
        json!({"ttl": 1.5}),
    ] {
        let (st, code, body) =
            error_of(post_json(&srv, &minter, "/api/device/ephemeral", bad.clone()).await).await;
        assert_eq!((st, code.as_str()), (400, "invalid_request"), "{bad}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("ttl"),
            "{body}"
        );
    }
    let (st, _, _) =
        error_of(post_json(&srv, &minter, "/api/device/ephemeral", json!({"tll": 60})).await).await;
    assert_eq!(st, 400, "a misspelt field is refused");

    // Once the ttl has passed, the token is refused as expired.
    srv.clock.advance(300_001);
    for r in [
        get_with(&srv, &auth, &format!("/api/sessions/{id}")).await,
        start_with(&srv, &auth, KYC_ID).await,
    ] {
        let (st, code, _) = error_of(r).await;
        assert_eq!((st, code.as_str()), (401, "expired_credentials"));
    }
    assert_eq!(
        get_with(
            &srv,
            auth2,
            &format!("/api/sessions/{}", s2["id"].as_str().unwrap())
        )
        .await
        .status(),
        200,
        "the other device's hour is not over"
    );
    let (st, code, _) = error_of(
        get_with(
            &srv,
            "Token idvdt_notatoken",
            "/api/sessions/0123456789abcdef01234567",
        )
        .await,
    )
    .await;
    assert_eq!((st, code.as_str()), (401, "invalid_credentials"));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ephemeral_devices_on_sqlite() {
    ephemeral_devices(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ephemeral_devices_on_postgres() {
    ephemeral_devices(Backend::Postgres).await;
}

// ------------------------------------------------------------------ workflows a token may run

/// The ids `GET /api/workflows` lists for `auth`, sorted.
async fn listed(srv: &TestServer, auth: &str) -> Vec<String> {
    let list = ok_json(get_with(srv, auth, "/api/workflows").await).await;
    let mut ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn device_tokens_read_their_workflows(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    load_other_workflow(&srv).await;
    let mut both = vec![KYC_ID.to_string(), OTHER_ID.to_string()];
    both.sort();
    let minter = format!(
        "ApiKey {}",
        srv.key(&["ephemeral_device:write", "deeplink:write"]).await
    );

    // An ephemeral device may start any workflow, so it reads them all.
    let dev = ok_json(post_json(&srv, &minter, "/api/device/ephemeral", json!({})).await).await;
    let ephemeral = dev["authorization"].as_str().unwrap().to_string();
    assert_eq!(listed(&srv, &ephemeral).await, both);
    let wf = ok_json(get_with(&srv, &ephemeral, &format!("/api/workflows/{OTHER_ID}")).await).await;
    assert_eq!(wf["id"], OTHER_ID);

    // A deeplink's token reads only the workflows it was issued for.
    let link = ok_json(
        post_json(
            &srv,
            &minter,
            &format!("/api/v1/deeplink?workflowId={KYC_ID}"),
            json!({}),
        )
        .await,
    )
    .await;
    let (token, _) = parse_link(&srv, link["url"].as_str().unwrap());
    assert_eq!(listed(&srv, &token).await, vec![KYC_ID.to_string()]);
    let wf = ok_json(get_with(&srv, &token, &format!("/api/workflows/{KYC_ID}")).await).await;
    assert_eq!(wf["id"], KYC_ID);
    assert!(wf["definition"].is_object(), "{wf}");
    // Another workflow looks missing, as does one that does not exist.
    for id in [OTHER_ID, "no-such-workflow"] {
        let (st, code, _) =
            error_of(get_with(&srv, &token, &format!("/api/workflows/{id}")).await).await;
        assert_eq!((st, code.as_str()), (404, "workflow_not_found"), "{id}");
    }

    // A QR code's token, once exchanged, reads the QR code's workflows.
    let qr = qr_json(&srv, &minter, &format!("workflowId={OTHER_ID}")).await;
    let exchanged =
        ok_json(exchange(&srv, &format!("Token {}", qr["token"].as_str().unwrap())).await).await;
    let exchanged = exchanged["authorization"].as_str().unwrap().to_string();
    assert_eq!(listed(&srv, &exchanged).await, vec![OTHER_ID.to_string()]);
    let (st, code, _) =
        error_of(get_with(&srv, &exchanged, &format!("/api/workflows/{KYC_ID}")).await).await;
    assert_eq!((st, code.as_str()), (404, "workflow_not_found"));
    // The one-time token itself reads nothing.
    let qr = qr_json(&srv, &minter, &format!("workflowId={OTHER_ID}")).await;
    let one_time = format!("Token {}", qr["token"].as_str().unwrap());
    let (st, _, _) = error_of(get_with(&srv, &one_time, "/api/workflows").await).await;
    assert_eq!(st, 403);

    // Other callers keep their permissions' answers: a key with workflow:read reads all, one
    // without is refused.
    let reader = format!("ApiKey {}", srv.key(&["workflow:read"]).await);
    assert_eq!(listed(&srv, &reader).await, both);
    let (st, code, _) = error_of(get_with(&srv, &minter, "/api/workflows").await).await;
    assert_eq!((st, code.as_str()), (403, "forbidden"));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn device_tokens_read_their_workflows_on_sqlite() {
    device_tokens_read_their_workflows(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn device_tokens_read_their_workflows_on_postgres() {
    device_tokens_read_their_workflows(Backend::Postgres).await;
}

// ------------------------------------------------------------------ deeplinks

/// The `authorization` and `sessionId` of a deeplink URL, checking its shape.
fn parse_link(srv: &TestServer, url: &str) -> (String, String) {
    let prefix = format!("{}/mobile?authorization=Token%20", srv.url);
    assert!(url.starts_with(&prefix), "{url}");
    let parsed = reqwest::Url::parse(url).unwrap();
    assert_eq!(parsed.path(), "/mobile");
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["authorization", "sessionId"], "{url}");
    (pairs[0].1.clone(), pairs[1].1.clone())
}

async fn deeplinks(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    load_other_workflow(&srv).await;
    let key = format!("ApiKey {}", srv.key(&["deeplink:write"]).await);

    let r = post_json(
        &srv,
        &key,
        &format!("/api/v1/deeplink?workflowId={KYC_ID}&workflowId={OTHER_ID}"),
        json!({"metadata": {"externalUserId": "user-7"}, "locale": "de", "ttl": 600}),
    )
    .await;
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    let link = ok_json(r).await;
    assert_eq!(link["workflowIds"], json!([KYC_ID, OTHER_ID]));
    assert_eq!(ms(&link["expiresAt"]) - ms(&link["createdAt"]), 600_000);
    let (auth, sid) = parse_link(&srv, link["url"].as_str().unwrap());
    assert!(auth.starts_with("Token idvdt_"), "{auth}");
    assert_eq!(link["sessionId"], sid.as_str());

    // The token reads its session: the first workflow's, with metadata and locale applied and
    // the link's expiry (600 s is before the 1800 s lifetime).
    let s = srv.session(&auth, &sid).await;
    assert_eq!(s["workflow"]["id"], KYC_ID);
    assert_eq!(s["metadata"], json!({"externalUserId": "user-7"}));
    assert_eq!(s["locale"], "de");
    assert_eq!(s["currentStep"], "ONBOARDING");
    assert_eq!(ms(&s["expiresAt"]), ms(&link["expiresAt"]));
    let step = ok_json(
        srv.submit(&auth, &sid, "ONBOARDING", json!({"continue": true}))
            .await,
    )
    .await;
    assert_eq!(step["id"], "PERSONAL_DETAILS");

    // Only that session: not another one, not a new one, nothing else.
    let backend_key = srv.key(&["session_all:read", "session_all:write"]).await;
    let other = srv.start_session(&backend_key, json!({})).await;
    let other_id = other["id"].as_str().unwrap();
    let (st, code, _) =
        error_of(get_with(&srv, &auth, &format!("/api/sessions/{other_id}")).await).await;
    assert_eq!((st, code.as_str()), (404, "session_not_found"));
    let r = srv
        .submit(&auth, other_id, "ONBOARDING", json!({"continue": true}))
        .await;
    assert_eq!(error_of(r).await.0, 404);
    let (st, code, body) = error_of(start_with(&srv, &auth, KYC_ID).await).await;
    assert_eq!((st, code.as_str()), (403, "forbidden"), "{body}");
    assert_no_admin(&srv, &auth).await;

    // Defaults: no body gives {} metadata, the workflow's locale and an hour (the lifetime
    // then ends the session first).
    let link2 = ok_json(
        post_json(
            &srv,
            &key,
            &format!("/api/v1/deeplink?workflowId={OTHER_ID}"),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(ms(&link2["expiresAt"]) - ms(&link2["createdAt"]), 3_600_000);
    assert_eq!(link2["workflowIds"], json!([OTHER_ID]));
    let (auth2, sid2) = parse_link(&srv, link2["url"].as_str().unwrap());
    let s2 = srv.session(&auth2, &sid2).await;
    assert_eq!(s2["workflow"]["id"], OTHER_ID);
    assert_eq!(s2["metadata"], json!({}));
    assert_eq!(s2["locale"], "en-us");
    assert_eq!(ms(&s2["expiresAt"]) - ms(&s2["createdAt"]), 1_800_000);
    let (st, _, _) = error_of(get_with(&srv, &auth2, &format!("/api/sessions/{sid}")).await).await;
    assert_eq!(
        st, 404,
        "one link's token does not reach the other's session"
    );

    // Bad input: a clear error.
    for (query, body, want) in [
        (
            format!("workflowId={KYC_ID}"),
            json!({"ttl": 10}),
            (400, "invalid_request"),
        ),
        (
            format!("workflowId={KYC_ID}"),
            json!({"ttl": 700_000}),
            (400, "invalid_request"),
        ),
        (
            "workflowId=00000000-0000-0000-0000-000000000000".into(),
            json!({}),
            (404, "workflow_not_found"),
        ),
        (
            format!("workflowId={KYC_ID}&workflowId=nope"),
            json!({}),
            (404, "workflow_not_found"),
        ),
        (String::new(), json!({}), (400, "invalid_request")),
        (
            format!("workflowId={KYC_ID}"),
            json!({"metadata": [1]}),
            (400, "invalid_request"),
        ),
        (
            format!("workflowId={KYC_ID}"),
            json!({"locale": "<script>"}),
            (400, "invalid_locale"),
        ),
    ] {
        let (st, code, b) = error_of(
            post_json(
                &srv,
                &key,
                &format!("/api/v1/deeplink?{query}"),
                body.clone(),
            )
            .await,
        )
        .await;
        assert_eq!((st, code.as_str()), want, "{query} {body}: {b}");
        if code == "invalid_request" && body.get("ttl").is_some() {
            assert!(
                b["error"]["message"].as_str().unwrap().contains("`ttl`"),
                "{b}"
            );
        }
    }
    let plain = format!("ApiKey {backend_key}");
    let (st, code, _) = error_of(
        post_json(
            &srv,
            &plain,
            &format!("/api/v1/deeplink?workflowId={KYC_ID}"),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (st, code.as_str()),
        (403, "forbidden"),
        "needs deeplink:write"
    );

    // The token ends with its ttl.
    srv.clock.advance(600_001);
    let (st, code, _) =
        error_of(get_with(&srv, &auth, &format!("/api/sessions/{sid}")).await).await;
    assert_eq!((st, code.as_str()), (401, "expired_credentials"));
    assert_eq!(
        get_with(&srv, &auth2, &format!("/api/sessions/{sid2}"))
            .await
            .status(),
        200
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deeplinks_on_sqlite() {
    deeplinks(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deeplinks_on_postgres() {
    deeplinks(Backend::Postgres).await;
}

// ------------------------------------------------------------------ QR codes

/// Checks the PNG signature and shape, and reads the QR code back.
fn decode_qr(png_bytes: &[u8]) -> String {
    assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    let (w, h) = (frame.width as usize, frame.height as usize);
    assert_eq!(w, h, "square");
    assert!((200..=1200).contains(&w), "a size a phone scans: {w}");
    assert_eq!(frame.color_type, png::ColorType::Grayscale);
    let stride = frame.line_size;
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * stride + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code");
    grids[0].decode().unwrap().1
}

async fn qr_json(srv: &TestServer, auth: &str, query: &str) -> Value {
    ok_json(get_with(srv, auth, &format!("/api/deeplink/qrcode?{query}")).await).await
}

async fn exchange(srv: &TestServer, auth: &str) -> Response {
    srv.post("/api/deeplink/exchange")
        .header("authorization", auth)
        .send()
        .await
        .unwrap()
}

async fn qr_codes(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    // Regula's docs ask for QR codes with Basic auth.
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("admin:{ADMIN_PASSWORD}")
        )
    );

    let qr = qr_json(
        &srv,
        &basic,
        &format!("workflowId={KYC_ID}&ttl=900&locale=de"),
    )
    .await;
    let token = qr["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("tr-") && token.len() == 32, "{token}");
    assert!(
        token[3..]
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
        "{token}"
    );
    let url = qr["url"].as_str().unwrap().to_string();
    let (auth, sid) = parse_link(&srv, &url);
    assert_eq!(auth, format!("Token {token}"));
    assert_eq!(qr["sessionId"], sid.as_str());
    assert_eq!(qr["workflowIds"], json!([KYC_ID]));
    assert_eq!(ms(&qr["expiresAt"]) - ms(&qr["createdAt"]), 900_000);
    let data = qr["qrcode"].as_str().unwrap();
    let b64 = data
        .strip_prefix("data:image/png;base64,")
        .expect("a PNG data URL");
    let png_bytes =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap();
    assert_eq!(decode_qr(&png_bytes), url, "the QR code holds the URL");

    // Before the exchange the tr- token opens nothing, and says where to go.
    let (st, code, body) =
        error_of(get_with(&srv, &auth, &format!("/api/sessions/{sid}")).await).await;
    assert_eq!((st, code.as_str()), (403, "forbidden"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/api/deeplink/exchange"),
        "{body}"
    );
    let (st, _, _) = error_of(exchange(&srv, &basic).await).await;
    assert_eq!(st, 403, "only a tr- token is exchanged");

    // The exchange: a token bound to the session until the same expiry.
    let r = exchange(&srv, &auth).await;
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    let ex = ok_json(r).await;
    let bound = ex["authorization"].as_str().unwrap().to_string();
    assert!(bound.starts_with("Token idvdt_"), "{bound}");
    assert_eq!(ex["sessionId"], sid.as_str());
    assert_eq!(ex["expiresAt"], qr["expiresAt"]);
    assert_eq!(ex["workflowIds"], json!([KYC_ID]));
    let s = srv.session(&bound, &sid).await;
    assert_eq!(s["locale"], "de");
    assert_eq!(ms(&s["expiresAt"]), ms(&qr["expiresAt"]));
    let step = ok_json(
        srv.submit(&bound, &sid, "ONBOARDING", json!({"continue": true}))
            .await,
    )
    .await;
    assert_eq!(step["id"], "PERSONAL_DETAILS");

    // One time only.
    for r in [
        exchange(&srv, &auth).await,
        get_with(&srv, &auth, &format!("/api/sessions/{sid}")).await,
    ] {
        let (st, code, _) = error_of(r).await;
        assert_eq!((st, code.as_str()), (401, "invalid_credentials"));
    }
    assert_eq!(
        get_with(&srv, &bound, &format!("/api/sessions/{sid}"))
            .await
            .status(),
        200
    );

    // Bound: no other session, no new session, nothing else.
    let backend_key = srv.key(&["session_all:read", "session_all:write"]).await;
    let other = srv.start_session(&backend_key, json!({})).await;
    let (st, _, _) = error_of(
        get_with(
            &srv,
            &bound,
            &format!("/api/sessions/{}", other["id"].as_str().unwrap()),
        )
        .await,
    )
    .await;
    assert_eq!(st, 404);
    let (st, code, _) = error_of(start_with(&srv, &bound, KYC_ID).await).await;
    assert_eq!((st, code.as_str()), (403, "forbidden"));
    assert_no_admin(&srv, &bound).await;

    // The PNG itself, and the URL's own query string used for the exchange.
    let r = srv
        .get(&format!("/api/deeplink/qrcode?workflowId={KYC_ID}"))
        .header("authorization", &basic)
        .header("accept", "image/png")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("content-type").unwrap(), "image/png");
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    let sid3 = r
        .headers()
        .get("x-session-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let expires3 = r
        .headers()
        .get("x-expires-at")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let url3 = decode_qr(&r.bytes().await.unwrap());
    let (auth3, sid_in_url) = parse_link(&srv, &url3);
    assert_eq!(sid_in_url, sid3);
    let query = reqwest::Url::parse(&url3)
        .unwrap()
        .query()
        .unwrap()
        .to_string();
    let ex3 = ok_json(
        srv.post(&format!("/api/deeplink/exchange?{query}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ex3["sessionId"], sid3.as_str());
    assert_eq!(ex3["expiresAt"], expires3.as_str());
    let (st, _, _) = error_of(exchange(&srv, &auth3).await).await;
    assert_eq!(st, 401);

    // Bad input and missing permission; nothing is started.
    for (query, want) in [
        (
            format!("workflowId={KYC_ID}&ttl=30"),
            (400, "invalid_request"),
        ),
        (
            format!("workflowId={KYC_ID}&ttl=soon"),
            (400, "invalid_request"),
        ),
        (
            "workflowId=00000000-0000-0000-0000-000000000000".to_string(),
            (404, "workflow_not_found"),
        ),
        ("ttl=60".to_string(), (400, "invalid_request")),
    ] {
        let (st, code, b) =
            error_of(get_with(&srv, &basic, &format!("/api/deeplink/qrcode?{query}")).await).await;
        assert_eq!((st, code.as_str()), want, "{query}: {b}");
    }
    let r = srv
        .get(&format!("/api/deeplink/qrcode?workflowId={KYC_ID}"))
        .header("authorization", &basic)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 406);
    let plain = format!("ApiKey {backend_key}");
    let (st, code, _) = error_of(
        get_with(
            &srv,
            &plain,
            &format!("/api/deeplink/qrcode?workflowId={KYC_ID}"),
        )
        .await,
    )
    .await;
    assert_eq!((st, code.as_str()), (403, "forbidden"));

    // An unused tr- token expires with its ttl.
    let qr4 = qr_json(&srv, &basic, &format!("workflowId={KYC_ID}&ttl=60")).await;
    srv.clock.advance(60_001);
    let (st, code, _) =
        error_of(exchange(&srv, &format!("Token {}", qr4["token"].as_str().unwrap())).await).await;
    assert_eq!((st, code.as_str()), (401, "expired_credentials"));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn qr_codes_on_sqlite() {
    qr_codes(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn qr_codes_on_postgres() {
    qr_codes(Backend::Postgres).await;
}

/// Many first uses of one tr- token at once: exactly one gets a token.
async fn concurrent_exchange(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    let key = format!("ApiKey {}", srv.key(&["deeplink:write"]).await);
    let qr = qr_json(&srv, &key, &format!("workflowId={KYC_ID}")).await;
    let auth = format!("Token {}", qr["token"].as_str().unwrap());
    let url = format!("{}/api/deeplink/exchange", srv.url);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (client, url, auth) = (srv.client.clone(), url.clone(), auth.clone());
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(&url)
                .header("authorization", auth)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 => winners.push(body),
            401 => assert_eq!(body["error"]["code"], "invalid_credentials", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one exchange wins: {winners:?}");
    let bound = winners[0]["authorization"].as_str().unwrap();
    let sid = qr["sessionId"].as_str().unwrap();
    assert_eq!(srv.session(bound, sid).await["id"], sid);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_exchange_one_wins_on_sqlite() {
    concurrent_exchange(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_exchange_one_wins_on_postgres() {
    concurrent_exchange(Backend::Postgres).await;
}

/// A deeplink's token after its session was deleted: 410 session_deleted (so the capture page
/// says the session was deleted, not that the link is bad), with nothing about who deleted it;
/// once the token would have expired, an unknown token (401) like any other.
async fn token_of_a_deleted_session(backend: Backend) {
    let srv = TestServer::start(backend).await;
    srv.load_kyc().await;
    let key = format!(
        "ApiKey {}",
        srv.key(&["deeplink:write", "session_all:delete"]).await
    );
    let link = ok_json(
        post_json(
            &srv,
            &key,
            &format!("/api/v1/deeplink?workflowId={KYC_ID}"),
            json!({"ttl": 600}),
        )
        .await,
    )
    .await;
    let (auth, sid) = parse_link(&srv, link["url"].as_str().unwrap());
    let step = format!("/api/sessions/{sid}/step");
    assert_eq!(get_with(&srv, &auth, &step).await.status(), 200);
    // Another session's token, to show only the deleted session's tokens are kept.
    let other = ok_json(
        post_json(
            &srv,
            &key,
            &format!("/api/v1/deeplink?workflowId={KYC_ID}"),
            json!({"ttl": 600}),
        )
        .await,
    )
    .await;
    let (other_auth, other_sid) = parse_link(&srv, other["url"].as_str().unwrap());

    let r = srv
        .delete(&format!("/api/sessions/{sid}"))
        .header("authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    for path in [step.clone(), format!("/api/sessions/{sid}")] {
        let (status, code, body) = error_of(get_with(&srv, &auth, &path).await).await;
        assert_eq!(
            (status, code.as_str()),
            (410, "session_deleted"),
            "{path}: {body}"
        );
        let text = body.to_string();
        assert!(
            !text.contains("deletedBy") && !text.contains("admin"),
            "{text}"
        );
    }
    // The other session and its token are untouched.
    let other_step = format!("/api/sessions/{other_sid}/step");
    assert_eq!(get_with(&srv, &other_auth, &other_step).await.status(), 200);
    // A made-up token is still just unknown.
    let (status, code, _) = error_of(
        get_with(
            &srv,
            "Token idvdt_notatokenatall000000000000000000000",
            &step,
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (401, "invalid_credentials"));

    // Past the token's expiry, and after the cleanup job, it is unknown.
    srv.clock.advance(600_001);
    let state = srv.state().await;
    state
        .store
        .device_token_delete_expired(idv_core::time::Clock::now_ms(srv.clock.as_ref()))
        .await
        .unwrap();
    let (status, code, _) = error_of(get_with(&srv, &auth, &step).await).await;
    assert_eq!((status, code.as_str()), (401, "invalid_credentials"));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_of_a_deleted_session_on_sqlite() {
    token_of_a_deleted_session(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_of_a_deleted_session_on_postgres() {
    token_of_a_deleted_session(Backend::Postgres).await;
}
