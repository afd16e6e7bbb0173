//! CORS (`services.api.cors`) through real HTTP: preflights answered without credentials and
//! outside the rate limiter, the headers of actual requests, a disallowed origin, and nothing
//! at all when CORS is off. CORS touches no storage, so SQLite alone.

use crate::common;

use common::*;
use idv_server::config::cors::{Cors, List};
use reqwest::Response;

const SHOP: &str = "https://shop.example";

fn list(items: &[&str]) -> List {
    List(items.iter().map(|s| s.to_string()).collect())
}

async fn preflight(srv: &TestServer, path: &str, origin: &str, headers: Option<&str>) -> Response {
    let mut rb = srv
        .client
        .request(reqwest::Method::OPTIONS, format!("{}{path}", srv.url))
        .header("origin", origin)
        .header("access-control-request-method", "POST");
    if let Some(h) = headers {
        rb = rb.header("access-control-request-headers", h);
    }
    rb.send().await.unwrap()
}

fn header<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).map(|v| v.to_str().unwrap())
}

fn no_cors_headers(r: &Response) {
    let cors: Vec<_> = r
        .headers()
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "no CORS header: {cors:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn preflights_and_headers_for_listed_origins() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.services.api.cors = Cors {
            enabled: true,
            origins: list(&[SHOP, "https://other.example"]),
            methods: list(&["GET", "POST"]),
            headers: list(&["Authorization", "Content-Type"]),
            max_age: 600,
        };
        // The strict profile allows two requests a minute: preflights must not count.
        c.rate_limit.enabled = true;
        c.rate_limit.profiles.s.limit = 2;
    })
    .await;

    // A preflight needs no credentials and is answered before routing, on every API path,
    // as often as the browser asks (the login route's strict limit is not touched).
    for path in [
        "/api/auth/login",
        "/api/sessions",
        "/api/workflows/x",
        "/drapi/api/process",
        "/faceapi/api/match",
    ] {
        for _ in 0..3 {
            let r = preflight(&srv, path, SHOP, Some("authorization, content-type")).await;
            assert_eq!(r.status(), 204, "{path}");
            assert_eq!(header(&r, "access-control-allow-origin"), Some(SHOP));
            assert_eq!(
                header(&r, "access-control-allow-methods"),
                Some("GET, POST")
            );
            assert_eq!(
                header(&r, "access-control-allow-headers"),
                Some("Authorization, Content-Type")
            );
            assert_eq!(header(&r, "access-control-max-age"), Some("600"));
            assert_eq!(header(&r, "vary"), Some("Origin"));
            assert!(header(&r, "x-request-id").is_some());
        }
    }
    let r = preflight(&srv, "/api/sessions", "https://other.example", None).await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        Some("https://other.example")
    );

    // A disallowed origin: its preflight is refused with a stable code, and no CORS header.
    let r = preflight(&srv, "/api/sessions", "https://evil.example", None).await;
    no_cors_headers(&r);
    let (st, code, body) = error_of(r).await;
    assert_eq!(
        (st, code.as_str()),
        (403, "cors_origin_not_allowed"),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("services.api.cors.origins")
    );

    // An actual request from an allowed origin: the origin and the exposed headers.
    let r = srv
        .get("/api/health")
        .header("origin", SHOP)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin"), Some(SHOP));
    let exposed = header(&r, "access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "etag",
        "x-request-id",
        "location",
        "retry-after",
        "x-session-id",
        "x-expires-at",
    ] {
        assert!(exposed.split(", ").any(|e| e == h), "{h} in {exposed}");
    }
    assert!(
        r.headers()
            .get_all("vary")
            .iter()
            .any(|v| v.to_str().unwrap().contains("Origin"))
    );
    // Error answers carry them too, so a page can read the error.
    let r = srv
        .get("/api/sessions/0123456789abcdef01234567")
        .header("origin", SHOP)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(header(&r, "access-control-allow-origin"), Some(SHOP));

    // An actual request from another origin: answered, without CORS headers.
    let r = srv
        .get("/api/health")
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    no_cors_headers(&r);
    // Without an Origin (not a browser's cross-origin call): nothing added.
    let r = srv.get("/api/health").send().await.unwrap();
    no_cors_headers(&r);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn any_origin_echoes_the_origin_and_the_requested_headers() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.services.api.cors.enabled = true;
    })
    .await;
    let r = preflight(
        &srv,
        "/api/workflows",
        "https://anywhere.example",
        Some("authorization, x-custom"),
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        Some("https://anywhere.example")
    );
    assert_eq!(
        header(&r, "access-control-allow-headers"),
        Some("authorization, x-custom")
    );
    let methods = header(&r, "access-control-allow-methods").unwrap();
    for m in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        assert!(methods.contains(m), "{methods}");
    }
    assert_eq!(header(&r, "access-control-max-age"), Some("0"));
    let r = srv
        .get("/api/health")
        .header("origin", "https://anywhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        Some("https://anywhere.example")
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn off_adds_nothing() {
    let srv = TestServer::start(Backend::Sqlite).await;
    assert!(!srv.config.services.api.cors.enabled, "off by default");
    let r = preflight(&srv, "/api/sessions", SHOP, Some("authorization")).await;
    no_cors_headers(&r);
    assert_ne!(r.status(), 204, "a preflight is not answered");
    let r = srv
        .get("/api/health")
        .header("origin", SHOP)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    no_cors_headers(&r);
    srv.stop().await;
}
