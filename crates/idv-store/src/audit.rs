//! The audit log's records and its hash chain.
//!
//! Entries are append-only. Each stored entry carries the hash of the one before it
//! (`prev_hash`) and its own `hash = SHA-256(prev_hash || canonical JSON of the entry)`, both
//! lower-case hex; the first entry follows [`GENESIS_HASH`]. The canonical JSON is the entry
//! with its keys sorted at every level and no whitespace (see [`canonical_json`]), so any
//! adapter, and `idv audit verify`, computes the same bytes from the stored columns.
//!
//! Retention removes entries from the start of the chain only; the chain keeps the hash of the
//! last removed entry as its *anchor* ([`AuditChain`]), so the remaining entries still verify.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry ever written.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry as it is recorded, before the chain gives it a sequence number and hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// Milliseconds since the epoch.
    pub at: i64,
    /// The user id or API key id; `None` for anonymous callers (a failed login).
    pub actor_id: Option<String>,
    /// `user`, `apikey`, `cli` or `anonymous`.
    pub actor_kind: String,
    /// The user or key name; for a login, the user name tried (never the password).
    pub actor_name: Option<String>,
    /// What happened: `session.read`, `apikey.created`, `auth.login_failed` ...
    pub action: String,
    /// What it happened to: a session id, a file id, a user id ...
    pub target: Option<String>,
    /// The HTTP status answered (the CLI records 200 for a change it made).
    pub outcome: i32,
    /// The client address (the TCP peer).
    pub ip: Option<String>,
    pub request_id: Option<String>,
    /// A JSON object with anything else worth keeping, or `null`.
    pub details: Value,
}

/// A stored entry: its place in the chain and the hashes that link it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// 1, 2, 3 ... without gaps.
    pub seq: i64,
    pub entry: NewAuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

impl NewAuditEntry {
    /// The entry as every database can hold it: each NUL character (which PostgreSQL text
    /// cannot hold) in its text and in the strings and keys of its details replaced by U+FFFD.
    /// Whatever a caller sent, the entry stays storable; the hash covers this form.
    pub fn storable(mut self) -> NewAuditEntry {
        fn fix(s: &mut String) {
            if s.contains('\0') {
                *s = s.replace('\0', "\u{FFFD}");
            }
        }
        fn fix_value(v: &mut Value) {
            match v {
                Value::String(s) => fix(s),
                Value::Array(items) => items.iter_mut().for_each(fix_value),
                Value::Object(map) if map.keys().any(|k| k.contains('\0')) => {
                    let old = std::mem::take(map);
                    for (mut k, mut x) in old {
                        fix(&mut k);
                        fix_value(&mut x);
                        map.insert(k, x);
                    }
                }
                Value::Object(map) => map.values_mut().for_each(fix_value),
                _ => {}
            }
        }
        for s in [&mut self.actor_kind, &mut self.action] {
            fix(s);
        }
        for s in [
            &mut self.actor_id,
            &mut self.actor_name,
            &mut self.target,
            &mut self.ip,
            &mut self.request_id,
        ]
        .into_iter()
        .flatten()
        {
            fix(s);
        }
        fix_value(&mut self.details);
        self
    }

    /// A reduced form of an entry the database refused even on its own: time, action, outcome
    /// and actor kind kept, every other text field cut to at most 128 printable ASCII
    /// characters (others become `?`), and the details replaced by the marker
    /// `{"reduced": true}`. What happened, and when, stays in the chain.
    pub fn reduced(&self) -> NewAuditEntry {
        fn ascii(s: &str) -> String {
            s.chars()
                .take(128)
                .map(|c| {
                    if c == ' ' || c.is_ascii_graphic() {
                        c
                    } else {
                        '?'
                    }
                })
                .collect()
        }
        let opt = |v: &Option<String>| v.as_deref().map(ascii);
        NewAuditEntry {
            at: self.at,
            actor_id: opt(&self.actor_id),
            actor_kind: ascii(&self.actor_kind),
            actor_name: opt(&self.actor_name),
            action: ascii(&self.action),
            target: opt(&self.target),
            outcome: self.outcome,
            ip: opt(&self.ip),
            request_id: opt(&self.request_id),
            details: serde_json::json!({"reduced": true}),
        }
    }
}

impl AuditRecord {
    /// Places `entry` at `seq` after an entry whose hash is `prev_hash`. The record holds the
    /// [`NewAuditEntry::storable`] form of the entry, and its hash covers that form.
    pub fn chain(seq: i64, entry: NewAuditEntry, prev_hash: &str) -> AuditRecord {
        Self::chain_details(seq, entry, prev_hash).0
    }

    /// [`AuditRecord::chain`], with the canonical text of the entry's details
    /// ([`canonical_json`]) that the hash covered, for the writer to store.
    pub fn chain_details(seq: i64, entry: NewAuditEntry, prev_hash: &str) -> (AuditRecord, String) {
        let entry = entry.storable();
        let details = canonical_json(&entry.details);
        let hash = chain_hash(prev_hash, &canonical_entry_with(seq, &entry, &details));
        let record = AuditRecord {
            seq,
            entry,
            prev_hash: prev_hash.to_owned(),
            hash,
        };
        (record, details)
    }

    /// The hash this record's content and `prev_hash` give (equal to `hash` unless tampered).
    pub fn computed_hash(&self) -> String {
        chain_hash(&self.prev_hash, &canonical_entry(self.seq, &self.entry))
    }
}

/// Where the chain stands: the last entry written (`head_*`) and the last entry removed by
/// retention (`anchor_*`; `0` and [`GENESIS_HASH`] while nothing was removed). The entries
/// still stored are exactly `anchor_seq + 1 ..= head_seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditChain {
    pub head_seq: i64,
    pub head_hash: String,
    pub anchor_seq: i64,
    pub anchor_hash: String,
}

/// A filtered page of the log. Every filter is optional; `after_seq`/`before_seq` are
/// exclusive bounds on `seq`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditQuery {
    /// Matches the actor's id or name.
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    /// `at >= from`.
    pub from: Option<i64>,
    /// `at <= to`.
    pub to: Option<i64>,
    pub after_seq: Option<i64>,
    pub before_seq: Option<i64>,
    /// True: by `seq` ascending; false: newest (highest `seq`) first.
    pub ascending: bool,
    pub limit: i64,
}

/// The canonical JSON of an entry at `seq`: sorted keys, no whitespace.
pub fn canonical_entry(seq: i64, e: &NewAuditEntry) -> String {
    canonical_entry_with(seq, e, &canonical_json(&e.details))
}

/// [`canonical_entry`] with the entry's details already in canonical form (`details`, from
/// [`canonical_json`]), so a writer that stores that text too computes it once. The keys are
/// written in their sorted order directly.
pub fn canonical_entry_with(seq: i64, e: &NewAuditEntry, details: &str) -> String {
    let mut out = Vec::with_capacity(160 + details.len());
    out.extend_from_slice(b"{\"action\":");
    scalar(e.action.as_str(), &mut out);
    out.extend_from_slice(b",\"actor\":{\"id\":");
    scalar(&e.actor_id, &mut out);
    out.extend_from_slice(b",\"kind\":");
    scalar(e.actor_kind.as_str(), &mut out);
    out.extend_from_slice(b",\"name\":");
    scalar(&e.actor_name, &mut out);
    out.extend_from_slice(b"},\"at\":");
    scalar(&e.at, &mut out);
    out.extend_from_slice(b",\"details\":");
    out.extend_from_slice(details.as_bytes());
    out.extend_from_slice(b",\"ip\":");
    scalar(&e.ip, &mut out);
    out.extend_from_slice(b",\"outcome\":");
    scalar(&e.outcome, &mut out);
    out.extend_from_slice(b",\"requestId\":");
    scalar(&e.request_id, &mut out);
    out.extend_from_slice(b",\"seq\":");
    scalar(&seq, &mut out);
    out.extend_from_slice(b",\"target\":");
    scalar(&e.target, &mut out);
    out.push(b'}');
    String::from_utf8(out).expect("JSON text is UTF-8")
}

/// `value` as JSON text with object keys sorted (byte order) at every level and no whitespace.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::with_capacity(64);
    write_canonical(value, &mut out);
    String::from_utf8(out).expect("JSON text is UTF-8")
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // Keys are unique, so an unstable sort gives the one order.
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                scalar(k.as_str(), out);
                out.push(b':');
                write_canonical(v, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out);
            }
            out.push(b']');
        }
        scalar_value => scalar(scalar_value, out),
    }
}

/// A string, number, boolean or null (or an `Option` of one) as compact JSON, as serde_json
/// writes it.
fn scalar<T: serde::Serialize + ?Sized>(v: &T, out: &mut Vec<u8>) {
    serde_json::to_writer(out, v).expect("a JSON scalar always serializes");
}

/// `SHA-256(prev_hash || canonical)` in lower-case hex.
pub fn chain_hash(prev_hash: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry() -> NewAuditEntry {
        NewAuditEntry {
            at: 1_700_000_000_000,
            actor_id: Some("abc".into()),
            actor_kind: "user".into(),
            actor_name: Some("admin".into()),
            action: "session.read".into(),
            target: Some("s1".into()),
            outcome: 200,
            ip: Some("127.0.0.1".into()),
            request_id: None,
            details: json!({"z": 1, "a": {"y": [2, {"b": 1, "a": "\"q\""}]}}),
        }
    }

    /// The canonical form as first defined: a map of the fields, every level's keys sorted
    /// into a `BTreeMap`, written by serde_json. The direct writer must give the same bytes,
    /// or stored chains would no longer verify.
    fn reference(seq: i64, e: &NewAuditEntry) -> String {
        fn sorted(v: &Value) -> serde_json::Value {
            match v {
                Value::Object(m) => {
                    let b: std::collections::BTreeMap<String, Value> =
                        m.iter().map(|(k, v)| (k.clone(), sorted(v))).collect();
                    Value::Object(b.into_iter().collect())
                }
                Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
                other => other.clone(),
            }
        }
        let v = serde_json::json!({
            "action": e.action, "actor": {"id": e.actor_id, "kind": e.actor_kind, "name": e.actor_name},
            "at": e.at, "details": e.details, "ip": e.ip, "outcome": e.outcome,
            "requestId": e.request_id, "seq": seq, "target": e.target,
        });
        sorted(&v).to_string()
    }

    #[test]
    fn direct_writer_matches_the_reference_form() {
        let mut e = entry();
        assert_eq!(canonical_entry(7, &e), reference(7, &e));
        e.actor_id = None;
        e.actor_name = Some("na\u{e9}me \"q\" \\ \u{1}\u{7f}\n\t/".into());
        e.ip = None;
        e.target = Some("\u{2028}\u{1F600}".into());
        e.at = -5;
        e.outcome = 0;
        e.details = serde_json::json!({
            "b": [1.5, -0.0, 1e300, u64::MAX, i64::MIN, null, false],
            "a\u{0}": {"\u{1F600}": "x", "Z": {}, "a": []},
            "": "empty key",
        });
        assert_eq!(canonical_entry(i64::MAX, &e), reference(i64::MAX, &e));
        let (r, details) = AuditRecord::chain_details(3, e.clone(), GENESIS_HASH);
        assert_eq!(details, canonical_json(&r.entry.details));
        assert_eq!(r.hash, chain_hash(GENESIS_HASH, &reference(3, &r.entry)));
    }

    #[test]
    fn canonical_form_sorts_keys_at_every_level() {
        assert_eq!(
            canonical_json(&json!({"b": 1, "a": {"d": null, "c": [true, "x"]}})),
            r#"{"a":{"c":[true,"x"],"d":null},"b":1}"#
        );
        let c = canonical_entry(7, &entry());
        assert!(c.starts_with(r#"{"action":"session.read","actor":{"id":"abc","kind":"user","name":"admin"},"at":1700000000000,"details":{"a":{"y":[2,{"a":"\"q\"","b":1}]},"z":1}"#), "{c}");
        assert!(
            c.ends_with(r#""requestId":null,"seq":7,"target":"s1"}"#),
            "{c}"
        );
    }

    #[test]
    fn nul_characters_are_stored_replaced_and_hashed_as_stored() {
        let mut e = entry();
        e.actor_name = Some("ad\0min".into());
        e.target = Some("s\0x".into());
        e.request_id = Some("\0".into());
        e.details = json!({"k\0": ["a\0", {"b": "\0"}], "ok": 1});
        let r = AuditRecord::chain(1, e, GENESIS_HASH);
        assert_eq!(r.entry.actor_name.as_deref(), Some("ad\u{FFFD}min"));
        assert_eq!(r.entry.target.as_deref(), Some("s\u{FFFD}x"));
        assert_eq!(r.entry.request_id.as_deref(), Some("\u{FFFD}"));
        assert_eq!(
            r.entry.details,
            json!({"k\u{FFFD}": ["a\u{FFFD}", {"b": "\u{FFFD}"}], "ok": 1})
        );
        assert!(!canonical_entry(1, &r.entry).contains("u0000"));
        assert_eq!(r.hash, r.computed_hash());
        // An entry without NUL is stored as it is.
        assert_eq!(AuditRecord::chain(1, entry(), GENESIS_HASH).entry, entry());
    }

    #[test]
    fn reduced_entries_keep_what_happened_in_printable_ascii() {
        let mut e = entry();
        e.actor_name = Some(format!("é\u{1}{}", "x".repeat(300)));
        let r = e.reduced();
        assert_eq!((r.at, r.outcome), (e.at, e.outcome));
        assert_eq!(
            (r.action.as_str(), r.actor_kind.as_str()),
            ("session.read", "user")
        );
        let name = r.actor_name.unwrap();
        assert!(name.starts_with("??x") && name.len() == 128, "{name}");
        assert_eq!(r.details, json!({"reduced": true}));
    }

    #[test]
    fn any_change_changes_the_hash() {
        let r = AuditRecord::chain(1, entry(), GENESIS_HASH);
        assert_eq!(r.hash, r.computed_hash());
        assert_eq!(r.hash.len(), 64);
        let mut t = r.clone();
        t.entry.outcome = 403;
        assert_ne!(t.computed_hash(), r.hash);
        let mut t = r.clone();
        t.seq = 2;
        assert_ne!(t.computed_hash(), r.hash);
        let mut t = r.clone();
        t.prev_hash = "1".repeat(64);
        assert_ne!(t.computed_hash(), r.hash);
        // Key order in details does not matter; content does.
        let mut t = r.clone();
        t.entry.details = json!({"a": {"y": [2, {"a": "\"q\"", "b": 1}]}, "z": 1});
        assert_eq!(t.computed_hash(), r.hash);
    }
}
