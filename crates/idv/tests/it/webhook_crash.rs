//! Webhook delivery across real `idv serve` processes: one killed with SIGKILL while deliveries
//! are in flight and started again on the same data delivers every event, sending again only
//! what was in flight (with the same webhook-id and bytes); two processes on one PostgreSQL
//! database deliver every event exactly once between them.

use crate::receiver;
use crate::support;

use receiver::{Answer, Hit, Receiver, wait_for};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;
use support::{PgDatabase, Serve};

const WF_ID: &str = support::FORM_WORKFLOW_ID;
const WORKFLOW: &str = support::FORM_WORKFLOW;

/// Starts `idv serve` with a short lease, quick retries and private addresses allowed (the
/// receiver is on 127.0.0.1).
fn serve(dir: &Path, database: &str, log: &str) -> Serve {
    support::serve(
        dir,
        database,
        log,
        &[
            ("IDV_CONFIG__OUTBOUND__ALLOWPRIVATEADDRESSES", "true"),
            ("IDV_CONFIG__SERVICES__WEBHOOKS__LEASE", "3"),
            ("IDV_CONFIG__SERVICES__WEBHOOKS__TIMEOUT", "2"),
            ("IDV_CONFIG__SERVICES__WEBHOOKS__RETRYBASE", "100"),
            ("IDV_CONFIG__SERVICES__WEBHOOKS__POLLINTERVAL", "100"),
        ],
    )
}

impl Serve {
    async fn json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self.req(method, path);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    /// An endpoint for every event to the receiver, which learns its secret.
    async fn hook(&self, rx: &Receiver) -> String {
        let made = self
            .json(
                reqwest::Method::POST,
                "/api/webhooks",
                Some(json!({"url": rx.url(), "events": ["*"]})),
            )
            .await;
        rx.set_secret(made["secret"].as_str().unwrap());
        made["id"].as_str().unwrap().to_owned()
    }

    async fn start_session(&self) -> String {
        let path = format!("/api/sessions?workflowId={WF_ID}");
        let s = self
            .json(reqwest::Method::POST, &path, Some(json!({})))
            .await;
        s["id"].as_str().unwrap().to_owned()
    }

    async fn submit_form(&self, id: &str) {
        let path = format!("/api/sessions/{id}/step/FORM?type=data");
        self.json(reqwest::Method::POST, &path, Some(json!({"name": "x"})))
            .await;
    }

    async fn log(&self, hook: &str) -> Vec<Value> {
        let path = format!("/api/webhooks/{hook}/deliveries?limit=500");
        self.json(reqwest::Method::GET, &path, None).await["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    async fn all_delivered(&self, hook: &str, secs: u64) -> Vec<Value> {
        wait_for(secs, "every delivery to be delivered", || async {
            self.log(hook)
                .await
                .iter()
                .all(|d| d["state"] == "delivered")
        })
        .await;
        self.log(hook).await
    }
}

/// Every accepted arrival of each webhook-id.
fn by_id(hits: &[Hit]) -> HashMap<String, Vec<Hit>> {
    let mut out: HashMap<String, Vec<Hit>> = HashMap::new();
    for h in hits {
        out.entry(h.webhook_id.clone()).or_default().push(h.clone());
    }
    out
}

/// Per session, the sequences in order of each event's first arrival.
fn first_arrivals(hits: &[Hit]) -> BTreeMap<String, Vec<i64>> {
    let mut seen = HashSet::new();
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for h in hits {
        if seen.insert(h.webhook_id.clone())
            && let Some(s) = &h.session_id
        {
            out.entry(s.clone()).or_default().push(h.sequence);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_delivery_loses_nothing_and_resends_only_what_was_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("idv.db").display());
    let rx = Receiver::start().await;
    // Slow answers: several sends are in flight at any moment.
    rx.answer(Answer {
        status: 200,
        retry_after: None,
        delay: Duration::from_millis(1500),
    });
    let first = serve(dir.path(), &database, "first.log");
    first.ready().await;
    first.load_workflow(WORKFLOW).await;
    let hook = first.hook(&rx).await;
    let mut sessions = vec![];
    for _ in 0..4 {
        let id = first.start_session().await;
        first.submit_form(&id).await;
        sessions.push(id);
    }
    wait_for(60, "sends in flight", || async {
        rx.hits()
            .iter()
            .filter(|h| !h.answered.load(std::sync::atomic::Ordering::SeqCst))
            .count()
            >= 2
    })
    .await;
    drop(first);
    // Taken after the process is gone: these were never answered, so never recorded.
    let before_kill = rx.hits();
    let in_flight: HashSet<String> = before_kill
        .iter()
        .filter(|h| !h.answered.load(std::sync::atomic::Ordering::SeqCst))
        .map(|h| h.webhook_id.clone())
        .collect();
    assert!(!in_flight.is_empty());
    let arrived_before: HashSet<String> =
        before_kill.iter().map(|h| h.webhook_id.clone()).collect();

    rx.answer(Answer::status(200));
    let second = serve(dir.path(), &database, "second.log");
    second.ready().await;
    let log = second.all_delivered(&hook, 60).await;
    assert_eq!(log.len(), sessions.len() * 4, "{log:#?}");
    assert!(rx.bad().is_empty(), "{:?}", rx.bad());

    let hits = rx.hits();
    let arrivals = by_id(&hits);
    for d in &log {
        let id = d["eventId"].as_str().unwrap();
        assert!(arrivals.contains_key(id), "event {id} never arrived");
    }
    for (id, all) in &arrivals {
        if all.len() > 1 {
            assert!(
                arrived_before.contains(id),
                "{id} arrived {} times but was not in flight at the kill",
                all.len()
            );
            assert!(all.iter().all(|h| h.raw == all[0].raw), "{id}: other bytes");
        }
    }
    for id in &in_flight {
        assert!(
            arrivals[id].len() >= 2,
            "{id} was in flight at the kill and must be sent again"
        );
    }
    for (session, sequences) in first_arrivals(&hits) {
        assert_eq!(sequences, [1, 2, 3, 4], "session {session}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_postgres_deliver_each_event_once() {
    let db = PgDatabase::create("idv_hooks").await;
    let database = db.url.clone();
    let dir = tempfile::tempdir().unwrap();

    let rx = Receiver::start().await;
    let a = serve(dir.path(), &database, "a.log");
    a.ready().await;
    // The second starts once the first has migrated the database and made the admin.
    let b = serve(dir.path(), &database, "b.log");
    b.ready().await;
    a.load_workflow(WORKFLOW).await;
    let hook = a.hook(&rx).await;
    let mut sessions = vec![];
    for i in 0..6 {
        let (start, step) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let id = start.start_session().await;
        step.submit_form(&id).await;
        sessions.push(id);
    }
    let log = b.all_delivered(&hook, 60).await;
    assert_eq!(log.len(), sessions.len() * 4);
    assert!(rx.bad().is_empty(), "{:?}", rx.bad());
    let hits = rx.hits();
    let arrivals = by_id(&hits);
    assert_eq!(arrivals.len(), log.len());
    for d in &log {
        let id = d["eventId"].as_str().unwrap();
        assert_eq!(
            arrivals.get(id).map_or(0, Vec::len),
            1,
            "event {id}: every webhook-id exactly once"
        );
        assert_eq!(d["attempts"].as_array().unwrap().len(), 1);
    }
    for (session, sequences) in first_arrivals(&hits) {
        assert_eq!(sequences, [1, 2, 3, 4], "session {session}");
    }
    drop(a);
    drop(b);
    db.drop_now().await;
}
