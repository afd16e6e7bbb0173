//! Workflows (revisions, current pointer, deletion) and translations.

use idv_store::WorkflowId;
use idv_store::{NewWorkflow, Store, Translation, WorkflowRecord};
use serde_json::{Value, json};

const FIRST: &str = "edda0192-b890-11ef-a348-17da751a6a22";
const SECOND: &str = "0b6f3c52-0000-4000-8000-000000000002";
const RACED: &str = "9f9f9f9f-0000-4000-8000-000000000003";

fn definition(id: &str, name: &str) -> Value {
    // Keys deliberately out of alphabetical order: the definition keeps its author's order.
    json!({
        "id": id,
        "name": name,
        "version": "latest",
        "defaultLocale": "en-us",
        "locales": [{"code": "en-us", "value": "English"}, {"code": "ar-bh", "value": "العربية"}],
        "steps": [
            {"id": "start", "type": "info", "next": "capture",
             "client": {"title": "Привет, {{ name }}", "emoji": "🪪"}},
            {"id": "capture", "type": "document", "rules": [{"if": "a > 1.5", "then": null}]},
            {"id": "done", "final": true, "weights": [0, -1, 2.25, 1e-3, 12_345_678_901_234_i64]}
        ],
        "zeta": {"y": 1, "b": 2, "x": {"q": [], "a": {}}},
        "alpha": "it's \"quoted\" \\ and\nmultiline"
    })
}

fn new_workflow(id: &str, name: &str, created_at: i64) -> NewWorkflow {
    NewWorkflow {
        id: id.to_owned(),
        name: name.to_owned(),
        description: Some(format!("{name}: description — ✓")),
        version: Some("1.0".to_owned()),
        default_locale: Some("en-us".to_owned()),
        definition: definition(id, name),
        owner_id: Some("000000000000000000000abc".to_owned()),
        created_at,
    }
}

fn record(def: &NewWorkflow, revision: i64) -> WorkflowRecord {
    WorkflowRecord {
        id: def.id.clone(),
        revision,
        name: def.name.clone(),
        description: def.description.clone(),
        version: def.version.clone(),
        default_locale: def.default_locale.clone(),
        definition: def.definition.clone(),
        owner_id: def.owner_id.clone(),
        created_at: def.created_at,
    }
}

/// Workflows: revisions 1, 2, … per id; get is the current one; old revisions stay readable,
/// also after delete; list holds current, undeleted workflows by name; a re-upload after
/// delete continues the revisions; concurrent uploads get distinct revisions.
/// Tables: workflows, workflow_revisions.
pub async fn check_workflows(store: &dyn Store) {
    assert!(
        store.workflow_list().await.expect("list").is_empty(),
        "no workflows yet"
    );

    let v1 = new_workflow(FIRST, "Aardvark flow", 1_000);
    assert_eq!(
        store.workflow_put(&v1).await.expect("put v1"),
        1,
        "a new id starts at 1"
    );
    assert_eq!(
        store
            .workflow_get(WorkflowId::new(FIRST))
            .await
            .expect("get"),
        Some(record(&v1, 1))
    );

    let v2 = NewWorkflow {
        description: None,
        version: None,
        default_locale: None,
        owner_id: None,
        definition: json!({"id": FIRST, "steps": [], "note": "second upload"}),
        ..new_workflow(FIRST, "Zulu flow", 2_000)
    };
    assert_eq!(
        store.workflow_put(&v2).await.expect("put v2"),
        2,
        "the same id goes to 2"
    );
    assert_eq!(
        store
            .workflow_get(WorkflowId::new(FIRST))
            .await
            .expect("get"),
        Some(record(&v2, 2)),
        "get returns the current revision"
    );
    let old = store
        .workflow_get_revision(WorkflowId::new(FIRST), 1)
        .await
        .expect("get revision 1");
    assert_eq!(old, Some(record(&v1, 1)), "revision 1 is kept as it was");
    assert_eq!(
        serde_json::to_string(&old.expect("checked above").definition).expect("json"),
        serde_json::to_string(&v1.definition).expect("json"),
        "the definition keeps its key order and every value"
    );
    assert_eq!(
        store
            .workflow_get_revision(WorkflowId::new(FIRST), 2)
            .await
            .expect("get"),
        Some(record(&v2, 2))
    );
    assert_eq!(
        store
            .workflow_get_revision(WorkflowId::new(FIRST), 3)
            .await
            .expect("get"),
        None
    );
    assert_eq!(
        store
            .workflow_get_revision(WorkflowId::new(FIRST), 0)
            .await
            .expect("get"),
        None
    );
    assert_eq!(
        store
            .workflow_get(WorkflowId::new("no-such-workflow"))
            .await
            .expect("get unknown"),
        None
    );
    assert_eq!(
        store
            .workflow_get_revision(WorkflowId::new("no-such-workflow"), 1)
            .await
            .expect("get"),
        None
    );

    // Listed by the current revision's name: "Middle" sorts between v1's and v2's names.
    let other = new_workflow(SECOND, "Middle flow", 1_500);
    assert_eq!(
        store.workflow_put(&other).await.expect("put other"),
        1,
        "revisions are per id"
    );
    assert_eq!(
        store.workflow_list().await.expect("list"),
        vec![record(&other, 1), record(&v2, 2)],
        "current revisions by name"
    );

    assert!(
        store
            .workflow_delete(WorkflowId::new(FIRST))
            .await
            .expect("delete"),
        "delete finds it"
    );
    assert_eq!(
        store
            .workflow_get(WorkflowId::new(FIRST))
            .await
            .expect("get"),
        None,
        "deleted is gone"
    );
    assert_eq!(
        store
            .workflow_get_revision(WorkflowId::new(FIRST), 1)
            .await
            .expect("get"),
        Some(record(&v1, 1)),
        "revisions of a deleted workflow stay for running sessions"
    );
    assert_eq!(
        store
            .workflow_get_revision(WorkflowId::new(FIRST), 2)
            .await
            .expect("get"),
        Some(record(&v2, 2))
    );
    assert_eq!(
        store.workflow_list().await.expect("list"),
        vec![record(&other, 1)]
    );
    assert!(
        !store
            .workflow_delete(WorkflowId::new(FIRST))
            .await
            .expect("delete again"),
        "already deleted"
    );
    assert!(
        !store
            .workflow_delete(WorkflowId::new("no-such-workflow"))
            .await
            .expect("delete unknown")
    );
    assert_eq!(
        store
            .workflow_get(WorkflowId::new(SECOND))
            .await
            .expect("get"),
        Some(record(&other, 1))
    );

    let v3 = new_workflow(FIRST, "Aardvark again", 3_000);
    assert_eq!(
        store.workflow_put(&v3).await.expect("put v3"),
        3,
        "revisions continue"
    );
    assert_eq!(
        store
            .workflow_get(WorkflowId::new(FIRST))
            .await
            .expect("get"),
        Some(record(&v3, 3))
    );
    assert_eq!(
        store.workflow_list().await.expect("list"),
        vec![record(&v3, 3), record(&other, 1)],
        "a re-uploaded workflow is listed again"
    );

    // Two uploads of a new id at once: one is revision 1, the other 2, neither fails.
    let left = new_workflow(RACED, "Raced left", 4_000);
    let right = new_workflow(RACED, "Raced right", 4_001);
    let (a, b) = futures::join!(store.workflow_put(&left), store.workflow_put(&right));
    let (a, b) = (
        a.expect("racing put (left)"),
        b.expect("racing put (right)"),
    );
    let mut revisions = [a, b];
    revisions.sort_unstable();
    assert_eq!(
        revisions,
        [1, 2],
        "concurrent uploads get distinct revisions"
    );
    let (first, second) = if a == 1 {
        (&left, &right)
    } else {
        (&right, &left)
    };
    assert_eq!(
        store
            .workflow_get_revision(WorkflowId::new(RACED), 1)
            .await
            .expect("get"),
        Some(record(first, 1))
    );
    assert_eq!(
        store
            .workflow_get(WorkflowId::new(RACED))
            .await
            .expect("get"),
        Some(record(second, 2))
    );
}

fn entry(key: &str, code: &str, value: &str) -> Translation {
    Translation {
        key: key.to_owned(),
        code: code.to_owned(),
        value: value.to_owned(),
    }
}

/// Sorted by (code, key): the trait leaves the order of `translations_for` open.
async fn entries_for(store: &dyn Store, codes: &[&str]) -> Vec<Translation> {
    let codes: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
    let mut found = store
        .translations_for(&codes)
        .await
        .expect("translations_for");
    found.sort_by(|a, b| (&a.code, &a.key).cmp(&(&b.code, &b.key)));
    found
}

/// Translations: upsert by (key, code), lookup by codes, distinct codes. Tables: translations.
pub async fn check_translations(store: &dyn Store) {
    assert!(
        store.translation_codes().await.expect("codes").is_empty(),
        "none yet"
    );
    store
        .translations_put(&[])
        .await
        .expect("putting nothing is fine");
    assert!(store.translation_codes().await.expect("codes").is_empty());

    let quoted = "It's \"quoted\" \\ {{ name }} ✓";
    store
        .translations_put(&[
            entry("greet", "en-us", "Hello"),
            entry("greet", "ru-ru", "Привет"),
            entry("bye", "en-us", "Bye"),
            entry("quote", "en-us", quoted),
        ])
        .await
        .expect("put");
    assert_eq!(
        entries_for(store, &["en-us"]).await,
        vec![
            entry("bye", "en-us", "Bye"),
            entry("greet", "en-us", "Hello"),
            entry("quote", "en-us", quoted)
        ]
    );

    store
        .translations_put(&[entry("greet", "en-us", "Hi"), entry("new", "es-cl", "Hola")])
        .await
        .expect("put again");
    assert_eq!(
        entries_for(store, &["en-us"]).await,
        vec![
            entry("bye", "en-us", "Bye"),
            entry("greet", "en-us", "Hi"),
            entry("quote", "en-us", quoted)
        ],
        "a (key, code) given again replaces its value"
    );
    assert_eq!(
        entries_for(store, &["ru-ru", "es-cl", "xx-xx"]).await,
        vec![
            entry("new", "es-cl", "Hola"),
            entry("greet", "ru-ru", "Привет")
        ],
        "entries of every code asked for, and no others"
    );
    assert!(
        entries_for(store, &[]).await.is_empty(),
        "no codes, no entries"
    );
    assert!(
        entries_for(store, &["xx-xx"]).await.is_empty(),
        "an unknown code has none"
    );

    store
        .translations_put(&[
            entry("dup", "en-us", "first"),
            entry("dup", "en-us", "second"),
        ])
        .await
        .expect("put one pair twice");
    let en = entries_for(store, &["en-us"]).await;
    let dups: Vec<&Translation> = en.iter().filter(|t| t.key == "dup").collect();
    assert_eq!(
        dups,
        vec![&entry("dup", "en-us", "second")],
        "the later value wins"
    );

    let mut codes = store.translation_codes().await.expect("codes");
    codes.sort();
    assert_eq!(codes, vec!["en-us", "es-cl", "ru-ru"], "each code once");
}
