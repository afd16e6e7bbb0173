//! SIGTERM under load: `idv serve` goes on answering through `services.api.shutdownDelay`
//! (readiness 503, naming shutdown), then closes its listener, finishes what is in flight and
//! exits 0. No request gets a reset connection or a 5xx other than readiness's 503; requests
//! after the listener closed are refused, which is expected and counted apart.

use crate::support::serve;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CLIENTS: usize = 12;

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    ok_after_signal: AtomicUsize,
    refused: AtomicUsize,
    ready_503: AtomicUsize,
    failures: std::sync::Mutex<Vec<String>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_drops_no_request_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("idv.db").display());
    let mut s = serve(
        dir.path(),
        &db,
        "serve.log",
        &[
            ("IDV_CONFIG__SERVICES__API__SHUTDOWNDELAY", "1"),
            ("IDV_CONFIG__SERVICES__API__SHUTDOWNTIMEOUT", "10"),
        ],
    );
    s.ready().await;
    let tally = Arc::new(Tally::default());
    let signalled = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for n in 0..CLIENTS {
        let (url, tally, signalled) = (s.url.clone(), tally.clone(), signalled.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap();
            let paths = ["/api/health", "/api/ready", "/api/openapi.json"];
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut i = n;
            while Instant::now() < deadline {
                i += 1;
                let path = paths[i % paths.len()];
                match http.get(format!("{url}{path}")).send().await {
                    Ok(r) => {
                        // Answered after the signal was sent.
                        let after = signalled.load(Ordering::SeqCst);
                        let status = r.status().as_u16();
                        let body = r.bytes().await;
                        if let Err(e) = body {
                            tally
                                .failures
                                .lock()
                                .unwrap()
                                .push(format!("{path}: body cut: {e:?}"));
                        } else if path == "/api/ready" && status == 503 {
                            let v: Value = serde_json::from_slice(&body.unwrap()).unwrap();
                            if v["failing"] == serde_json::json!(["shutdown"]) && after {
                                tally.ready_503.fetch_add(1, Ordering::SeqCst);
                            } else {
                                tally
                                    .failures
                                    .lock()
                                    .unwrap()
                                    .push(format!("{path}: 503 {v}"));
                            }
                        } else if status >= 500 || !(200..300).contains(&status) {
                            tally
                                .failures
                                .lock()
                                .unwrap()
                                .push(format!("{path}: {status}"));
                        } else {
                            tally.ok.fetch_add(1, Ordering::SeqCst);
                            if after {
                                tally.ok_after_signal.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    }
                    // The listener has closed: refused, as expected; this client is done.
                    Err(e) if e.is_connect() && signalled.load(Ordering::SeqCst) => {
                        tally.refused.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    Err(e) => {
                        tally
                            .failures
                            .lock()
                            .unwrap()
                            .push(format!("{path}: {e:?}"));
                    }
                }
            }
        }));
    }
    // Load first, then the signal in the middle of it.
    let until = Instant::now() + Duration::from_secs(10);
    while tally.ok.load(Ordering::SeqCst) < 200 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = rustix::process::Pid::from_child(&s.child);
    signalled.store(true, Ordering::SeqCst);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let stopped = Instant::now();
    let (status, took) = loop {
        if let Some(status) = s.child.try_wait().unwrap() {
            break (status, stopped.elapsed());
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(20),
            "idv serve did not exit within 20 s of SIGTERM; its log:\n{}",
            s.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for c in clients {
        c.await.unwrap();
    }
    let failures = tally.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} requests failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        s.log_text()
    );
    assert!(
        tally.ok_after_signal.load(Ordering::SeqCst) > 0,
        "requests were answered during the shutdown delay"
    );
    assert!(
        tally.ready_503.load(Ordering::SeqCst) > 0,
        "readiness answered 503 naming shutdown while stopping"
    );
    assert_eq!(
        tally.refused.load(Ordering::SeqCst),
        CLIENTS,
        "every client ends on a refused connection once the listener is closed"
    );
    assert!(
        took >= Duration::from_secs(1),
        "the server served through services.api.shutdownDelay before it exited ({took:?})"
    );
}
