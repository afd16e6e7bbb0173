//! Reloading the workflows and localization folders: `POST /api/workflows/reload` and the
//! scheduler's `reloadWorkflows` job, on SQLite and PostgreSQL. An edited file becomes a new
//! revision that new sessions use while running ones keep theirs; a broken or removed file
//! changes nothing stored.

use crate::common;

use common::*;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

/// A server whose workflows folder holds the example KYC (and its localization); `cron` is
/// the `reloadWorkflows` schedule (empty: the job is off, so only the API reloads).
async fn server_with_folder(backend: Backend, cron: &str) -> TestServer {
    let cron = cron.to_string();
    TestServer::start_with(backend, move |config| {
        let data = PathBuf::from(&config.storage.fs.path);
        std::fs::create_dir_all(data.join("workflows")).unwrap();
        std::fs::create_dir_all(data.join("localization")).unwrap();
        std::fs::write(data.join("workflows/kyc.yaml"), KYC).unwrap();
        std::fs::write(data.join("localization/kyc_locale.yaml"), KYC_LOCALE).unwrap();
        config
            .services
            .scheduler
            .jobs
            .get_mut("reloadWorkflows")
            .unwrap()
            .cron = cron;
    })
    .await
}

fn workflow_file(srv: &TestServer) -> PathBuf {
    srv.data_dir().join("workflows/kyc.yaml")
}

/// The example KYC renamed, with ONBOARDING's "Agreed to start" leading to ABORT.
fn edited() -> String {
    KYC.replacen("name: Example KYC", "name: Example KYC v2", 1)
        .replacen("step: PERSONAL_DETAILS", "step: ABORT", 1)
}

async fn reload(srv: &TestServer) -> Value {
    let r = srv
        .admin(srv.post("/api/workflows/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn current(srv: &TestServer) -> Value {
    srv.admin(srv.get(&format!("/api/workflows/{KYC_ID}")))
        .send_json()
        .await
}

/// Submits `{continue: true}` to ONBOARDING and answers the step the session moved to.
async fn continue_onboarding(srv: &TestServer, auth: &str, id: &str) -> String {
    let r = srv
        .submit(auth, id, "ONBOARDING", json!({"continue": true}))
        .await;
    assert_eq!(r.status(), 200);
    srv.session(auth, id).await["currentStep"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn edits_apply_and_running_sessions_keep_their_revision(backend: Backend) {
    let srv = server_with_folder(backend, "").await;
    assert_eq!(current(&srv).await["revision"], 1);
    let key = srv.key(&["session_all:read", "session_all:write"]).await;
    let auth = format!("ApiKey {key}");
    let before = srv.start_session(&key, json!({})).await;
    let before = before["id"].as_str().unwrap().to_string();

    // Nothing changed: nothing stored.
    let summary = reload(&srv).await;
    assert_eq!(
        summary,
        json!({
            "workflows": [{"file": "workflows/kyc.yaml", "id": KYC_ID, "revision": 1, "changed": false}],
            "translations": [{"file": "localization/kyc_locale.yaml", "entries": 38}],
            "problems": []
        })
    );

    std::fs::write(workflow_file(&srv), edited()).unwrap();
    let summary = reload(&srv).await;
    assert_eq!(
        summary["workflows"],
        json!([{"file": "workflows/kyc.yaml", "id": KYC_ID, "revision": 2, "changed": true}])
    );
    let now = current(&srv).await;
    assert_eq!(
        (now["revision"].clone(), now["name"].clone()),
        (json!(2), json!("Example KYC v2"))
    );

    // A new session runs revision 2; the one started before still runs revision 1.
    let after = srv.start_session(&key, json!({})).await;
    assert_eq!(after["workflow"]["name"], "Example KYC v2");
    let after = after["id"].as_str().unwrap().to_string();
    assert_eq!(continue_onboarding(&srv, &auth, &after).await, "ABORT");
    assert_eq!(
        continue_onboarding(&srv, &auth, &before).await,
        "PERSONAL_DETAILS"
    );

    // A broken file is reported with its problems and lines; revision 2 stays.
    let broken = edited().replacen("type: int", "type: integer", 1);
    std::fs::write(workflow_file(&srv), &broken).unwrap();
    let summary = reload(&srv).await;
    assert_eq!(summary["workflows"], json!([]), "{summary}");
    let refused = &summary["problems"][0];
    assert_eq!(refused["file"], "workflows/kyc.yaml");
    let line = broken
        .lines()
        .position(|l| l.contains("type: integer"))
        .unwrap()
        + 1;
    assert_eq!(refused["problems"][0]["line"], line, "{summary}");
    assert!(
        refused["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("integer"),
        "{summary}"
    );
    assert_eq!(current(&srv).await["revision"], 2);
    let s = srv.start_session(&key, json!({})).await;
    assert_eq!(s["workflow"]["name"], "Example KYC v2");

    // A removed file deletes nothing.
    std::fs::remove_file(workflow_file(&srv)).unwrap();
    let summary = reload(&srv).await;
    assert_eq!(
        (summary["workflows"].clone(), summary["problems"].clone()),
        (json!([]), json!([]))
    );
    assert_eq!(current(&srv).await["revision"], 2);
    srv.stop().await;
}

#[tokio::test]
async fn edits_apply_and_running_sessions_keep_their_revision_sqlite() {
    edits_apply_and_running_sessions_keep_their_revision(Backend::Sqlite).await;
}

#[tokio::test]
async fn edits_apply_and_running_sessions_keep_their_revision_postgres() {
    edits_apply_and_running_sessions_keep_their_revision(Backend::Postgres).await;
}

#[tokio::test]
async fn reloading_needs_the_workflow_reload_permission() {
    let srv = server_with_folder(Backend::Sqlite, "").await;
    std::fs::write(workflow_file(&srv), edited()).unwrap();
    let without = srv.key(&["workflow_all:write", "workflow_all:read"]).await;
    let r = srv
        .post("/api/workflows/reload")
        .header("authorization", format!("ApiKey {without}"))
        .send()
        .await
        .unwrap();
    let (status, code, body) = error_of(r).await;
    assert_eq!((status, code.as_str()), (403, "forbidden"), "{body}");
    assert!(body.to_string().contains("workflow_reload:write"), "{body}");
    let r = srv.post("/api/workflows/reload").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(current(&srv).await["revision"], 1, "nothing was reloaded");

    let with = srv.key(&["workflow_reload:write"]).await;
    let r = srv
        .post("/api/workflows/reload")
        .header("authorization", format!("ApiKey {with}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(current(&srv).await["revision"], 2);
    srv.stop().await;
}

#[tokio::test]
async fn the_scheduled_job_picks_up_an_edit_by_itself() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let srv = server_with_folder(backend, "* * * * * *").await;
        assert_eq!(current(&srv).await["revision"], 1);
        std::fs::write(workflow_file(&srv), edited()).unwrap();
        let mut revision = Value::Null;
        for _ in 0..600 {
            revision = current(&srv).await["revision"].clone();
            if revision == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(revision, 2, "{backend:?}: the job ran within 60 s");
        assert_eq!(current(&srv).await["name"], "Example KYC v2");
        // And a broken edit after it leaves revision 2 in place.
        std::fs::write(workflow_file(&srv), "id: broken\nsteps: [\n").unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(current(&srv).await["revision"], 2);
        srv.stop().await;
    }
}
