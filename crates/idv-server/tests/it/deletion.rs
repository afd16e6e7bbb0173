//! Deletion through HTTP and the retention job: `DELETE /api/sessions/{id}` removes the rows
//! and the bytes and leaves a tombstone (410 afterwards), repeats succeed, legal hold blocks
//! it; `cleanSessions` deletes sessions older than `keepFor` (injected clock) and sweeps
//! orphaned bytes after a grace period.

use crate::common;
use idv_store::SessionId;

use common::{Backend, KYC_ID, TestServer, error_of};
use idv_server::ops::deletion;
use idv_server::state::AppState;
use serde_json::{Value, json};
use std::path::PathBuf;

const DAY_MS: i64 = 86_400_000;

struct Env {
    srv: TestServer,
    /// `session_all:read`, `session_all:write`, `session_all:delete`.
    admin_key: String,
    /// `session_all_patch:write`: sets legal holds.
    reviewer: String,
}

/// A server whose `expireSessions` job never runs: the clock moves by weeks here, and an
/// expiry would count as an update of the session.
async fn env_with(backend: Backend, tweak: impl FnOnce(&mut idv_server::config::Config)) -> Env {
    let srv = TestServer::start_with(backend, |c| {
        c.services
            .scheduler
            .jobs
            .get_mut("expireSessions")
            .unwrap()
            .cron = String::new();
        tweak(c);
    })
    .await;
    srv.load_kyc().await;
    let admin_key = format!(
        "ApiKey {}",
        srv.key(&[
            "session_all:read",
            "session_all:write",
            "session_all:delete"
        ])
        .await
    );
    let reviewer = format!(
        "ApiKey {}",
        srv.key(&["session_all:read", "session_all_patch:write"])
            .await
    );
    Env {
        srv,
        admin_key,
        reviewer,
    }
}

async fn env(backend: Backend) -> Env {
    // cleanSessions runs when a test says so.
    env_with(backend, |c| {
        c.services
            .scheduler
            .jobs
            .get_mut("cleanSessions")
            .unwrap()
            .cron = String::new();
    })
    .await
}

impl Env {
    async fn start_as(&self, auth: &str) -> String {
        let r = self
            .srv
            .post(&format!("/api/sessions?workflowId={KYC_ID}"))
            .header("authorization", auth)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A session with an uploaded file. Returns the id and the path of the uploaded bytes.
    async fn session_with_files(&self) -> (String, PathBuf) {
        let id = self.start_as(&self.admin_key).await;
        let r = self
            .srv
            .post(&format!(
                "/api/sessions/{id}/step/ONBOARDING?type=file&name=passport.jpg"
            ))
            .header("authorization", &self.admin_key)
            .header("content-type", "image/jpeg")
            .body(vec![9u8; 4096])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let file_id = r.json::<Value>().await.unwrap()["files"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = self
            .srv
            .data_dir()
            .join(format!("sessions/{id}/files/{file_id}"));
        assert!(
            path.is_file(),
            "the upload is on disk at {}",
            path.display()
        );
        (id, path)
    }

    async fn delete(&self, auth: &str, id: &str) -> reqwest::Response {
        self.srv
            .delete(&format!("/api/sessions/{id}"))
            .header("authorization", auth)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, id: &str) -> reqwest::Response {
        self.srv
            .get(&format!("/api/sessions/{id}"))
            .header("authorization", &self.admin_key)
            .send()
            .await
            .unwrap()
    }

    async fn hold(&self, id: &str, hold: bool) {
        let r = self
            .srv
            .patch(&format!("/api/sessions/{id}"))
            .header("authorization", &self.reviewer)
            .json(&json!({"legalHold": hold}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    /// A store and file-storage handle on the server's data, on the server's clock.
    async fn state(&self) -> AppState {
        AppState::open_with_clock(
            self.srv.config.clone(),
            self.srv.url.clone(),
            self.srv.clock.clone(),
        )
        .await
        .unwrap()
    }
}

async fn delete_leaves_a_tombstone(backend: Backend) {
    let e = env(backend).await;
    let (id, bytes) = e.session_with_files().await;
    let s: Value = e.get(&id).await.json().await.unwrap();
    let file_url = s["files"][0]["url"].as_str().unwrap().to_owned();
    let state = e.state().await;
    assert_eq!(
        state
            .store
            .file_list(SessionId::new(&id))
            .await
            .unwrap()
            .len(),
        1
    );

    // Without a delete permission: 403, and the session stays.
    let r = e.delete(&e.reviewer, &id).await;
    let (status, code, _) = error_of(r).await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    assert!(bytes.is_file());

    let r = e
        .srv
        .delete(&format!(
            "/api/sessions/{id}?reason=asked%20by%20the%20person"
        ))
        .header("authorization", &e.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // Rows and bytes are gone; the session's folder too.
    assert!(!bytes.exists(), "the bytes are deleted");
    assert!(!e.srv.data_dir().join(format!("sessions/{id}")).exists());
    assert!(
        state
            .store
            .session_get(SessionId::new(&id))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        state
            .store
            .file_list(SessionId::new(&id))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        state
            .store
            .job_list(SessionId::new(&id))
            .await
            .unwrap()
            .is_empty()
    );
    let t = state
        .store
        .tombstone_get(SessionId::new(&id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.workflow_id, KYC_ID);
    assert_eq!(t.status, 0);
    assert_eq!(t.deleted_by.kind, "apikey");
    assert_eq!(t.reason.as_deref(), Some("asked by the person"));

    // Every address of the session answers 410 with the tombstone.
    let (status, code, body) = error_of(e.get(&id).await).await;
    assert_eq!((status, code.as_str()), (410, "session_deleted"), "{body}");
    let details = &body["error"]["details"];
    assert_eq!(details["id"], id);
    assert_eq!(details["deletedAt"], idv_core::time::iso(t.deleted_at));
    assert_eq!(details["deletedBy"]["kind"], "apikey");
    assert_eq!(details["reason"], "asked by the person");
    let r = e
        .srv
        .submit(&e.admin_key, &id, "ONBOARDING", json!({"continue": true}))
        .await;
    assert_eq!(error_of(r).await.1, "session_deleted");
    let r = e
        .srv
        .client
        .get(&file_url)
        .header("authorization", &e.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1, "session_deleted");
    let r = e
        .srv
        .patch(&format!("/api/sessions/{id}"))
        .header("authorization", &e.reviewer)
        .json(&json!({"status": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 410);

    // Again: the same success, the first tombstone unchanged.
    assert_eq!(e.delete(&e.admin_key, &id).await.status(), 204);
    assert_eq!(
        state
            .store
            .tombstone_get(SessionId::new(&id))
            .await
            .unwrap(),
        Some(t)
    );
    // An id that never existed, and one that is no id.
    for unknown in ["0123456789abcdef01234567", "nope"] {
        let (status, code, _) = error_of(e.delete(&e.admin_key, unknown).await).await;
        assert_eq!(
            (status, code.as_str()),
            (404, "session_not_found"),
            "{unknown}"
        );
    }
    e.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_leaves_a_tombstone_sqlite() {
    delete_leaves_a_tombstone(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_leaves_a_tombstone_postgres() {
    delete_leaves_a_tombstone(Backend::Postgres).await;
}

async fn own_sessions_and_legal_hold(backend: Backend) {
    let e = env(backend).await;
    let own_key = format!(
        "ApiKey {}",
        e.srv
            .key(&["session:read", "session:write", "session:delete"])
            .await
    );
    let mine = e.start_as(&own_key).await;
    let (theirs, theirs_bytes) = e.session_with_files().await;

    // session:delete reaches its own sessions; others' look missing, and stay.
    let (status, code, _) = error_of(e.delete(&own_key, &theirs).await).await;
    assert_eq!((status, code.as_str()), (404, "session_not_found"));
    assert!(theirs_bytes.is_file());
    assert_eq!(e.delete(&own_key, &mine).await.status(), 204);
    assert_eq!(
        e.delete(&own_key, &mine).await.status(),
        204,
        "a repeat by the owner succeeds again"
    );
    let r = e
        .srv
        .get(&format!("/api/sessions/{mine}"))
        .header("authorization", &own_key)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 410, "the owner sees its tombstone");

    // Legal hold: 409, and the session and its bytes stay until the hold is lifted.
    e.hold(&theirs, true).await;
    let (status, code, body) = error_of(e.delete(&e.admin_key, &theirs).await).await;
    assert_eq!((status, code.as_str()), (409, "legal_hold"), "{body}");
    assert!(theirs_bytes.is_file());
    let s: Value = e.get(&theirs).await.json().await.unwrap();
    assert_eq!(s["legalHold"], true);
    assert_eq!(s["files"].as_array().unwrap().len(), 1);
    e.hold(&theirs, false).await;
    assert_eq!(e.delete(&e.admin_key, &theirs).await.status(), 204);
    assert!(!theirs_bytes.exists());
    e.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn own_sessions_and_legal_hold_sqlite() {
    own_sessions_and_legal_hold(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn own_sessions_and_legal_hold_postgres() {
    own_sessions_and_legal_hold(Backend::Postgres).await;
}

async fn retention_deletes_old_sessions(backend: Backend) {
    let e = env(backend).await;
    let (old, old_bytes) = e.session_with_files().await;
    let held = e.start_as(&e.admin_key).await;
    e.hold(&held, true).await;
    let reviewed = e.start_as(&e.admin_key).await;
    // 31 days later by the server's clock; one session is reviewed then, one started.
    e.srv.clock.advance(31 * DAY_MS);
    let r = e
        .srv
        .patch(&format!("/api/sessions/{reviewed}"))
        .header("authorization", &e.reviewer)
        .json(&json!({"status": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let fresh = e.start_as(&e.admin_key).await;

    let state = e.state().await;
    let report = deletion::clean_sessions(&state, Some(30 * DAY_MS))
        .await
        .unwrap();
    assert_eq!(report.deleted, 1, "{report:?}");
    let (status, code, body) = error_of(e.get(&old).await).await;
    assert_eq!((status, code.as_str()), (410, "session_deleted"));
    assert_eq!(body["error"]["details"]["deletedBy"]["kind"], "retention");
    assert!(
        body["error"]["details"]["reason"]
            .as_str()
            .unwrap()
            .contains("30d"),
        "{body}"
    );
    assert!(!old_bytes.exists(), "retention removes the bytes");
    for kept in [&held, &reviewed, &fresh] {
        assert_eq!(e.get(kept).await.status(), 200, "{kept} is kept");
    }
    // Nothing more to do; without keepFor nothing is deleted at all.
    assert_eq!(
        deletion::clean_sessions(&state, Some(30 * DAY_MS))
            .await
            .unwrap()
            .deleted,
        0
    );
    e.srv.clock.advance(400 * DAY_MS);
    assert_eq!(
        deletion::clean_sessions(&state, None)
            .await
            .unwrap()
            .deleted,
        0
    );
    assert_eq!(e.get(&fresh).await.status(), 200);
    // The held session outlives everything until its hold is lifted.
    assert_eq!(
        deletion::delete_stale(&state, 30 * DAY_MS).await.unwrap(),
        2
    );
    assert_eq!(e.get(&held).await.status(), 200);
    e.hold(&held, false).await;
    // Lifting the hold is an update: the session counts as fresh again.
    assert_eq!(
        deletion::delete_stale(&state, 30 * DAY_MS).await.unwrap(),
        0
    );
    e.srv.clock.advance(31 * DAY_MS);
    assert_eq!(
        deletion::delete_stale(&state, 30 * DAY_MS).await.unwrap(),
        1
    );
    assert_eq!(error_of(e.get(&held).await).await.0, 410);
    e.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_deletes_old_sessions_sqlite() {
    retention_deletes_old_sessions(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_deletes_old_sessions_postgres() {
    retention_deletes_old_sessions(Backend::Postgres).await;
}

/// The scheduler runs `cleanSessions` with the configured `keepFor`.
async fn the_clean_sessions_job_runs_on_its_schedule(backend: Backend) {
    let e = env_with(backend, |c| {
        let job = c.services.scheduler.jobs.get_mut("cleanSessions").unwrap();
        job.cron = "* * * * * *".into();
        job.keep_for = Some(idv_server::scheduler::Period(30 * 86_400));
    })
    .await;
    let id = e.start_as(&e.admin_key).await;
    e.srv.clock.advance(31 * DAY_MS);
    let mut status = 0;
    for _ in 0..600 {
        status = e.get(&id).await.status().as_u16();
        if status == 410 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 410, "the job deleted the stale session");
    e.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_clean_sessions_job_runs_on_its_schedule_sqlite() {
    the_clean_sessions_job_runs_on_its_schedule(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_clean_sessions_job_runs_on_its_schedule_postgres() {
    the_clean_sessions_job_runs_on_its_schedule(Backend::Postgres).await;
}

async fn orphaned_bytes_are_swept_after_a_grace_period(backend: Backend) {
    let e = env(backend).await;
    let state = e.state().await;
    let (kept, kept_bytes) = e.session_with_files().await;
    // A crash between the row deletion and the bytes: bytes left under a deleted session.
    let (deleted, _) = e.session_with_files().await;
    assert_eq!(e.delete(&e.admin_key, &deleted).await.status(), 204);
    let root = e.srv.data_dir();
    let left_behind = format!("sessions/{deleted}/files/{}", idv_core::ids::new_id());
    // Bytes whose row was never written (a session that never existed).
    let never = format!(
        "sessions/{}/files/{}",
        idv_core::ids::new_id(),
        idv_core::ids::new_id()
    );
    // Something under the prefix that is no session's: not the sweep's to judge.
    let foreign = "sessions/README.txt".to_owned();
    for key in [&left_behind, &never, &foreign] {
        state
            .blobs
            .put_bytes(key, bytes::Bytes::from_static(b"orphan"))
            .await
            .unwrap();
    }

    // Young orphans may be uploads in flight: left alone.
    assert_eq!(
        deletion::sweep_orphans(&state, deletion::ORPHAN_GRACE_MS)
            .await
            .unwrap(),
        0
    );
    assert!(root.join(&left_behind).is_file());
    assert!(root.join(&never).is_file());

    // Past the grace period they go; a live session's bytes and foreign objects stay.
    e.srv.clock.advance(deletion::ORPHAN_GRACE_MS + 60_000);
    let report = deletion::clean_sessions(&state, None).await.unwrap();
    assert_eq!(report.swept, 2, "{report:?}");
    assert_eq!(report.deleted, 0);
    assert!(!root.join(&left_behind).exists());
    assert!(!root.join(&never).exists());
    assert!(!root.join(format!("sessions/{deleted}")).exists());
    assert!(
        kept_bytes.is_file(),
        "a live session's bytes stay, however old"
    );
    assert!(root.join(&foreign).is_file());
    assert_eq!(e.get(&kept).await.status(), 200);
    let r = e
        .srv
        .client
        .get(
            e.get(&kept).await.json::<Value>().await.unwrap()["files"][0]["url"]
                .as_str()
                .unwrap(),
        )
        .header("authorization", &e.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().len(), 4096);
    e.srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn orphaned_bytes_are_swept_after_a_grace_period_sqlite() {
    orphaned_bytes_are_swept_after_a_grace_period(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn orphaned_bytes_are_swept_after_a_grace_period_postgres() {
    orphaned_bytes_are_swept_after_a_grace_period(Backend::Postgres).await;
}
