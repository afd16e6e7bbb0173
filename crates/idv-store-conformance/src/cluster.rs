//! `ClusterStore`: signals reach the listeners of every store on the database, and a
//! leadership is held by one contender at a time, and taken over when its holder goes. Where the
//! adapter serves one process (no listener), every contender leads.

use idv_store::{Heard, Store};
use std::time::Duration;

/// How long a signal or a released lock may take to show (generous: a loaded machine).
const PATIENCE: Duration = Duration::from_secs(20);

/// `a` and `b` are two stores on one database (or the same store twice).
pub async fn check_cluster(a: &dyn Store, b: &dyn Store) {
    a.signal_send("conformance:before")
        .await
        .expect("a signal with no listener is no error");
    let Some(mut heard) = b
        .signal_listen("conformance-b")
        .await
        .expect("signal_listen")
    else {
        assert_eq!(
            a.signal_listeners().await.expect("signal_listeners"),
            Vec::<String>::new(),
            "no listeners where there is nothing to hear"
        );
        // One process on the database: it always leads, whatever else contends.
        let mut x = a.leader_contender("conformance").await.expect("contender");
        let mut y = b.leader_contender("conformance").await.expect("contender");
        assert!(
            x.lead().await.expect("lead"),
            "a single-process store always leads"
        );
        assert!(
            y.lead().await.expect("lead"),
            "a single-process store always leads"
        );
        return;
    };
    let listeners = a.signal_listeners().await.expect("signal_listeners");
    assert_eq!(
        listeners.iter().filter(|n| *n == "conformance-b").count(),
        1,
        "a listener is listed by its name, once: {listeners:?}"
    );
    for text in ["conformance:1", "conformance:2"] {
        a.signal_send(text).await.expect("signal_send");
    }
    for text in ["conformance:1", "conformance:2"] {
        let got = tokio::time::timeout(PATIENCE, heard.next())
            .await
            .expect("a signal sent reaches the listener")
            .expect("next");
        assert_eq!(
            got,
            Heard::Signal(text.to_owned()),
            "signals arrive as sent, in order"
        );
    }
    let long = "x".repeat(idv_store::cluster::SIGNAL_MAX_LEN);
    a.signal_send(&long)
        .await
        .expect("a signal of SIGNAL_MAX_LEN bytes is carried");
    let got = tokio::time::timeout(PATIENCE, heard.next())
        .await
        .expect("the longest signal arrives")
        .expect("next");
    assert_eq!(got, Heard::Signal(long));
    drop(heard);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while a
        .signal_listeners()
        .await
        .expect("signal_listeners")
        .contains(&"conformance-b".to_owned())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a dropped listener is no longer listed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut x = a.leader_contender("conformance").await.expect("contender");
    let mut y = b.leader_contender("conformance").await.expect("contender");
    assert!(x.lead().await.expect("lead"), "the first contender leads");
    assert!(
        !y.lead().await.expect("lead"),
        "a second contender does not lead while the first holds it"
    );
    assert!(x.lead().await.expect("lead"), "the leader keeps leading");
    let mut other = b
        .leader_contender("conformance-other")
        .await
        .expect("contender");
    assert!(
        other.lead().await.expect("lead"),
        "a leadership of another name is separate"
    );
    drop(x);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !y.lead().await.expect("lead") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second contender takes over once the leader is dropped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut z = a.leader_contender("conformance").await.expect("contender");
    assert!(
        !z.lead().await.expect("lead"),
        "a new contender does not lead while the second holds it"
    );
}
