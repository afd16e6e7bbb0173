//! Many session writes at once, some of them refused. A store may commit concurrent writes
//! together (SQLite's writer takes every queued write into one transaction): each write must
//! still be answered for itself, a refused one must leave nothing behind, and the others must
//! be stored whole, with their files and events.

use super::engine::{bumped, open_session};
use super::sessions::file;
use super::{assert_conflict, hex_id};
use idv_store::{EventQuery, NewEvent, SessionRecord, Store};
use idv_store::{FileId, SessionId};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

const BASE: u64 = 0xc0_0000;
const SESSIONS: u64 = 120;

fn event(n: u64, kind: &str, s: &SessionRecord) -> NewEvent {
    NewEvent {
        id: format!("evt_{}", hex_id(n)),
        kind: kind.into(),
        created_at: s.updated_at,
        session_id: Some(s.id.clone()),
        workflow_id: Some(s.workflow_id.clone()),
        owner_id: s.owner_id.clone(),
        data: json!({"sessionId": s.id, "n": n}),
    }
}

/// Creates that clash with a stored id, and pairs of advances from the same revision (one of
/// which must lose) beside advances whose file id is taken, all at once. Tables: sessions,
/// files and events of its own; run it last (it leaves events behind).
pub async fn check_concurrent_session_writes(store: Arc<dyn Store>) {
    let taken = open_session(BASE);
    store
        .session_create(&taken, &[])
        .await
        .expect("create the session whose id is taken");
    let taken_file = file(BASE, &taken, 5);
    store
        .file_create(&taken_file)
        .await
        .expect("create the file whose id is taken");

    // 1. Creates: every tenth reuses the stored id, with an event of its own.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 1..=SESSIONS {
        let store = store.clone();
        let s = if i % 10 == 0 {
            SessionRecord {
                locale: "clash".into(),
                ..taken.clone()
            }
        } else {
            open_session(BASE + i)
        };
        tasks.spawn(async move {
            let e = event(BASE + i, "session.created", &s);
            (i, store.session_create(&s, &[e]).await)
        });
    }
    let mut created = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (i, result) = done.expect("create task");
        if i % 10 == 0 {
            assert_conflict(result, &format!("create {i} with a stored id"));
        } else {
            result.unwrap_or_else(|e| panic!("create {i}: {e}"));
            created.push(i);
        }
    }
    assert_eq!(created.len() as u64, SESSIONS - SESSIONS / 10);
    let kept = store
        .session_get(SessionId::new(&taken.id))
        .await
        .expect("get")
        .expect("the stored session is still there");
    assert_eq!(kept, taken, "a clashing create changes nothing");

    // 2. Advances: two from revision 1 per session (exactly one wins), and for every seventh
    //    session a third whose file id is taken (refused as a whole).
    let mut tasks = tokio::task::JoinSet::new();
    for &i in &created {
        let s = open_session(BASE + i);
        for side in 0..3u64 {
            if side == 2 && i % 7 != 0 {
                continue;
            }
            let store = store.clone();
            let next = SessionRecord {
                properties: json!({"side": side}),
                ..bumped(&s)
            };
            let f = if side == 2 {
                taken_file.clone()
            } else {
                file(BASE + i * 4 + side, &next, 10)
            };
            let f = idv_store::FileRecord {
                session_id: next.id.clone(),
                ..f
            };
            tasks.spawn(async move {
                let e = event(
                    BASE + 0x1000 + i * 4 + side,
                    "session.step_completed",
                    &next,
                );
                let r = store.session_advance(&next, &[f], &[], None, &[e]).await;
                (i, side, r)
            });
        }
    }
    let mut winners: BTreeMap<u64, u64> = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        let (i, side, result) = done.expect("advance task");
        if side == 2 {
            // Either the file id clashes, or the other side won first and this one lost the
            // revision race: nothing is written in both cases.
            match result {
                Ok(false) => {}
                other => assert_conflict(other, &format!("advance {i} with a taken file id")),
            }
            continue;
        }
        if result.unwrap_or_else(|e| panic!("advance {i}/{side}: {e}")) {
            assert!(
                winners.insert(i, side).is_none(),
                "two advances of session {i} from one revision both won"
            );
        }
    }
    assert_eq!(
        winners.len(),
        created.len(),
        "one advance of each session wins"
    );

    // 3. What is stored is exactly the winners' writes. The feed may show an event only once
    //    every older write transaction has ended (PostgreSQL, whose other tests may hold one
    //    open a while), so it is read until it holds every event expected.
    let expected = created.len() + winners.len();
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let all = loop {
        let page = store
            .events_after(&EventQuery {
                after: None,
                limit: 10_000,
                kinds: vec![],
                owner_id: None,
            })
            .await
            .expect("events_after");
        let ours = page
            .events
            .iter()
            .filter(|e| e.id.starts_with("evt_") && e.id[4..] >= *hex_id(BASE).as_str())
            .filter(|e| e.id[4..] < *hex_id(BASE + 0x2000).as_str())
            .count();
        if ours >= expected || std::time::Instant::now() > give_up {
            break page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    for (&i, &side) in &winners {
        let id = hex_id(BASE + i);
        let s = store
            .session_get(SessionId::new(&id))
            .await
            .expect("get")
            .expect("created session");
        assert_eq!(s.revision, 2, "session {i}");
        assert_eq!(
            s.properties,
            json!({"side": side}),
            "session {i}: the winner's change"
        );
        let files = store
            .file_list(SessionId::new(&id))
            .await
            .expect("file_list");
        let ids: Vec<_> = files.iter().map(|f| f.id.clone()).collect();
        assert_eq!(
            ids,
            vec![hex_id(BASE + i * 4 + side)],
            "session {i}: the winner's file only"
        );
        let events: Vec<_> = all
            .events
            .iter()
            .filter(|e| e.session_id.as_deref() == Some(id.as_str()))
            .map(|e| (e.kind.clone(), e.sequence, e.id.clone()))
            .collect();
        assert_eq!(
            events,
            vec![
                (
                    "session.created".to_owned(),
                    1,
                    format!("evt_{}", hex_id(BASE + i))
                ),
                (
                    "session.step_completed".to_owned(),
                    2,
                    format!("evt_{}", hex_id(BASE + 0x1000 + i * 4 + side))
                ),
            ],
            "session {i}: its create's event and the winner's, numbered in order"
        );
    }
    assert!(
        all.events
            .iter()
            .all(|e| e.session_id.as_deref() != Some(taken.id.as_str())),
        "the clashing creates stored no event"
    );
    assert_eq!(
        store
            .file_get(SessionId::new(&taken.id), FileId::new(&taken_file.id))
            .await
            .expect("file_get"),
        Some(taken_file),
        "the taken file is unchanged"
    );
}
