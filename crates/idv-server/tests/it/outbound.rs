//! The outbound HTTP client against real local servers: the address check (literal hosts,
//! resolved names, redirects), configured service URLs, the private-address switch, time and
//! size limits.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use bytes::Bytes;
use idv_server::config::Config;
use idv_server::outbound::{Outbound, OutboundError, OutboundRequest};
use std::time::{Duration, Instant};

/// Serves `router` on 127.0.0.1:0 and returns its port.
async fn upstream(router: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    port
}

/// An upstream that echoes, redirects, stalls and answers large bodies.
fn echo_app(redirect_to: Option<String>) -> Router {
    Router::new()
        .route(
            "/echo",
            any(
                |method: axum::http::Method, headers: HeaderMap, body: Bytes| async move {
                    let seen = format!(
                        "{method} {} {}",
                        headers
                            .get("x-test")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-"),
                        String::from_utf8_lossy(&body)
                    );
                    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], seen)
                },
            ),
        )
        .route(
            "/redirect",
            get(move || {
                let to = redirect_to.clone().unwrap_or_default();
                async move { (StatusCode::FOUND, [(header::LOCATION, to)]).into_response() }
            }),
        )
        .route(
            "/loop",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop")]).into_response() }),
        )
        .route(
            "/slow-headers",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            }),
        )
        .route(
            "/slow-body",
            get(|| async {
                let stream = futures::stream::unfold(0u32, |n| async move {
                    if n > 100 {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), n + 1))
                });
                Response::new(Body::from_stream(stream))
            }),
        )
        .route("/big", get(|| async { vec![b'a'; 4096] }))
        .route(
            "/big-chunked",
            get(|| async {
                let chunks = (0..8).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'b'; 512])));
                Response::new(Body::from_stream(futures::stream::iter(chunks)))
            }),
        )
}

fn get_req(url: String) -> OutboundRequest {
    OutboundRequest {
        method: "GET".into(),
        url,
        headers: vec![],
        body: None,
        timeout: Duration::from_secs(5),
    }
}

fn strict() -> Outbound {
    Outbound::with(false, [], 1 << 20).unwrap()
}

#[tokio::test]
async fn loopback_is_refused_by_default_by_literal_and_by_name() {
    let port = upstream(echo_app(None)).await;
    for url in [
        format!("http://127.0.0.1:{port}/echo"),
        format!("http://localhost:{port}/echo"),
        format!("http://[::ffff:127.0.0.1]:{port}/echo"),
    ] {
        let err = strict().send(get_req(url.clone())).await.unwrap_err();
        match &err {
            OutboundError::Refused { reason, .. } => {
                assert!(reason.contains("loopback"), "{url}: {reason}")
            }
            other => panic!("{url}: expected a refusal, got {other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("set outbound.allowPrivateAddresses: true"),
            "{text}"
        );
    }
    // Neither the query string nor credentials appear in the message.
    let err = strict()
        .send(get_req(format!(
            "http://user:pw@127.0.0.1:{port}/echo?token=s3cret"
        )))
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.contains("s3cret") && !err.contains("pw@"), "{err}");
}

#[tokio::test]
async fn configured_service_origin_is_allowed_and_only_it() {
    let port = upstream(echo_app(None)).await;
    let other = upstream(echo_app(None)).await;
    let service = format!("http://127.0.0.1:{port}");
    let out = Outbound::with(false, [service.as_str()], 1 << 20).unwrap();
    let r = out
        .send(OutboundRequest {
            method: "POST".into(),
            url: format!("{service}/echo?x=1"),
            headers: vec![("X-Test".into(), "hello".into())],
            body: Some(Bytes::from_static(b"payload")),
            timeout: Duration::from_secs(5),
        })
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some("text/plain; charset=utf-8"));
    assert_eq!(&r.body[..], b"POST hello payload");
    // The same host on another port is not the service.
    let err = out
        .send(get_req(format!("http://127.0.0.1:{other}/echo")))
        .await
        .unwrap_err();
    assert!(matches!(err, OutboundError::Refused { .. }), "{err:?}");

    // A service named by host name: the name resolves to loopback and is still allowed.
    let named = format!("http://localhost:{port}");
    let out = Outbound::with(false, [named.as_str()], 1 << 20).unwrap();
    let r = out.send(get_req(format!("{named}/echo"))).await.unwrap();
    assert_eq!(&r.body[..], b"GET - ");
    // ... but not at another port of that name.
    let err = out
        .send(get_req(format!("http://localhost:{other}/echo")))
        .await
        .unwrap_err();
    assert!(matches!(err, OutboundError::Refused { .. }), "{err:?}");

    // From the configuration: services.docreader.url.
    let mut config = Config::default();
    config.services.docreader.url = format!("{service}/");
    let out = Outbound::new(&config).unwrap();
    assert!(out.send(get_req(format!("{service}/echo"))).await.is_ok());
    assert!(
        out.send(get_req(format!("http://127.0.0.1:{other}/echo")))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn allow_private_addresses_opens_everything() {
    let port = upstream(echo_app(None)).await;
    let mut config = Config::default();
    config.outbound.allow_private_addresses = true;
    let out = Outbound::new(&config).unwrap();
    for url in [
        format!("http://127.0.0.1:{port}/echo"),
        format!("http://localhost:{port}/echo"),
    ] {
        let r = out.send(get_req(url)).await.unwrap();
        assert_eq!(r.status, 200);
    }
    // Still only http and https.
    let err = out
        .send(get_req("file:///etc/passwd".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, OutboundError::InvalidUrl { .. }), "{err:?}");
    assert!(err.to_string().contains("use http or https"), "{err}");
}

#[tokio::test]
async fn redirect_from_an_allowed_server_to_loopback_is_refused() {
    let target = upstream(echo_app(None)).await;
    for to in [
        format!("http://127.0.0.1:{target}/echo"),
        format!("http://localhost:{target}/echo"),
        format!("http://[::1]:{target}/echo"),
        "ftp://example.com/file".to_string(),
    ] {
        let port = upstream(echo_app(Some(to.clone()))).await;
        let service = format!("http://127.0.0.1:{port}");
        let out = Outbound::with(false, [service.as_str()], 1 << 20).unwrap();
        let err = out
            .send(get_req(format!("{service}/redirect")))
            .await
            .unwrap_err();
        match &err {
            OutboundError::Refused { url, reason } => {
                assert!(url.ends_with("/redirect"), "{url}");
                assert!(reason.contains("redirected to"), "{to}: {reason}");
                assert!(
                    reason.contains("loopback") || reason.contains("scheme"),
                    "{to}: {reason}"
                );
            }
            other => panic!("{to}: expected a refusal, got {other:?}"),
        }
    }
    // With private addresses allowed the same redirect is followed.
    let port = upstream(echo_app(Some(format!("http://127.0.0.1:{target}/echo")))).await;
    let out = Outbound::with(true, [], 1 << 20).unwrap();
    let r = out
        .send(get_req(format!("http://127.0.0.1:{port}/redirect")))
        .await
        .unwrap();
    assert_eq!(&r.body[..], b"GET - ");
    // A redirect loop ends.
    let err = out
        .send(get_req(format!("http://127.0.0.1:{port}/loop")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, OutboundError::TooManyRedirects { max: 5, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_timeout_bounds_headers_and_body() {
    let port = upstream(echo_app(None)).await;
    let out = Outbound::with(true, [], 1 << 20).unwrap();
    for path in ["/slow-headers", "/slow-body"] {
        let started = Instant::now();
        let err = out
            .send(OutboundRequest {
                timeout: Duration::from_millis(400),
                ..get_req(format!("http://127.0.0.1:{port}{path}"))
            })
            .await
            .unwrap_err();
        assert_eq!(err, OutboundError::Timeout, "{path}");
        let took = started.elapsed();
        assert!(
            // The server answers after 10 s: anything well under that is the timeout's doing.
            took >= Duration::from_millis(350) && took < Duration::from_secs(8),
            "{path} took {took:?}"
        );
    }
}

#[tokio::test]
async fn large_responses_are_an_error() {
    let port = upstream(echo_app(None)).await;
    let out = Outbound::with(true, [], 1024).unwrap();
    for path in ["/big", "/big-chunked"] {
        let err = out
            .send(get_req(format!("http://127.0.0.1:{port}{path}")))
            .await
            .unwrap_err();
        assert!(
            matches!(err, OutboundError::TooLarge { limit: 1024, .. }),
            "{path}: {err:?}"
        );
    }
    let out = Outbound::with(true, [], 4096).unwrap();
    let r = out
        .send(get_req(format!("http://127.0.0.1:{port}/big")))
        .await
        .unwrap();
    assert_eq!(r.body.len(), 4096);
}

#[tokio::test]
async fn bad_requests_say_what_is_wrong() {
    // Checked before any connection is made.
    let out = Outbound::with(true, [], 1024).unwrap();
    let err = out.send(get_req("not a url".into())).await.unwrap_err();
    assert!(matches!(err, OutboundError::InvalidUrl { .. }), "{err:?}");
    let err = out
        .send(OutboundRequest {
            method: "GE T".into(),
            ..get_req("http://127.0.0.1:1/".into())
        })
        .await
        .unwrap_err();
    assert!(matches!(err, OutboundError::InvalidRequest(_)), "{err:?}");
    let err = out
        .send(OutboundRequest {
            headers: vec![("X-Bad".into(), "a\nb".into())],
            ..get_req("http://127.0.0.1:1/".into())
        })
        .await
        .unwrap_err();
    assert!(matches!(err, OutboundError::InvalidRequest(_)), "{err:?}");
    // Nothing listens on port 1 of loopback: a transport error that names the URL.
    let err = out
        .send(get_req("http://127.0.0.1:1/x".into()))
        .await
        .unwrap_err();
    match err {
        OutboundError::Transport(m) => assert!(m.contains("http://127.0.0.1:1/x"), "{m}"),
        other => panic!("expected a transport error, got {other:?}"),
    }
}
