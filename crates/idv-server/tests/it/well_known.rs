//! The apps' `.well-known` files from the `mobile` config block, through real HTTP: their exact
//! bodies when configured, 404 `mobile_app_not_configured` when not. Public, no storage.

use crate::common;

use common::*;
use serde_json::{Value, json};

const FINGERPRINT: &str = "14:6D:E9:83:C5:73:06:50:D8:EE:B9:95:2F:34:FC:64:16:A0:83:42:E6:1D:BE:A8:8A:04:96:B2:3F:CF:44:E5";

#[tokio::test(flavor = "multi_thread")]
async fn app_files_when_configured() {
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.mobile.apple.bundle_id = "com.example.kyc".into();
        c.mobile.apple.app_id = "ABCDE12345".into();
        c.mobile.android.bundle_id = "com.example.kyc.android".into();
        c.mobile.android.sha256 = vec![FINGERPRINT.into()];
    })
    .await;
    // No credentials: the phone's operating system fetches these.
    let r = srv
        .get("/.well-known/apple-app-site-association")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("content-type").unwrap(), "application/json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"applinks": {"apps": [], "details": [{
            "appID": "ABCDE12345.com.example.kyc",
            "appIDs": ["ABCDE12345.com.example.kyc"],
            "paths": ["/mobile*", "/capture*", "/l/*"],
            "components": [{"/": "/mobile*"}, {"/": "/capture*"}, {"/": "/l/*"}]
        }]}})
    );
    let r = srv
        .get("/.well-known/assetlinks.json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("content-type").unwrap(), "application/json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!([{
            "relation": ["delegate_permission/common.handle_all_urls"],
            "target": {
                "namespace": "android_app",
                "package_name": "com.example.kyc.android",
                "sha256_cert_fingerprints": [FINGERPRINT]
            }
        }])
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn app_files_missing_when_not_configured() {
    // Only the Android app: Apple's file is missing, Android's is there.
    let srv = TestServer::start_with(Backend::Sqlite, |c| {
        c.mobile.android.bundle_id = "com.example.kyc".into();
        c.mobile.android.sha256 = vec![FINGERPRINT.into()];
    })
    .await;
    let (st, code, body) = error_of(
        srv.get("/.well-known/apple-app-site-association")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st, code.as_str()), (404, "mobile_app_not_configured"));
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mobile.apple.bundleId"),
        "{body}"
    );
    let r = srv
        .get("/.well-known/assetlinks.json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    srv.stop().await;

    // Nothing configured (the default): both missing.
    let srv = TestServer::start(Backend::Sqlite).await;
    for path in [
        "/.well-known/apple-app-site-association",
        "/.well-known/assetlinks.json",
    ] {
        let (st, code, _) = error_of(srv.get(path).send().await.unwrap()).await;
        assert_eq!(
            (st, code.as_str()),
            (404, "mobile_app_not_configured"),
            "{path}"
        );
    }
    srv.stop().await;
}
