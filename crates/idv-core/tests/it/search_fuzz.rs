//! Property tests of the session search grammar: any JSON body is either refused with
//! `invalid_filter` or parsed within the documented bounds, never a panic; any text given as a
//! cursor is either refused with `invalid_cursor` or reads back as values of the sort's types;
//! and a cursor made for a sort reads back unchanged.

use idv_core::ErrorCode;
use idv_core::search::{
    Column, Condition, Field, Filter, MAX_CONDITIONS, MAX_DEPTH, MAX_IN_VALUES, SearchRequest,
    SortKey, SortValue, decode_cursor, encode_cursor, normalize_sort,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "id",
            "status",
            "workflow.id",
            "createdAt",
            "updatedAt",
            "metadata.a",
            "properties.AGE",
            "properties.doc.kind",
            "properties.",
            "metadata..x",
            "nope",
            "properties.a b",
            "properties.a.b.c.d.e",
        ])
        .prop_map(str::to_string),
        "[ -~]{0,16}",
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        "[ -~]{0,12}".prop_map(Value::from),
        Just(json!("2026-01-01T00:00:00.000Z")),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => scalar(),
        1 => prop::collection::vec(scalar(), 0..4).prop_map(Value::from),
        1 => Just(json!({"x": 1})),
    ]
}

fn condition() -> impl Strategy<Value = Value> {
    (
        field_name(),
        prop::sample::select(vec![
            "$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$exists", "$regex", "",
        ]),
        value(),
    )
        .prop_map(|(f, op, v)| json!({"field": f, "op": op, "value": v}))
}

fn group() -> impl Strategy<Value = Value> {
    let leaf = (
        prop::sample::select(vec!["$and", "$or", "$xor"]),
        prop::collection::vec(condition(), 0..4),
    )
        .prop_map(|(op, c)| json!({"op": op, "conditions": c}));
    leaf.prop_recursive(7, 64, 4, |inner| {
        (
            prop::sample::select(vec!["$and", "$or"]),
            prop::collection::vec(inner, 0..4),
            prop::collection::vec(condition(), 0..3),
        )
            .prop_map(|(op, g, c)| json!({"op": op, "groups": g, "conditions": c}))
    })
}

fn depth(f: &Filter) -> usize {
    match f {
        Filter::Condition(_) => 0,
        Filter::And(p) | Filter::Or(p) => 1 + p.iter().map(depth).max().unwrap_or(0),
    }
}

fn conditions(f: &Filter) -> Vec<&Condition> {
    match f {
        Filter::Condition(c) => vec![c],
        Filter::And(p) | Filter::Or(p) => p.iter().flat_map(conditions).collect(),
    }
}

proptest! {
    #![proptest_config(cases(400))]

    #[test]
    fn any_body_is_refused_or_bounded(filter in group(), sort in value(), extra in any::<bool>()) {
        let mut body = json!({"filter": filter, "sort": [{"field": "status", "order": sort}]});
        if extra {
            body["title"] = json!("ignored");
        }
        match SearchRequest::parse(&body) {
            Err(e) => prop_assert_eq!(e.code, ErrorCode::InvalidFilter),
            Ok(r) => {
                prop_assert_eq!(r.sort.last().map(|k| k.column), Some(Column::Id));
                if let Some(f) = &r.filter {
                    prop_assert!(depth(f) <= MAX_DEPTH);
                    let cs = conditions(f);
                    prop_assert!(cs.len() <= MAX_CONDITIONS);
                    for c in cs {
                        if let Condition::In { values, .. } = c {
                            prop_assert!(values.len() <= MAX_IN_VALUES);
                        }
                        let field = match c {
                            Condition::Compare { field, .. }
                            | Condition::In { field, .. }
                            | Condition::Exists { field, .. } => field,
                        };
                        if let Field::Json(_, keys) = field {
                            prop_assert!(keys.iter().all(|k| !k.is_empty()
                                && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn any_cursor_text_is_refused_or_typed(text in "[ -~]{0,64}") {
        let sort = normalize_sort(vec![SortKey { column: Column::Status, descending: false }]);
        match decode_cursor(&sort, &text) {
            Err(e) => prop_assert_eq!(e.code, ErrorCode::InvalidCursor),
            Ok(values) => {
                prop_assert_eq!(values.len(), 2);
                prop_assert!(matches!(values[0], SortValue::Int(_)));
                prop_assert!(matches!(values[1], SortValue::Text(_)));
            }
        }
    }

    #[test]
    fn cursors_round_trip(status in any::<i64>(), at in any::<i64>(), id in "[0-9a-f]{24}") {
        let sort = normalize_sort(vec![
            SortKey { column: Column::Status, descending: true },
            SortKey { column: Column::CreatedAt, descending: false },
        ]);
        let values = vec![SortValue::Int(status), SortValue::Int(at), SortValue::Text(id)];
        let cursor = encode_cursor(&sort, &values);
        prop_assert_eq!(decode_cursor(&sort, &cursor).unwrap(), values);
    }
}
