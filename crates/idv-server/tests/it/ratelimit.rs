//! Rate limits through real HTTP, on SQLite and PostgreSQL: the `RateLimit-*` headers count
//! down, the request over the limit is 429 `rate_limited` with `Retry-After` and the profile
//! named; credentials and client addresses are limited separately (clients connect from
//! 127.0.0.1 to 127.0.0.4), profiles count separately, and health and asset content are exempt.

use crate::common;

use common::*;
use idv_server::ratelimit::{ProfileConfig, Profiles, RateLimitConfig};
use idv_server::scheduler::Period;
use reqwest::Client;
use serde_json::json;
use std::net::IpAddr;

const LIMIT: u64 = 3;

/// A client whose connections come from `ip` (any 127.x address reaches the server).
fn from(ip: &str) -> Client {
    Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

fn limited(c: &mut idv_server::config::Config) {
    let p = ProfileConfig {
        window: Period(60),
        limit: LIMIT,
    };
    c.rate_limit = RateLimitConfig {
        enabled: true,
        profiles: Profiles {
            s: p.clone(),
            m: p.clone(),
            l: p,
        },
    };
}

fn header(r: &reqwest::Response, name: &str) -> Option<u64> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().parse().unwrap())
}

async fn limits(backend: Backend) {
    let srv = TestServer::start_with(backend, limited).await;
    // Keys minted offline, so no request is spent on them.
    let state = srv.state().await;
    let mint = |name: &'static str| {
        let state = state.clone();
        async move {
            idv_server::ops::apikeys::create(
                &state,
                None,
                name,
                None,
                &[
                    "session_all:read".into(),
                    "workflow_all:read".into(),
                    "workflow_all:write".into(),
                ],
            )
            .await
            .unwrap()
            .1
        }
    };
    let (a, b) = (mint("a").await, mint("b").await);
    let get = |client: &Client, key: &str, path: &str| {
        client
            .get(format!("{}{path}", srv.url))
            .header("authorization", format!("ApiKey {key}"))
            .send()
    };

    // Reads (profile l) from 127.0.0.1 with key a: the headers count down, then 429.
    let c1 = from("127.0.0.1");
    for remaining in (0..LIMIT).rev() {
        let r = get(&c1, &a, "/api/workflows").await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "ratelimit-limit"), Some(LIMIT));
        assert_eq!(header(&r, "ratelimit-remaining"), Some(remaining));
        let reset = header(&r, "ratelimit-reset").unwrap();
        assert!((1..=60).contains(&reset), "{reset}");
    }
    let r = get(&c1, &a, "/api/workflows").await.unwrap();
    assert_eq!(r.status(), 429);
    let retry = header(&r, "retry-after").unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(header(&r, "ratelimit-remaining"), Some(0));
    let (_, code, body) = error_of(r).await;
    assert_eq!(code, "rate_limited");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("profile `l`") && msg.contains("3 requests per 1m"),
        "{msg}"
    );

    // Per credential: key a is spent, even from a fresh address.
    let c2 = from("127.0.0.2");
    let r = get(&c2, &a, "/api/workflows").await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(
        error_of(r).await.2["error"]["message"]
            .as_str()
            .unwrap()
            .contains("these credentials")
    );
    // Per address: key b is fresh, but 127.0.0.1 is spent.
    let r = get(&c1, &b, "/api/workflows").await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(
        error_of(r).await.2["error"]["message"]
            .as_str()
            .unwrap()
            .contains("this client address")
    );
    // Key b from 127.0.0.2 (which has counted one refused request of key a) still passes.
    let r = get(&c2, &b, "/api/workflows").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "ratelimit-remaining"),
        Some(1),
        "the tighter of both"
    );

    // Profiles count separately: key a may still write (m) from a fresh address.
    let c3 = from("127.0.0.3");
    let r = c3
        .post(format!("{}/api/workflows", srv.url))
        .header("authorization", format!("ApiKey {a}"))
        .header("content-type", "application/yaml")
        .body(KYC)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // Public routes count per address: logins (s) from 127.0.0.4.
    let c4 = from("127.0.0.4");
    for _ in 0..LIMIT {
        let r = c4
            .post(format!("{}/api/auth/login", srv.url))
            .json(&json!({"username": "admin", "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = c4
        .post(format!("{}/api/auth/login", srv.url))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "even the right password waits");
    assert!(
        error_of(r).await.2["error"]["message"]
            .as_str()
            .unwrap()
            .contains("profile `s`")
    );

    // Exempt: health, readiness, the description, asset content.
    for _ in 0..(LIMIT + 2) {
        for path in ["/api/health", "/api/ready", "/api/openapi.json"] {
            let r = c1.get(format!("{}{path}", srv.url)).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            assert!(r.headers().get("ratelimit-limit").is_none(), "{path}");
        }
        let r = c1
            .get(format!("{}/api/v1/assets/none/content", srv.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert!(r.headers().get("ratelimit-limit").is_none());
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_sqlite() {
    limits(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_postgres() {
    limits(Backend::Postgres).await;
}

async fn defaults_are_regulas_and_off_means_off(backend: Backend) {
    let c = idv_server::config::Config::default();
    assert!(c.rate_limit.enabled);
    assert_eq!(
        (
            c.rate_limit.profiles.s.limit,
            c.rate_limit.profiles.m.limit,
            c.rate_limit.profiles.l.limit
        ),
        (10, 100, 1000)
    );
    assert_eq!(c.rate_limit.profiles.m.window, Period(60));
    // Off (as the test harness sets it): no headers, no limit.
    let srv = TestServer::start(backend).await;
    for _ in 0..12 {
        let r = srv
            .post("/api/auth/login")
            .json(&json!({"username": "x", "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert!(r.headers().get("ratelimit-limit").is_none());
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn defaults_are_regulas_and_off_means_off_sqlite() {
    defaults_are_regulas_and_off_means_off(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn defaults_are_regulas_and_off_means_off_postgres() {
    defaults_are_regulas_and_off_means_off(Backend::Postgres).await;
}

/// Behind a trusted proxy (`services.api.trustedProxies`), each client counts by the address
/// `X-Forwarded-For` names, not as one with the proxy; from any other peer the header is
/// ignored, so a client cannot pick an address to spread its requests over.
#[tokio::test(flavor = "multi_thread")]
async fn clients_behind_a_trusted_proxy_count_by_their_own_address() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        limited(c);
        c.services.api.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let login = |client: Client, forwarded: &'static str| {
        let url = format!("{}/api/auth/login", srv.url);
        async move {
            client
                .post(url)
                .header("x-forwarded-for", forwarded)
                .json(&json!({"username": "admin", "password": "wrong-password"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // Through the proxy: 203.0.113.7 spends its own logins…
    for _ in 0..LIMIT {
        assert_eq!(login(from("127.0.0.1"), "203.0.113.7").await, 401);
    }
    assert_eq!(login(from("127.0.0.1"), "203.0.113.7").await, 429);
    // …and another client through the same proxy is not held back by it. A forged entry
    // left of the proxy's own is not read.
    assert_eq!(login(from("127.0.0.1"), "203.0.113.8").await, 401);
    assert_eq!(
        login(from("127.0.0.1"), "198.51.100.1, 203.0.113.7").await,
        429
    );
    // Not through the proxy: the header is ignored and the connection's address counts.
    for _ in 0..LIMIT {
        assert_eq!(login(from("127.0.0.2"), "203.0.113.9").await, 401);
    }
    assert_eq!(login(from("127.0.0.2"), "203.0.113.10").await, 429);
    assert_eq!(login(from("127.0.0.3"), "203.0.113.7").await, 401);
    srv.stop().await;
}
