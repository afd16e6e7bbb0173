//! Webhook delivery end to end: session changes reach a real receiver that verifies every
//! request with the independent `standardwebhooks` crate, in sequence order per session, none
//! lost while the receiver is down; 410 and a day of failures disable the endpoint; Retry-After
//! is honoured; retry, replay and test re-send with the same webhook-id; the delivery log shows
//! every attempt; a refused private address is logged as such.

use crate::common;
use crate::support::delivery;
use crate::support::receiver;

use common::*;
use delivery::*;
use receiver::{Answer, Receiver, wait_for};
use serde_json::{Value, json};
use std::time::Duration;

async fn every_event_arrives_in_order(backend: Backend) {
    let s = server(backend, |_| {}).await;
    let rx = Receiver::start().await;
    let key: Value = s.get("/api/webhooks/signing-key").send_json().await;
    rx.set_public_key(key["publicKey"].as_str().unwrap());
    let id = hook(&s, &rx, json!({"ed25519": true})).await;
    let mut sessions = vec![];
    for _ in 0..3 {
        sessions.push(start_session(&s).await);
    }
    for sid in &sessions {
        submit_form(&s, sid).await;
    }
    let delivered = all_delivered(&s, &id, 60).await;
    assert_eq!(delivered.len(), 3 * 4, "{delivered:#?}");
    assert!(rx.bad().is_empty(), "{:?}", rx.bad());
    let got = arrivals(&rx);
    assert_eq!(got.len(), 3);
    for sid in &sessions {
        let seen = &got[sid];
        let sequences: Vec<i64> = seen.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            sequences,
            [1, 2, 3, 4],
            "session {sid}: in order, once each"
        );
        let kinds: Vec<&str> = seen.iter().map(|(_, k)| k.as_str()).collect();
        assert_eq!(kinds[0], "session.created");
        assert_eq!(kinds[1], "session.step_completed");
        assert!(kinds.contains(&"session.status_changed"), "{kinds:?}");
        assert!(kinds.contains(&"session.completed"), "{kinds:?}");
    }
    // Every logged event arrived, and the log shows the attempt.
    let ids: Vec<String> = rx.accepted().iter().map(|h| h.webhook_id.clone()).collect();
    for d in &delivered {
        assert!(ids.contains(&d["eventId"].as_str().unwrap().to_owned()));
        let attempts = d["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1, "{d}");
        assert_eq!(attempts[0]["statusCode"], 200);
        assert_eq!(attempts[0]["response"], "answered 200");
        assert!(attempts[0]["latencyMs"].as_i64().unwrap() >= 0);
        assert_eq!(attempts[0]["error"], Value::Null);
        assert!(ms(&attempts[0]["at"]) >= ms(&d["createdAt"]));
        assert_eq!(d["nextAttemptAt"], Value::Null);
        assert!(ms(&d["deadline"]) > ms(&d["createdAt"]));
    }
    // Paging: `next` continues where a page ends.
    let page: Value = s
        .admin(s.get(&format!("/api/webhooks/{id}/deliveries?limit=5")))
        .send_json()
        .await;
    let next = page["next"].as_str().unwrap();
    let rest: Value = s
        .admin(s.get(&format!(
            "/api/webhooks/{id}/deliveries?limit=500&before={next}"
        )))
        .send_json()
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 12 - 5);
    assert_eq!(rest["next"], Value::Null);
    s.stop().await;
}

#[tokio::test]
async fn every_event_arrives_verified_and_in_order_sqlite() {
    every_event_arrives_in_order(Backend::Sqlite).await;
}

#[tokio::test]
async fn every_event_arrives_verified_and_in_order_postgres() {
    every_event_arrives_in_order(Backend::Postgres).await;
}

#[tokio::test]
async fn nothing_is_lost_while_the_receiver_is_down() {
    let s = server(Backend::Sqlite, |_| {}).await;
    let rx = Receiver::reserve();
    let id = hook(&s, &rx, json!({})).await;
    let mut sessions = vec![];
    for _ in 0..3 {
        sessions.push(start_session(&s).await);
    }
    for sid in &sessions {
        submit_form(&s, sid).await;
    }
    // Each session's first event has been tried and refused at least twice.
    wait_for(60, "failed attempts while down", || async {
        let log = log(&s, &id).await;
        let failing = log
            .iter()
            .filter(|d| d["attempts"].as_array().unwrap().len() >= 2)
            .count();
        failing >= sessions.len()
    })
    .await;
    let log_now = log(&s, &id).await;
    let failed = log_now
        .iter()
        .find(|d| !d["attempts"].as_array().unwrap().is_empty())
        .unwrap();
    let attempt = &failed["attempts"][0];
    assert_eq!(attempt["statusCode"], Value::Null);
    let error = attempt["error"].as_str().unwrap();
    assert!(error.contains(&rx.port.to_string()), "{error}");
    assert_eq!(failed["state"], "pending");
    assert!(failed["nextAttemptAt"].is_string());
    // No later event of a session went before its first.
    assert!(
        log_now
            .iter()
            .filter(|d| d["sequence"] != 1)
            .all(|d| d["attempts"].as_array().unwrap().is_empty())
    );
    assert_eq!(rx.requests(), 0);
    rx.listen().await;
    let delivered = all_delivered(&s, &id, 60).await;
    assert_eq!(delivered.len(), 12);
    let got = arrivals(&rx);
    for sid in &sessions {
        let sequences: Vec<i64> = got[sid].iter().map(|(n, _)| *n).collect();
        assert_eq!(sequences, [1, 2, 3, 4], "session {sid}");
    }
    assert!(rx.bad().is_empty(), "{:?}", rx.bad());
    s.stop().await;
}

#[tokio::test]
async fn gone_disables_the_endpoint() {
    let s = server(Backend::Sqlite, |_| {}).await;
    // Nothing listens until the session's events are all queued: events that happen while an
    // endpoint is disabled are not queued for it, so a 410 answered before the form's events
    // were written would leave them out (the race this order rules out).
    let rx = Receiver::reserve();
    rx.answer(Answer::status(410));
    let id = hook(&s, &rx, json!({})).await;
    let sid = start_session(&s).await;
    submit_form(&s, &sid).await;
    assert_eq!(log(&s, &id).await.len(), 4);
    rx.listen().await;
    wait_for(60, "the endpoint to be disabled", || async {
        endpoint(&s, &id).await["enabled"] == false
    })
    .await;
    let w = endpoint(&s, &id).await;
    assert_eq!(w["disabledReason"], "the endpoint answered 410 Gone");
    assert!(w["disabledAt"].is_string());
    let log = log(&s, &id).await;
    let first = log.iter().find(|d| d["sequence"] == 1).unwrap();
    assert_eq!(first["state"], "failed");
    // Refused connections first, then the 410 that ended it.
    let attempts = first["attempts"].as_array().unwrap();
    let (last, before) = attempts.split_last().unwrap();
    assert_eq!(last["statusCode"], 410, "{attempts:?}");
    assert!(
        before.iter().all(|a| a["statusCode"].is_null()),
        "{attempts:?}"
    );
    // The rest waits for the endpoint to be enabled again.
    assert!(
        log.iter()
            .filter(|d| d["sequence"] != 1)
            .all(|d| d["state"] == "pending")
    );
    assert_eq!(rx.requests(), 1);
    let audit: Value = s
        .admin(s.get(&format!("/api/audit?action=webhook.disabled&target={id}")))
        .send_json()
        .await;
    let entry = &audit["items"][0];
    assert_eq!(entry["details"]["reason"], "the endpoint answered 410 Gone");
    assert_eq!(entry["actor"]["kind"], "system");
    // Enabled again, the rest is delivered.
    rx.answer(Answer::status(200));
    let r = s
        .admin(s.patch(&format!("/api/webhooks/{id}")))
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_for(60, "the rest of the session's events", || async {
        rx.accepted().len() == 3
    })
    .await;
    s.stop().await;
}

#[tokio::test]
async fn a_day_of_failures_disables_the_endpoint() {
    let s = server(Backend::Sqlite, |_| {}).await;
    let rx = Receiver::reserve();
    let id = hook(&s, &rx, json!({})).await;
    start_session(&s).await;
    wait_for(60, "a failed attempt", || async {
        log(&s, &id).await[0]["attempts"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    })
    .await;
    assert_eq!(endpoint(&s, &id).await["enabled"], true);
    // A day and an hour later the next failure disables it.
    s.clock.advance(25 * 3600 * 1000);
    wait_for(60, "the endpoint to be disabled", || async {
        endpoint(&s, &id).await["enabled"] == false
    })
    .await;
    let reason = endpoint(&s, &id).await["disabledReason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.starts_with("failing since ") && reason.ends_with(" for over a day"),
        "{reason}"
    );
    s.stop().await;
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let s = server(Backend::Sqlite, |_| {}).await;
    let rx = Receiver::start().await;
    rx.script([Answer {
        status: 503,
        retry_after: Some("2".into()),
        delay: Duration::ZERO,
    }]);
    let id = hook(&s, &rx, json!({"events": ["session.created"]})).await;
    start_session(&s).await;
    let log = all_delivered(&s, &id, 60).await;
    let attempts = log[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0]["statusCode"], 503);
    assert_eq!(attempts[0]["response"], "answered 503");
    assert_eq!(attempts[1]["statusCode"], 200);
    // retryBase is 100 ms: only the Retry-After explains a 2 s wait.
    let gap = ms(&attempts[1]["at"]) - ms(&attempts[0]["at"]);
    assert!(gap >= 2000, "retried after {gap} ms");
    let hits = rx.hits();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].webhook_id, hits[1].webhook_id);
    s.stop().await;
}

#[tokio::test]
async fn a_slow_answer_times_out_and_is_tried_again() {
    let s = server(Backend::Sqlite, |c| c.services.webhooks.timeout = 1).await;
    let rx = Receiver::start().await;
    rx.script([Answer {
        status: 200,
        retry_after: None,
        delay: Duration::from_millis(2500),
    }]);
    let id = hook(&s, &rx, json!({"events": ["session.created"]})).await;
    start_session(&s).await;
    let log = all_delivered(&s, &id, 60).await;
    let attempts = log[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0]["statusCode"], Value::Null);
    let error = attempts[0]["error"].as_str().unwrap();
    assert!(error.contains("no answer within 1 s"), "{error}");
    assert_eq!(attempts[1]["statusCode"], 200);
    s.stop().await;
}

#[tokio::test]
async fn retry_replay_and_test_send_again_with_the_same_id() {
    let s = server(Backend::Sqlite, |_| {}).await;
    let rx = Receiver::start().await;
    let id = hook(&s, &rx, json!({})).await;
    let sid = start_session(&s).await;
    submit_form(&s, &sid).await;
    let log1 = all_delivered(&s, &id, 60).await;
    assert_eq!(log1.len(), 4);
    let count =
        |rx: &Receiver, wid: &str| rx.accepted().iter().filter(|h| h.webhook_id == wid).count();

    // Retry one: the same event, the same webhook-id, the same bytes.
    let one = &log1[0];
    let (did, eid) = (
        one["id"].as_str().unwrap(),
        one["eventId"].as_str().unwrap(),
    );
    let r = s
        .admin(s.post(&format!("/api/webhooks/{id}/deliveries/{did}/retry")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["id"], did);
    assert_eq!(body["eventId"], eid);
    wait_for(60, "the retried delivery", || async {
        count(&rx, eid) == 2
    })
    .await;
    let both: Vec<_> = rx
        .accepted()
        .into_iter()
        .filter(|h| h.webhook_id == eid)
        .collect();
    assert_eq!(both[0].raw, both[1].raw);

    // Replay everything since the epoch: every session event again, with its own id.
    let before_replay = rx.accepted().len();
    let r = s
        .admin(s.post(&format!("/api/webhooks/{id}/replay?since=0")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await.unwrap()["queued"], 4);
    // The last event's replay arrives last: a replay is in order per session too.
    let replayed = || -> Vec<i64> {
        let mut seqs: Vec<i64> = rx
            .accepted()
            .iter()
            .skip(before_replay)
            .map(|h| h.sequence)
            .collect();
        // Delivery is at least once: a send repeated after a slow answer arrives twice in a row.
        seqs.dedup();
        seqs
    };
    wait_for(60, "the replayed events", || async {
        replayed().contains(&4)
    })
    .await;
    assert_eq!(log(&s, &id).await.len(), 8);
    assert_eq!(replayed(), [1, 2, 3, 4]);
    assert!(
        log1.iter()
            .all(|d| count(&rx, d["eventId"].as_str().unwrap()) >= 2)
    );

    // A test event, for this endpoint alone.
    let r = s
        .admin(s.post(&format!("/api/webhooks/{id}/test")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let t: Value = r.json().await.unwrap();
    let tid = t["eventId"].as_str().unwrap().to_owned();
    assert!(t["deliveryId"].is_string());
    wait_for(60, "the test event", || async { count(&rx, &tid) == 1 }).await;
    let hit = rx
        .accepted()
        .into_iter()
        .find(|h| h.webhook_id == tid)
        .unwrap();
    assert_eq!(hit.kind, "webhook.test");
    assert_eq!(hit.body["data"]["webhookId"], id.as_str());
    assert_eq!(hit.sequence, 0);

    // A delivery being sent cannot be retried; unknown ones are 404.
    rx.answer(Answer {
        status: 200,
        retry_after: None,
        delay: Duration::from_millis(6000),
    });
    let t: Value = s
        .admin(s.post(&format!("/api/webhooks/{id}/test")))
        .send_json()
        .await;
    let slow = t["deliveryId"].as_str().unwrap().to_owned();
    let slow_event = t["eventId"].as_str().unwrap().to_owned();
    wait_for(60, "the slow test event to arrive", || async {
        rx.hits().iter().any(|h| h.webhook_id == slow_event)
    })
    .await;
    let r = s
        .admin(s.post(&format!("/api/webhooks/{id}/deliveries/{slow}/retry")))
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(r).await;
    assert_eq!((status, code.as_str()), (409, "delivery_in_progress"));
    for path in [
        format!("/api/webhooks/{id}/deliveries/999999/retry"),
        format!("/api/webhooks/{id}/deliveries/abc/retry"),
    ] {
        let (status, code, _) = error_of(s.admin(s.post(&path)).send().await.unwrap()).await;
        assert_eq!(
            (status, code.as_str()),
            (404, "delivery_not_found"),
            "{path}"
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn bad_requests_are_named() {
    let s = server(Backend::Sqlite, |_| {}).await;
    let rx = Receiver::start().await;
    let id = hook(&s, &rx, json!({})).await;
    let unknown = "0123456789abcdef01234567";
    for (method, path) in [
        ("GET", format!("/api/webhooks/{unknown}/deliveries")),
        (
            "POST",
            format!("/api/webhooks/{unknown}/deliveries/1/retry"),
        ),
        ("POST", format!("/api/webhooks/{unknown}/replay?since=0")),
        ("POST", format!("/api/webhooks/{unknown}/test")),
    ] {
        let rb = if method == "GET" {
            s.get(&path)
        } else {
            s.post(&path)
        };
        let (status, code, _) = error_of(s.admin(rb).send().await.unwrap()).await;
        assert_eq!(
            (status, code.as_str()),
            (404, "webhook_not_found"),
            "{path}"
        );
    }
    for (path, names) in [
        (format!("/api/webhooks/{id}/replay"), "`since`"),
        (
            format!("/api/webhooks/{id}/replay?since=yesterday"),
            "`since`",
        ),
        (
            format!("/api/webhooks/{id}/replay?since=0&colour=red"),
            "`colour`",
        ),
    ] {
        let (status, code, body) = error_of(s.admin(s.post(&path)).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (400, "invalid_request"), "{path}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(names), "{path}: {message}");
    }
    for (query, names) in [("limit=0", "`limit`"), ("before=x", "`before`")] {
        let path = format!("/api/webhooks/{id}/deliveries?{query}");
        let (status, _, body) = error_of(s.admin(s.get(&path)).send().await.unwrap()).await;
        assert_eq!(status, 400);
        assert!(body["error"]["message"].as_str().unwrap().contains(names));
    }
    // webhook:read may list but not send again.
    let key = s.key(&["webhook:read"]).await;
    let r = s
        .get(&format!("/api/webhooks/{id}/deliveries"))
        .header("authorization", format!("ApiKey {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s
        .post(&format!("/api/webhooks/{id}/test"))
        .header("authorization", format!("ApiKey {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    s.stop().await;
}

#[tokio::test]
async fn a_private_address_is_refused_at_send_time_and_logged() {
    // Private addresses are not allowed; the endpoint got stored anyway (as a name that
    // resolved publicly when saved would be), so the send itself must refuse.
    let s = server(Backend::Sqlite, |c| {
        c.outbound.allow_private_addresses = false
    })
    .await;
    let state = s.state().await;
    let now = idv_core::time::now_ms();
    state
        .store
        .webhook_create(&idv_store::WebhookRecord {
            id: "00000000000000000000beef".into(),
            url: "http://127.0.0.1:9/hook".into(),
            events: vec!["*".into()],
            enabled: true,
            description: None,
            headers: json!({}),
            workflow_ids: vec![],
            secret: idv_server::webhooks::sign::new_secret(),
            previous_secret: None,
            previous_secret_until: None,
            ed25519: false,
            owner_id: None,
            created_at: now,
            updated_at: now,
            failing_since: None,
            disabled_reason: None,
            disabled_at: None,
        })
        .await
        .unwrap();
    start_session(&s).await;
    let id = "00000000000000000000beef";
    wait_for(60, "the refused attempt", || async {
        log(&s, id).await[0]["attempts"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    })
    .await;
    let error = log(&s, id).await[0]["attempts"][0]["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        error.contains("loopback") && error.contains("outbound.allowPrivateAddresses"),
        "{error}"
    );
    s.stop().await;
}
