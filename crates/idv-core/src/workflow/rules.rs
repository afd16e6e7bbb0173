//! Rule evaluation: statements, scripts, preconditions, and a step's ordered conditions.
//!
//! Comparisons are type-tolerant because real files demand it: a `bool` property is compared
//! `$eq` with the string `'true'`, an `int` with `18`, a `decimal` with `0.8`. The rules:
//! - numbers compare numerically (int against float too), and a numeric string against a number
//!   compares as that number;
//! - a bool equals `"true"`/`"false"` (any case) and the numbers 1/0;
//! - strings compare as text (ordering is lexical, which suits ISO dates);
//! - anything else is equal only when identical.
//!
//! A property that is absent or `null` is *missing*. `$exists` is false for it (true when the
//! clause says `value: false`); every other operator is false for it, `$ne` and `$nin` included:
//! "not equal to X" is not asserted about a value nobody has set, so a rule cannot pass on
//! absent data.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::model::{Clause, Logic, MatchOperator, Operator, Predicate, Rule, Statement, Step};
use super::{Transition, Workflow};

/// The step's first condition whose rule entries match, as a transition.
pub(crate) fn first_matching(
    workflow: &Workflow,
    step: &Step,
    props: &Map<String, Value>,
) -> Option<Transition> {
    step.conditions.iter().find_map(|c| {
        let entry_matches = |r: &super::RuleRef| {
            workflow.rule(&r.id).and_then(|rule| rule.evaluate(props)) == Some(r.decision)
        };
        let matched = match c.operator {
            MatchOperator::All => c.rules.iter().all(entry_matches),
            MatchOperator::Any => c.rules.iter().any(entry_matches),
        };
        matched.then(|| Transition {
            step: c.transit.step.clone(),
            status: c.transit.status,
            condition: c.name.clone(),
        })
    })
}

impl Rule {
    /// `None` when the precondition is false (not applicable), else the condition's value.
    pub fn evaluate(&self, props: &Map<String, Value>) -> Option<bool> {
        if let Some(pre) = &self.precondition
            && !pre.evaluate(props)
        {
            return None;
        }
        Some(self.condition.evaluate(props))
    }
}

impl Predicate {
    pub fn evaluate(&self, props: &Map<String, Value>) -> bool {
        match self {
            Predicate::Statement(s) => s.evaluate(props),
            Predicate::Script(s) => truthy(&s.expr.eval(props)),
        }
    }
}

impl Statement {
    pub fn evaluate(&self, props: &Map<String, Value>) -> bool {
        combine(
            self.op,
            self.groups
                .iter()
                .map(|g| combine(g.op, g.conditions.iter().map(|c| c.evaluate(props)))),
        )
    }
}

fn combine(op: Logic, mut results: impl Iterator<Item = bool>) -> bool {
    match op {
        Logic::And => results.all(|r| r),
        Logic::Or => results.any(|r| r),
    }
}

impl Clause {
    pub fn evaluate(&self, props: &Map<String, Value>) -> bool {
        let actual = props.get(&self.property).filter(|v| !v.is_null());
        let expected = self.value.as_ref().unwrap_or(&Value::Null);
        let Some(actual) = actual else {
            // `$exists` with `value: false` asks for absence.
            return self.op == Operator::Exists && self.value.as_ref().is_some_and(|v| !truthy(v));
        };
        match self.op {
            Operator::Exists => self.value.as_ref().is_none_or(truthy),
            Operator::Eq => loose_eq(actual, expected),
            Operator::Ne => !loose_eq(actual, expected),
            Operator::In => list(expected).iter().any(|e| loose_eq(actual, e)),
            Operator::Nin => !list(expected).iter().any(|e| loose_eq(actual, e)),
            Operator::Gt => loose_cmp(actual, expected).is_some_and(Ordering::is_gt),
            Operator::Gte => loose_cmp(actual, expected).is_some_and(Ordering::is_ge),
            Operator::Lt => loose_cmp(actual, expected).is_some_and(Ordering::is_lt),
            Operator::Lte => loose_cmp(actual, expected).is_some_and(Ordering::is_le),
        }
    }
}

/// `$in` takes a list; validation insists on one, but a scalar is read as a list of one.
fn list(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) => items,
        other => std::slice::from_ref(other),
    }
}

/// JSON-ish truth: false, null, 0, "" and "false" are false; empty lists and maps too.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty() && !s.eq_ignore_ascii_case("false"),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A number, or a string holding one.
enum Num {
    Int(i64),
    Float(f64),
}

fn as_num(v: &Value) -> Option<Num> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(Num::Int)
            .or_else(|| n.as_f64().map(Num::Float)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().map(Num::Int).or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(Num::Float)
            })
        }
        _ => None,
    }
}

fn num_cmp(a: &Num, b: &Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(a), Num::Int(b)) => Some(a.cmp(b)),
        (Num::Int(a), Num::Float(b)) => (*a as f64).partial_cmp(b),
        (Num::Float(a), Num::Int(b)) => a.partial_cmp(&(*b as f64)),
        (Num::Float(a), Num::Float(b)) => a.partial_cmp(b),
    }
}

fn bool_matches(b: bool, other: &Value) -> bool {
    match other {
        Value::Bool(o) => *o == b,
        Value::String(s) => s
            .trim()
            .eq_ignore_ascii_case(if b { "true" } else { "false" }),
        Value::Number(n) => n.as_f64() == Some(if b { 1.0 } else { 0.0 }),
        _ => false,
    }
}

/// Type-tolerant equality (see the module docs).
pub(crate) fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::Bool(x), other) | (other, Value::Bool(x)) => bool_matches(*x, other),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(_), Value::Number(_) | Value::String(_))
        | (Value::String(_), Value::Number(_)) => match (as_num(a), as_num(b)) {
            (Some(x), Some(y)) => num_cmp(&x, &y) == Some(Ordering::Equal),
            _ => false,
        },
        _ => a == b,
    }
}

/// Type-tolerant ordering: numbers (or numeric strings against numbers) numerically, strings
/// lexically; `None` when the two cannot be ordered.
pub(crate) fn loose_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => match (as_num(a), as_num(b)) {
            (Some(x), Some(y)) => num_cmp(&x, &y),
            _ => Some(x.cmp(y)),
        },
        (Value::Number(_), Value::Number(_) | Value::String(_))
        | (Value::String(_), Value::Number(_)) => num_cmp(&as_num(a)?, &as_num(b)?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn clause(property: &str, op: Operator, value: Option<Value>) -> Clause {
        Clause {
            property: property.into(),
            op,
            value,
        }
    }

    fn props(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn equality_is_type_tolerant() {
        assert!(loose_eq(&json!(true), &json!("true")));
        assert!(loose_eq(&json!(false), &json!("FALSE")));
        assert!(!loose_eq(&json!(false), &json!("true")));
        assert!(loose_eq(&json!(1), &json!(1.0)));
        assert!(loose_eq(&json!("18"), &json!(18)));
        assert!(loose_eq(&json!(true), &json!(1)));
        assert!(!loose_eq(&json!(""), &json!(0)));
        assert!(loose_eq(&json!(""), &json!("")));
        assert!(!loose_eq(&json!("abc"), &json!("ABC")));
        assert!(!loose_eq(&json!(null), &json!("")));
        assert!(loose_eq(&json!([1, 2]), &json!([1, 2])));
    }

    #[test]
    fn ordering_is_numeric_for_numbers() {
        assert_eq!(
            loose_cmp(&json!(0.85), &json!(0.8)),
            Some(Ordering::Greater)
        );
        assert_eq!(loose_cmp(&json!(17), &json!(18)), Some(Ordering::Less));
        assert_eq!(loose_cmp(&json!("9"), &json!(10)), Some(Ordering::Less));
        assert_eq!(loose_cmp(&json!("9"), &json!("10")), Some(Ordering::Less));
        assert_eq!(
            loose_cmp(&json!("1990-01-02"), &json!("1990-01-10")),
            Some(Ordering::Less)
        );
        assert_eq!(loose_cmp(&json!(true), &json!(1)), None);
        assert_eq!(loose_cmp(&json!("abc"), &json!(1)), None);
    }

    #[test]
    fn clauses_follow_the_real_file() {
        let p = props(json!({
            "CONTINUE": true, "AGE": 18, "SIM": 0.79, "DOCTYPE": 12,
            "TX": "", "NULLED": null
        }));
        assert!(clause("CONTINUE", Operator::Eq, Some(json!("true"))).evaluate(&p));
        assert!(clause("AGE", Operator::Gte, Some(json!(18))).evaluate(&p));
        assert!(!clause("AGE", Operator::Gt, Some(json!(18))).evaluate(&p));
        assert!(!clause("SIM", Operator::Gte, Some(json!(0.8))).evaluate(&p));
        assert!(clause("SIM", Operator::Lt, Some(json!(0.8))).evaluate(&p));
        assert!(clause("DOCTYPE", Operator::In, Some(json!([11, 12, 215]))).evaluate(&p));
        assert!(!clause("DOCTYPE", Operator::Nin, Some(json!([11, 12, 215]))).evaluate(&p));
        assert!(clause("TX", Operator::Eq, Some(json!(""))).evaluate(&p));
        assert!(clause("TX", Operator::Exists, None).evaluate(&p));
        assert!(clause("AGE", Operator::Ne, Some(json!(0))).evaluate(&p));
        assert!(clause("AGE", Operator::Lte, Some(json!("18"))).evaluate(&p));
    }

    #[test]
    fn missing_properties_fail_every_operator_but_negated_exists() {
        let p = props(json!({"NULLED": null}));
        for name in ["ABSENT", "NULLED"] {
            assert!(!clause(name, Operator::Exists, None).evaluate(&p));
            assert!(clause(name, Operator::Exists, Some(json!(false))).evaluate(&p));
            for op in [
                Operator::Eq,
                Operator::Ne,
                Operator::Nin,
                Operator::Gte,
                Operator::Lt,
            ] {
                assert!(!clause(name, op, Some(json!([1]))).evaluate(&p), "{op:?}");
            }
        }
        let present = props(json!({"A": 1}));
        assert!(!clause("A", Operator::Exists, Some(json!(false))).evaluate(&present));
    }

    #[test]
    fn statements_combine_groups() {
        use super::super::model::Group;
        let g = |op, conditions| Group { op, conditions };
        let yes = clause("A", Operator::Exists, None);
        let no = clause("B", Operator::Exists, None);
        let p = props(json!({"A": 1}));
        let s = |op, groups| Statement { op, groups };
        assert!(
            s(
                Logic::And,
                vec![g(Logic::Or, vec![no.clone(), yes.clone()])]
            )
            .evaluate(&p)
        );
        assert!(
            !s(
                Logic::And,
                vec![g(Logic::And, vec![no.clone(), yes.clone()])]
            )
            .evaluate(&p)
        );
        assert!(
            s(
                Logic::Or,
                vec![g(Logic::And, vec![no.clone()]), g(Logic::And, vec![yes])]
            )
            .evaluate(&p)
        );
        assert!(s(Logic::And, vec![]).evaluate(&p));
        assert!(!s(Logic::Or, vec![]).evaluate(&p));
    }

    #[test]
    fn truthiness() {
        for v in [
            json!(null),
            json!(false),
            json!(0),
            json!(""),
            json!("false"),
            json!([]),
        ] {
            assert!(!truthy(&v), "{v}");
        }
        for v in [json!(true), json!(1), json!("x"), json!([0]), json!(0.5)] {
            assert!(truthy(&v), "{v}");
        }
    }
}
