//! The `/drapi` and `/faceapi` gateways against a local upstream that echoes what it receives:
//! what is forwarded and what is not, bodies streaming both ways, permissions, switched-off and
//! failing services, the configured prefix.

use crate::common;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use common::*;
use futures::StreamExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// A stand-in service on 127.0.0.1:0; returns its base URL.
async fn upstream() -> String {
    let app = Router::new()
        .route(
            "/echo/{*rest}",
            any(|req: Request| async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
                let headers: serde_json::Map<String, Value> = parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
                    .collect();
                let seen = json!({
                    "method": parts.method.as_str(),
                    "path": parts.uri.path(),
                    "query": parts.uri.query(),
                    "headers": headers,
                    "body": String::from_utf8_lossy(&body),
                });
                (
                    StatusCode::CREATED,
                    [
                        ("x-upstream", "yes"),
                        ("set-cookie", "upstream=1"),
                        ("connection", "x-hop"),
                        ("x-hop", "1"),
                    ],
                    axum::Json(seen),
                )
            }),
        )
        // Streams the request body back as it arrives.
        .route(
            "/stream",
            post(|req: Request| async move {
                Response::new(Body::from_stream(req.into_body().into_data_stream()))
            }),
        )
        // Reads the whole body, then answers its length.
        .route(
            "/count",
            post(|body: Bytes| async move { body.len().to_string() }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(20)).await;
                "late"
            }),
        )
        .route(
            "/redirect",
            get(|| async {
                (StatusCode::FOUND, [(header::LOCATION, "/elsewhere")]).into_response()
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::disable());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn with_docreader(backend: Backend, url: &str) -> TestServer {
    let url = url.to_string();
    TestServer::start_with(backend, move |c| {
        c.services.docreader.enabled = true;
        c.services.docreader.url = url;
    })
    .await
}

fn api_key(key: &str) -> String {
    format!("ApiKey {key}")
}

#[tokio::test]
async fn forwards_method_path_query_and_end_to_end_headers_only() {
    let up = upstream().await;
    let srv = with_docreader(Backend::Sqlite, &format!("{up}/")).await;
    let key = srv
        .key(&["docreader:read", "docreader:write", "docreader:delete"])
        .await;
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        let r = srv
            .client
            .request(
                method.parse().unwrap(),
                format!("{}/drapi/echo/api/v2/transaction/1%202?withImages=true&authorization=ApiKey%20leak&x=%2F", srv.url),
            )
            .header("authorization", api_key(&key))
            .header("cookie", "idv=session")
            .header("x-sdk", "7.1")
            .header("content-type", "application/json")
            .body(format!("{{\"m\":\"{method}\"}}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{method}");
        assert_eq!(r.headers()["x-upstream"], "yes");
        assert!(
            r.headers().get("set-cookie").is_none(),
            "cookies stay upstream"
        );
        assert!(
            r.headers().get("x-hop").is_none(),
            "hop-by-hop stays upstream"
        );
        assert!(r.headers().get("x-request-id").is_some());
        let seen: Value = r.json().await.unwrap();
        assert_eq!(seen["method"], method);
        assert_eq!(seen["path"], "/echo/api/v2/transaction/1%202");
        assert_eq!(seen["query"], "withImages=true&x=%2F");
        assert_eq!(seen["body"], format!("{{\"m\":\"{method}\"}}"));
        let h = &seen["headers"];
        assert_eq!(h["x-sdk"], "7.1");
        assert_eq!(h["content-type"], "application/json");
        assert!(h.get("authorization").is_none(), "{h}");
        assert!(h.get("cookie").is_none(), "{h}");
        assert_eq!(h["x-forwarded-prefix"], "/drapi");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert!(
            h["host"].as_str().unwrap() != srv.url.trim_start_matches("http://"),
            "the service sees its own host"
        );
    }

    // Credentials in the query work here and are not forwarded either.
    let r = srv
        .get(&format!(
            "/drapi/echo/ping?authorization={}",
            api_key(&key).replace(' ', "%20")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let seen: Value = r.json().await.unwrap();
    assert_eq!(seen["query"], Value::Null);
    assert!(!seen.to_string().contains(&key));

    // Redirects are the caller's to follow.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .get(format!("{}/drapi/redirect", srv.url))
        .header("authorization", api_key(&key))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/elsewhere");

    // `..` cannot climb out of the service's base path (sent raw: HTTP clients would resolve
    // the dots themselves).
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = srv.url.trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let raw = format!(
        "GET /drapi/echo/%2e%2E/x HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        api_key(&key)
    );
    tcp.write_all(raw.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("invalid_request"), "{answer}");
    srv.stop().await;
}

#[tokio::test]
async fn bodies_stream_both_ways() {
    let up = upstream().await;
    let srv = with_docreader(Backend::Sqlite, &up).await;
    let key = srv.key(&["docreader:write"]).await;

    // Lock-step: each chunk is sent only after the previous one came back through the gateway,
    // which holds only if neither direction waits for the whole body.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let body = reqwest::Body::wrap_stream(tokio_stream_of(rx));
    tx.send(Ok(Bytes::from_static(b"chunk-0;"))).await.unwrap();
    let resp = tokio::time::timeout(
        Duration::from_secs(10),
        srv.post("/drapi/stream")
            .header("authorization", api_key(&key))
            .body(body)
            .send(),
    )
    .await
    .expect("the response begins before the request body ends")
    .unwrap();
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let mut received = Vec::new();
    for i in 0..5 {
        let want = format!("chunk-{i};");
        while !String::from_utf8_lossy(&received).ends_with(&want) {
            let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
                .await
                .unwrap_or_else(|_| panic!("chunk {i} did not come back while the body was open"))
                .unwrap()
                .unwrap();
            received.extend_from_slice(&chunk);
        }
        if i < 4 {
            tx.send(Ok(Bytes::from(format!("chunk-{};", i + 1))))
                .await
                .unwrap();
        }
    }
    drop(tx);
    while let Some(chunk) = stream.next().await {
        received.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(
        String::from_utf8(received).unwrap(),
        "chunk-0;chunk-1;chunk-2;chunk-3;chunk-4;"
    );

    // A large body (48 MiB, a video's size) passes through both ways intact.
    const SIZE: usize = 48 << 20;
    let chunks =
        (0..SIZE / (1 << 20)).map(|i| Ok::<_, std::io::Error>(Bytes::from(vec![i as u8; 1 << 20])));
    let mut expected = Sha256::new();
    for i in 0..SIZE / (1 << 20) {
        expected.update(vec![i as u8; 1 << 20]);
    }
    let resp = srv
        .post("/drapi/stream")
        .header("authorization", api_key(&key))
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut got = Sha256::new();
    let mut len = 0;
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        len += chunk.len();
        got.update(&chunk);
    }
    assert_eq!(len, SIZE);
    assert_eq!(got.finalize(), expected.finalize());
    srv.stop().await;
}

fn tokio_stream_of<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn permissions_are_per_service_and_operation() {
    let up = upstream().await;
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let url = up.clone();
        let srv = TestServer::start_with(backend, move |c| {
            c.services.docreader.enabled = true;
            c.services.docreader.url = url.clone();
            c.services.faceapi.enabled = true;
            c.services.faceapi.url = url;
        })
        .await;
        let reader = srv.key(&["docreader:read"]).await;
        let sessions = srv.key(&["session:read", "session:write"]).await;
        let status = |r: reqwest::Response| r.status().as_u16();
        let call = |method: &str, path: &str, key: Option<&str>| {
            let mut rb = srv
                .client
                .request(method.parse().unwrap(), format!("{}{path}", srv.url));
            if let Some(k) = key {
                rb = rb.header("authorization", api_key(k));
            }
            rb.send()
        };
        assert_eq!(
            status(call("GET", "/drapi/echo/x", Some(&reader)).await.unwrap()),
            201
        );
        let (st, code, body) =
            error_of(call("POST", "/drapi/echo/x", Some(&reader)).await.unwrap()).await;
        assert_eq!((st, code.as_str()), (403, "forbidden"), "{body}");
        assert!(body.to_string().contains("docreader:write"), "{body}");
        let (st, code, _) =
            error_of(call("GET", "/faceapi/echo/x", Some(&reader)).await.unwrap()).await;
        assert_eq!((st, code.as_str()), (403, "forbidden"));
        let (st, code, _) =
            error_of(call("GET", "/drapi/echo/x", Some(&sessions)).await.unwrap()).await;
        assert_eq!((st, code.as_str()), (403, "forbidden"));
        let (st, code, _) = error_of(call("GET", "/drapi/echo/x", None).await.unwrap()).await;
        assert_eq!((st, code.as_str()), (401, "missing_credentials"));

        // The built-in device role, as the SDKs use it, reaches both services.
        let r = srv
            .admin(srv.post("/api/security/users"))
            .json(&json!({"name": "phone", "password": "a long device password", "roles": ["device"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        for path in ["/drapi/echo/api/process", "/faceapi/echo/api/match"] {
            let r = srv
                .post(path)
                .basic_auth("phone", Some("a long device password"))
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201, "{path}");
        }
        srv.stop().await;
    }
}

#[tokio::test]
async fn switched_off_failing_and_slow_services_answer_clear_errors() {
    // Off by default.
    let srv = TestServer::start(Backend::Sqlite).await;
    let r = srv.admin(srv.get("/drapi/api/ping")).send().await.unwrap();
    let (st, code, body) = error_of(r).await;
    assert_eq!((st, code.as_str()), (503, "gateway_disabled"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("services.docreader.enabled: true"),
        "{body}"
    );
    srv.stop().await;

    // Enabled without a URL.
    let srv = TestServer::start_with(Backend::Sqlite, |c| c.services.faceapi.enabled = true).await;
    let (st, code, _) = error_of(
        srv.admin(srv.get("/faceapi/api/ping"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, code.as_str()), (503, "gateway_disabled"));
    srv.stop().await;

    // Nothing listens there.
    let srv = with_docreader(Backend::Sqlite, "http://127.0.0.1:1").await;
    let (st, code, body) =
        error_of(srv.admin(srv.get("/drapi/api/ping")).send().await.unwrap()).await;
    assert_eq!((st, code.as_str()), (502, "bad_gateway"));
    assert!(
        body.to_string().contains("services.docreader.url"),
        "{body}"
    );
    srv.stop().await;

    // Slower than services.api.timeout.
    let up = upstream().await;
    let url = up.clone();
    let srv = TestServer::start_with(Backend::Sqlite, move |c| {
        c.services.docreader.enabled = true;
        c.services.docreader.url = url;
        c.services.api.timeout = 1;
    })
    .await;
    let started = std::time::Instant::now();
    let (st, code, _) = error_of(srv.admin(srv.get("/drapi/slow")).send().await.unwrap()).await;
    assert_eq!((st, code.as_str()), (504, "gateway_timeout"));
    // The service answers after 20 s: only the 1 s timeout explains an answer well before.
    assert!(started.elapsed() < Duration::from_secs(15));
    srv.stop().await;

    // Request bodies over services.api.maxBodySize: announced, or found out while streaming.
    let url = up.clone();
    let srv = TestServer::start_with(Backend::Sqlite, move |c| {
        c.services.docreader.enabled = true;
        c.services.docreader.url = url;
        c.services.api.max_body_size = idv_server::config::ByteSize(1 << 20);
    })
    .await;
    let r = srv
        .admin(srv.post("/drapi/count"))
        .body(vec![0u8; 2 << 20])
        .send()
        .await
        .unwrap();
    let (st, code, _) = error_of(r).await;
    assert_eq!((st, code.as_str()), (413, "payload_too_large"));
    let chunks = (0..4).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![1u8; 512 << 10])));
    let r = srv
        .admin(srv.post("/drapi/count"))
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    let (st, code, _) = error_of(r).await;
    assert_eq!((st, code.as_str()), (413, "payload_too_large"));
    // Under the limit it passes.
    let r = srv
        .admin(srv.post("/drapi/count"))
        .body(vec![0u8; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "1000");
    srv.stop().await;
}

#[tokio::test]
async fn the_gateway_answers_at_the_configured_prefix() {
    let up = upstream().await;
    let srv = TestServer::start_with(Backend::Sqlite, move |c| {
        c.services.docreader.enabled = true;
        c.services.docreader.url = up;
        c.services.docreader.prefix = "docreader".into();
    })
    .await;
    let r = srv
        .admin(srv.get("/docreader/echo/a?b=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let seen: Value = r.json().await.unwrap();
    assert_eq!(
        (seen["path"].as_str(), seen["query"].as_str()),
        (Some("/echo/a"), Some("b=1"))
    );
    assert_eq!(seen["headers"]["x-forwarded-prefix"], "/docreader");
    let (st, code, _) = error_of(srv.admin(srv.get("/drapi/echo/a")).send().await.unwrap()).await;
    assert_eq!((st, code.as_str()), (404, "route_not_found"));
    // The gateways are in the API description.
    let doc: Value = srv.get("/api/openapi.json").send_json().await;
    let get = &doc["paths"]["/drapi/{path}"]["get"];
    assert_eq!(get["x-permissions-any-of"], json!(["docreader:read"]));
    assert_eq!(
        doc["paths"]["/faceapi/{path}"]["post"]["x-permissions-any-of"],
        json!(["faceapi:write"])
    );
    srv.stop().await;
}
